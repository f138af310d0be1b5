"""Numerical building blocks shared by the objective terms and solvers.

Reductions over big arrays accumulate in float64 block by block, so that
objective values stay accurate in float32 without a float64 copy of the data.
The sparse kernels are written with numba (installed with librosa) because
scipy's CSR product allocates its result, runs on one core, and cannot
accumulate into an existing array; the alternating solver calls them on every
iteration.
"""

import numba
import numpy as np
import scipy.sparse as sp
from scipy.sparse.linalg import ArpackNoConvergence, eigsh

from pyunlocbox_gae.errors import InputError

# Rows per block in float64-accumulated reductions: big enough for BLAS to
# run at full speed, small enough that a converted block stays in cache.
BLOCK = 8192

# LLVM may reorder sums (and fuse multiply-adds) in the reductions below, so
# that they run on SIMD lanes; NaN and inf keep their IEEE meaning (no
# "fast" flags about them), which the divergence guard relies on.
REDUCE = {"reassoc", "contract"}


def _as_row_major(*arrays):
    """Views of same-shape arrays whose first axis is the slow one in memory.

    Math-oriented (m, N) arrays of this package are usually F-ordered views of
    C-ordered (N, m) arrays; reducing over their transpose walks memory in
    order.
    """
    if (
        arrays[0].ndim == 2
        and arrays[0].flags.f_contiguous
        and not (arrays[0].flags.c_contiguous)
    ):
        return [a.T for a in arrays]
    return list(arrays)


def _rows(a):
    """A 2-D view of `a`, one row per slow-axis index, rows contiguous if possible."""
    (a,) = _as_row_major(a)
    return _as_2d(a)


def _as_2d(a):
    """`a` as a 2-D array with its first axis kept (no reorientation)."""
    if a.ndim == 0:
        return a.reshape(1, 1)
    if a.ndim == 1:
        return a.reshape(1, -1)
    if a.size == 0:  # reshape cannot infer -1 from nothing
        return a.reshape(a.shape[0], 0)
    return a.reshape(a.shape[0], -1)


@numba.njit(parallel=True, cache=True, nogil=True, fastmath=REDUCE)
def _dot_rows(a, b):
    total = 0.0
    for i in numba.prange(a.shape[0]):
        row = 0.0
        for j in range(a.shape[1]):
            row += np.float64(a[i, j]) * np.float64(b[i, j])
        total += row
    return total


@numba.njit(parallel=True, cache=True, nogil=True, fastmath=REDUCE)
def _abs_sum_rows(a):
    total = 0.0
    for i in numba.prange(a.shape[0]):
        row = 0.0
        for j in range(a.shape[1]):
            row += abs(np.float64(a[i, j]))
        total += row
    return total


def vdot64(a, b=None):
    """sum(a * b) (or sum(a * a)) of real arrays, accumulated in float64.

    Examples
    --------
    >>> a = np.full((3, 100000), 0.1, dtype=np.float32)
    >>> round(vdot64(a), 3)
    3000.0
    """
    a = np.asarray(a)
    if b is None:
        rows = _rows(a)
        return float(_dot_rows(rows, rows))
    b = np.asarray(b)
    if a.shape != b.shape:
        raise InputError(f"shapes differ: {a.shape} and {b.shape}")
    # Both oriented as the first one, so that element (i, j) of one meets
    # element (i, j) of the other whatever their memory orders.
    ra, rb = (_as_2d(x) for x in _as_row_major(a, b))
    return float(_dot_rows(ra, rb))


def abs_sum64(a):
    """sum(|a|) accumulated in float64.

    Examples
    --------
    >>> round(abs_sum64(np.full((2, 50000), -0.1, dtype=np.float32)), 3)
    10000.0
    """
    return float(_abs_sum_rows(_rows(np.asarray(a))))


def count_nonzero(a):
    """Number of non-zero entries (no temporary of a's size)."""
    return int(np.count_nonzero(a))


def gram64(A, B=None):
    """A @ B.T (or A @ A.T) for wide A, B, summed in float64 over column blocks.

    Used for the small sufficient statistics Z Zᵀ, X Zᵀ, X Xᵀ of the
    dictionary and encoder steps: the products are computed in the input
    precision by BLAS on blocks of samples, and the blocks summed in float64,
    which keeps float32 statistics over a million samples accurate.
    """
    B = A if B is None else B
    out = np.zeros((A.shape[0], B.shape[0]), dtype=np.float64)
    N = A.shape[1]
    cols = max(1, BLOCK * 8)
    for s in range(0, N, cols):
        a = A[:, s : s + cols]
        b = a if B is A else B[:, s : s + cols]
        out += a @ b.T
    return out


def spectral_norm_sq(A):
    """Largest eigenvalue of AᵀA (exact, from the SVD of a small matrix)."""
    A = np.asarray(A, dtype=np.float64)
    if A.size == 0:
        return 0.0
    return float(np.linalg.norm(A, 2) ** 2)


def sym_lmax(S):
    """Largest eigenvalue of a small symmetric matrix (exact)."""
    S = np.asarray(S, dtype=np.float64)
    if S.size == 0:
        return 0.0
    return float(np.linalg.eigvalsh(S)[-1])


def laplacian_lmax(L, tol=1e-6):
    """Largest eigenvalue of a symmetric PSD sparse matrix, never below it.

    The Lanczos Ritz value is a lower bound of the largest eigenvalue; adding
    the residual norm ||L v - θ v|| of its Ritz vector turns it into an upper
    bound (some eigenvalue lies within the residual of θ), so the step
    1/Lipschitz built from it is always safe and at most ~tol too small.

    Examples
    --------
    >>> import scipy.sparse as sp
    >>> L = sp.diags([1.0, 2.0, 3.0], format="csr")
    >>> lmax = laplacian_lmax(L)
    >>> 3.0 <= lmax < 3.0 + 1e-6
    True
    """
    N = L.shape[0]
    if N == 0 or L.nnz == 0:
        return 0.0
    L64 = sp.csr_matrix(L, dtype=np.float64)
    if N <= 64:
        w, V = np.linalg.eigh(L64.toarray())
        theta, v = w[-1], V[:, -1]
    else:
        # A fixed random start: the constant vector lies in the null space
        # of a combinatorial Laplacian, where Lanczos breaks down at once.
        v0 = np.random.default_rng(0).standard_normal(N)
        try:
            w, V = eigsh(
                L64, k=1, which="LA", tol=tol, v0=v0, ncv=min(N, 20), maxiter=10 * N
            )
        except ArpackNoConvergence as err:  # pragma: no cover - fallback
            if len(err.eigenvalues) == 0:
                raise
            w, V = err.eigenvalues, err.eigenvectors
        theta, v = w[-1], V[:, -1]
    residual = np.linalg.norm(L64 @ v - theta * v) / np.linalg.norm(v)
    return float(max(theta, 0.0) + residual)


# ---------------------------------------------------------------------------
# Sparse kernels on sample-major arrays: Y is (N, m), one row per sample.


@numba.njit(parallel=True, cache=True, nogil=True)
def _csr_matmul_add(indptr, indices, data, Y, out, alpha):
    m = Y.shape[1]
    for i in numba.prange(out.shape[0]):  # the rows of L, not of Y
        for jj in range(indptr[i], indptr[i + 1]):
            j = indices[jj]
            w = alpha * data[jj]
            for c in range(m):
                out[i, c] += w * Y[j, c]


@numba.njit(parallel=True, cache=True, nogil=True, fastmath=REDUCE)
def _diff_sq_rows(a, b):
    total = 0.0
    for i in numba.prange(a.shape[0]):
        row = 0.0
        for j in range(a.shape[1]):
            d = np.float64(a[i, j]) - np.float64(b[i, j])
            row += d * d
        total += row
    return total


@numba.njit(parallel=True, cache=True, nogil=True, fastmath=REDUCE)
def _csr_quadratic_sym(indptr, indices, data, Y):
    # A symmetric L: sum_i y_i . (L_ii y_i + 2 sum_{j > i} L_ij y_j), which
    # gathers half the neighbour rows of the full sum (the cost of this
    # kernel is those random reads).
    N, m = Y.shape
    n_chunks = min(N, 256)
    partial = np.zeros(n_chunks)
    for k in numba.prange(n_chunks):
        acc = np.empty(m, np.float64)
        total = 0.0
        for i in range(k * N // n_chunks, (k + 1) * N // n_chunks):
            acc[:] = 0.0
            diag = 0.0
            for jj in range(indptr[i], indptr[i + 1]):
                j = indices[jj]
                if j > i:
                    w = 2.0 * np.float64(data[jj])
                    for c in range(m):
                        acc[c] += w * Y[j, c]
                elif j == i:
                    diag += np.float64(data[jj])
            row = 0.0
            for c in range(m):
                y = np.float64(Y[i, c])
                row += y * (acc[c] + diag * y)
            total += row
        partial[k] = total
    return partial.sum()


@numba.njit(parallel=True, cache=True, nogil=True, fastmath=REDUCE)
def _csr_quadratic(indptr, indices, data, Y):
    # Row-vector form: acc = sum_j L_ij y_j, then <y_i, acc>. The inner loops
    # run along the m columns without a reduction, so they vectorise (a
    # per-entry dot product does not: measured 4-6x slower at m = 128).
    N, m = Y.shape
    n_chunks = min(N, 256)
    partial = np.zeros(n_chunks)
    for k in numba.prange(n_chunks):
        acc = np.empty(m, np.float64)
        total = 0.0
        for i in range(k * N // n_chunks, (k + 1) * N // n_chunks):
            acc[:] = 0.0
            for jj in range(indptr[i], indptr[i + 1]):
                w = np.float64(data[jj])
                j = indices[jj]
                for c in range(m):
                    acc[c] += w * Y[j, c]
            row = 0.0
            for c in range(m):
                row += Y[i, c] * acc[c]
            total += row
        partial[k] = total
    return partial.sum()


def csr_matmul_add(L, Y, out, alpha=1.0):
    """out += alpha * (L @ Y) for a CSR matrix L and (N, m) arrays, in place.

    Examples
    --------
    >>> import scipy.sparse as sp
    >>> L = sp.csr_matrix(np.array([[1.0, -1.0], [-1.0, 1.0]], np.float32))
    >>> Y = np.array([[1.0, 2.0], [3.0, 5.0]], np.float32)
    >>> out = np.zeros_like(Y)
    >>> csr_matmul_add(L, Y, out, alpha=2.0)
    >>> out.tolist()
    [[-4.0, -6.0], [4.0, 6.0]]
    """
    if out.shape != (L.shape[0], Y.shape[1]) or Y.shape[0] != L.shape[1]:
        raise InputError(
            f"shapes do not match: L {L.shape}, Y {Y.shape}, out {out.shape}"
        )
    _csr_matmul_add(L.indptr, L.indices, L.data, Y, out, out.dtype.type(alpha))


def csr_quadratic(L, Y, symmetric=False):
    """tr(Yᵀ L Y) = sum_ij L_ij <y_i, y_j>, accumulated in float64.

    Parameters
    ----------
    L : scipy.sparse.csr_matrix (N, N)
    Y : ndarray (N, m)
    symmetric : bool
        Whether L is known to be symmetric (:func:`is_symmetric`): the sum
        then reads only the entries on and above the diagonal, half the
        work. With a non-symmetric L it would be wrong, so the default reads
        every entry.

    Examples
    --------
    >>> import scipy.sparse as sp
    >>> L = sp.csr_matrix(np.array([[1.0, -1.0], [-1.0, 1.0]]))
    >>> csr_quadratic(L, np.array([[1.0], [3.0]]))
    4.0
    >>> csr_quadratic(L, np.array([[1.0], [3.0]]), symmetric=True)
    4.0
    """
    if Y.shape[0] != L.shape[0] or L.shape[0] != L.shape[1]:
        raise InputError(f"shapes do not match: L {L.shape}, Y {Y.shape}")
    kernel = _csr_quadratic_sym if symmetric else _csr_quadratic
    return float(kernel(L.indptr, L.indices, L.data, Y))


def is_symmetric(L, rtol=1e-6):
    """Whether a sparse matrix equals its transpose, to `rtol` of its largest entry.

    A Laplacian normalised in float32 is symmetric only to rounding
    (d_i^-1/2 w_ij d_j^-1/2 and d_j^-1/2 w_ji d_i^-1/2 are rounded apart).

    Examples
    --------
    >>> import scipy.sparse as sp
    >>> is_symmetric(sp.csr_matrix(np.array([[2.0, -1.0], [-1.0, 1.0]])))
    True
    >>> is_symmetric(sp.csr_matrix(np.array([[2.0, -1.0], [0.0, 1.0]])))
    False
    """
    if L.shape[0] != L.shape[1]:
        return False
    if L.nnz == 0:
        return True
    scale = float(abs(L).max())
    gap = abs(L - L.T)
    return bool(gap.nnz == 0 or float(gap.max()) <= rtol * scale)


def diff_sq64(a, b):
    """sum((a - b)²) of same-shape real arrays, accumulated in float64.

    Examples
    --------
    >>> a = np.full((2, 3), 1.5, dtype=np.float32)
    >>> diff_sq64(a, np.ones((2, 3), dtype=np.float32))
    1.5
    """
    a, b = np.asarray(a), np.asarray(b)
    if a.shape != b.shape:
        raise InputError(f"shapes differ: {a.shape} and {b.shape}")
    ra, rb = (_as_2d(x) for x in _as_row_major(a, b))
    return float(_diff_sq_rows(ra, rb))


def column_sq_norms(V):
    """Squared l2 norm of every column of a 2-D array, in float64.

    Examples
    --------
    >>> column_sq_norms(np.array([[3.0, 1.0], [4.0, 0.0]], np.float32)).tolist()
    [25.0, 1.0]
    """
    V = np.asarray(V)
    out = np.zeros(V.shape[1], dtype=np.float64)
    for s in range(0, V.shape[0], BLOCK):
        block = V[s : s + BLOCK].astype(np.float64)
        out += np.einsum("ij,ij->j", block, block)
    return out
