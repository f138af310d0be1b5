"""Experiments: the demo's table, cached sweeps, result files, balancing, CLI."""

import json

import numpy as np
import pytest

import pyunlocbox_gae.graphs
from pyunlocbox_gae import GraphAutoEncoder, experiments
from pyunlocbox_gae.cli import main
from pyunlocbox_gae.experiments import balance, stages
from pyunlocbox_gae.experiments.settings import make_config

# Small enough for a loaded box, large enough for a linear SVM to learn.
TINY = dict(n_samples=150, n_atoms=16, max_outer=3, n_repeats=1, n_splits=3)


@pytest.fixture
def count_calls(monkeypatch):
    """Count the calls of a function of a module (still calling it)."""

    def install(module, name):
        calls = []
        original = getattr(module, name)

        def counted(*args, **kwargs):
            calls.append(1)
            return original(*args, **kwargs)

        monkeypatch.setattr(module, name, counted)
        return calls

    return install


def test_demo_table_complete_and_above_chance(tmp_path):
    out = experiments.demo(
        output=tmp_path, config=TINY, noises=(0.0, 0.2), lgs=(100,), progress=False
    )
    assert out["representations"] == ["raw", "codes, lg=0", "codes, lg=100"]
    for rep in out["representations"]:
        cells = np.asarray(out["table"][rep])
        assert cells.shape == (2, 2)
        # 10 classes: chance is 10 %; every representation must be far above.
        assert (cells[:, 0] > out["chance"] + 30).all(), (rep, cells)
    saved = json.loads((tmp_path / "results.json").read_text())
    assert saved["table"] == out["table"]
    assert saved["config"]["n_atoms"] == TINY["n_atoms"]
    csv_lines = (tmp_path / "results.csv").read_text().splitlines()
    assert len(csv_lines) == 1 + 2 * 3  # header + one row a cell
    assert (tmp_path / "demo.png").read_bytes()[:4] == b"\x89PNG"
    table = experiments.format_table(out)
    assert table.count("\n") == 4 and "noise 0.2" in table


def test_sweep_reuses_graph_and_reproduces_from_file(tmp_path, count_calls):
    builds = count_calls(stages, "build_graph")
    config = dict(TINY, lg=10, noise=0.1)
    out = experiments.sweep(
        "ls", [0.5, 1.0, 2.0], config, output=tmp_path / "a", progress=False
    )
    assert len(builds) == 1  # the graph does not depend on ls
    rows = out["rows"]
    assert [r["value"] for r in rows] == [0.5, 1.0, 2.0]
    assert [r.get("cached_graph") for r in rows] == [False, True, True]
    assert not any(r["cached_codes"] for r in rows)
    # More sparsity weight, fewer non-zero codes: the values were applied.
    assert rows[0]["nnz"] > rows[2]["nnz"]
    for key in (
        "data_unweighted",
        "graph",
        "z_iter",
        "seconds_codes",
        "peak_mib_codes",
    ):
        assert all(np.isfinite(r[key]) for r in rows), key
    assert (tmp_path / "a" / "accuracy.png").exists()
    assert (tmp_path / "a" / "atoms-0.png").exists()

    again = experiments.sweep_from(
        tmp_path / "a" / "results.json", output=tmp_path / "b", progress=False
    )
    assert len(builds) == 2  # a fresh folder: built again, once
    for old, new in zip(rows, again["rows"], strict=True):
        assert new["value"] == old["value"]
        assert new["accuracy"] == pytest.approx(old["accuracy"])
        assert new["objective"] == pytest.approx(old["objective"], rel=1e-5)


def test_classifier_change_reuses_codes(tmp_path, count_calls):
    fits = count_calls(GraphAutoEncoder, "fit_transform")
    out = experiments.sweep("C", [0.1, 10.0], TINY, output=tmp_path, progress=False)
    assert len(fits) == 1
    assert [r["cached_codes"] for r in out["rows"]] == [False, True]


def test_interrupted_sweep_resumes(tmp_path, monkeypatch):
    real = stages.codes_stage
    seen = []

    def crash_on_second(*args, **kwargs):
        seen.append(1)
        if len(seen) == 2:
            raise RuntimeError("simulated crash")
        return real(*args, **kwargs)

    monkeypatch.setattr(stages, "codes_stage", crash_on_second)
    with pytest.raises(RuntimeError, match="simulated crash"):
        experiments.sweep("ls", [0.5, 2.0], TINY, output=tmp_path, progress=False)
    partial = experiments.load_results(tmp_path / "results.json")
    assert [r["value"] for r in partial["rows"]] == [0.5]
    monkeypatch.setattr(stages, "codes_stage", real)
    fits = []
    monkeypatch.setattr(
        GraphAutoEncoder,
        "fit_transform",
        lambda self, X, y=None: fits.append(self.ls) or real_fit(self, X),
    )
    real_fit = GraphAutoEncoder._fit
    out = experiments.sweep("ls", [0.5, 2.0], TINY, output=tmp_path, progress=False)
    assert fits == [2.0]  # the finished value was not recomputed
    assert out["rows"][0] == partial["rows"][0]


def test_stage_outputs_keep_float32_and_cache_by_key(tmp_path):
    config = make_config(TINY, lg=5)
    X, y = stages.load_data(config)
    assert X.dtype == np.float32 and X.shape == (150, 64)
    cache = stages.Cache(tmp_path)
    graph, ginfo = stages.graph_stage(X, config, cache)
    Z, info = stages.codes_stage(X, config, graph, ginfo["key"], cache)
    assert Z.dtype == np.float32 and not info["cached"]
    Z2, info2 = stages.codes_stage(X, config, None, ginfo["key"], cache)
    assert info2["cached"] and np.array_equal(Z, Z2)
    # Other data, other key: never served a stale result.
    _, info3 = stages.codes_stage(X + 1, config, graph, ginfo["key"], cache)
    assert not info3["cached"]


def test_balance_weights_brings_terms_within_factor_10():
    config = make_config(n_samples=200, noise=0.1)
    X, _ = stages.load_data(config)
    graph = pyunlocbox_gae.graphs.knn_graph(X, backend="exact")
    start = dict(ld=10.0, ls=10.0, lg=0.01)  # sparsity 1000 times the graph
    fit = dict(n_atoms=16, max_outer=3, random_state=0)
    before = GraphAutoEncoder(graph=graph, **start, **fit).fit(X).history_[-1]
    assert balance.term_spread(before) > 100
    weights = experiments.balance_weights(X, graph, ls=10.0, lg=0.01, **fit)
    after = GraphAutoEncoder(graph=graph, **weights, **fit).fit(X).history_[-1]
    assert weights["ld"] == 10.0
    assert balance.term_spread(after) <= 10
    assert min(after[t] for t in ("data", "sparsity", "graph")) > 0


def test_balance_weights_tunes_only_what_it_is_asked():
    config = make_config(n_samples=200, noise=0.1)
    X, _ = stages.load_data(config)
    graph = pyunlocbox_gae.graphs.knn_graph(X, backend="exact")
    fit = dict(n_atoms=16, max_outer=3, random_state=0)
    # ls = 1 held: a graph term that reaches the others exists (with ls = 10
    # it would not: the weighted graph term saturates as lg grows).
    weights = experiments.balance_weights(
        X, graph, ls=1.0, lg=0.01, tune=("lg",), **fit
    )
    assert weights["ls"] == 1.0 and weights["lg"] > 0.01
    after = GraphAutoEncoder(graph=graph, **weights, **fit).fit(X).history_[-1]
    assert balance.term_spread(after) <= 10
    with pytest.raises(ValueError, match="tune takes 'ls', 'lg', 'le', 'lt'"):
        experiments.balance_weights(X, graph, tune=("ld",))


def test_balance_weights_needs_graph_for_lg():
    with pytest.raises(ValueError, match="lg > 0 needs graph="):
        experiments.balance_weights(np.ones((10, 3)), lg=1.0)


def test_unknown_parameter_names_nearest():
    with pytest.raises(ValueError, match="did you mean 'noise'"):
        experiments.sweep("nosie", [0.1], progress=False)


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["sweep", "--param", "n_atom", "--values", "1"], "did you mean 'n_atoms'"),
        (["sweep", "--param", "ls"], "give --param NAME --values"),
        (["sweep", "--from", "missing.json"], "missing.json does not exist"),
        (["sweep", "--param", "ls", "--values", "1", "--set", "k"], "KEY=VALUE"),
        (["demo", "--noise", "a,b"], "--noise expects comma-separated numbers"),
        (["demo", "--set", "n_samples=5"], "n_samples must be an int in the range [20"),
    ],
)
def test_cli_errors_are_one_line(argv, message, capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert main(argv + ["--no-progress"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("gae: error:")
    assert message in err


def test_cli_sweep_writes_results(tmp_path, capsys):
    argv = ["sweep", "--param", "lg", "--values", "0,10", "--no-progress"]
    for key, value in TINY.items():
        argv += ["--set", f"{key}={value}"]
    assert main(argv + ["--output", str(tmp_path), "--no-plots"]) == 0
    payload = experiments.load_results(tmp_path / "results.json")
    assert payload["param"] == "lg" and payload["config"]["n_atoms"] == 16
    assert [r["value"] for r in payload["rows"]] == [0, 10]
    assert "lg" in capsys.readouterr().out


TINY_AUDIO = """
[dataset]
clips_per_genre = 6
[cqt]
clip_samples = 22050
frames_per_clip = 0
[autoencoder]
n_atoms = 16
max_outer = 3
[classification]
n_splits = 3
n_repeats = 1
n_vectors = 2
"""


def test_demo_gtzan_through_the_audio_pipeline(tmp_path, capsys):
    from pyunlocbox_gae.audio.synthetic import make_dataset

    root = make_dataset(tmp_path / "genres", genres=3, clips_per_genre=6, seconds=1.0)
    (tmp_path / "tiny.toml").write_text(TINY_AUDIO)
    argv = ["demo", "--gtzan", str(root), "--quick", "--noise", "0.1"]
    argv += ["--config", str(tmp_path / "tiny.toml"), "--output", str(tmp_path / "o")]
    assert main(argv + ["--no-progress"]) == 0
    payload = json.loads((tmp_path / "o" / "results.json").read_text())
    assert payload["representations"] == ["raw", "codes, lg=0", "codes, lg=100"]
    assert payload["n_clips"] == 18 and payload["chance"] == pytest.approx(100 / 3)
    for rep, cells in payload["table"].items():
        assert len(cells) == 1
        assert cells[0][0] > payload["chance"], rep  # the genres are learnable
    assert (tmp_path / "o" / "demo.png").exists()
    assert "codes, lg=100" in capsys.readouterr().out


def test_demo_gtzan_missing_folder_is_one_line(tmp_path, capsys):
    assert main(["demo", "--gtzan", str(tmp_path / "nope"), "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "GTZAN-layout folder" in err
