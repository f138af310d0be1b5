r"""A small synthetic data set in the GTZAN layout, for tests and examples.

Each "genre" is a recipe of notes: a pitch register, a tempo, a note length
(percussive or sustained), a number of harmonics and a noise level. Clips of
one genre draw their key, tempo and notes at random around the recipe, so the
genres are told apart by spectral and rhythmic content, not by one fixed
signal, and a classifier must generalise across clips.

.. autosummary::
    GENRES
    make_dataset
    make_labelled_dataset
    make_clip
"""

import dataclasses
from pathlib import Path

import numpy as np

from pyunlocbox_gae import store
from pyunlocbox_gae.errors import InputError


@dataclasses.dataclass(frozen=True)
class Recipe:
    """How the clips of one synthetic genre sound."""

    low: float  # lowest note, semitones above C2 (65.4 Hz)
    span: float  # range of notes, semitones
    tempo: float  # notes per second
    decay: float  # note decay time, seconds (small: percussive)
    harmonics: int  # partials per note
    noise: float  # broadband noise level


# Registers overlap and tempi differ: no single cue separates every pair.
GENRES = {
    "drone": Recipe(low=2, span=10, tempo=0.8, decay=1.5, harmonics=6, noise=0.02),
    "pulse": Recipe(low=10, span=14, tempo=4.0, decay=0.06, harmonics=3, noise=0.1),
    "chime": Recipe(low=30, span=14, tempo=2.0, decay=0.4, harmonics=2, noise=0.02),
    "buzz": Recipe(low=14, span=12, tempo=1.5, decay=0.8, harmonics=12, noise=0.05),
    "patter": Recipe(low=24, span=18, tempo=7.0, decay=0.03, harmonics=1, noise=0.15),
    "hum": Recipe(low=6, span=20, tempo=0.5, decay=3.0, harmonics=1, noise=0.01),
}

C2 = 65.40639132514966  # Hz


def make_clip(recipe, seconds, sample_rate, rng):
    """One clip of a genre, float32 in [-1, 1].

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> y = make_clip(GENRES["pulse"], 0.5, 8000, rng)
    >>> y.shape, y.dtype, bool(np.abs(y).max() <= 1)
    ((4000,), dtype('float32'), True)
    """
    n = int(round(seconds * sample_rate))
    t = np.arange(n) / sample_rate
    y = np.zeros(n)
    key = recipe.low + rng.uniform(0, 3)
    tempo = recipe.tempo * rng.uniform(0.85, 1.15)
    onsets = np.arange(rng.uniform(0, 1 / tempo), seconds, 1 / tempo)
    nyquist = sample_rate / 2
    for onset in onsets:
        pitch = key + rng.integers(0, max(int(recipe.span), 1))
        f0 = C2 * 2 ** (pitch / 12)
        start = int(onset * sample_rate)
        tt = t[start:] - onset
        envelope = np.exp(-tt / recipe.decay) * np.minimum(tt / 0.005, 1)
        note = np.zeros(tt.size)
        for h in range(1, recipe.harmonics + 1):
            if h * f0 < nyquist:
                note += np.sin(2 * np.pi * h * f0 * tt + rng.uniform(0, 2 * np.pi)) / h
        y[start:] += rng.uniform(0.5, 1.0) * envelope * note
    y += recipe.noise * rng.standard_normal(n)
    y /= max(np.abs(y).max(), 1e-9)
    return (0.9 * y).astype(np.float32)


def make_dataset(
    folder,
    genres=3,
    clips_per_genre=8,
    seconds=2.0,
    sample_rate=22050,
    seed=0,
    format="wav",
):
    """Write a synthetic GTZAN-layout data set, ``folder/<genre>/<genre>.000NN.wav``.

    Parameters
    ----------
    folder : str or Path
        Root folder, created if needed. Existing clips are overwritten.
    genres : int or sequence of str
        The first `genres` recipes of :data:`GENRES`, or named ones.
    clips_per_genre : int
    seconds : float
        Length of each clip (short by default so that tests are fast).
    sample_rate : int
    seed : int
        The same seed writes the same files.
    format : {'wav', 'au', 'flac', 'ogg'}

    Returns
    -------
    Path
        The root folder.

    Examples
    --------
    >>> import tempfile
    >>> root = make_dataset(tempfile.mkdtemp(), genres=2, clips_per_genre=2,
    ...                     seconds=0.5, sample_rate=8000)
    >>> sorted(str(p.relative_to(root)) for p in root.rglob("*.wav"))
    ['drone/drone.00000.wav', 'drone/drone.00001.wav',
     'pulse/pulse.00000.wav', 'pulse/pulse.00001.wav']
    """
    import soundfile

    if isinstance(genres, (int, np.integer)):
        if not 1 <= genres <= len(GENRES):
            raise InputError(f"genres must be 1 to {len(GENRES)}, got {genres}")
        names = list(GENRES)[:genres]
    else:
        names = list(genres)
        unknown = [g for g in names if g not in GENRES]
        if unknown:
            raise InputError(
                f"unknown synthetic genres {unknown}; choose from {list(GENRES)}"
            )
    if clips_per_genre < 1 or seconds <= 0 or sample_rate <= 0:
        raise InputError(
            "clips_per_genre, seconds and sample_rate must be positive, got "
            f"{clips_per_genre}, {seconds}, {sample_rate}"
        )
    subtype = {"wav": "PCM_16", "au": "PCM_16", "flac": "PCM_16", "ogg": "VORBIS"}
    if format not in subtype:
        raise InputError(f"format must be one of {list(subtype)}, got {format!r}")
    root = Path(folder)
    root.mkdir(parents=True, exist_ok=True)
    for g, name in enumerate(names):
        (root / name).mkdir(exist_ok=True)
        for i in range(clips_per_genre):
            rng = np.random.default_rng([seed, g, i])
            y = make_clip(GENRES[name], seconds, sample_rate, rng)
            path = root / name / f"{name}.{i:05d}.{format}"
            with store.atomic_path(path) as tmp:
                soundfile.write(
                    str(tmp),
                    y,
                    sample_rate,
                    subtype=subtype[format],
                    format=format.upper(),
                )
    return root


def make_labelled_dataset(
    folder,
    classes=3,
    speakers=4,
    clips_per_speaker=3,
    seconds=(0.3, 1.5),
    sample_rate=8000,
    seed=0,
):
    """Write recordings of several lengths and a ``labels.csv`` with speakers.

    The layout of short spoken recordings: one folder of files,
    ``<speaker>-<class>-<n>.wav``, and ``labels.csv`` with the columns
    ``file,label,group`` (the group is the speaker). Each speaker shifts the
    pitch of every class by their own few semitones, so that folds which
    hold a speaker out are harder than folds which do not.

    Parameters
    ----------
    folder : str or Path
        Created if needed.
    classes : int
        The first `classes` recipes of :data:`GENRES`.
    speakers, clips_per_speaker : int
        Recordings of each class by each speaker.
    seconds : (float, float)
        Lengths drawn uniformly in this range.
    sample_rate : int
    seed : int

    Returns
    -------
    Path
        The folder.

    Examples
    --------
    >>> import tempfile, soundfile
    >>> root = make_labelled_dataset(tempfile.mkdtemp(), classes=2, speakers=2,
    ...                              clips_per_speaker=1)
    >>> print((root / "labels.csv").read_text().splitlines()[:2])
    ['file,label,group', 's0-drone-0.wav,drone,s0']
    >>> len({soundfile.info(str(p)).frames for p in root.glob("*.wav")})
    4
    """
    import csv

    import soundfile

    if not 2 <= classes <= len(GENRES):
        raise InputError(f"classes must be 2 to {len(GENRES)}, got {classes}")
    low, high = seconds
    if not 0 < low <= high or speakers < 1 or clips_per_speaker < 1:
        raise InputError(
            "need 0 < seconds[0] <= seconds[1] and at least one speaker and clip, "
            f"got seconds={seconds}, speakers={speakers}, clips={clips_per_speaker}"
        )
    root = Path(folder)
    root.mkdir(parents=True, exist_ok=True)
    rows = [("file", "label", "group")]
    for s in range(speakers):
        shift = np.random.default_rng([seed, s]).uniform(-3, 3)
        for c, name in enumerate(list(GENRES)[:classes]):
            recipe = dataclasses.replace(GENRES[name], low=GENRES[name].low + shift)
            for i in range(clips_per_speaker):
                rng = np.random.default_rng([seed, s, c, i])
                y = make_clip(recipe, rng.uniform(low, high), sample_rate, rng)
                file = f"s{s}-{name}-{i}.wav"
                with store.atomic_path(root / file) as tmp:
                    soundfile.write(str(tmp), y, sample_rate, format="WAV")
                rows.append((file, name, f"s{s}"))
    with store.atomic_path(root / "labels.csv") as tmp:
        with open(tmp, "w", newline="") as f:
            csv.writer(f).writerows(rows)
    return root
