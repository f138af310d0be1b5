"""Codes of new samples: the training graph extended to them, per-sample solves."""

import warnings

import numpy as np
import pytest
import scipy.sparse as sp
from sklearn.neighbors import NearestNeighbors

from conftest import knn_pygsp
from pyunlocbox_gae import GraphAutoEncoder, graphs
from pyunlocbox_gae.errors import GAEError, InputError


def clustered(rng, N=160, n=8, k=4, dtype=np.float64):
    centers = rng.standard_normal((k, n)) * 2
    labels = rng.integers(0, k, N)
    return (centers[labels] + 0.5 * rng.standard_normal((N, n))).astype(dtype)


@pytest.fixture(scope="module")
def model():
    rng = np.random.default_rng(1)
    X = clustered(rng)
    gae = GraphAutoEncoder(12, lg=5.0, graph_params={"k": 6}, random_state=0)
    Z = gae.fit_transform(X)
    return X, Z, gae


def test_check_estimator_passes_with_the_defaults():
    from sklearn.utils.estimator_checks import check_estimator

    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", "n_atoms=128 is more than")
        check_estimator(GraphAutoEncoder())


def test_training_samples_get_back_their_training_codes(model):
    X, Z, gae = model
    assert gae.transform_algorithm == "auto" and gae.anchors_ is not None
    Zt = gae.transform(X)
    # Within the solver tolerance of the fit (default rtol, max_inner).
    assert np.linalg.norm(Zt - Z) <= 1e-2 * np.linalg.norm(Z)
    # Without the graph term they would be far from the training codes.
    Zs = gae.set_params(transform_algorithm="sparse_code").transform(X)
    gae.set_params(transform_algorithm="auto")
    assert np.linalg.norm(Zs - Z) > 10 * np.linalg.norm(Zt - Z)


def test_without_a_graph_fit_transform_is_transform(rng):
    X = clustered(rng, N=60)
    gae = GraphAutoEncoder(6, random_state=0)
    assert np.array_equal(gae.fit_transform(X), gae.transform(X))


@pytest.mark.parametrize("algorithm", ["out_of_sample", "sparse_code"])
def test_a_code_does_not_depend_on_the_batch(model, algorithm):
    X, _, gae = model
    gae.set_params(transform_algorithm=algorithm)
    try:
        full = gae.transform(X)
        scale = np.abs(full).max()
        assert np.abs(gae.transform(X[:7]) - full[:7]).max() <= 1e-6 * scale
        assert np.abs(gae.transform(X[50:51]) - full[50:51]).max() <= 1e-6 * scale
        order = np.random.default_rng(0).permutation(len(X))
        assert np.abs(gae.transform(X[order]) - full[order]).max() <= 1e-3 * scale
    finally:
        gae.set_params(transform_algorithm="auto")


def test_a_sample_on_or_next_to_a_training_sample_gets_nearly_its_code(model):
    X, Z, gae = model
    on = gae.transform(X[:20])
    assert np.abs(on - Z[:20]).max() <= 1e-2 * np.abs(Z[:20]).max()
    near = gae.transform(X[:20] + 1e-6)
    # The same edges, but where a training sample j has sample i as its k-th
    # neighbour exactly (distance r_j): moved by 1e-6, i may leave j's list
    # and that edge of the k-NN graph vanish.
    same = [
        (a != b).nnz == 0
        for a, b in zip(
            *(gae.anchors_.links(x)[0] > 0 for x in (X[:20], X[:20] + 1e-6)),
            strict=True,
        )
    ]
    diff = np.abs(near - on).max(axis=1) / np.abs(on).max()
    assert sum(same) >= 10 and diff[same].max() <= 1e-5
    assert diff.max() <= 2e-2


def test_out_of_sample_codes_are_optimal(model, rng):
    """KKT conditions of the anchored problem, with its graph built by hand."""
    X, _, gae = model
    X_new = clustered(rng, N=20)
    Zn = gae.set_params(rtol=1e-10, transform_max_iter=20000).transform(X_new)
    gae.set_params(rtol=1e-4, transform_max_iter=500)
    anchors = gae.anchors_
    T, W = anchors.codes, anchors.W
    d_train = np.asarray(W.sum(axis=1)).ravel()
    # The training graph's settings: k = 6, self-loops, exp kernel, sigma =
    # mean distance to the 6th neighbour.
    dist_train, _ = NearestNeighbors(n_neighbors=7).fit(X).kneighbors(X)
    sigma = dist_train[:, -1].mean()
    dist, idx = NearestNeighbors(n_neighbors=7).fit(X).kneighbors(X_new)
    b = np.exp(-dist / sigma)
    d_new = b.sum(axis=1)
    a = np.einsum("ij,ijk->ik", b / np.sqrt(d_new[:, None] * d_train[idx]), T[idx])
    D = gae.components_.T
    grad = 10.0 * (Zn @ D.T - X_new) @ D + 5.0 * (Zn - a)
    on = Zn != 0
    assert np.abs(grad[on] + np.sign(Zn[on])).max() < 1e-4
    assert np.abs(grad[~on]).max() <= 1 + 1e-4


def test_combinatorial_graph_and_its_bound(rng):
    X = clustered(rng, N=80)
    G = knn_pygsp(X, k=5, lap_type="normalized", dtype=np.float64)
    G = graphs.as_graph(G, dtype=np.float64)
    assert G.lmax_exact <= 2 + 1e-6
    G.compute_laplacian("combinatorial")  # PyGSP replaces L, not lmax_exact
    true = np.linalg.eigvalsh(G.L.toarray())[-1]
    assert true > 3  # a stale bound (<= 2) would give a step too large
    assert graphs.as_graph(G, dtype=np.float64) is G
    assert true <= G.lmax_exact <= true * 1.01
    gae = GraphAutoEncoder(6, lg=0.5, graph=G, random_state=0, max_outer=4)
    Z = gae.fit_transform(X)
    # The graph's own Laplacian is used (the estimator's lap_type is for
    # adjacency matrices), and no step was ever halved.
    assert gae.lap_type == "normalized" and gae.anchors_.lap_type == "combinatorial"
    last = gae.history_[-1]
    assert last["graph_unweighted"] == pytest.approx(
        0.5 * np.vdot(Z, G.L @ Z), rel=1e-6
    )
    assert all(h["halvings"] == 0 for h in gae.history_)
    assert np.linalg.norm(gae.transform(X) - Z) <= 1e-2 * np.linalg.norm(Z)


def test_given_adjacency_links_new_samples_with_graph_params(rng):
    X = clustered(rng, N=80)
    W = knn_pygsp(X, k=5, dtype=np.float64).W
    gae = GraphAutoEncoder(6, lg=2.0, graph=sp.csr_matrix(W), random_state=0)
    gae.set_params(graph_params={"k": 5})
    Z = gae.fit_transform(X)
    assert gae.anchors_.n_links == 6
    assert np.linalg.norm(gae.transform(X) - Z) <= 1e-2 * np.linalg.norm(Z)


def test_save_load_keeps_feature_names_and_out_of_sample_codes(model, tmp_path):
    X, _, gae = model
    gae.feature_names_in_ = np.array([f"f{i}" for i in range(X.shape[1])], object)
    try:
        gae.save(tmp_path / "m.h5")
        back = GraphAutoEncoder.load(tmp_path / "m.h5")
    finally:
        del gae.feature_names_in_
    assert back.feature_names_in_.tolist() == [f"f{i}" for i in range(X.shape[1])]
    del back.feature_names_in_  # X below is an array, without names
    assert np.array_equal(back.transform(X[:30]), gae.transform(X[:30]))


def test_encoder_transform_without_encoder_is_a_clear_error(rng):
    X = clustered(rng, N=60)
    gae = GraphAutoEncoder(6, le=1.0, max_outer=2, random_state=0).fit(X)
    gae.set_params(transform_algorithm="encoder", le=0)
    with pytest.raises(InputError, match=r"needs an encoder and le > 0 .*le=0"):
        gae.transform(X)
    assert issubclass(InputError, GAEError)
    gae.set_params(transform_algorithm="out_of_sample", le=1.0)
    with pytest.raises(InputError, match="needs a model fitted with a graph"):
        gae.transform(X)


def test_encoder_transform_that_zeroes_every_code_warns(rng):
    X = clustered(rng, N=60)
    gae = GraphAutoEncoder(6, le=1.0, max_outer=2, random_state=0).fit(X)
    gae.set_params(transform_algorithm="encoder")
    # A threshold above every |E x| (ls / le with the fitted weights).
    t = float(np.abs(X @ gae.encoder_.T).max())
    gae.set_params(transform_alpha=2 * t * gae.le)
    with pytest.warns(UserWarning, match="all-zero codes.*larger le"):
        assert not gae.transform(X).any()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert gae.set_params(transform_alpha=None).transform(X).any()


def test_transform_alpha_and_callback(rng):
    X = clustered(rng, N=60)
    entries = []
    gae = GraphAutoEncoder(8, max_outer=3, rtol_outer=0, random_state=0)
    Z = gae.set_params(callback=entries.append).fit_transform(X)
    assert [e["outer"] for e in entries] == [1, 2, 3]
    assert entries[-1] is gae.history_[-1]
    assert np.array_equal(gae.set_params(transform_alpha=1.0).transform(X), Z)
    sparse = gae.set_params(transform_alpha=5.0).transform(X)
    assert np.count_nonzero(sparse) < np.count_nonzero(Z)


def test_more_atoms_than_samples_is_a_warning(rng):
    X = clustered(rng, N=10)
    with pytest.warns(UserWarning, match="n_atoms=12 is more than the 10 samples"):
        GraphAutoEncoder(12, max_outer=2).fit(X)


def test_the_cross_validation_example_of_the_docs_runs():
    import re
    from pathlib import Path

    page = Path(__file__).resolve().parents[1] / "docs" / "out-of-sample.md"
    blocks = re.findall(r"```python\n(.*?)```", page.read_text(encoding="utf-8"), re.S)
    assert blocks
    for code in blocks:
        exec(compile(code, str(page), "exec"), {"__name__": "docs"})
