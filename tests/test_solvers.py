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


def test_iterations_allocate_no_array_of_the_variables_size(rng):
    # N well above the evaluation blocks (2048 samples), so that block
    # temporaries are small next to Z.
    f, g, Z = codes_problem(rng, N=40000, n=8, m=16, dtype=np.float32)
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
    # Buffers: FISTA's previous iterate, the gradient step, the constant of
    # the data and encoder terms, the last good iterate kept by the divergence
    # guard; the objective's blocks are small.
    assert peaks[1] < 4.5 * size
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
