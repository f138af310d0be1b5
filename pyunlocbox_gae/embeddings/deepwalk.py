r"""DeepWalk vertex embeddings and the multi-label evaluation of the paper.

.. autosummary::
    DeepWalk
    PRESETS
    save_embedding
    load_embedding
    multilabel_f1
    evaluate_multilabel

DeepWalk (Perozzi, Al-Rfou and Skiena, KDD 2014) treats truncated random
walks (:mod:`pyunlocbox_gae.embeddings.walks`) as sentences and vertices as words, and
learns a vector per vertex with SkipGram and hierarchical softmax. The
SkipGram model is gensim's ``Word2Vec(sg=1, hs=1, negative=0)``, a
well-kept implementation of exactly the paper's model (a Huffman tree over
the vertices, as the paper); gensim is the optional extra ``embed``.

Walks are streamed to gensim one pass at a time and regenerated from the
seed when gensim reads them again, so memory does not grow with the number
of walks (80 walks of 40 steps over 100k vertices would be 1.3 GB of
indices). Vertex frequencies for the Huffman tree are counted in a first
pass instead of letting gensim scan the corpus as text.
"""

from numbers import Integral, Real

import numpy as np
from sklearn.base import BaseEstimator, TransformerMixin, _fit_context
from sklearn.metrics import f1_score
from sklearn.utils._param_validation import Interval
from sklearn.utils.validation import check_is_fitted

from pyunlocbox_gae import store
from pyunlocbox_gae.embeddings.walks import as_adjacency, iter_walks
from pyunlocbox_gae.errors import InputError, MissingDependencyError

#: The paper's settings and a cheaper one (accuracy cost in docs/embedding.md).
PRESETS = {
    "paper": dict(n_walks=80, walk_length=40, window=10, n_components=128),
    "cheap": dict(n_walks=10, walk_length=40, window=5, n_components=128),
}


def _import_gensim():
    try:
        from gensim.models import Word2Vec
    except ImportError:
        raise MissingDependencyError(
            "DeepWalk needs gensim: pip install 'pyunlocbox-gae[embed]'"
        ) from None
    return Word2Vec


class _WalkCorpus:
    """Walks as gensim sentences, regenerated from the seed on every pass."""

    def __init__(self, adjacency, n_walks, walk_length, seed):
        self.adjacency, self.n_walks, self.walk_length = adjacency, n_walks, walk_length
        self.seed = seed

    def passes(self):
        return iter_walks(
            self.adjacency, self.n_walks, self.walk_length, random_state=self.seed
        )

    def __iter__(self):
        for walks in self.passes():
            # Python lists cost ~9x the int32 array: convert a block at a time
            # (a whole pass of 100k vertices was 200 MB of lists).
            for start in range(0, walks.shape[0], 4096):
                block = walks[start : start + 4096]
                lengths = (block >= 0).sum(axis=1)
                for walk, n in zip(block.tolist(), lengths.tolist(), strict=True):
                    yield walk[:n]

    def counts(self):
        n = self.adjacency.shape[0]
        freq = np.zeros(n, dtype=np.int64)
        for walks in self.passes():
            valid = walks[walks >= 0]
            freq += np.bincount(valid, minlength=n)
        return freq


class DeepWalk(TransformerMixin, BaseEstimator):
    """DeepWalk: SkipGram (hierarchical softmax) on truncated random walks.

    A transductive transformer: :meth:`fit` learns one vector per vertex of a
    graph, :meth:`transform` returns them.

    Parameters
    ----------
    n_walks : int, default=80
        Walks started from every vertex (the paper's gamma).
    walk_length : int, default=40
        Vertices per walk (t).
    window : int, default=10
        SkipGram window (w). gensim shrinks it at random for every centre
        word, as word2vec does.
    n_components : int, default=128
        Dimension of the embedding (d).
    epochs : int, default=1
        Passes of SkipGram over the walks; the paper makes one.
    alpha, min_alpha : float
        Learning rate, decayed linearly from alpha to min_alpha.
    workers : int, default=1
        gensim threads. Results are reproducible under a seed only with 1.
    random_state : int or None
        Seed of the walks and of gensim.

    Attributes
    ----------
    embedding_ : ndarray of shape (n_nodes, n_components), float32
    n_nodes_ : int
    vertex_counts_ : ndarray of shape (n_nodes,)
        Occurrences of every vertex in the walks.

    Examples
    --------
    >>> import numpy as np
    >>> A = np.kron(np.eye(2), np.ones((5, 5))) - np.eye(10)  # two cliques
    >>> dw = DeepWalk(n_walks=20, walk_length=10, window=3, n_components=8,
    ...               random_state=0)
    >>> E = dw.fit_transform(A)
    >>> E.shape, E.dtype
    ((10, 8), dtype('float32'))
    >>> cos = (E / np.linalg.norm(E, axis=1, keepdims=True)) @ (
    ...     E / np.linalg.norm(E, axis=1, keepdims=True)).T
    >>> bool(cos[:5, :5].mean() > cos[:5, 5:].mean())
    True
    """

    _parameter_constraints = {
        "n_walks": [Interval(Integral, 1, None, closed="left")],
        "walk_length": [Interval(Integral, 2, None, closed="left")],
        "window": [Interval(Integral, 1, None, closed="left")],
        "n_components": [Interval(Integral, 1, None, closed="left")],
        "epochs": [Interval(Integral, 1, None, closed="left")],
        "alpha": [Interval(Real, 0, None, closed="neither")],
        "min_alpha": [Interval(Real, 0, None, closed="left")],
        "workers": [Interval(Integral, 1, None, closed="left")],
        "random_state": [Interval(Integral, 0, None, closed="left"), None],
    }

    def __init__(
        self,
        n_walks=80,
        walk_length=40,
        window=10,
        n_components=128,
        *,
        epochs=1,
        alpha=0.025,
        min_alpha=1e-4,
        workers=1,
        random_state=None,
    ):
        self.n_walks = n_walks
        self.walk_length = walk_length
        self.window = window
        self.n_components = n_components
        self.epochs = epochs
        self.alpha = alpha
        self.min_alpha = min_alpha
        self.workers = workers
        self.random_state = random_state

    @classmethod
    def from_preset(cls, name, **params):
        """A DeepWalk with the settings of :data:`PRESETS` [name], overridden.

        Examples
        --------
        >>> DeepWalk.from_preset("cheap", random_state=0).n_walks
        10
        >>> DeepWalk.from_preset("fast")
        Traceback (most recent call last):
        ...
        pyunlocbox_gae.errors.InputError: unknown preset 'fast'; choose one of...
        """
        if name not in PRESETS:
            raise InputError(
                f"unknown preset {name!r}; choose one of {sorted(PRESETS)}"
            )
        return cls(**{**PRESETS[name], **params})

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, graph, y=None):
        """Learn the embedding of every vertex of `graph`.

        Parameters
        ----------
        graph : pygsp.graphs.Graph or adjacency matrix (n_nodes, n_nodes)
            Non-negative edge weights; walks follow the rows.
        y : ignored

        Returns
        -------
        self
        """
        Word2Vec = _import_gensim()
        A = as_adjacency(graph)
        n = A.shape[0]
        seed = (
            int(np.random.SeedSequence().generate_state(1)[0] >> 1)
            if self.random_state is None
            else int(self.random_state)
        )
        corpus = _WalkCorpus(A, self.n_walks, self.walk_length, seed)
        counts = corpus.counts()
        model = Word2Vec(
            vector_size=self.n_components,
            window=self.window,
            sg=1,
            hs=1,
            negative=0,
            min_count=1,
            sample=0,  # DeepWalk does not subsample frequent vertices
            alpha=self.alpha,
            min_alpha=self.min_alpha,
            workers=self.workers,
            seed=seed,
            epochs=self.epochs,
        )
        model.build_vocab_from_freq(
            {v: int(c) for v, c in enumerate(counts.tolist()) if c > 0},
            corpus_count=int(self.n_walks) * n,
        )
        model.train(
            corpus_iterable=corpus,
            total_examples=int(self.n_walks) * n,
            total_words=int(counts.sum()),
            epochs=self.epochs,
        )
        embedding = np.zeros((n, self.n_components), dtype=np.float32)
        keys = np.fromiter(model.wv.index_to_key, dtype=np.int64, count=len(model.wv))
        embedding[keys] = model.wv.vectors
        self.embedding_ = embedding
        self.vertex_counts_ = counts
        self.n_nodes_ = n
        return self

    def fit_transform(self, graph, y=None):
        """Fit and return the embedding, shape (n_nodes, n_components)."""
        return self.fit(graph).embedding_

    def transform(self, graph=None):
        """The learned embedding (DeepWalk is transductive).

        Parameters
        ----------
        graph : graph or adjacency, optional
            Only checked to have the fitted number of vertices.
        """
        check_is_fitted(self)
        if graph is not None:
            n = as_adjacency(graph).shape[0]
            if n != self.n_nodes_:
                raise InputError(
                    f"DeepWalk was fitted on a graph of {self.n_nodes_} vertices, "
                    f"got one of {n}: DeepWalk is transductive, fit it on this graph"
                )
        return self.embedding_

    @property
    def _n_features_out(self):
        return self.n_components

    def save(self, path):
        """Write the embedding and the parameters to HDF5 (see save_embedding)."""
        check_is_fitted(self)
        save_embedding(path, self.embedding_, method="deepwalk", **self.get_params())


def save_embedding(path, embedding, **attrs):
    """Write a vertex embedding to an HDF5 file, atomically.

    Parameters
    ----------
    path : str or Path
    embedding : ndarray of shape (n_nodes, dim)
    **attrs
        Parameters of the run, stored as attributes.

    Examples
    --------
    >>> import numpy as np, tempfile, os
    >>> E = np.arange(6, dtype=np.float32).reshape(3, 2)
    >>> path = os.path.join(tempfile.mkdtemp(), "emb.h5")
    >>> save_embedding(path, E, method="demo", window=3)
    >>> back, attrs = load_embedding(path)
    >>> bool((back == E).all()), back.dtype, attrs["window"], attrs["method"]
    (True, dtype('float32'), 3, 'demo')
    """
    embedding = np.asarray(embedding)
    if embedding.ndim != 2:
        raise InputError(
            f"an embedding is a (n_nodes, dim) array, got shape {embedding.shape}"
        )
    with store.write_h5(
        path, "embedding", fingerprint=store.fingerprint(embedding), **attrs
    ) as f:
        f.create_dataset("embedding", data=embedding)


def load_embedding(path):
    """Read an embedding written by :func:`save_embedding`.

    Returns
    -------
    embedding : ndarray of shape (n_nodes, dim)
    attrs : dict
        The stored attributes (``"None"`` read back as None).
    """
    with store.open_h5(path, "embedding") as f:
        embedding = f["embedding"][...]
        attrs = {}
        for key, value in f.attrs.items():
            if isinstance(value, bytes):
                value = value.decode()
            if isinstance(value, np.generic):
                value = value.item()
            attrs[key] = None if value == "None" else value
    if attrs.get("fingerprint") != store.fingerprint(embedding):
        raise InputError(
            f"{path}: the embedding does not match its fingerprint (corrupted "
            "file); compute it again"
        )
    return embedding, attrs


def multilabel_f1(Y_true, scores, protocol="threshold", threshold=0.5):
    """Micro and macro F1 of multi-label predictions made from scores.

    Parameters
    ----------
    Y_true : array-like of shape (n_samples, n_labels), 0/1
    scores : array-like of shape (n_samples, n_labels)
        Per-label scores (e.g. one-vs-rest probabilities).
    protocol : {'oracle', 'threshold'}
        ``'oracle'`` is the DeepWalk paper's protocol: every sample gets its
        k highest-scoring labels, k being its *true* number of labels, a
        knowledge no real predictor has. ``'threshold'`` is honest: every
        label scoring at least `threshold`, and the best label when none
        does (every sample has at least one label).
    threshold : float, default=0.5

    Returns
    -------
    dict
        ``{"micro": float, "macro": float}``.

    Examples
    --------
    >>> import numpy as np
    >>> Y = np.array([[1, 1, 0], [0, 0, 1]])
    >>> S = np.array([[0.9, 0.4, 0.1], [0.2, 0.3, 0.45]])
    >>> multilabel_f1(Y, S, "oracle")
    {'micro': 1.0, 'macro': 1.0}
    >>> {k: round(v, 3) for k, v in multilabel_f1(Y, S, "threshold").items()}
    {'micro': 0.8, 'macro': 0.667}
    """
    Y_true = np.asarray(Y_true).astype(bool)
    scores = np.asarray(scores, dtype=float)
    if Y_true.shape != scores.shape or Y_true.ndim != 2:
        raise InputError(
            f"Y_true and scores must be (n_samples, n_labels) arrays of the same "
            f"shape, got {Y_true.shape} and {scores.shape}"
        )
    if protocol == "oracle":
        k = Y_true.sum(axis=1)
        # rank[i, j] = position of label j in the descending order of row i
        rank = np.argsort(np.argsort(-scores, axis=1, kind="stable"), axis=1)
        pred = rank < k[:, None]
    elif protocol == "threshold":
        pred = scores >= threshold
        none = ~pred.any(axis=1)
        pred[none, scores[none].argmax(axis=1)] = True
    else:
        raise InputError(f"protocol must be 'oracle' or 'threshold', got {protocol!r}")
    return {
        avg: float(f1_score(Y_true, pred, average=avg, zero_division=0))
        for avg in ("micro", "macro")
    }


def evaluate_multilabel(
    features, Y, train_fraction=0.5, n_repeats=10, C=1.0, random_state=None
):
    """The DeepWalk evaluation: one-vs-rest logistic regression, both protocols.

    Parameters
    ----------
    features : ndarray of shape (n_samples, dim)
    Y : array-like of shape (n_samples, n_labels), 0/1
    train_fraction : float
        Fraction of labelled samples the classifier is trained on.
    n_repeats : int
        Random splits averaged over.
    C : float
        Inverse regularisation of the logistic regressions.
    random_state : int or None

    Returns
    -------
    dict
        ``{protocol: {"micro": (mean, std), "macro": (mean, std)}}`` for the
        protocols ``"oracle"`` and ``"threshold"``.

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> Y = rng.random((200, 3)) < 0.4
    >>> X = Y + 0.3 * rng.standard_normal((200, 3))
    >>> r = evaluate_multilabel(X, Y, n_repeats=2, random_state=0)
    >>> sorted(r), bool(r["oracle"]["micro"][0] > 0.8)
    (['oracle', 'threshold'], True)
    """
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import ShuffleSplit
    from sklearn.multiclass import OneVsRestClassifier

    Y = np.asarray(Y).astype(np.int8)
    split = ShuffleSplit(
        n_repeats, train_size=train_fraction, random_state=random_state
    )
    runs = {"oracle": [], "threshold": []}
    for train, test in split.split(features):
        # A label absent from the training part would leave OneVsRest with a
        # constant classifier; it then predicts "no" for it, as it should.
        clf = OneVsRestClassifier(LogisticRegression(C=C, max_iter=1000))
        clf.fit(features[train], Y[train])
        scores = clf.predict_proba(features[test])
        for protocol in runs:
            runs[protocol].append(multilabel_f1(Y[test], scores, protocol))
    return {
        protocol: {
            avg: (
                float(np.mean([r[avg] for r in rows])),
                float(np.std([r[avg] for r in rows])),
            )
            for avg in ("micro", "macro")
        }
        for protocol, rows in runs.items()
    }
