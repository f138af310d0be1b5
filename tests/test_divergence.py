"""Numerical trouble is caught, named and handled; never returned as codes."""

import warnings

import numpy as np
import pytest
from sklearn.exceptions import ConvergenceWarning

from conftest import knn_pygsp
from pyunlocbox_gae import GraphAutoEncoder, _fused, _linalg, functions

PARAMS = dict(n_atoms=8, ld=10.0, ls=1.0, lg=2.0, max_outer=4, random_state=0)


def data(rng, N=200, n=10):
    centers = rng.standard_normal((4, n)) * 2
    X = centers[rng.integers(0, 4, N)] + 0.5 * rng.standard_normal((N, n))
    return X.astype(np.float32)


def fit(X, **params):
    """Fit, returning the estimator and the ConvergenceWarnings raised."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ConvergenceWarning)
        gae = GraphAutoEncoder(**{**PARAMS, **params}).fit(X)
    return gae, [
        str(w.message) for w in caught if issubclass(w.category, ConvergenceWarning)
    ]


def shrink_lipschitz(monkeypatch, cls, factor):
    true = cls.lipschitz
    monkeypatch.setattr(cls, "lipschitz", lambda self: true(self) / factor)


def test_a_step_too_large_is_halved_until_the_fit_converges(rng, monkeypatch):
    X = data(rng)
    # Sub-problems solved to convergence, so that the retries' lost iterations
    # do not matter: the same minima are reached.
    params = dict(graph=knn_pygsp(X, k=5), max_inner=3000, rtol=1e-7)
    ref, none = fit(X, **params)
    assert none == [] and all(h["halvings"] == 0 for h in ref.history_)
    shrink_lipschitz(monkeypatch, functions.fidelity_z, 8.0)  # step 8x too large
    gae, caught = fit(X, **params)
    assert caught and all(h["halvings"] >= 1 for h in gae.history_)
    assert "codes step: the objective" in caught[0]
    assert "term 'data'" in caught[0] and "step halved" in caught[0]
    obj = [h["objective"] for h in gae.history_]
    assert np.all(np.isfinite(obj)) and np.all(np.diff(obj) <= 1e-5 * obj[0])
    assert obj[-1] == pytest.approx(ref.history_[-1]["objective"], rel=1e-3)


def test_a_step_far_too_large_stops_with_a_clear_error(rng, monkeypatch):
    X = data(rng)
    shrink_lipschitz(monkeypatch, functions.fidelity_z, 1e4)
    with pytest.raises(
        FloatingPointError,
        match=r"codes step: the objective (became inf|rose) .* term 'data' .*"
        r"halved 5 times without curing it: the step is too large",
    ):
        # The data term alone sets the step; the whole-batch codes step (the
        # codes step in blocks has its own guard, tested below).
        fit(X, lg=0, batch_size=None)


def test_the_codes_step_in_blocks_halves_then_stops_with_a_clear_error(
    rng, monkeypatch
):
    X = data(rng, N=300)
    shrink_lipschitz(monkeypatch, functions.fidelity_z, 8.0)  # curable by halving
    gae, caught = fit(X, lg=0, batch_size=64, max_inner=300, rtol=1e-6)
    assert caught and "step halved" in caught[0] and "codes step" in caught[0]
    assert sum(h["halvings"] for h in gae.history_) >= 1
    assert np.isfinite(gae.components_).all()
    shrink_lipschitz(monkeypatch, functions.fidelity_z, 1e4 / 8.0)
    with pytest.raises(
        FloatingPointError,
        match=r"codes step: the objective of samples \d+ to \d+ is not finite or "
        r"rises even with the step halved 5 times",
    ):
        fit(X, lg=0, batch_size=64)


def test_the_dictionary_step_is_guarded_too(rng, monkeypatch):
    X = data(rng)
    shrink_lipschitz(monkeypatch, functions.fidelity_d, 1e4)
    with pytest.raises(FloatingPointError, match="dictionary step: .* term 'data'"):
        fit(X, lg=0)


def inject_nan(monkeypatch, first, last):
    """Make the graph's sparse product return NaN on calls first..last.

    Both where the product runs: alone (the graph term's gradient, which the
    guard examines) and inside the fused iteration, where its NaN reaches
    the new iterate and the next starting point.
    """
    original, fused = _linalg.csr_matmul_add, _fused._fista_rows
    calls = [0]

    def corrupted(L, Y, out, alpha=1.0):
        calls[0] += 1
        original(L, Y, out, alpha)
        if first <= calls[0] <= last:
            out[0, 0] = np.nan

    def corrupted_rows(*args):
        calls[0] += 1
        fused(*args)
        if first <= calls[0] <= last:
            Y_next, Z = args[5], args[9]
            Y_next[0, 0] = Z[0, 0] = np.nan

    monkeypatch.setattr(_linalg, "csr_matmul_add", corrupted)
    monkeypatch.setattr(_fused, "_fista_rows", corrupted_rows)


def test_a_transient_nan_is_rolled_back(rng, monkeypatch):
    X = data(rng)
    G = knn_pygsp(X, k=5)
    ref, _ = fit(X, graph=G)
    inject_nan(monkeypatch, 30, 30)
    gae, caught = fit(X, graph=G)
    assert len(caught) == 1 and "the objective became nan" in caught[0]
    assert sum(h["halvings"] for h in gae.history_) == 1
    assert np.isfinite(gae.transform(X)).all()
    assert gae.history_[-1]["objective"] == pytest.approx(
        ref.history_[-1]["objective"], rel=0.02
    )


def test_a_persistent_nan_names_its_source_and_leaves_no_garbage(rng, monkeypatch):
    X = data(rng)
    inject_nan(monkeypatch, 30, 10**9)
    with pytest.raises(
        FloatingPointError,
        match="codes step: the objective became nan .* term 'graph' has a "
        "non-finite gradient",
    ):
        fit(X, graph=knn_pygsp(X, k=5))


def test_non_finite_data_reaching_a_term_is_named_at_the_start(rng):
    from pyunlocbox_gae import solvers

    X = data(rng).T.copy()
    X[3, 5] = np.inf  # bypassing the estimator's validation
    D = np.eye(10, 4, dtype=np.float32)
    f = functions.smooth_sum([functions.fidelity_z(X, D, 1.0)])
    Z = np.zeros((4, X.shape[1]), np.float32)
    with pytest.raises(
        FloatingPointError,
        match=r"the objective is inf at the starting point \(term 'data' is not "
        "finite at the last good iterate\\): the data .* holds NaN/inf",
    ):
        solvers.solve([functions.sparsity(), f], Z, solvers.forward_backward(1.0))


def test_transform_is_guarded_and_verbose_fits_report_halvings(
    rng, monkeypatch, capsys
):
    X = data(rng)
    gae, _ = fit(X, lg=0, verbose=0)
    shrink_lipschitz(monkeypatch, functions.fidelity_z, 1e4)
    with pytest.raises(FloatingPointError, match="transform: .* not finite"):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            gae.transform(X)
    monkeypatch.undo()
    shrink_lipschitz(monkeypatch, functions.fidelity_z, 8.0)
    fit(X, lg=0, verbose=1, max_outer=1)
    assert "step halved" in capsys.readouterr().out


def test_without_halvings_no_copy_is_kept_and_trouble_raises_at_once(rng):
    import tracemalloc

    from pyunlocbox_gae import solvers

    X = rng.standard_normal((8, 20000)).astype(np.float32)
    D = np.eye(8, 16, dtype=np.float32)
    f = functions.smooth_sum([functions.fidelity_z(X, D, 1.0)])
    g = functions.sparsity(0.1)
    peaks = []
    for halvings in (5, 0):
        Z = np.zeros((16, 20000), np.float32)
        solvers.solve([g, f], Z, solvers.forward_backward(1.0), maxit=3)  # warm
        tracemalloc.start()
        solvers.solve(
            [g, f], Z, solvers.forward_backward(1.0), maxit=10, max_halvings=halvings
        )
        peaks.append(tracemalloc.get_traced_memory()[1])
        tracemalloc.stop()
    assert peaks[1] < peaks[0] - 0.8 * Z.nbytes  # the copy of Z is not made
    Z = np.zeros((16, 20000), np.float32)
    with pytest.raises(FloatingPointError, match="halved 0 times"):
        solvers.solve(
            [g, f], Z, solvers.forward_backward(1e4, None), maxit=50, max_halvings=0
        )


def test_large_codes_are_guarded_without_a_copy(rng, monkeypatch):
    """Above GUARD_COPY_MAX_BYTES trouble stops at once: no rollback copy."""
    from pyunlocbox_gae.model import alternate

    X = data(rng)
    shrink_lipschitz(monkeypatch, functions.fidelity_z, 8.0)  # curable by halving
    monkeypatch.setattr(alternate, "GUARD_COPY_MAX_BYTES", 0)
    with pytest.raises(
        FloatingPointError,
        match=r"codes step: .* no copy of a good iterate .* halved 0 times",
    ):
        fit(X, lg=0, max_inner=3000, rtol=1e-7, batch_size=None)
