"""The objective terms: gradients, proxes, Lipschitz constants, dtypes, references."""

import numpy as np
import pytest
import scipy.sparse as sp
from pyunlocbox import solvers as pyu_solvers
from sklearn.linear_model import Lasso

from conftest import knn_pygsp
from pyunlocbox_gae import functions as F


def smooth_terms(p):
    X, D, Z, E, G = p["X"], p["D"], p["Z"], p["E"], p["G"]
    return {
        "fidelity_z": (F.fidelity_z(X, D, 3.0), Z),
        "encoder_z": (F.encoder_z(X, E, 2.0), Z),
        "dirichlet": (F.dirichlet(G, 5.0), Z),
        "fidelity_d": (F.fidelity_d(X, Z, 3.0), D),
        "encoder_e": (F.encoder_e(X, Z, 2.0), E),
        "squared_frobenius": (F.squared_frobenius(1.5), Z),
        "smooth_sum": (
            F.smooth_sum(
                [F.fidelity_z(X, D, 3.0), F.dirichlet(G, 5.0), F.encoder_z(X, E, 2.0)]
            ),
            Z,
        ),
    }


NAMES = [
    "fidelity_z",
    "encoder_z",
    "dirichlet",
    "fidelity_d",
    "encoder_e",
    "squared_frobenius",
    "smooth_sum",
]


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("prepared", [False, True])
def test_gradient_matches_finite_differences(small_problem, rng, name, prepared):
    f, x = smooth_terms(small_problem)[name]
    if prepared:
        f.prepare()
    g = f.grad(x)
    for _ in range(3):
        v = rng.standard_normal(x.shape)
        eps = 1e-6
        fd = (f.eval(x + eps * v) - f.eval(x - eps * v)) / (2 * eps)
        assert fd == pytest.approx(np.vdot(g, v), rel=1e-6, abs=1e-6)
    f.release()


def hessian_lmax(f, shape):
    """Largest eigenvalue of the (constant) Hessian of a quadratic term, dense."""
    size = int(np.prod(shape))
    g0 = f.grad(np.zeros(shape))
    H = np.empty((size, size))
    for i in range(size):
        e = np.zeros(size)
        e[i] = 1.0
        H[:, i] = (f.grad(e.reshape(shape)) - g0).ravel()
    return np.linalg.eigvalsh((H + H.T) / 2)[-1]


@pytest.mark.parametrize("name", NAMES)
def test_lipschitz_is_exact_and_never_below(small_problem, name):
    f, x = smooth_terms(small_problem)[name]
    true = hessian_lmax(f, x.shape)
    lip = f.lipschitz()
    assert lip >= true * (1 - 1e-9)
    assert lip <= true * 1.01


def test_lipschitz_of_large_graph_uses_lanczos_and_stays_above(rng):
    X = rng.standard_normal((400, 3))
    G = knn_pygsp(X, k=6, dtype=np.float64)
    true = np.linalg.eigvalsh(G.L.toarray())[-1]
    lip = F.dirichlet(G, 2.0).lipschitz()
    assert 2 * true <= lip <= 2 * true * (1 + 1e-4)


def test_soft_threshold_is_the_l1_prox(rng):
    f = F.sparsity(lambda_=0.7)
    V = rng.standard_normal((5, 40))
    T = 0.3
    P = f.prox(V, T)
    # Optimality: (V - P) / T lies in the subdifferential of 0.7 ||.||_1 at P.
    S = (V - P) / T
    on = P != 0
    assert np.allclose(S[on], 0.7 * np.sign(P[on]))
    assert np.all(np.abs(S[~on]) <= 0.7 + 1e-12)
    assert on.sum() < V.size  # some entries were thresholded to zero


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_column_ball_projection(rng, dtype):
    p = F.proj_columns_b2()
    V = (rng.standard_normal((7, 20)) * rng.uniform(0.1, 3, 20)).astype(dtype)
    P = p.prox(V, 1.0)
    norms = np.linalg.norm(P.astype(np.float64), axis=0)
    assert P.dtype == dtype
    assert np.all(norms <= 1 + 1e-6)
    inside = np.linalg.norm(V, axis=0) <= 1
    assert inside.any() and (~inside).any()
    assert np.array_equal(
        P[:, inside], V[:, inside]
    )  # into the ball, not onto the sphere
    assert np.allclose(norms[~inside], 1, atol=1e-6)
    assert np.allclose(p.prox(P, 1.0), P, atol=1e-6)  # idempotent
    W = (rng.standard_normal((7, 20)) * 2).astype(dtype)
    dist = np.linalg.norm(P - p.prox(W, 1.0), axis=0)
    assert np.all(dist <= np.linalg.norm(V - W, axis=0) + 1e-5)  # non-expansive


@pytest.mark.parametrize("term", ["encoder_z", "squared_frobenius"])
def test_smooth_prox_optimality(small_problem, rng, term):
    f = (
        F.encoder_z(small_problem["X"], small_problem["E"], 2.0)
        if term == "encoder_z"
        else F.squared_frobenius(2.0)
    )
    V = rng.standard_normal(small_problem["Z"].shape)
    P = f.prox(V, 0.4)
    assert np.allclose((P - V) / 0.4 + f.grad(P), 0, atol=1e-10)


@pytest.mark.parametrize("m", [5, 20])  # gram form (m <= 2n) and factored form
@pytest.mark.parametrize("order", ["F", "C"])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_fused_gradient_step_equals_plain_one(rng, m, order, dtype):
    n, N = 6, 50
    X = np.asarray(rng.standard_normal((n, N)), dtype=dtype, order=order)
    D = np.asarray(rng.standard_normal((n, m)), dtype=dtype, order="F")
    E = rng.standard_normal((m, n)).astype(dtype)
    G = knn_pygsp(X.T, k=4, dtype=dtype)
    Z = np.asarray(rng.standard_normal((m, N)), dtype=dtype, order=order)
    f = F.smooth_sum(
        [F.fidelity_z(X, D, 3.0), F.dirichlet(G, 5.0), F.encoder_z(X, E, 2.0)]
    )
    expected = Z - 0.01 * f.grad(Z)
    f.prepare()
    assert (f._plan.factored) == (m > 2 * n)
    out = np.empty_like(Z)
    f.forward_into(Z, 0.01, out)
    f.release()
    tol = 1e-4 if dtype == np.float32 else 1e-10
    assert out.dtype == dtype
    assert np.allclose(out, expected, rtol=tol, atol=tol)


def test_float32_stays_float32(small_problem):
    p32 = {
        k: (v.astype(np.float32) if isinstance(v, np.ndarray) else v)
        for k, v in small_problem.items()
    }
    p32["G"] = knn_pygsp(p32["X"].T, k=4, dtype=np.float32)
    for name, (f, x) in smooth_terms(p32).items():
        assert f.grad(x).dtype == np.float32, name
        out = np.empty_like(x)
        f.forward_into(x, 0.1, out)
        assert isinstance(f.eval(x), float)
    for f in (
        F.sparsity(0.5),
        F.proj_columns_b2(),
        F.encoder_z(p32["X"], p32["E"]),
        F.squared_frobenius(),
    ):
        assert f.prox(p32["Z"], 0.1).dtype == np.float32


def test_terms_hold_data_by_reference_and_never_write_into_it(small_problem, rng):
    p = small_problem
    before = {k: v.copy() for k, v in p.items() if isinstance(v, np.ndarray)}
    terms = smooth_terms(p)
    for f, x in terms.values():
        f.eval(x), f.grad(x), f.lipschitz()
        f.forward_into(x, 0.1, np.empty_like(x))
    for f in (F.sparsity(0.5), F.proj_columns_b2(), F.encoder_z(p["X"], p["E"])):
        f.prox(p["Z"], 0.1)
    for k, v in before.items():
        assert np.array_equal(p[k], v), k
    f, x = terms["fidelity_z"]
    assert f.X is p["X"] and f.D is p["D"]
    value = f.eval(x)
    p["D"] *= 2  # an in-place update changes the function, no rebuild
    assert f.eval(x) != value
    assert f.eval(x) == F.fidelity_z(p["X"], p["D"], 3.0).eval(x)


def test_codes_problem_without_graph_is_sklearns_lasso(rng):
    n, m, N = 10, 15, 8
    D = rng.standard_normal((n, m))
    D /= np.linalg.norm(D, axis=0)
    X = D @ (rng.standard_normal((m, N)) * (rng.random((m, N)) < 0.3))
    X += 0.05 * rng.standard_normal((n, N))
    ld, ls = 10.0, 1.0
    f, g = F.smooth_sum([F.fidelity_z(X, D, ld)]), F.sparsity(ls)
    Z = np.zeros((m, N))
    ret = pyu_solvers.solve(
        [g, f],
        Z,
        pyu_solvers.forward_backward(step=1 / f.lipschitz()),
        rtol=None,
        maxit=5000,
        verbosity="NONE",
        inplace=True,
    )
    assert ret["sol"] is Z
    # sklearn's 1/(2 n) ||x - D z||² + alpha ||z||_1 has our minimiser at
    # alpha = ls / (ld n).
    lasso = Lasso(alpha=ls / (ld * n), fit_intercept=False, tol=1e-12, max_iter=100000)
    Zs = np.stack([lasso.fit(D, X[:, j]).coef_ for j in range(N)], axis=1)
    assert f.eval(Z) + g.eval(Z) == pytest.approx(f.eval(Zs) + g.eval(Zs), rel=1e-9)
    assert np.allclose(Z, Zs, atol=1e-5)


@pytest.mark.parametrize("lap_type", ["combinatorial", "normalized"])
def test_graph_gradient_factors_the_laplacian(rng, lap_type):
    G = knn_pygsp(
        rng.standard_normal((40, 3)), k=4, lap_type=lap_type, dtype=np.float64
    )
    f = F.dirichlet(G, 3.0)
    B = f.gradient_operator()
    assert np.allclose((B.T @ B).toarray(), G.L.toarray())
    Z = rng.standard_normal((5, 40))
    assert f.eval(Z) == pytest.approx(1.5 * np.linalg.norm(Z @ B.T.toarray()) ** 2)


def test_bad_arguments_are_clear_errors(small_problem):
    p = small_problem
    with pytest.raises(ValueError, match="non-negative"):
        F.sparsity(-1.0)
    with pytest.raises(ValueError, match="non-negative"):
        F.fidelity_z(p["X"], p["D"], float("nan"))
    with pytest.raises(ValueError, match="shapes do not match"):
        F.fidelity_z(p["X"], p["D"][:-1])
    with pytest.raises(ValueError, match="2-D"):
        F.fidelity_z(p["X"][0], p["D"])
    with pytest.raises(ValueError, match="graph has 30 vertices but Z has 29"):
        F.dirichlet(p["G"]).eval(p["Z"][:, :-1])
    with pytest.raises(ValueError, match="square"):
        F.dirichlet(sp.csr_matrix(np.ones((3, 4))))
    with pytest.raises(TypeError):
        F.sparsity(lamda=0.1)  # a typo is not silently swallowed


def test_sparse_kernel_handles_rectangular_operators():
    """out += a L Y for an L with fewer rows than Y (a block of a graph's rows)."""
    from pyunlocbox_gae import _linalg

    rng = np.random.default_rng(3)
    L = sp.random(5, 40, density=0.2, format="csr", random_state=3, dtype=np.float32)
    Y = rng.standard_normal((40, 6)).astype(np.float32)
    out = np.ones((5, 6), np.float32)
    _linalg.csr_matmul_add(L, Y, out, alpha=-0.5)
    np.testing.assert_allclose(out, 1 - 0.5 * (L @ Y), rtol=1e-5, atol=1e-6)
    with pytest.raises(ValueError, match="shapes do not match"):
        _linalg.csr_quadratic(L, Y)


@pytest.mark.parametrize("m", [10, 40])  # n = 12: Gram form, then factored
def test_objective_in_float32_equals_the_float64_reference(rng, m):
    """Every term evaluated on float32 sample-major codes, against float64
    numpy; prepared (the fused plan, EX cached in factored form) or not."""
    N, n = 500, 12
    X = rng.standard_normal((N, n)).astype(np.float32)  # sample-major
    D = rng.standard_normal((n, m)).astype(np.float32)
    E = (rng.standard_normal((m, n)) / 3).astype(np.float32)
    Zs = rng.standard_normal((N, m)).astype(np.float32)
    Zs[rng.random((N, m)) < 0.7] = 0
    Z = Zs.T  # (m, N) view of sample-major codes, as the estimator's
    G = knn_pygsp(X, k=5)
    f = F.smooth_sum(
        [F.fidelity_z(X.T, D, 10.0), F.dirichlet(G, 2.0), F.encoder_z(X.T, E, 1.5)]
    )
    X64, D64, E64, Z64 = (a.astype(np.float64) for a in (X.T, D, E, Z))
    L64 = G.L.astype(np.float64)
    ref = (
        5.0 * np.sum((X64 - D64 @ Z64) ** 2)
        + 1.0 * np.sum(Z64 * (L64 @ Z64.T).T)
        + 0.75 * np.sum((Z64 - E64 @ X64) ** 2)
    )
    assert f.eval(Z) == pytest.approx(ref, rel=1e-6)
    f.prepare()
    try:
        EX = f.terms[2].cached_target()
        assert EX is not None and (f._plan.C is EX) == (m > 2 * n)
        assert f.eval(Z) == pytest.approx(ref, rel=1e-6)
    finally:
        f.release()
    assert f.terms[2].cached_target() is None
    assert F.sparsity(0.5).eval(Z) == pytest.approx(0.5 * np.abs(Z64).sum(), rel=1e-12)


def test_graph_quadratic_reads_half_of_a_symmetric_laplacian_only():
    from pyunlocbox_gae import _linalg

    rng = np.random.default_rng(5)
    A = sp.random(60, 60, density=0.1, format="csr", random_state=5)
    L = sp.csr_matrix(A + A.T + sp.eye(60))
    Y = rng.standard_normal((60, 7))
    ref = float(np.sum(Y * (L @ Y)))
    assert _linalg.is_symmetric(L)
    assert _linalg.csr_quadratic(L, Y, symmetric=True) == pytest.approx(ref, rel=1e-12)
    # A non-symmetric L is detected, and the term then sums every entry.
    L_up = sp.csr_matrix(sp.triu(L))
    assert not _linalg.is_symmetric(L_up)
    term = F.dirichlet(L_up, 2.0)
    assert not term.symmetric()
    assert term.eval(Y.T) == pytest.approx(float(np.sum(Y * (L_up @ Y))), rel=1e-12)


def test_reductions_pair_elements_whatever_the_memory_orders():
    from pyunlocbox_gae import _linalg

    a = np.asfortranarray(np.arange(12.0).reshape(3, 4))
    b = np.ascontiguousarray(a) + 1
    for x, y in ((a, b), (b, a), (a, a), (b, b)):
        assert _linalg.vdot64(x, y) == pytest.approx(float(np.sum(x * y)))
        assert _linalg.diff_sq64(x, y) == pytest.approx(float(np.sum((x - y) ** 2)))
