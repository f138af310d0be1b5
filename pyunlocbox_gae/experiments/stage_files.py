r"""The stage commands on files: ``gae features`` and ``gae classify``.

Each runs one stage of the audio pipeline (:mod:`.pipeline`) on files
written by the previous one: codes of every frame of a frames file, or the
accuracy table of a features file (or of a frames file, the CQT baseline).

.. autosummary::
    features_file
    classify_file
"""

import json
from pathlib import Path

import numpy as np

from pyunlocbox_gae import store
from pyunlocbox_gae.errors import InputError, MissingFileError
from pyunlocbox_gae.experiments.config import load_config
from pyunlocbox_gae.experiments.pipeline import (
    _short,
    classify,
    compute_features,
    prepare_input,
)
from pyunlocbox_gae.model.objective import needs_graph


def features_file(frames, output, input=None, autoencoder=None, graph=None, log=print):
    """Stage `features` on files: codes of every frame of a frames file.

    Parameters
    ----------
    frames, output : str or Path
        Frames file (``gae preprocess``) and features file to write.
    input, autoencoder : dict, optional
        ``[input]`` and ``[autoencoder]`` tables (defaults for missing keys).
    graph : str, Path or dict, optional
        With ``lg > 0``: a graph file (``gae graph build`` over the same
        input) or :func:`pyunlocbox_gae.graphs.knn_graph` parameters.

    Returns
    -------
    dict
        ``output``, ``cached``, ``nnz`` (fraction of non-zero codes), ``n_frames``.
    """
    cfg = load_config(dict(input=input or {}, autoencoder=autoencoder or {}))
    X, info = prepare_input(frames, **cfg["input"])
    G, key = None, info["key"]
    if needs_graph(cfg["autoencoder"]):
        from pyunlocbox_gae import graphs

        if isinstance(graph, (str, Path)):
            G = graphs.load_graph(graph, X=X)
            key = store.settings_key(key, str(graph), Path(graph).stat().st_mtime_ns)
        else:
            params = dict(graph or {})
            G = graphs.knn_graph(X, **params)
            key = store.settings_key(key, params)
    Z, cached = compute_features(X, info, output, cfg["autoencoder"], G, key, log)
    return dict(
        output=str(output),
        cached=cached,
        nnz=float(np.count_nonzero(Z) / max(Z.size, 1)),
        n_frames=int(Z.shape[0]),
    )


def classify_file(path, classification_=None, input=None, baseline_scaling=None):
    """Stage `classify` on a file: a features file (codes) or a frames file (CQT).

    A frames file is classified as the spectrogram baseline, after the
    ``[input]`` preparation, with ``baseline_scaling``.

    Returns
    -------
    dict
        ``results``, ``chance``, ``genres``, ``n_clips``.
    """
    cfg = load_config(dict(classification=classification_ or {}, input=input or {}))
    cls = cfg["classification"]
    with store.open_h5(path, _kind(path)) as f:
        kind = _kind(path)
        if kind == "features":
            rows = f["codes"][...]
            labels = f["labels"][...]
            genres = json.loads(f.attrs["genres"])
            n_rows = int(f.attrs["n_rows"])
    if kind == "frames":
        rows, info = prepare_input(path, **cfg["input"])
        labels, genres, n_rows = info["labels"], info["genres"], info["n_rows"]
        scaling = baseline_scaling or cls["baseline_scaling"]
        results = classify(rows, labels, n_rows, cls, scaling, "cqt (baseline)")
    else:
        results = classify(rows, labels, n_rows, cls)
    return dict(
        results=[_short(r) for r in results],
        chance=1 / len(genres),
        genres=genres,
        n_clips=int(len(labels)),
    )


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
