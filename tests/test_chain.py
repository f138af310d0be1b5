"""The chain's controls, classifier scaling and whole-config checks."""

import functools

import numpy as np
import pytest

import pyunlocbox_gae.graphs
from pyunlocbox_gae import GraphAutoEncoder, experiments
from pyunlocbox_gae.audio import clips as clips_module
from pyunlocbox_gae.audio import preprocess as preprocess_module
from pyunlocbox_gae.cli import main
from pyunlocbox_gae.experiments import stages
from pyunlocbox_gae.experiments.settings import make_config
from pyunlocbox_gae.graphs.controls import identity_graph, random_graph


def rings(n=240, seed=0):
    """Three concentric rings lifted to 10-D: classes a graph can follow.

    No hyperplane separates rings, so the raw features score near chance
    with a linear SVM; codes smoothed along the k-NN graph stay within a
    ring, codes smoothed along a random graph mix the rings.
    """
    rng = np.random.default_rng(seed)
    y = np.repeat([0, 1, 2], n // 3)
    radius = 1 + y + 0.1 * rng.standard_normal(n)
    angle = 2 * np.pi * rng.uniform(0, 1, n)
    P = np.c_[radius * np.cos(angle), radius * np.sin(angle)]
    X = P @ rng.standard_normal((2, 10)) + 0.05 * rng.standard_normal((n, 10))
    return X, y


def test_random_graph_keeps_degrees_and_weights():
    X, _ = rings()
    G = pyunlocbox_gae.graphs.knn_graph(X.astype(np.float32), k=8)
    R = random_graph(G, seed=3)
    W, V = G.W.tocsr(), R.W.tocsr()
    assert (abs(V - V.T)).max() == 0  # still undirected
    assert np.array_equal(np.diff(V.indptr), np.diff(W.indptr))  # every degree
    assert np.array_equal(V.diagonal(), W.diagonal())  # self-loops kept
    off = lambda M: np.sort(M[~np.eye(M.shape[0], dtype=bool)])  # noqa: E731
    np.testing.assert_array_equal(off(V.toarray()), off(W.toarray()))  # weights
    kept = (W.multiply(V) != 0).sum() - W.diagonal().astype(bool).sum()
    assert kept < 0.1 * (W.nnz - W.shape[0])  # the structure is gone
    assert R.swaps > 0.5 * R.swaps_tried


def test_identity_graph_makes_the_graph_term_a_ridge():
    G = identity_graph(5)
    assert np.array_equal(G.L.toarray(), np.eye(5)) and G.lmax_exact == 1.0
    X = np.random.default_rng(0).random((5, 3)).astype(np.float32)
    model = GraphAutoEncoder(4, lg=2.0, graph=G, max_outer=2, random_state=0)
    Z = model.fit_transform(X)
    last = model.history_[-1]
    assert last["graph"] == pytest.approx(2.0 * last["graph_unweighted"], rel=1e-5)
    # ½ tr(Z L Zᵀ) with L = I is half the squared norm of the codes.
    half_norm = 0.5 * np.sum(Z.astype(np.float64) ** 2)
    assert last["graph_unweighted"] == pytest.approx(half_norm, rel=1e-4)


def test_knn_graph_beats_random_graph_on_graph_structured_classes():
    X, y = rings()
    config = make_config(n_atoms=16, max_outer=5, n_repeats=2, lg=10, k=10)
    record, _ = experiments.run_point(
        make_config(config, controls=["random"]), data=(X, y)
    )
    assert record["baseline"] < 45  # linear on the raw rings: near chance
    assert record["accuracy"] > 90
    assert record["diff_random"] > 5 and record["won_random"] >= 9
    assert record["splits"] == 10


def test_controls_are_reported_and_paired_with_the_codes():
    X, y = rings(150)
    config = make_config(n_atoms=8, max_outer=2, n_repeats=1, n_splits=3, lg=10)
    config["tune_ls"] = [0.5, 2.0]
    record, _ = experiments.run_point(config, data=(X, y))
    for name in ("random", "ridge", "tuned"):
        diff = record[f"diff_{name}"]
        assert diff == pytest.approx(record["accuracy"] - record[f"control_{name}"])
        assert 0 <= record[f"won_{name}"] <= record["splits"] == 3
    assert len(record["tuned_ls"]) == 3 and set(record["tuned_ls"]) <= {0.5, 2.0}


def test_scaler_fitted_on_training_folds_rescues_tiny_codes():
    rng = np.random.default_rng(1)
    y = np.repeat([0, 1, 2], 80)
    # Codes of tiny magnitude that tell the classes apart, beside a feature
    # of unit scale that does not: unscaled, C = 1 cannot reach the codes.
    codes = 1e-4 * (np.c_[y == 0, y == 1, y == 2] + 0.1 * rng.random((240, 3)))
    F = np.c_[codes, rng.random(240)]
    raw = stages.classify_stage(F, y, make_config(scaler="none", n_repeats=1))
    scaled = stages.classify_stage(F, y, make_config(n_repeats=1))  # minmax
    standard = stages.classify_stage(F, y, make_config(scaler="standard"))
    assert scaled["accuracy"] == standard["accuracy"] == 100.0
    assert raw["accuracy"] < 50


@pytest.fixture
def no_stage(monkeypatch):
    """Fail the test if any stage starts."""

    def forbid(function):
        @functools.wraps(function)  # the same signature, for the checks
        def forbidden(*args, **kwargs):
            raise AssertionError("a stage started before the config was checked")

        return forbidden

    monkeypatch.setattr(
        preprocess_module, "preprocess", forbid(preprocess_module.preprocess)
    )
    monkeypatch.setattr(clips_module, "clip_rows", forbid(clips_module.clip_rows))
    for name in ("graph_stage", "codes_stage"):
        monkeypatch.setattr(stages, name, forbid(getattr(stages, name)))
    knn = pyunlocbox_gae.graphs.knn_graph
    monkeypatch.setattr(pyunlocbox_gae.graphs, "knn_graph", forbid(knn))
    monkeypatch.setattr(GraphAutoEncoder, "fit", forbid(GraphAutoEncoder.fit))


LATE = [
    ("ld", "-1", "config key ld must be a float in the range"),
    ("k", "-3", "config key k must be an int in the range [1"),
    ("n_vectors", "0", "config key n_vectors must be an int in the range [1"),
    ("C", "0", "config key C must be a float in the range (0"),
    ("n_bins", "0", "config key n_bins must be an int in the range [1"),
    ("clip_samples", "-5", "config key clip_samples must be an int in the range"),
    ("k", "ten", "config key k must be an int in the range [1, inf); got 'ten'"),
    ("genres", '["drone"]', "config key genres lists 1 class(es)"),
]


@pytest.mark.parametrize(("key", "value", "message"), LATE)
def test_sweep_rejects_late_failures_before_any_stage(
    key, value, message, no_stage, capsys, tmp_path
):
    argv = ["sweep", "--param", "ls", "--values", "1,2", "--set", f"{key}={value}"]
    argv += ["--output", str(tmp_path), "--no-progress"]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and message in err


TABLE = dict(
    ld="autoencoder",
    k="graph",
    n_vectors="classification",
    C="classification",
    n_bins="cqt",
    clip_samples="cqt",
    genres="dataset",
)


@pytest.mark.parametrize(("key", "value", "message"), LATE)
def test_gae_run_rejects_late_failures_before_any_stage(
    key, value, message, no_stage, capsys, tmp_path
):
    (tmp_path / "data" / "drone").mkdir(parents=True)
    value = f'"{value}"' if value == "ten" else value
    config = tmp_path / "run.toml"
    config.write_text(
        f'data = "data"\noutput = "out"\n[{TABLE[key]}]\n{key} = {value}\n'
    )
    assert main(["run", str(config), "--quiet"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and message in err
    assert not (tmp_path / "out").exists()


def test_nearest_key_hint_is_kept(capsys, tmp_path):
    assert main(["sweep", "--param", "ls", "--values", "1", "--set", "tune_l=1"]) == 2
    assert "did you mean 'tune_ls'" in capsys.readouterr().err


def test_demo_gtzan_takes_set_with_the_flat_names(no_stage, tmp_path, capsys):
    (tmp_path / "genres").mkdir()
    argv = ["demo", "--gtzan", str(tmp_path / "genres"), "--set", "k=ten"]
    assert main(argv + ["--output", str(tmp_path / "o"), "--no-progress"]) == 2
    assert "config key k must be an int" in capsys.readouterr().err
    argv = ["demo", "--gtzan", str(tmp_path / "genres"), "--set", "dataset=x.csv"]
    assert main(argv + ["--output", str(tmp_path / "o"), "--no-progress"]) == 2
    assert "--gtzan names the data set" in capsys.readouterr().err
