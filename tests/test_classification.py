"""Clip vectors, the clip-level estimators, and folds that never split a clip."""

import numpy as np
import pytest
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.model_selection import StratifiedKFold, cross_val_score
from sklearn.pipeline import make_pipeline

from pyunlocbox_gae import classification as C
from pyunlocbox_gae.experiments import scoring


def test_clip_vectors_are_window_sums_of_magnitudes(rng):
    rows = rng.standard_normal((3, 1288, 4)).astype(np.float32)
    V = C.clip_vectors(rows, n_vectors=6)
    assert V.shape == (3, 12, 4) and V.dtype == np.float32
    w = 198  # the study's window for 644 frames in two streams
    starts = [k * w for k in range(6)] + [w // 2 + k * w for k in range(6)]
    expected = np.stack([np.abs(rows[:, s : s + w]).sum(axis=1) for s in starts], 1)
    np.testing.assert_allclose(V, expected, rtol=1e-5)
    assert starts[-1] + w <= 1288  # the offset set fits in the clip
    assert C.clip_vectors(rows[:, :298], 6).shape == (3, 12, 4)  # 149 frames: w=45
    with pytest.raises(ValueError, match="too short for n_vectors=6"):
        C.clip_vectors(rows[:, :6], 6)


def _splits(labels, k, protocol, n_splits, n_repeats):
    """The chain's vector splits of clips of `k` vectors each."""
    owner = np.repeat(np.arange(labels.size), k)
    p = dict(protocol=protocol, n_splits=n_splits, n_repeats=n_repeats, cv_seed=0)
    p["test_size"] = 0.2
    return list(scoring._vector_splits(owner, labels, None, p))


def test_grouped_folds_never_split_a_clip_and_are_stratified():
    labels = np.repeat([0, 1, 2], [10, 12, 11])
    k = 12
    tested = np.zeros(labels.size, int)
    folds = _splits(labels, k, "grouped", n_splits=5, n_repeats=3)
    assert len(folds) == 15
    for train, test in folds:
        train_clips, test_clips = set(train // k), set(test // k)
        assert train_clips.isdisjoint(test_clips)
        assert len(train) + len(test) == labels.size * k
        assert set(labels[list(test_clips)]) == {0, 1, 2}
        # whole clips: every vector of a test clip is in test
        assert len(test) == len(test_clips) * k
        tested[list(test_clips)] += 1
    assert np.all(tested == 3)  # each clip tested once per repeat


def test_leaky_protocol_splits_clips_as_the_study_did():
    labels = np.repeat([0, 1], 10)
    folds = _splits(labels, 12, "leaky", n_splits=10, n_repeats=2)
    assert len(folds) == 20
    train, test = folds[0]
    assert len(test) == 24  # 10 % of the 240 vectors
    assert set(train // 12) & set(test // 12)  # clips on both sides


def test_too_few_clips_for_the_folds():
    with pytest.raises(ValueError, match="the smallest class has 4 samples"):
        _splits(np.repeat([0, 1], [12, 4]), 12, "grouped", n_splits=10, n_repeats=1)
    with pytest.raises(ValueError, match="protocol must be one of"):
        _splits(np.zeros(4), 2, "random", 2, 1)


def _clips(rng, n_clips=30, k=12, dim=6, shift=1.0):
    labels = np.repeat(np.arange(3), n_clips // 3)
    centers = rng.standard_normal((3, dim)) * shift
    V = rng.standard_normal((n_clips, k, dim)) + centers[labels][:, None]
    return V.astype(np.float32), labels


def test_cross_validation_beats_chance_and_voting_helps(rng):
    V, labels = _clips(rng, shift=0.8)
    owner = np.repeat(np.arange(len(labels)), V.shape[1])
    p = dict(protocol="grouped", n_splits=5, n_repeats=2, cv_seed=0, C=1.0)
    p["scaler"] = "minmax"
    flat = V.reshape(-1, V.shape[-1])
    plain = scoring.cross_validate(flat, owner, labels, **p)
    voted = scoring.cross_validate(flat, owner, labels, scoring="clip", **p)
    assert len(plain) == 10 and np.mean(plain) > 60  # chance is 1/3
    assert np.mean(voted) >= np.mean(plain)
    noise = rng.standard_normal(flat.shape).astype(np.float32)
    shuffled = scoring.cross_validate(noise, owner, labels, **p)
    assert np.mean(shuffled) < 50  # no signal, no accuracy: the folds are honest


def test_vote_and_vector_svm(rng):
    assert C._vote(np.array([[1, 2, 2], [0, 1, 3], [4, 4, 0]])).tolist() == [2, 0, 4]
    V, labels = _clips(rng, shift=3.0)
    X = V.reshape(len(V), -1)
    clf = C.VectorSVM(vectors_per_clip=12).fit(X, labels)
    assert clf.predict_vectors(X).shape == (30, 12)
    assert clf.score(X, labels) > 0.9
    with pytest.raises(ValueError, match="vectors_per_clip=5"):
        C.VectorSVM(vectors_per_clip=5).fit(X, labels)


class _Spy(TransformerMixin, BaseEstimator):
    """A frame-level transformer that records what it is fitted on."""

    fitted = []

    def fit(self, X, y=None):
        _Spy.fitted.append(X.copy())
        return self

    def transform(self, X):
        return np.abs(X)


def test_inductive_pipeline_fits_frame_models_on_training_clips_only(rng):
    n_clips, n_rows, dim = 15, 13, 3
    labels = np.repeat([0, 1, 2], 5)
    frames = rng.standard_normal((n_clips, n_rows, dim)) + labels[:, None, None]
    X = frames.reshape(n_clips, -1)
    model = make_pipeline(
        C.PerFrame(_Spy(), n_features=dim),
        C.ClipVectorizer(n_rows=n_rows, n_vectors=2),
        C.VectorSVM(vectors_per_clip=4),
    )
    _Spy.fitted.clear()
    folds = StratifiedKFold(5, shuffle=True, random_state=1)
    scores = cross_val_score(model, X, labels, cv=folds)
    assert len(_Spy.fitted) == 5
    for fitted, (train, _) in zip(_Spy.fitted, folds.split(X, labels), strict=True):
        assert fitted.shape == (len(train) * n_rows, dim)
        np.testing.assert_array_equal(fitted, frames[train].reshape(-1, dim))
    assert scores.mean() > 0.6
