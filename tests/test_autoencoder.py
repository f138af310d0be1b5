"""GraphAutoEncoder: recovery, monotone objective, graph effect, conventions, errors."""

import pickle
import tracemalloc

import numpy as np
import pytest
import scipy.sparse as sp

from conftest import knn_pygsp
from pyunlocbox_gae import GraphAutoEncoder
from pyunlocbox_gae.model import estimator as autoencoder


def planted(rng, n=20, m=15, N=1500, s=3, noise=0.01):
    """X = Z0 D0ᵀ + noise with unit-norm atoms and s-sparse codes."""
    D0 = rng.standard_normal((n, m))
    D0 /= np.linalg.norm(D0, axis=0)
    Z0 = np.zeros((N, m))
    for j in range(N):
        idx = rng.choice(m, s, replace=False)
        Z0[j, idx] = rng.uniform(0.5, 1.5, s) * rng.choice([-1, 1], s)
    X = Z0 @ D0.T + noise * rng.standard_normal((N, n))
    return X.astype(np.float32), D0


def clustered(rng, N=300, n=10, k=4):
    centers = rng.standard_normal((k, n)) * 2
    labels = rng.integers(0, k, N)
    return (centers[labels] + 0.5 * rng.standard_normal((N, n))).astype(np.float32)


def test_planted_dictionary_is_recovered(rng):
    X, D0 = planted(rng)
    gae = GraphAutoEncoder(
        15, ld=20, ls=1, max_outer=400, rtol=1e-6, rtol_outer=1e-7, random_state=0
    ).fit(X)
    learned = gae.components_.T / np.linalg.norm(gae.components_.T, axis=0)
    best = np.abs(D0.T @ learned).max(axis=1)
    assert np.mean(best > 0.95) >= 0.9
    assert np.linalg.norm(gae.components_, axis=1).max() <= 1 + 1e-5


@pytest.mark.parametrize("solver", ["fista", "ista", "primal_dual"])
def test_total_objective_never_increases(rng, solver):
    X = clustered(rng)
    G = knn_pygsp(X, k=6)
    gae = GraphAutoEncoder(
        12,
        ld=10,
        ls=1,
        lg=5,
        le=1,
        graph=G,
        solver=solver,
        max_outer=12,
        rtol_outer=0,
        random_state=0,
    ).fit(X)
    obj = np.array([h["objective"] for h in gae.history_])
    assert len(obj) == 12
    assert np.all(np.diff(obj) <= 1e-5 * obj[0])
    assert obj[-1] < 0.8 * obj[0]
    h = gae.history_[-1]
    assert h["objective"] == pytest.approx(
        h["data"] + h["sparsity"] + h["graph"] + h["encoder"]
    )
    assert h["graph"] == pytest.approx(5 * h["graph_unweighted"])
    assert {"z_iter", "z_time", "d_iter", "d_time", "e_iter", "e_time", "nnz"} <= set(h)


def test_solvers_agree_on_the_objective(rng):
    X = clustered(rng, N=150).astype(np.float64)
    G = knn_pygsp(X, k=5, dtype=np.float64)
    finals = {}
    for solver in ("fista", "ista", "primal_dual"):
        gae = GraphAutoEncoder(
            8,
            ld=10,
            ls=1,
            lg=5,
            graph=G,
            solver=solver,
            max_inner=20000,
            rtol=1e-12,
            max_outer=1,
            random_state=0,
        ).fit(X)
        finals[solver] = gae.history_[0]["objective"]
    assert finals["primal_dual"] == pytest.approx(finals["fista"], rel=1e-5)
    assert finals["ista"] == pytest.approx(finals["fista"], rel=1e-5)


def test_graph_term_smooths_the_codes(rng):
    X = clustered(rng)
    G = knn_pygsp(X, k=6)
    energies = []
    for lg in (0, 1, 10, 100):
        gae = GraphAutoEncoder(
            12, ld=10, ls=1, lg=lg, graph=G, max_outer=8, random_state=0
        )
        Z = gae.fit_transform(X)
        energies.append(np.vdot(Z, G.L @ Z) / np.vdot(Z, Z))
    assert all(a > b for a, b in zip(energies, energies[1:], strict=False))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_dtype_is_preserved(rng, dtype):
    X = clustered(rng, N=100).astype(dtype)
    gae = GraphAutoEncoder(
        6, le=1, lg=1, graph=knn_pygsp(X, dtype=dtype), max_outer=3, random_state=0
    )
    Z = gae.fit_transform(X)
    assert Z.dtype == gae.components_.dtype == gae.encoder_.dtype == dtype
    for algo in ("sparse_code", "encoder"):
        assert gae.set_params(transform_algorithm=algo).transform(X).dtype == dtype
    assert gae.inverse_transform(Z).dtype == dtype


def test_x_is_never_copied(rng, monkeypatch):
    seen = {}
    original = autoencoder.alternate

    def spy(codes, **kwargs):
        seen["X"] = codes.objective.X
        return original(codes, **kwargs)

    monkeypatch.setattr(autoencoder, "alternate", spy)
    X = rng.random((40000, 100)).astype(np.float32)  # X is 25x the codes
    gae = GraphAutoEncoder(4, max_outer=2, random_state=0)
    gae.fit(X)  # warm the kernels
    tracemalloc.start()
    gae.fit(X)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert np.shares_memory(seen["X"], X)
    assert peak < 0.5 * X.nbytes  # codes, solver buffers, blocks: no copy of X


def test_deterministic_under_random_state(rng):
    X = clustered(rng, N=120)
    a = GraphAutoEncoder(6, max_outer=4, random_state=3).fit_transform(X)
    b = GraphAutoEncoder(6, max_outer=4, random_state=3).fit_transform(X)
    c = GraphAutoEncoder(6, max_outer=4, random_state=4).fit_transform(X)
    assert np.array_equal(a, b)
    assert not np.array_equal(a, c)


def kkt_violation(X, D, Z, ld, ls):
    """Largest violation of the lasso optimality conditions, per sample."""
    G = ld * (Z @ D.T - X) @ D
    on = Z != 0
    v_on = np.abs(G[on] + ls * np.sign(Z[on]))
    v_off = np.maximum(np.abs(G[~on]) - ls, 0)
    return max(v_on.max(initial=0), v_off.max(initial=0))


def test_transform_algorithms(rng):
    X = clustered(rng, N=200)
    gae = GraphAutoEncoder(
        10,
        ld=10,
        ls=1,
        le=2,
        lg=2,
        graph=knn_pygsp(X),
        max_outer=5,
        rtol=1e-8,
        transform_max_iter=5000,
        random_state=0,
    ).fit(X)
    X_new = clustered(rng, N=50)
    # 'encoder': soft thresholding of E x at ls / le.
    Z = gae.set_params(transform_algorithm="encoder").transform(X_new)
    W = X_new @ gae.encoder_.T
    assert np.allclose(Z, np.sign(W) * np.maximum(np.abs(W) - 0.5, 0), atol=1e-6)
    # 'sparse_code': the codes problem with D fixed (encoder term included).
    gae.set_params(transform_algorithm="sparse_code", le=0)
    Z = gae.transform(X_new)
    assert kkt_violation(X_new, gae.components_.T, Z, 10, 1) < 1e-3
    # 'graph': lower Dirichlet energy with a graph over the new samples.
    G_new = knn_pygsp(X_new)
    Zg = gae.set_params(transform_algorithm="graph", lg=50).transform(
        X_new, graph=G_new
    )
    assert np.vdot(Zg, G_new.L @ Zg) / np.vdot(Zg, Zg) < np.vdot(
        Z, G_new.L @ Z
    ) / np.vdot(Z, Z)
    assert np.allclose(gae.inverse_transform(Z), Z @ gae.components_)


def test_save_load_and_pickle_round_trip(rng, tmp_path):
    X = clustered(rng, N=100)
    gae = GraphAutoEncoder(6, le=1, max_outer=3, random_state=0).fit(X)
    gae.save(tmp_path / "model.h5")
    back = GraphAutoEncoder.load(tmp_path / "model.h5")
    assert back.get_params() == {**gae.get_params(), "dict_init": "uniform"}
    assert np.array_equal(back.encoder_, gae.encoder_)
    assert np.array_equal(back.transform(X), gae.transform(X))
    again = pickle.loads(pickle.dumps(gae))
    assert np.array_equal(again.transform(X), gae.transform(X))
    (tmp_path / "junk.h5").write_bytes(b"junk")
    with pytest.raises(ValueError, match="not a readable HDF5"):
        GraphAutoEncoder.load(tmp_path / "junk.h5")


@pytest.mark.parametrize(
    "params, X, match",
    [
        (dict(), np.array([[1.0, np.nan], [0.0, 1.0]]), "NaN"),
        (dict(), np.array([[1.0, np.inf], [0.0, 1.0]]), "infinity"),
        (dict(), np.ones(5), "2D array"),
        (dict(), np.ones((0, 3)), "0 sample"),
        (dict(n_atoms=0), np.ones((5, 3)), "'n_atoms' parameter"),
        (dict(ld=-1.0), np.ones((5, 3)), "'ld' parameter"),
        (dict(lg=-0.5), np.ones((5, 3)), "'lg' parameter"),
        (dict(solver="adam"), np.ones((5, 3)), "'solver' parameter"),
        (dict(transform_algorithm="omp"), np.ones((5, 3)), "'transform_algorithm'"),
    ],
)
def test_bad_input_is_a_clear_value_error(params, X, match):
    with pytest.raises(ValueError, match=match):
        GraphAutoEncoder(**{"n_atoms": 2, **params}).fit(X)


def test_graph_of_the_wrong_size_is_refused(rng):
    X = clustered(rng, N=50)
    G = knn_pygsp(clustered(rng, N=40))
    with pytest.raises(ValueError, match="40 .* 50|50 .* 40"):
        GraphAutoEncoder(4, lg=1, graph=G).fit(X)
    gae = GraphAutoEncoder(4, max_outer=2).fit(X)
    with pytest.raises(ValueError, match="needs an encoder"):
        gae.set_params(transform_algorithm="encoder").transform(X)
    with pytest.raises(ValueError, match="features"):
        gae.set_params(transform_algorithm="sparse_code").transform(X[:, :3])


def test_zero_weights_remove_their_terms(rng):
    X = clustered(rng, N=80)
    gae = GraphAutoEncoder(
        5, ld=10, ls=None, lg=0, le=0, graph=sp.eye(3), max_outer=2
    ).fit(X)  # the graph is never read
    h = gae.history_[-1]
    assert gae.encoder_ is None and "e_iter" not in h
    assert h["sparsity"] == 0 and h["graph"] == 0 and np.isnan(h["graph_unweighted"])


def test_scikit_learn_estimator_checks():
    from sklearn.utils.estimator_checks import check_estimator

    # The checks compare codes to 1e-7: run the solvers to convergence (rtol=0
    # runs every iteration allowed), as the stopping rule looks at all samples.
    gae = GraphAutoEncoder(
        3, max_outer=3, rtol=0, transform_max_iter=3000, random_state=0
    )
    check_estimator(gae)


def test_dict_init_array_is_not_modified():
    rng = np.random.default_rng(0)
    X = rng.random((40, 6))
    D0 = rng.random((4, 6)) * 3.0  # float64, not unit norm: normalised by the fit
    D0_copy = D0.copy()
    GraphAutoEncoder(n_atoms=4, dict_init=D0, max_outer=2, random_state=0).fit(X)
    assert np.array_equal(D0, D0_copy)
