"""The codes step in blocks of samples (model.minibatch): same objective, exact sums."""

import tracemalloc

import numpy as np
import pytest

from pyunlocbox_gae import GraphAutoEncoder, _linalg
from pyunlocbox_gae.errors import InputError
from pyunlocbox_gae.model import alternate, minibatch, objective


def planted(rng, N=600, n=12, m=16, dtype=np.float32):
    D0 = rng.standard_normal((n, m))
    D0 /= np.linalg.norm(D0, axis=0)
    Z0 = rng.standard_normal((m, N)) * (rng.random((m, N)) < 0.2)
    X = (D0 @ Z0).T + 0.05 * rng.standard_normal((N, n))
    return np.ascontiguousarray(X, dtype=dtype)


def problem(X, m=16, weights=None, seed=0):
    """An estimator-like problem: X (N, n) sample-major, Z (N, m), D from samples."""
    rng = np.random.default_rng(seed)
    D = X[rng.choice(X.shape[0], m, replace=False)].T.astype(np.float64)
    D /= np.linalg.norm(D, axis=0)
    D = np.asfortranarray(D, dtype=X.dtype)
    Z = np.zeros((X.shape[0], m), X.dtype)
    weights = weights or dict(data=10.0, sparsity=1.0)
    return objective.Objective(X.T, Z.T, D, None, weights), Z, D


def test_the_sums_kept_per_block_are_the_products_of_the_whole_codes(rng):
    X = planted(rng)
    prob, Z, D = problem(X)
    codes = minibatch.BlockCodes(prob, block=64)  # 600 samples: 10 blocks
    assert len(codes.bounds) == 10
    for _ in range(2):  # the second pass replaces the first one's blocks
        codes.solve()
        stats = codes.statistics()
        Zm, Xm = Z.T, X.T
        np.testing.assert_allclose(codes.ZZ, _linalg.gram64(Zm), rtol=1e-5, atol=1e-4)
        np.testing.assert_allclose(
            codes.XZ, _linalg.gram64(Xm, Zm), rtol=1e-5, atol=1e-4
        )
        assert codes.l1 == pytest.approx(np.abs(Z).sum(dtype=np.float64), rel=1e-6)
        assert codes.nz == np.count_nonzero(Z) > 0
        # The term values from the sums are those of the whole arrays.
        assert stats.values()["objective"] == pytest.approx(
            prob.values()["objective"], rel=1e-5
        )


def test_without_dictionary_updates_the_codes_are_the_whole_batch_ones(rng):
    X = planted(rng, dtype=np.float64)  # both solved far: no float32 floor
    tight = dict(rtol=1e-10, max_inner=3000)
    prob_b, Z_b, D = problem(X, m=8)  # fewer atoms than features: one minimiser
    minibatch.BlockCodes(prob_b, block=64, updates=0, **tight).solve()
    prob_w, Z_w, _ = problem(X, m=8)
    alternate.LocalCodes(prob_w, "fista", **tight).solve()
    assert np.count_nonzero(Z_w) > 0
    # The same codes, up to the slow directions of an ill-conditioned D.
    np.testing.assert_allclose(Z_b, Z_w, atol=1e-3 * np.abs(Z_w).max())
    assert prob_b.values()["objective"] == pytest.approx(
        prob_w.values()["objective"], rel=1e-8
    )


def test_the_objective_never_increases_with_updates_between_blocks(rng):
    X = planted(rng)
    prob, Z, D = problem(X)
    codes = minibatch.BlockCodes(prob, block=64, rtol=1e-6, max_inner=200)
    start = prob.values()["objective"]
    values = []
    for _ in range(4):
        codes.solve()
        values.append(prob.values()["objective"])  # after the moves of D
    assert values[0] < start
    assert np.all(np.diff(values) <= 1e-6 * values[0])
    assert np.allclose(np.linalg.norm(D, axis=0)[np.linalg.norm(D, axis=0) > 1], 1)


def test_blocks_keep_the_dtype_and_never_copy_the_data(rng):
    X = planted(rng, N=20000)
    prob, Z, D = problem(X)
    codes = minibatch.BlockCodes(prob, block=256, max_inner=10)
    assert np.shares_memory(codes.X, X) and np.shares_memory(codes.Zs, Z)
    codes.solve()  # compiles, makes the sums
    tracemalloc.start()
    codes._pass()  # solve() less its thread settings (threadpoolctl's own objects)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert peak < 0.25 * X.nbytes  # block buffers only: no array of X's size
    assert Z.dtype == D.dtype == np.float32


def test_a_sweep_minimises_each_atom_and_many_reach_the_dictionary_step(rng):
    X = planted(rng)
    prob, Z, D = problem(X)
    alternate.LocalCodes(prob, "fista").solve()
    A, B = _linalg.gram64(Z.T), _linalg.gram64(X.T, Z.T)

    def f(V):
        V = V.astype(np.float64)
        return 0.5 * np.vdot(V, V @ A) - np.vdot(V, B)

    D1 = D.copy()
    minibatch.dictionary_sweeps(D1, A, B)
    assert f(D1) < f(D)
    assert np.linalg.norm(D1, axis=0).max() <= 1 + 1e-6
    minibatch.dictionary_sweeps(D1, A, B, sweeps=300)
    D2 = D.copy()
    stats = prob.statistics() if hasattr(prob, "statistics") else prob
    alternate.dictionary_step(
        stats.dictionary_term,
        stats.dictionary_ball,
        D2,
        "fista",
        dict(rtol=1e-12, maxit=5000),
    )
    assert f(D1) == pytest.approx(f(D2), rel=1e-4)


def test_the_estimator_fits_in_blocks_without_a_graph_only(rng):
    X = planted(rng, N=500)
    gae = GraphAutoEncoder(16, batch_size=64, max_outer=6, random_state=0).fit(X)
    whole = GraphAutoEncoder(16, batch_size=None, max_outer=6, random_state=0).fit(X)
    obj = [h["objective"] for h in gae.history_]
    assert np.all(np.diff(obj) <= 1e-6 * obj[0])
    # Dictionary updates between blocks: further in as many outer iterations.
    assert obj[-1] < whole.history_[-1]["objective"]
    assert gae.components_.dtype == np.float32


def test_block_codes_refuse_what_they_cannot_solve(rng):
    X = planted(rng, N=100)
    prob, Z, D = problem(X)
    with pytest.raises(InputError, match="block must be a positive number"):
        minibatch.BlockCodes(prob, block=0)
    Zf = np.zeros((16, 100), np.float32)  # (m, N) C order: not sample-major
    bad = objective.Objective(X.T, Zf, D, None, dict(data=1.0, sparsity=1.0))
    with pytest.raises(InputError, match="sample-major"):
        minibatch.BlockCodes(bad)
    with pytest.raises(InputError, match="graph term couples"):
        graph = np.eye(100)
        minibatch.BlockCodes(
            objective.Objective(
                X.T, Z.T, D, None, dict(data=1.0, graph=1.0), graph=graph, lmax=2.0
            )
        )


def test_a_fit_in_blocks_resumes_from_its_checkpoint_bit_for_bit(rng, tmp_path):
    """The block order and the statistics depend on the codes and the pass only."""
    X = planted(rng, N=400)
    params = dict(
        n_atoms=8, le=1.0, batch_size=64, rtol_outer=0.0, max_outer=5, random_state=0
    )
    ref = GraphAutoEncoder(**params).fit(X)
    path = tmp_path / "fit.h5"
    GraphAutoEncoder(**dict(params, max_outer=2), checkpoint=path).fit(X)
    resumed = GraphAutoEncoder(**params, checkpoint=path).fit(X)
    assert np.array_equal(resumed.components_, ref.components_)
    assert np.array_equal(resumed.encoder_, ref.encoder_)
    assert [h["objective"] for h in resumed.history_] == [
        h["objective"] for h in ref.history_
    ]


def test_with_many_atoms_the_step_through_d_gives_the_same_codes(rng):
    """m > 2 n: the data term's step through D and Dᵀ instead of DᵀD."""
    X = planted(rng, N=300, dtype=np.float64)
    tight = dict(rtol=1e-10, max_inner=3000)
    prob_b, Z_b, D = problem(X, m=32)  # 32 atoms, 12 features
    codes = minibatch.BlockCodes(prob_b, block=64, updates=0, **tight)
    assert codes._setup()["factored"]
    codes.solve()
    prob_w, Z_w, _ = problem(X, m=32)
    alternate.LocalCodes(prob_w, "fista", **tight).solve()
    assert prob_b.values()["objective"] == pytest.approx(
        prob_w.values()["objective"], rel=1e-7
    )


def test_a_duplicate_atom_is_replaced_by_the_worst_represented_sample(rng):
    X = planted(rng)
    prob, Z, D = problem(X)
    codes = minibatch.BlockCodes(prob, block=64)
    codes.solve()
    D[:, 5] = D[:, 3]  # a near duplicate of atom 3 ...
    D[0, 5] += 0.05
    D[:, 5] /= np.linalg.norm(D[:, 5])
    Z[:, 5] *= 0.01  # ... that the codes hardly use
    codes._sums = None
    codes._ensure_sums()
    R = Z @ D.T - X
    R -= np.outer(Z[:, 5], D[:, 5])  # the residual once atom 5's codes are 0
    worst = np.argmax(np.einsum("ij,ij->i", R, R, dtype=np.float64))
    assert codes.replace_atoms() == [5]
    np.testing.assert_allclose(D[:, 5], X[worst] / np.linalg.norm(X[worst]), rtol=1e-6)
    assert not Z[:, 5].any()
    # The sums follow the codes.
    np.testing.assert_allclose(codes.ZZ, _linalg.gram64(Z.T), rtol=1e-5, atol=1e-4)
    codes.final_solve()  # the next codes step uses the new atom
    assert codes.ZZ[5, 5] > 0


def clustered(seed=0, n=24, m=32, N=2000, active=3, clusters=12):
    """Samples in clusters that share a pool of 8 planted atoms, 3 active
    each: a problem whose alternating descent can end with two atoms for
    one planted direction and none for another. X (N, n) and the atoms."""
    rng = np.random.default_rng(seed)
    D0 = rng.standard_normal((n, m))
    D0 /= np.linalg.norm(D0, axis=0)
    pools = np.stack([rng.choice(m, 8, replace=False) for _ in range(clusters)])
    label = rng.integers(0, clusters, N)
    rows = pools[label[:, None], np.argsort(rng.random((N, 8)), axis=1)[:, :active]]
    vals = (0.5 + rng.random((N, active))) * rng.choice([-1.0, 1.0], (N, active))
    X = np.einsum("ij,ijk->ik", vals, D0.T[rows])
    X += 0.1 * rng.standard_normal(X.shape) * np.linalg.norm(X) / np.sqrt(X.size)
    return np.ascontiguousarray(X, dtype=np.float32), D0


def test_replacing_duplicates_escapes_a_local_minimum():
    X, D0 = clustered()
    finals, recovered = {}, {}
    for replace in (False, True):
        prob, Z, D = problem(X, m=32, seed=1)
        codes = minibatch.BlockCodes(prob, block=64, replace=replace)
        history = alternate.alternate(codes, rtol_outer=1e-6, max_outer=40)
        finals[replace] = history[-1]["objective"]
        cosines = np.abs(D0.T @ D)  # planted × learned
        recovered[replace] = int((cosines.max(axis=1) > 0.95).sum())
        assert (sum(h["replaced"] for h in history) > 0) == replace
    assert recovered == {False: 31, True: 32}
    assert finals[True] < 0.98 * finals[False]


def test_no_atom_is_replaced_before_the_codes_are_first_solved(rng):
    X = planted(rng)
    prob, Z, D = problem(X)  # codes all zero: every atom looks unused
    start = D.copy()
    codes = minibatch.BlockCodes(prob, block=64, updates=0)
    assert codes.solve()["replaced"] == 0
    np.testing.assert_array_equal(D, start)  # the start dictionary is the user's
