"""Property-based tests of the objective terms (hypothesis).

On random shapes, dtypes and values: the proximal operators satisfy their
optimality conditions, the gradients match finite differences and respect
their Lipschitz constants, and the projection is idempotent and
non-expansive.
"""

import numpy as np
import scipy.sparse as sp
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from pyunlocbox_gae import functions as F

FAST = settings(max_examples=30, deadline=None)
DTYPES = st.sampled_from([np.float32, np.float64])
SHAPES = hnp.array_shapes(min_dims=2, max_dims=2, min_side=1, max_side=7)


def arrays(dtype, shape, bound=1e3):
    width = 32 if dtype == np.float32 else 64
    return hnp.arrays(
        dtype,
        shape,
        elements=st.floats(-bound, bound, allow_nan=False, width=width),
    )


def eps(dtype):
    return float(np.finfo(dtype).eps)


@st.composite
def matrix(draw, bound=1e3):
    dtype = draw(DTYPES)
    return draw(arrays(dtype, draw(SHAPES), bound))


# ---------------------------------------------------------------------------
# Soft thresholding (L1 prox): v - p lies in T lambda ∂||p||_1.


@FAST
@given(V=matrix(), lam=st.floats(0, 10), T=st.floats(1e-3, 10))
def test_soft_threshold_satisfies_the_subgradient_condition(V, lam, T):
    P = F.sparsity(lam).prox(V, T)
    assert P.dtype == V.dtype and P.shape == V.shape
    t = lam * T
    R = V.astype(np.float64) - P  # in float64: no rounding of the check itself
    tol = 8 * eps(V.dtype) * (1.0 + float(np.abs(V).max()))
    on = P != 0
    if t > 0:
        # Non-zero entries: v - p = t sign(p); zero entries: |v| <= t.
        assert np.all(np.abs(R[on] - t * np.sign(P[on])) <= tol)
        assert np.all(np.abs(R[~on]) <= t + tol)
        assert np.all(np.sign(P[on]) == np.sign(V[on]))  # never flips a sign
    else:
        assert np.array_equal(P, V)


# ---------------------------------------------------------------------------
# Projection of the columns into the l2 ball.


@st.composite
def two_matrices(draw):
    dtype = draw(DTYPES)
    shape = draw(SHAPES)
    return draw(arrays(dtype, shape)), draw(arrays(dtype, shape))


@FAST
@given(V=matrix(), radius=st.floats(0.1, 10))
def test_projection_is_idempotent_and_satisfies_kkt(V, radius):
    proj = F.proj_columns_b2(radius)
    P = proj.prox(V, 1.0)
    assert P.dtype == V.dtype and not np.shares_memory(P, V)
    tol = 16 * eps(V.dtype)
    norms_v = np.linalg.norm(V.astype(np.float64), axis=0)
    norms_p = np.linalg.norm(P.astype(np.float64), axis=0)
    assert np.all(norms_p <= radius * (1 + tol))
    inside = norms_v <= radius
    # KKT: columns inside stay, columns outside go to r v / ||v||.
    assert np.array_equal(P[:, inside], V[:, inside])
    out = ~inside
    expected = V[:, out] * (radius / norms_v[out])
    assert np.allclose(P[:, out], expected, rtol=tol * 4, atol=tol * radius)
    again = proj.prox(P, 1.0)
    assert np.allclose(again, P, rtol=4 * tol, atol=tol * radius)


@FAST
@given(pair=two_matrices(), radius=st.floats(0.1, 10))
def test_projection_is_non_expansive(pair, radius):
    A, B = pair
    proj = F.proj_columns_b2(radius)
    PA = proj.prox(A, 1.0).astype(np.float64)
    PB = proj.prox(B, 1.0).astype(np.float64)
    dist = np.linalg.norm(A.astype(np.float64) - B)
    scale = max(np.abs(A).max(), np.abs(B).max(), 1.0)
    assert np.linalg.norm(PA - PB) <= dist + 64 * eps(A.dtype) * scale


# ---------------------------------------------------------------------------
# Smooth terms: gradient against finite differences (float64), Lipschitz
# bound, and the prox optimality of those with a prox.


@st.composite
def problem(draw):
    """Random X (n, N), D (n, m), E (m, n), Z (m, N), a graph over N."""
    n = draw(st.integers(1, 6))
    m = draw(st.integers(1, 6))
    N = draw(st.integers(2, 8))
    seed = draw(st.integers(0, 2**32 - 1))
    rng = np.random.default_rng(seed)
    W = sp.random(N, N, density=0.5, random_state=seed % 2**31) * 3
    W = sp.triu(W, k=1)
    W = (W + W.T).tocsr()
    L = sp.diags(np.asarray(W.sum(axis=1)).ravel()) - W
    return dict(
        X=rng.standard_normal((n, N)) * draw(st.floats(0.1, 10)),
        D=rng.standard_normal((n, m)),
        E=rng.standard_normal((m, n)),
        Z=rng.standard_normal((m, N)),
        L=sp.csr_matrix(L),
        lam=draw(st.floats(0.01, 20)),
        rng=rng,
    )


def terms(p):
    """(term, point) pairs: each smooth term with a point of its variable."""
    X, D, E, Z, L, lam = (p[k] for k in ("X", "D", "E", "Z", "L", "lam"))
    return [
        (F.fidelity_z(X, D, lam), Z),
        (F.encoder_z(X, E, lam), Z),
        (F.dirichlet(L, lam), Z),
        (F.squared_frobenius(lam), Z),
        (F.fidelity_d(X, Z, lam), D),
        (F.encoder_e(X, Z, lam), E),
        (
            F.smooth_sum([F.fidelity_z(X, D, lam), F.dirichlet(L, 1.0)]),
            Z,
        ),
    ]


@FAST
@given(p=problem())
def test_gradients_match_finite_differences(p):
    for f, x in terms(p):
        d = p["rng"].standard_normal(x.shape)
        h = 1e-3 * (1 + np.abs(x).max())
        # Central differences are exact for quadratics up to rounding.
        fd = (f.eval(x + h * d) - f.eval(x - h * d)) / (2 * h)
        g = np.vdot(f.grad(x), d)
        scale = abs(f.eval(x + h * d)) + abs(f.eval(x - h * d)) + abs(f.eval(x))
        assert abs(fd - g) <= 1e-8 * (scale / h + abs(g) + 1), type(f).__name__


@FAST
@given(p=problem())
def test_gradients_are_lipschitz_with_the_stated_constant(p):
    for f, x in terms(p):
        y = x + p["rng"].standard_normal(x.shape)
        lip = f.lipschitz()
        gap = np.linalg.norm(f.grad(x) - f.grad(y))
        assert gap <= lip * np.linalg.norm(x - y) * (1 + 1e-9) + 1e-9


@FAST
@given(p=problem(), T=st.floats(1e-3, 10))
def test_prox_of_smooth_terms_is_optimal(p, T):
    # p = prox_{Tf}(v) minimises f(p) + ||p - v||² / 2T: (p - v) / T + ∇f(p) = 0.
    V = p["Z"]
    for f in (F.encoder_z(p["X"], p["E"], p["lam"]), F.squared_frobenius(p["lam"])):
        P = f.prox(V, T)
        residual = (P - V) / T + f.grad(P)
        assert np.abs(residual).max() <= 1e-9 * (1 + np.abs(V).max() / T)
