r"""CQT frames of clips of any length, one row per frame, cached in HDF5.

Unlike :func:`~pyunlocbox_gae.audio.preprocess.preprocess`, which stores
clips of one length (padded or truncated), :func:`clip_rows` keeps every
clip as long as it is (up to ``clip_samples``): a clip of 0.3 s gives a few
frames, one of 2 s many. Shorter clips are padded only with
``short="pad"``, and the number padded is reported. Clips are transformed
in batches of about :data:`BATCH_SECONDS` of audio, one CQT per stream for
the whole batch (:func:`~pyunlocbox_gae.audio.cqt.clips_cqt`), so that many
short files cost about what their audio costs.

It is resumable: every batch's rows go into ``<output>.partial``, and the
batch is marked done only after its rows are on the disk, so a run that
crashes or is interrupted continues at the first batch not done. Batches
are formed the same way from that point, so a resumed run gives the same
bytes as an uninterrupted one. The final file is written from the partial
one in one pass through :func:`pyunlocbox_gae.store.write_h5` (atomic
rename), never half-written.

File (``pyunlocbox_gae/clip-rows``): ``rows`` float32 (n_rows, n_bins),
frames in time order (streams interleaved), clip after clip; ``clips``
(n_rows,) the clip of each row; ``labels`` (n_clips,); ``clip_ids``;
attributes ``genres``, ``groups`` (JSON, or empty), ``padded``, ``skipped``
and ``key``.

.. autosummary::
    clip_rows
"""

import json
import os
from pathlib import Path

import h5py
import numpy as np

from pyunlocbox_gae import store
from pyunlocbox_gae.audio.cqt import clips_cqt, interleave
from pyunlocbox_gae.audio.gtzan import AudioFileError, find_clips, read_clip
from pyunlocbox_gae.audio.preprocess import (
    DONE,
    SKIPPED,
    TODO,
    _digest,
    _disk_full_is_clear,
    _new_partial,
    _resume_partial,
    _settings,
    _sync,
)
from pyunlocbox_gae.errors import InputError


def _key(params, clips, names, short, resample):
    """What the rows depend on: settings and the input files' identities."""
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


def _is_current(output, key):
    """Whether `output` is a complete rows file of these settings and files."""
    if not Path(output).exists():
        return False
    try:
        with store.open_h5(output, "clip-rows") as f:
            return f.attrs.get("key") == key
    except ValueError:  # not ours, or truncated: computed again
        return False


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
    log=None,
):
    """CQT frames of every clip of an audio folder, each clip at its length.

    Parameters
    ----------
    data : str or Path
        GTZAN-layout folder, or a folder with a ``labels.csv``
        (:func:`~pyunlocbox_gae.audio.gtzan.find_clips`).
    output : str or Path
        HDF5 file; kept and read back when its key (settings and the files'
        sizes and times) matches. An existing ``<output>.partial`` of the
        same settings and files is resumed.
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
    log : callable, optional
        Receives one-line messages (resuming, starting over).

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
    if short not in ("keep", "pad", "error"):
        raise InputError(f"short must be 'keep', 'pad' or 'error', got {short!r}")
    if on_error not in ("raise", "skip"):
        raise InputError(f"on_error must be 'raise' or 'skip', got {on_error!r}")
    output = store.check_writable(output)  # before hours of CQTs
    clips, names = find_clips(data, genres, clips_per_genre)
    store.check_not_input(output, *(clip.path for clip in clips))
    key = _key(params, clips, names, short, resample)
    if _is_current(output, key):
        return _read(output)
    job = dict(params=params, short=short, resample=resample, on_error=on_error)
    partial = output.with_name(output.name + ".partial")
    with store.folder_lock(output.parent), _disk_full_is_clear(partial):
        f = _open_partial(partial, key, len(clips), params.n_bins, log or _quiet)
        try:
            _transform(f, clips, job, progress)
            _write_final(output, f, data, clips, names, key)
        finally:
            f.close()
        os.remove(partial)
    return dict(_read(output), cached=False)


def _quiet(message):
    pass


# -- the partial file --------------------------------------------------------
# ``rows`` and ``owner`` (the clip of each row) grow batch by batch, in clip
# order; per clip: ``status``, ``batch`` (the batch that read it), ``padded``,
# ``reason`` and ``digest`` (of its rows). The attribute ``batches`` counts
# the batches done: written last, after the rows and statuses are synced, so
# a batch is done all at once or not at all.


def _open_partial(path, key, n_clips, n_bins, log):
    """Open the partial file of these settings, or start a new one."""
    f = _resume_partial(path, key, n_clips, _drop_unfinished, log)
    if f is None:
        f = _new_partial(path, "clip-rows-partial", key, n_clips)
        f.attrs["batches"] = 0
        shape, most = (0, n_bins), (None, n_bins)
        f.create_dataset(
            "rows", shape, np.float32, maxshape=most, chunks=(1024, n_bins)
        )
        f.create_dataset("owner", (0,), np.int64, maxshape=(None,), chunks=(4096,))
        f.create_dataset("batch", (n_clips,), np.int64, fillvalue=-1)
        f.create_dataset("padded", (n_clips,), bool)
        _sync(f)
    return f


def _drop_unfinished(f, log):
    """Forget the batches not marked done, and those whose rows the disk lost.

    Rows are stored in clip order, so the rows of the batches kept are a
    prefix: the rest is cut off, and their clips are to do again.
    """
    status, batch, owner = f["status"][:], f["batch"][:], f["owner"][:]
    done = int(f.attrs["batches"])
    starts = np.searchsorted(owner, np.arange(len(status)), side="left")
    ends = np.searchsorted(owner, np.arange(len(status)), side="right")
    for i in np.flatnonzero((status == DONE) & (batch < done)):
        if not np.array_equal(_digest(f["rows"][starts[i] : ends[i]]), f["digest"][i]):
            log(f"batch {batch[i]} was not all on the disk; computing it again")
            done = int(batch[i])
            break
    again = batch >= done
    status[again], batch[again] = TODO, -1
    f["status"][:], f["batch"][:] = status, batch
    # rows of a batch cut short before its statuses were written belong to
    # clips still to do: only the rows of clips done are kept
    keep = int(np.count_nonzero(np.isin(owner, np.flatnonzero(status == DONE))))
    f["rows"].resize(keep, axis=0)
    f["owner"].resize(keep, axis=0)
    f.attrs["batches"] = done
    _sync(f)


def _transform(f, clips, job, progress):
    """Read and transform every clip still to do, a batch at a time."""
    from tqdm.auto import tqdm

    params = job["params"]
    todo = np.flatnonzero(f["status"][:] == TODO)
    batch_samples = BATCH_SECONDS * params.sample_rate
    batch, read, skipped, samples = [], [], {}, 0
    bar = tqdm(
        total=len(clips),
        initial=len(clips) - todo.size,
        disable=not progress,
        desc="CQT",
        unit="clip",
    )
    with bar:
        for i in todo:
            try:
                y, padded = _read_clip(clips[i], job)
            except AudioFileError as err:
                if job["on_error"] == "raise":
                    raise AudioFileError(clips[i].path, err.reason) from None
                skipped[int(i)] = err.reason
            else:
                batch.append(y)
                read.append((int(i), padded))
                samples += y.size
            if samples >= batch_samples:
                _commit(f, batch, read, skipped, params)
                bar.update(len(read) + len(skipped))
                batch, read, skipped, samples = [], [], {}, 0
        if batch or skipped:
            _commit(f, batch, read, skipped, params)
            bar.update(len(read) + len(skipped))


def _read_clip(clip, job):
    """A clip's samples, padded if asked; and whether it was padded."""
    params, short = job["params"], job["short"]
    y = read_clip(
        clip.path, params.sample_rate, params.clip_samples, "keep", job["resample"]
    )
    padded = y.size < params.clip_samples and short == "pad"
    if y.size < params.clip_samples and short == "error":
        raise AudioFileError(
            clip.path,
            f"{y.size} samples, shorter than {params.clip_samples}; "
            "keep or pad short clips",
        )
    if padded:
        y = np.pad(y, (0, params.clip_samples - y.size))
    _check_length(y, params)
    return y, padded


def _commit(f, batch, read, skipped, params):
    """Store a batch's rows, then mark it done: the rows first on the disk.

    One write per dataset and batch: the clips of a batch are consecutive,
    and thousands of small HDF5 writes would cost more than short clips'
    transforms.
    """
    n = int(f.attrs["batches"])
    rows = [interleave(frames) for frames in clips_cqt(batch, params)] if batch else []
    ids = np.array([i for i, _ in read], dtype=np.int64)
    counts = np.array([len(r) for r in rows], dtype=np.int64)
    start = f["rows"].shape[0]
    total = start + int(counts.sum())
    f["rows"].resize(total, axis=0)
    f["owner"].resize(total, axis=0)
    if rows:
        f["rows"][start:total] = np.concatenate(rows)
        f["owner"][start:total] = np.repeat(ids, counts)
    members = np.union1d(ids, np.fromiter(skipped, np.int64, len(skipped)))
    lo, hi = int(members[0]), int(members[-1]) + 1
    part = {name: f[name][lo:hi] for name in ("digest", "padded", "status", "batch")}
    for (i, padded), r in zip(read, rows, strict=True):
        part["digest"][i - lo], part["padded"][i - lo] = _digest(r), padded
    for name in ("digest", "padded"):
        f[name][lo:hi] = part[name]
    _sync(f)
    part["status"][ids - lo] = DONE
    part["batch"][members - lo] = n
    for i, reason in skipped.items():
        part["status"][i - lo], f["reason"][i] = SKIPPED, reason
    for name in ("status", "batch"):
        f[name][lo:hi] = part[name]
    _sync(f)
    f.attrs["batches"] = n + 1
    _sync(f)


def _write_final(output, f, data, clips, names, key):
    """The rows file, from the partial one, a block of rows at a time."""
    status = f["status"][:]
    kept = np.flatnonzero(status == DONE)
    if not kept.size:
        raise InputError(f"every clip of {data} was skipped; see the reasons")
    reasons = f["reason"].asstr()[:]
    skipped = [
        dict(path=str(clips[i].path), reason=str(reasons[i]))
        for i in np.flatnonzero(status == SKIPPED)
    ]
    groups = [clips[i].group for i in kept]
    groups = groups if all(g is not None for g in groups) else []
    rows, owner = f["rows"], f["owner"]
    with store.write_h5(
        output,
        "clip-rows",
        key=key,
        genres=json.dumps(names),
        groups=json.dumps(groups),
        padded=int(np.count_nonzero(f["padded"][:][kept])),
        skipped=json.dumps(skipped),
    ) as out:
        dset = out.create_dataset("rows", rows.shape, np.float32)
        index = out.create_dataset("clips", owner.shape, np.int64)
        for s in range(0, rows.shape[0], BLOCK_ROWS):  # never all in memory
            e = min(s + BLOCK_ROWS, rows.shape[0])
            dset[s:e] = rows[s:e]
            index[s:e] = np.searchsorted(kept, owner[s:e])  # clip -> kept rank
        out.create_dataset("labels", data=np.array([clips[i].label for i in kept]))
        out.create_dataset(
            "clip_ids",
            data=np.array([clips[i].clip_id for i in kept], dtype=object),
            dtype=h5py.string_dtype(),
        )


# Rows copied to the final file at a time: 16 MiB of 96 bins.
BLOCK_ROWS = 1 << 15
