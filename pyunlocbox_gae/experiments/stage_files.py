r"""The stage commands on files: ``gae features`` and ``gae classify``.

Each runs one stage of the chain on files written by the previous one: the
codes of every frame of a frames file (``gae preprocess``), or the accuracy
table of a features file (or of a frames file: the CQT baseline). They use
the chain's own stages (:func:`.stages.estimator`, :func:`.stages.fit_codes`,
:func:`.stages.classify_stage`) and take the same flat configuration
(:mod:`.settings`).

.. autosummary::
    prepare_input
    features_file
    classify_file
"""

import json
from pathlib import Path

import numpy as np

from pyunlocbox_gae import store
from pyunlocbox_gae.errors import InputError, MissingFileError
from pyunlocbox_gae.experiments import checks, sources, stages
from pyunlocbox_gae.experiments.settings import make_config
from pyunlocbox_gae.model.objective import needs_graph


def _config(config):
    config = make_config(config or {})
    checks.check_values(config)
    checks.check_protocols(config)
    return config


def prepare_input(frames, config=None):
    """The rows of a frames file, prepared as the chain prepares every source.

    Parameters
    ----------
    frames : str or Path
        Frames file (:func:`pyunlocbox_gae.audio.preprocess.preprocess`).
    config : dict, optional
        ``log``, ``scaling``, ``noise``, ``noise_seed`` (defaults otherwise).

    Returns
    -------
    X : ndarray of float32, shape (n_clips * n_rows, n_bins)
        One row per frame, clips one after the other, frames of a clip in
        time order (:func:`pyunlocbox_gae.audio.preprocess.feature_matrix`).
    info : dict
        ``labels``, ``clip_ids``, ``genres``, ``n_rows`` (frames per clip),
        ``skipped``, ``key`` (of the frames file and these settings).
    """
    from pyunlocbox_gae.audio.preprocess import feature_matrix, load_frames

    c = _config(config)
    F = load_frames(frames)
    prep = (c["log"], c["scaling"], c["noise"], c["noise_seed"])
    X = feature_matrix(F["frames"], *prep)
    n_clips = F["frames"].shape[0]
    info = dict(
        labels=F["labels"],
        clip_ids=F["clip_ids"],
        genres=F["genres"],
        n_rows=X.shape[0] // n_clips,
        skipped=F["skipped"],
        key=store.settings_key(F["key"], *prep),
    )
    return X, info


def features_file(frames, output, config=None, graph=None, log=print):
    """Stage `features` on files: codes of every frame of a frames file.

    Parameters
    ----------
    frames, output : str or Path
        Frames file (``gae preprocess``) and features file to write
        (``pyunlocbox_gae/features``: ``codes``, ``components``, ``labels``,
        ``clip_ids``; attributes ``genres``, ``n_rows``, ``history``,
        ``params``, ``key``). An up-to-date output is kept; an interrupted
        fit resumes from its checkpoint beside the output.
    config : dict, optional
        Flat configuration entries: the input's preparation and the
        estimator's (defaults for missing keys).
    graph : str, Path or dict, optional
        With ``lg > 0``: a graph file (``gae graph build`` over the same
        input) or :func:`pyunlocbox_gae.graphs.knn_graph` parameters.

    Returns
    -------
    dict
        ``output``, ``cached``, ``nnz`` (fraction of non-zero codes), ``n_frames``.
    """
    from pyunlocbox_gae import graphs

    c = _config(config)
    X, info = prepare_input(frames, c)
    G, key = None, info["key"]
    if needs_graph(c):
        if isinstance(graph, (str, Path)):
            G = graphs.load_graph(graph, X=X)
            key = store.settings_key(key, str(graph), Path(graph).stat().st_mtime_ns)
        else:
            params = dict(graph or {})
            G = graphs.knn_graph(X, **params)
            key = store.settings_key(key, params)
    params = stages.group(c, "estimator")
    fkey = store.settings_key(key, params)
    output = Path(output)
    cached = _cached_codes(output, fkey)
    if cached is not None:
        log(f"{output.name} is up to date")
        Z = cached
    else:
        store.check_writable(output)  # now, not after a fit of hours
        model = stages.estimator(c, G)
        Z = stages.fit_codes(model, X, output)
        _write_features(output, Z, model, info, fkey, params)
    return dict(
        output=str(output),
        cached=cached is not None,
        nnz=float(np.count_nonzero(Z) / max(Z.size, 1)),
        n_frames=int(Z.shape[0]),
    )


def _cached_codes(output, key):
    if not output.exists():
        return None
    try:
        with store.open_h5(output, "features") as f:
            return f["codes"][...] if f.attrs.get("key") == key else None
    except ValueError:
        return None


def _write_features(output, Z, model, info, key, params):
    with store.write_h5(
        output,
        "features",
        key=key,
        genres=json.dumps(info["genres"]),
        n_rows=info["n_rows"],
        params=json.dumps(params),
        history=json.dumps(model.history_, default=float),
    ) as f:
        f.create_dataset("codes", data=Z, chunks=(min(len(Z), 4096), Z.shape[1]))
        f.create_dataset("components", data=model.components_)
        f.create_dataset("labels", data=info["labels"])
        f.create_dataset("clip_ids", data=np.array(info["clip_ids"], dtype=object))


def classify_file(path, config=None):
    """Stage `classify` on a file: a features file (codes) or a frames file (CQT).

    A frames file is classified as the raw-feature baseline, after the
    input's preparation, with ``baseline_scaler``.

    Returns
    -------
    dict
        ``results`` (one per protocol: ``features``, ``protocol``,
        ``accuracy``, ``accuracy_std`` in %, ``scores``), ``chance`` (%),
        ``genres``, ``n_clips``.
    """
    c = _config(config)
    kind = _kind(path)
    if kind == "features":
        with store.open_h5(path, "features") as f:
            rows = f["codes"][...]
            labels = f["labels"][...]
            genres = json.loads(f.attrs["genres"])
            n_rows = int(f.attrs["n_rows"])
    else:
        rows, info = prepare_input(path, c)
        labels, genres, n_rows = info["labels"], info["genres"], info["n_rows"]
    clips = np.repeat(np.arange(len(labels)), n_rows)
    data = sources.Data(None, labels[clips], genres, clips=clips)
    name = "codes" if kind == "features" else "cqt (baseline)"
    protocols = c["protocol"] if isinstance(c["protocol"], list) else [c["protocol"]]
    results = []
    for protocol in protocols:
        out = stages.classify_stage(
            rows,
            data,
            make_config(c, protocol=protocol),
            baseline=kind == "frames",
        )
        keep = ("protocol", "accuracy", "accuracy_std", "scores")
        results.append(dict(features=name, **{k: out[k] for k in keep}))
    counts = np.bincount(labels)
    return dict(
        results=results,
        chance=100 * counts.max() / counts.sum(),
        genres=genres,
        n_clips=int(len(labels)),
    )


def summary(report):
    """The accuracy table of :func:`classify_file` as text.

    Examples
    --------
    >>> print(summary(dict(chance=50.0, results=[dict(features="codes",
    ...     protocol="grouped", accuracy=90.0, accuracy_std=5.0)])))
    features          protocol  accuracy
    codes             grouped   90.0 ± 5.0 %
    chance                      50.0 %
    """
    from pyunlocbox_gae.experiments.run import accuracy_lines

    entries = [
        (r["features"], r["protocol"], r["accuracy"], r["accuracy_std"])
        for r in report["results"]
    ]
    return "\n".join(accuracy_lines(entries, report["chance"]))


def _kind(path):
    """'frames' or 'features', from the file's format marker."""
    import h5py

    path = Path(path)
    if not path.exists():
        raise MissingFileError(f"{path} does not exist")
    try:
        with h5py.File(path, "r") as f:
            found = f.attrs.get("format", "")
    except OSError:
        found = ""
    if isinstance(found, bytes):
        found = found.decode()
    kind = found.removeprefix(store.FORMAT_PREFIX)
    if kind not in ("frames", "features"):
        raise InputError(
            f"{path} is neither a frames file (gae preprocess) nor a features "
            "file (gae features)"
        )
    return kind
