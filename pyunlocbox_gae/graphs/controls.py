r"""Control graphs: what a k-NN graph's structure is compared against.

A graph term helps either through the graph's *structure* (which samples
are joined) or only through the extra regularisation it adds. Two controls
keep the regularisation and drop the structure:

* :func:`random_graph`: the same vertices, each with the same number of
  neighbours, and the same edge weights, joined at random (degree-preserving
  double-edge swaps);
* :func:`identity_graph`: a "graph" whose Laplacian is the identity, so
  that the graph term becomes a ridge penalty ``lg/2 ||Z||_F^2``.

.. autosummary::
    random_graph
    identity_graph
"""

import numpy as np
import scipy.sparse as sp

from pyunlocbox_gae.errors import InputError
from pyunlocbox_gae.graphs.graph import make_graph


def _swap(rows, cols, n_swaps, rng):
    """Double-edge swaps of the edge list (rows[e], cols[e]), in place."""
    n_edges = len(rows)
    present = set(zip(rows.tolist(), cols.tolist(), strict=True))
    present |= {(b, a) for a, b in present}
    pairs = rng.integers(0, n_edges, size=(n_swaps, 2))
    flips = rng.random(n_swaps) < 0.5
    done = 0
    for (e, f), flip in zip(pairs.tolist(), flips.tolist(), strict=True):
        a, b = rows[e], cols[e]
        c, d = (cols[f], rows[f]) if flip else (rows[f], cols[f])
        # a-b, c-d become a-d, c-b: every vertex keeps its degree.
        if e == f or len({a, b, c, d}) < 4 or (a, d) in present or (c, b) in present:
            continue
        present -= {(a, b), (b, a), (c, d), (d, c)}
        present |= {(a, d), (d, a), (c, b), (b, c)}
        rows[e], cols[e] = a, d
        rows[f], cols[f] = c, b
        done += 1
    return done


def random_graph(graph, n_swaps=None, seed=0, lap_type=None, dtype=None):
    """A random graph with every vertex's degree and the edge weights of `graph`.

    Edges (self-loops aside, which stay) are rewired by double-edge swaps:
    edges a–b and c–d become a–d and c–b, each keeping its weight, when
    neither exists yet. Every vertex keeps its number of neighbours, the
    graph keeps its multiset of edge weights, and the endpoints that stay
    (a and c) keep the weights of their edges; after enough swaps which
    vertices are joined is random.

    Parameters
    ----------
    graph : pygsp.graphs.Graph
        A symmetric graph (:func:`~pyunlocbox_gae.graphs.knn_graph`).
    n_swaps : int, optional
        Swaps tried (default: 10 per edge).
    seed : int
    lap_type, dtype : optional
        Of the result (default: those of `graph`).

    Returns
    -------
    pygsp.graphs.Graph
        With ``swaps`` (swaps done) and ``swaps_tried`` attributes.

    Examples
    --------
    >>> from pyunlocbox_gae import graphs
    >>> X = np.random.default_rng(0).random((60, 3)).astype(np.float32)
    >>> G = graphs.knn_graph(X, k=5)
    >>> R = random_graph(G, seed=1)
    >>> degree = lambda g: np.diff(g.W.tocsr().indptr)
    >>> bool((degree(R) == degree(G)).all()), bool((R.W != G.W).nnz > 0)
    (True, True)
    >>> np.allclose(np.sort(R.W.data), np.sort(G.W.data))
    True
    """
    W = sp.triu(sp.csr_matrix(graph.W), k=0).tocoo()
    loops = W.row == W.col
    rows, cols = W.row[~loops].astype(np.int64), W.col[~loops].astype(np.int64)
    weights = W.data[~loops]
    if len(rows) < 2:
        raise InputError("random_graph needs a graph of two edges or more")
    n_swaps = 10 * len(rows) if n_swaps is None else int(n_swaps)
    done = _swap(rows, cols, n_swaps, np.random.default_rng(seed))
    r = np.concatenate([rows, cols, W.row[loops]])
    c = np.concatenate([cols, rows, W.col[loops]])
    w = np.concatenate([weights, weights, W.data[loops]])
    N = graph.N
    dtype = graph.W.dtype if dtype is None else dtype
    out = sp.csr_matrix((w, (r, c)), shape=(N, N), dtype=dtype)
    G = make_graph(out, lap_type or graph.lap_type, dtype)
    G.swaps, G.swaps_tried = done, n_swaps
    return G


def identity_graph(n_vertices, lap_type="normalized", dtype=np.float32):
    """A vertex set with Laplacian I: the graph term becomes a ridge penalty.

    ``lg/2 tr(Z L Zᵀ)`` with L = I is ``lg/2 ||Z||_F^2``; W is empty.

    Examples
    --------
    >>> G = identity_graph(3)
    >>> G.L.toarray().tolist()[0], G.lmax_exact, G.W.nnz
    ([1.0, 0.0, 0.0], 1.0, 0)
    """
    W = sp.csr_matrix((n_vertices, n_vertices), dtype=dtype)
    I = sp.identity(n_vertices, dtype=dtype, format="csr")  # noqa: E741
    return make_graph(W, lap_type, dtype, L=I, lmax=1.0)
