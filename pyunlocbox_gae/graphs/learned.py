r"""A graph learned from smooth signals (Kalofolias 2016, log-degree model).

Rather than fixing weights by a kernel of distances, :func:`learned_graph`
solves for the weights that make the samples smooth on the graph, with a
logarithmic barrier on the degrees that keeps every vertex connected and
a Frobenius term that spreads the weights:

.. math::
    \min_{w \ge 0} \; 2\theta\, w^\top z - \mathbf{1}^\top \log(S w)
    + \|w\|_2^2,

w the weights of the candidate edges, :math:`z_e = \|x_i - x_j\|^2` their
squared distances, S the vertex–edge incidence (``(S w)_i`` is the degree
of vertex i). This is Kalofolias (2016), "How to learn a graph from smooth
signals", with the parametrisation α = β = 1 and the distances scaled by θ
of Kalofolias & Perraudin (2019), "Large scale graph learning from smooth
signals": θ sets the sparsity, chosen from the distances for about `k`
neighbours per vertex (:func:`theta_for_degree`). Candidate edges are the
approximate k-NN lists of :func:`~pyunlocbox_gae.graphs.search_neighbors`
(``n_candidates`` per vertex), so the problem has O(N k) unknowns instead
of N². It is solved by PyUNLocBoX's primal-dual
:class:`pyunlocbox.solvers.mlfbf` with the terms below as PyUNLocBoX
functions, in the style of :mod:`pyunlocbox_gae.functions`.

.. autosummary::
    learned_graph
    learn_weights
    theta_for_degree
    edge_cost
    log_degree
"""

import numpy as np
import scipy.sparse as sp
from pyunlocbox import functions, solvers

from pyunlocbox_gae.errors import InputError
from pyunlocbox_gae.functions import squared_frobenius
from pyunlocbox_gae.graphs.graph import make_graph
from pyunlocbox_gae.graphs.search import search_neighbors


class edge_cost(functions.func):
    r"""Smoothness of the signals plus non-negative weights (eval, prox).

    :math:`f(w) = 2\theta\, z^\top w + \iota_{w \ge 0}(w)`.

    Notes
    -----
    :math:`\operatorname{prox}_{Tf}(v) = \max(v - 2\theta T z, 0)`.

    Examples
    --------
    >>> f = edge_cost(np.array([1.0, 0.5]), theta=1.0)
    >>> f.eval(np.array([1.0, 2.0])), f.prox(np.array([1.0, 2.0]), 0.5).tolist()
    (4.0, [0.0, 1.5])
    """

    def __init__(self, z, theta=1.0):
        super().__init__()
        self.z = np.asarray(z)
        self.theta = float(theta)

    def _eval(self, w):
        return float(2 * self.theta * np.dot(self.z, w))

    def _prox(self, v, T):
        return np.maximum(v - 2 * self.theta * T * self.z, 0)


class log_degree(functions.func):
    r"""The log barrier of the degrees (eval, prox): :math:`g(d) = -\sum_i \log d_i`.

    Notes
    -----
    :math:`\operatorname{prox}_{Tg}(v) = (v + \sqrt{v^2 + 4T}) / 2`, entry by
    entry (the positive root of :math:`d^2 - v d - T = 0`).

    Examples
    --------
    >>> g = log_degree()
    >>> g.prox(np.array([0.0, 3.0]), 1.0).tolist()
    [1.0, 3.3027756377319946]
    """

    def _eval(self, d):
        with np.errstate(divide="ignore"):
            return float(-np.sum(np.log(d))) if np.all(d > 0) else np.inf

    def _prox(self, v, T):
        return (v + np.sqrt(v * v + 4 * T)) / 2


def _edges(neighbors):
    """Unique undirected candidate edges (i < j) and their squared distances."""
    n, k = neighbors.indices.shape
    i = np.repeat(np.arange(n), k)
    j = neighbors.indices.ravel()
    d = neighbors.distances.ravel().astype(np.float64) ** 2
    lo, hi = np.minimum(i, j), np.maximum(i, j)
    keep = lo != hi
    key = lo[keep] * n + hi[keep]
    key, first = np.unique(key, return_index=True)
    return key // n, key % n, d[keep][first]


def theta_for_degree(neighbors, k):
    r"""θ for about `k` neighbours per vertex, from the sorted squared distances.

    For a vertex whose squared distances to its neighbours, sorted, are
    :math:`z_1 \le z_2 \le \dots` and :math:`b_k = \sum_{j \le k} z_j`, the
    problem's optimality conditions (every degree alike) give exactly k
    edges for θ between :math:`1/\sqrt{k z_{k+1}^2 - b_k z_{k+1}}` and
    :math:`1/\sqrt{k z_k^2 - b_k z_k}` (Kalofolias & Perraudin, 2019). The
    median over vertices of the geometric mean of the two bounds is
    returned (the median: a few vertices with duplicate neighbours, whose
    upper bound is infinite, do not move it).

    Examples
    --------
    >>> from pyunlocbox_gae.graphs.search import search_neighbors
    >>> X = np.random.default_rng(0).random((60, 3))
    >>> theta = theta_for_degree(search_neighbors(X, k=8, backend="exact"), 4)
    >>> bool(theta > 0)
    True
    """
    z = neighbors.distances.astype(np.float64) ** 2
    if z.shape[1] < k + 1:
        raise InputError(
            f"θ for {k} neighbours needs at least {k + 1} candidates per vertex, "
            f"got {z.shape[1]}"
        )
    b = z[:, :k].sum(axis=1)
    low = k * z[:, k] ** 2 - b * z[:, k]
    up = k * z[:, k - 1] ** 2 - b * z[:, k - 1]
    ok = low > 0
    lower, upper = 1 / np.sqrt(low[ok]), np.maximum(up[ok], 0)
    with np.errstate(divide="ignore"):
        upper = 1 / np.sqrt(upper)  # infinite for equal distances
    bounds = np.where(np.isfinite(upper), np.sqrt(lower * upper), lower)
    if not bounds.size:
        raise InputError("every candidate distance is equal: no graph to learn")
    return float(np.median(bounds))


def learn_weights(i, j, z, n, theta, k=10, max_iter=150, tol=None):
    r"""The weights w of edges (i, j) that solve the log-degree problem.

    Parameters
    ----------
    i, j : arrays of int, shape (n_edges,)
        The candidate edges, each once.
    z : array of shape (n_edges,)
        Their squared distances.
    n : int
        Number of vertices.
    theta : float
    k, max_iter, tol
        See :func:`learned_graph` (`k` sets the first guess 1/k and the scale
        of `tol`).

    Returns
    -------
    w : ndarray of shape (n_edges,)
    out : dict
        PyUNLocBoX's :func:`~pyunlocbox.solvers.solve` output (``niter``,
        ``crit``, ``objective``).

    Examples
    --------
    Three vertices on a line, candidate edges 0–1, 1–2, 0–2 (far):

    >>> i, j = np.array([0, 1, 0]), np.array([1, 2, 2])
    >>> w, out = learn_weights(i, j, np.array([1.0, 1.0, 4.0]), 3, theta=0.5,
    ...                        k=1, max_iter=500)
    >>> bool(w[0] > 0 and w[1] > 0), round(float(w[2]), 6)
    (True, 0.0)
    """
    m = len(z)
    e = np.arange(m)
    S = sp.csr_matrix((np.ones(2 * m), (np.r_[i, j], np.r_[e, e])), shape=(n, m))
    if min(S.shape) > 2:
        norm2 = sp.linalg.eigsh(S @ S.T, k=1, which="LA", return_eigenvectors=False)[0]
    else:
        norm2 = np.linalg.norm(S.toarray(), 2) ** 2
    solver = solvers.mlfbf(L=S, step=0.9 / (2.0 + np.sqrt(norm2)))
    w0 = np.full(m, 1.0 / k)
    f, g, h = edge_cost(z, theta), log_degree(), squared_frobenius(lambda_=2.0)
    out = solvers.solve(
        [f, g, h],
        w0,
        solver,
        rtol=None,
        xtol=None if tol is None else tol / k,
        maxit=max_iter,
        verbosity="NONE",
    )
    return out["sol"], out


def learned_graph(
    X,
    k=10,
    n_candidates=None,
    theta=None,
    backend="auto",
    lap_type="normalized",
    dtype=None,
    max_iter=150,
    tol=None,
    random_state=0,
):
    r"""The log-degree graph of the rows of X, learned over k-NN candidate edges.

    Parameters
    ----------
    X : ndarray of shape (n_samples, n_features)
    k : int
        Neighbours per vertex aimed at (sets θ, :func:`theta_for_degree`).
    n_candidates : int, optional
        Candidate neighbours per vertex (default 2k, at least k + 1).
    theta : float, optional
        Scale of the distances; default from `k`.
    backend : {'auto', 'exact', 'approximate'}
        Search of the candidates (:func:`~pyunlocbox_gae.graphs.search_neighbors`).
    lap_type : {'normalized', 'combinatorial'}
    dtype : dtype, optional
        Of W and L (default X's).
    max_iter, tol
        Iterations of the primal-dual solver; with `tol`, it stops earlier
        when the root mean square change of the weights in one iteration
        falls below ``tol / k`` (the weights are of the order of 1/k). The
        default runs `max_iter` iterations: the objective and the weights
        change slowly long before the sparsity settles (measured on 2,000
        uniform samples, k = 10: stopping at a relative change of the
        objective of 1e-5, or of the weights of 1e-3, left about 20
        neighbours per vertex; 100 iterations give 10.5, 2,000 give 10.5).
    random_state : int

    Returns
    -------
    pygsp.graphs.Graph
        W scaled to a largest weight of 1, with self-loops of weight 1 as the
        k-NN graphs have; ``graph_params`` hold θ, the iterations and the
        mean number of neighbours found.

    Notes
    -----
    With :math:`f(w) = 2\theta z^\top w + \iota_{w\ge0}`, :math:`g(d) =
    -\mathbf 1^\top\log d` and :math:`h(w) = \|w\|^2` (gradient 2w, Lipschitz
    2), MLFBF iterates with a step below :math:`1/(2 + \|S\|)`;
    :math:`\|S\|^2` is the largest eigenvalue of :math:`S S^\top = D + A` of
    the candidate graph (Lanczos).

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> X = np.r_[rng.normal(0, 0.1, (20, 2)), rng.normal(3, 0.1, (20, 2))]
    >>> G = learned_graph(X.astype(np.float32), k=5)
    >>> W = G.W.toarray()
    >>> float(W[:20, 20:].sum()) == 0.0  # no edge between the two clusters
    True
    >>> G.W.dtype, 3 <= G.graph_params["mean_neighbors"] <= 10
    (dtype('float32'), True)
    """
    X = np.asarray(X)
    dtype = X.dtype if dtype is None else np.dtype(dtype)
    n = X.shape[0]
    n_candidates = max(2 * k, k + 1) if n_candidates is None else n_candidates
    if not 1 <= k < n_candidates < n:
        raise InputError(
            f"need 1 <= k < n_candidates < n_samples, got k={k}, "
            f"n_candidates={n_candidates} for {n} samples"
        )
    nb = search_neighbors(X, k=n_candidates, backend=backend, random_state=random_state)
    theta = theta_for_degree(nb, k) if theta is None else float(theta)
    i, j, z = _edges(nb)
    w, out = learn_weights(i, j, z, n, theta, k, max_iter, tol)
    w = out["sol"]
    w[w < 1e-6 * w.max()] = 0  # the solver's round-off on pruned edges
    upper = sp.csr_matrix((w, (i, j)), shape=(n, n))
    W = (upper + upper.T) / w.max() + sp.identity(n, format="csr")
    G = make_graph(W.astype(dtype), lap_type, dtype)
    G.graph_params = dict(
        construction="learned",
        k=int(k),
        n_candidates=int(n_candidates),
        theta=theta,
        iterations=int(out["niter"]),
        crit=out["crit"],
        mean_neighbors=float(2 * np.count_nonzero(w) / n),
        backend=nb.backend,
        lap_type=lap_type,
    )
    return G
