r"""CQT frames of clips of any length, one row per frame, cached in HDF5.

Unlike :func:`~pyunlocbox_gae.audio.preprocess.preprocess`, which stores
clips of one length (padded or truncated), :func:`clip_rows` keeps every
clip as long as it is (up to ``clip_samples``): a clip of 0.3 s gives a few
frames, one of 2 s many. Shorter clips are padded only with
``short="pad"``, and the number padded is reported. Clips are transformed
in batches of about :data:`BATCH_SECONDS` of audio, one CQT per stream for
the whole batch (:func:`~pyunlocbox_gae.audio.cqt.clips_cqt`), so that many
short files cost about what their audio costs.

File (``pyunlocbox_gae/clip-rows``): ``rows`` float32 (n_rows, n_bins),
frames in time order (streams interleaved), clip after clip; ``clips``
(n_rows,) the clip of each row; ``labels`` (n_clips,); ``clip_ids``;
attributes ``genres``, ``groups`` (JSON, or empty), ``padded``, ``skipped``
and ``key``.

.. autosummary::
    clip_rows
"""

import json
from pathlib import Path

import h5py
import numpy as np

from pyunlocbox_gae import store
from pyunlocbox_gae.audio.cqt import clips_cqt, interleave
from pyunlocbox_gae.audio.gtzan import AudioFileError, find_clips, read_clip
from pyunlocbox_gae.errors import InputError


def _key(params, clips, names, short, resample):
    """What the rows depend on: settings and the input files' identities."""
    from pyunlocbox_gae.audio.preprocess import _settings

    return store.settings_key(_settings(params, clips, names, short, resample))


# Audio transformed together: long enough that the fixed cost of a CQT (its
# resampling and filter set-up) is spread thin, short enough for the memory
# of one batch's transform (a few MiB) and a lively progress bar.
BATCH_SECONDS = 60


def _check_length(y, params):
    if params.stream_frames(y.size) < 1:
        raise AudioFileError("", f"{y.size} samples: shorter than one frame")


def _read(path):
    with store.open_h5(path, "clip-rows") as f:
        groups = json.loads(f.attrs["groups"])
        return dict(
            rows=f["rows"][...],
            clips=f["clips"][...],
            labels=f["labels"][...],
            clip_ids=list(f["clip_ids"].asstr()[...]),
            genres=json.loads(f.attrs["genres"]),
            groups=np.array(groups) if groups else None,
            padded=int(f.attrs["padded"]),
            skipped=json.loads(f.attrs["skipped"]),
            cached=True,
        )


def clip_rows(
    data,
    output,
    params,
    genres=None,
    clips_per_genre=None,
    short="keep",
    resample=True,
    on_error="raise",
    progress=True,
):
    """CQT frames of every clip of an audio folder, each clip at its length.

    Parameters
    ----------
    data : str or Path
        GTZAN-layout folder, or a folder with a ``labels.csv``
        (:func:`~pyunlocbox_gae.audio.gtzan.find_clips`).
    output : str or Path
        HDF5 file; kept and read back when its key (settings and the files'
        sizes and times) matches.
    params : CQTParams
        ``clip_samples`` is the longest length kept (longer clips are cut).
    genres, clips_per_genre
        Selection.
    short : {'keep', 'pad', 'error'}
        Clips shorter than ``clip_samples``: kept as they are, padded with
        zeros (counted in ``padded``), or refused.
    resample : bool
    on_error : {'raise', 'skip'}
    progress : bool

    Returns
    -------
    dict
        ``rows``, ``clips``, ``labels``, ``clip_ids``, ``genres``,
        ``groups`` (per clip, or None), ``padded``, ``skipped``, ``cached``.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> from pyunlocbox_gae.audio.cqt import CQTParams
    >>> from pyunlocbox_gae.audio.synthetic import make_labelled_dataset
    >>> root = pathlib.Path(tempfile.mkdtemp())
    >>> data = make_labelled_dataset(root / "d", classes=2, speakers=1,
    ...                              clips_per_speaker=2)
    >>> p = CQTParams(sample_rate=8000, clip_samples=16000, n_bins=24,
    ...               bins_per_octave=12)
    >>> out = clip_rows(data, root / "rows.h5", p, progress=False)
    >>> out["padded"], len(set(np.bincount(out["clips"]).tolist())) > 1
    (0, True)
    """
    from tqdm.auto import tqdm

    if short not in ("keep", "pad", "error"):
        raise InputError(f"short must be 'keep', 'pad' or 'error', got {short!r}")
    output = store.check_writable(output)
    clips, names = find_clips(data, genres, clips_per_genre)
    key = _key(params, clips, names, short, resample)
    if Path(output).exists():
        try:
            with store.open_h5(output, "clip-rows") as f:
                same = f.attrs.get("key") == key
        except ValueError:
            same = False
        if same:
            return _read(output)
    rows, kept, skipped, padded = [], [], [], 0
    batch, batch_clips = [], []

    def transform():
        for frames in clips_cqt(batch, params):
            rows.append(interleave(frames))
        kept.extend(batch_clips)
        batch.clear()
        batch_clips.clear()

    batch_samples = BATCH_SECONDS * params.sample_rate

    for clip in tqdm(clips, disable=not progress, desc="CQT", unit="clip"):
        try:
            y = read_clip(
                clip.path, params.sample_rate, params.clip_samples, "keep", resample
            )
            if y.size < params.clip_samples and short != "keep":
                if short == "error":
                    raise AudioFileError(
                        clip.path,
                        f"{y.size} samples, shorter than {params.clip_samples}; "
                        "keep or pad short clips",
                    )
                y = np.pad(y, (0, params.clip_samples - y.size))
                padded += 1
            _check_length(y, params)
        except AudioFileError as err:
            if on_error == "raise":
                raise AudioFileError(clip.path, err.reason) from None
            skipped.append(dict(path=str(clip.path), reason=err.reason))
            continue
        batch.append(y)
        batch_clips.append(clip)
        if sum(b.size for b in batch) >= batch_samples:
            transform()
    if batch:
        transform()
    owner = [np.full(len(r), i) for i, r in enumerate(rows)]
    if not kept:
        raise InputError(f"every clip of {data} was skipped; see the reasons")
    groups = [c.group for c in kept]
    groups = groups if all(g is not None for g in groups) else []
    with store.write_h5(
        output,
        "clip-rows",
        key=key,
        genres=json.dumps(names),
        groups=json.dumps(groups),
        padded=padded,
        skipped=json.dumps(skipped),
    ) as f:
        f.create_dataset("rows", data=np.concatenate(rows))
        f.create_dataset("clips", data=np.concatenate(owner))
        f.create_dataset("labels", data=np.array([c.label for c in kept]))
        f.create_dataset(
            "clip_ids",
            data=np.array([c.clip_id for c in kept], dtype=object),
            dtype=h5py.string_dtype(),
        )
    return dict(_read(output), cached=False)
