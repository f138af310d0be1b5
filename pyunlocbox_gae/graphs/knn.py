r"""The k-NN graph builder: search, weight, wrap in a PyGSP graph.

.. autosummary::
    knn_graph
"""

import time

import numpy as np

from pyunlocbox_gae.errors import InputError
from pyunlocbox_gae.graphs.graph import LAP_TYPES, make_graph
from pyunlocbox_gae.graphs.search import (
    METRICS,
    Neighbors,
    _check_k,
    check_features,
    search_neighbors,
)
from pyunlocbox_gae.graphs.weights import KERNELS, SYMMETRIZE, weight_matrix
from pyunlocbox_gae.store import fingerprint


def knn_graph(
    X,
    k=10,
    metric="euclidean",
    kernel="exp",
    sigma=None,
    self_loops=True,
    symmetrize="max",
    lap_type="normalized",
    backend="auto",
    dtype=np.float32,
    random_state=None,
    neighbors=None,
    verbose=False,
):
    r"""k-nearest-neighbour graph over the samples (rows) of X.

    The defaults reproduce the original study's graph: 10 neighbours plus
    self, euclidean distance, weights :math:`\exp(-d/\sigma)` with
    :math:`\sigma` the mean distance to the 10th neighbour, self-loops of
    weight 1, :math:`\max(W, W^\top)`, normalized Laplacian, float32.

    Parameters
    ----------
    X : array-like of shape (n_samples, n_features)
        Samples, finite; never modified (held by reference, copied only for
        ``metric='cosine'``). May be None when `neighbors` is given.
    k : int
        Neighbours per sample besides itself, ``1 <= k < n_samples``.
    metric : {'euclidean', 'cosine'}
        ``'cosine'`` centres the samples first; distance ``1 - cos``.
    kernel : {'exp', 'gaussian'}
        ``'exp'`` (default, the study's code) :math:`\exp(-d/\sigma)`, or
        ``'gaussian'`` :math:`\exp(-d^2/\sigma^2)`; see
        :func:`~pyunlocbox_gae.graphs.weight_matrix` for why ``'exp'``.
    sigma : float, optional
        Kernel width; default: mean distance to the k-th neighbour.
    self_loops : bool
        Weight 1 on the diagonal (counted in the degrees).
    symmetrize : {'max', 'mean'}
        How a one-sided neighbour relation becomes an undirected edge.
    lap_type : {'normalized', 'combinatorial'}
        Laplacian stored as ``G.L``.
    backend : {'auto', 'exact', 'approximate'}
        Neighbour search, see :mod:`pyunlocbox_gae.graphs.search`.
    dtype : dtype
        Of W and L; pass X's dtype to keep float32 end to end.
    random_state : int or None
        Seed of the approximate search (deterministic for a fixed seed).
    neighbors : Neighbors, optional
        Neighbour lists already searched (e.g. from :func:`load_neighbors` or
        ``G.neighbors`` of an earlier graph): re-weighted without searching.
        Their first `k` columns are used, so a smaller k needs no new search.
    verbose : bool
        Print progress and timings.

    Returns
    -------
    pygsp.graphs.Graph
        ``G.W`` and ``G.L`` are CSR of `dtype`; ``G.lmax_exact`` (=
        ``G.lmax``) bounds L's largest eigenvalue from above; ``G.neighbors``
        holds the lists and ``G.graph_params`` every parameter.

    Raises
    ------
    ValueError
        X not 2-D, empty or not finite; k out of range; an unknown option;
        `neighbors` for another number of samples, fewer than k neighbours
        or another metric; sigma = 0 (every sample has k duplicates).

    Notes
    -----
    Duplicate samples are at distance 0, hence weight 1. An isolated vertex
    (possible only without self-loops, when all its weights underflow to 0)
    gets a zero row in L, as in PyGSP.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> X = rng.standard_normal((100, 8)).astype(np.float32)
    >>> G = knn_graph(X, k=5)
    >>> G.N, G.W.dtype, G.L.dtype, G.lap_type
    (100, dtype('float32'), dtype('float32'), 'normalized')
    >>> bool(abs(G.W - G.W.T).max() == 0), G.lmax_exact <= 2 + 1e-6
    (True, True)
    >>> G2 = knn_graph(X, k=5, kernel="gaussian", neighbors=G.neighbors)
    >>> G2.W.nnz == G.W.nnz
    True
    """
    _check_options(metric, kernel, symmetrize, lap_type)
    t = time.perf_counter()
    if neighbors is None:
        if X is None:
            raise InputError("give X, or neighbors= lists searched before")
        neighbors = search_neighbors(
            X,
            k=k,
            metric=metric,
            backend=backend,
            random_state=random_state,
            verbose=verbose,
        )
    else:
        neighbors = _reuse(neighbors, X, k, metric)
    W = weight_matrix(
        neighbors,
        kernel=kernel,
        sigma=sigma,
        self_loops=self_loops,
        symmetrize=symmetrize,
        dtype=dtype,
    )
    if verbose:
        print(f"[knn_graph] weights: {time.perf_counter() - t:.1f} s", flush=True)
    G = make_graph(W, lap_type=lap_type, dtype=dtype)
    G.neighbors = neighbors
    G.graph_params = dict(
        k=neighbors.k,
        metric=neighbors.metric,
        kernel=kernel,
        sigma=float(sigma) if sigma is not None else None,
        sigma_used=_sigma_used(neighbors, sigma),
        self_loops=bool(self_loops),
        symmetrize=symmetrize,
        lap_type=lap_type,
        backend=neighbors.backend,
        dtype=np.dtype(dtype).name,
        random_state=random_state if isinstance(random_state, int) else None,
    )
    if verbose:
        print(
            f"[knn_graph] {G.N} vertices, {G.W.nnz} non-zeros, "
            f"lmax <= {G.lmax_exact:.4f}, {time.perf_counter() - t:.1f} s",
            flush=True,
        )
    return G


def _sigma_used(neighbors, sigma):
    from pyunlocbox_gae.graphs.weights import default_sigma

    return float(sigma) if sigma is not None else default_sigma(neighbors)


def _check_options(metric, kernel, symmetrize, lap_type):
    for name, value, allowed in (
        ("metric", metric, METRICS),
        ("kernel", kernel, KERNELS),
        ("symmetrize", symmetrize, SYMMETRIZE),
        ("lap_type", lap_type, LAP_TYPES),
    ):
        if value not in allowed:
            raise InputError(f"{name} must be one of {allowed}, got {value!r}")


def _reuse(neighbors, X, k, metric):
    """Stored lists, checked against X and the request, cut to k columns."""
    if not isinstance(neighbors, Neighbors):
        raise InputError(
            f"neighbors must be a Neighbors record, got {type(neighbors).__name__}"
        )
    if X is not None:
        X = check_features(X)
        if X.shape[0] != neighbors.n_samples:
            raise InputError(
                f"the stored neighbours are for {neighbors.n_samples} samples but "
                f"X has {X.shape[0]}; search again for this X"
            )
        if neighbors.fingerprint is not None and fingerprint(X) != (
            neighbors.fingerprint
        ):
            raise InputError(
                "X differs from the data the stored neighbours were searched on "
                f"(shape {X.shape}, dtype {X.dtype}: fingerprint mismatch); "
                "search again for this X"
            )
    _check_k(k, neighbors.n_samples)
    if metric != neighbors.metric:
        raise InputError(
            f"the stored neighbours were searched with metric="
            f"{neighbors.metric!r}, not {metric!r}; search again"
        )
    return neighbors.truncate(k)
