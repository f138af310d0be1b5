r"""The stages of one experiment point, each cached on disk by a fingerprint.

data → graph → codes → classification. Every stage's output is stored in
the cache folder under a name derived from a hash of exactly what it depends
on: the data's fingerprint and the parameters of its group (see
:mod:`.settings`). So the graph is not rebuilt when only ``ls`` changes,
and codes are not re-learned when only the classifier changes. Files are
HDF5 written through :mod:`pyunlocbox_gae.store` (atomic, marked with their
kind; no pickle), so an interrupted run leaves no partial file and resumes
from the last finished stage.

.. autosummary::
    load_data
    Cache
    graph_stage
    codes_stage
    fit_codes
    classify_stage
"""

import contextlib
import json
import time
import tracemalloc
from pathlib import Path

import numpy as np

from pyunlocbox_gae import graphs, store
from pyunlocbox_gae.errors import CheckpointMismatch, InputError
from pyunlocbox_gae.experiments import scoring, sources
from pyunlocbox_gae.experiments.settings import group
from pyunlocbox_gae.model.estimator import GraphAutoEncoder
from pyunlocbox_gae.model.objective import needs_graph


def load_data(config):
    """Features and labels of a row source: scaled, subsampled, noisy.

    The rows of ``config['dataset']`` (:func:`.sources.load_source`) are
    scaled per feature (``scaling``, min–max to [0, 1] by default), then
    Gaussian noise of std ``config['noise']`` is added
    (:func:`.sources.prepare`), as the original study did with its
    spectrograms (the graph is built from the same noisy data).

    Returns
    -------
    X : ndarray of shape (n_samples, n_features), float32
    y : ndarray of shape (n_samples,), int

    Examples
    --------
    >>> from pyunlocbox_gae.experiments.settings import make_config
    >>> X, y = load_data(make_config(n_samples=200, noise=0.1))
    >>> X.shape, X.dtype, len(set(y.tolist()))
    ((200, 64), dtype('float32'), 10)
    """
    data = sources.load_source(config)
    X = sources.prepare(
        data.X, config["scaling"], config["noise"], config["noise_seed"], config["log"]
    )
    return X, data.y


def key_of(*parts):
    """A short hash of JSON-able parts (the cache key of a stage).

    Examples
    --------
    >>> key_of({"a": 1}, "x") == key_of({"a": 1}, "x"), len(key_of(1))
    (True, 20)
    """
    return store.settings_key(*parts, digest_size=10)


class Cache:
    """A folder of stage outputs named ``<kind>-<key>.h5``.

    Parameters
    ----------
    folder : str or Path or None
        Created if missing. None keeps nothing (every stage recomputes).

    Examples
    --------
    >>> Cache(None).path("graph", "abc") is None
    True
    """

    def __init__(self, folder):
        self.folder = None if folder is None else Path(folder)
        if self.folder is not None:
            store.make_folder(self.folder)

    def path(self, kind, key):
        """File of stage `kind` with key `key` (None without a folder)."""
        return None if self.folder is None else self.folder / f"{kind}-{key}.h5"

    def has(self, kind, key):
        """Whether the output of stage `kind` with key `key` is stored."""
        path = self.path(kind, key)
        return path is not None and path.exists()


def _status_kib(field):
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise OSError(f"no {field} in /proc/self/status")


def _reset_peak_rss():
    """Reset the process's peak RSS (Linux >= 4.0); False where unsupported."""
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
        return True
    except OSError:
        return False


@contextlib.contextmanager
def measure():
    """Seconds and peak memory (MiB) of the block, in the dict it yields.

    Peak memory is the process's peak resident set size during the block
    (``VmHWM`` after resetting it through ``/proc/self/clear_refs``, Linux),
    which costs nothing; it includes the interpreter and the libraries (a
    rise over the start would read 0 when the block reuses memory freed by
    an earlier one). Elsewhere it is the peak of the Python and NumPy
    allocations of the block, traced by tracemalloc, which slows small
    NumPy-heavy loops by about 1.5× (measured), so seconds are then
    pessimistic. ``memory`` says which was used. Blocks must not be nested.

    Examples
    --------
    >>> import numpy as np
    >>> with measure() as m:
    ...     a = np.ones(2**21)  # 16 MiB, touched
    >>> bool(m["peak_mib"] >= 15), m["memory"] in ("rss", "tracemalloc")
    (True, True)
    """
    out = {}
    rss = _reset_peak_rss()
    if not rss:
        started = not tracemalloc.is_tracing()
        if started:
            tracemalloc.start()
        before, _ = tracemalloc.get_traced_memory()
        tracemalloc.reset_peak()
    t = time.perf_counter()
    try:
        yield out
    finally:
        out["seconds"] = time.perf_counter() - t
        if rss:
            out["peak_mib"] = _status_kib("VmHWM") / 2**10
            out["memory"] = "rss"
        else:
            _, peak = tracemalloc.get_traced_memory()
            out["peak_mib"] = max(peak - before, 0) / 2**20
            out["memory"] = "tracemalloc"
            if started:
                tracemalloc.stop()


def _bar(total, desc, enabled, unit="outer"):
    """A progress bar that disappears when done (stages nest in a sweep's)."""
    from tqdm.auto import tqdm

    return tqdm(total=total, desc=desc, unit=unit, disable=not enabled, leave=False)


def build_graph(X, config, clips=None, progress=None):
    """The graph over the samples of X, built as ``config['construction']`` says.

    :func:`pyunlocbox_gae.graphs.constructions.build_graph`: the k-NN graph
    by default; ``temporal``, ``smoothed``, ``clips`` and ``temporal_mix >
    0`` need `clips`, the clip of each row (audio sources). `progress` is
    called as ``progress(rows_done, n_samples)`` during a neighbour search
    over the samples (k-NN graph and views).
    """
    from pyunlocbox_gae.graphs.constructions import build_graph as construct

    params = group(config, "graph")
    params["width"] = params.pop("view_width")
    params["rank"] = params.pop("view_rank")
    params["rounds"] = params.pop("view_rounds")
    if progress is not None and params["construction"] in SEARCHED:
        params["progress"] = progress
    return construct(X, clips=clips, dtype=X.dtype, random_state=0, **params)


# The graph keys that choose a construction rather than set the k-NN graph.
CONSTRUCTION_KEYS = (
    "construction",
    "temporal_mix",
    "temporal_radius",
    "view_width",
    "view_rank",
    "view_rounds",
    "cross_clip",
)
# Constructions whose cost is a neighbour search over the samples.
SEARCHED = ("knn", "smoothed", "lowrank", "codes", "context")


def _uses_clips(config):
    from pyunlocbox_gae.graphs.constructions import NEEDS_CLIPS

    return (
        config["construction"] in NEEDS_CLIPS
        or config["temporal_mix"]
        or config["cross_clip"]
    )


def graph_stage(X, config, cache, x_key=None, progress=False, clips=None):
    """The graph over the samples of X: built once, then read from the cache.

    `clips` (the clip of each row) is read by the constructions that follow
    time (and is then part of the cache key).

    Returns
    -------
    graph : pygsp.graphs.Graph
    info : dict
        ``key``, ``cached`` (bool), ``seconds`` and ``peak_mib`` of the build.
    """
    x_key = x_key or store.fingerprint(X)
    time_key = _fingerprint(clips) if _uses_clips(config) else None
    key = key_of("graph", x_key, group(config, "graph"), time_key)
    path = cache.path("graph", key)
    if cache.has("graph", key):
        graph = graphs.load_graph(path, X=X, dtype=X.dtype)
        with store.open_h5(path, "graph") as f:
            info = json.loads(f.attrs["stage_info"])
        return graph, dict(info, key=key, cached=True)
    with measure() as info, _bar(len(X), "graph", progress, "sample") as bar:
        # the neighbour search, block by block, is most of the graph's cost
        graph = build_graph(X, config, clips, lambda done, _: bar.update(done - bar.n))
        bar.update(len(X) - bar.n)  # constructions without a search: one step
    if path is not None:
        graphs.save_graph(path, graph, X, stage_info=json.dumps(info))
    return graph, dict(info, key=key, cached=False)


def estimator(config, graph=None, build_graph=False):
    """The :class:`GraphAutoEncoder` of a configuration.

    With `build_graph`, the estimator builds its own graph from the samples
    it is fitted on, with the configuration's graph settings (the inductive
    mode: each split's graph over its training samples only).
    """
    params = group(config, "estimator")
    graph_params = None
    if build_graph and needs_graph(params):
        graph_params = dict(group(config, "graph"), random_state=0)
        for key in ("lap_type", *CONSTRUCTION_KEYS):
            graph_params.pop(key)
    return GraphAutoEncoder(
        graph=graph, graph_params=graph_params, lap_type=config["lap_type"], **params
    )


def check_estimators(configs):
    """Check whole configurations now, before any stage (:func:`.checks.check`).

    Examples
    --------
    >>> from pyunlocbox_gae.experiments.settings import make_config
    >>> check_estimators([make_config(ls=-1)])
    Traceback (most recent call last):
    ...
    pyunlocbox_gae.errors.InputError: config key ls must be a float in the range ...
    """
    from pyunlocbox_gae.experiments import checks

    for config in configs:
        checks.check(config)


def codes_stage(
    X, config, graph=None, graph_key=None, cache=None, x_key=None, progress=False
):
    """Transductive codes of X (fit_transform), learned once per key.

    Returns
    -------
    Z : ndarray of shape (n_samples, n_atoms)
    info : dict
        ``key``, ``cached``, ``seconds``, ``peak_mib``, ``history`` (the
        estimator's ``history_``) and ``components`` (the atoms).
    """
    cache = cache or Cache(None)
    x_key = x_key or store.fingerprint(X)
    params = group(config, "estimator")
    on = needs_graph(params)
    key = key_of("codes", x_key, graph_key if on else None, params)
    path = cache.path("codes", key)
    if cache.has("codes", key):
        with store.open_h5(path, "experiment-codes") as f:
            Z = f["codes"][...]
            info = json.loads(f.attrs["info"])
            info["components"] = f["components"][...]
        return Z, dict(info, key=key, cached=True)
    if on and graph is None:
        raise InputError("codes with lg > 0 or lt > 0 need the graph of graph_stage()")
    model = estimator(config, graph if on else None)
    with measure() as info, _bar(params["max_outer"], "codes", progress) as bar:
        if progress:  # one step per outer iteration of the fit
            model.set_params(callback=lambda entry: bar.update())
        Z = fit_codes(model, X, path)
    info["history"] = model.history_
    if path is not None:
        with store.write_h5(
            path,
            "experiment-codes",
            info=json.dumps(info, default=float),
            params=json.dumps(params),
        ) as f:
            f.create_dataset("codes", data=Z)
            f.create_dataset("components", data=model.components_)
    info["components"] = model.components_
    return Z, dict(info, key=key, cached=False)


# Seconds between two checkpoints of a codes fit: a crash loses a few
# minutes of work at most, for one write of about Z's size each time.
CHECKPOINT_SECONDS = 300


def fit_codes(model, X, path):
    """fit_transform that saves its state beside `path` and resumes from it.

    A checkpoint written with other settings is discarded (the fit starts
    afresh); the checkpoint is removed once the codes are written.
    """
    if path is None:
        return model.fit_transform(X)
    saved = Path(str(path) + ".checkpoint")
    model.set_params(
        checkpoint=saved, checkpoint_every=None, checkpoint_seconds=CHECKPOINT_SECONDS
    )
    try:
        Z = model.fit_transform(X)
    except CheckpointMismatch:
        saved.unlink()
        Z = model.fit_transform(X)
    model.set_params(checkpoint=None)
    saved.unlink(missing_ok=True)
    return Z


def _fingerprint(a):
    """A hash of a clip or group column; integers hashed as they are.

    Other labels go through strings (hashable whatever their type); for a
    million integer clip indices that conversion alone took seconds.
    """
    if a is None:
        return None
    a = np.asarray(a)
    return store.fingerprint(a if a.dtype.kind in "biu" else a.astype(str))


def clip_labels(data):
    """The label and the group of each clip (of each row without clips).

    Examples
    --------
    >>> data = sources.Data(None, np.array([0, 0, 1, 1, 1]), ["a", "b"],
    ...                     clips=np.array([0, 0, 1, 1, 2]))
    >>> clip_labels(data)[0].tolist()
    [0, 1, 1]
    """
    rows = np.arange(len(data.y)) if data.clips is None else clip_starts(data.clips)
    return data.y[rows], None if data.groups is None else data.groups[rows]


def clip_starts(clips):
    """The first row of each clip (clips are runs of equal values).

    Examples
    --------
    >>> clip_starts(np.array([4, 4, 7, 7, 7, 2])).tolist()
    [0, 2, 5]
    """
    return np.flatnonzero(np.r_[True, np.diff(clips) != 0])


def classify_stage(
    F, data, config, cache=None, f_key=None, progress=False, baseline=False
):
    """Cross-validated linear SVM on the pooled vectors of rows F.

    Parameters
    ----------
    F : ndarray (n_rows, n_features)
        Codes or features, one row per row of `data`.
    data : Data or array of labels
        The rows' labels, clips and groups (:class:`.sources.Data`), or just
        the labels of rows that are samples of their own.
    config : dict
        Its classifier group: ``C``, ``scaler``, ``pooling``, ``n_vectors``,
        ``scoring``, ``protocol``, ``n_splits``, ``n_repeats``,
        ``test_size``, ``cv_seed`` (:mod:`.scoring`).
    baseline : bool
        F are the raw features: scaled with ``baseline_scaler`` unless it is
        ``"same"``.

    Returns
    -------
    dict
        ``accuracy`` and ``accuracy_std`` (in %, over all splits, by the
        configured ``scoring``), ``scores`` (per split, in %), ``protocol``,
        ``seconds``, ``key``, ``cached``; for rows in clips also
        ``accuracy_<s>`` and ``accuracy_<s>_std`` for every scoring ``s``
        (``vector``, ``clip``, ``clip_mean``: :mod:`.scoring`).

    Examples
    --------
    >>> from pyunlocbox_gae.experiments.settings import make_config
    >>> cfg = make_config(n_samples=200, n_repeats=1)
    >>> X, y = load_data(cfg)
    >>> out = classify_stage(X, y, cfg)
    >>> len(out["scores"]), bool(out["accuracy"] > 50)
    (5, True)
    """
    if not isinstance(data, sources.Data):
        data = sources.Data(None, np.asarray(data), [])
    cache = cache or Cache(None)
    params = group(config, "classifier")
    if baseline and params["baseline_scaler"] != "same":
        params["scaler"] = params["baseline_scaler"]
    key = key_of(
        "classify",
        f_key or store.fingerprint(F),
        store.fingerprint(data.y),
        _fingerprint(data.clips),
        _fingerprint(data.groups),
        params,
    )
    path = cache.path("classify", key)
    if cache.has("classify", key):
        with store.open_h5(path, "experiment-scores") as f:
            return dict(json.loads(f.attrs["info"]), key=key, cached=True)
    t = time.perf_counter()
    V, owner = scoring.pool(F, data.clips, params["pooling"], params["n_vectors"])
    y_clip, groups = clip_labels(data)
    by_scoring = scoring.cross_validate_scorings(
        V, owner, y_clip, groups, progress=progress, **params
    )
    scores = by_scoring[params["scoring"]]
    info = dict(
        accuracy=float(np.mean(scores)),
        accuracy_std=float(np.std(scores)),
        scores=[float(s) for s in scores],
        protocol=params["protocol"],
        seconds=time.perf_counter() - t,
    )
    if data.clips is not None:  # every scoring, from the same classifiers
        for name, values in by_scoring.items():
            info[f"accuracy_{name}"] = float(np.mean(values))
            info[f"accuracy_{name}_std"] = float(np.std(values))
    if path is not None:
        with store.write_h5(path, "experiment-scores", info=json.dumps(info)):
            pass
    return dict(info, key=key, cached=False)
