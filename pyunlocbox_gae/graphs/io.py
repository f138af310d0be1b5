r"""Graph and neighbour-list files (HDF5), checked against the data on load.

A graph file (kind ``"graph"``, written atomically by
:func:`pyunlocbox_gae.store.write_h5`) holds:

* ``W/data``, ``W/indices``, ``W/indptr`` and ``L/...``: CSR parts (float32
  by default), and the root attributes ``n_samples``, ``lap_type``,
  ``lmax_exact``, every parameter of :func:`~pyunlocbox_gae.graphs.knn_graph`
  (``k``, ``metric``, ``kernel``, ``sigma``, ``sigma_used``, ...) and
  ``fingerprint``, the :func:`~pyunlocbox_gae.store.fingerprint` of X;
* ``neighbors/indices`` and ``neighbors/distances`` when known, so that a
  stored graph can be re-weighted without searching again.

A neighbours-only file is a graph file without ``W`` and ``L``.

.. autosummary::
    save_graph
    load_graph
    save_neighbors
    load_neighbors
"""

import numpy as np
import scipy.sparse as sp

from pyunlocbox_gae import store
from pyunlocbox_gae.errors import FileFormatError, InputError
from pyunlocbox_gae.graphs.graph import (
    check_adjacency,
    laplacian,
    lmax_bound,
    make_graph,
)
from pyunlocbox_gae.graphs.search import Neighbors, check_features

KIND = "graph"


def _fingerprint_of(X, neighbors):
    if X is not None:
        return store.fingerprint(check_features(X))
    if neighbors is not None and neighbors.fingerprint is not None:
        return neighbors.fingerprint
    return None


def _write_csr(group, M):
    M = sp.csr_matrix(M)
    group.create_dataset("data", data=M.data)
    group.create_dataset("indices", data=M.indices)
    group.create_dataset("indptr", data=M.indptr)
    group.attrs["shape"] = M.shape


def _read_csr(group, n, source):
    """A CSR matrix (n, n) of a graph file, checked before it is used."""
    source = f"{source}:{group.name}"
    M = store.csr_from_parts(
        group["data"][()],
        group["indices"][()],
        group["indptr"][()],
        group.attrs["shape"],
        source,
    )
    if M.shape != (n, n):
        raise FileFormatError(f"{source} has shape {M.shape}, expected ({n}, {n})")
    return M


def _check_loaded(W, L, lmax, lap_type, path):
    """W a valid graph, L its Laplacian and lmax a true bound of L's spectrum.

    The stored bound sets the solvers' step sizes: one below the largest
    eigenvalue makes them diverge. It must lie between the Rayleigh quotient
    of a few power iterations (a lower bound of that eigenvalue) and the
    Gershgorin bound.
    """
    try:
        check_adjacency(W)
    except InputError as err:
        raise FileFormatError(f"{path}: {err}") from None
    expected = laplacian(W, lap_type, L.dtype)
    gap = abs(L - expected)
    scale = max(1.0, float(abs(expected).max()) if expected.nnz else 1.0)
    finite = np.isfinite(L.data).all()
    if not finite or (gap.nnz and float(gap.max()) > 1e-4 * scale):
        raise FileFormatError(
            f"{path}: the stored Laplacian L is not the {lap_type} Laplacian of "
            "the stored W; the file is damaged: build the graph again"
        )
    lmax = float(lmax)
    rng = np.random.default_rng(0)
    x = rng.standard_normal(L.shape[0])
    quotient = 0.0
    for _ in range(30):
        y = L @ x
        norm = np.linalg.norm(y)
        if norm == 0:
            break
        quotient = float(x @ y) / float(x @ x)
        x = y / norm
    gershgorin = float(abs(L).sum(axis=1).max()) if L.nnz else 0.0
    if (
        not np.isfinite(lmax)
        or lmax < quotient * (1 - 1e-3)
        or (lmax > gershgorin * (1 + 1e-3) + 1e-6)
    ):
        raise FileFormatError(
            f"{path}: the stored bound lmax_exact = {lmax:g} is not a bound of "
            f"the Laplacian's spectrum (a bound lies between {quotient:.4g} and "
            f"{gershgorin:.4g}); the file is damaged: build the graph again"
        )


def _write_neighbors(f, nb):
    g = f.create_group("neighbors")
    g.create_dataset("indices", data=nb.indices)
    g.create_dataset("distances", data=nb.distances)
    g.attrs["metric"] = nb.metric
    g.attrs["backend"] = nb.backend
    for key, value in nb.params.items():
        g.attrs[f"param_{key}"] = value


def _attr(value):
    if isinstance(value, bytes):
        value = value.decode()
    if isinstance(value, str):
        return None if value == "None" else value
    if isinstance(value, np.generic):
        return value.item()
    return value


def save_graph(path, G, X=None, **attrs):
    """Write a graph (and its neighbour lists, if any) to an HDF5 file.

    Parameters
    ----------
    path : str or Path
        Output file; written atomically (nothing under this name on error).
    G : pygsp.graphs.Graph
        A graph from :func:`knn_graph` or :func:`as_graph`.
    X : array-like, optional
        The data the graph is over; its fingerprint is stored (by default,
        the one recorded when the neighbours were searched).
    **attrs
        Further HDF5 attributes to store with the graph (e.g. a caller's
        record of how it was built).

    Examples
    --------
    >>> import tempfile, pathlib
    >>> from pyunlocbox_gae.graphs import knn_graph
    >>> X = np.random.default_rng(0).random((30, 3)).astype(np.float32)
    >>> G = knn_graph(X, k=4)
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "graph.h5"
    >>> save_graph(path, G)
    >>> G2 = load_graph(path, X=X)
    >>> bool((G2.W != G.W).nnz == 0), G2.L.dtype, G2.graph_params["k"]
    (True, dtype('float32'), 4)
    """
    if getattr(G, "lmax_exact", None) is None:
        raise InputError(
            "G has no lmax_exact: pass it through pyunlocbox_gae.graphs.as_graph first"
        )
    lmax = lmax_bound(G)  # recomputed if G.L changed since
    nb = getattr(G, "neighbors", None)
    if X is not None and check_features(X).shape[0] != G.N:
        raise InputError(f"the graph has {G.N} vertices but X has {len(X)} samples")
    params = dict(getattr(G, "graph_params", {}) or {})
    params.update(
        n_samples=G.N,
        lap_type=G.lap_type,
        lmax_exact=float(lmax),
        fingerprint=_fingerprint_of(X, nb),
        has_weights=True,
    )
    with store.write_h5(path, KIND, **attrs, **params) as f:
        _write_csr(f.create_group("W"), G.W)
        _write_csr(f.create_group("L"), G.L)
        if nb is not None:
            _write_neighbors(f, nb)


def save_neighbors(path, neighbors, X=None):
    """Write neighbour lists alone (a graph file without W and L).

    Examples
    --------
    >>> import tempfile, pathlib
    >>> from pyunlocbox_gae.graphs import search_neighbors
    >>> X = np.random.default_rng(0).random((30, 3)).astype(np.float32)
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "nb.h5"
    >>> save_neighbors(path, search_neighbors(X, k=3))
    >>> load_neighbors(path, X=X).indices.shape
    (30, 3)
    """
    if not isinstance(neighbors, Neighbors):
        raise InputError(
            f"neighbors must be a Neighbors record, got {type(neighbors).__name__}"
        )
    if X is not None and check_features(X).shape[0] != neighbors.n_samples:
        raise InputError(
            f"the neighbours are for {neighbors.n_samples} samples but X has {len(X)}"
        )
    with store.write_h5(
        path,
        KIND,
        n_samples=neighbors.n_samples,
        k=neighbors.k,
        metric=neighbors.metric,
        backend=neighbors.backend,
        fingerprint=_fingerprint_of(X, neighbors),
        has_weights=False,
    ) as f:
        _write_neighbors(f, neighbors)


def _check_against(f, path, X, n_samples):
    stored_n = int(f.attrs["n_samples"])
    if X is not None:
        X = check_features(X)
        n_samples = X.shape[0]
    if n_samples is not None and n_samples != stored_n:
        raise InputError(
            f"{path} is a graph over {stored_n} samples but the data has "
            f"{n_samples}; build a graph for this data (gae graph build)"
        )
    stored_fp = _attr(f.attrs.get("fingerprint"))
    if X is not None and stored_fp is not None:
        if store.fingerprint(X) != stored_fp:
            raise InputError(
                f"{path} was built from other data than X (same number of samples, "
                f"different values, dtype or features: fingerprint mismatch); "
                "rebuild the graph for this X"
            )


def _read_neighbors(f, path):
    if "neighbors" not in f:
        raise InputError(
            f"{path} holds no neighbour lists (the graph was not built by "
            "knn_graph); build it again to re-weight"
        )
    g = f["neighbors"]
    params = {
        key[len("param_") :]: _attr(value)
        for key, value in g.attrs.items()
        if key.startswith("param_")
    }
    indices, distances = g["indices"][()], g["distances"][()]
    n = int(f.attrs["n_samples"])
    bad = indices.ndim != 2 or indices.shape[0] != n or indices.dtype.kind not in "iu"
    if not bad and indices.size:
        bad = indices.min() < 0 or indices.max() >= n
    if not bad and distances.size:
        bad = distances.dtype.kind != "f" or not (
            np.isfinite(distances).all() and distances.min() >= 0
        )
    if bad or distances.shape != indices.shape:
        raise FileFormatError(
            f"{path}: the neighbour lists are not (n_samples, k) indices of the "
            f"{n} samples with finite distances >= 0 of the same shape; the file "
            "is damaged: build the graph again"
        )
    return Neighbors(
        indices,
        distances,
        _attr(g.attrs["metric"]),
        _attr(g.attrs["backend"]),
        params,
        _attr(f.attrs.get("fingerprint")),
    )


def load_neighbors(path, X=None, n_samples=None):
    """Read the neighbour lists of a graph or neighbours file.

    Parameters
    ----------
    path : str or Path
    X : array-like, optional
        Data to check the file against (number of samples and fingerprint).
    n_samples : int, optional
        Number of samples to check, when X is not at hand.

    Returns
    -------
    Neighbors

    Examples
    --------
    See :func:`save_neighbors`.
    """
    with store.open_h5(path, KIND) as f:
        _check_against(f, path, X, n_samples)
        return _read_neighbors(f, path)


def load_graph(path, X=None, n_samples=None, dtype=None):
    """Read a graph written by :func:`save_graph`, checked against the data.

    Parameters
    ----------
    path : str or Path
    X : array-like, optional
        Data the graph must be over: the number of samples and the
        fingerprint must match, or a ValueError says what differs.
    n_samples : int, optional
        Number of vertices expected, when X is not at hand.
    dtype : dtype, optional
        Of W and L (default: as stored).

    Returns
    -------
    pygsp.graphs.Graph
        With ``lmax_exact``, ``graph_params`` and, when stored, ``neighbors``.

    Examples
    --------
    See :func:`save_graph`.
    """
    with store.open_h5(path, KIND) as f:
        _check_against(f, path, X, n_samples)
        if not bool(f.attrs.get("has_weights", True)):
            raise InputError(
                f"{path} holds only neighbour lists; build the graph with "
                "knn_graph(X, neighbors=load_neighbors(path))"
            )
        n = int(f.attrs["n_samples"])
        W = _read_csr(f["W"], n, path)
        L = _read_csr(f["L"], n, path)
        params = {key: _attr(value) for key, value in f.attrs.items()}
        nb = _read_neighbors(f, path) if "neighbors" in f else None
    lap_type = params["lap_type"]
    if lap_type not in ("normalized", "combinatorial"):
        raise FileFormatError(f"{path}: unknown lap_type {lap_type!r}")
    _check_loaded(W, L, params["lmax_exact"], lap_type, path)
    dtype = W.dtype if dtype is None else np.dtype(dtype)
    if dtype == L.dtype:
        # The stored L and its bound are reused: no Laplacian or eigensolve.
        G = make_graph(W, lap_type, dtype, L=L, lmax=params["lmax_exact"])
    else:
        G = make_graph(W, lap_type, dtype)
    for key in ("format", "format_version", "has_weights", "lmax_exact"):
        params.pop(key, None)
    G.graph_params = params
    if nb is not None:
        G.neighbors = nb
    return G
