"""The audio chain end to end: tables config, caching, modes, the gae commands."""

import json

import numpy as np
import pytest

from pyunlocbox_gae.audio.synthetic import make_dataset
from pyunlocbox_gae.cli import main
from pyunlocbox_gae.experiments import run, stage_files
from pyunlocbox_gae.experiments.config import load_config


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    root = tmp_path_factory.mktemp("genres")
    return make_dataset(root, genres=3, clips_per_genre=8, seconds=1.0, seed=0)


def small_config(data, **tables):
    cfg = dict(
        data=str(data),
        cqt=dict(clip_samples=22050),
        graph=dict(k=5),
        autoencoder=dict(
            n_atoms=24, lg=10.0, max_outer=4, max_inner=40, rtol=1e-3, rtol_outer=1e-3
        ),
        classification=dict(
            n_vectors=3,
            n_splits=4,
            n_repeats=2,
            protocols=["grouped", "leaky"],
            controls=[],
        ),
    )
    for name, table in tables.items():
        cfg[name] = {**cfg.get(name, {}), **table}
    return load_config(cfg)[0]


def _row(payload, protocol="grouped"):
    (row,) = [r for r in payload["rows"] if r["protocol"] == protocol]
    return row


def test_whole_chain_far_above_chance_and_cached(data, tmp_path):
    out = tmp_path / "out"
    payload = run.run(small_config(data), out, progress=False, plots=False)
    grouped, leaky = _row(payload), _row(payload, "leaky")
    assert grouped["chance"] == pytest.approx(100 / 3)
    # chance is 1/3; the honest protocol scores below the leaky one
    assert grouped["accuracy"] > 60 and grouped["baseline"] > 60
    assert leaky["accuracy"] > grouped["accuracy"]
    assert len(grouped["scores"]) == len(grouped["baseline_scores"]) == 8
    assert not grouped["cached_graph"] and not grouped["cached_codes"]
    assert leaky["cached_codes"]  # one fit serves both protocols
    table = json.loads((out / "results.json").read_text())
    assert [r["protocol"] for r in table["rows"]] == ["grouped", "leaky"]
    frames = list((out / "cache").glob("frames-*.h5"))
    assert len(frames) == 1
    stamp = frames[0].stat().st_mtime_ns

    again = run.run(small_config(data), out, progress=False, plots=False)
    assert _row(again)["cached_codes"] and _row(again)["cached_classify"]
    assert _row(again)["scores"] == grouped["scores"]

    changed = small_config(data, classification=dict(n_vectors=2))
    third = _row(run.run(changed, out, progress=False, plots=False))
    assert third["cached_graph"] and third["cached_codes"]
    assert not third["cached_classify"]
    noisy = small_config(data, input=dict(noise=0.1))
    fourth = _row(run.run(noisy, out, progress=False, plots=False))
    assert not fourth["cached_graph"] and not fourth["cached_codes"]
    assert frames[0].stat().st_mtime_ns == stamp  # the CQT is not recomputed


def test_inductive_mode_learns_on_training_clips(data, tmp_path, monkeypatch):
    from pyunlocbox_gae.model.estimator import GraphAutoEncoder

    fitted = []
    fit = GraphAutoEncoder.fit_transform

    def spy(self, X, y=None):
        fitted.append(len(X))
        return fit(self, X)

    monkeypatch.setattr(GraphAutoEncoder, "fit_transform", spy)
    cfg = small_config(
        data,
        autoencoder=dict(mode="inductive"),
        classification=dict(baseline=False, n_repeats=1, protocols=["grouped"]),
    )
    payload = run.run(cfg, tmp_path, progress=False, plots=False)
    row = _row(payload)
    assert row["mode"] == "inductive" and "baseline" not in row
    assert len(row["scores"]) == 4 and row["accuracy"] > 60
    # one fit per split, on the training clips' frames only (3/4 of 24 clips)
    n_frames = 42
    assert fitted == [18 * n_frames] * 4


def test_gae_commands_end_to_end(tmp_path, capsys):
    data = tmp_path / "data"
    assert (
        main(
            [
                "synthetic",
                str(data),
                "--genres",
                "2",
                "--clips-per-genre",
                "4",
                "--seconds",
                "0.5",
            ]
        )
        == 0
    )
    # a corrupt clip: named error, or skipped and listed
    (data / "pulse" / "pulse.00003.wav").write_bytes(b"RIFF garbage")
    frames = tmp_path / "frames.h5"
    args = ["preprocess", str(data), str(frames), "--clip-samples", "11025", "--quiet"]
    assert main(args) == 2
    err = capsys.readouterr().err
    assert err.startswith("gae: error: ") and "pulse.00003.wav" in err
    assert err.count("\n") == 1
    assert main([*args, "--on-error", "skip"]) == 0
    assert "skipped " in capsys.readouterr().out
    features = tmp_path / "features.h5"
    assert (
        main(
            [
                "features",
                str(frames),
                str(features),
                "--lg",
                "0",
                "--n-atoms",
                "8",
                "--max-outer",
                "2",
                "--max-inner",
                "20",
            ]
        )
        == 0
    )
    result = tmp_path / "r.json"
    common = [
        "--n-splits",
        "3",
        "--n-repeats",
        "1",
        "--n-vectors",
        "2",
        "--protocol",
        "grouped",
        "--classifier",
        "linear_svc",
    ]
    assert main(["classify", str(features), *common, "--output", str(result)]) == 0
    out = capsys.readouterr().out
    assert "codes" in out and "chance" in out
    assert json.loads(result.read_text())["n_clips"] == 7
    assert main(["classify", str(frames), *common]) == 0
    assert "cqt (baseline)" in capsys.readouterr().out


def test_gae_run_config_file_and_one_line_errors(data, tmp_path, capsys):
    config = tmp_path / "run.toml"
    config.write_text(
        f'data = "{data}"\noutput = "out"\n'
        "[dataset]\nclips_per_genre = 4\n"
        "[cqt]\nclip_samples = 11025\n"
        "[autoencoder]\nlg = 0.0\nn_atoms = 8\nmax_outer = 2\nmax_inner = 20\n"
        "[classification]\nn_splits = 2\nn_repeats = 1\nn_vectors = 2\n"
    )
    assert main(["run", str(config), "--quiet"]) == 0
    out = capsys.readouterr().out
    assert "raw (baseline)" in out and "results.json" in out
    for name in ("results.json", "results.csv", "accuracy.png"):
        assert (tmp_path / "out" / name).exists(), name
    config.write_text('data = "nowhere"\noutput = "out"\n')
    assert main(["run", str(config)]) == 2
    assert "nowhere' does not exist" in capsys.readouterr().err
    config.write_text('data = "x"\noutput = "out"\n[cqt]\nnbins = 3\n')
    assert main(["run", str(config)]) == 2
    assert "did you mean 'n_bins'?" in capsys.readouterr().err
    config.write_text("k = 5\n")
    assert main(["run", str(config)]) == 2
    assert "needs output = ..." in capsys.readouterr().err


def test_features_never_copy_and_keep_float32(data, tmp_path):
    from pyunlocbox_gae.audio.preprocess import preprocess
    from pyunlocbox_gae.experiments.settings import cqt_params, make_config

    frames = tmp_path / "frames.h5"
    params = cqt_params(make_config(clip_samples=22050))
    preprocess(data, frames, params, progress=False, log=lambda m: None)
    X, info = stage_files.prepare_input(frames)
    assert X.dtype == np.float32 and X.flags.c_contiguous
    assert info["n_rows"] == 42 and info["labels"].shape == (24,)


def test_summary_names_every_per_split_mode_and_stays_aligned():
    rows = [
        dict(accuracy=acc, accuracy_std=1.0, chance=10.0, protocol="group", mode=mode)
        for acc, mode in (
            (80.0, "transductive"),
            (70.0, "inductive"),
            (60.0, "clean_train"),
        )
    ]
    lines = run.summary(dict(rows=rows)).splitlines()
    names = [line.split("  ")[0] for line in lines[1:4]]
    assert names == ["codes", "codes (inductive)", "codes (clean_train)"]
    # Protocol and accuracy columns start at one place on every line.
    assert {line.index("group") for line in lines[1:4]} == {lines[0].index("protocol")}
    starts = {
        line.index(value)
        for line, value in zip(lines[1:], ("80", "70", "60", "10"), strict=True)
    }
    assert starts == {lines[0].index("accuracy")}
