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
    linear
    nonnegative
    separable_sum
    graph_tv
    graph_gradient
    term
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

from pyunlocbox_gae import _fused, _linalg
from pyunlocbox_gae.errors import InputError

# Samples per block when a term evaluates itself: bounds temporaries to
# (n or m) x BLOCK whatever the number of samples.
BLOCK = 2048


def _sample_major(Z):
    """Whether the (m, N) array Z is a view of sample-major (N, m) memory."""
    return Z.ndim == 2 and Z.flags.f_contiguous and not Z.flags.c_contiguous


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


class term(functions.func):
    r"""Base class of the package's terms: a PyUNLocBoX function plus a fast path.

    Subclasses implement ``_eval`` and ``_grad`` or ``_prox`` as for any
    :class:`pyunlocbox.functions.func`. The methods below are the fast path
    that :mod:`pyunlocbox_gae.solvers` uses when it is there; each has a
    correct default, so a new term works everywhere without them:

    * :meth:`prepare` / :meth:`release`: cache what stays fixed during one
      solve;
    * :meth:`forward_into`: the gradient step written into a buffer;
    * ``prox_into(x, T, out)`` (optional): the proximal point written into a
      buffer;
    * :meth:`fused_form` / :meth:`fused_offset`: how a smooth term joins the
      fused gradient step of the codes problem (see
      :class:`smooth_sum`). A smooth term that returns None there is added
      to the step through its own ``grad`` — exact, with one temporary of
      the variable's size per iteration for that term alone — while the
      other terms keep their fused step.

    Parameters
    ----------
    lambda_ : float
        Weight of the term, finite and non-negative.
    """

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

    def fused_form(self):
        """The term's Hessian in a form the fused step knows, or None.

        One of ``("gram", D, w)`` (gradient w Dᵀ(DZ - X)), ``("identity",
        None, w)`` (w (Z - c)) or ``("right", L, w)`` (w Z L); None (the
        default) puts the term on the generic path.
        """
        return None

    def fused_offset(self):
        """(M, X) such that the constant part of the gradient is -M X."""
        raise NotImplementedError(f"{type(self).__name__} has no fused form")


def graph_gradient(graph, dtype=None):
    r"""The graph gradient B, (n_edges, N) CSR, such that :math:`B^\top B = L`.

    Row e = (i, j), i < j, of B is :math:`\sqrt{w_{ij}}(\delta_i - \delta_j)`,
    scaled by :math:`D^{-1/2}` (degrees with self-loops) for the normalized
    Laplacian, so that :math:`\operatorname{tr}(Z L Z^\top) = \|Z B^\top\|_F^2`
    and :math:`\|Z B^\top\|_1` is the graph total variation of the codes.

    Parameters
    ----------
    graph : pygsp.graphs.Graph
        A graph with ``W`` and a combinatorial or normalized ``lap_type``.
    dtype : dtype, optional
        Of the result; the Laplacian's by default.

    Examples
    --------
    >>> import numpy as np, pygsp
    >>> W = np.array([[1.0, 2.0, 0.0], [2.0, 0.0, 1.0], [0.0, 1.0, 0.0]])
    >>> G = pygsp.graphs.Graph(W, lap_type="normalized")
    >>> B = graph_gradient(G)
    >>> B.shape, bool(np.allclose((B.T @ B).toarray(), G.L.toarray()))
    ((2, 3), True)
    """
    W = getattr(graph, "W", None)
    lap_type = getattr(graph, "lap_type", None)
    if W is None or lap_type not in ("combinatorial", "normalized"):
        raise InputError(
            "the graph gradient needs a PyGSP graph with W and "
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
    dtype = dtype if dtype is not None else getattr(graph, "L", W).dtype
    return sp.csr_matrix(B, dtype=dtype)


class fidelity_z(term):
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
        if _sample_major(Z):
            # Residual blocks (B, n) = Zᵀ Dᵀ - Xᵀ: every operand read in its
            # memory order (mixing C and Fortran blocks made BLAS copy them).
            Zs, Xs, Dt = Z.T, self.X.T, self.D.T
            for s in range(0, Zs.shape[0], BLOCK):
                R = Zs[s : s + BLOCK] @ Dt
                R -= Xs[s : s + BLOCK]
                total += _linalg.vdot64(R)
            return 0.5 * self.lambda_ * total
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

    def fused_form(self):
        return ("gram", self.D, self.lambda_)

    def fused_offset(self):
        # grad = H Z - c with c = lambda D^T X = (lambda D^T) X.
        return self.lambda_ * self.D.T, self.X


class encoder_z(term):
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

    def prepare(self):
        """Compute the target EX once for a solve (E and X stay fixed).

        It is kept sample-major ((N, m) in memory, as the codes) and serves
        the evaluations and, in factored form, the gradient step's constant
        (:meth:`fused_constant`): one array of the codes' size for the solve
        instead of a matrix product per evaluation.
        """
        self._EX = np.matmul(self.X.T, self.E.T).T if self.lambda_ else None

    def release(self):
        self._EX = None

    def cached_target(self):
        """EX (m, N) while prepared, else None."""
        return getattr(self, "_EX", None)

    def _target(self, s=0, e=None):
        EX = self.cached_target()
        if EX is not None:
            return EX[:, s:e]
        return self.E @ self.X[:, s:e]

    def _eval(self, Z):
        _check_inner(Z.shape, (self.E.shape[0], self.X.shape[1]), "Z is (m, N)")
        EX = self.cached_target()
        if EX is not None:
            return 0.5 * self.lambda_ * _linalg.diff_sq64(Z, EX)
        total = 0.0
        if _sample_major(Z):
            Zs, Xs, Et = Z.T, self.X.T, self.E.T
            for s in range(0, Zs.shape[0], BLOCK):
                total += _linalg.diff_sq64(Zs[s : s + BLOCK], Xs[s : s + BLOCK] @ Et)
            return 0.5 * self.lambda_ * total
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
        out = np.multiply(self._target(), a, dtype=V.dtype)  # never the cache
        out += V
        out /= 1.0 + a
        return out

    def lipschitz(self):
        """Exact Lipschitz constant :math:`\\lambda`."""
        return self.lambda_

    def fused_form(self):
        return ("identity", None, self.lambda_)

    def fused_offset(self):
        return self.lambda_ * self.E, self.X

    def fused_constant(self):
        """``(EX, lambda_)``: the constant part of the gradient is -λ EX.

        The fused step asks for it when this term's constant is the only one
        (factored form): the gradient step then reads the EX cached by
        :meth:`prepare` (computed here if not prepared), no array of its own.
        """
        if self.cached_target() is None:
            self._EX = np.matmul(self.X.T, self.E.T).T
        return self._EX, self.lambda_


class dirichlet(term):
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
        self._symmetric_of = None

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

    def symmetric(self):
        """Whether L is symmetric, checked once per Laplacian object.

        The gradient λ Z L is that of the term only for a symmetric L (as any
        graph Laplacian); the value then needs only the entries on and above
        the diagonal, half the work (:func:`pyunlocbox_gae._linalg.csr_quadratic`).
        """
        raw = getattr(self.graph, "L", self.graph)
        if self._symmetric_of is not raw:
            self._symmetric = _linalg.is_symmetric(self.L)
            self._symmetric_of = raw
        return self._symmetric

    def _eval(self, Z):
        self._check(Z)
        value = _linalg.csr_quadratic(self.L, Z.T, symmetric=self.symmetric())
        return 0.5 * self.lambda_ * value

    def _grad(self, Z):
        self._check(Z)
        G = np.zeros_like(Z)
        _linalg.csr_matmul_add(self.L, Z.T, G.T, self.lambda_)
        return G

    def lipschitz(self):
        """Exact Lipschitz constant :math:`\\lambda \\lambda_{\\max}(L)`."""
        return self.lambda_ * self.lmax if self.lambda_ else 0.0

    def fused_form(self):
        return ("right", self.L, self.lambda_)

    def gradient_operator(self):
        """The graph gradient B of this term's graph (:func:`graph_gradient`)."""
        return graph_gradient(self.graph, self.L.dtype)


class sparsity(term):
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


class squared_frobenius(term):
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


class linear(term):
    r"""A fixed linear term :math:`f(Z) = \langle C, Z \rangle` (eval, grad).

    The coupling of a block of codes to codes held fixed elsewhere: the
    neighbours of another block in the Dirichlet energy, or the training
    codes that anchor new samples. Held by reference.

    Parameters
    ----------
    C : ndarray
        Same shape as the variable.

    Notes
    -----
    :math:`\nabla f = C`, Lipschitz with constant 0; in the fused step it
    only shifts the cached constant.

    Examples
    --------
    >>> import numpy as np
    >>> f = linear(np.array([[1.0, -2.0]], dtype=np.float32))
    >>> f.eval(np.array([[3.0, 1.0]], dtype=np.float32)), f.lipschitz()
    (1.0, 0.0)
    """

    term_name = "linear"  # what messages call it

    _caps = ("EVAL", "GRAD")

    def __init__(self, C):
        super().__init__()
        self.C = _matrix(C, "C")

    def _eval(self, Z):
        _check_inner(Z.shape, self.C.shape, "Z and C have the same shape")
        return _linalg.vdot64(self.C, Z)

    def _grad(self, Z):
        return np.array(self.C, dtype=Z.dtype, copy=True)

    def lipschitz(self):
        """Exact Lipschitz constant: 0."""
        return 0.0

    def fused_form(self):
        return ("constant", self.C, 1.0)


class nonnegative(term):
    r"""Indicator of non-negative codes (eval, prox): a box constraint.

    :math:`\iota(Z) = 0` if every :math:`z_{ij} \ge 0`, :math:`+\infty`
    otherwise; as every PyUNLocBoX projection it evaluates to 0.

    Notes
    -----
    :math:`\operatorname{prox}(V) = \max(V, 0)`. Being the indicator of a
    box, it composes exactly with any separable term (see
    :class:`separable_sum`), so non-negative sparse codes keep the fast
    forward-backward solvers.

    Examples
    --------
    >>> import numpy as np
    >>> nonnegative().prox(np.array([[-1.0, 2.0]], dtype=np.float32), 1.0)
    array([[0., 2.]], dtype=float32)
    """

    term_name = "positive"  # what messages call it

    _caps = ("EVAL", "PROX")

    box = (0.0, np.inf)  # the interval every entry is kept in

    def _eval(self, Z):
        return 0.0

    def _prox(self, V, T):
        return np.maximum(V, 0, dtype=V.dtype)

    def prox_into(self, V, T, out):
        """Write ``max(V, 0)`` into `out`."""
        np.maximum(V, 0, out=out)
        return out


class separable_sum(term):
    r"""One separable term plus box constraints, with an exact proximal map.

    For a function :math:`g` that acts entry by entry (the l1 norm) and the
    indicator :math:`\iota_{[a, b]}` of a box, the proximal map of the sum is
    the composition :math:`\operatorname{clip}(\operatorname{prox}_g(V), a,
    b)`: in one dimension the minimiser of a convex function over an interval
    is its unconstrained minimiser clipped to the interval. This lets
    forward-backward solvers take several non-smooth terms of one block
    when all but one are boxes.

    Parameters
    ----------
    terms : list of func
        At most one term without a ``box`` attribute (it must be separable
        entry by entry, as :class:`sparsity`), and any number of terms with a
        ``box = (low, high)`` attribute (as :class:`nonnegative`).

    Examples
    --------
    >>> import numpy as np
    >>> f = separable_sum([sparsity(0.5), nonnegative()])
    >>> f.prox(np.array([[-2.0, 0.2, 1.0]], dtype=np.float32), 1.0)
    array([[0. , 0. , 0.5]], dtype=float32)
    """

    _caps = ("EVAL", "PROX")

    def __init__(self, terms):
        super().__init__()
        self.terms = list(terms)
        general = [t for t in self.terms if not hasattr(t, "box")]
        if len(general) > 1:
            names = ", ".join(
                getattr(t, "term_name", type(t).__name__) for t in general
            )
            raise InputError(
                f"separable_sum takes one separable term and box constraints; "
                f"got several that are not boxes ({names}): use a primal-dual "
                "or generalized forward-backward solver for their sum"
            )
        self.general = general[0] if general else None
        boxes = [t.box for t in self.terms if hasattr(t, "box")]
        self.low = max((b[0] for b in boxes), default=-np.inf)
        self.high = min((b[1] for b in boxes), default=np.inf)
        if self.low > self.high:
            raise InputError(f"the boxes do not intersect: [{self.low}, {self.high}]")
        self.term_name = " + ".join(
            getattr(t, "term_name", type(t).__name__) for t in self.terms
        )

    def _eval(self, Z):
        return float(sum(t.eval(Z) for t in self.terms))

    def _prox(self, V, T):
        out = np.empty_like(V)
        self.prox_into(V, T, out)
        return out

    def prox_into(self, V, T, out):
        """Write the proximal point of the sum into `out`."""
        g = self.general
        if g is None:
            out[...] = V
        elif hasattr(g, "prox_into"):
            g.prox_into(V, T, out)
        else:
            out[...] = g.prox(V, T)
        if np.isfinite(self.low) or np.isfinite(self.high):
            low = None if not np.isfinite(self.low) else self.low
            high = None if not np.isfinite(self.high) else self.high
            np.clip(out, low, high, out=out)
        return out


class graph_tv(term):
    r"""Graph total variation of the codes (eval): :math:`\lambda \|Z B^\top\|_1`.

    :math:`f(Z) = \lambda \sum_{(i, j) \in \mathcal{E}} \sqrt{w_{ij}}
    \|z_i - z_j\|_1` (degree-normalised for the normalized Laplacian), with
    B the graph gradient (:func:`graph_gradient`). Where the Dirichlet energy
    shrinks every difference between neighbours, the total variation sets
    many of them exactly to zero: codes piecewise constant on the graph.

    Parameters
    ----------
    graph : pygsp.graphs.Graph
        Graph over the samples (columns of Z), with ``W`` and ``lap_type``.
    lambda_ : float
        Weight :math:`\lambda_t \ge 0`.
    lmax : float, optional
        Largest eigenvalue of the graph's Laplacian, when known (an upper
        bound is safe); computed when needed otherwise.

    Notes
    -----
    It has no closed-form proximal map; primal-dual solvers handle it in the
    dual through :meth:`operator` (B, with :math:`\|B\|_2^2 = \lambda_{\max}
    (L)`) and :meth:`dual_term` (:math:`\lambda \|U\|_1` on :math:`U = Z
    B^\top`, whose proximal map is soft thresholding).

    Examples
    --------
    >>> import numpy as np, pygsp
    >>> G = pygsp.graphs.Graph(np.array([[0.0, 4.0], [4.0, 0.0]]),
    ...                        lap_type="combinatorial")
    >>> graph_tv(G, lambda_=0.5).eval(np.array([[1.0, 3.0]]))
    2.0
    """

    term_name = "graph_tv"  # what messages call it

    _caps = ("EVAL",)

    def __init__(self, graph, lambda_=1.0, lmax=None):
        super().__init__(lambda_)
        self.graph = graph
        self._B = None
        self._lmax = None if lmax is None else _weight(lmax, "lmax")

    def operator_norm(self):
        """:math:`\\|B\\|_2 = \\sqrt{\\lambda_{\\max}(L)}` (an upper bound)."""
        if self._lmax is None:
            self._lmax = _linalg.laplacian_lmax(dirichlet(self.graph).L)
        return float(np.sqrt(self._lmax))

    def operator(self):
        """The graph gradient B (n_edges, N), computed once."""
        if self._B is None:
            self._B = graph_gradient(self.graph)
        return self._B

    def apply(self, Z):
        """U = Z Bᵀ, (m, n_edges), computed sample-major."""
        B = self.operator()
        return (B @ Z.T).T

    def apply_adjoint(self, U):
        """Z = U B, the adjoint of :meth:`apply`."""
        B = self.operator()
        return (B.T @ U.T).T

    def dual_term(self):
        r""":math:`\lambda \|U\|_1`, the term as a function of U = Z Bᵀ."""
        return sparsity(self.lambda_)

    def _eval(self, Z):
        B = self.operator()
        if Z.shape[1] != B.shape[1]:
            raise InputError(
                f"the graph has {B.shape[1]} vertices but Z has {Z.shape[1]} "
                "samples (columns): build the graph over the same samples"
            )
        return self.lambda_ * _linalg.abs_sum64(B @ Z.T)


class proj_columns_b2(term, functions.proj):
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


class _statistics_term(term):
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

    @classmethod
    def from_statistics(cls, P, Q, tt, lambda_=1.0):
        """The term from its statistics alone: P = S Sᵀ, Q = T Sᵀ, tt = ||T||².

        For statistics summed elsewhere (over blocks of samples on several
        machines, say): the term evaluates itself and its gradient from
        them, and preparing it is a no-op.
        """
        self = cls.__new__(cls)
        term.__init__(self, lambda_)
        self._T = self._S = None
        self._stats = (P, Q, float(tt))
        return self

    def prepare(self):
        T, S = self._T, self._S
        if S is None:  # made from statistics: nothing to compute
            return
        self._stats = (_linalg.gram64(S), _linalg.gram64(T, S), _linalg.vdot64(T))

    def release(self):
        if self._S is not None:
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


class smooth_sum(term):
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
        forms = [getattr(t, "fused_form", lambda: None)() for t in self.terms]
        fusable = any(f is not None for f in forms)
        self._plan = _fused.FusedPlan(self.terms) if fusable else None

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
