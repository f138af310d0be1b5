r"""Pooling of clip rows into vectors, the cross-validation protocols, scores.

Rows (samples, or the CQT frames of audio clips) are pooled per clip into
the vectors the classifier sees:

* ``"windows"``: the study's sums of ``|x|`` over ``n_vectors`` windows
  plus as many offset by half a window (``2 * n_vectors`` vectors a clip,
  :func:`pyunlocbox_gae.classification.clip_vectors`), for clips of any
  length;
* ``"mean"``, ``"max"`` (of ``|x|``), ``"meanmax"`` (both, concatenated):
  one vector a clip.

Rows that belong to no clip (digits, feature files) are vectors as they are.
A linear SVM (behind a scaler fitted on the training folds) is scored per
vector or, with ``scoring="clip"``, per clip by majority vote. Protocols:

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

POOLINGS = ("windows", "mean", "max", "meanmax")
PROTOCOLS = ("grouped", "group", "leaky", "holdout")
SCORINGS = ("vector", "clip")
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
    pooling : {'windows', 'mean', 'max', 'meanmax'}
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
    """
    F = np.asarray(F)
    if clips is None:
        return F, np.arange(len(F))
    if pooling not in POOLINGS:
        raise InputError(f"pooling must be one of {POOLINGS}, got {pooling!r}")
    starts = _starts(np.asarray(clips))
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
    right = []
    for c in np.unique(owner):
        values, counts = np.unique(pred[owner == c], return_counts=True)
        right.append(values[np.argmax(counts)] == truth[owner == c][0])
    return float(np.mean(right))


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
    y = np.asarray(y_clip)[owner]
    scores = []
    with warnings.catch_warnings():
        # liblinear may stop at max_iter on unscaled codes; the scores are
        # what we report either way.
        warnings.simplefilter("ignore", ConvergenceWarning)
        splits = _vector_splits(owner, y_clip, groups, p)
        total = 1 if p["protocol"] == "holdout" else p["n_splits"] * p["n_repeats"]
        for train, test in tqdm(
            splits, "folds", total, disable=not progress, leave=False, unit="split"
        ):
            scores.append(_score(V, y, owner, train, test, p))
    return scores


def _params(params):
    p = dict(
        protocol="grouped", test_size=0.2, scoring="vector", classifier="linear_svc"
    )
    p.update(params)
    return p


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


def _score(V, y, owner, train, test, p):
    model = classifier(p["C"], p["scaler"], p["classifier"]).fit(V[train], y[train])
    pred = model.predict(V[test])
    if p["scoring"] == "clip":
        return 100 * _vote(pred, y[test], owner[test])
    return 100 * float(np.mean(pred == y[test]))


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
