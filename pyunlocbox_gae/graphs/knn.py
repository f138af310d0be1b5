r"""The k-NN graph builder: search, weight, wrap in a PyGSP graph.

.. autosummary::
    knn_graph
    NeighborIndex
"""

import time

import numpy as np

from pyunlocbox_gae.errors import InputError
from pyunlocbox_gae.graphs.graph import LAP_TYPES, make_graph
from pyunlocbox_gae.graphs.search import (
    METRICS,
    QUERY_BLOCK,
    Neighbors,
    _check_k,
    _distances_to,
    _search_space,
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
    progress=None,
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
    progress : callable, optional
        Called as ``progress(rows_done, n_samples)`` during the neighbour
        search (:func:`~pyunlocbox_gae.graphs.search.search_neighbors`).

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
            progress=progress,
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


class NeighborIndex:
    """The samples of a training set, searchable for the neighbours of others.

    The out-of-sample side of :func:`search_neighbors`: the k nearest
    training samples of new samples, with the same metric (cosine centres
    new samples on the *training* mean) and distances recomputed by direct
    differences, so that a new sample equal to a training sample is at
    distance exactly 0 from it. The search is exact (scikit-learn's
    brute-force :class:`~sklearn.neighbors.NearestNeighbors`, in blocks of
    rows): it costs (new samples) × (training samples) distances, small
    next to the all-pairs search of the training graph.

    Parameters
    ----------
    X : array-like of shape (n_samples, n_features)
        Training samples, held by reference for ``metric='euclidean'``.
    metric : {'euclidean', 'cosine'}

    Attributes
    ----------
    samples : ndarray
        The training samples as searched: X itself (euclidean), or its rows
        centred on `mean` and scaled to unit norm (cosine).

    Examples
    --------
    >>> X = np.array([[0.0], [1.0], [3.0]], dtype=np.float32)
    >>> idx, dist = NeighborIndex(X).query(np.array([[0.9], [3.0]]), 2)
    >>> idx.tolist(), np.round(dist, 4).tolist()
    ([[1, 0], [2, 1]], [[0.1, 0.9], [0.0, 2.0]])
    """

    def __init__(self, X, metric="euclidean"):
        from sklearn.neighbors import NearestNeighbors

        X = check_features(X)
        if metric not in METRICS:
            raise InputError(f"metric must be one of {METRICS}, got {metric!r}")
        self.metric = metric
        self.mean = X.mean(axis=0, dtype=np.float64) if metric == "cosine" else None
        self.samples = _search_space(X, metric, self.mean)
        self._nn = NearestNeighbors(algorithm="brute").fit(self.samples)

    @classmethod
    def from_search_space(cls, samples, metric, mean=None):
        """An index over samples already in search space (see :attr:`samples`)."""
        from sklearn.neighbors import NearestNeighbors

        index = cls.__new__(cls)
        index.metric, index.mean, index.samples = metric, mean, samples
        index._nn = NearestNeighbors(algorithm="brute").fit(samples)
        return index

    @property
    def n_samples(self):
        """Number of training samples."""
        return self.samples.shape[0]

    def _queries(self, X):
        """New samples checked and mapped to the search space."""
        X = check_features(X)
        if X.shape[1] != self.samples.shape[1]:
            raise InputError(
                f"X has {X.shape[1]} features but the index was built on "
                f"{self.samples.shape[1]}"
            )
        return _search_space(
            X.astype(self.samples.dtype, copy=False), self.metric, self.mean
        )

    def query(self, X, k):
        """Indices (int64) and distances (float32) of the `k` nearest, sorted.

        Raises
        ------
        InputError
            If X is not a finite 2-D array with the training features, or
            k is not in [1, n_samples].
        """
        Xs = self._queries(X)
        if not 1 <= k <= self.n_samples:
            raise InputError(
                f"k={k} neighbours asked of {self.n_samples} training samples"
            )
        indices = np.empty((Xs.shape[0], k), dtype=np.int64)
        distances = np.empty((Xs.shape[0], k), dtype=np.float32)
        rows = max(1, QUERY_BLOCK // max(1, k))
        for s in range(0, Xs.shape[0], rows):
            block = Xs[s : s + rows]
            idx = self._nn.kneighbors(block, k, return_distance=False)
            dist = _distances_to(self.samples, idx, block, self.metric)
            order = np.argsort(dist, axis=1, kind="stable")
            indices[s : s + len(block)] = np.take_along_axis(idx, order, axis=1)
            distances[s : s + len(block)] = np.take_along_axis(dist, order, axis=1)
        return indices, distances

    def within(self, X, radii):
        """Pairs (i, j) with new sample i within ``radii[j]`` of training sample j.

        With ``radii[j]`` the distance of training sample j to its k-th
        neighbour, these are the training samples that would count the new
        sample among their k nearest: the other end of a k-NN edge.

        Returns
        -------
        rows, cols : ndarray of int64
        distances : ndarray of float32

        Examples
        --------
        >>> X = np.array([[0.0], [1.0], [3.0]], dtype=np.float32)
        >>> rows, cols, d = NeighborIndex(X).within([[2.2]], [1.0, 1.0, 2.0])
        >>> cols.tolist(), np.round(d, 4).tolist()
        ([2], [0.8])
        """
        from sklearn.metrics.pairwise import euclidean_distances

        Xs = self._queries(X)
        radii = np.asarray(radii, dtype=np.float64)
        # Candidates from |a - b|² (GEMM, rounding-prone) with slack; then
        # the exact test on distances by direct differences.
        sq = radii**2 if self.metric == "euclidean" else 2 * radii
        sq = sq * (1 + 1e-3) + 1e-6 * (sq.max(initial=0) + 1)
        out = ([], [], [])
        step = max(1, 2**22 // max(1, self.n_samples))
        for s in range(0, Xs.shape[0], step):
            block = Xs[s : s + step]
            near = euclidean_distances(block, self.samples, squared=True) <= sq
            r, c = np.nonzero(near)
            d = _distances_to(self.samples, c[:, None], block[r], self.metric)[:, 0]
            keep = d <= radii[c]
            for part, values in zip(out, (r[keep] + s, c[keep], d[keep]), strict=True):
                part.append(values)
        rows, cols, dist = (np.concatenate(p) if p else np.empty(0) for p in out)
        return rows.astype(np.int64), cols.astype(np.int64), dist.astype(np.float32)
