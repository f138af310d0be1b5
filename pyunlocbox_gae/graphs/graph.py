r"""PyGSP graphs whose W and L keep the requested dtype, with a safe lmax.

PyGSP 0.6.1 computes the normalized Laplacian in float64 whatever W's dtype,
and its Lanczos ``lmax`` estimate (tolerance 5e-3, times 1.01) is not an
upper bound of the spectrum, which a gradient step 1/lmax needs. Here L is
computed in float64 and stored in the requested dtype, and the largest
eigenvalue comes from :func:`pyunlocbox_gae._linalg.laplacian_lmax`, a Ritz
value plus its residual, never below the true value. It is stored as
``G.lmax_exact`` (read by the estimator) and as PyGSP's cached ``G.lmax``,
together with the Laplacian it bounds: :func:`lmax_bound` recomputes it
when ``G.L`` was replaced since (``G.compute_laplacian('combinatorial')``,
for example), so no step is ever taken from a stale bound.

.. autosummary::
    laplacian
    make_graph
    as_graph
    lmax_bound
"""

import contextlib
import logging

import numpy as np
import pygsp
import scipy.sparse as sp

from pyunlocbox_gae._linalg import laplacian_lmax
from pyunlocbox_gae.errors import InputError

LAP_TYPES = ("normalized", "combinatorial")


@contextlib.contextmanager
def quiet_pygsp():
    """Silence PyGSP's loggers for a block.

    PyGSP attaches DEBUG stream handlers to its loggers and warns that "the
    Laplacian will not see" self-loops, which is false for the normalized
    Laplacian (the degrees include them); the levels are restored after.
    """
    # build_logger sets DEBUG on a logger's first use: make that happen now.
    loggers = [
        pygsp.utils.build_logger(name)
        for name in ("pygsp", "pygsp.graphs", "pygsp.graphs.graph", "pygsp.utils")
    ]
    levels = [lg.level for lg in loggers]
    for lg in loggers:
        lg.setLevel(logging.ERROR)
    try:
        yield
    finally:
        for lg, level in zip(loggers, levels, strict=True):
            lg.setLevel(level)


def _check_lap_type(lap_type):
    if lap_type not in LAP_TYPES:
        raise InputError(f"lap_type must be one of {LAP_TYPES}, got {lap_type!r}")


def laplacian(W, lap_type="normalized", dtype=np.float32):
    r"""Laplacian of a symmetric adjacency matrix, as CSR of `dtype`.

    Combinatorial :math:`L = D - W`; normalized
    :math:`L = I - D^{-1/2} W D^{-1/2}`, degrees counting self-loops (as
    PyGSP and the original study). An isolated node (degree 0) gets a zero
    row and column in both, as in PyGSP. Computed in float64.

    Examples
    --------
    >>> W = sp.csr_matrix(np.array([[1.0, 1.0], [1.0, 1.0]], np.float32))
    >>> L = laplacian(W)
    >>> L.dtype, L.toarray().tolist()
    (dtype('float32'), [[0.5, -0.5], [-0.5, 0.5]])
    """
    _check_lap_type(lap_type)
    W64 = sp.csr_matrix(W, dtype=np.float64, copy=True)
    degrees = np.asarray(W64.sum(axis=1)).ravel()
    if lap_type == "combinatorial":
        L = sp.diags(degrees, format="csr") - W64
    else:
        connected = degrees > 0
        scale = np.zeros_like(degrees)
        scale[connected] = 1 / np.sqrt(degrees[connected])
        S = sp.diags(scale) @ W64 @ sp.diags(scale)
        L = sp.diags(connected.astype(np.float64), format="csr") - S
    L = sp.csr_matrix(L, dtype=dtype)
    L.sort_indices()
    return L


def make_graph(W, lap_type="normalized", dtype=np.float32, L=None, lmax=None):
    """A :class:`pygsp.graphs.Graph` over a symmetric adjacency, L in `dtype`.

    `W` is trusted (see :func:`as_graph` for validation) and held by
    reference when it is already CSR of `dtype` without explicit zeros.
    `L` and `lmax` (its upper bound), when known (e.g. read from a file),
    are used as given instead of being computed.

    Examples
    --------
    >>> W = sp.csr_matrix(np.array([[0, 1], [1, 0]], np.float32))
    >>> G = make_graph(W)
    >>> G.W.dtype, G.L.dtype, G.lap_type
    (dtype('float32'), dtype('float32'), 'normalized')
    >>> round(G.lmax_exact, 6), G.lmax == G.lmax_exact
    (2.0, True)
    """
    _check_lap_type(lap_type)
    W = sp.csr_matrix(W, dtype=dtype)
    if W.nnz and not W.data.all():
        W = W.copy()  # PyGSP's eliminate_zeros would edit the caller's matrix
        W.eliminate_zeros()
    L = laplacian(W, lap_type, dtype) if L is None else sp.csr_matrix(L, dtype=dtype)
    with quiet_pygsp():
        # 'combinatorial' keeps PyGSP from building a float64 normalized L
        # that would be thrown away at once.
        G = pygsp.graphs.Graph(W, lap_type="combinatorial")
    G.lap_type = lap_type
    G.L = L
    _set_lmax(G, laplacian_lmax(L) if lmax is None else float(lmax))
    return G


def _set_lmax(G, lmax):
    G.lmax_exact = lmax
    G._lmax_of = G.L  # the Laplacian it bounds (a reference, no copy)
    # PyGSP's cache: G.lmax and estimate_lmax() now return the safe bound.
    G._lmax, G._lmax_method = lmax, "lanczos"


def lmax_bound(G):
    """Upper bound of the largest eigenvalue of ``G.L``, never stale.

    The stored ``G.lmax_exact`` when it was computed for the current
    ``G.L``; recomputed (and stored) when the Laplacian was replaced since,
    e.g. by PyGSP's ``G.compute_laplacian``.

    Examples
    --------
    >>> W = sp.csr_matrix(np.array([[0, 2, 0], [2, 0, 1], [0, 1, 0]], np.float64))
    >>> G = make_graph(W, dtype=np.float64)  # normalized
    >>> round(lmax_bound(G), 6)
    2.0
    >>> G.compute_laplacian("combinatorial")  # PyGSP replaces G.L
    >>> round(lmax_bound(G), 4), round(G.lmax_exact, 4)
    (4.7321, 4.7321)
    """
    lmax = getattr(G, "lmax_exact", None)
    if lmax is None or getattr(G, "_lmax_of", None) is not G.L:
        lmax = laplacian_lmax(sp.csr_matrix(G.L))
        _set_lmax(G, lmax)
    return lmax


def check_adjacency(graph, n_nodes=None, dtype=None, symmetric=True):
    """A graph's weighted adjacency matrix, validated, as CSR.

    The one check of every graph the package is given: the auto-encoder's
    graph (symmetric), and the graphs of random walks and embeddings (which
    may be directed).

    Parameters
    ----------
    graph : pygsp.graphs.Graph, scipy sparse matrix or array, shape (n, n)
        A PyGSP graph (its ``W`` is used) or an adjacency matrix; entry
        ``(i, j)`` is the weight of the edge from i to j.
    n_nodes : int, optional
        Number of vertices expected (the samples of the data it goes with).
    dtype : float dtype, optional
        Of the result; by default float32 and float64 are kept and anything
        else becomes float64.
    symmetric : bool
        Refuse a directed graph (W not symmetric).

    Returns
    -------
    scipy.sparse.csr_matrix
        The adjacency itself when it is already CSR of that dtype (no copy).

    Raises
    ------
    pyunlocbox_gae.errors.InputError
        If the matrix is not 2-D and square, has another number of vertices
        than `n_nodes`, NaN, infinite or negative weights, or (with
        `symmetric`) is not symmetric; the message says how to fix it.

    Examples
    --------
    >>> import scipy.sparse as sp
    >>> A = sp.csr_matrix(np.array([[0, 2.0], [2.0, 0]], dtype=np.float32))
    >>> check_adjacency(A) is A
    True
    >>> check_adjacency(np.array([[0, -1], [-1, 0]]))
    Traceback (most recent call last):
    ...
    pyunlocbox_gae.errors.InputError: the graph has 2 negative weight(s)...
    """
    W = getattr(graph, "W", graph)
    if not sp.issparse(W):
        W = np.asarray(W)
        if not np.issubdtype(W.dtype, np.number):
            raise InputError(
                "the graph must be a pygsp.graphs.Graph or an adjacency matrix "
                f"(scipy sparse or array), got {type(graph).__name__}"
            )
    if W.ndim != 2 or W.shape[0] != W.shape[1]:
        raise InputError(
            "the graph's adjacency must be a square (n_nodes, n_nodes) matrix, "
            f"got shape {W.shape}"
        )
    if n_nodes is not None and W.shape[0] != n_nodes:
        raise InputError(
            f"the graph has {W.shape[0]} vertices but X has {n_nodes} samples; "
            "build the graph over the same samples"
        )
    if dtype is None:
        dtype = W.dtype if W.dtype in (np.float32, np.float64) else np.float64
    if sp.issparse(W) and W.format == "csr" and W.dtype == dtype:
        A = W if isinstance(W, sp.csr_matrix) else sp.csr_matrix(W)
    else:
        A = sp.csr_matrix(W, dtype=dtype)
    _check_weights(A.data)
    if symmetric:
        _check_symmetric(A)
    return A


def _check_weights(values):
    bad = ~np.isfinite(values)
    if bad.any():
        raise InputError(
            f"the graph's weights contain {int(bad.sum())} NaN or infinite "
            "value(s); fix or drop those edges"
        )
    negative = values < 0
    if negative.any():
        raise InputError(
            f"the graph has {int(negative.sum())} negative weight(s) (smallest "
            f"{float(values.min())}); a Laplacian or a random walk needs "
            "non-negative weights"
        )


def _check_symmetric(A):
    asym = abs(A - A.T)
    worst = asym.max() if asym.nnz else 0.0
    scale = A.data.max() if A.data.size else 0.0
    if worst > 1e-6 * scale:
        raise InputError(
            f"the graph is directed: W is not symmetric (max |W - Wᵀ| = {worst:g}); "
            "symmetrise it first, e.g. W.maximum(W.T)"
        )


def as_graph(graph, n_samples=None, lap_type="normalized", dtype=np.float32):
    """Check a graph given by the user and return it as :func:`make_graph` does.

    Parameters
    ----------
    graph : pygsp.graphs.Graph, sparse matrix or array
        A graph, or its weighted adjacency matrix (symmetric, non-negative,
        finite). A PyGSP graph keeps its own Laplacian type
        (``graph.lap_type``); one made by this package with the requested
        `dtype` is returned as is, its ``lmax_exact`` recomputed if its
        Laplacian changed since (:func:`lmax_bound`).
    n_samples : int, optional
        Number of vertices expected (samples of the data it is used with).
    lap_type : {'normalized', 'combinatorial'}
        Laplacian of a graph given as an adjacency matrix.
    dtype : dtype
        Of W and L.

    Returns
    -------
    pygsp.graphs.Graph
        With ``lmax_exact`` set for its current Laplacian.

    Examples
    --------
    >>> G = as_graph(np.array([[0.0, 2.0], [2.0, 0.0]]), n_samples=2,
    ...              lap_type="combinatorial", dtype=np.float64)
    >>> G.L.toarray().tolist(), round(G.lmax_exact, 6)
    ([[2.0, -2.0], [-2.0, 2.0]], 4.0)
    >>> as_graph(np.ones((2, 2)), n_samples=3)
    Traceback (most recent call last):
    ...
    pyunlocbox_gae.errors.InputError: the graph has 2 vertices but X has 3 samples; ...
    """
    _check_lap_type(lap_type)
    dtype = np.dtype(dtype)
    if isinstance(graph, pygsp.graphs.Graph):
        lap_type = graph.lap_type  # the graph's own Laplacian, as given
        _check_lap_type(lap_type)
        if (
            getattr(graph, "lmax_exact", None) is not None
            and graph.L.dtype == dtype
            and graph.W.dtype == dtype
            and (n_samples is None or graph.N == n_samples)
        ):
            lmax_bound(graph)
            return graph
        graph = graph.W
    W = check_adjacency(graph, n_nodes=n_samples)
    return make_graph(W, lap_type, dtype)
