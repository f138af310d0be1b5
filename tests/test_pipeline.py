"""The whole chain on synthetic genres, caching of stages, the gae commands."""

import json

import numpy as np
import pytest

from pyunlocbox_gae.audio.synthetic import make_dataset
from pyunlocbox_gae.cli import main
from pyunlocbox_gae.experiments import pipeline


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    root = tmp_path_factory.mktemp("genres")
    return make_dataset(root, genres=3, clips_per_genre=8, seconds=1.0, seed=0)


def small_config(data, output, **tables):
    cfg = dict(
        data=str(data),
        output=str(output),
        cqt=dict(clip_samples=22050),
        graph=dict(k=5),
        autoencoder=dict(
            n_atoms=24, lg=10.0, max_outer=4, max_inner=40, rtol=1e-3, rtol_outer=1e-3
        ),
        classification=dict(
            n_vectors=3,
            n_splits=4,
            n_repeats=2,
            classifier="linear_svc",
            protocols=["grouped", "leaky"],
        ),
    )
    for name, table in tables.items():
        cfg[name] = {**cfg.get(name, {}), **table}
    return cfg


def _accuracy(report, features, protocol="grouped"):
    (r,) = [
        r
        for r in report["results"]
        if r["features"] == features and r["protocol"] == protocol
    ]
    return r["mean"]


def test_whole_chain_far_above_chance_and_cached(data, tmp_path):
    out = tmp_path / "out"
    report = pipeline.run(small_config(data, out), progress=False, log=lambda m: None)
    assert report["chance"] == pytest.approx(1 / 3)
    assert report["stages"] == dict(
        preprocess="ran", graph="ran", features="ran", classify="ran"
    )
    # chance is 1/3; the honest protocol scores below the leaky one
    assert _accuracy(report, "codes") > 0.6
    assert _accuracy(report, "cqt (baseline)") > 0.6
    assert _accuracy(report, "codes", "leaky") > _accuracy(report, "codes")
    assert report["n_clips"] == 24 and report["n_frames"] == 24 * 21 * 2
    for name in ("frames.h5", "graph.h5", "features.h5", "results.csv", "accuracy.png"):
        assert (out / name).exists(), name
    table = json.loads((out / "results.json").read_text())
    assert {(r["features"], r["protocol"]) for r in table["results"]} == {
        ("codes", "grouped"),
        ("codes", "leaky"),
        ("cqt (baseline)", "grouped"),
        ("cqt (baseline)", "leaky"),
    }
    leaky = [r for r in table["results"] if r["protocol"] == "leaky"]
    assert all("leaky" in r["note"] for r in leaky)
    grouped = [r for r in table["results"] if r["protocol"] == "grouped"]
    assert all(r["n_splits"] * r["n_repeats"] == 8 for r in grouped)

    again = pipeline.run(small_config(data, out), progress=False, log=lambda m: None)
    assert set(again["stages"].values()) == {"cached"}
    assert again["results"] == report["results"]

    changed = small_config(data, out, classification=dict(n_vectors=2))
    third = pipeline.run(changed, progress=False, log=lambda m: None)
    assert third["stages"] == dict(
        preprocess="cached", graph="cached", features="cached", classify="ran"
    )
    noisy = small_config(data, out, input=dict(noise=0.1))
    fourth = pipeline.run(noisy, progress=False, log=lambda m: None)
    assert fourth["stages"]["preprocess"] == "cached"
    assert fourth["stages"]["graph"] == fourth["stages"]["features"] == "ran"


def test_inductive_mode_learns_on_training_clips(data, tmp_path):
    cfg = small_config(
        data,
        tmp_path,
        autoencoder=dict(mode="inductive", lg=0.0),
        classification=dict(baseline=False, n_repeats=1),
    )
    report = pipeline.run(cfg, progress=False, log=lambda m: None)
    assert report["stages"]["features"] == "per fold (inductive)"
    assert [r["features"] for r in report["results"]] == ["codes (inductive)"]
    assert report["results"][0]["protocol"] == "grouped"
    assert len(report["results"][0]["scores"]) == 4
    assert report["results"][0]["mean"] > 0.6


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
        "--protocols",
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
        'classifier = "linear_svc"\n'
    )
    assert main(["run", str(config), "--quiet"]) == 0
    out = capsys.readouterr().out
    assert "cqt (baseline)" in out and "results.json" in out
    assert (tmp_path / "out" / "results.json").exists()
    config.write_text('data = "nowhere"\noutput = "out"\n')
    assert main(["run", str(config)]) == 2
    assert "data folder" in capsys.readouterr().err
    config.write_text('data = "x"\noutput = "out"\n[cqt]\nnbins = 3\n')
    assert main(["run", str(config)]) == 2
    assert "did you mean 'n_bins'?" in capsys.readouterr().err
    config.write_text('output = "out"\n')
    assert main(["run", str(config)]) == 2
    assert "the config needs data" in capsys.readouterr().err


def test_features_never_copy_and_keep_float32(data, tmp_path):
    cfg = small_config(data, tmp_path, classification=dict(protocols=["grouped"]))
    pipeline.run(cfg, progress=False, log=lambda m: None)
    X, info = pipeline.prepare_input(tmp_path / "frames.h5")
    assert X.dtype == np.float32 and X.flags.c_contiguous
    assert info["n_rows"] == 42 and info["labels"].shape == (24,)
