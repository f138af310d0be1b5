"""Frame pooling, codes learned per split (clean training rows), stability runs."""

import json

import numpy as np
import pytest

from pyunlocbox_gae import GraphAutoEncoder, experiments
from pyunlocbox_gae.errors import InputError
from pyunlocbox_gae.experiments import scoring, sources, stages
from pyunlocbox_gae.experiments.settings import make_config

SMALL = dict(n_atoms=12, max_outer=3, n_repeats=1, n_splits=3, controls=[])


def framed_clips(n_clips=30, frames=9, d=6, spread=1.6, seed=0):
    """Clips of 3 classes whose frames are weak, noisy evidence of the class."""
    rng = np.random.default_rng(seed)
    y_clip = np.arange(n_clips) % 3
    centres = rng.standard_normal((3, d))
    clips = np.repeat(np.arange(n_clips), frames)
    X = centres[y_clip[clips]] + spread * rng.standard_normal((len(clips), d))
    return sources.Data(X, y_clip[clips], ["a", "b", "c"], clips=clips)


def test_frame_pooling_votes_clips_from_weak_frames():
    data = framed_clips()
    config = make_config(SMALL, pooling="none", scaler="standard", n_splits=5)
    out = stages.classify_stage(data.X.astype(np.float32), data, config)
    frame, vote, mean = (out[f"accuracy_{s}"] for s in scoring.SCORINGS)
    # Frames alone are often wrong; 9 frames a clip outvote their noise.
    assert frame < 85 and vote > frame + 10 and mean > frame + 10
    assert out["accuracy"] == frame  # scoring="vector": one frame, one vector
    clip = stages.classify_stage(data.X, data, make_config(config, scoring="clip"))
    assert clip["accuracy"] == vote


def test_signed_pooling_keeps_the_sign_that_pooling_of_abs_loses():
    # two classes whose frames differ only in sign: |x| cannot tell them apart
    rng = np.random.default_rng(0)
    y_clip = np.arange(40) % 2
    clips = np.repeat(np.arange(40), 6)
    sign = np.where(y_clip[clips] == 1, 1.0, -1.0)[:, None]
    X = sign * (1 + 0.3 * rng.random((len(clips), 4)))
    data = sources.Data(X, y_clip[clips], ["neg", "pos"], clips=clips)
    scores = {}
    for pooling in ("mean", "signed"):
        config = make_config(SMALL, pooling=pooling, n_splits=4)
        scores[pooling] = stages.classify_stage(X, data, config)["accuracy"]
    assert scores["signed"] == 100 and scores["mean"] < 75
    V, owner = scoring.pool(X, clips, "signed")
    np.testing.assert_allclose(V[1], X[6:12].mean(axis=0), rtol=1e-6)
    assert len(owner) == 40


def test_pooling_none_from_the_command_line():
    from pyunlocbox_gae.experiments.settings import parse_assignments

    # "none" parses as None (JSON null): for pooling it is the choice "none".
    assert make_config(parse_assignments(["pooling=none"]))["pooling"] == "none"
    config = dict(SMALL, n_samples=60)
    out = experiments.sweep("pooling", [None], config, progress=False, plots=False)
    assert out["values"] == ["none"]


def test_frame_splits_keep_each_clip_on_one_side():
    data = framed_clips()
    V, owner = scoring.pool(data.X, data.clips, "none")
    assert V is data.X and len(owner) == len(data.X)
    y_clip = stages.clip_labels(data)[0]
    folds = list(scoring.vector_splits(owner, y_clip, n_splits=5, n_repeats=2))
    assert len(folds) == 10
    for train, test in folds:
        assert set(owner[train]).isdisjoint(owner[test])
        assert len(train) + len(test) == len(owner)


def test_mean_score_needs_the_scores_not_the_votes():
    # One clip, three frames: two weakly for class 0, one strongly for 1.
    # The vote says 0, the mean decision score says 1.
    class Fixed:
        classes_ = np.array([0, 1])

        def predict(self, V):
            return (V[:, 0] > 0).astype(int)

        def decision_function(self, V):
            return V[:, 0]

    V = np.array([[-0.1], [-0.1], [5.0]])
    out = scoring.score_all(Fixed(), V, np.array([1, 1, 1]), np.zeros(3, int))
    assert out["clip"] == 0 and out["clip_mean"] == 100


def digits(noise, n_samples=150, **extra):
    return make_config(SMALL, n_samples=n_samples, noise=noise, **{"lg": 10, **extra})


def test_clean_train_fits_on_clean_training_rows_only(monkeypatch):
    fitted, coded = [], []
    fit_transform = GraphAutoEncoder.fit_transform
    transform = GraphAutoEncoder.transform

    def spy_fit(self, X, y=None):
        fitted.append(np.array(X))
        return fit_transform(self, X, y)

    def spy_transform(self, X, graph=None):
        coded.append((self.transform_algorithm, np.array(X)))
        return transform(self, X, graph)

    monkeypatch.setattr(GraphAutoEncoder, "fit_transform", spy_fit)
    monkeypatch.setattr(GraphAutoEncoder, "transform", spy_transform)
    config = digits(0.3, mode="clean_train")
    data = sources.load_source(config)
    record, extra = experiments.run_point(config, data=data)
    clean = sources.prepare(data.X, "minmax", 0.0)
    noisy = sources.prepare(data.X, "minmax", 0.3, config["noise_seed"])
    assert len(fitted) == 3  # one model a split
    rows = lambda A, B: {r.tobytes() for r in A} <= {r.tobytes() for r in B}  # noqa: E731
    for X in fitted:
        assert rows(X, clean) and not rows(X[:1], noisy)  # clean rows only
    # Each split's test rows, noisy, coded out of sample and without a graph.
    assert [c for c, _ in coded] == ["out_of_sample", "sparse_code"] * 3
    for (_, X), train in zip(coded[::2], fitted, strict=True):
        assert rows(X, noisy) and len(X) + len(train) == len(data.X)
    assert record["mode"] == "clean_train"
    assert record["transform_algorithm"] == "out_of_sample"
    assert record["accuracy"] == record["accuracy_out_of_sample"]
    assert record["accuracy"] > record["chance"] + 30
    assert extra["codes"] is None


def test_inductive_record_is_cached_and_paired_with_the_transductive_splits(tmp_path):
    config = digits(0.2, mode="inductive")
    first, _ = experiments.run_point(config, tmp_path)
    again, _ = experiments.run_point(config, tmp_path)
    assert again["cached_codes"] and again["scores"] == first["scores"]
    transductive, _ = experiments.run_point(make_config(config, mode="transductive"))
    # The same splits: the raw baseline trains and tests on the same noisy rows.
    assert transductive["baseline_scores"] == first["baseline_scores"]


def test_every_test_coding_is_scored_and_the_named_one_reported():
    config = digits(0.2, mode="inductive", lg=0, le=5, transform_algorithm="encoder")
    record, _ = experiments.run_point(config)
    assert record["transform_algorithm"] == "encoder"
    assert record["accuracy"] == record["accuracy_encoder"]
    assert "accuracy_sparse_code" in record and "accuracy_out_of_sample" not in record
    assert record["accuracy_sparse_code"] > record["chance"] + 30


def test_transform_algorithm_needs_its_term():
    message = "transform_algorithm = 'encoder' needs an encoder"
    with pytest.raises(InputError, match=message):
        stages.check_estimators(
            [digits(0.1, mode="clean_train", transform_algorithm="encoder")]
        )
    with pytest.raises(InputError, match="mode must be"):
        stages.check_estimators([digits(0.1, mode="clean")])


def test_stability_varies_one_seed_at_a_time(tmp_path, monkeypatch):
    fits = []
    fit_transform = GraphAutoEncoder.fit_transform
    monkeypatch.setattr(
        GraphAutoEncoder,
        "fit_transform",
        lambda self, X, y=None: (
            fits.append(self.random_state) or fit_transform(self, X)
        ),
    )
    # The seeds' entropy fixed, so that the test does not depend on the draw.
    sequence = np.random.SeedSequence
    monkeypatch.setattr(
        np.random, "SeedSequence", lambda entropy=None: sequence(entropy or 2026)
    )
    config = make_config(
        SMALL, n_samples=120, stability_runs=3, stability_factors=["folds", "noise"]
    )
    record, _ = experiments.run_point(config, tmp_path)
    # Folds only: the codes of the point are read back, never re-learned.
    # Noise: without noise, its seed changes nothing, so no spread.
    assert fits == [0]
    assert record["stability_noise_std"] == 0
    seeds = record["stability_folds_seeds"]
    assert len({s["cv_seed"] for s in seeds}) == 3 and set(seeds[0]) == {"cv_seed"}
    accuracy = record["stability_folds_accuracy"]
    assert record["stability_folds_std"] == pytest.approx(np.std(accuracy))
    assert record["stability_folds_std"] > 0  # three shuffles of 120 digits
    assert record["stability_entropy"] == "2026"


def test_stability_reproduces_from_its_entropy():
    from pyunlocbox_gae.experiments.stability import stability_record

    config = make_config(
        SMALL, n_samples=80, noise=0.2, stability_runs=2, stability_factors=["all"]
    )
    first = stability_record(config)
    again = stability_record(config, entropy=int(first["stability_entropy"]))
    assert again["stability_all_seeds"] == first["stability_all_seeds"]
    assert again["stability_all_accuracy"] == first["stability_all_accuracy"]
    seeds = first["stability_all_seeds"]
    assert seeds[0] != seeds[1] and set(seeds[0]) == {
        "noise_seed",
        "random_state",
        "cv_seed",
    }


def test_sweep_writes_stability_to_results_and_figure(tmp_path):
    config = make_config(
        SMALL, n_samples=80, stability_runs=2, stability_factors=["folds", "all"]
    )
    experiments.sweep("ls", [0.5, 2], config, tmp_path, progress=False)
    payload = json.loads((tmp_path / "results.json").read_text())
    for row in payload["rows"]:
        assert len(row["stability_all_accuracy"]) == 2
    header = (tmp_path / "results.csv").read_text().splitlines()[0].split(",")
    assert "stability_all_std" in header and "stability_all_seeds" not in header
    data = (tmp_path / "stability.png").read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"


def test_mode_sweep_draws_every_test_coding(tmp_path):
    config = digits(0.2, n_samples=100)
    payload = experiments.sweep(
        "mode", ["transductive", "clean_train"], config, tmp_path, progress=False
    )
    transductive, clean = payload["rows"]
    assert "accuracy_out_of_sample" in clean and "accuracy_sparse_code" in clean
    assert "accuracy_out_of_sample" not in transductive
    data = (tmp_path / "test-codings.png").read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
