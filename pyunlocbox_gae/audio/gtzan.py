r"""GTZAN-layout audio folders: find, select, read and fix the length of clips.

A GTZAN-layout folder holds one sub-folder per genre, each holding audio
files (``.au``, ``.wav``, ``.ogg``, ``.flac``). The root and genre names are
free (``genres/`` in the original release, ``genres_original/`` in a common
variant). Genres are taken in alphabetical order, as the original study's
HDF5 file did, so that "the first five genres" means the same everywhere.

Bad files are never dropped silently: :func:`read_clip` raises
:class:`AudioFileError` naming the file, and a caller that opts into skipping
keeps the list of skipped files with their reasons.

.. autosummary::
    AudioFileError
    Clip
    find_clips
    find_labelled_clips
    read_clip
"""

import dataclasses
import math
import os
from pathlib import Path

import numpy as np

from pyunlocbox_gae.errors import FileFormatError, InputError, MissingFileError

AUDIO_EXTENSIONS = (".au", ".wav", ".ogg", ".flac")
# A folder holding this file is read through it (find_labelled_clips).
LABELS_FILE = "labels.csv"


class AudioFileError(FileFormatError):
    """An audio file that cannot be used (unreadable, corrupt, too short...).

    The message starts with the file's path. ``path`` holds it too.
    """

    def __init__(self, path, reason):
        self.path = str(path)
        self.reason = reason
        super().__init__(f"{path}: {reason}")


@dataclasses.dataclass(frozen=True)
class Clip:
    """One clip of a GTZAN-layout folder.

    Attributes
    ----------
    path : Path
        The audio file.
    genre : str
        The name of its genre folder.
    label : int
        The genre's index in the selected genres.
    group : str or None
        The clip's group (a speaker, a recording session) when a labels
        file gives one.
    name : str or None
        The file's path as a labels file gives it.
    clip_id : str
        ``"<genre>/<file name>"`` (or the labels file's path), unique within
        a data set.
    """

    path: Path
    genre: str
    label: int
    group: str | None = None
    name: str | None = None

    @property
    def clip_id(self):
        return self.name if self.name is not None else f"{self.genre}/{self.path.name}"


def _audio_files(folder):
    # Links count even when they point nowhere: read_clip then reports them,
    # rather than the clip vanishing from the data set without a word.
    return sorted(
        p
        for p in folder.iterdir()
        if (p.is_symlink() or p.is_file())
        and p.suffix.lower() in AUDIO_EXTENSIONS
        and not p.name.startswith(".")
    )


def find_clips(folder, genres=None, clips_per_genre=None):
    """List the clips of a GTZAN-layout folder (or of a labelled folder).

    A folder holding ``labels.csv`` is read through it instead
    (:func:`find_labelled_clips`); `genres` then selects labels.

    Parameters
    ----------
    folder : str or Path
        Root folder: one sub-folder per genre.
    genres : int, sequence of str or None
        Genres to use: all (None), the first `genres` in alphabetical order
        (an int, as the study's "5 genres"), or the named ones, in the order
        given (labels follow that order).
    clips_per_genre : int or None
        The first `clips_per_genre` files of each genre, in name order (all
        when None). A genre with fewer files is an error.

    Returns
    -------
    clips : list of Clip
    genres : list of str
        The selected genre names; ``clips[i].label`` indexes it.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> root = pathlib.Path(tempfile.mkdtemp())
    >>> for g in ("rock", "blues"):
    ...     (root / g).mkdir()
    ...     for i in range(3):
    ...         _ = (root / g / f"{g}.{i:05d}.wav").write_bytes(b"")
    >>> clips, names = find_clips(root, clips_per_genre=2)
    >>> names, [c.clip_id for c in clips][1:3]
    (['blues', 'rock'], ['blues/blues.00001.wav', 'rock/rock.00000.wav'])
    >>> find_clips(root, genres=["jazz"])
    Traceback (most recent call last):
    ...
    pyunlocbox_gae.errors.InputError: genre 'jazz' has no folder in ...; available...
    """
    folder = Path(folder)
    if not folder.exists():
        raise MissingFileError(f"data folder {folder} does not exist")
    if not folder.is_dir():
        raise NotADirectoryError(f"data folder {folder} is not a folder")
    if (folder / LABELS_FILE).is_file():
        return _select(*find_labelled_clips(folder), genres, clips_per_genre)
    available = {
        p.name: p
        for p in sorted(folder.iterdir())
        if p.is_dir() and not p.name.startswith(".") and _audio_files(p)
    }
    if not available:
        raise InputError(
            f"{folder} has no genre sub-folders holding audio files "
            f"({', '.join(AUDIO_EXTENSIONS)}); give the folder whose sub-folders "
            "are the genres (GTZAN: 'genres/' or 'genres_original/')"
        )
    names = sorted(available)
    if genres is None:
        selected = names
    elif isinstance(genres, (int, np.integer)) and not isinstance(genres, bool):
        if not 1 <= genres <= len(names):
            raise InputError(
                f"genres={genres} but {folder} has {len(names)} genres; "
                f"choose 1 to {len(names)}"
            )
        selected = names[:genres]
    else:
        selected = [str(g) for g in genres]
        for g in selected:
            if g not in available:
                raise InputError(
                    f"genre {g!r} has no folder in {folder}; "
                    f"available genres: {', '.join(names)}"
                )
        if not selected:
            raise InputError(
                "genres is an empty list; give 'all', a number of genres or at "
                f"least one genre name (available: {', '.join(names)})"
            )
        if len(set(selected)) != len(selected):
            raise InputError(f"genres lists a genre twice: {selected}")
    clips = []
    for label, genre in enumerate(selected):
        files = _audio_files(available[genre])
        if clips_per_genre is not None:
            if clips_per_genre < 1:
                raise InputError(f"clips_per_genre must be >= 1, got {clips_per_genre}")
            if len(files) < clips_per_genre:
                raise InputError(
                    f"genre {genre!r} has {len(files)} clips in {available[genre]}, "
                    f"fewer than clips_per_genre={clips_per_genre}; lower it"
                )
            files = files[:clips_per_genre]
        clips.extend(Clip(path, genre, label) for path in files)
    return clips, selected


def read_clip(path, sample_rate=22050, n_samples=660000, short="error", resample=True):
    """Read one clip as mono float32 of `n_samples` samples (at most, if kept).

    Parameters
    ----------
    path : str or Path
    sample_rate : int
        Rate the samples must have.
    n_samples : int
        Length of the result: longer clips are truncated (the study kept the
        first 660,000 samples, 29.9 s).
    short : {'error', 'pad', 'keep'}
        A shorter clip is an error, is padded with zeros at the end, or is
        kept as it is (then `n_samples` is only the longest length).
    resample : bool
        Resample a clip at another rate (soxr, through librosa), or refuse it.

    Raises
    ------
    AudioFileError
        Missing, unreadable, corrupt, empty, wrong-rate (``resample=False``)
        or short (``short='error'``) file; the message names it.

    Examples
    --------
    >>> import tempfile, pathlib, soundfile
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "tone.wav"
    >>> soundfile.write(path, np.ones(1000, np.float32) / 2, 8000)
    >>> y = read_clip(path, sample_rate=8000, n_samples=800)
    >>> y.shape, y.dtype, float(y[0])
    ((800,), dtype('float32'), 0.5)
    >>> try:
    ...     read_clip(path, sample_rate=8000, n_samples=2000)
    ... except AudioFileError as err:
    ...     print(err.reason)
    1000 samples at 8000 Hz, shorter than the clip length 2000; ...
    """
    import soundfile

    path = Path(path)
    if not path.is_file():
        if path.is_symlink():
            raise AudioFileError(
                path,
                f"a symbolic link to {os.readlink(path)}, which is not a file; "
                "fix or remove the link",
            )
        raise AudioFileError(path, "file does not exist")
    try:
        info = soundfile.info(str(path))
        if info.format == "RAW":
            # libsndfile reads any headerless .au as 8 kHz u-law noise.
            raise AudioFileError(
                path, "not an audio file (no audio header found); remove it"
            )
        native = int(info.samplerate)
        if native != sample_rate and not resample:
            raise AudioFileError(
                path,
                f"sample rate {native} Hz, expected {sample_rate} Hz; "
                "allow resampling or convert the file",
            )
        # Read only what the fixed length needs (a few extra samples for the
        # resampler's edge), not the whole file.
        need = math.ceil(n_samples * native / sample_rate) + (
            64 if native != sample_rate else 0
        )
        y, _ = soundfile.read(str(path), frames=need, dtype="float32", always_2d=True)
    except AudioFileError:
        raise
    except Exception as err:  # libsndfile's errors carry no common type
        raise AudioFileError(path, f"unreadable or corrupt audio ({err})") from None
    y = y.mean(axis=1, dtype=np.float32) if y.shape[1] > 1 else y[:, 0]
    if y.size == 0:
        raise AudioFileError(path, "holds no samples")
    if not np.all(np.isfinite(y)):
        raise AudioFileError(path, "holds NaN or infinite samples (corrupt)")
    if native != sample_rate:
        import librosa

        y = librosa.resample(y, orig_sr=native, target_sr=sample_rate).astype(
            np.float32, copy=False
        )
        if abs(y.size - n_samples) <= 2 and y.size < n_samples:
            y = np.pad(y, (0, n_samples - y.size))  # resampler rounding only
    if y.size < n_samples and short != "keep":
        if short != "pad":
            raise AudioFileError(
                path,
                f"{y.size} samples at {sample_rate} Hz, shorter than the clip "
                f"length {n_samples}; pad short clips, skip them or lower the "
                "clip length",
            )
        y = np.pad(y, (0, n_samples - y.size))
    return np.ascontiguousarray(y[:n_samples])


def _select(clips, names, genres, clips_per_genre):
    """The `genres` / `clips_per_genre` selection of a labelled folder's clips."""
    if isinstance(genres, (int, np.integer)) and not isinstance(genres, bool):
        if not 1 <= genres <= len(names):
            raise InputError(f"genres={genres} but there are {len(names)} labels")
        keep = names[:genres]
    else:
        keep = names if genres is None else [str(g) for g in genres]
    unknown = sorted(set(keep) - set(names))
    if unknown:
        raise InputError(f"labels {unknown} not found; available: {', '.join(names)}")
    out, seen = [], dict.fromkeys(keep, 0)
    for clip in clips:
        if clip.genre in seen and seen[clip.genre] < (clips_per_genre or len(clips)):
            seen[clip.genre] += 1
            index = keep.index(clip.genre)
            out.append(dataclasses.replace(clip, label=index))
    return out, list(keep)


def find_labelled_clips(folder, labels=LABELS_FILE):
    r"""List the clips of a folder of audio files named in a labels CSV.

    The CSV has a header and the columns ``file`` (a path relative to
    `folder`), ``label`` and optionally ``group`` (a speaker, a recording
    session: the unit that speaker-held-out folds keep together).

    Parameters
    ----------
    folder : str or Path
        Folder of the audio files.
    labels : str or Path
        The CSV, relative to `folder` unless absolute.

    Returns
    -------
    clips : list of Clip
        In the CSV's order; ``label`` indexes `names`.
    names : list of str
        The distinct labels, sorted.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> root = pathlib.Path(tempfile.mkdtemp())
    >>> for name in ("a.wav", "b.wav", "c.wav"):
    ...     _ = (root / name).write_bytes(b"")
    >>> _ = (root / "labels.csv").write_text(
    ...     "file,label,group\na.wav,yes,ann\nb.wav,no,bob\nc.wav,yes,bob\n")
    >>> clips, names = find_labelled_clips(root)
    >>> names, [(c.clip_id, c.label, c.group) for c in clips][:2]
    (['no', 'yes'], [('a.wav', 1, 'ann'), ('b.wav', 0, 'bob')])
    """
    import csv

    folder = Path(folder)
    path = Path(labels) if Path(labels).is_absolute() else folder / labels
    if not path.is_file():
        raise MissingFileError(
            f"labels file {path} does not exist; write a CSV with the columns "
            "file,label[,group]"
        )
    with open(path, newline="") as f:
        rows = list(csv.DictReader(f))
    columns = set(rows[0]) if rows else set()
    if not {"file", "label"} <= columns:
        raise InputError(
            f"{path} needs a header with the columns file,label[,group]; "
            f"found {sorted(columns)}"
        )
    names = sorted({row["label"] for row in rows})
    if len(names) < 2:
        raise InputError(f"{path} names {len(names)} label(s); give at least two")
    index = {name: i for i, name in enumerate(names)}
    clips = []
    for row in rows:
        audio = folder / row["file"]
        if not audio.is_file():
            raise MissingFileError(f"{path} names {row['file']}, not found in {folder}")
        group = row.get("group") or None
        clips.append(Clip(audio, row["label"], index[row["label"]], group, row["file"]))
    return clips, names
