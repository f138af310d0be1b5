r"""
The training graph extended to new samples, for their graph codes.

.. autosummary::
    AnchorGraph

A fitted :class:`~pyunlocbox_gae.GraphAutoEncoder` keeps an
:class:`AnchorGraph`; :func:`pyunlocbox_gae.model.transform.sample_codes`
turns it into the graph term of the new samples' codes.
"""

import numpy as np
import scipy.sparse as sp

__all__ = ["AnchorGraph"]

# Above this size the training codes are kept by reference, not copied.
COPY_CODES_MAX_BYTES = 512 * 2**20


def _knn_settings(graph, graph_params):
    """k, metric, kernel, sigma and self-loops that link new samples.

    Those of the training graph when :func:`~pyunlocbox_gae.graphs.knn_graph`
    built it (``graph.graph_params``), else `graph_params` over the defaults
    of ``knn_graph``.
    """
    import inspect

    # The builder's own defaults, read from its defining module (callers may
    # wrap the package-level name, e.g. to count calls).
    from pyunlocbox_gae.graphs.knn import knn_graph

    settings = {
        name: p.default
        for name, p in inspect.signature(knn_graph).parameters.items()
        if p.default is not inspect.Parameter.empty
    }
    recorded = getattr(graph, "graph_params", None)
    settings.update(recorded if recorded else (graph_params or {}))
    if recorded:
        settings["sigma"] = recorded.get("sigma_used", recorded.get("sigma"))
    return settings


class AnchorGraph:
    r"""The training graph, extended to new samples (kept by a fitted model).

    Each new sample becomes a vertex joined to its nearest training samples
    (found by :class:`~pyunlocbox_gae.graphs.NeighborIndex` with the
    training graph's metric) with the training graph's kernel and width σ;
    there are no edges among new samples, and the training graph itself is
    unchanged: its vertices keep their degrees, its codes T stay fixed.

    Parameters
    ----------
    X : ndarray of shape (n_samples, n_features)
        Training samples (held by reference with the euclidean metric).
    codes : ndarray of shape (n_samples, n_atoms)
        Their codes T (copied, unless larger than 512 MiB: then held by
        reference and to be left unmodified).
    graph : pygsp.graphs.Graph
        The training graph, with W and lap_type.
    graph_params : dict, optional
        Settings of :func:`~pyunlocbox_gae.graphs.knn_graph` that link new
        samples when `graph` does not record its own (a graph given as an
        adjacency matrix); σ then defaults to the mean distance of the
        training samples to their k-th neighbour.

    Notes
    -----
    The edges of a new sample x follow the rule of the training graph's
    k-NN edges: x is joined to its k + 1 nearest training samples (k
    without self-loops; the nearest plays the part of a training vertex's
    self-loop) and to every training sample j that would count x among its
    own k nearest (:math:`d(x, x_j) \le r_j`, the distance of j to its k-th
    neighbour), symmetrised as the training graph (``'max'`` or
    ``'mean'``), with the kernel weights :math:`b_j = \kappa(d(x, x_j) /
    \sigma)` of the training graph's σ. A new sample on a training sample
    i thus gets the edges of vertex i, the self-loop becoming the edge to
    i; at distance exactly 0 it takes the row :math:`W_{i\cdot}` as is
    (which also covers a graph given as a matrix).

    The graph term of the new code z is the Dirichlet energy of the edges
    it adds, the training codes :math:`t_j` fixed. With the combinatorial
    Laplacian, :math:`d_x = \sum_j b_j`,

    .. math::
        \sum_j b_j \|z - t_j\|^2 = d_x \|z\|^2 - 2 \langle z, \textstyle
        \sum_j b_j t_j \rangle + c.

    With the normalized Laplacian every vertex is scaled by its degree; the
    training degrees :math:`d_j` stay those of the training graph and the
    new vertex has degree :math:`d_x = \sum_j b_j`:

    .. math::
        \sum_j b_j \left\| \frac{z}{\sqrt{d_x}} - \frac{t_j}{\sqrt{d_j}}
        \right\|^2 = \|z\|^2 - 2 \langle z, \textstyle \sum_j
        \frac{b_j}{\sqrt{d_x d_j}} t_j \rangle + c.

    Both read :math:`\ell_x \|z\|^2 - 2 \langle z, a_x \rangle + c`, so
    with weight :math:`l_g/2` the term is :math:`l_g/2` times a diagonal
    Dirichlet term :math:`\ell_x` on the new-sample block plus the fixed
    linear coupling :math:`-l_g \langle z, a_x \rangle`, whose gradient
    :math:`l_g (\ell_x z - a_x)` is the row of :math:`l_g L Z` of the
    extended graph. For a new sample on training vertex i this is exactly
    the row i of the training gradient, so its code is the training code
    :math:`t_i` whenever the training codes solve the training problem.
    The Lipschitz bound of the block, 1 (normalized) or the largest
    possible degree (combinatorial), does not depend on the new samples.

    Examples
    --------
    >>> import numpy as np
    >>> from pyunlocbox_gae import graphs
    >>> X = np.random.default_rng(0).random((30, 3))
    >>> G = graphs.knn_graph(X, k=4, dtype=np.float64)
    >>> T = np.random.default_rng(1).random((30, 2))
    >>> anchors = AnchorGraph(X, T, G)
    >>> coupling, ell = anchors.links(X[:2])
    >>> coupling.shape, ell.tolist()  # normalized: every new vertex scaled to 1
    ((2, 30), [1.0, 1.0])
    >>> # Samples 0 and 1 on their training vertices: rows of I - L, exactly.
    >>> bool(np.allclose(coupling.toarray(), np.eye(30)[:2] - G.L.toarray()[:2]))
    True
    """

    def __init__(self, X, codes, graph, graph_params=None):
        from pyunlocbox_gae.graphs import NeighborIndex, default_sigma, search_neighbors

        settings = _knn_settings(graph, graph_params)
        self.lap_type = graph.lap_type
        self.W = sp.csr_matrix(graph.W, dtype=np.float64)
        self.degrees = np.asarray(self.W.sum(axis=1), dtype=np.float64).ravel()
        self.index = NeighborIndex(X, settings["metric"])
        N = self.index.n_samples
        k = min(int(settings["k"]), N - 1)
        self.n_links = min(k + bool(settings["self_loops"]), N)
        self.kernel, self.symmetrize = settings["kernel"], settings["symmetrize"]
        neighbors = getattr(graph, "neighbors", None)
        if neighbors is None or neighbors.k < k or neighbors.n_samples != N:
            neighbors = search_neighbors(X, k=k, metric=settings["metric"])
        neighbors = neighbors.truncate(k)
        self.radii = neighbors.distances[:, -1].astype(np.float64)
        sigma = settings["sigma"]
        self.sigma = float(default_sigma(neighbors) if sigma is None else sigma)
        codes = np.asarray(codes)
        self.codes = codes.copy() if codes.nbytes <= COPY_CODES_MAX_BYTES else codes
        degree_max = self.degrees.max(initial=0.0)
        self.bound = (
            1.0 if self.lap_type == "normalized" else max(self.n_links, degree_max)
        )

    _ATTRS = ("lap_type", "n_links", "kernel", "symmetrize", "sigma", "bound")

    def save(self, group):
        """Write the arrays and settings into an HDF5 group."""
        idx = self.index
        group.attrs.update({name: getattr(self, name) for name in self._ATTRS})
        group.attrs["metric"] = idx.metric
        for name, data in (
            ("samples", idx.samples),
            ("mean", idx.mean),
            ("codes", self.codes),
            ("radii", self.radii),
            ("W_data", self.W.data),
            ("W_indices", self.W.indices),
            ("W_indptr", self.W.indptr),
        ):
            if data is not None:
                group.create_dataset(name, data=data)

    @classmethod
    def load(cls, group):
        """Read what :meth:`save` wrote."""
        from pyunlocbox_gae.graphs import NeighborIndex

        anchors = cls.__new__(cls)
        for name in cls._ATTRS:
            value = group.attrs[name]
            setattr(anchors, name, value.item() if hasattr(value, "item") else value)
        samples = group["samples"][...]
        mean = group["mean"][...] if "mean" in group else None
        metric = str(group.attrs["metric"])
        anchors.index = NeighborIndex.from_search_space(samples, metric, mean)
        anchors.codes = group["codes"][...]
        anchors.radii = group["radii"][...]
        N = samples.shape[0]
        anchors.W = sp.csr_matrix(
            (group["W_data"][...], group["W_indices"][...], group["W_indptr"][...]),
            shape=(N, N),
        )
        anchors.degrees = np.asarray(anchors.W.sum(axis=1)).ravel()
        return anchors

    def links(self, X):
        """Coupling weights (N_new, N) CSR and diagonal :math:`\\ell` of new samples.

        Row x of the coupling holds the weights of :math:`a_x = \\sum_j c_{xj}
        t_j` (see Notes of the class).
        """
        from pyunlocbox_gae.graphs import kernel_weights

        idx, dist = self.index.query(X, self.n_links)
        n_new, N = idx.shape[0], self.index.n_samples
        w = kernel_weights(dist, self.kernel, self.sigma, np.float64)
        B = sp.csr_matrix(
            (w.ravel(), idx.ravel(), np.arange(0, w.size + 1, idx.shape[1])),
            shape=(n_new, N),
        )
        # The other end: training samples that count x among their k nearest.
        rows, cols, d = self.index.within(X, self.radii)
        w = kernel_weights(d, self.kernel, self.sigma, np.float64)
        R = sp.csr_matrix((w, (rows, cols)), shape=(n_new, N))
        B = B.maximum(R) if self.symmetrize == "max" else (B + R) * 0.5
        twin = dist[:, 0] == 0
        if twin.any():  # replaced by the twin's row of W
            B = sp.diags((~twin).astype(np.float64)) @ B
            rows = np.flatnonzero(twin)
            pick = sp.csr_matrix(
                (np.ones(rows.size), (rows, idx[rows, 0])), shape=(n_new, N)
            )
            B = B + pick @ self.W
        B.eliminate_zeros()
        d_new = np.asarray(B.sum(axis=1)).ravel()
        if self.lap_type == "combinatorial":
            return B.tocsr(), d_new
        inv_new = _inv_sqrt(d_new)
        coupling = sp.diags(inv_new) @ B @ sp.diags(_inv_sqrt(self.degrees))
        return sp.csr_matrix(coupling), (d_new > 0).astype(np.float64)

    def coupling(self, X, lg):
        """(C, ell): the linear term C = -lg a (N_new, m) and the diagonal ell."""
        weights, ell = self.links(X)
        A = np.asarray(weights @ self.codes, dtype=X.dtype)
        A *= -lg
        return A, ell.astype(X.dtype)


def _inv_sqrt(d):
    return np.divide(1.0, np.sqrt(d), out=np.zeros_like(d), where=d > 0)
