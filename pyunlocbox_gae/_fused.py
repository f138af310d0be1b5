"""
The fused gradient step of the codes problem's smooth terms.

A term of :mod:`pyunlocbox_gae.functions` joins the fused step by declaring
its Hessian through :meth:`~pyunlocbox_gae.functions.term.fused_form`:

* ``("gram", D, w)``: w Dᵀ(D Z - X), applied as one matrix product with
  I - t w DᵀD (or through D and Dᵀ when the dictionary is overcomplete);
* ``("identity", None, w)``: w (Z - c), a scalar shift;
* ``("right", L, w)``: w Z L, one sparse product with the graph Laplacian;
* ``("constant", C, w)``: w C, a gradient that does not depend on Z;

and its constant part through ``fused_offset()`` (M, X) with c = M X. A
smooth term without a fused form is still exact: its gradient is added after
the fused part (one temporary of Z's size per iteration for that term only),
so the other terms keep their fused step.

A whole FISTA (or ISTA) iteration of the codes problem can also run as one
matrix product followed by one pass over the samples
(:meth:`FusedPlan.fista_rows`): the graph product, the constant, the soft
thresholding (and box) and the momentum are applied row by row while the row
is in cache, instead of in five passes over arrays of the codes' size.
"""

import numba
import numpy as np
import scipy.sparse as sp
from scipy.linalg import blas

from pyunlocbox_gae import _linalg


def axpy(alpha, x, y):
    """y += alpha * x in place, through BLAS when no temporary is needed."""
    if alpha == 0:
        return
    same = (x.flags.c_contiguous and y.flags.c_contiguous) or (
        x.flags.f_contiguous and y.flags.f_contiguous
    )
    if same and x.dtype == y.dtype and x.dtype in (np.float32, np.float64):
        blas_axpy = blas.get_blas_funcs("axpy", (x, y))
        blas_axpy(x.ravel(order="K"), y.ravel(order="K"), a=alpha)
    else:
        y += alpha * x


@numba.njit(inline="always")
def shrink(v, thr):
    """Soft threshold, v - clip(v, -thr, thr), inside numba kernels.

    Written with comparisons so that NaN and inf pass through as in numpy
    (``np.clip`` is not what a compiled inner loop can call per element).
    """
    t = v
    if t > thr:
        t = thr
    elif t < -thr:
        t = -thr
    return v - t


# Hand-written because no library fuses a CSR product with an element-wise
# update: scipy allocates L @ Y and then every step is another pass over
# arrays of the codes' size. Rows are processed in chunks so that each
# thread allocates its accumulator once.
@numba.njit(parallel=True, cache=True, nogil=True, fastmath=_linalg.REDUCE)
def _fista_rows(indptr, indices, data, alpha, Y, W, C, c_scale, y_scale, Z, thr,
                low, high, beta):  # fmt: skip
    N, m = Y.shape
    # A zero scale skips C, as BLAS's axpy does (an underflowed step times
    # an overflowed constant must not make NaN where the step-by-step path
    # made none).
    has_c = C.shape[0] == N and c_scale != 0
    box = low > -np.inf or high < np.inf
    n_chunks = min(N, 256)
    for k in numba.prange(n_chunks):
        acc = np.empty(m, Y.dtype)
        for i in range(k * N // n_chunks, (k + 1) * N // n_chunks):
            # Forward step: W (the matrix product) + y_scale y + c_scale c
            # + alpha (L Y)_i.
            for c in range(m):
                acc[c] = W[i, c] + y_scale * Y[i, c]
            if has_c:
                for c in range(m):
                    acc[c] += c_scale * C[i, c]
            # Four neighbours per sweep of the accumulator: a quarter of its
            # loads and stores (measured 1.1-1.3x on the whole pass).
            jj, end = indptr[i], indptr[i + 1]
            while jj + 4 <= end:
                j0, j1, j2, j3 = (
                    indices[jj],
                    indices[jj + 1],
                    indices[jj + 2],
                    indices[jj + 3],
                )
                w0, w1 = alpha * data[jj], alpha * data[jj + 1]
                w2, w3 = alpha * data[jj + 2], alpha * data[jj + 3]
                for c in range(m):
                    acc[c] += (w0 * Y[j0, c] + w1 * Y[j1, c]) + (
                        w2 * Y[j2, c] + w3 * Y[j3, c]
                    )
                jj += 4
            while jj < end:
                j = indices[jj]
                w = alpha * data[jj]
                for c in range(m):
                    acc[c] += w * Y[j, c]
                jj += 1
            # Backward step, the soft threshold then the box; then the
            # momentum, y = z + beta (z - z_old), into W.
            for c in range(m):
                z = shrink(acc[c], thr)
                if box:
                    if z < low:
                        z = low
                    elif z > high:
                        z = high
                if beta != 0:
                    W[i, c] = z + beta * (z - Z[i, c])
                else:
                    W[i, c] = z
                Z[i, c] = z


class FusedPlan:
    """Gradient step of a sum of smooth terms in a few BLAS calls.

    Attributes
    ----------
    fused : list
        The terms whose step is fused (at most one "gram" term).
    generic : list
        The terms applied through their own ``grad`` after the fused part.
    """

    def __init__(self, terms):
        kinds = [getattr(t, "fused_form", lambda: None)() for t in terms]
        self.fused, self.generic, forms = [], [], []
        for term, kind in zip(terms, kinds, strict=True):
            duplicate_gram = (
                kind is not None
                and kind[0] == "gram"
                and any(k[0] == "gram" for k in forms)
            )
            if kind is None or duplicate_gram:
                self.generic.append(term)
            else:
                self.fused.append(term)
                forms.append(kind)
        self.shift = sum(w for k, _, w in forms if k == "identity")
        self.right = [(L, w) for k, L, w in forms if k == "right" and w]
        fid = [t for t, k in zip(self.fused, forms, strict=True) if k[0] == "gram"]
        fid = fid[0] if fid else None
        self.factored = fid is not None and fid.D.shape[1] > 2 * fid.D.shape[0]
        self.fid = fid
        if fid is not None and not self.factored:
            self.G = _linalg.gram64(fid.D.T)  # DᵀD, (m, m), fixed during a solve
        # grad = H x - C: C gathers the constant parts; in factored form the
        # data term is applied through D and Dᵀ and needs no constant.
        with_offset = [
            t
            for t, k in zip(self.fused, forms, strict=True)
            if k[0] == "identity" or (k[0] == "gram" and not self.factored)
        ]
        constants = [k for k in forms if k[0] == "constant" and k[2]]
        # One term whose constant is already computed (the encoder's EX in
        # factored form): used as it is, scaled, with no array of its own.
        ready = (
            getattr(with_offset[0], "fused_constant", lambda: None)()
            if len(with_offset) == 1 and not constants
            else None
        )
        if ready is not None:
            self.C, self.c_scale = ready
        else:
            self.C, self.c_scale = (
                self._constant([t.fused_offset() for t in with_offset]),
                1.0,
            )
            for _kind, C, w in constants:  # grad = ... + w C: the constant is -w C
                part = (-w * C).astype(C.dtype, copy=False)
                self.C = part if self.C is None else self.C.__iadd__(part)
        self._A = (None, None)
        self._rows = {}  # buffers and casts of the row pass, made on first use

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
        """Write ``x - step * grad(x)`` into `out`."""
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
            axpy(step * self.c_scale, self.C, out)
        for L, w in self.right:
            _linalg.csr_matmul_add(L, x.T, out.T, -step * w)
        for term in self.generic:  # the documented slower path
            axpy(-step, term.grad(x), out)
        return out

    def accepts_rows(self, x):
        """Whether :meth:`fista_rows` can run on x: sample-major (an (m, N)
        view of (N, m) memory), float, at most one graph term in CSR."""
        return (
            x.ndim == 2
            and x.flags.f_contiguous
            and x.dtype in (np.float32, np.float64)
            and len(self.right) <= 1
            and all(sp.issparse(L) and L.format == "csr" for L, _ in self.right)
        )

    def _graph(self, N, dtype):
        """(indptr, indices, data, weight) of the graph product, in `dtype`."""
        key = ("graph", dtype)
        if key not in self._rows:
            if self.right:
                L, w = self.right[0]
                data = np.asarray(L.data, dtype=dtype)  # a copy only to cast
                self._rows[key] = (L.indptr, L.indices, data, w)
            else:
                empty = np.zeros(N + 1, dtype=np.int32)
                self._rows[key] = (empty, empty[:0], np.zeros(0, dtype), 0.0)
        return self._rows[key]

    def fista_rows(self, y, x, out, step, thr, low=-np.inf, high=np.inf, beta=0.0):
        """One forward-backward iteration from y, then the momentum.

        Writes the proximal point z = prox(y - step grad(y)) into `x` (whose
        entries are the previous iterate) and y + beta (z - x) into `out`,
        for the proximal map of a soft threshold at `thr` followed by a clip
        to [low, high]. All three are (m, N) views of sample-major memory
        (:meth:`accepts_rows`); `y` is read only.
        """
        ys, xs, ws = y.T, x.T, out.T  # (N, m), C-contiguous
        N, m = ys.shape
        dt = ys.dtype.type
        y_scale = 1.0 - step * self.shift
        if self.fid is None:
            ws[...] = 0.0
        elif not self.factored:
            np.matmul(ys, self._left(step, ys.dtype), out=ws)
            y_scale = 0.0  # the shift is inside I - step (ld DᵀD + le I)
        else:
            D, X = self.fid.D, self.fid.X
            key = ("factored", step, ys.dtype)
            if key not in self._rows:
                self._rows = {k: v for k, v in self._rows.items() if k[0] != key[0]}
                R = np.empty((N, D.shape[0]), dtype=ys.dtype)
                Dt = np.ascontiguousarray(D.T, dtype=ys.dtype)
                Dneg = np.ascontiguousarray(D * (-step * self.fid.lambda_), ys.dtype)
                self._rows[key] = (R, Dt, Dneg)
            R, Dt, Dneg = self._rows[key]
            np.matmul(ys, Dt, out=R)  # (N, n): the residual, sample-major
            R -= X.T
            np.matmul(R, Dneg, out=ws)
        for term in self.generic:  # the documented slower path
            axpy(-step, term.grad(y), out)
        indptr, indices, data, w = self._graph(N, ys.dtype)
        C = self.C.T if self.C is not None else np.zeros((0, m), ys.dtype)
        _fista_rows(
            indptr, indices, data, dt(-step * w), ys, ws, C,
            dt(step * self.c_scale), dt(y_scale), xs, dt(thr), dt(low), dt(high),
            dt(beta),
        )  # fmt: skip
        return x
