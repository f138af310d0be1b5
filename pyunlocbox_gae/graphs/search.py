r"""Nearest-neighbour search over the samples, kept apart from edge weighting.

The search is the expensive step of building a k-NN graph (minutes at a
million samples), the weighting is cheap (seconds). Keeping the neighbour
lists in a :class:`Neighbors` record lets :func:`~pyunlocbox_gae.graphs.
weights.weight_matrix` try other kernels, widths, self-loops or
symmetrisations without searching again, as the original study did ("run
KNN only once").

Backends
--------
``'exact'``
    scikit-learn's brute-force :class:`~sklearn.neighbors.NearestNeighbors`,
    queried in blocks of rows so the result and the distance tiles stay
    bounded in memory. Its float32 path (``ArgKmin``) is a blocked GEMM with
    a parallel heap selection, which a hand-written GEMM would only copy.
``'approximate'``
    faiss-cpu's inverted-file index with flat (exact) storage, ``IVF-Flat``,
    chosen by measurement against faiss HNSW, hnswlib and pynndescent (see
    ``docs/graphs.md``): at equal recall it was the fastest to build,
    its memory is the data plus the lists, and it is deterministic for a
    given ``random_state`` whatever the number of threads (HNSW insertion
    order depends on thread timing). Needs the ``ann`` extra.
``'auto'``
    ``'exact'`` up to :data:`AUTO_EXACT_MAX` samples, ``'approximate'`` above
    (when faiss is installed).

Every backend's distances are recomputed from the data for the pairs it
found, by direct differences (no ``|x|² + |y|² - 2 x·y`` cancellation), so
that the weights do not depend on which backend found the pairs, and
duplicate points are at distance exactly 0.

.. autosummary::
    Neighbors
    search_neighbors
    recall_at_k
"""

import dataclasses
import time
import warnings

import numpy as np

from pyunlocbox_gae.errors import InputError, MissingDependencyError
from pyunlocbox_gae.store import fingerprint

METRICS = ("euclidean", "cosine")
BACKENDS = ("auto", "exact", "approximate")

# Above this many samples 'auto' searches approximately. Measured on 2 cores
# (benchmarks/bench_graphs.py): exact 1.9 s against 2.3 s at 10k samples,
# 195 s against 41 s at 100k; exact grows as N², IVF-Flat as ~N^1.5, so they
# cross between 10k and 20k, where exact still costs seconds and has recall 1.
AUTO_EXACT_MAX = 20_000

# Query rows per block: bounds the (rows, k) results and sklearn's distance
# tiles, and lets `verbose` report progress.
QUERY_BLOCK = 16_384

# Inverted lists probed per query by the approximate backend.
NPROBE = 8


@dataclasses.dataclass(frozen=True, eq=False)
class Neighbors:
    """The k nearest neighbours of every sample, self excluded.

    Attributes
    ----------
    indices : ndarray of int, shape (n_samples, k)
        ``indices[i]`` are the neighbours of sample i, nearest first.
    distances : ndarray of float32, shape (n_samples, k)
        Their distances: euclidean, or cosine distance ``1 - cos`` of the
        centred samples.
    metric : str
        ``'euclidean'`` or ``'cosine'``.
    backend : str
        The backend that found them (``'exact'`` or ``'approximate'``).
    params : dict
        The backend's settings (e.g. ``nlist``, ``nprobe``), for the record.
    fingerprint : str or None
        :func:`pyunlocbox_gae.store.fingerprint` of the searched X, checked
        when the lists are reused with an X.

    Examples
    --------
    >>> X = np.array([[0.0], [1.0], [3.0]], dtype=np.float32)
    >>> nb = search_neighbors(X, k=1, backend="exact")
    >>> nb.indices.ravel().tolist(), nb.distances.ravel().tolist()
    ([1, 0, 1], [1.0, 1.0, 2.0])
    >>> nb.n_samples, nb.k
    (3, 1)
    """

    indices: np.ndarray
    distances: np.ndarray
    metric: str = "euclidean"
    backend: str = "exact"
    params: dict = dataclasses.field(default_factory=dict)
    fingerprint: object = None

    def __post_init__(self):
        idx, dist = np.asarray(self.indices), np.asarray(self.distances)
        if idx.ndim != 2 or idx.shape != dist.shape:
            raise InputError(
                "indices and distances must be 2-D arrays of the same shape "
                f"(n_samples, k); got {idx.shape} and {dist.shape}"
            )
        if self.metric not in METRICS:
            raise InputError(f"metric must be one of {METRICS}, got {self.metric!r}")

    @property
    def n_samples(self):
        """Number of samples (rows)."""
        return self.indices.shape[0]

    @property
    def k(self):
        """Number of neighbours per sample."""
        return self.indices.shape[1]

    def truncate(self, k):
        """The `k` nearest of the stored neighbours (views, no search).

        Examples
        --------
        >>> X = np.array([[0.0], [1.0], [3.0], [7.0]], dtype=np.float32)
        >>> search_neighbors(X, k=2).truncate(1).indices.ravel().tolist()
        [1, 0, 1, 2]
        """
        if not 1 <= k <= self.k:
            raise InputError(
                f"k={k} neighbours asked but {self.k} are stored; "
                f"search again with k >= {k}"
            )
        if k == self.k:
            return self
        return dataclasses.replace(
            self, indices=self.indices[:, :k], distances=self.distances[:, :k]
        )


def check_features(X, name="X"):
    """Validate a feature matrix: 2-D, non-empty, finite, real; no copy.

    Examples
    --------
    >>> check_features(np.ones((2, 3), np.float32)).dtype
    dtype('float32')
    >>> check_features(np.array([[1.0, np.nan]]))
    Traceback (most recent call last):
    ...
    pyunlocbox_gae.errors.InputError: X contains NaN or infinite values...
    """
    X = np.asarray(X)
    if X.ndim != 2:
        raise InputError(
            f"{name} must be 2-D (n_samples, n_features), got shape {X.shape}"
        )
    if X.shape[0] == 0 or X.shape[1] == 0:
        raise InputError(f"{name} is empty (shape {X.shape})")
    if not np.issubdtype(X.dtype, np.floating):
        if np.issubdtype(X.dtype, np.integer) or X.dtype == bool:
            X = X.astype(np.float64)
        else:
            raise InputError(f"{name} must hold real numbers, got dtype {X.dtype}")
    # A chunked check: np.isfinite(X).all() would allocate a boolean copy.
    for s in range(0, X.shape[0], QUERY_BLOCK):
        if not np.isfinite(X[s : s + QUERY_BLOCK]).all():
            raise InputError(
                f"{name} contains NaN or infinite values; remove or impute them "
                "before building a graph"
            )
    return X


def _search_space(X, metric, mean=None):
    """The array the backends search with the euclidean distance.

    For cosine, the rows centred (on `mean`, by default X's own) and scaled
    to unit norm (a float32/64 copy; the caller's X is never modified):
    there ``|a - b|² = 2 (1 - cos)``.
    """
    if metric == "euclidean":
        return X
    if mean is None:
        mean = X.mean(axis=0, dtype=np.float64)
    Xc = X - np.asarray(mean).astype(X.dtype)
    norms = np.linalg.norm(Xc, axis=1)
    zero = np.flatnonzero(norms == 0)
    if zero.size:
        raise InputError(
            f"metric='cosine' is undefined for {zero.size} sample(s) equal to the "
            f"mean of X (e.g. row {zero[0]}); use metric='euclidean'"
        )
    Xc /= norms[:, None]
    return Xc


def _report(verbose, progress, name, done, total):
    if verbose:
        print(f"[search] {name}: {done}/{total} rows", flush=True)
    if progress is not None:
        progress(done, total)


def _exact(Xs, n_neighbors, verbose, progress=None):
    from sklearn.neighbors import NearestNeighbors

    nn = NearestNeighbors(n_neighbors=n_neighbors, algorithm="brute").fit(Xs)
    N = Xs.shape[0]
    indices = np.empty((N, n_neighbors), dtype=np.int64)
    for s in range(0, N, QUERY_BLOCK):
        block = Xs[s : s + QUERY_BLOCK]
        indices[s : s + len(block)] = nn.kneighbors(block, return_distance=False)
        _report(verbose, progress, "exact", s + len(block), N)
    return indices, {}


def _import_faiss():
    try:
        import faiss
    except ImportError:
        raise MissingDependencyError(
            "backend='approximate' needs faiss-cpu: pip install "
            "'pyunlocbox-gae[ann]' (or use backend='exact')"
        ) from None
    return faiss


def _approximate(
    Xs, n_neighbors, random_state, verbose, nlist=None, nprobe=None, progress=None
):
    faiss = _import_faiss()
    N, d = Xs.shape
    X32 = np.ascontiguousarray(Xs, dtype=np.float32)  # faiss works in float32
    # ~4 sqrt(N) lists (faiss's guideline), at least 40 training points per
    # list; probing 8 reached recall@10 >= 0.99 on clustered 96-d data at
    # 100k samples (benchmarks/bench_graphs.py, docs/graphs.md).
    if nlist is None:
        nlist = int(max(1, min(4 * np.sqrt(N), N // 40)))
    nprobe = min(nlist, NPROBE if nprobe is None else nprobe)
    seed = int(np.random.default_rng(random_state).integers(2**31 - 1))
    quantizer = faiss.IndexFlatL2(d)
    index = faiss.IndexIVFFlat(quantizer, d, nlist)
    index.cp.seed = seed
    # k-means to 1e-3 precision is wasted on a coarse partition: 10
    # iterations instead of 25 cut the training time 2.5x at equal recall.
    index.cp.niter = 10
    n_train = min(N, 40 * nlist)
    train = X32
    if n_train < N:
        rows = np.sort(np.random.default_rng(seed).choice(N, n_train, replace=False))
        train = X32[rows]
    t = time.perf_counter()
    index.train(train)
    index.add(X32)
    index.nprobe = nprobe
    if verbose:
        print(
            f"[search] IVF-Flat nlist={nlist} trained and filled in "
            f"{time.perf_counter() - t:.1f} s",
            flush=True,
        )
    indices = np.empty((N, n_neighbors), dtype=np.int64)
    for s in range(0, N, QUERY_BLOCK * 4):
        block = X32[s : s + QUERY_BLOCK * 4]
        indices[s : s + len(block)] = index.search(block, n_neighbors)[1]
        _report(verbose, progress, "approximate", s + len(block), N)
    # A probed set of lists smaller than k leaves -1: search those rows exactly.
    missing = np.flatnonzero((indices < 0).any(axis=1))
    if missing.size:
        from sklearn.neighbors import NearestNeighbors

        nn = NearestNeighbors(n_neighbors=n_neighbors, algorithm="brute").fit(Xs)
        indices[missing] = nn.kneighbors(Xs[missing], return_distance=False)
    return indices, {"nlist": nlist, "nprobe": nprobe, "seed": seed}


def _pair_distances(Xs, indices, metric):
    """Distances of the pairs (i, indices[i, j]), by direct differences."""
    N, k = indices.shape
    out = np.empty((N, k), dtype=np.float32)
    rows = max(1, QUERY_BLOCK // max(1, k))
    for s in range(0, N, rows):
        idx = indices[s : s + rows]
        diff = Xs[idx] - Xs[s : s + len(idx), None, :]
        sq = np.einsum("ijk,ijk->ij", diff, diff)
        out[s : s + len(idx)] = sq / 2 if metric == "cosine" else np.sqrt(sq)
    return out


def _drop_self(indices, distances):
    """Remove each sample from its own list (or the farthest, if absent).

    A sample is normally its own nearest neighbour, but with duplicates it
    can be listed after its twins, or not at all.
    """
    N, kk = indices.shape
    is_self = indices == np.arange(N)[:, None]
    absent = ~is_self.any(axis=1)
    is_self[absent, -1] = True
    keep = ~is_self
    return indices[keep].reshape(N, kk - 1), distances[keep].reshape(N, kk - 1)


def search_neighbors(
    X,
    k=10,
    metric="euclidean",
    backend="auto",
    random_state=None,
    verbose=False,
    ann_params=None,
    progress=None,
):
    """Find the `k` nearest neighbours of every sample of X (self excluded).

    Parameters
    ----------
    X : array-like of shape (n_samples, n_features)
        The samples, held by reference (a copy is made only for
        ``metric='cosine'``, or by faiss for non-float32 data).
    k : int
        Neighbours per sample, ``1 <= k < n_samples``.
    metric : {'euclidean', 'cosine'}
        ``'cosine'`` centres the samples first (on a copy) and returns the
        cosine distance ``1 - cos``.
    backend : {'auto', 'exact', 'approximate'}
        See the module documentation.
    random_state : int, Generator or None
        Seeds the approximate backend (k-means of the inverted file); the
        result is deterministic for a fixed seed. Unused by ``'exact'``.
    verbose : bool
        Print progress.
    ann_params : dict, optional
        ``nlist`` (inverted lists, default ~4 sqrt(N)) and ``nprobe`` (lists
        searched per query, default 8) of the approximate backend: a larger
        ``nprobe`` trades time for recall.
    progress : callable, optional
        Called as ``progress(rows_done, n_samples)`` after each block of
        queries (a progress bar's update).

    Returns
    -------
    Neighbors
        Sorted nearest first, distances recomputed from the data.

    Examples
    --------
    >>> X = np.array([[0, 0], [0, 1], [5, 5], [5, 6]], dtype=np.float32)
    >>> nb = search_neighbors(X, k=1)
    >>> nb.indices.ravel().tolist()
    [1, 0, 3, 2]
    >>> nb.distances.dtype, nb.backend
    (dtype('float32'), 'exact')
    """
    X = check_features(X)
    N = X.shape[0]
    k = _check_k(k, N)
    if metric not in METRICS:
        raise InputError(f"metric must be one of {METRICS}, got {metric!r}")
    if backend not in BACKENDS:
        raise InputError(f"backend must be one of {BACKENDS}, got {backend!r}")
    if backend == "auto":
        backend = "exact" if N <= AUTO_EXACT_MAX else "approximate"
        if backend == "approximate":
            try:
                _import_faiss()
            except ImportError as err:
                warnings.warn(
                    f"{err}; searching exactly, which is slow at {N} samples",
                    stacklevel=2,
                )
                backend = "exact"
    Xs = _search_space(X, metric)
    t = time.perf_counter()
    if backend == "exact":
        indices, params = _exact(Xs, k + 1, verbose, progress)
    else:
        indices, params = _approximate(
            Xs, k + 1, random_state, verbose, progress=progress, **(ann_params or {})
        )
    distances = _pair_distances(Xs, indices, metric)
    indices, distances = _drop_self(indices, distances)
    # Recomputed distances can reorder near-ties: keep rows sorted.
    order = np.argsort(distances, axis=1, kind="stable")
    indices = np.take_along_axis(indices, order, axis=1)
    distances = np.take_along_axis(distances, order, axis=1)
    if N < 2**31:
        indices = indices.astype(np.int32)
    if verbose:
        print(
            f"[search] {N} samples, k={k}, {backend}: {time.perf_counter() - t:.1f} s",
            flush=True,
        )
    return Neighbors(indices, distances, metric, backend, params, fingerprint(X))


def _check_k(k, n_samples):
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)):
        raise InputError(f"k must be an integer, got {k!r}")
    if not 1 <= k < n_samples:
        raise InputError(
            f"k={k} neighbours need 1 <= k < n_samples = {n_samples}; "
            "lower k or give more samples"
        )
    return int(k)


def recall_at_k(neighbors, X, n_queries=1000, random_state=0):
    """Share of true k nearest neighbours found, on a sample of rows.

    A found neighbour counts when it is no farther than the true k-th
    nearest (so ties between equidistant points are not counted as misses).

    Parameters
    ----------
    neighbors : Neighbors
        The lists to check, e.g. from the approximate backend.
    X : array-like of shape (n_samples, n_features)
        The data they were searched on.
    n_queries : int
        Rows checked against an exact search.
    random_state : int or None
        Chooses the rows.

    Returns
    -------
    float
        Recall in [0, 1].

    Examples
    --------
    >>> X = np.random.default_rng(0).random((200, 5)).astype(np.float32)
    >>> recall_at_k(search_neighbors(X, k=5), X, n_queries=50)
    1.0
    """
    X = check_features(X)
    if X.shape[0] != neighbors.n_samples:
        raise InputError(
            f"the neighbours are for {neighbors.n_samples} samples but X has "
            f"{X.shape[0]}"
        )
    from sklearn.neighbors import NearestNeighbors

    rng = np.random.default_rng(random_state)
    N = X.shape[0]
    rows = np.sort(rng.choice(N, min(n_queries, N), replace=False))
    Xs = _search_space(X, neighbors.metric)
    nn = NearestNeighbors(n_neighbors=neighbors.k + 1, algorithm="brute").fit(Xs)
    true = nn.kneighbors(Xs[rows], return_distance=False)
    true_d = _pair_distances_rows(Xs, rows, true, neighbors.metric)
    true_d = np.sort(true_d, axis=1)[:, -1]  # k-th neighbour once self is dropped
    found_d = neighbors.distances[rows]
    tol = 1e-5 * np.maximum(true_d, 1e-12)
    return float((found_d <= (true_d + tol)[:, None]).mean())


def _pair_distances_rows(Xs, rows, indices, metric):
    return _distances_to(Xs, indices, Xs[rows], metric)


def _distances_to(Xs, indices, queries, metric):
    """Distances of each query to the samples it lists, by direct differences."""
    diff = Xs[indices] - queries[:, None, :]
    sq = np.einsum("ijk,ijk->ij", diff, diff)
    return sq / 2 if metric == "cosine" else np.sqrt(sq)
