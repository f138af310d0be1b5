r"""The preprocessing stage: a GTZAN-layout folder to an HDF5 frames file.

:func:`preprocess` reads every selected clip, computes its CQT frames
(:func:`pyunlocbox_gae.audio.cqt.clip_cqt`) and stores them. It is resumable:
clips go into ``<output>.partial`` with a per-clip status flushed after every
clip, so a run that crashes or is interrupted continues at the next
unfinished clip. When every clip is done the final file is written from the
partial one in one pass through :func:`pyunlocbox_gae.store.write_h5`
(atomic rename), so a finished file is never half-written and an interrupted
then resumed run gives the same bytes as an uninterrupted one.

Frames file (``pyunlocbox_gae/frames``):

* ``frames``: float32 (n_clips, n_frames, n_streams, n_bins), chunked per clip;
* ``labels``: int (n_clips,), indices into the ``genres`` attribute;
* ``clip_ids``: str (n_clips,), ``"<genre>/<file>"``;
* attributes: every :class:`CQTParams` field, ``genres``, ``short``,
  ``resample``, ``skipped`` (JSON list of ``{"path", "reason"}``), ``key``
  (hash of the settings and input files, for caching).

.. autosummary::
    preprocess
    load_frames
    feature_matrix
"""

import contextlib
import hashlib
import json
import os
import time
import types

import h5py
import numpy as np

from pyunlocbox_gae import scaling as scaling_
from pyunlocbox_gae import store
from pyunlocbox_gae.audio.cqt import CQTParams, clip_cqt
from pyunlocbox_gae.audio.gtzan import AudioFileError, find_clips, read_clip
from pyunlocbox_gae.errors import FileFormatError, InputError

TODO, DONE, SKIPPED = 0, 1, 2
# How frames are computed: 2 since each clip is transformed in silence
# (audio.cqt.clips_cqt). Part of every frames file's key, so that a file
# written the earlier way is recomputed rather than mixed with new ones.
FRAMES_VERSION = 2


def _settings(params, clips, genres, short, resample):
    """What the output depends on: settings and the input files' identities."""
    files = []
    for clip in clips:
        try:
            st = clip.path.stat()
            files.append([clip.clip_id, st.st_size, st.st_mtime_ns])
        except OSError:
            files.append([clip.clip_id, None, None])
    return dict(
        version=FRAMES_VERSION,
        params=params.as_attrs(),
        genres=list(genres),
        short=short,
        resample=bool(resample),
        files=files,
    )


def _digest(frames):
    return np.frombuffer(
        hashlib.blake2b(frames.tobytes(), digest_size=16).digest(), np.uint8
    )


def _sync(f):
    """Flush an HDF5 file and make the operating system write it to the disk."""
    f.flush()
    os.fsync(f.id.get_vfd_handle())


def _verify_done(f, log):
    """Mark again as to do the clips marked done whose frames are not stored.

    A clip is marked done only after its frames were synced to the disk,
    so this finds the damage of a disk or a file system that lost writes.
    """
    status = f["status"][:]
    lost = [
        i
        for i in np.flatnonzero(status == DONE)
        if not np.array_equal(_digest(f["frames"][i]), f["digest"][i])
    ]
    if lost:
        log(f"{len(lost)} clips marked done were not on the disk; computing them again")
        for i in lost:
            f["status"][i] = TODO
        _sync(f)
    return len(lost)


def _resume_partial(path, key, n_clips, check, log):
    """The partial file of these settings and files, open, or None.

    `check` (called with the file and `log`) repairs what a crash left; a
    partial file of other settings, or unreadable, is removed.
    """
    if not path.exists():
        return None
    store.check_target(path)
    f = None
    try:
        f = h5py.File(path, "a", rdcc_nbytes=0)
        ok = f.attrs.get("key") == key and "digest" in f
        if ok and f["status"].shape == (n_clips,):
            check(f, log)
            done = int(np.count_nonzero(f["status"][:]))
            log(f"resuming {path.name}: {done}/{n_clips} clips already done")
            return f
        log(f"{path.name} was made with other settings or files; starting over")
    except (OSError, KeyError, ValueError, IndexError, TypeError):
        # interrupted while writing, or not what this version writes
        log(f"{path.name} is unreadable or damaged; starting over")
    if f is not None:
        f.close()
    path.unlink()
    return None


def _new_partial(path, kind, key, n_clips):
    """A new partial file with a status, a skip reason and a digest per clip."""
    f = h5py.File(path, "w", rdcc_nbytes=0)  # writes fail where they are made
    f.attrs["format"] = store.FORMAT_PREFIX + kind
    f.attrs["key"] = key
    f.create_dataset("status", shape=(n_clips,), dtype=np.int8, fillvalue=TODO)
    f.create_dataset("reason", shape=(n_clips,), dtype=h5py.string_dtype())
    f.create_dataset("digest", shape=(n_clips, 16), dtype=np.uint8)
    return f


def _open_partial(path, key, n_clips, frame_shape, log):
    """Open the partial file of these settings, or start a new one."""
    f = _resume_partial(path, key, n_clips, _verify_done, log)
    if f is None:
        f = _new_partial(path, "frames-partial", key, n_clips)
        f.create_dataset(
            "frames",
            shape=(n_clips, *frame_shape),
            dtype=np.float32,
            chunks=(1, *frame_shape),
        )
        _sync(f)
    return f


def preprocess(
    data,
    output,
    params=None,
    genres=None,
    clips_per_genre=None,
    short="error",
    resample=True,
    on_error="raise",
    progress=True,
    log=print,
):
    """Compute the CQT frames of a GTZAN-layout folder into an HDF5 file.

    Parameters
    ----------
    data : str or Path
        GTZAN-layout folder (one sub-folder per genre).
    output : str or Path
        Frames file to write. An existing ``<output>.partial`` of the same
        settings and input files is resumed.
    params : CQTParams, optional
        Framing and CQT settings (the study's by default).
    genres, clips_per_genre
        Selection, see :func:`pyunlocbox_gae.audio.gtzan.find_clips`.
    short : {'error', 'pad'}
        What to do with clips shorter than ``params.clip_samples``.
    resample : bool
        Resample clips at another rate, or treat them as bad files.
    on_error : {'raise', 'skip'}
        A bad file (unreadable, corrupt, too short, wrong rate) stops the run
        with an error naming it, or is skipped and listed in the file's
        ``skipped`` attribute and in the returned report.
    progress : bool
        Show a tqdm progress bar.
    log : callable
        Receives one-line messages (resuming, skipped files).

    Returns
    -------
    dict
        Report: ``output``, ``n_clips``, ``n_frames`` (frame vectors stored),
        ``skipped`` (list of ``{"path", "reason"}``), ``seconds``,
        ``frames_per_second`` (of this run's CQT work), ``cached`` (True when
        `output` was already up to date and nothing ran).

    Examples
    --------
    >>> import tempfile, pathlib
    >>> from pyunlocbox_gae.audio.synthetic import make_dataset
    >>> root = pathlib.Path(tempfile.mkdtemp())
    >>> data = make_dataset(root / "data", genres=2, clips_per_genre=2, seconds=1)
    >>> p = CQTParams(clip_samples=22050)
    >>> report = preprocess(data, root / "frames.h5", p, progress=False)
    >>> report["n_clips"], report["skipped"]
    (4, [])
    >>> F = load_frames(root / "frames.h5")
    >>> F["frames"].shape, F["genres"], F["labels"].tolist()
    ((4, 21, 2, 96), ['drone', 'pulse'], [0, 0, 1, 1])
    """
    if on_error not in ("raise", "skip"):
        raise InputError(f"on_error must be 'raise' or 'skip', got {on_error!r}")
    if short not in ("error", "pad"):
        raise InputError(f"short must be 'error' or 'pad', got {short!r}")
    params = params or CQTParams()
    output = store.check_writable(output)  # before hours of CQTs
    clips, names = find_clips(data, genres, clips_per_genre)
    store.check_not_input(output, *(clip.path for clip in clips))
    settings = _settings(params, clips, names, short, resample)
    key = store.settings_key(settings)
    t0 = time.perf_counter()
    partial = output.with_name(output.name + ".partial")
    job = types.SimpleNamespace(
        data=data, output=output, partial=partial, params=params, short=short,
        resample=resample, on_error=on_error, progress=progress, t0=t0,
    )  # fmt: skip
    with store.folder_lock(output.parent), _disk_full_is_clear(partial):
        return _run(job, clips, names, settings, key, log)


@contextlib.contextmanager
def _disk_full_is_clear(partial):
    """A full disk ends the run with one line; the partial file is resumable."""
    try:
        yield
    except (OSError, RuntimeError) as err:  # h5py raises either
        if not store.disk_full(err):
            raise
        raise store.disk_full_error(partial) from None


def _run(job, clips, names, settings, key, log):
    """The CQT of every clip not yet done, then the final file."""
    output, partial, params = job.output, job.partial, job.params
    cached = _cached_report(output, key)
    if cached is not None:
        log(f"{output.name} is up to date (same settings and input files)")
        return cached
    f = _open_partial(partial, key, len(clips), params.frame_shape, log)
    computed = 0
    try:
        status = f["status"][:]
        todo = np.flatnonzero(status == TODO)
        clip_bytes = 4 * int(np.prod(params.frame_shape))
        # The clips still to do, then the final file: refused now, not after
        # hours of CQTs, when the disk cannot hold them.
        store.check_space(
            output.parent, clip_bytes * (todo.size + len(clips)), "the frames"
        )
        bar = _progress(todo.size, len(clips) - todo.size, job.progress, len(clips))
        for i in todo:
            clip = clips[i]
            try:
                y = read_clip(
                    clip.path,
                    params.sample_rate,
                    params.clip_samples,
                    short=job.short,
                    resample=job.resample,
                )
                frames = clip_cqt(y, params)
            except AudioFileError as err:
                if job.on_error == "raise":
                    bar.close()  # end the bar's line before the error message
                    raise
                log(f"skipping {err}")
                f["reason"][i] = err.reason
                f["status"][i] = SKIPPED
            else:
                f["frames"][i] = frames
                f["digest"][i] = _digest(frames)
                _sync(f)  # the frames are on the disk before the status says so
                f["status"][i] = DONE
                computed += 1
            _sync(f)
            bar.update(1)
        bar.close()
        status = f["status"][:]
        reasons = f["reason"].asstr()[:]
        skipped = [
            dict(path=str(clips[i].path), reason=str(reasons[i]))
            for i in np.flatnonzero(status == SKIPPED)
        ]
        keep = np.flatnonzero(status == DONE)
        if keep.size == 0:
            raise InputError(
                f"every clip of {job.data} was skipped; see the reasons above"
            )
        _write_final(output, f, keep, clips, names, params, settings, key, skipped)
    finally:
        f.close()
    os.remove(partial)
    seconds = time.perf_counter() - job.t0
    n_vectors = keep.size * params.n_frames * params.n_streams
    return dict(
        output=str(output),
        n_clips=int(keep.size),
        n_frames=int(n_vectors),
        skipped=skipped,
        seconds=seconds,
        frames_per_second=computed * params.n_frames * params.n_streams / seconds,
        cached=False,
    )


def _cached_report(output, key):
    """The report of an existing, complete output of the same settings."""
    if not output.exists():
        return None
    try:
        with store.open_h5(output, "frames") as f:
            if f.attrs.get("key") != key:
                return None
            n_clips, n_frames, n_streams = f["frames"].shape[:3]
            skipped = json.loads(f.attrs["skipped"])
    except ValueError:  # not ours or truncated: recompute it
        return None
    return dict(
        output=str(output),
        n_clips=int(n_clips),
        n_frames=int(n_clips * n_frames * n_streams),
        skipped=skipped,
        seconds=0.0,
        frames_per_second=0.0,
        cached=True,
    )


def _progress(total, initial, enabled, n):
    from tqdm.auto import tqdm

    return tqdm(total=n, initial=initial, disable=not enabled, desc="CQT", unit="clip")


def _write_final(output, f, keep, clips, names, params, settings, key, skipped):
    attrs = params.as_attrs()
    attrs.update(
        genres=json.dumps(names),
        short=settings["short"],
        resample=settings["resample"],
        skipped=json.dumps(skipped),
        key=key,
    )
    frames = f["frames"]
    with store.write_h5(output, "frames", **attrs) as out:
        dset = out.create_dataset(
            "frames",
            shape=(keep.size, *frames.shape[1:]),
            dtype=np.float32,
            chunks=(1, *frames.shape[1:]),
        )
        for j, i in enumerate(keep):  # clip by clip: never the whole set in memory
            dset[j] = frames[i]
        out.create_dataset("labels", data=np.array([clips[i].label for i in keep]))
        out.create_dataset(
            "clip_ids",
            data=np.array([clips[i].clip_id for i in keep], dtype=object),
            dtype=h5py.string_dtype(),
        )


def load_frames(path):
    """Read a frames file written by :func:`preprocess`.

    Returns
    -------
    dict
        ``frames`` (float32, (n_clips, n_frames, n_streams, n_bins)),
        ``labels``, ``clip_ids``, ``genres``, ``params`` (:class:`CQTParams`),
        ``skipped`` and ``key``.
    """
    with store.open_h5(path, "frames") as f:
        a = f.attrs
        params = CQTParams(
            sample_rate=int(a["sample_rate"]),
            clip_samples=int(a["clip_samples"]),
            frame_size=int(a["frame_size"]),
            frame_hop=int(a["frame_hop"]),
            n_bins=int(a["n_bins"]),
            bins_per_octave=int(a["bins_per_octave"]),
            fmin=_fmin(a["fmin"]),
            frames_per_clip=int(a["frames_per_clip"]) or None,
        )
        out = dict(
            frames=f["frames"][...],
            labels=f["labels"][...],
            clip_ids=list(f["clip_ids"].asstr()[...]),
            genres=json.loads(a["genres"]),
            params=params,
            skipped=json.loads(a["skipped"]),
            key=str(a["key"]),
        )
    _check_frames(out, path)
    return out


def _check_frames(F, path):
    """Shapes that agree with each other and with the stored CQT settings."""
    frames, labels, genres = F["frames"], F["labels"], F["genres"]
    n = len(frames)
    ok = (
        frames.shape[1:] == F["params"].frame_shape
        and labels.shape == (n,)
        and labels.dtype.kind in "iu"
        and len(F["clip_ids"]) == n
        and isinstance(genres, list)
        and (n == 0 or 0 <= labels.min() <= labels.max() < len(genres))
    )
    if not ok:
        raise FileFormatError(
            f"{path} is damaged: its frames {frames.shape}, labels {labels.shape} "
            f"and clip ids do not agree with each other or with its CQT settings "
            f"(frames of shape {F['params'].frame_shape}); run gae preprocess again"
        )


def _fmin(text):
    try:
        return float(text)
    except ValueError:
        return str(text)


def feature_matrix(frames, log=False, scaling="minmax", noise=0.0, seed=1):
    """The feature-learning input: one row per frame, scaled, optionally noisy.

    Rows are ordered clip by clip, frames of all streams in time order (the
    study's flattening of ``Xs``). Scaling is per feature over all frames
    (label-free, as the study's transductive setting); noise of std `noise`
    is added after scaling, as in the study's noise experiment.

    Parameters
    ----------
    frames : ndarray (n_clips, n_frames, n_streams, n_bins)
        Modified in place when float32 and contiguous (no copy is made): pass
        a copy to keep it.
    log : bool
        Compress magnitudes with log(1 + x) first (values must be > -1).
    scaling : {'minmax', 'standard', 'none'}
        Per feature to [0, 1], to zero mean and unit variance, or none
        (:func:`pyunlocbox_gae.scaling.scale_features`).
    noise : float
        Standard deviation of the Gaussian noise added after scaling.
    seed : int
        Seed of the noise.

    Returns
    -------
    ndarray of float32, shape (n_clips * n_frames * n_streams, n_bins)

    Examples
    --------
    >>> F = np.arange(24, dtype=np.float32).reshape(1, 3, 2, 4)
    >>> X = feature_matrix(F)
    >>> X.shape, float(X.min()), float(X.max()), np.shares_memory(X, F)
    ((6, 4), 0.0, 1.0, True)
    """
    scaling_.check_scaling(scaling, noise)
    frames = np.asarray(frames, dtype=np.float32)
    X = frames.reshape(-1, frames.shape[-1])
    scaling_.scale_features(X, log, scaling)
    scaling_.add_noise(X, noise, seed)
    return X
