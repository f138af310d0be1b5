"""Every data source through the same chain: feature files, audio folders."""

import json
import tracemalloc

import h5py
import numpy as np
import pytest

from pyunlocbox_gae import experiments
from pyunlocbox_gae.audio.synthetic import make_labelled_dataset
from pyunlocbox_gae.cli import main
from pyunlocbox_gae.experiments import sources, stages
from pyunlocbox_gae.experiments.settings import make_config

TINY = dict(n_atoms=16, max_outer=3, n_repeats=1, n_splits=3)


def blobs(n=90, d=12, seed=0):
    """Three classes of well separated points, with two groups."""
    rng = np.random.default_rng(seed)
    y = np.repeat(["a", "b", "c"], n // 3)
    centres = rng.normal(0, 3, (3, d))
    X = centres[np.searchsorted(["a", "b", "c"], y)] + rng.normal(0, 1, (n, d))
    return X, y, np.tile(["g1", "g2"], n // 2)


def write_csv(path, X, y, groups):
    head = ",".join(f"f{i}" for i in range(X.shape[1])) + ",label,group"
    lines = [head] + [
        ",".join(f"{v:.6f}" for v in row) + f",{label},{g}"
        for row, label, g in zip(X, y, groups, strict=True)
    ]
    path.write_text("\n".join(lines) + "\n")
    return path


@pytest.fixture
def feature_csv(tmp_path):
    return write_csv(tmp_path / "features.csv", *blobs())


def test_feature_files_read_alike(tmp_path, feature_csv):
    X, y, groups = blobs()
    np.save(tmp_path / "X.npy", X)
    (tmp_path / "y.txt").write_text("\n".join(y))
    with h5py.File(tmp_path / "f.h5", "w") as f:
        f["X"], f["y"] = X, y.astype("S")
        f["groups"] = groups.astype("S")
    from_csv = sources.read_features(feature_csv)
    from_npy = sources.read_features(tmp_path / "X.npy", labels=tmp_path / "y.txt")
    from_h5 = sources.read_features(tmp_path / "f.h5")
    for data in (from_npy, from_h5):
        np.testing.assert_allclose(data.X, from_csv.X, atol=1e-6)
        assert data.y.tolist() == from_csv.y.tolist()
        assert data.classes == ["a", "b", "c"]
    assert from_csv.groups.tolist() == from_h5.groups.tolist() == groups.tolist()
    assert from_npy.groups is None


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("a,b\n1,2\n", "no label column 'label'"),
        ("a,label\n1,x\n2,x\n", "1 class"),
        ("a,label\nhigh,x\nlow,y\n", "feature columns must be numbers"),
    ],
)
def test_bad_feature_csv_is_named(tmp_path, content, message):
    path = tmp_path / "bad.csv"
    path.write_text(content)
    with pytest.raises(ValueError, match=message):
        sources.read_features(path)


def test_npy_without_labels_says_how(tmp_path):
    np.save(tmp_path / "X.npy", np.ones((4, 2)))
    with pytest.raises(ValueError, match="set labels = "):
        sources.read_features(tmp_path / "X.npy")


def test_run_point_on_given_data_honours_noise():
    X, y, _ = blobs()
    clean, _ = experiments.run_point(make_config(TINY), data=(X, y))
    noisy, _ = experiments.run_point(make_config(TINY, noise=1.0), data=(X, y))
    # min-max scaled to [0, 1], then noise of std 1: the classes blur.
    assert clean["baseline"] > 95
    assert noisy["baseline"] < clean["baseline"] - 20


def test_run_point_scales_given_data_like_a_file(feature_csv):
    X, y, _ = blobs()
    config = make_config(TINY, noise=0.1)
    given, _ = experiments.run_point(config, data=(X, y))
    read, _ = experiments.run_point(make_config(config, dataset=str(feature_csv)))
    assert read["objective"] == pytest.approx(given["objective"], rel=1e-3)
    assert read["baseline"] == pytest.approx(given["baseline"])


@pytest.mark.parametrize(
    "scaling,copies", [("minmax", 1.5), ("none", 1.5), ("standard", 1.9)]
)
def test_prepare_copies_float32_rows_once_and_keeps_them(scaling, copies):
    rng = np.random.default_rng(0)
    X = rng.random((20000, 24), dtype=np.float32)
    before = X.copy()
    tracemalloc.start()
    out = sources.prepare(X, scaling, noise=0.1, seed=0)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    np.testing.assert_array_equal(X, before)  # the input is not modified
    assert out.dtype == np.float32 and not np.shares_memory(out, X)
    # The scaled copy; the statistics and the noise a block at a time.
    assert peak < copies * X.nbytes
    noise = out - sources.prepare(X, scaling)
    expected = np.random.default_rng(0).standard_normal(X.shape, dtype=np.float32)
    np.testing.assert_allclose(noise, np.float32(0.1) * expected, atol=1e-6)


def test_gae_run_and_sweep_on_a_feature_csv(tmp_path, feature_csv, capsys):
    toml = tmp_path / "run.toml"
    settings = "".join(f"{k} = {v}\n" for k, v in TINY.items())
    toml.write_text(
        f'dataset = "features.csv"\noutput = "out"\nlg = 10\ncontrols = []\n{settings}'
    )
    assert main(["run", str(toml), "--quiet"]) == 0
    payload = json.loads((tmp_path / "out" / "results.json").read_text())
    row = payload["rows"][0]
    assert row["accuracy"] > 90 and row["chance"] == pytest.approx(100 / 3)
    assert (tmp_path / "out" / "accuracy.png").exists()
    assert "raw (baseline)" in capsys.readouterr().out

    argv = ["sweep", "--param", "lg", "--values", "0,10", "--no-progress"]
    argv += ["--set", f"dataset={feature_csv}", "--output", str(tmp_path / "s")]
    argv += ["--set", "controls=none"]  # the controls have tests of their own
    for key, value in TINY.items():
        argv += ["--set", f"{key}={value}"]
    assert main(argv + ["--no-plots"]) == 0
    rows = experiments.load_results(tmp_path / "s" / "results.json")["rows"]
    assert [r["value"] for r in rows] == [0, 10]
    assert all(r["accuracy"] > 90 for r in rows)


def test_gae_demo_on_a_feature_csv(tmp_path, feature_csv, capsys):
    argv = ["demo", "--quick", "--set", f"dataset={feature_csv}", "--noise", "0"]
    argv += ["--lg", "10", "--output", str(tmp_path / "d"), "--no-progress"]
    for key, value in TINY.items():
        argv += ["--set", f"{key}={value}"]
    assert main(argv) == 0
    payload = json.loads((tmp_path / "d" / "results.json").read_text())
    assert payload["representations"] == ["raw", "codes, lg=0", "codes, lg=10"]
    assert all(cells[0][0] > 90 for cells in payload["table"].values())
    assert "features.csv (all samples)" in capsys.readouterr().out


AUDIO = dict(
    sample_rate=8000,
    clip_samples=12000,
    n_bins=24,
    bins_per_octave=12,
    pooling="mean",
    n_atoms=16,
    max_outer=3,
    n_repeats=1,
)


@pytest.fixture(scope="module")
def spoken(tmp_path_factory):
    """Recordings of 0.3 to 1.5 s by four speakers, with a labels.csv."""
    root = tmp_path_factory.mktemp("spoken")
    return make_labelled_dataset(root, classes=3, speakers=4, clips_per_speaker=3)


@pytest.fixture(scope="module")
def frames(tmp_path_factory):
    """One cache of CQT frames for the tests that read the same clips."""
    return tmp_path_factory.mktemp("frames")


def test_labelled_audio_folder_with_speaker_folds(spoken, frames, tmp_path):
    config = make_config(AUDIO, dataset=str(spoken), protocol="group", n_splits=4)
    data = sources.load_source(config, frames)
    n_clips = 3 * 4 * 3
    lengths = np.bincount(data.clips)
    assert len(lengths) == n_clips and data.info["padded"] == 0
    assert lengths.min() < lengths.max() / 2  # clips kept at their own lengths
    assert sorted(set(data.groups)) == ["s0", "s1", "s2", "s3"]
    record, _ = experiments.run_point(config, tmp_path, data=data)
    assert record["protocol"] == "group" and record["padded_clips"] == 0
    assert record["baseline"] > record["chance"] + 20


def test_padding_only_on_request_and_reported(spoken, tmp_path):
    config = make_config(AUDIO, dataset=str(spoken), short_clips="pad")
    data = sources.load_source(config, tmp_path)
    assert data.info["padded"] == 36  # every clip is under 1.5 s = 12,000
    assert len(set(np.bincount(data.clips))) == 1


@pytest.mark.parametrize("pooling", ["windows", "mean", "max", "meanmax"])
def test_pooling_and_per_clip_scoring(spoken, frames, pooling):
    config = make_config(AUDIO, dataset=str(spoken), pooling=pooling, n_vectors=1)
    data = sources.load_source(config, frames)
    X = sources.prepare(data.X)
    for scoring in ("vector", "clip"):
        out = stages.classify_stage(X, data, make_config(config, scoring=scoring))
        assert out["accuracy"] > 60, (pooling, scoring)


def test_filter_bank_built_once_for_all_clips(spoken, tmp_path, monkeypatch):
    from pyunlocbox_gae.audio import cqt

    cqt._FILTERS.clear()
    builds = []
    real = cqt.build_filters
    monkeypatch.setattr(cqt, "build_filters", lambda *a: builds.append(1) or real(*a))
    config = make_config(AUDIO, dataset=str(spoken))
    data = sources.load_source(config, tmp_path)
    n_clips = len(np.unique(data.clips))
    # Two octaves (24 bins, 12 an octave): one bank each, for 36 clips of
    # two streams each (144 builds without sharing).
    assert n_clips == 36 and len(builds) == 2
