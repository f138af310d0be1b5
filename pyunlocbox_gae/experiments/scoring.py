r"""Pooling of clip rows into vectors, the cross-validation protocols, scores.

Rows (samples, or the CQT frames of audio clips) are pooled per clip into
the vectors the classifier sees:

* ``"windows"``: the study's sums of ``|x|`` over ``n_vectors`` windows
  plus as many offset by half a window (``2 * n_vectors`` vectors a clip,
  :func:`pyunlocbox_gae.classification.clip_vectors`), for clips of any
  length;
* ``"mean"``, ``"max"`` (of ``|x|``), ``"meanmax"`` (both, concatenated):
  one vector a clip;
* ``"signed"``: the mean of ``x`` itself, one vector a clip: codes of either
  sign keep their sign, which ``|x|`` drops (the same as ``"mean"`` on
  non-negative rows);
* ``"none"``: every row (frame) is a vector of its own, labelled with its
  clip's label; the splits still keep each clip's frames on one side.

Rows that belong to no clip (digits, feature files) are vectors as they are.
A linear SVM (behind a scaler fitted on the training folds) is scored
(``scoring``) per vector (a frame, with ``"none"`` pooling), per clip by
majority vote of its vectors (``"clip"``), or per clip by the class of
highest mean decision score over its vectors (``"clip_mean"``); all three
are measured on the same fitted classifiers (:func:`cross_validate_scorings`).
Protocols:

* ``"grouped"`` (default): stratified k-fold over clips, repeated;
* ``"group"``: folds that keep each group (a speaker) whole;
* ``"leaky"``: folds over vectors, so one clip's vectors fall on both sides
  (the study's protocol, labelled as such in the results);
* ``"holdout"``: one fixed split, ``test_size`` of the clips (of the groups
  when there are groups) held out.

.. autosummary::
    pool
    clip_splits
    cross_validate
    cross_validate_scorings
    vector_splits
    score_all
"""

import warnings

import numpy as np
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import (
    GroupShuffleSplit,
    RepeatedStratifiedKFold,
    StratifiedGroupKFold,
    StratifiedShuffleSplit,
)
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import MinMaxScaler, StandardScaler
from sklearn.svm import SVC, LinearSVC
from tqdm.auto import tqdm

from pyunlocbox_gae.errors import InputError

POOLINGS = ("windows", "mean", "max", "meanmax", "signed", "none")
PROTOCOLS = ("grouped", "group", "leaky", "holdout")
SCORINGS = ("vector", "clip", "clip_mean")
SCALERS = ("minmax", "standard", "none")
CLASSIFIERS = ("linear_svc", "svc")


def _starts(clips):
    """First row of each clip; rows of a clip must be contiguous."""
    change = np.flatnonzero(np.diff(clips)) + 1
    starts = np.concatenate([[0], change])
    if len(np.unique(clips)) != len(starts):
        raise InputError("the rows of each clip must be contiguous")
    return starts


def pool(F, clips=None, pooling="windows", n_vectors=6):
    """The classifier's vectors of rows F and the clip of each vector.

    Parameters
    ----------
    F : ndarray of shape (n_rows, n_features)
    clips : ndarray of int, shape (n_rows,), or None
        The clip of each row (contiguous); None: each row is a vector.
    pooling : {'windows', 'mean', 'max', 'meanmax', 'signed', 'none'}
        ``"none"``: the rows themselves, one vector a row; ``"signed"``: the
        mean of the rows with their sign, the others pool ``|x|``.
    n_vectors : int
        Windows per set (``"windows"`` only).

    Returns
    -------
    V : ndarray of shape (n_vectors_total, n_features or 2 * n_features)
    owner : ndarray of int
        Index of the clip (0 to n_clips - 1, in order) of each vector.

    Examples
    --------
    >>> F = np.arange(10.0).reshape(5, 2)
    >>> V, owner = pool(F, np.array([0, 0, 0, 1, 1]), "mean")
    >>> V.tolist(), owner.tolist()
    ([[2.0, 3.0], [7.0, 8.0]], [0, 1])
    >>> pool(F, np.array([0, 0, 0, 1, 1]), "max")[0].tolist()
    [[4.0, 5.0], [8.0, 9.0]]
    >>> pool(-F, np.array([0, 0, 0, 1, 1]), "signed")[0].tolist()
    [[-2.0, -3.0], [-7.0, -8.0]]
    >>> V, owner = pool(F, np.array([7, 7, 7, 3, 3]), "none")
    >>> V is F, owner.tolist()
    (True, [0, 0, 0, 1, 1])
    """
    F = np.asarray(F)
    if clips is None:
        return F, np.arange(len(F))
    if pooling not in POOLINGS:
        raise InputError(f"pooling must be one of {POOLINGS}, got {pooling!r}")
    starts = _starts(np.asarray(clips))
    if pooling == "none":  # every frame a vector, owned by its clip
        owner = np.repeat(np.arange(len(starts)), np.diff(np.append(starts, len(F))))
        return F, owner
    A = np.abs(F)
    if pooling == "windows":
        from pyunlocbox_gae.classification import clip_vectors

        ends = np.append(starts[1:], len(F))
        parts = [
            clip_vectors(A[a:b][None], n_vectors)[0]
            for a, b in zip(starts, ends, strict=True)
        ]
        owner = np.repeat(np.arange(len(parts)), [len(p) for p in parts])
        return np.concatenate(parts), owner
    counts = np.diff(np.append(starts, len(F)))[:, None]
    if pooling == "signed":
        V = np.add.reduceat(F, starts, axis=0) / counts
        return V.astype(F.dtype, copy=False), np.arange(len(starts))
    mean = np.add.reduceat(A, starts, axis=0) / counts
    peak = np.maximum.reduceat(A, starts, axis=0)
    V = {"mean": mean, "max": peak, "meanmax": np.hstack([mean, peak])}[pooling]
    return V.astype(F.dtype, copy=False), np.arange(len(starts))


def clip_splits(
    y, groups=None, protocol="grouped", n_splits=5, n_repeats=3, seed=0, test_size=0.2
):
    """Train/test indices of clips (or, ``"leaky"``, of vectors) per split.

    Parameters
    ----------
    y : array of shape (n,)
        The label of each clip (of each vector for ``"leaky"``).
    groups : array of shape (n,), optional
        The group of each clip: needed by ``"group"``; kept whole by
        ``"holdout"`` when given.
    protocol : {'grouped', 'group', 'leaky', 'holdout'}
    n_splits, n_repeats, seed, test_size
        Folds, repetitions (each a new shuffle), seed, held-out fraction.

    Yields
    ------
    train, test : ndarray of int

    Examples
    --------
    >>> y = np.repeat([0, 1], 6)
    >>> groups = np.tile(["a", "b", "c"], 4)
    >>> folds = list(clip_splits(y, groups, "group", n_splits=3, n_repeats=1))
    >>> all(set(groups[tr]).isdisjoint(groups[te]) for tr, te in folds)
    True
    """
    y = np.asarray(y)
    if protocol not in PROTOCOLS:
        raise InputError(f"protocol must be one of {PROTOCOLS}, got {protocol!r}")
    counts = np.bincount(np.unique(y, return_inverse=True)[1])
    if protocol in ("grouped", "leaky"):
        if counts.min() < n_splits:
            raise InputError(
                f"the smallest class has {counts.min()} samples, fewer than "
                f"n_splits={n_splits}: use more samples or fewer splits"
            )
        cv = RepeatedStratifiedKFold(
            n_splits=n_splits, n_repeats=n_repeats, random_state=seed
        )
        yield from cv.split(np.zeros(len(y)), y)
    elif protocol == "group":
        if groups is None:
            raise InputError(
                "protocol 'group' needs a group column (the data has none); "
                "use protocol 'grouped' or give groups"
            )
        if len(np.unique(groups)) < n_splits:
            raise InputError(
                f"protocol 'group' with n_splits={n_splits} needs as many groups; "
                f"the data has {len(np.unique(groups))}"
            )
        for r in range(n_repeats):
            cv = StratifiedGroupKFold(n_splits, shuffle=True, random_state=seed + r)
            yield from cv.split(np.zeros(len(y)), y, groups)
    elif groups is not None:
        cv = GroupShuffleSplit(1, test_size=test_size, random_state=seed)
        yield from cv.split(np.zeros(len(y)), y, groups)
    else:
        cv = StratifiedShuffleSplit(1, test_size=test_size, random_state=seed)
        yield from cv.split(np.zeros(len(y)), y)


def classifier(C=1.0, scaler="minmax", kind="linear_svc"):
    """A linear SVM behind a per-feature scaler fitted on the training folds.

    ``kind="svc"`` is libsvm's ``SVC(kernel="linear")`` (the study's), slower
    than liblinear's ``LinearSVC`` on many vectors.

    Examples
    --------
    >>> [name for name, _ in classifier(scaler="standard").steps]
    ['standardscaler', 'linearsvc']
    >>> [name for name, _ in classifier(scaler="none", kind="svc").steps]
    ['svc']
    """
    if scaler not in SCALERS:
        raise InputError(f"scaler must be one of {SCALERS}, got {scaler!r}")
    if kind not in CLASSIFIERS:
        raise InputError(f"classifier must be one of {CLASSIFIERS}, got {kind!r}")
    step = {"minmax": MinMaxScaler(), "standard": StandardScaler()}.get(scaler)
    svm = LinearSVC(C=C) if kind == "linear_svc" else SVC(kernel="linear", C=C)
    return make_pipeline(*[s for s in (step, svm) if s is not None])


def _vote(pred, truth, owner):
    """Clip accuracy of the majority vote (ties: the lowest class)."""
    _, index = np.unique(owner, return_inverse=True)
    classes, label = np.unique(pred, return_inverse=True)
    votes = np.zeros((index.max() + 1, len(classes)), dtype=np.int64)
    np.add.at(votes, (index, label), 1)  # one pass, however many frames
    first = np.unique(index, return_index=True)[1]
    return float(np.mean(classes[votes.argmax(1)] == truth[first]))


def cross_validate(V, owner, y_clip, groups=None, progress=False, **params):
    """Accuracy (%) of the linear SVM on pooled vectors, split after split.

    Parameters
    ----------
    V : ndarray (n_vectors, n_features)
    owner : ndarray of int (n_vectors,)
        Clip of each vector (:func:`pool`).
    y_clip : ndarray (n_clips,)
        Label of each clip.
    groups : ndarray (n_clips,), optional
    progress : bool
        Show a progress bar over the splits.
    **params
        ``protocol``, ``n_splits``, ``n_repeats``, ``cv_seed``,
        ``test_size``, ``C``, ``scaler``, ``scoring``.

    Returns
    -------
    list of float
        The accuracy (%) of every split.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> y = np.repeat([0, 1], 10)
    >>> V = rng.random((20, 3)) + 2 * y[:, None]
    >>> scores = cross_validate(V, np.arange(20), y, protocol="grouped",
    ...     n_splits=5, n_repeats=1, cv_seed=0, C=1.0, scaler="minmax")
    >>> len(scores), min(scores)
    (5, 100.0)
    """
    p = _params(params)
    scores = cross_validate_scorings(V, owner, y_clip, groups, progress, **p)
    return scores[p["scoring"]]


def cross_validate_scorings(V, owner, y_clip, groups=None, progress=False, **params):
    """Accuracy (%) per split by every scoring, from the same fitted classifiers.

    Parameters are those of :func:`cross_validate` (``scoring`` is not
    read). Each split fits one classifier on the training vectors; its
    predictions on the test vectors are scored per vector (``"vector"``),
    per clip by majority vote (``"clip"``) and per clip by the mean
    decision score of its vectors (``"clip_mean"``).

    Returns
    -------
    dict
        ``{scoring: list of float}``, one accuracy (%) per split.

    Examples
    --------
    Frames of clips of two classes, every third frame of a clip flipped
    toward the other class: votes and mean scores recover every clip.

    >>> rng = np.random.default_rng(0)
    >>> owner = np.repeat(np.arange(20), 6)
    >>> y_clip = np.repeat([0, 1], 10)
    >>> sign = np.where(np.arange(120) % 3 == 0, -1, 1)
    >>> V = (2 * y_clip[owner] - 1) * sign + 0.1 * rng.standard_normal(120)
    >>> out = cross_validate_scorings(V[:, None], owner, y_clip, n_splits=5,
    ...     n_repeats=1, cv_seed=0, C=1.0, scaler="none")
    >>> [round(float(np.mean(out[k]))) for k in ("vector", "clip", "clip_mean")]
    [67, 100, 100]
    """
    p = _params(params)
    y = np.asarray(y_clip)[owner]
    scores = {name: [] for name in SCORINGS}
    with warnings.catch_warnings():
        # liblinear may stop at max_iter on unscaled codes; the scores are
        # what we report either way.
        warnings.simplefilter("ignore", ConvergenceWarning)
        splits = _vector_splits(owner, y_clip, groups, p)
        total = 1 if p["protocol"] == "holdout" else p["n_splits"] * p["n_repeats"]
        for train, test in tqdm(
            splits, "folds", total, disable=not progress, leave=False, unit="split"
        ):
            model = classifier(p["C"], p["scaler"], p["classifier"])
            model.fit(V[train], y[train])
            for name, score in score_all(model, V[test], y[test], owner[test]).items():
                scores[name].append(score)
    return scores


def _params(params):
    p = dict(
        protocol="grouped",
        test_size=0.2,
        scoring="vector",
        classifier="linear_svc",
        cv_seed=0,
    )
    p.update(params)
    return p


def vector_splits(owner, y_clip, groups=None, **params):
    """Train/test indices of vectors (or rows) for each split of the protocol.

    The clips are split by :func:`clip_splits` (``protocol``, ``n_splits``,
    ``n_repeats``, ``cv_seed``, ``test_size`` of `params`), then each
    clip's vectors follow it, so that no clip has vectors on both sides
    (except with ``"leaky"``, which splits the vectors).

    Examples
    --------
    >>> owner = np.repeat(np.arange(10), 3)  # 10 clips of 3 frames
    >>> y_clip = np.repeat([0, 1], 5)
    >>> folds = list(vector_splits(owner, y_clip, n_splits=5, n_repeats=1,
    ...                            cv_seed=0))
    >>> all(set(owner[tr]).isdisjoint(owner[te]) for tr, te in folds)
    True
    """
    return _vector_splits(owner, y_clip, groups, _params(params))


def _vector_splits(owner, y_clip, groups, p, inner=False):
    """Train/test indices of vectors for each split of the protocol."""
    y_clip = np.asarray(y_clip)
    leaky = p["protocol"] == "leaky"
    if inner:  # selection inside a training set: 3 folds, the same grouping
        protocol = "group" if p["protocol"] == "group" else "grouped"
        splits = clip_splits(y_clip, groups, protocol, 3, 1, p["cv_seed"])
    elif leaky:
        splits = clip_splits(
            y_clip[owner], None, "leaky", p["n_splits"], p["n_repeats"], p["cv_seed"]
        )
    else:
        splits = clip_splits(
            y_clip,
            groups,
            p["protocol"],
            p["n_splits"],
            p["n_repeats"],
            p["cv_seed"],
            p["test_size"],
        )
    for train, test in splits:
        if leaky and not inner:
            yield train, test
        else:  # clips to their vectors
            yield (
                np.flatnonzero(np.isin(owner, train)),
                np.flatnonzero(np.isin(owner, test)),
            )


def _mean_score(model, V, truth, owner):
    """Clip accuracy of the class with the highest mean decision score."""
    score = model.decision_function(V)
    if score.ndim == 1:  # two classes: the score of the second one
        score = np.column_stack([-score, score])
    clips, index = np.unique(owner, return_inverse=True)
    mean = np.zeros((len(clips), score.shape[1]))
    np.add.at(mean, index, score)  # the sum, whose argmax is the mean's
    first = np.unique(index, return_index=True)[1]
    return float(np.mean(model.classes_[mean.argmax(1)] == truth[first]))


def score_all(model, V, truth, owner):
    """Accuracy (%) of a fitted classifier on test vectors, by every scoring.

    Parameters
    ----------
    model : fitted classifier (:func:`classifier`)
    V : ndarray (n_vectors, n_features)
    truth : ndarray (n_vectors,)
        The label of each vector (its clip's).
    owner : ndarray of int (n_vectors,)
        The clip of each vector.

    Returns
    -------
    dict
        ``{"vector": %, "clip": %, "clip_mean": %}``.
    """
    pred = model.predict(V)
    return dict(
        vector=100 * float(np.mean(pred == truth)),
        clip=100 * _vote(pred, truth, owner),
        clip_mean=100 * _mean_score(model, V, truth, owner),
    )


def _score(V, y, owner, train, test, p):
    model = classifier(p["C"], p["scaler"], p["classifier"]).fit(V[train], y[train])
    return score_all(model, V[test], y[test], owner[test])[p["scoring"]]


def _inner_accuracy(V, y, owner, y_clip, groups, train, p):
    """Mean accuracy of 3 inner folds over the training clips of one split."""
    clips = np.unique(owner[train])
    sub = np.isin(owner, clips)
    index = np.full(owner.max() + 1, -1)
    index[clips] = np.arange(len(clips))
    inner_owner = index[owner[sub]]
    g = None if groups is None else np.asarray(groups)[clips]
    scores = [
        _score(V[sub], y[sub], inner_owner, tr, te, p)
        for tr, te in _vector_splits(inner_owner, y_clip[clips], g, p, inner=True)
    ]
    return float(np.mean(scores))


def cross_validate_tuned(candidates, owner, y_clip, groups=None, **params):
    """Per-split accuracy (%) of the candidate chosen on that split's training set.

    For each split of :func:`cross_validate` (the same splits, so scores
    pair with it split by split), every candidate feature set is scored by
    3-fold cross-validation inside the training clips; the best one is then
    fitted on the training clips and scored on the test clips. This tunes a
    parameter (a sparsity weight) without looking at the test clips.

    Parameters
    ----------
    candidates : list of ndarray (n_vectors, n_features)
        Pooled vectors of each candidate, vectors in the same order.
    owner, y_clip, groups, **params
        As :func:`cross_validate`.

    Returns
    -------
    scores : list of float
    chosen : list of int
        Index of the candidate chosen in each split.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> y = np.repeat([0, 1], 10)
    >>> good = rng.random((20, 3)) + 2 * y[:, None]
    >>> bad = rng.random((20, 3))
    >>> scores, chosen = cross_validate_tuned([bad, good], np.arange(20), y,
    ...     n_splits=5, n_repeats=1, cv_seed=0, C=1.0, scaler="minmax")
    >>> chosen, min(scores)
    ([1, 1, 1, 1, 1], 100.0)
    """
    p = _params(params)
    y_clip = np.asarray(y_clip)
    y = y_clip[owner]
    scores, chosen = [], []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        for train, test in _vector_splits(owner, y_clip, groups, p):
            inner = [
                _inner_accuracy(V, y, owner, y_clip, groups, train, p)
                for V in candidates
            ]
            best = int(np.argmax(inner))
            chosen.append(best)
            scores.append(_score(candidates[best], y, owner, train, test, p))
    return scores, chosen


def paired(scores, other):
    """Split-by-split difference of two score lists: mean, std, splits won.

    Examples
    --------
    >>> paired([90, 80, 70], [85, 82, 60])
    {'mean': 4.33..., 'std': 4.92..., 'won': 2, 'splits': 3}
    """
    diff = np.asarray(scores, float) - np.asarray(other, float)
    return dict(
        mean=float(diff.mean()),
        std=float(diff.std()),
        won=int((diff > 0).sum()),
        splits=int(diff.size),
    )
