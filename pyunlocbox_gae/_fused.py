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
"""

import numpy as np
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
        offsets = [
            t.fused_offset()
            for t, k in zip(self.fused, forms, strict=True)
            if k[0] == "identity" or (k[0] == "gram" and not self.factored)
        ]
        self.C = self._constant(offsets)
        for k, C, w in forms:  # grad = ... + w C: the constant part is -w C
            if k == "constant" and w:
                part = (-w * C).astype(C.dtype, copy=False)
                self.C = part if self.C is None else self.C.__iadd__(part)
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
            axpy(step, self.C, out)
        for L, w in self.right:
            _linalg.csr_matmul_add(L, x.T, out.T, -step * w)
        for term in self.generic:  # the documented slower path
            axpy(-step, term.grad(x), out)
        return out
