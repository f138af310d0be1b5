r"""Clip vectors, a linear SVM with optional voting, and honest cross-validation.

The original study summed the absolute values of a clip's frame features
(CQT magnitudes or codes) over windows: ``n_vectors`` windows of
``floor(n_rows / (n_vectors + 0.5))`` rows, plus as many offset by half a
window, giving ``2 * n_vectors`` vectors per clip (12 by default). A linear
SVM classifies each vector; voting optionally takes the majority over a
clip's vectors.

Two protocols:

* ``"grouped"`` (default, honest): stratified k-fold over *clips*, repeated,
  so every vector of a clip is on one side of a split;
* ``"leaky"``: the study's random 90/10 splits of *vectors*, so vectors of
  one clip fall on both sides; kept to compare with the study's numbers.

Scaling of the vectors is fitted on the training side of each split only.

.. autosummary::
    clip_vectors
    check_cv_settings
    cv_splits
    evaluate
    evaluate_estimator
    VectorSVM
    PerFrame
    ClipVectorizer
"""

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin, TransformerMixin, clone
from sklearn.model_selection import RepeatedStratifiedKFold, ShuffleSplit
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import MinMaxScaler, StandardScaler
from sklearn.svm import SVC, LinearSVC

from pyunlocbox_gae.errors import InputError

PROTOCOLS = ("grouped", "leaky")
CLASSIFIERS = ("svc", "linear_svc")
SCALINGS = ("none", "minmax", "standard")


def clip_vectors(rows, n_vectors=6):
    """Aggregate each clip's rows into ``2 * n_vectors`` vectors (sum of ``|x|``).

    Parameters
    ----------
    rows : ndarray of shape (n_clips, n_rows, n_features)
        Frame features of each clip in time order (for CQT frames of two
        streams, see :func:`pyunlocbox_gae.audio.cqt.interleave`).
    n_vectors : int
        Windows per set; a second set is offset by half a window.

    Returns
    -------
    ndarray of shape (n_clips, 2 * n_vectors, n_features), dtype of `rows`

    Examples
    --------
    >>> rows = np.ones((1, 13, 2), dtype=np.float32)
    >>> V = clip_vectors(rows, n_vectors=2)  # windows of floor(13 / 2.5) = 5
    >>> V.shape, V.dtype, V[0, :, 0].tolist()
    ((1, 4, 2), dtype('float32'), [5.0, 5.0, 5.0, 5.0])
    """
    rows = np.asarray(rows)
    if rows.ndim != 3:
        raise InputError(
            f"rows must have shape (n_clips, n_rows, n_features), got {rows.shape}"
        )
    if not isinstance(n_vectors, (int, np.integer)) or n_vectors < 1:
        raise InputError(f"n_vectors must be a positive integer, got {n_vectors!r}")
    n_rows = rows.shape[1]
    window = int(n_rows // (n_vectors + 0.5))
    if window < 1:
        raise InputError(
            f"clips of {n_rows} frames are too short for n_vectors={n_vectors} "
            f"windows (each needs at least one frame); lower n_vectors"
        )
    starts = [k * window for k in range(n_vectors)]
    starts += [window // 2 + k * window for k in range(n_vectors)]
    out = np.empty((rows.shape[0], len(starts), rows.shape[2]), dtype=rows.dtype)
    for j, start in enumerate(starts):
        np.abs(rows[:, start : start + window]).sum(axis=1, out=out[:, j])
    return out


def _svm(classifier, C, scaling, random_state=None):
    if classifier not in CLASSIFIERS:
        raise InputError(f"classifier must be one of {CLASSIFIERS}, got {classifier!r}")
    if scaling not in SCALINGS:
        raise InputError(f"scaling must be one of {SCALINGS}, got {scaling!r}")
    if classifier == "svc":  # the study's choice: svm.SVC(kernel='linear')
        svm = SVC(kernel="linear", C=C)
    else:
        svm = LinearSVC(C=C, random_state=random_state)
    scaler = {"minmax": MinMaxScaler(), "standard": StandardScaler()}.get(scaling)
    return make_pipeline(scaler, svm) if scaler is not None else make_pipeline(svm)


def _vote(pred):
    """Majority label of each row of predictions (ties: the smallest label)."""
    out = np.empty(pred.shape[0], dtype=pred.dtype)
    for i, row in enumerate(pred):
        values, counts = np.unique(row, return_counts=True)
        out[i] = values[np.argmax(counts)]
    return out


class VectorSVM(ClassifierMixin, BaseEstimator):
    """Linear SVM on the vectors of clips, with optional majority voting.

    Samples are clips: each row of X holds a clip's ``vectors_per_clip``
    vectors, concatenated. The SVM is trained on single vectors (each with
    its clip's label); :meth:`score` is the per-vector accuracy (the study's
    thesis numbers) or, with ``voting=True``, the per-clip accuracy of the
    majority vote. Because samples are clips, any splitter over the rows
    keeps a clip's vectors together.

    Parameters
    ----------
    vectors_per_clip : int
    classifier : {'svc', 'linear_svc'}
        ``SVC(kernel='linear')`` (the study's) or the faster ``LinearSVC``.
    C : float
    scaling : {'none', 'minmax', 'standard'}
        Per-feature scaling of the vectors, fitted on the training vectors.
    voting : bool

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> y = np.repeat([0, 1], 10)
    >>> X = rng.random((20, 3 * 2)) + y[:, None]  # 3 vectors of 2 features
    >>> clf = VectorSVM(vectors_per_clip=3).fit(X, y)
    >>> clf.predict(X).tolist() == y.tolist(), clf.score(X, y)
    (True, 1.0)
    """

    def __init__(
        self,
        vectors_per_clip=12,
        classifier="svc",
        C=1.0,
        scaling="none",
        voting=False,
        random_state=None,
    ):
        self.vectors_per_clip = vectors_per_clip
        self.classifier = classifier
        self.C = C
        self.scaling = scaling
        self.voting = voting
        self.random_state = random_state

    def _split(self, X):
        X = np.asarray(X)
        k = self.vectors_per_clip
        if X.ndim != 2 or X.shape[1] % k:
            raise InputError(
                f"X must have shape (n_clips, vectors_per_clip * n_features) with "
                f"vectors_per_clip={k}, got {X.shape}"
            )
        return X.reshape(X.shape[0] * k, X.shape[1] // k)

    def fit(self, X, y):
        V = self._split(X)
        y = np.asarray(y)
        self.classes_ = np.unique(y)
        self.model_ = _svm(self.classifier, self.C, self.scaling, self.random_state)
        self.model_.fit(V, np.repeat(y, self.vectors_per_clip))
        return self

    def predict_vectors(self, X):
        """Labels of every vector, shape (n_clips, vectors_per_clip)."""
        return self.model_.predict(self._split(X)).reshape(len(X), -1)

    def predict(self, X):
        """Majority label of each clip's vectors."""
        return _vote(self.predict_vectors(X))

    def score(self, X, y, sample_weight=None):
        """Accuracy on clips (voting) or on vectors; `sample_weight` is unused."""
        y = np.asarray(y)
        if self.voting:
            return float(np.mean(self.predict(X) == y))
        return float(np.mean(self.predict_vectors(X) == y[:, None]))


def check_cv_settings(protocols=("grouped",), n_splits=10, n_repeats=10, test_size=0.1):
    """Refuse cross-validation settings that give no split, before any work.

    Without this, zero splits or repeats (or no protocol) end in a NaN mean
    or an empty table with exit status 0.

    Examples
    --------
    >>> check_cv_settings(["leaky"], n_splits=10, n_repeats=0)
    Traceback (most recent call last):
    ...
    pyunlocbox_gae.errors.InputError: n_repeats must be an integer >= 1, got 0...
    >>> check_cv_settings([])
    Traceback (most recent call last):
    ...
    pyunlocbox_gae.errors.InputError: protocols is empty: ...
    """
    protocols = [protocols] if isinstance(protocols, str) else list(protocols)
    if not protocols:
        raise InputError(
            f"protocols is empty: give at least one of {PROTOCOLS} (nothing "
            "would be evaluated)"
        )
    for protocol in protocols:
        if protocol not in PROTOCOLS:
            raise InputError(f"protocol must be one of {PROTOCOLS}, got {protocol!r}")
    least = 2 if "grouped" in protocols else 1
    for name, value, low in (
        ("n_splits", n_splits, least),
        ("n_repeats", n_repeats, 1),
    ):
        if (
            isinstance(value, bool)
            or not isinstance(value, (int, np.integer))
            or (value < low)
        ):
            why = " (k-fold needs two folds)" if low == 2 else ""
            raise InputError(
                f"{name} must be an integer >= {low}{why}, got {value!r}; with "
                "fewer there is no split to score"
            )
    if "leaky" in protocols and not (
        isinstance(test_size, (int, float, np.number)) and 0 < test_size < 1
    ):
        raise InputError(
            f"test_size must be a fraction strictly between 0 and 1, got {test_size!r}"
        )


def cv_splits(
    labels,
    vectors_per_clip,
    protocol="grouped",
    n_splits=10,
    n_repeats=10,
    test_size=0.1,
    seed=1,
):
    """Train/test indices of vectors (clip-major order) for each split.

    Parameters
    ----------
    labels : array of shape (n_clips,)
    vectors_per_clip : int
    protocol : {'grouped', 'leaky'}
        Stratified k-fold over clips, repeated (`n_splits` folds, `n_repeats`
        times), or `n_repeats` times `n_splits` random splits of the vectors
        with a `test_size` fraction in test (the study's 20 × 10).

    Yields
    ------
    train, test : ndarray of int
        Indices into the ``n_clips * vectors_per_clip`` vectors.

    Examples
    --------
    >>> labels = np.repeat([0, 1], 5)
    >>> folds = list(cv_splits(labels, 3, n_splits=5, n_repeats=2))
    >>> len(folds), all(set(tr // 3).isdisjoint(te // 3) for tr, te in folds)
    (10, True)
    """
    check_cv_settings([protocol], n_splits, n_repeats, test_size)
    return _splits(
        np.asarray(labels),
        vectors_per_clip,
        protocol,
        n_splits,
        n_repeats,
        test_size,
        seed,
    )


def _splits(labels, k, protocol, n_splits, n_repeats, test_size, seed):
    if protocol == "grouped":
        counts = np.unique(labels, return_counts=True)[1]
        if counts.min() < n_splits:
            raise InputError(
                f"grouped {n_splits}-fold cross-validation needs at least "
                f"{n_splits} clips per genre, the smallest genre has "
                f"{counts.min()}; lower n_splits or add clips"
            )
        cv = RepeatedStratifiedKFold(
            n_splits=n_splits, n_repeats=n_repeats, random_state=seed
        )
        offsets = np.arange(k)
        for train, test in cv.split(np.zeros(labels.size), labels):
            yield (
                (train[:, None] * k + offsets).ravel(),
                (test[:, None] * k + offsets).ravel(),
            )
    elif protocol == "leaky":
        n = labels.size * k
        for r in range(n_repeats):
            cv = ShuffleSplit(
                n_splits=n_splits, test_size=test_size, random_state=seed + r
            )
            yield from cv.split(np.zeros(n))


def evaluate(
    vectors,
    labels,
    protocol="grouped",
    n_splits=10,
    n_repeats=10,
    test_size=0.1,
    classifier="svc",
    C=1.0,
    scaling="none",
    voting=False,
    seed=1,
):
    """Cross-validated accuracy of the linear SVM on clip vectors.

    Parameters
    ----------
    vectors : ndarray of shape (n_clips, vectors_per_clip, n_features)
    labels : array of shape (n_clips,)
    protocol, n_splits, n_repeats, test_size, seed
        See :func:`cv_splits`.
    classifier, C, scaling
        See :class:`VectorSVM`.
    voting : bool
        Score the majority vote of each clip's test vectors (per clip)
        instead of each vector. Under the leaky protocol the vote is over the
        clip's vectors that fell in the test set.

    Returns
    -------
    dict
        ``protocol`` (``"leaky"`` marks the study's protocol), ``mean``,
        ``std`` (of the per-split accuracies), ``scores``, ``n_splits``,
        ``n_repeats``, ``voting``.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> labels = np.repeat([0, 1, 2], 10)
    >>> V = rng.random((30, 4, 5)) + labels[:, None, None]
    >>> r = evaluate(V, labels, n_splits=5, n_repeats=2)
    >>> r["protocol"], len(r["scores"]), r["mean"]
    ('grouped', 10, 1.0)
    """
    vectors = np.asarray(vectors)
    labels = np.asarray(labels)
    if vectors.ndim != 3 or vectors.shape[0] != labels.size:
        raise InputError(
            "vectors must have shape (n_clips, vectors_per_clip, n_features) with "
            f"one label per clip; got {vectors.shape} and {labels.size} labels"
        )
    n_clips, k, dim = vectors.shape
    V = vectors.reshape(n_clips * k, dim)
    y = np.repeat(labels, k)
    clip = np.repeat(np.arange(n_clips), k)
    scores = []
    for train, test in cv_splits(
        labels, k, protocol, n_splits, n_repeats, test_size, seed
    ):
        model = _svm(classifier, C, scaling, seed).fit(V[train], y[train])
        pred = model.predict(V[test])
        if voting:
            scores.append(_voted_accuracy(pred, y[test], clip[test]))
        else:
            scores.append(float(np.mean(pred == y[test])))
    return dict(
        protocol=protocol,
        mean=float(np.mean(scores)),
        std=float(np.std(scores)),
        scores=scores,
        n_splits=n_splits,
        n_repeats=n_repeats,
        voting=bool(voting),
    )


def _voted_accuracy(pred, truth, clip):
    right = []
    for c in np.unique(clip):
        mask = clip == c
        right.append(_vote(pred[mask][None])[0] == truth[mask][0])
    return float(np.mean(right))


def evaluate_estimator(
    estimator, X, labels, n_splits=10, n_repeats=10, seed=1, progress=False
):
    """Grouped (by clip), stratified, repeated CV of a clip-level estimator.

    Each row of X is one clip, so the folds never split a clip. Used for the
    inductive mode, where the estimator is a whole
    :class:`sklearn.pipeline.Pipeline` (features learned on the training
    clips, then applied to the test clips).

    Returns
    -------
    dict
        As :func:`evaluate`, with ``protocol='grouped'``.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> labels = np.repeat([0, 1], 6)
    >>> X = rng.random((12, 2 * 3)) + labels[:, None]
    >>> evaluate_estimator(VectorSVM(vectors_per_clip=2), X, labels, 3, 1)["mean"]
    1.0
    """
    from tqdm.auto import tqdm

    X = np.asarray(X)
    labels = np.asarray(labels)
    folds = list(cv_splits(labels, 1, "grouped", n_splits, n_repeats, seed=seed))
    scores = []
    for train, test in tqdm(folds, disable=not progress, desc="folds"):
        model = clone(estimator).fit(X[train], labels[train])
        scores.append(float(model.score(X[test], labels[test])))
    return dict(
        protocol="grouped",
        mean=float(np.mean(scores)),
        std=float(np.std(scores)),
        scores=scores,
        n_splits=n_splits,
        n_repeats=n_repeats,
        voting=bool(getattr(estimator, "voting", False)),
    )


class PerFrame(TransformerMixin, BaseEstimator):
    """Apply a frame-level transformer to clips of frames.

    Rows of X are clips, each the concatenation of ``n_rows`` frames of
    ``n_features``; the inner transformer is fitted on and applied to the
    frames (``n_clips * n_rows`` samples). This lets a frame-level model,
    such as an auto-encoder, sit in a clip-level pipeline whose splits keep
    clips whole.

    Examples
    --------
    >>> X = np.arange(12, dtype=np.float32).reshape(2, 6)  # 2 clips, 3 frames of 2
    >>> PerFrame(MinMaxScaler(), n_features=2).fit_transform(X)[0].tolist()
    [0.0, 0.0, 0.2, 0.2, 0.4, 0.4]
    """

    def __init__(self, transformer, n_features):
        self.transformer = transformer
        self.n_features = n_features

    def _frames(self, X):
        X = np.asarray(X)
        if X.ndim != 2 or X.shape[1] % self.n_features:
            raise InputError(
                f"X must have shape (n_clips, n_rows * {self.n_features}), "
                f"got {X.shape}"
            )
        return X.reshape(-1, self.n_features)

    def fit(self, X, y=None):
        self.transformer_ = clone(self.transformer).fit(self._frames(X))
        return self

    def fit_transform(self, X, y=None):
        self.transformer_ = clone(self.transformer)
        out = self.transformer_.fit_transform(self._frames(X))
        return out.reshape(len(X), -1)

    def transform(self, X):
        return self.transformer_.transform(self._frames(X)).reshape(len(X), -1)


class ClipVectorizer(TransformerMixin, BaseEstimator):
    """Clips of frame features → concatenated clip vectors (:func:`clip_vectors`).

    Examples
    --------
    >>> X = np.ones((2, 13 * 3))  # 2 clips, 13 rows of 3 features
    >>> ClipVectorizer(n_rows=13, n_vectors=2).fit_transform(X).shape
    (2, 12)
    """

    def __init__(self, n_rows, n_vectors=6):
        self.n_rows = n_rows
        self.n_vectors = n_vectors

    def fit(self, X, y=None):
        return self

    def transform(self, X):
        X = np.asarray(X)
        rows = X.reshape(X.shape[0], self.n_rows, -1)
        return clip_vectors(rows, self.n_vectors).reshape(X.shape[0], -1)
