r"""
Codes of new samples with a fitted model, one sample at a time.

.. autosummary::
    AnchorGraph
    sample_codes
    graph_codes

With the dictionary D and encoder E fixed, the codes of new samples solve

.. math::
    \min_Z \; \frac{l_d}{2} \|X - DZ\|_F^2 + \alpha \|Z\|_1
    + \frac{l_e}{2} \|Z - EX\|_F^2 + \frac{l_g}{2} \, G(Z),

where :math:`\alpha` is the sparsity weight at transform time and G the
graph term of the new samples (see :class:`AnchorGraph`). Without edges
among the new samples every term is a sum over samples, so each sample is
its own problem: :func:`sample_codes` solves them side by side, each column
with its own momentum, restart and stopping rule, so that a sample's code
never depends on which other samples came with it (``transform(X[:k])`` is
``transform(X)[:k]``). :func:`graph_codes` solves the coupled problem over
a graph among the new samples instead.
"""

import warnings

import numpy as np
import scipy.sparse as sp
from pyunlocbox import functions as pyu_functions
from scipy.linalg import blas
from sklearn.exceptions import ConvergenceWarning

from pyunlocbox_gae import _linalg, functions, solvers
from pyunlocbox_gae.errors import ConvergenceError, InputError

__all__ = ["AnchorGraph", "graph_codes", "sample_codes"]

# Above this size the training codes are kept by reference, not copied.
COPY_CODES_MAX_BYTES = 512 * 2**20

# A step too large (a wrong Lipschitz constant) is halved this many times at
# most, with a warning, before giving up with a clear error.
MAX_HALVINGS = 5

# Samples solved together: bounds the solver's buffers (a few of this many
# codes) whatever the number of samples; codes do not depend on it.
SAMPLES_PER_SOLVE = 8192


class _shifted(pyu_functions.func):
    """A smooth function plus a fixed linear term <C, Z> (a coupling to codes
    held fixed: the training codes here, a block's halo in the Dask fit).

    Keeps the fused gradient step of the wrapped :class:`functions.smooth_sum`
    and subtracts ``step * C`` in place, so an iteration allocates nothing.
    """

    def __init__(self, smooth, C):
        super().__init__()
        self.smooth, self.C = smooth, C

    def cap(self, x=None):
        return ["EVAL", "GRAD"]

    def _eval(self, Z):
        return self.smooth.eval(Z) + _linalg.vdot64(self.C, Z)

    def _grad(self, Z):
        return self.smooth.grad(Z) + self.C

    def lipschitz(self):
        return self.smooth.lipschitz()

    def prepare(self):
        self.smooth.prepare()

    def release(self):
        self.smooth.release()

    def forward_into(self, x, step, out):
        self.smooth.forward_into(x, step, out)
        C = self.C
        if (
            out.dtype == C.dtype
            and out.flags.f_contiguous
            and C.flags.f_contiguous
            and out.dtype in (np.float32, np.float64)
        ):
            axpy = blas.get_blas_funcs("axpy", (C, out))
            axpy(C.ravel(order="F"), out.ravel(order="F"), a=-step)
        else:
            out -= step * C
        return out


def _knn_settings(graph, graph_params):
    """k, metric, kernel, sigma and self-loops that link new samples.

    Those of the training graph when :func:`~pyunlocbox_gae.graphs.knn_graph`
    built it (``graph.graph_params``), else `graph_params` over the defaults
    of ``knn_graph``.
    """
    import inspect

    from pyunlocbox_gae.graphs import knn_graph

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


def _smooth_terms(X_api, D, E, weights, dirichlet=None):
    """fidelity, encoder and (diagonal) Dirichlet terms of the samples X_api."""
    ld, le, lg = weights
    Xm = X_api.T
    terms = [functions.fidelity_z(Xm, D, ld)]
    if E is not None and le:
        terms.append(functions.encoder_z(Xm, E, le))
    if dirichlet is not None and lg:
        terms.append(dirichlet)
    return functions.smooth_sum(terms)


def sample_codes(
    X,
    D,
    E=None,
    weights=(1.0, 1.0, 0.0, 0.0),
    anchors=None,
    rtol=1e-4,
    max_iter=500,
    accelerate=True,
    out=None,
):
    r"""Codes of new samples, each sample solved on its own.

    Parameters
    ----------
    X : ndarray of shape (n_samples, n_features)
        New samples (float32 or float64; the codes take their dtype).
    D : ndarray of shape (n_features, n_atoms)
        The dictionary.
    E : ndarray of shape (n_atoms, n_features), optional
        The encoder (used when its weight is positive).
    weights : tuple of 4 floats
        ``(ld, alpha, lg, le)``: data, sparsity, graph and encoder weights.
    anchors : AnchorGraph, optional
        The training graph; with ``lg > 0`` each new code is tied to its
        neighbours' training codes.
    rtol : float
        A sample stops when its code moves by at most `rtol` times its norm
        in one iteration.
    max_iter : int
        Iterations per sample at most.
    accelerate : bool
        FISTA momentum (with an adaptive restart per sample), or ISTA.
    out : ndarray of shape (n_samples, n_atoms), optional
        Where to write the codes (of X's dtype, C-contiguous).

    Returns
    -------
    ndarray of shape (n_samples, n_atoms)
        `out` when given.

    Notes
    -----
    Forward-backward (FISTA) on the sum of
    :class:`~pyunlocbox_gae.functions.fidelity_z`,
    :class:`~pyunlocbox_gae.functions.encoder_z`, a diagonal
    :class:`~pyunlocbox_gae.functions.dirichlet` term and the fixed
    coupling to the training codes (see :class:`AnchorGraph`), with
    :class:`~pyunlocbox_gae.functions.sparsity` as proximal term. The step
    1/L is common, from a bound that does not depend on the batch; the
    momentum, its restart (when the step goes against the momentum, O'Donoghue
    & Candès' gradient restart) and the stopping rule belong to each sample,
    and converged samples leave the solve. So a sample's code is the same
    whatever samples come with it, up to floating-point rounding.

    Examples
    --------
    >>> import numpy as np
    >>> X = np.array([[3.0, 0.0], [0.0, 0.2]])
    >>> Z = sample_codes(X, np.eye(2), weights=(1.0, 1.0, 0.0, 0.0), rtol=1e-8)
    >>> np.round(Z, 6)  # soft thresholding at alpha / ld = 1
    array([[2., 0.],
           [0., 0.]])
    >>> bool(np.array_equal(sample_codes(X[:1], np.eye(2), rtol=1e-8), Z[:1]))
    True
    """
    X = np.asarray(X)
    Z = np.zeros((X.shape[0], D.shape[1]), X.dtype) if out is None else out
    for s in range(0, X.shape[0], SAMPLES_PER_SOLVE):
        part = slice(s, s + SAMPLES_PER_SOLVE)
        for halvings in range(MAX_HALVINGS + 1):
            Z[part] = 0.0
            with np.errstate(over="ignore", invalid="ignore"):  # checked below
                _sample_codes(
                    X[part],
                    D,
                    E,
                    weights,
                    anchors,
                    rtol,
                    max_iter,
                    accelerate,
                    Z[part],
                    0.5**halvings,
                )
            if np.isfinite(Z[part]).all():
                break
            if halvings < MAX_HALVINGS:
                warnings.warn(
                    "transform: the codes of new samples diverged; solved again "
                    f"with the step halved (halving {halvings + 1} of at most "
                    f"{MAX_HALVINGS})",
                    ConvergenceWarning,
                    stacklevel=2,
                )
        else:
            raise ConvergenceError(
                "transform: the codes of new samples are not finite even with "
                f"the step halved {MAX_HALVINGS} times: the data holds values "
                "too large for its dtype (rescale it, or lower the weights), or "
                "a term's Lipschitz constant is too small for its step"
            )
    return Z


def _sample_codes(X, D, E, weights, anchors, rtol, max_iter, accelerate, Z, scale):
    ld, alpha, lg, le = (float(w) for w in weights)
    C = ell = None
    if anchors is not None and lg:
        C, ell = anchors.coupling(X, lg)

    def smooth(rows):
        Xr = X if rows is None else X[rows]
        term = None
        if ell is not None:
            L = sp.diags(ell if rows is None else ell[rows], format="csr")
            term = functions.dirichlet(L, lg, lmax=anchors.bound)
        f = _smooth_terms(Xr, D, E, (ld, le, lg), term)
        if C is None:
            return f
        return _shifted(f, np.asarray(C if rows is None else C[rows]).T)

    _solve_columns(smooth, alpha, Z, rtol, max_iter, accelerate, scale)


def _row_norms(A):
    return np.sqrt(np.einsum("ij,ij->i", A, A, dtype=np.float64))


def _solve_columns(make_smooth, alpha, Z, rtol, max_iter, accelerate, scale=1.0):
    """Per-sample FISTA on the rows of Z (sample-major), written into Z.

    `make_smooth(rows)` gives the smooth part over the samples `rows` (all
    of them for None), in the maths orientation (n_atoms, len(rows)).
    """
    active = np.arange(Z.shape[0])
    z = np.zeros_like(Z)
    prev, y, buf, new = (np.zeros_like(Z) for _ in range(4))
    t = np.ones(Z.shape[0])
    alive = np.ones(Z.shape[0], dtype=bool)
    prox = functions.sparsity(alpha) if alpha else None
    f = make_smooth(None)
    step = scale / max(f.lipschitz(), 1e-30)  # the same for any batch
    f.prepare()
    try:
        for it in range(1, max_iter + 1):
            if accelerate:
                t_next = (1.0 + np.sqrt(1.0 + 4.0 * t * t)) / 2.0
                beta = ((t - 1.0) / t_next).astype(Z.dtype)
                t = t_next
                np.subtract(z, prev, out=y)
                y *= beta[:, None]
                y += z
            else:
                y[...] = z
            f.forward_into(y.T, step, buf.T)
            if prox is not None:
                prox.prox_into(buf.T, step, new.T)
            else:
                new[...] = buf
            np.subtract(new, z, out=buf)  # the step taken, per sample
            if accelerate:  # restart where the step goes against the momentum
                y -= new
                t[np.einsum("ij,ij->i", y, buf) > 0] = 1.0
            prev, z, new = z, new, prev
            done = alive & (_row_norms(buf) <= rtol * _row_norms(z))
            if it == max_iter:
                done = alive
            Z[active[done]] = z[done]
            alive &= ~done
            n_dead = alive.size - np.count_nonzero(alive)
            if not alive.any():
                break
            if n_dead >= max(1, alive.size // 4):  # drop the converged samples
                f.release()
                active, z, prev, t = active[alive], z[alive], prev[alive], t[alive]
                y, buf, new = (np.zeros_like(z) for _ in range(3))
                alive = np.ones(active.size, dtype=bool)
                f = make_smooth(active)
                f.prepare()
    finally:
        f.release()
    return Z


def graph_codes(X, D, E, weights, graph, rtol=1e-4, max_iter=500, eval_every=5):
    """Codes of new samples smooth on a graph among them (one coupled solve).

    The codes problem with D and E fixed and the Dirichlet term of `graph`,
    a graph over the new samples, solved jointly by FISTA with the
    objective-based stopping rule of :func:`pyunlocbox_gae.solvers.solve`
    (a code depends on the other samples, through the graph).

    Examples
    --------
    >>> import numpy as np, scipy.sparse as sp
    >>> from pyunlocbox_gae import graphs
    >>> X = np.array([[1.0], [3.0]])
    >>> G = graphs.as_graph(sp.csr_matrix([[0, 1.0], [1.0, 0]]), 2,
    ...                     "combinatorial", np.float64)
    >>> Z = graph_codes(X, np.eye(1), None, (1.0, 0.0, 1.0, 0.0), G, rtol=1e-12)
    >>> np.round(Z.ravel(), 4)  # (I + L) z = x: pulled together
    array([1.6667, 2.3333])
    """
    from pyunlocbox_gae.graphs import lmax_bound

    ld, alpha, lg, le = (float(w) for w in weights)
    X = np.asarray(X)
    Z = np.zeros((X.shape[0], D.shape[1]), dtype=X.dtype)
    term = functions.dirichlet(graph, lg, lmax=lmax_bound(graph))
    f = _smooth_terms(X, D, E, (ld, le, lg), term)
    g = functions.sparsity(alpha) if alpha else pyu_functions.dummy()
    if X.shape[0] == 0:
        return Z
    solver = solvers.make_solver("fista", 1.0 / max(f.lipschitz(), 1e-30))
    solvers.solve(
        [g, f],
        Z.T,
        solver,
        rtol=rtol,
        maxit=max_iter,
        eval_every=eval_every,
        name="transform",
    )
    return Z


def check_encoder(encoder, le):
    """Refuse an encoder transform without an encoder, in one clear line."""
    if encoder is None or not le:
        raise InputError(
            "transform_algorithm='encoder' needs an encoder and le > 0 "
            f"(encoder {'absent' if encoder is None else 'fitted'}, le={le}): "
            "fit with le > 0 and keep it, or use transform_algorithm='auto'"
        )
