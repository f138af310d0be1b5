r"""Clip vectors and the estimators of a clip-level scikit-learn pipeline.

The original study summed the absolute values of a clip's frame features
(CQT magnitudes or codes) over windows: ``n_vectors`` windows of
``floor(n_rows / (n_vectors + 0.5))`` rows, plus as many offset by half a
window, giving ``2 * n_vectors`` vectors per clip (12 by default). A linear
SVM classifies each vector; voting optionally takes the majority over a
clip's vectors.

``PerFrame(GraphAutoEncoder) → ClipVectorizer → VectorSVM`` is a
scikit-learn pipeline whose samples are clips (their frames flattened), so
that any scikit-learn cross-validation fits the frame model on the training
clips only. The experiment chain's cross-validation protocols are in
:mod:`pyunlocbox_gae.experiments.scoring`.

.. autosummary::
    clip_vectors
    VectorSVM
    PerFrame
    ClipVectorizer
"""

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin, TransformerMixin, clone
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import MinMaxScaler, StandardScaler
from sklearn.svm import SVC, LinearSVC

from pyunlocbox_gae.errors import InputError
from pyunlocbox_gae.scaling import SCALINGS

CLASSIFIERS = ("svc", "linear_svc")


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
