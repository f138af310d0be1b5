"""The in-place solvers: same iterates as PyUNLocBoX, no allocation, clear failures."""

import tracemalloc

import numpy as np
import pytest
from pyunlocbox import acceleration
from pyunlocbox import solvers as pyu_solvers
from sklearn.exceptions import ConvergenceWarning

from conftest import knn_pygsp
from pyunlocbox_gae import functions as F
from pyunlocbox_gae import solvers


def codes_problem(rng, N=200, n=12, m=20, dtype=np.float64, lg=2.0, le=1.0):
    X = rng.standard_normal((N, n)).astype(dtype)  # sample-major, as the estimator
    D = rng.standard_normal((n, m)).astype(dtype)
    D /= np.linalg.norm(D, axis=0)
    E = (rng.standard_normal((m, n)) / 4).astype(dtype)
    G = knn_pygsp(X, k=5, dtype=dtype)
    f = F.smooth_sum(
        [F.fidelity_z(X.T, D, 10.0), F.dirichlet(G, lg), F.encoder_z(X.T, E, le)]
    )
    Z = np.zeros((N, m), dtype=dtype).T  # (m, N) view of sample-major codes
    return f, F.sparsity(1.0), Z


def cast_problem(f, dtype):
    """The same codes problem over copies of its arrays in `dtype`."""
    data, graph, encoder = f.terms
    X, D, E = (np.asarray(a.T, dtype).T for a in (data.X, data.D, encoder.E))
    L = graph.L.astype(dtype)
    return F.smooth_sum(
        [
            F.fidelity_z(X, D, data.lambda_),
            F.dirichlet(L, graph.lambda_),
            F.encoder_z(X, E, encoder.lambda_),
        ]
    )


PROXES = {
    "l1": lambda: F.sparsity(1.0),
    "l1 and positive": lambda: F.separable_sum([F.sparsity(1.0), F.nonnegative()]),
    "positive": F.nonnegative,
}


@pytest.mark.parametrize("m", [20, 60])  # n = 12: Gram form, then factored
@pytest.mark.parametrize("accel", ["fista", None])
@pytest.mark.parametrize("prox", list(PROXES))
def test_fused_iterations_in_float32_follow_pyunlocbox_in_float64(rng, m, accel, prox):
    f, _, Z = codes_problem(rng, m=m, dtype=np.float32, lg=5.0)
    g, step = PROXES[prox](), 1 / f.lipschitz()
    ours = solvers.forward_backward(step=step, accel=accel)
    ours.pre([g, f], Z)
    fused = ours._pass is not None
    ours.post()
    assert fused  # the iteration runs as one product and one pass
    ret = solvers.solve([g, f], Z, ours, rtol=None, maxit=40, eval_every=40)
    assert Z.dtype == np.float32 and ret["restarts"] == 0
    # PyUNLocBoX's own solver and FISTA, on the generic gradient and
    # proximal maps of the same terms, in float64.
    Z64 = np.zeros(Z.shape[::-1]).T
    ref_accel = acceleration.fista() if accel else acceleration.dummy()
    pyu_solvers.solve(
        [PROXES[prox](), cast_problem(f, np.float64)],
        Z64,
        pyu_solvers.forward_backward(step=step, accel=ref_accel),
        rtol=None,
        maxit=40,
        verbosity="NONE",
        inplace=True,
    )
    assert np.linalg.norm(Z - Z64) <= 1e-5 * np.linalg.norm(Z64)
    if prox != "l1":
        assert Z.min() >= 0
    # The objective the solver reports is the float64 one at its iterate.
    f64 = cast_problem(f, np.float64)
    Zc = Z.astype(np.float64)
    assert ret["objective"][-1] == pytest.approx(f64.eval(Zc) + g.eval(Zc), rel=1e-6)


def test_fused_iterations_restart_as_the_plain_ones(rng):
    # lg = 20: FISTA's objective rises now and then, and its momentum restarts
    # (three times in 75 iterations; later rises are at the rounding level).
    f, g, Z = codes_problem(rng, lg=20.0)
    step = 1 / f.lipschitz()
    fused = solvers.solve(
        [g, f], Z, solvers.forward_backward(step), rtol=None, maxit=75, eval_every=1
    )
    # C-ordered codes take the iteration step by step (no fused pass).
    Zc = np.zeros(Z.shape)
    plain_solver = solvers.forward_backward(step)
    plain_solver.pre([g, f], Zc)
    assert plain_solver._pass is None
    plain_solver.post()
    plain = solvers.solve([g, f], Zc, plain_solver, rtol=None, maxit=75, eval_every=1)
    assert fused["restarts"] == plain["restarts"] > 0
    assert np.allclose(fused["objective"], plain["objective"], rtol=1e-10)
    assert np.allclose(Z, Zc, rtol=1e-8, atol=1e-12)


@pytest.mark.parametrize("accel", ["fista", None])
def test_same_iterates_as_pyunlocbox(rng, accel):
    f, g, Z = codes_problem(rng)
    step = 1 / f.lipschitz()
    ours = solvers.forward_backward(step=step, accel=accel)
    ret = solvers.solve([g, f], Z, ours, rtol=None, maxit=30)
    assert ret["sol"] is Z and ret["niter"] == 30
    Z0 = np.zeros_like(Z)
    ref_accel = acceleration.fista() if accel else acceleration.dummy()
    pyu_solvers.solve(
        [g, f],
        Z0,
        pyu_solvers.forward_backward(step=step, accel=ref_accel),
        rtol=None,
        maxit=30,
        verbosity="NONE",
        inplace=True,
    )
    assert np.allclose(Z, Z0, rtol=1e-9, atol=1e-12)


def test_ista_decreases_monotonically_and_restart_keeps_fista_monotone(rng):
    f, g, Z = codes_problem(rng)
    ret = solvers.solve(
        [g, f],
        Z,
        solvers.forward_backward(1 / f.lipschitz(), None),
        rtol=None,
        maxit=40,
    )
    assert np.all(np.diff(ret["objective"]) <= 1e-9 * abs(ret["objective"][0]))
    f, g, Z = codes_problem(rng, lg=20.0)
    ret = solvers.solve(
        [g, f],
        Z,
        solvers.forward_backward(1 / f.lipschitz()),
        rtol=None,
        maxit=200,
        eval_every=1,
    )
    obj = np.array(ret["objective"])
    # Each increase is caught at once and the momentum reset.
    assert ret["restarts"] == int(np.sum(np.diff(obj) > 0))
    assert obj[-1] < obj[0]


def test_fista_reaches_the_minimum_kkt(rng):
    f, g, Z = codes_problem(rng)
    solvers.solve(
        [g, f],
        Z,
        solvers.forward_backward(1 / f.lipschitz()),
        rtol=None,
        maxit=3000,
        eval_every=50,
    )
    G = f.grad(Z)
    on = Z != 0
    assert np.abs(G[on] + np.sign(Z[on])).max() < 1e-6
    assert np.abs(G[~on]).max() <= 1 + 1e-6


def test_primal_dual_reaches_the_same_minimum(rng):
    f, g, Z = codes_problem(rng, N=60, lg=3.0)
    solvers.solve(
        [g, f],
        Z,
        solvers.forward_backward(1 / f.lipschitz()),
        rtol=None,
        maxit=3000,
        eval_every=100,
    )
    best = f.eval(Z) + g.eval(Z)
    # The registry's primal-dual splitting puts the graph term in the dual.
    problem = solvers.CodesProblem(smooth=f.terms, proximal=[g])
    pd, funs = solvers.codes_solver("primal_dual", problem)
    assert isinstance(pd, pyu_solvers.mlfbf) and len(funs) == 3
    Z2 = np.zeros_like(Z)
    solvers.solve(funs, Z2, pd, rtol=None, maxit=4000, eval_every=500)
    assert f.eval(Z2) + g.eval(Z2) == pytest.approx(best, rel=1e-6)


@pytest.mark.parametrize("m", [16, 40])  # n = 8: Gram form, then factored
def test_iterations_allocate_no_array_of_the_variables_size(rng, m):
    # N well above the evaluation blocks (2048 samples), so that block
    # temporaries are small next to Z.
    f, g, Z = codes_problem(rng, N=40000, n=8, m=m, dtype=np.float32)
    solver = solvers.forward_backward(1 / f.lipschitz())
    solvers.solve([g, f], Z, solver, rtol=None, maxit=2)  # compile the kernels
    peaks = []
    for maxit in (5, 50):
        Z[...] = 0
        tracemalloc.start()
        solvers.solve([g, f], Z, solver, rtol=None, maxit=maxit, eval_every=maxit)
        peaks.append(tracemalloc.get_traced_memory()[1])
        tracemalloc.stop()
    size = Z.nbytes
    # Buffers: FISTA's next starting point, the gradient step, the encoder's
    # target EX (kept for the evaluations), the constant of the data and
    # encoder terms in Gram form (in factored form EX is that constant), the
    # last good iterate kept by the divergence guard; the factored form's
    # residual (N, n) and the objective's blocks are small.
    assert peaks[1] < (5.5 if m <= 16 else 4.5) * size
    assert peaks[1] < peaks[0] + 0.1 * size  # nothing grows with iterations


def test_divergence_is_reported_not_returned(rng):
    f, g, Z = codes_problem(rng)
    with pytest.raises(FloatingPointError, match="step is too large"):
        # Each halving is announced before the guard gives up.
        with (
            np.errstate(over="ignore", invalid="ignore"),
            pytest.warns(ConvergenceWarning, match="step halved"),
        ):
            solvers.solve(
                [g, f],
                Z,
                solvers.forward_backward(50 / f.lipschitz()),
                rtol=None,
                maxit=2000,
                eval_every=10,
            )


def test_unknown_solver_and_bad_limits():
    with pytest.raises(ValueError, match="builds 'fista' or 'ista', got 'adam'"):
        solvers.make_solver("adam", 1.0)
    with pytest.raises(ValueError, match="codes_solver"):
        solvers.make_solver("primal_dual", 1.0)  # needs the codes problem
    with pytest.raises(ValueError, match="unknown solver 'adam'"):
        solvers.codes_solver("adam", solvers.CodesProblem())
    f = F.sparsity()
    with pytest.raises(ValueError, match="at least 1"):
        solvers.solve([f, f], np.zeros(3), solvers.forward_backward(), maxit=0)
