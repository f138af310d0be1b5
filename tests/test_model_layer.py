"""The model layer: the registry of terms, splittings, positive codes, graph TV."""

import inspect
import subprocess
import sys

import numpy as np
import pygsp
import pytest
import scipy.sparse as sp
from scipy.optimize import lsq_linear

from pyunlocbox_gae import GraphAutoEncoder, errors, functions, solvers
from pyunlocbox_gae.model import alternate, checkpoint, objective


def _kkt_violation(G, Z, ls, positive):
    """Largest violation of the codes problem's optimality conditions.

    For min f(Z) + ls ||Z||_1 (+ Z >= 0) with gradient G of f: where z > 0,
    G = -ls; where z < 0, G = ls; where z = 0, |G| <= ls (G >= -ls with the
    non-negativity constraint).
    """
    pos, neg, zero = Z > 0, Z < 0, Z == 0
    worst = max(
        np.abs(G[pos] + ls).max(initial=0.0), np.abs(G[neg] - ls).max(initial=0.0)
    )
    at_zero = -G[zero] - ls if positive else np.abs(G[zero]) - ls
    return max(worst, at_zero.max(initial=0.0))


def test_every_term_of_the_registry_reaches_every_consumer():
    signature = inspect.signature(GraphAutoEncoder)
    doc = GraphAutoEncoder.__doc__
    for term in objective.TERMS:
        param = signature.parameters[term.parameter]
        assert param.default == term.default
        assert param.kind is param.KEYWORD_ONLY
        assert f"{term.parameter} : " in doc
        assert term.parameter in GraphAutoEncoder._parameter_constraints
        assert term.parameter in checkpoint.TRAJECTORY_PARAMS
    X = np.random.default_rng(0).random((30, 4))
    gae = GraphAutoEncoder(3, max_outer=2, random_state=0).fit(X)
    for name in objective.TERM_NAMES:
        assert name in gae.history_[-1] and f"{name}_unweighted" in gae.history_[-1]
    # Without a graph the graph terms cannot be evaluated: NaN, weighted 0.
    assert np.isnan(gae.history_[-1]["graph_tv_unweighted"])
    assert gae.history_[-1]["graph_tv"] == 0.0


def test_positive_codes_are_optimal_and_the_objective_decreases():
    rng = np.random.default_rng(1)
    X = rng.standard_normal((60, 8))
    ls = 0.5
    gae = GraphAutoEncoder(
        5, ls=ls, positive_code=True, rtol=1e-12, max_inner=3000, max_outer=6,
        rtol_outer=0, random_state=0,
    )  # fmt: skip
    Z = gae.fit_transform(X)
    assert Z.min() >= 0 and (Z > 0).any()
    assert gae.solver_ == "fista"  # sparsity + a box: one exact proximal map
    objectives = [h["objective"] for h in gae.history_]
    assert all(np.diff(objectives) <= 1e-9 * abs(objectives[0]))
    D = gae.components_
    G = 10.0 * (Z @ D - X) @ D.T  # gradient of the data term at the codes
    assert _kkt_violation(G, Z, ls, positive=True) < 1e-4 * np.abs(G).max()
    # Without the constraint the same data has negative codes: the test bites.
    free = GraphAutoEncoder(5, ls=ls, max_outer=2, random_state=0).fit_transform(X)
    assert free.min() < 0
    assert gae.transform(X).min() >= 0


def test_positive_encoder_codes():
    X = np.random.default_rng(2).standard_normal((40, 6))
    gae = GraphAutoEncoder(4, le=1.0, positive_code=True, max_outer=3, random_state=0)
    gae.fit(X)
    codes = gae.set_params(transform_algorithm="encoder").transform(X)
    assert codes.min() >= 0


def _path(N):
    W = sp.diags([np.ones(N - 1), np.ones(N - 1)], [-1, 1]).tocsr()
    return pygsp.graphs.Graph(W, lap_type="combinatorial")


def test_graph_tv_reaches_the_dual_solution():
    """TV denoising on a path: primal-dual against an independent dual solve.

    min_z 1/2 ||x - z||² + lam ||B z||_1 has z = x - Bᵀu with u the solution
    of the box-constrained least squares min ||x - Bᵀu||², |u| <= lam.
    """
    rng = np.random.default_rng(3)
    N, lam = 30, 0.4
    x = np.repeat([0.0, 2.0, 1.0], N // 3) + 0.3 * rng.standard_normal(N)
    G = _path(N)
    B = functions.graph_gradient(G).toarray()
    u = lsq_linear(B.T, x, bounds=(-lam, lam), tol=1e-12, lsmr_tol="auto").x
    expected = x - B.T @ u
    X, Z, D = x[None, :], np.zeros((1, N)), np.ones((1, 1), order="F")
    weights = dict(data=1.0, graph_tv=lam)
    problem = objective.Objective(X, Z, D, None, weights, graph=G, lmax=4.0)
    codes = alternate.LocalCodes(problem, "auto", rtol=1e-12, max_inner=20000)
    assert codes.splitting.name == "primal_dual"
    codes.solve()
    assert np.abs(Z[0] - expected).max() < 1e-3 * np.abs(expected).max()
    assert functions.graph_tv(G, lam).eval(Z) == pytest.approx(
        lam * np.abs(B @ Z[0]).sum()
    )


def test_graph_tv_makes_codes_piecewise_constant_on_two_clusters():
    rng = np.random.default_rng(4)
    n_per, n = 15, 6
    centres = rng.random((2, n)) * 3
    X = np.vstack([c + 0.3 * rng.standard_normal((n_per, n)) for c in centres])
    A = np.zeros((2 * n_per, 2 * n_per))
    A[:n_per, :n_per] = A[n_per:, n_per:] = 1.0
    A[0, n_per] = A[n_per, 0] = 0.01  # one weak edge between the clusters
    np.fill_diagonal(A, 0)
    G = pygsp.graphs.Graph(A, lap_type="combinatorial")
    kwargs = dict(ld=1.0, ls=0.01, max_outer=4, max_inner=3000, rtol=1e-9)
    Z = GraphAutoEncoder(3, lt=1.0, graph=G, random_state=0, **kwargs).fit_transform(X)
    Z0 = GraphAutoEncoder(3, random_state=0, **kwargs).fit_transform(X)
    spread = max(Z[:n_per].std(axis=0).max(), Z[n_per:].std(axis=0).max())
    spread0 = max(Z0[:n_per].std(axis=0).max(), Z0[n_per:].std(axis=0).max())
    jump = np.abs(Z[:n_per].mean(axis=0) - Z[n_per:].mean(axis=0)).max()
    assert spread < 1e-2 * jump  # constant inside each cluster, not across
    assert spread0 > 100 * spread  # without the TV term codes vary


def test_splittings_are_chosen_and_refused_before_work():
    X = np.random.default_rng(5).random((20, 3))
    G = _path(20)
    gae = GraphAutoEncoder(2, lt=0.1, graph=G, max_outer=1, random_state=0).fit(X)
    assert gae.solver_ == "primal_dual"
    with pytest.raises(errors.InputError, match="fista: graph_tv has no proximal"):
        GraphAutoEncoder(2, lt=0.1, graph=G, solver="fista").fit(X)
    with pytest.raises(errors.InputError, match="several that are not boxes"):
        functions.separable_sum([functions.sparsity(1.0), functions.sparsity(2.0)])
    problem = solvers.CodesProblem(
        proximal=[functions.sparsity(), functions.sparsity()]
    )
    with pytest.raises(errors.InputError, match="more than one non-smooth"):
        solvers.choose_splitting("auto", problem)


class _quadratic(functions.term):
    """lambda/2 ||Z||², without a fused form: the generic path."""

    _caps = ("EVAL", "GRAD")

    def _eval(self, Z):
        return 0.5 * self.lambda_ * float(np.vdot(Z, Z))

    def _grad(self, Z):
        return self.lambda_ * Z

    def lipschitz(self):
        return self.lambda_


def test_a_term_without_a_fused_form_keeps_the_others_fused():
    rng = np.random.default_rng(6)
    X = rng.random((5, 40)).astype(np.float32)
    D = rng.random((5, 3)).astype(np.float32)
    extra = _quadratic(0.7)
    f = functions.smooth_sum([functions.fidelity_z(X, D, 2.0), extra])
    Z = np.asfortranarray(rng.random((3, 40)).astype(np.float32))
    out = np.empty_like(Z)
    f.prepare()
    plan = f._plan
    f.forward_into(Z, 0.1, out)
    f.release()
    assert [type(t).__name__ for t in plan.fused] == ["fidelity_z"]
    assert plan.generic == [extra]
    np.testing.assert_allclose(out, Z - 0.1 * f.grad(Z), rtol=1e-5, atol=1e-6)


def test_atoms_stay_in_the_unit_ball(monkeypatch):
    X = 100 * np.random.default_rng(7).random((50, 6))  # atoms would grow

    def largest_norm():
        gae = GraphAutoEncoder(4, ls=10.0, max_outer=3, random_state=0).fit(X)
        return np.linalg.norm(gae.components_, axis=1).max()

    assert largest_norm() <= 1 + 1e-5

    # The test bites: without the projection the atoms leave the ball.
    def unconstrained(self, V, T, out):
        out[...] = V
        return out

    monkeypatch.setattr(functions.proj_columns_b2, "prox_into", unconstrained)
    assert largest_norm() > 1.05


def test_old_module_names_are_the_moved_modules():
    import pyunlocbox_gae.planetoid.io as old_io

    import pyunlocbox_gae.autoencoder as old
    import pyunlocbox_gae.model.estimator as new
    from pyunlocbox_gae.embeddings.planetoid import io as new_io

    assert old is new and old_io is new_io
    assert old.GraphAutoEncoder is GraphAutoEncoder


def test_importing_the_package_loads_nothing_heavy():
    code = (
        "import sys, pyunlocbox_gae\n"
        "heavy = ['sklearn', 'h5py', 'pygsp', 'matplotlib', 'librosa', 'scipy']\n"
        "print(','.join(m for m in heavy if m in sys.modules))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert out.stdout.strip() == ""


def test_every_deliberate_error_is_a_gae_error():
    X = np.random.default_rng(8).random((10, 3))
    with pytest.raises(errors.GAEError) as info:
        GraphAutoEncoder(2, lg=1.0, graph=_path(5)).fit(X)
    assert isinstance(info.value, ValueError)  # callers' except ValueError works
    with pytest.raises(errors.GAEError):
        functions.fidelity_z(np.ones((2, 3)), np.ones((4, 1)))


def test_every_term_and_splitting_reaches_the_experiments():
    from pyunlocbox_gae.experiments import config, settings

    for term in objective.TERMS:
        assert settings.DEFAULTS[term.parameter] == term.default  # sweepable
        assert term.parameter in settings.GROUPS["estimator"]  # in its cache key
        table = {"autoencoder": {term.parameter: term.default}}
        assert config.flatten(table) == {term.parameter: term.default}
    for solver in solvers.SOLVERS:  # every splitting passes the config check
        assert config.load_config(dict(solver=solver))[0]["solver"] == solver
    # A graph term other than lg makes the experiment build its graph.
    assert objective.needs_graph(settings.make_config(lt=0.1))
    assert not objective.needs_graph(settings.make_config())
