r"""The audio chain: preprocess → graph → features → classify, with caching.

Each stage writes one file into the output folder and records a key (a hash
of its settings and of its input's key); a stage whose file exists with the
same key is skipped, so changing, say, the classifier reruns only the
classification. Files:

* ``frames.h5``: CQT frames (:func:`pyunlocbox_gae.audio.preprocess.preprocess`);
* ``graph.h5`` (+ ``graph.json``, its key): the k-NN graph over all frames
  (:func:`pyunlocbox_gae.graphs.knn_graph`), only when ``lg > 0``;
* ``features.h5``: the codes of all frames and the learned dictionary
  (transductive mode);
* ``results.json`` / ``results.csv``: the accuracy table;
  ``report.json``: the table plus timing, stages run or skipped, skipped
  files and the full config.

.. autosummary::
    run
    prepare_input
    compute_features
    classify
"""

import csv
import json
import time
from pathlib import Path

import numpy as np

from pyunlocbox_gae import classification, store
from pyunlocbox_gae.audio.preprocess import feature_matrix, load_frames, preprocess
from pyunlocbox_gae.errors import InputError
from pyunlocbox_gae.experiments.config import ALL, load_config
from pyunlocbox_gae.model.checkpoint import CheckpointMismatch
from pyunlocbox_gae.model.objective import needs_graph

# Seconds between two checkpoints of the features fit: a few minutes of work
# at most are lost to a crash, for a write of about Z's size each time.
CHECKPOINT_SECONDS = 300


def cqt_params(cfg):
    """:class:`CQTParams` of a checked config's ``[cqt]`` table."""
    from pyunlocbox_gae.experiments.settings import cqt_params as flat

    return flat(cfg["cqt"])


def prepare_input(frames, log=False, scaling="minmax", noise=0.0, seed=1):
    """The feature-learning input of a frames file: rows, labels, clip layout.

    Returns
    -------
    X : ndarray of float32, shape (n_clips * n_rows, n_bins)
        One row per frame, clips one after the other, frames of a clip in
        time order (:func:`pyunlocbox_gae.audio.preprocess.feature_matrix`).
    info : dict
        ``labels``, ``clip_ids``, ``genres``, ``n_rows`` (frames per clip),
        ``skipped``, ``key`` (of the frames file and these settings).
    """
    F = load_frames(frames)
    X = feature_matrix(F["frames"], log=log, scaling=scaling, noise=noise, seed=seed)
    n_clips = F["frames"].shape[0]
    info = dict(
        labels=F["labels"],
        clip_ids=F["clip_ids"],
        genres=F["genres"],
        n_rows=X.shape[0] // n_clips,
        skipped=F["skipped"],
        key=store.settings_key(F["key"], log, scaling, noise, seed),
    )
    return X, info


def _autoencoder(ae, graph=None, graph_params=None):
    from pyunlocbox_gae.model.estimator import GraphAutoEncoder
    from pyunlocbox_gae.model.objective import PARAMETERS

    return GraphAutoEncoder(
        n_atoms=ae["n_atoms"],
        **{name: ae[name] for name in PARAMETERS},
        graph=graph,
        graph_params=graph_params or None,
        solver=ae["solver"],
        dict_init=ae["dict_init"],
        rtol=ae["rtol"],
        rtol_outer=ae["rtol_outer"],
        max_inner=ae["max_inner"],
        max_outer=ae["max_outer"],
        transform_algorithm=ae["transform_algorithm"],
        random_state=ae["seed"],
    )


def build_graph(X, output, graph_params, key, log=print):
    """The k-NN graph over the rows of X, cached in ``output`` (+ ``.json``)."""
    from pyunlocbox_gae import graphs

    output = Path(output)
    meta = output.with_suffix(".json")
    gkey = store.settings_key(key, graph_params)
    if output.exists() and meta.exists():
        if (store.read_json_object(meta) or {}).get("key") == gkey:
            log(f"{output.name} is up to date")
            return graphs.load_graph(output, X=X), gkey, True
    store.check_writable(output)  # before the neighbour search
    G = graphs.knn_graph(X, **graph_params)
    graphs.save_graph(output, G, X)
    with store.atomic_path(meta) as tmp:
        tmp.write_text(json.dumps(dict(key=gkey, params=graph_params)))
    return G, gkey, False


def compute_features(X, info, output, autoencoder, graph=None, key=None, log=print):
    """Transductive codes of every frame, written to a features file.

    Parameters
    ----------
    X : ndarray (n_frames, n_bins)
        All frames (:func:`prepare_input`).
    info : dict
        From :func:`prepare_input`.
    output : Path
        Features file (``pyunlocbox_gae/features``): ``codes`` (n_frames,
        n_atoms), ``components``, ``labels``, ``clip_ids``; attributes
        ``genres``, ``n_rows``, ``history``, ``params``, ``key``.
    autoencoder : dict
        The ``[autoencoder]`` table of a config.
    graph : pygsp graph, optional
        Graph over the rows of X (needed when ``lg > 0``).
    key : str
        Key of the inputs; an existing file with the same key is kept.

    Returns
    -------
    codes : ndarray (n_frames, n_atoms)
    cached : bool
    """
    output = Path(output)
    fkey = store.settings_key(key, autoencoder)
    if output.exists():
        try:
            with store.open_h5(output, "features") as f:
                if f.attrs.get("key") == fkey:
                    log(f"{output.name} is up to date")
                    return f["codes"][...], True
        except ValueError:
            pass
    if needs_graph(autoencoder) and graph is None:
        raise InputError("lg > 0 needs a graph over the frames")
    store.check_writable(output)  # now, not after a fit of hours
    model = _autoencoder(autoencoder, graph=graph)
    # The fit saves its state next to the output every few minutes and
    # resumes from it after a crash; one of other settings is stale.
    saved = output.with_name(output.name + ".checkpoint")
    model.set_params(
        checkpoint=saved, checkpoint_every=None, checkpoint_seconds=CHECKPOINT_SECONDS
    )
    t = time.perf_counter()
    try:
        Z = model.fit_transform(X)
    except CheckpointMismatch:
        log(f"{saved.name} was written with other settings: starting afresh")
        saved.unlink()
        Z = model.fit_transform(X)
    seconds = time.perf_counter() - t
    with store.write_h5(
        output,
        "features",
        key=fkey,
        genres=json.dumps(info["genres"]),
        n_rows=info["n_rows"],
        params=json.dumps(autoencoder),
        history=json.dumps(model.history_, default=float),
        seconds=seconds,
    ) as f:
        f.create_dataset("codes", data=Z, chunks=(min(len(Z), 4096), Z.shape[1]))
        f.create_dataset("components", data=model.components_)
        f.create_dataset("labels", data=info["labels"])
        f.create_dataset("clip_ids", data=np.array(info["clip_ids"], dtype=object))
    saved.unlink(missing_ok=True)
    return Z, False


def classify(rows, labels, n_rows, cls, scaling=None, name="codes"):
    """Accuracy of the linear SVM on the clip vectors of frame rows.

    Parameters
    ----------
    rows : ndarray (n_clips * n_rows, n_features)
        Codes or CQT frames, clip after clip.
    labels : ndarray (n_clips,)
    n_rows : int
        Frames per clip.
    cls : dict
        The ``[classification]`` table of a config.
    scaling : str, optional
        Overrides ``cls["scaling"]`` (the baseline uses its own).
    name : str
        Label of these features in the results.

    Returns
    -------
    list of dict
        One entry per protocol (:func:`pyunlocbox_gae.classification.evaluate`
        plus ``features``).
    """
    V = classification.clip_vectors(
        rows.reshape(len(labels), n_rows, -1), cls["n_vectors"]
    )
    out = []
    for protocol in cls["protocols"]:
        r = classification.evaluate(
            V,
            labels,
            protocol=protocol,
            n_splits=cls["n_splits"],
            n_repeats=cls["n_repeats"],
            test_size=cls["test_size"],
            classifier=cls["classifier"],
            C=cls["C"],
            scaling=cls["scaling"] if scaling is None else scaling,
            voting=cls["voting"],
            seed=cls["seed"],
        )
        out.append(dict(features=name, **r))
    return out


def inductive_pipeline(autoencoder, n_rows, n_features, cls, graph_params=None):
    """Clip-level Pipeline: auto-encoder fitted on training clips, then SVM.

    Rows of its input are clips (``n_rows * n_features`` values each);
    :func:`pyunlocbox_gae.classification.evaluate_estimator` cross-validates
    it so that the codes of test clips come from ``transform`` only.
    """
    from sklearn.pipeline import Pipeline

    return Pipeline(
        [
            (
                "codes",
                classification.PerFrame(
                    _autoencoder(autoencoder, graph_params=graph_params), n_features
                ),
            ),
            ("vectors", classification.ClipVectorizer(n_rows, cls["n_vectors"])),
            (
                "svm",
                classification.VectorSVM(
                    vectors_per_clip=2 * cls["n_vectors"],
                    classifier=cls["classifier"],
                    C=cls["C"],
                    scaling=cls["scaling"],
                    voting=cls["voting"],
                ),
            ),
        ]
    )


def run(config, progress=True, log=print, plots=True):
    """Run the whole chain of a config; return the results.

    Parameters
    ----------
    config : str, Path or dict
        A TOML file or a config dict (:mod:`pyunlocbox_gae.experiments.config`); keys
        ``data`` and ``output`` are required.
    progress : bool
        Show progress bars.
    log : callable
        Receives one-line messages.
    plots : bool
        Write ``accuracy.png`` (accuracy ± std of each result) beside
        ``results.json``.

    Returns
    -------
    dict
        ``results`` (list of ``{features, protocol, mean, std, ...}``),
        ``chance``, ``genres``, ``n_clips``, ``n_frames``, ``stages``
        (``"ran"`` or ``"cached"`` per stage), ``timing`` (seconds per
        stage), ``skipped_files``, ``nnz`` (fraction of non-zero codes, as
        in ``history_``), ``output``. Also written as ``report.json``; the
        accuracy table as ``results.json`` and ``results.csv``.
    """
    cfg = _required(load_config(config))
    out = Path(cfg["output"])
    store.make_folder(out)
    store.check_writable(out / "report.json")  # before any stage runs
    with store.folder_lock(out):  # a second run on this folder is refused
        return _run(cfg, out, progress, log, plots)


def _run(cfg, out, progress, log, plots):
    """The stages of :func:`run`, with its output folder locked."""
    ds, ae, cls = cfg["dataset"], cfg["autoencoder"], cfg["classification"]
    timing, stages = {}, {}

    t = time.perf_counter()
    genres = None if ds["genres"] == ALL else ds["genres"]
    rep = preprocess(
        cfg["data"],
        out / "frames.h5",
        cqt_params(cfg),
        genres=genres,
        clips_per_genre=ds["clips_per_genre"] or None,
        short="pad" if ds["short_clips"] == "pad" else "error",
        resample=ds["resample"],
        on_error=ds["on_error"],
        progress=progress,
        log=log,
    )
    stages["preprocess"] = "cached" if rep["cached"] else "ran"
    timing["preprocess"] = time.perf_counter() - t

    X, info = prepare_input(out / "frames.h5", **cfg["input"])
    labels, n_rows = info["labels"], info["n_rows"]
    key = info["key"]
    graph_params = dict(cfg["graph"])
    inductive = ae["mode"] == "inductive"

    G = None
    t = time.perf_counter()
    if needs_graph(ae) and not inductive:
        G, key, cached = build_graph(X, out / "graph.h5", graph_params, key, log)
        stages["graph"] = "cached" if cached else "ran"
    else:
        stages["graph"] = "not needed"
    timing["graph"] = time.perf_counter() - t

    results, nnz = [], None
    t = time.perf_counter()
    ckey = store.settings_key(key, ae, cls, cfg["input"])
    previous = _cached_results(out / "report.json", ckey)
    if inductive:
        stages["features"] = "per fold (inductive)"
        if previous is not None:
            results, stages["classify"] = previous["results"], "cached"
        else:
            model = inductive_pipeline(ae, n_rows, X.shape[1], cls, graph_params)
            r = classification.evaluate_estimator(
                model,
                X.reshape(len(labels), -1),
                labels,
                cls["n_splits"],
                cls["n_repeats"],
                cls["seed"],
                progress=progress,
            )
            results.append(dict(features="codes (inductive)", **r))
    else:
        Z, cached = compute_features(X, info, out / "features.h5", ae, G, key, log)
        stages["features"] = "cached" if cached else "ran"
        nnz = float(np.count_nonzero(Z) / max(Z.size, 1))
        timing["features"] = time.perf_counter() - t
        t = time.perf_counter()
        if previous is not None:
            results, stages["classify"] = previous["results"], "cached"
        else:
            results += classify(Z, labels, n_rows, cls)
    if previous is None:
        if cls["baseline"]:
            results += classify(
                X, labels, n_rows, cls, cls["baseline_scaling"], "cqt (baseline)"
            )
        stages["classify"] = "ran"
    timing["classify"] = time.perf_counter() - t
    report = dict(
        key=ckey,
        results=[_short(r) for r in results],
        chance=1 / len(info["genres"]),
        genres=info["genres"],
        n_clips=int(len(labels)),
        n_frames=int(X.shape[0]),
        stages=stages,
        timing=timing,
        skipped_files=info["skipped"],
        nnz=nnz,
        output=str(out),
        config=cfg,
    )
    _write_reports(out, report, plots)
    return report


def _required(cfg):
    """A checked config that names its data folder and its output folder."""
    for key in ("data", "output"):
        if not cfg[key]:
            raise InputError(
                f"the config needs {key} = ... (data: the GTZAN-layout folder, "
                "output: the results folder)"
            )
    return cfg


def _short(r):
    keep = ("features", "protocol", "mean", "std", "n_splits", "n_repeats", "voting")
    out = {k: r[k] for k in keep}
    if r["protocol"] == "leaky":
        out["note"] = "leaky: vectors of one clip in both train and test (study)"
    out["scores"] = r.get("scores", [])
    return out


def _cached_results(path, key):
    if not path.exists():
        return None
    report = store.read_json_object(path)
    return report if report is not None and report.get("key") == key else None


def _write_reports(out, report, plots=False):
    table = dict(
        results=[
            {k: v for k, v in r.items() if k != "scores"} for r in report["results"]
        ],
        chance=report["chance"],
        genres=report["genres"],
        n_clips=report["n_clips"],
    )
    with store.atomic_path(out / "results.json") as tmp:
        tmp.write_text(json.dumps(table, indent=2))
    with store.atomic_path(out / "report.json") as tmp:
        tmp.write_text(json.dumps(report, indent=2, default=float))
    with store.atomic_path(out / "results.csv") as tmp:
        with open(tmp, "w", newline="") as f:
            w = csv.writer(f)
            w.writerow(["features", "protocol", "mean", "std", "splits", "voting"])
            for r in table["results"]:
                w.writerow(
                    [
                        r["features"],
                        r["protocol"],
                        f"{r['mean']:.4f}",
                        f"{r['std']:.4f}",
                        r["n_splits"] * r["n_repeats"],
                        r["voting"],
                    ]
                )
    if plots:
        from pyunlocbox_gae.experiments import figures

        figures.plot_results(
            report["results"], out / "accuracy.png", report["chance"], str(out.name)
        )


def summary(report):
    """The accuracy table of a report as text, one line per result.

    Examples
    --------
    >>> print(summary(dict(chance=0.5, results=[dict(features="codes",
    ...     protocol="grouped", mean=0.9, std=0.05)])))
    features          protocol  accuracy
    codes             grouped   90.0 ± 5.0 %
    chance                      50.0 %
    """
    lines = [f"{'features':<18}{'protocol':<10}accuracy"]
    for r in report["results"]:
        lines.append(
            f"{r['features']:<18}{r['protocol']:<10}"
            f"{100 * r['mean']:.1f} ± {100 * r['std']:.1f} %"
        )
    lines.append(f"{'chance':<28}{100 * report['chance']:.1f} %")
    return "\n".join(lines)
