r"""
Objective terms of the structured auto-encoder as PyUNLocBoX functions.

With X of shape (n, N) (one column per sample), D (n, m), Z (m, N) and
E (m, n), the auto-encoder minimises

.. math::
    \frac{\lambda_d}{2} \|X - DZ\|_F^2 + \lambda_s \|Z\|_1
    + \frac{\lambda_g}{2} \operatorname{tr}(Z L Z^\top)
    + \frac{\lambda_e}{2} \|Z - EX\|_F^2
    \quad \text{s.t.} \quad \|d_j\|_2 \le 1,

one block at a time. Each term below is a :class:`pyunlocbox.functions.func`
that can be handed to :func:`pyunlocbox.solvers.solve`:

.. autosummary::
    fidelity_z
    fidelity_d
    sparsity
    dirichlet
    squared_frobenius
    encoder_z
    encoder_e
    proj_columns_b2
    smooth_sum

Conventions shared by every term:

* The data (X, D, Z, E, the graph) is held **by reference**: a term reads the
  arrays it was given each time it is evaluated, so updating them in place
  changes the function without rebuilding it. No term writes into an array
  it is given.
* Weights are Python floats, so float32 inputs give float32 outputs (the
  PyUNLocBoX built-ins upcast to float64 under numpy 2). Objective values are
  accumulated in float64.
* ``lipschitz()`` returns the exact Lipschitz constant of the gradient, from
  spectral norms (SVD or eigenvalues of small matrices, Lanczos for the
  graph Laplacian), never a Frobenius bound.
* ``cap()`` answers without probing, so solvers do not evaluate the data
  terms just to learn what they can do.

Fast path used by :mod:`pyunlocbox_gae.solvers` (optional for a new term):
``prepare()`` caches quantities that stay fixed during one solve (the
statistics Z Zᵀ and X Zᵀ of the dictionary step, for example) and
``release()`` drops them; ``forward_into(x, step, out)`` writes the gradient
step ``x - step * grad(x)`` into ``out`` and ``prox_into(x, T, out)`` the
proximal point, both without allocating arrays of x's size. A term used by
the plain PyUNLocBoX solvers is never prepared and computes everything from
the data it references.
"""

import numpy as np
import scipy.sparse as sp
from pyunlocbox import functions
from scipy.linalg import blas

from pyunlocbox_gae import _linalg
from pyunlocbox_gae.errors import InputError

# Samples per block when a term evaluates itself: bounds temporaries to
# (n or m) x BLOCK whatever the number of samples.
BLOCK = 2048


def _weight(value, name="lambda_"):
    value = float(value)
    if not np.isfinite(value) or value < 0:
        raise InputError(f"{name} must be a finite non-negative number, got {value}")
    return value


def _matrix(A, name):
    if not hasattr(A, "ndim") or A.ndim != 2:
        raise InputError(
            f"{name} must be a 2-D array, got {type(A).__name__} "
            f"with shape {getattr(A, 'shape', None)}"
        )
    if A.dtype.kind not in "fiub":
        raise InputError(
            f"{name} holds {A.dtype} values; the terms take real numbers: "
            f"convert it, e.g. {name}.astype(np.float32)"
        )
    return A


def _check_inner(a, b, what):
    if a != b:
        raise InputError(f"shapes do not match: {what} ({a} != {b})")


def _axpy(alpha, x, y):
    """y += alpha * x in place, through BLAS when no temporary is needed."""
    if alpha == 0:
        return
    same = (x.flags.c_contiguous and y.flags.c_contiguous) or (
        x.flags.f_contiguous and y.flags.f_contiguous
    )
    if same and x.dtype == y.dtype and x.dtype in (np.float32, np.float64):
        axpy = blas.get_blas_funcs("axpy", (x, y))
        axpy(x.ravel(order="K"), y.ravel(order="K"), a=alpha)
    else:
        y += alpha * x


class _term(functions.func):
    """Common behaviour of the package's terms (not a public class)."""

    _caps = ("EVAL",)

    def __init__(self, lambda_=1.0):
        super().__init__()
        self.lambda_ = _weight(lambda_)

    def cap(self, x=None):
        """Capabilities of the term, known without evaluating it."""
        return list(self._caps)

    def prepare(self):
        """Cache what stays fixed during one solve (no-op by default)."""

    def release(self):
        """Drop the cache made by :meth:`prepare`."""

    def forward_into(self, x, step, out):
        """Write the gradient step ``x - step * grad(x)`` into `out`."""
        np.multiply(self.grad(x), -step, out=out)
        out += x


class fidelity_z(_term):
    r"""Data fidelity as a function of the codes (eval, grad).

    :math:`f(Z) = \frac{\lambda}{2} \|X - DZ\|_F^2` with X (n, N) and D (n, m)
    held by reference.

    Parameters
    ----------
    X : ndarray, shape (n, N)
        Data, one column per sample.
    D : ndarray, shape (n, m)
        Dictionary, one atom per column.
    lambda_ : float
        Weight :math:`\lambda_d \ge 0`.

    Notes
    -----
    :math:`\nabla f(Z) = \lambda D^\top (DZ - X)`, Lipschitz with constant
    :math:`\lambda \|D\|_2^2`.

    Examples
    --------
    >>> import numpy as np
    >>> X = np.array([[1.0, 2.0]], dtype=np.float32)
    >>> D = np.array([[2.0]], dtype=np.float32)
    >>> f = fidelity_z(X, D, lambda_=2.0)
    >>> Z = np.zeros((1, 2), dtype=np.float32)
    >>> f.eval(Z)
    5.0
    >>> f.grad(Z)
    array([[-4., -8.]], dtype=float32)
    >>> f.lipschitz()
    8.0
    """

    term_name = "data"  # what messages call it

    _caps = ("EVAL", "GRAD")

    def __init__(self, X, D, lambda_=1.0):
        super().__init__(lambda_)
        self.X = _matrix(X, "X")
        self.D = _matrix(D, "D")
        _check_inner(X.shape[0], D.shape[0], "X has n_features rows, D too")

    def _eval(self, Z):
        _check_inner(Z.shape, (self.D.shape[1], self.X.shape[1]), "Z is (m, N)")
        total = 0.0
        for s in range(0, Z.shape[1], BLOCK):
            R = self.D @ Z[:, s : s + BLOCK]
            R -= self.X[:, s : s + BLOCK]
            total += _linalg.vdot64(R)
        return 0.5 * self.lambda_ * total

    def _grad(self, Z):
        R = self.D @ Z
        R -= self.X
        G = np.empty_like(Z)
        np.matmul(self.D.T, R, out=G)
        G *= self.lambda_
        return G

    def lipschitz(self):
        """Exact Lipschitz constant :math:`\\lambda \\|D\\|_2^2`."""
        return self.lambda_ * _linalg.spectral_norm_sq(self.D)

    def _hessian(self):
        return ("gram", self.D, self.lambda_)

    def _offset(self):
        # grad = H Z - c with c = lambda D^T X = (lambda D^T) X.
        return self.lambda_ * self.D.T, self.X


class encoder_z(_term):
    r"""Encoder term as a function of the codes (eval, grad, prox).

    :math:`f(Z) = \frac{\lambda}{2} \|Z - EX\|_F^2` with X (n, N) and E (m, n)
    held by reference.

    Notes
    -----
    :math:`\nabla f(Z) = \lambda (Z - EX)`, Lipschitz with constant
    :math:`\lambda`; :math:`\operatorname{prox}_{Tf}(V) = (V + \lambda T EX) /
    (1 + \lambda T)`.

    Examples
    --------
    >>> import numpy as np
    >>> X = np.array([[1.0, -1.0]], dtype=np.float32)
    >>> E = np.array([[2.0]], dtype=np.float32)
    >>> f = encoder_z(X, E, lambda_=1.0)
    >>> f.eval(np.zeros((1, 2), dtype=np.float32))
    4.0
    >>> f.prox(np.zeros((1, 2), dtype=np.float32), 1.0)
    array([[ 1., -1.]], dtype=float32)
    """

    term_name = "encoder"  # what messages call it

    _caps = ("EVAL", "GRAD", "PROX")

    def __init__(self, X, E, lambda_=1.0):
        super().__init__(lambda_)
        self.X = _matrix(X, "X")
        self.E = _matrix(E, "E")
        _check_inner(E.shape[1], X.shape[0], "E has n_features columns, X rows")

    def _target(self, s=0, e=None):
        return self.E @ self.X[:, s:e]

    def _eval(self, Z):
        _check_inner(Z.shape, (self.E.shape[0], self.X.shape[1]), "Z is (m, N)")
        total = 0.0
        for s in range(0, Z.shape[1], BLOCK):
            R = self._target(s, s + BLOCK)
            R -= Z[:, s : s + BLOCK]
            total += _linalg.vdot64(R)
        return 0.5 * self.lambda_ * total

    def _grad(self, Z):
        G = Z - self._target()
        G *= self.lambda_
        return G

    def _prox(self, V, T):
        a = self.lambda_ * T
        out = self._target()
        out *= a
        out += V
        out /= 1.0 + a
        return out

    def lipschitz(self):
        """Exact Lipschitz constant :math:`\\lambda`."""
        return self.lambda_

    def _hessian(self):
        return ("identity", None, self.lambda_)

    def _offset(self):
        return self.lambda_ * self.E, self.X


class dirichlet(_term):
    r"""Dirichlet energy of the codes on a graph (eval, grad).

    :math:`f(Z) = \frac{\lambda}{2} \operatorname{tr}(Z L Z^\top) =
    \frac{\lambda}{2} \sum_{ij} L_{ij} \langle z_i, z_j \rangle`, where the
    columns :math:`z_i` of Z are the codes of the N samples, the vertices of
    the graph.

    Parameters
    ----------
    graph : pygsp.graphs.Graph or sparse matrix
        A graph whose Laplacian ``graph.L`` (N, N) is used, or the symmetric
        Laplacian itself. Held by reference.
    lambda_ : float
        Weight :math:`\lambda_g \ge 0`.
    lmax : float, optional
        Largest eigenvalue of L, when known exactly; computed (Lanczos, with a
        residual bound that keeps it above the true value) otherwise.

    Notes
    -----
    :math:`\nabla f(Z) = \lambda Z L`, Lipschitz with constant
    :math:`\lambda \lambda_{\max}(L)` (at most :math:`2\lambda` for the
    normalized Laplacian). Products with L run in a multi-threaded kernel
    on the sample-major view :math:`Z^\top`, without a temporary.

    Examples
    --------
    >>> import numpy as np, pygsp
    >>> W = np.array([[0.0, 1.0], [1.0, 0.0]])
    >>> G = pygsp.graphs.Graph(W, lap_type="combinatorial")
    >>> f = dirichlet(G, lambda_=2.0)
    >>> Z = np.array([[1.0, 3.0]])
    >>> f.eval(Z)
    4.0
    >>> f.grad(Z)
    array([[-4.,  4.]])
    >>> round(f.lipschitz(), 6)
    4.0
    """

    term_name = "graph"  # what messages call it

    _caps = ("EVAL", "GRAD")

    def __init__(self, graph, lambda_=1.0, lmax=None):
        super().__init__(lambda_)
        self.graph = graph
        L = self.L
        if L.ndim != 2 or L.shape[0] != L.shape[1]:
            raise InputError(f"the Laplacian must be square, got shape {L.shape}")
        self._lmax = None if lmax is None else _weight(lmax, "lmax")

    @property
    def L(self):
        """The Laplacian, as CSR (a symmetric CSC matrix is read transposed)."""
        L = getattr(self.graph, "L", self.graph)
        if sp.issparse(L) and L.format == "csr":
            return L
        if sp.issparse(L) and L.format == "csc":
            return L.T  # L symmetric: its transpose is a CSR view, no copy
        return sp.csr_matrix(L)

    @property
    def lmax(self):
        """Largest eigenvalue of L (computed once)."""
        if self._lmax is None:
            self._lmax = _linalg.laplacian_lmax(self.L)
        return self._lmax

    def _check(self, Z):
        if Z.shape[1] != self.L.shape[0]:
            raise InputError(
                f"the graph has {self.L.shape[0]} vertices but Z has "
                f"{Z.shape[1]} samples (columns): build the graph over the "
                "same samples"
            )

    def _eval(self, Z):
        self._check(Z)
        return 0.5 * self.lambda_ * _linalg.csr_quadratic(self.L, Z.T)

    def _grad(self, Z):
        self._check(Z)
        G = np.zeros_like(Z)
        _linalg.csr_matmul_add(self.L, Z.T, G.T, self.lambda_)
        return G

    def lipschitz(self):
        """Exact Lipschitz constant :math:`\\lambda \\lambda_{\\max}(L)`."""
        return self.lambda_ * self.lmax if self.lambda_ else 0.0

    def _hessian(self):
        return ("right", self.L, self.lambda_)

    def gradient_operator(self):
        r"""The graph gradient B, (n_edges, N) CSR, such that :math:`B^\top B = L`.

        Row e = (i, j), i < j, of B is :math:`\sqrt{w_{ij}}(\delta_i - \delta_j)`,
        scaled by :math:`D^{-1/2}` (degrees with self-loops) for the
        normalized Laplacian. Then :math:`\operatorname{tr}(Z L Z^\top) =
        \|Z B^\top\|_F^2`, which lets primal-dual solvers handle the graph
        term (or its total-variation variant :math:`\|Z B^\top\|_1`) in the
        dual. Needs a graph with ``W`` and ``lap_type`` (a PyGSP graph).

        Examples
        --------
        >>> import numpy as np, pygsp
        >>> W = np.array([[1.0, 2.0, 0.0], [2.0, 0.0, 1.0], [0.0, 1.0, 0.0]])
        >>> G = pygsp.graphs.Graph(W, lap_type="normalized")
        >>> B = dirichlet(G).gradient_operator()
        >>> B.shape, bool(np.allclose((B.T @ B).toarray(), G.L.toarray()))
        ((2, 3), True)
        """
        W = getattr(self.graph, "W", None)
        lap_type = getattr(self.graph, "lap_type", None)
        if W is None or lap_type not in ("combinatorial", "normalized"):
            raise InputError(
                "gradient_operator() needs a PyGSP graph with W and "
                "a combinatorial or normalized lap_type"
            )
        upper = sp.triu(W, k=1).tocoo()
        n_edges, N = upper.nnz, W.shape[0]
        w = np.sqrt(upper.data)
        rows = np.arange(n_edges)
        B = sp.csr_matrix((w, (rows, upper.row)), shape=(n_edges, N)) - sp.csr_matrix(
            (w, (rows, upper.col)), shape=(n_edges, N)
        )
        if lap_type == "normalized":
            d = np.asarray(W.sum(axis=1)).ravel()
            inv = np.divide(1.0, np.sqrt(d), out=np.zeros_like(d), where=d > 0)
            B = B @ sp.diags(inv)
        return sp.csr_matrix(B, dtype=self.L.dtype)


class sparsity(_term):
    r"""L1 norm of the codes (eval, prox), keeping the input's dtype.

    :math:`f(Z) = \lambda \|Z\|_1 = \lambda \sum_{ij} |z_{ij}|`.

    Notes
    -----
    :math:`\operatorname{prox}_{Tf}(V) = \operatorname{sign}(V)
    \max(|V| - \lambda T, 0)`, computed as :math:`V - \operatorname{clip}(V,
    -\lambda T, \lambda T)` (soft thresholding).

    Examples
    --------
    >>> import numpy as np
    >>> f = sparsity(lambda_=0.5)
    >>> V = np.array([[-2.0, 0.2, 1.0]], dtype=np.float32)
    >>> f.eval(V)
    1.6
    >>> f.prox(V, 1.0)
    array([[-1.5,  0. ,  0.5]], dtype=float32)
    """

    term_name = "sparsity"  # what messages call it

    _caps = ("EVAL", "PROX")

    def _eval(self, Z):
        return self.lambda_ * _linalg.abs_sum64(Z)

    def _prox(self, V, T):
        out = np.empty_like(V)
        self.prox_into(V, T, out)
        return out

    def prox_into(self, V, T, out):
        """Write the soft thresholding of `V` at ``lambda_ * T`` into `out`."""
        t = self.lambda_ * T
        np.clip(V, -t, t, out=out)
        np.subtract(V, out, out=out)
        return out


class squared_frobenius(_term):
    r"""Half the squared Frobenius norm (eval, grad, prox).

    :math:`f(U) = \frac{\lambda}{2} \|U\|_F^2`, the Dirichlet energy seen
    from the graph gradient (:meth:`dirichlet.gradient_operator`).

    Notes
    -----
    :math:`\nabla f(U) = \lambda U`, :math:`\operatorname{prox}_{Tf}(U) =
    U / (1 + \lambda T)`.

    Examples
    --------
    >>> import numpy as np
    >>> f = squared_frobenius(lambda_=2.0)
    >>> U = np.array([[1.0, -2.0]], dtype=np.float32)
    >>> f.eval(U), f.prox(U, 0.5)
    (5.0, array([[ 0.5, -1. ]], dtype=float32))
    """

    term_name = "squared_frobenius"  # what messages call it

    _caps = ("EVAL", "GRAD", "PROX")

    def _eval(self, U):
        return 0.5 * self.lambda_ * _linalg.vdot64(U)

    def _grad(self, U):
        return U * self.lambda_

    def _prox(self, U, T):
        return U / (1.0 + self.lambda_ * T)

    def lipschitz(self):
        r"""Exact Lipschitz constant :math:`\lambda`."""
        return self.lambda_


class proj_columns_b2(_term, functions.proj):
    r"""Indicator of the columns in the l2 ball (eval, prox).

    :math:`\iota(D) = 0` if :math:`\|d_j\|_2 \le r` for every column
    :math:`d_j`, :math:`+\infty` otherwise. Like every PyUNLocBoX projection it
    evaluates to 0.

    Notes
    -----
    The projection scales each column that lies outside the ball back to its
    surface, :math:`d_j \leftarrow d_j \, r / \max(\|d_j\|_2, r)`, and leaves
    the others unchanged (into the ball, not onto the sphere: a convex set).

    Examples
    --------
    >>> import numpy as np
    >>> p = proj_columns_b2()
    >>> D = np.array([[3.0, 0.1], [4.0, 0.2]], dtype=np.float32)
    >>> p.prox(D, 1.0)
    array([[0.6, 0.1],
           [0.8, 0.2]], dtype=float32)
    """

    term_name = "unit-ball constraint"  # what messages call it

    _caps = ("EVAL", "PROX")

    def __init__(self, radius=1.0):
        super().__init__()
        self.radius = float(radius)
        if not self.radius > 0:
            raise InputError(f"radius must be positive, got {radius}")

    def _eval(self, x):
        return 0.0

    def _prox(self, V, T):
        out = np.empty_like(V)
        self.prox_into(V, T, out)
        return out

    def prox_into(self, V, T, out):
        """Write the projection of `V` into `out` (T is unused)."""
        norms = np.sqrt(_linalg.column_sq_norms(V))
        scale = self.radius / np.maximum(norms, self.radius)
        np.multiply(V, scale.astype(V.dtype), out=out)
        return out


class _statistics_term(_term):
    """A quadratic term of a small variable, with cached sufficient statistics.

    f(V) = lambda/2 ||T - V S||^2 with T (k, N) and S (l, N): in a prepared
    state, eval and grad use P = S Sᵀ, Q = T Sᵀ and ||T||² (float64), which
    costs O(k l²) per call instead of O(k l N).
    """

    _caps = ("EVAL", "GRAD")

    def __init__(self, target, source, lambda_):
        super().__init__(lambda_)
        self._T, self._S = target, source
        self._stats = None

    def prepare(self):
        T, S = self._T, self._S
        self._stats = (_linalg.gram64(S), _linalg.gram64(T, S), _linalg.vdot64(T))

    def release(self):
        self._stats = None

    def _eval(self, V):
        if self._stats is None:
            total = 0.0
            for s in range(0, self._S.shape[1], BLOCK):
                R = V @ self._S[:, s : s + BLOCK]
                R -= self._T[:, s : s + BLOCK]
                total += _linalg.vdot64(R)
            return 0.5 * self.lambda_ * total
        P, Q, tt = self._stats
        V64 = V.astype(np.float64)
        value = tt - 2 * np.vdot(V64, Q) + np.vdot(V64, V64 @ P)
        return 0.5 * self.lambda_ * max(float(value), 0.0)

    def _grad(self, V):
        if self._stats is None:
            R = V @ self._S
            R -= self._T
            G = R @ self._S.T
        else:
            P, Q, _ = self._stats
            G = (V.astype(np.float64) @ P - Q).astype(V.dtype)
        G *= self.lambda_
        return G

    def lipschitz(self):
        """Exact Lipschitz constant :math:`\\lambda \\lambda_{\\max}(S S^\\top)`."""
        P = self._stats[0] if self._stats is not None else _linalg.gram64(self._S)
        return self.lambda_ * _linalg.sym_lmax(P)


class fidelity_d(_statistics_term):
    r"""Data fidelity as a function of the dictionary (eval, grad).

    :math:`f(D) = \frac{\lambda}{2} \|X - DZ\|_F^2` with X (n, N) and Z (m, N)
    held by reference.

    Notes
    -----
    :math:`\nabla f(D) = \lambda (DZ - X) Z^\top = \lambda (D\, ZZ^\top -
    XZ^\top)`, Lipschitz with constant :math:`\lambda \|Z\|_2^2 = \lambda
    \lambda_{\max}(ZZ^\top)`. During a solve the statistics :math:`ZZ^\top`
    (m, m) and :math:`XZ^\top` (n, m) are computed once (:meth:`prepare`), so
    each iteration costs :math:`O(nm^2)`, independent of N.

    Examples
    --------
    >>> import numpy as np
    >>> X = np.array([[1.0, 2.0]], dtype=np.float32)
    >>> Z = np.array([[1.0, 1.0]], dtype=np.float32)
    >>> f = fidelity_d(X, Z, lambda_=1.0)
    >>> D = np.zeros((1, 1), dtype=np.float32)
    >>> f.eval(D), f.grad(D), f.lipschitz()
    (2.5, array([[-3.]], dtype=float32), 2.0)
    >>> f.prepare(); f.eval(D), f.grad(D); f.release()
    (2.5, array([[-3.]], dtype=float32))
    """

    term_name = "data"  # what messages call it

    def __init__(self, X, Z, lambda_=1.0):
        _matrix(X, "X"), _matrix(Z, "Z")
        _check_inner(X.shape[1], Z.shape[1], "X and Z have one column per sample")
        super().__init__(X, Z, lambda_)
        self.X, self.Z = X, Z


class encoder_e(_statistics_term):
    r"""Encoder term as a function of the encoder (eval, grad).

    :math:`f(E) = \frac{\lambda}{2} \|Z - EX\|_F^2` with X (n, N) and Z (m, N)
    held by reference.

    Notes
    -----
    :math:`\nabla f(E) = \lambda (EX - Z) X^\top`, Lipschitz with constant
    :math:`\lambda \lambda_{\max}(XX^\top)`; the statistics :math:`XX^\top`
    and :math:`ZX^\top` are cached during a solve, as for :class:`fidelity_d`.

    Examples
    --------
    >>> import numpy as np
    >>> X = np.array([[1.0, 2.0]], dtype=np.float32)
    >>> Z = np.array([[2.0, 4.0]], dtype=np.float32)
    >>> f = encoder_e(X, Z, lambda_=1.0)
    >>> E = np.zeros((1, 1), dtype=np.float32)
    >>> f.eval(E), f.grad(E), f.lipschitz()
    (10.0, array([[-10.]], dtype=float32), 5.0)
    """

    term_name = "encoder"  # what messages call it

    def __init__(self, X, Z, lambda_=1.0):
        _matrix(X, "X"), _matrix(Z, "Z")
        _check_inner(X.shape[1], Z.shape[1], "X and Z have one column per sample")
        super().__init__(Z, X, lambda_)
        self.X, self.Z = X, Z


class smooth_sum(_term):
    r"""Sum of smooth terms as one smooth function (eval, grad).

    Forward-backward solvers take a single smooth function; this one adds
    the values and gradients of its terms. Terms with a zero weight are
    dropped (no cost in time or memory).

    Parameters
    ----------
    terms : list of func
        Smooth terms of the same variable, each with ``grad`` and
        ``lipschitz()``.

    Notes
    -----
    The Lipschitz constant is the sum of the terms' constants. For the codes
    problem it is exact: the Hessian is the Kronecker sum
    :math:`I \otimes (\lambda_d D^\top D + \lambda_e I) + \lambda_g L \otimes
    I`, whose largest eigenvalue is :math:`\lambda_d \|D\|_2^2 + \lambda_e +
    \lambda_g \lambda_{\max}(L)`. For other terms it is an upper bound.

    When prepared by a solver of :mod:`pyunlocbox_gae.solvers`, the terms of
    the codes problem are fused: the gradient step is one matrix product
    with :math:`I - t(\lambda_d D^\top D + \lambda_e I)` ("Gram" form), or
    with D then Dᵀ when the dictionary is overcomplete enough that this is
    cheaper ("factored" form, m > 2n), plus a cached constant
    :math:`t(\lambda_d D^\top X + \lambda_e EX)` and one sparse product with L.

    Examples
    --------
    >>> import numpy as np
    >>> X = np.ones((2, 3), dtype=np.float32)
    >>> D = np.eye(2, dtype=np.float32)
    >>> f = smooth_sum([fidelity_z(X, D, 1.0), encoder_z(X, D, 0.0)])
    >>> len(f.terms), f.eval(np.ones((2, 3), dtype=np.float32)), f.lipschitz()
    (1, 0.0, 1.0)
    """

    _caps = ("EVAL", "GRAD")

    def __init__(self, terms):
        super().__init__()
        self.terms = [t for t in terms if getattr(t, "lambda_", 1.0) != 0]
        self._plan = None

    def _eval(self, x):
        return float(sum(t.eval(x) for t in self.terms))

    def _grad(self, x):
        if not self.terms:
            return np.zeros_like(x)
        G = self.terms[0].grad(x)
        for t in self.terms[1:]:
            G += t.grad(x)
        return G

    def lipschitz(self):
        """Sum of the terms' Lipschitz constants (exact for the codes problem)."""
        return float(sum(t.lipschitz() for t in self.terms))

    def prepare(self):
        for t in self.terms:
            t.prepare()
        self._plan = _fused_plan(self.terms)

    def release(self):
        self._plan = None
        for t in self.terms:
            t.release()

    def forward_into(self, x, step, out):
        """Write ``x - step * grad(x)`` into `out` (fused when prepared)."""
        if self._plan is None or not self._plan.accepts(x, out):
            return super().forward_into(x, step, out)
        self._plan.forward_into(x, step, out)
        return out


class _fused_plan:
    """Gradient step of a sum of codes-problem terms in a few BLAS calls.

    Built only when every term is one of fidelity_z ("gram"), encoder_z
    ("identity") or dirichlet ("right"), with at most one fidelity term.
    """

    def __new__(cls, terms):
        kinds = [getattr(t, "_hessian", lambda: None)() for t in terms]
        if not terms or any(k is None for k in kinds):
            return None
        if sum(k[0] == "gram" for k in kinds) > 1:
            return None
        return super().__new__(cls)

    def __init__(self, terms):
        kinds = [t._hessian() for t in terms]
        self.shift = sum(w for k, _, w in kinds if k == "identity")
        self.right = [(L, w) for k, L, w in kinds if k == "right" and w]
        fid = [t for t, k in zip(terms, kinds, strict=True) if k[0] == "gram"]
        fid = fid[0] if fid else None
        self.factored = fid is not None and fid.D.shape[1] > 2 * fid.D.shape[0]
        self.fid = fid
        if fid is not None and not self.factored:
            self.G = _linalg.gram64(fid.D.T)  # DᵀD, (m, m), fixed during a solve
        # grad = H x - C: C gathers the constant parts; in factored form the
        # data term is applied through D and Dᵀ and needs no constant.
        offsets = [
            t._offset()
            for t, k in zip(terms, kinds, strict=True)
            if k[0] == "identity" or (k[0] == "gram" and not self.factored)
        ]
        self.C = self._constant(offsets)
        self._A = (None, None)

    @staticmethod
    def _constant(offsets):
        """sum_i M_i X_i as one (m, N) array; one GEMM when X is shared."""
        if not offsets:
            return None
        groups = {}
        for M, X in offsets:
            key = id(X)
            groups[key] = (groups[key][0] + M, X) if key in groups else (M, X)
        C = None
        for M, X in groups.values():
            M = np.asarray(M, dtype=X.dtype)
            # (N, n) @ (n, m) in sample-major layout, returned as an (m, N) view.
            part = np.matmul(X.T, M.T)
            C = part.T if C is None else C.__iadd__(part.T)
        return C

    def accepts(self, x, out):
        return (
            x.shape == out.shape
            and x.dtype == out.dtype
            and (
                (x.flags.f_contiguous and out.flags.f_contiguous)
                or (x.flags.c_contiguous and out.flags.c_contiguous)
            )
        )

    def _left(self, step, dtype):
        """I - step (lambda_d DᵀD + lambda_e I), cached for the current step."""
        if self._A[0] != (step, dtype):
            A = np.eye(self.G.shape[0]) * (1.0 - step * self.shift)
            A -= (step * self.fid.lambda_) * self.G
            self._A = ((step, dtype), A.astype(dtype))
        return self._A[1]

    def forward_into(self, x, step, out):
        if self.fid is None:
            np.multiply(x, 1.0 - step * self.shift, out=out)
        elif not self.factored:
            np.matmul(self._left(step, x.dtype), x, out=out)
        else:
            D, w = self.fid.D, self.fid.lambda_
            np.multiply(x, 1.0 - step * self.shift, out=out)
            R = D @ x
            R -= self.fid.X
            if out.flags.f_contiguous and D.dtype == out.dtype:
                gemm = blas.get_blas_funcs("gemm", (D, R, out))
                gemm(-step * w, D, R, beta=1.0, c=out, trans_a=1, overwrite_c=1)
            else:
                out -= (step * w) * (D.T @ R)
        if self.C is not None:
            _axpy(step, self.C, out)
        for L, w in self.right:
            _linalg.csr_matmul_add(L, x.T, out.T, -step * w)
