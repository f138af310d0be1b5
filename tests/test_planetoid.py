"""Planetoid format, restricted unpickler, Planetoid-T/-I, baselines and CLI."""

import json
import os
import pickle
import warnings

import numpy as np
import pytest
import scipy.sparse as sp
from sklearn.utils import check_random_state

from pyunlocbox_gae.cli import main
from pyunlocbox_gae.embeddings.planetoid import (
    PlanetoidI,
    PlanetoidT,
    UnsafePickleError,
    load_planetoid,
    make_sbm_dataset,
    safe_load_pickle,
    write_planetoid,
)
from pyunlocbox_gae.embeddings.planetoid import compare as cmp


@pytest.fixture(scope="module")
def sbm():
    """Labels follow the blocks; 20 words of 300 carry the class weakly."""
    return make_sbm_dataset(600, 3, 300, words_per_node=20, random_state=0)


@pytest.fixture(scope="module")
def standard(tmp_path_factory):
    """A Planetoid-format folder with the public split's sizes and 7 gaps."""
    data = make_sbm_dataset(
        2000, 4, 50, n_per_class=20, n_val=500, n_test=1000, random_state=1
    )
    folder = tmp_path_factory.mktemp("planetoid")
    drop = data.test[::150][:7]
    order = write_planetoid(folder, "toy", data, drop=drop, trans=True)
    return data, folder, order, drop


# -- the restricted unpickler ------------------------------------------------------


class _Payload:
    def __init__(self, path):
        self.path = path

    def __reduce__(self):
        return os.system, (f"touch {self.path}",)


def test_unpickler_refuses_code_execution(tmp_path):
    marker = tmp_path / "pwned"
    evil = tmp_path / "ind.toy.x"
    evil.write_bytes(pickle.dumps(_Payload(marker), protocol=2))
    with pytest.raises(
        UnsafePickleError, match=r"refusing to load '(posix|nt)\.system'"
    ):
        safe_load_pickle(evil)
    assert not marker.exists()  # nothing was run


def test_unpickler_refuses_other_classes(tmp_path):
    from collections import Counter

    path = tmp_path / "p"
    path.write_bytes(pickle.dumps({"a": Counter("ab")}, protocol=2))
    with pytest.raises(ValueError, match=r"refusing to load 'collections\.Counter'"):
        safe_load_pickle(path)
    path.write_bytes(pickle.dumps(b"\xff".decode("latin1").encode("utf-16"), 2))
    assert safe_load_pickle(path) == b"\xff".decode("latin1").encode("utf-16")
    path.write_bytes(b"\x80\x02garbage")
    with pytest.raises(ValueError, match="is not a readable Planetoid pickle"):
        safe_load_pickle(path)


def test_unpickler_admits_the_format(tmp_path):
    from collections import defaultdict

    value = dict(
        x=sp.csr_matrix(np.eye(3, dtype=np.float32)),
        y=np.eye(3, dtype=np.int64),
        g=defaultdict(list, {0: [1, 2]}),
        s=np.float64(1.5),
    )
    path = tmp_path / "ok"
    path.write_bytes(pickle.dumps(value, protocol=2))
    back = safe_load_pickle(path)
    assert (back["x"] != value["x"]).nnz == 0 and back["x"].dtype == np.float32
    np.testing.assert_array_equal(back["y"], value["y"])
    assert back["g"] == {0: [1, 2]} and back["s"] == 1.5


# pickle.dumps(defaultdict(list, {0: [1, 2], 1: [0], 2: [0]}), 2) by Python 2.7.18,
# as the .graph files were written: it names __builtin__.list
PY2_GRAPH = (
    b"\x80\x02ccollections\ndefaultdict\nq\x00c__builtin__\nlist\nq\x01\x85q\x02Rq"
    b"\x03(K\x00]q\x04(K\x01K\x02eK\x01]q\x05K\x00aK\x02]q\x06K\x00au."
)


def test_unpickler_reads_a_python2_graph(tmp_path):
    path = tmp_path / "ind.x.graph"
    path.write_bytes(PY2_GRAPH)
    graph = safe_load_pickle(path)
    assert graph == {0: [1, 2], 1: [0], 2: [0]} and graph.default_factory is list


# -- the loader ---------------------------------------------------------------------


def test_standard_split_sizes_and_citeseer_gaps(standard):
    data, folder, order, drop = standard
    back = load_planetoid(folder, "toy")
    assert len(back.train) == 80 and len(back.val) == 500
    assert len(back.test) == 1000 - len(drop)
    assert (np.bincount(back.labels[back.train]) == 20).all()  # 20 per class
    assert np.intersect1d(back.train, back.val).size == 0
    assert np.intersect1d(back.val, back.test).size == 0
    # every node as in the data, renumbered by `order`
    assert back.n_nodes == data.n_nodes
    gaps = np.flatnonzero(np.isin(order, drop))
    known = np.setdiff1d(np.arange(back.n_nodes), gaps)
    np.testing.assert_array_equal(back.labels[known], data.labels[order[known]])
    X = sp.csr_matrix(data.features)[order]
    assert abs(back.features[known] - X[known]).sum() == 0
    A = sp.csr_matrix(data.adjacency)[order][:, order]
    assert (back.adjacency != A).nnz == 0  # gaps keep their edges
    # the gaps (Citeseer's isolated test nodes): no features, no label, no split
    assert back.features[gaps].nnz == 0 and (back.labels[gaps] == -1).all()
    assert not np.isin(gaps, np.r_[back.train, back.val, back.test]).any()
    assert back.features.dtype == np.float32


def test_transductive_files_hold_the_same_nodes(standard, tmp_path):
    data, folder, order, drop = standard
    ind = load_planetoid(folder, "toy", files="ind")
    trans = load_planetoid(folder, "toy", files="trans")
    assert len(trans.val) == 0 and trans.n_nodes == ind.n_nodes
    np.testing.assert_array_equal(trans.featured, np.r_[trans.train, trans.test])
    assert trans.features[len(trans.featured) :].nnz == 0  # no other features
    # labelled nodes: the same rows; test nodes: the ind order of .test.index
    test_index = np.loadtxt(folder / "ind.toy.test.index", dtype=np.int64)
    for a, b in ((ind.train, trans.train), (test_index, trans.test)):
        assert abs(ind.features[a] - trans.features[b]).sum() == 0
        np.testing.assert_array_equal(ind.labels[a], trans.labels[b])
        np.testing.assert_array_equal(  # same degrees: the same graph
            ind.adjacency[a].sum(axis=1), trans.adjacency[b].sum(axis=1)
        )
    assert trans.adjacency.nnz == ind.adjacency.nnz
    # 'auto' falls back on the transductive files when ind.* is incomplete
    for name in os.listdir(folder):
        if name != "ind.toy.allx":
            (tmp_path / name).write_bytes((folder / name).read_bytes())
    assert load_planetoid(tmp_path, "toy").featured is not None
    with pytest.raises(FileNotFoundError, match=r"ind.toy.allx.*files='trans'"):
        load_planetoid(tmp_path, "toy", files="ind")
    (tmp_path / "ind.toy.allx").write_bytes(b"")  # empty, as in public copies
    assert load_planetoid(tmp_path, "toy").featured is not None
    with pytest.raises(ValueError, match="ind.toy.allx is not a readable"):
        load_planetoid(tmp_path, "toy", files="ind")
    with pytest.raises(ValueError, match="needs the features of every node"):
        cmp.run_method("propagated_lr", trans)
    # features_lr without validation nodes: C = 1, still a classifier
    assert cmp.run_method("features_lr", trans) > 0.5


def test_loader_errors(tmp_path, standard):
    _, folder, _, _ = standard
    with pytest.raises(FileNotFoundError, match=r"lacks the Planetoid file\(s\) ind"):
        load_planetoid(folder, "cora")
    with pytest.raises(FileNotFoundError, match="is not a folder"):
        load_planetoid(tmp_path / "nowhere", "toy")
    for name in os.listdir(folder):
        (tmp_path / name).write_bytes((folder / name).read_bytes())
    (tmp_path / "ind.toy.ty").write_bytes(pickle.dumps(np.eye(4)[:3], protocol=2))
    with pytest.raises(ValueError, match=r"inconsistent Planetoid files \(tx, ty"):
        load_planetoid(tmp_path, "toy")


# -- the models ---------------------------------------------------------------------


def _dense(grad, shape):
    if isinstance(grad, tuple):
        rows, vals = grad
        out = np.zeros(shape)
        np.add.at(out, rows, vals)
        return out
    return grad


def _check_gradients(loss_fn, params, grads, rng, n_checks=12, eps=1e-6):
    for key, value in params.items():
        analytic = (
            _dense(grads[key], value.shape) if key in grads else np.zeros(value.shape)
        )
        flat = value.reshape(-1)
        for j in rng.choice(flat.size, min(n_checks, flat.size), replace=False):
            old = flat[j]
            flat[j] = old + eps
            up = loss_fn()
            flat[j] = old - eps
            down = loss_fn()
            flat[j] = old
            numeric = (up - down) / (2 * eps)
            assert analytic.reshape(-1)[j] == pytest.approx(
                numeric, rel=1e-5, abs=1e-8
            ), (key, j)


@pytest.mark.parametrize(
    "cls, shared_bias", [(PlanetoidT, True), (PlanetoidI, True), (PlanetoidI, False)]
)
@pytest.mark.parametrize("sparse_features", [False, True])
@pytest.mark.parametrize(
    "classifier, context_loss", [("hidden", "negative"), ("branches", "softmax")]
)
def test_gradients_match_finite_differences(
    cls, shared_bias, sparse_features, classifier, context_loss, rng
):
    n, F, K = 12, 7, 3
    X = rng.random((n, F)) * (rng.random((n, F)) < 0.6)
    if sparse_features:
        X = sp.csr_matrix(X)
    model = cls(
        n_components=4,
        hidden=5,
        l2=0.1,
        classifier=classifier,
        context_loss=context_loss,
        shared_bias=shared_bias,
    )
    p = model._init_params(n, F, K, check_random_state(0), np.float64)
    for key in p:  # move off zero (biases, context vectors) and off ReLU kinks
        p[key] += 0.3 * rng.standard_normal(p[key].shape)
    idx, y = np.array([0, 3, 3, 5]), np.array([0, 2, 2, 1])
    loss, grads = model._supervised(p, X, idx, y)
    assert np.isfinite(loss) and not {"C", "Cs", "cb"} & set(grads)
    _check_gradients(lambda: model._supervised(p, X, idx, y)[0], p, grads, rng)
    i, c = np.array([1, 2, 2, 7, 0]), np.array([4, 4, 9, 1, 0])
    gamma = np.array([1.0, -1.0, 1.0, -1.0, 1.0])
    if context_loss == "softmax":
        gamma = np.ones(5)  # the full softmax has no negative pairs
    loss, grads = model._context(p, X, i, c, gamma)
    assert not {"V1", "V", "W1"} & set(grads)
    _check_gradients(lambda: model._context(p, X, i, c, gamma)[0], p, grads, rng)
    if not shared_bias:  # each branch moves its own bias only
        assert "bc" in grads and "be" not in grads
        assert "bc" not in model._supervised(p, X, idx, y)[1]


def test_context_loss_stable_for_large_scores():
    """Scores of +-1e4 in float32: no overflow warning, exact limits."""
    model = PlanetoidT(n_components=2, hidden=2)
    p = model._init_params(4, 3, 2, check_random_state(0), np.float32)
    p["E"][:] = 100
    p["C"][:] = 50
    X = np.ones((4, 3), np.float32)
    gamma = np.array([1.0, -1.0], np.float32)
    with np.errstate(over="raise", invalid="raise", divide="raise"):
        loss, grads = model._context(p, X, np.array([0, 1]), np.array([2, 3]), gamma)
    # pair 1 is right (loss 0, gradient 0), pair 2 wrong by 1e4: loss 1e4 / 2
    assert loss == pytest.approx(5000.0)
    rows, g = grads["C"]
    np.testing.assert_allclose(g[0], 0)
    np.testing.assert_allclose(g[1], 0.5 * 100)  # -gamma * 1 * e_i / 2
    assert g.dtype == np.float32


@pytest.mark.parametrize("method", ["planetoid_t", "planetoid_i"])
@pytest.mark.parametrize(
    "preset, params",
    [
        ("adam", dict(max_iter=150)),
        (
            "authors",
            dict(
                max_iter=150,
                label_pretrain_steps=200,
                graph_batch_size=3000,
                eval_every=5,
            ),
        ),
    ],
)
def test_planetoid_beats_features_only_and_needs_the_graph(sbm, method, preset, params):
    if preset == "authors" and method == "planetoid_i":  # its smaller batches
        params = dict(params, graph_batch_size=1300, pretrain_steps=400)
    lr = cmp.run_method("features_lr", sbm)
    details = {}
    full = cmp.run_method(method, sbm, 0, details, preset=preset, **params)
    blind = cmp.run_method(
        method,
        sbm,
        0,
        preset=preset,
        **{**params, "graph_steps": 0, "pretrain_steps": 0},
    )
    assert full > lr + 0.05
    assert full > blind + 0.05  # the gain comes from the graph context
    assert details["test_selected"] >= full  # the best checkpoint on test


def test_planetoid_reproducible_and_float32(sbm):
    kw = dict(max_iter=20, pretrain_steps=10, random_state=3)
    y = sbm.y_train()
    one = PlanetoidT(**kw).fit(sbm.features, y, sbm.adjacency)
    two = PlanetoidT(**kw).fit(sbm.features, y, sbm.adjacency)
    np.testing.assert_array_equal(one.predict_proba(), two.predict_proba())
    assert one.embedding_.dtype == np.float32 and one.embedding_.shape == (600, 50)
    assert one.predict_proba().dtype == np.float32
    m = PlanetoidI(**kw).fit(sbm.features, y, sbm.adjacency, exclude=sbm.test)
    assert m.transform(sbm.features[:4]).shape == (4, 50)
    assert m.predict_proba(sbm.features[:4]).dtype == np.float32
    assert len(one.loss_curve_) == 20


def test_planetoid_input_errors(sbm):
    m = PlanetoidT(max_iter=1)
    with pytest.raises(ValueError, match="at least two classes"):
        m.fit(sbm.features, np.full(600, -1), sbm.adjacency)
    with pytest.raises(ValueError, match="X has 600 nodes but the graph has 10"):
        m.fit(sbm.features, sbm.y_train(), sbm.adjacency[:10, :10])
    with pytest.raises(ValueError, match="NaN or infinite"):
        m.fit(np.full((600, 2), np.nan), sbm.y_train(), sbm.adjacency)


# -- baselines and the comparison ----------------------------------------------------


@pytest.mark.parametrize("method", ["planetoid_t", "planetoid_i"])
def test_feature_scale_multiplies_what_the_model_reads(sbm, method, monkeypatch):
    """run_method(feature_scale=s): fit (and PlanetoidI's predict) get s * X."""
    cls = PlanetoidT if method == "planetoid_t" else PlanetoidI
    original, read = cls._check_X, []

    def spy(self, X):
        X = original(self, X)
        read.append(float(abs(X).sum()))
        return X

    monkeypatch.setattr(cls, "_check_X", spy)
    kw = dict(preset="adam", max_iter=2, pretrain_steps=2)
    cmp.run_method(method, sbm, 0, **kw)
    plain, read[:] = list(read), []
    cmp.run_method(method, sbm, 0, feature_scale=9, **kw)
    assert len(read) == len(plain) == (1 if method == "planetoid_t" else 2)
    np.testing.assert_allclose(read, 9 * np.array(plain), rtol=1e-5)
    for bad in (0, -1, "9", float("nan")):
        with pytest.raises(ValueError, match="feature_scale must be a positive"):
            cmp.run_method(method, sbm, 0, feature_scale=bad, **kw)


def test_propagation_is_the_normalised_adjacency_power(rng):
    A = sp.random(20, 20, density=0.2, random_state=0)
    A = ((A + A.T) > 0).astype(float)
    X = rng.random((20, 3)).astype(np.float32)
    M = A.toarray() + np.eye(20)
    d = M.sum(1)
    S = M / np.sqrt(np.outer(d, d))
    out = cmp.propagate(X, A, k=3)
    assert out.dtype == np.float32
    np.testing.assert_allclose(out, S @ S @ S @ X, rtol=1e-5)


def test_graph_baselines_beat_features_only(sbm):
    lr = cmp.run_method("features_lr", sbm)
    assert cmp.run_method("propagated_lr", sbm, k=2) > lr + 0.1
    assert cmp.run_method("gae", sbm, seed=0, max_outer=3) > lr + 0.1


def test_gae_tfidf_weights_rare_words_and_unit_rows(sbm, monkeypatch):
    import pyunlocbox_gae

    seen = []

    def spy(self, X, y=None):
        seen.append(X)
        return np.zeros((X.shape[0], self.n_atoms), X.dtype)

    monkeypatch.setattr(pyunlocbox_gae.GraphAutoEncoder, "fit_transform", spy)
    monkeypatch.setattr(cmp, "_lr_accuracy", lambda *a: 0.5)
    cmp.run_method("gae", sbm, 0, tfidf=True)
    cmp.run_method("gae", sbm, 0)
    X = seen[0]
    F = sbm.features
    B = np.asarray(F.toarray() if sp.issparse(F) else F)
    assert X.dtype == np.float32 and X.shape == B.shape
    np.testing.assert_array_equal(seen[1], B.astype(np.float32))  # off by default
    n, df = B.shape[0], (B != 0).sum(axis=0)
    idf = np.log((1 + n) / (1 + df)) + 1  # smoothed idf
    W = B * idf
    norms = np.linalg.norm(W, axis=1, keepdims=True)
    np.testing.assert_allclose(X, W / np.where(norms > 0, norms, 1), rtol=1e-5)
    rows = np.flatnonzero(norms[:, 0] > 0)
    np.testing.assert_allclose(np.linalg.norm(X[rows], axis=1), 1, rtol=1e-5)
    # binary words: in every row, the word fewest nodes use weighs the most
    assert set(np.unique(B)) == {0.0, 1.0}
    for i in rows[:20]:
        words = np.flatnonzero(B[i])
        assert words[np.argmax(X[i, words])] == words[np.argmin(df[words])]


def test_gae_standardized_codes_and_c_grid(sbm, monkeypatch):
    seen = {}

    def spy(Z, data, seed, cs):
        seen.update(Z=Z, cs=cs)
        return 0.5

    monkeypatch.setattr(cmp, "_lr_accuracy", spy)
    cmp.run_method("gae", sbm, 0, max_outer=2, standardize=True, cs="fine")
    Z = seen["Z"]
    assert Z.dtype == np.float64 and Z.shape == (sbm.features.shape[0], 64)
    live = Z.std(axis=0) > 0  # codes that are zero at every node stay zero
    assert live.sum() > 32
    np.testing.assert_allclose(Z.mean(axis=0), 0, atol=1e-8)
    np.testing.assert_allclose(Z[:, live].std(axis=0), 1, rtol=1e-6)
    assert seen["cs"] == cmp.FINE_CS and len(cmp.FINE_CS) == 16
    assert cmp.FINE_CS[0] == pytest.approx(1e-3) and cmp.FINE_CS[-1] == 100
    cmp.run_method("gae", sbm, 0, max_outer=2, cs=[0.5, 2])
    assert seen["cs"] == (0.5, 2.0) and seen["Z"].dtype == np.float32
    assert not np.allclose(seen["Z"].mean(axis=0), 0)  # raw codes by default
    for bad in ("coarse", [0, 1], 3.0, [], [float("nan")]):
        with pytest.raises(ValueError, match="cs must be None .* or positive numbers"):
            cmp.run_method("gae", sbm, 0, cs=bad)


def test_compare_resumes(sbm):
    calls = []
    saved = []
    first = cmp.compare(
        sbm,
        ["features_lr"],
        seeds=2,
        progress=lambda *a: calls.append(a),
        checkpoint=lambda r: saved.append(json.loads(json.dumps(r))),
    )
    assert len(calls) == 2 and len(saved) == 2
    assert saved[0]["methods"]["features_lr"]["accuracy"] == [calls[0][2]]
    again = cmp.compare(
        sbm,
        ["features_lr"],
        seeds=3,
        progress=lambda *a: calls.append(a),
        previous=first,
    )
    assert len(calls) == 3 and calls[-1][1] == 2  # only seed 2 ran
    assert (
        again["methods"]["features_lr"]["accuracy"][:2]
        == (first["methods"]["features_lr"]["accuracy"])
    )
    with pytest.raises(ValueError, match="unknown method.*gcn"):
        cmp.compare(sbm, ["gcn"])


def test_published_anchors_in_the_table(sbm):
    from dataclasses import replace

    r = cmp.compare(replace(sbm, name="Cora"), ["features_lr"], seeds=1)
    assert r["methods"]["gcn"] == {"published": 81.5}
    table = cmp.format_table(r)
    assert "| gat | – | – | – | 83.0 |" in table


# -- command line ---------------------------------------------------------------------


def test_cli_planetoid(tmp_path, standard, capsys):
    from pyunlocbox_gae.cli import embed as cli_embed

    assert cli_embed.METHOD_NAMES == cmp.METHODS
    for cls in (PlanetoidT, PlanetoidI):
        assert tuple(cls.PRESETS) == cli_embed.PLANETOID_PRESETS
    _, folder, _, _ = standard
    out = tmp_path / "results.json"
    args = [
        "planetoid",
        str(folder),
        "--name",
        "toy",
        "--seeds",
        "2",
        "--out",
        str(out),
    ]
    args += ["--methods", "features_lr", "propagated_lr"]
    assert main(args) == 0
    printed = capsys.readouterr().out
    assert (
        "| propagated_lr |" in printed and "split 80 train / 500 val / 993" in printed
    )
    results = json.loads(out.read_text())
    assert len(results["methods"]["propagated_lr"]["accuracy"]) == 2
    assert results["config"]["seeds"] == 2
    assert main(args[:-3] + ["--methods", "features_lr"]) == 2
    assert "holds results of other settings" in capsys.readouterr().err
    assert main(args[:-3] + ["--methods", "features_lr", "--restart"]) == 0
    assert list(json.loads(out.read_text())["methods"]) == ["features_lr"]


def test_cli_planetoid_gae_settings(tmp_path, standard, capsys, monkeypatch):
    seen = []
    monkeypatch.setattr(cmp, "run_method", lambda *a, **kw: seen.append(kw) or 0.5)
    _, folder, _, _ = standard
    out = tmp_path / "results.json"
    args = ["planetoid", str(folder), "--name", "toy", "--seeds", "1"]
    args += ["--out", str(out), "--methods", "gae", "--gae-max-outer", "20"]
    args += ["--gae-rtol", "1e-6", "--gae-standardize", "--gae-fine-c", "--gae-tfidf"]
    assert main(args) == 0
    expected = dict(max_outer=20, rtol=1e-6, rtol_outer=1e-6, tfidf=True)
    expected.update(standardize=True, cs="fine")
    assert expected.items() <= seen[0].items()
    params = json.loads(out.read_text())["config"]["params"]["gae"]
    assert expected.items() <= params.items()
    assert main(args[:6] + ["--out", str(tmp_path / "d.json"), "--methods", "gae"]) == 0
    defaults = dict(max_outer=5, rtol=1e-4, rtol_outer=1e-4)
    defaults.update(standardize=False, cs=None, tfidf=False)
    assert defaults.items() <= seen[1].items()


def test_cli_planetoid_transductive_files(tmp_path, standard, capsys):
    _, folder, _, _ = standard
    out = tmp_path / "results.json"
    args = ["planetoid", str(folder), "--name", "toy", "--files", "trans"]
    args += ["--seeds", "1", "--out", str(out), "--planetoid-preset", "adam"]
    args += ["--methods", "features_lr", "gae"]
    assert main(args) == 0
    printed = capsys.readouterr().out
    assert "not running gae" in printed and "0 val / 993 test" in printed
    results = json.loads(out.read_text())
    assert list(results["methods"]) == ["features_lr"]
    assert results["config"]["files"] == "trans"
    assert main(args[:-2] + ["gae", "--restart"]) == 2
    assert "none of the chosen methods" in capsys.readouterr().err


def test_planetoid_t_reads_only_the_features_of_the_nodes_it_classifies(sbm):
    """Why the transductive files suffice for Planetoid-T: zeroing the features
    of every other node (what those files lack) changes nothing."""
    nodes = np.r_[sbm.train, sbm.val, sbm.test]
    X = sp.lil_matrix(sbm.features.shape, dtype=np.float32)
    X[nodes] = sbm.features[nodes]
    kw = dict(max_iter=30, label_pretrain_steps=20, graph_batch_size=500)
    kw.update(pretrain_steps=20, eval_every=3, random_state=0)
    fits = [
        PlanetoidT.from_preset("authors", **kw).fit(
            features, sbm.y_train(), sbm.adjacency, (sbm.val, sbm.labels[sbm.val])
        )
        for features in (sbm.features, X.tocsr())
    ]
    np.testing.assert_array_equal(*(m.predict_proba(sbm.test) for m in fits))


def test_monitor_records_without_steering(sbm):
    kw = dict(max_iter=40, pretrain_steps=20, eval_every=4, random_state=1)
    val = (sbm.val, sbm.labels[sbm.val])
    test = (sbm.test, sbm.labels[sbm.test])
    args = (sbm.features, sbm.y_train(), sbm.adjacency, val)
    plain = PlanetoidI(**kw).fit(*args, exclude=sbm.test)
    seen = PlanetoidI(**kw).fit(*args, test, exclude=sbm.test)
    np.testing.assert_array_equal(
        plain.predict_proba(sbm.features), seen.predict_proba(sbm.features)
    )
    rounds, val_acc, test_acc = np.array(seen.monitor_curve_).T
    np.testing.assert_array_equal(rounds, np.arange(4, 41, 4))
    assert val_acc.max() == seen.validation_score_
    best = test_acc[rounds == seen.best_iter_][0]
    assert best == (seen.predict(sbm.features[sbm.test]) == test[1]).mean()


def test_fractional_graph_steps_and_sgd(sbm):
    """graph_steps=0.25: a context batch in about a quarter of the rounds."""
    kw = dict(max_iter=200, pretrain_steps=0, graph_steps=0.25, random_state=0)
    m = PlanetoidT(optimizer="sgd", learning_rate=0.1, **kw)
    m.fit(sbm.features, sbm.y_train(), sbm.adjacency)
    with_context = np.isfinite(np.array(m.loss_curve_)[:, 1]).mean()
    assert 0.15 < with_context < 0.35
    supervised = np.array(m.loss_curve_)[:, 0]
    assert supervised[-20:].mean() < 0.5 * supervised[:5].mean()  # SGD learns


@pytest.mark.parametrize("context_loss", ["negative", "softmax"])
def test_excluded_nodes_are_in_no_context_pair(sbm, context_loss):
    m = PlanetoidI(context_loss=context_loss, label_context=0.3, random_state=0)
    m.set_params(max_iter=2, pretrain_steps=2)
    m.fit(sbm.features, sbm.y_train(), sbm.adjacency, exclude=sbm.test)
    # the fit left the exclusion in place: sample again with its state
    from pyunlocbox_gae.embeddings.walks import random_walks

    walks = random_walks(sbm.adjacency, 5, 10, random_state=0)
    i, c, gamma = m._sample_context(
        check_random_state(0), walks, sbm.train, sbm.y_train(), size=2000
    )
    assert len(i) > 1000 and (gamma > 0).any()
    assert not np.isin(np.r_[i, c], sbm.test).any()
    with pytest.raises(ValueError, match="must not list labelled nodes"):
        m.fit(sbm.features, sbm.y_train(), sbm.adjacency, exclude=sbm.train)


def test_planetoid_i_warns_when_the_test_nodes_may_leak(sbm):
    """fit without exclude lets every node into the context pairs: a warning."""
    kw = dict(max_iter=3, pretrain_steps=3)
    args = (sbm.features, sbm.y_train(), sbm.adjacency)
    with pytest.warns(UserWarning, match=r"leak.*exclude=<test node indices>"):
        leaky = PlanetoidI(random_state=0, **kw).fit(*args)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # none of these warns
        declared = PlanetoidI(random_state=0, **kw).fit(*args, exclude=())
        PlanetoidI(random_state=0, **kw).fit(*args, exclude=sbm.test)
        PlanetoidT(random_state=0, **kw).fit(
            *args
        )  # transductive: the test nodes belong in
        cmp.run_method("planetoid_i", sbm, 0, label_pretrain_steps=0, **kw)  # CLI
    # exclude=() is the same fit as exclude=None, without the warning
    np.testing.assert_array_equal(
        leaky.predict_proba(sbm.features), declared.predict_proba(sbm.features)
    )


def test_self_context_pairs_a_vertex_with_itself(sbm):
    from pyunlocbox_gae.embeddings.walks import random_walks

    walks = random_walks(sbm.adjacency, 5, 10, random_state=0)
    rates = []
    for share in (0.0, 0.3, 1.0):
        m = PlanetoidT(self_context=share, label_context=0.0, negative=0)
        m.graph_batch_size_, m._allowed = 5000, None
        i, c, _ = m._sample_context(
            check_random_state(0), walks, sbm.train, sbm.y_train()
        )
        rates.append((i == c).mean())
    base = rates[0]  # walks that come back: a vertex 2 steps from itself
    assert base < 0.1
    assert rates[1] == pytest.approx(base + 0.3 * (1 - base), abs=0.03)
    assert rates[2] == 1.0


def _walk_source(model, sbm, exclude=None, batch=None):
    """The model's walk source as its fit builds it (after `exclude`)."""
    n = sbm.adjacency.shape[0]
    model._allowed = model._allowed_nodes = None
    if exclude is not None:
        model._allowed = np.ones(n, dtype=bool)
        model._allowed[exclude] = False
        model._allowed_nodes = np.flatnonzero(model._allowed)
    model.graph_batch_size_ = batch
    return model._walk_source(cmp.as_adjacency(sbm.adjacency), check_random_state(0))


def test_fresh_walks_are_new_for_every_batch(sbm):
    from pyunlocbox_gae.embeddings.walks import as_adjacency

    A = as_adjacency(sbm.adjacency)
    m = PlanetoidI(fresh_walks=True, walk_length=10, window=3)
    walks = _walk_source(m, sbm, batch=480)  # 48 window pairs per walk
    first, second = walks(), walks()
    assert first.shape == second.shape == (10, 10)
    assert not np.array_equal(first, second)
    # every step follows an edge of the graph
    a, b = first[:, :-1].ravel(), first[:, 1:].ravel()
    ok = b >= 0
    assert (np.asarray(A[a[ok], b[ok]]).ravel() > 0).all()
    # the starts go through every vertex with edges before any comes back
    walks = _walk_source(m, sbm, batch=480)
    starts = np.concatenate([walks(48 * 300)[:, 0] for _ in range(3)])
    with_edges = np.flatnonzero(np.diff(A.indptr) > 0)
    first_pass = starts[: len(with_edges)]
    assert np.array_equal(np.sort(first_pass), with_edges)
    # drawn once: the same walks for every batch
    once = _walk_source(PlanetoidI(n_walks=2), sbm, batch=480)
    assert once() is once() and len(once()) == 2 * sbm.adjacency.shape[0]


@pytest.mark.parametrize("fresh", [False, True])
def test_walks_start_outside_the_excluded_nodes_when_asked(sbm, fresh):
    for start_excluded in (True, False):
        m = PlanetoidI(fresh_walks=fresh, start_excluded=start_excluded)
        walks = _walk_source(m, sbm, exclude=sbm.test, batch=20000)
        starts = np.concatenate([walks()[:, 0] for _ in range(3)])
        from_test = np.isin(starts, sbm.test).any()
        assert from_test == start_excluded


def test_fresh_walks_and_authors_starts_learn_from_the_graph(sbm):
    kw = dict(max_iter=150, label_pretrain_steps=200, graph_batch_size=1300)
    kw.update(pretrain_steps=400, eval_every=5, fresh_walks=True, start_excluded=False)
    lr = cmp.run_method("features_lr", sbm)
    full = cmp.run_method("planetoid_i", sbm, 0, **kw)
    blind = cmp.run_method(
        "planetoid_i", sbm, 0, **{**kw, "graph_steps": 0, "pretrain_steps": 0}
    )
    assert full > lr + 0.05 and full > blind + 0.05


def test_softmax_over_the_other_vertices_only(sbm):
    """softmax_excluded=False: the excluded nodes' columns neither normalise
    the context softmax nor get a gradient."""
    rng = check_random_state(0)
    n = sbm.adjacency.shape[0]
    excluded = sbm.test
    cols = np.setdiff1d(np.arange(n), excluded)
    i, c = rng.choice(cols, 300), rng.choice(cols, 300)
    grads = {}
    for flag in (True, False):
        m = PlanetoidI(context_loss="softmax", softmax_excluded=flag)
        m._allowed = np.ones(n, dtype=bool)
        m._allowed[excluded] = False
        m._allowed_nodes = np.flatnonzero(m._allowed)
        p = m._init_params(
            n, sbm.features.shape[1], 3, check_random_state(1), np.float64
        )
        p["cb"] = rng.standard_normal(n)  # the excluded columns weigh in
        loss, grads[flag] = m._context(p, sbm.features, i, c, np.ones(300))
        E = m._embed(p, sbm.features, i)[0]
        scores = E @ p["Cs"] + p["cb"]
        if not flag:
            scores[:, excluded] = -np.inf
        expected = -np.mean(scores[np.arange(300), c] - np.logaddexp.reduce(scores, 1))
        assert loss == pytest.approx(expected, rel=1e-9)
    assert (grads[False]["Cs"][:, excluded] == 0).all()
    assert (grads[False]["cb"][excluded] == 0).all()
    assert (grads[True]["cb"][excluded] != 0).all()
    assert abs(grads[False]["cb"][cols]).sum() > 0
