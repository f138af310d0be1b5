r"""Planetoid: semi-supervised learning with graph embeddings (Yang et al. 2016).

.. autosummary::
    PlanetoidT
    PlanetoidI

Both models minimise a supervised loss on the labelled nodes together with
an unsupervised loss that makes a node's embedding :math:`e_i` predict its
graph context :math:`c`,

.. math::
    \mathcal{L}_u = -\mathbb{E}_{(i, c, \gamma)} \log \sigma(\gamma\,
    e_i^\top w_c),

where (i, c) are two vertices at most `window` steps apart on a random walk
or two labelled nodes of the same class (the label context), with
:math:`\gamma = 1`, and negative samples (a random vertex, or a labelled node
of another class) with :math:`\gamma = -1`. The classifier is a softmax over
a ReLU hidden layer of the features concatenated with a layer of the
embedding. **Transductive** (:class:`PlanetoidT`): one free embedding per
node, fed to the classifier through a ReLU layer; test nodes must be in the
graph. **Inductive** (:class:`PlanetoidI`): the embedding is itself a ReLU
layer of the node's features, so unseen nodes are classified from their
features alone.

Training alternates `graph_steps` context batches and `label_steps` labelled
batches (the paper's T2 and T1), after `pretrain_steps` context batches, and
keeps the parameters of the best validation accuracy.

Implementation: plain NumPy with analytic gradients (checked against finite
differences in the tests) and Adam. An autograd library (PyTorch) would be a
heavy new dependency for two shallow networks whose gradients are a few
matrix products; Adam is hand-written (:mod:`._adam`) for the same reason, with
lazy updates of the embedding tables so that a batch costs O(batch), not
O(n_nodes).
"""

import warnings

import numpy as np
from sklearn.utils.validation import check_is_fitted

from pyunlocbox_gae.embeddings.planetoid._base import (  # noqa: F401
    PRETRAIN_PAIRS_PER_NODE,
    _glorot,
    _Planetoid,
    _relu,
    _rows,
)

#: The authors' Planetoid-T (their ``test_trans.py``): softmax branches with
#: auxiliary losses, full-softmax graph context, 2,000 label-context batches
#: of 100 pairs then 70 graph-context batches (200 walks of 10 steps, window
#: 3: about 13,000 pairs), then supervised SGD steps only (rate 0.1; context
#: rate 0.01 on the summed loss), no weight decay.
AUTHORS_T = dict(
    classifier="branches",
    context_loss="softmax",
    optimizer="sgd",
    learning_rate=0.1,
    context_learning_rate=0.01,
    l2=0.0,
    label_context=0.0,
    label_pretrain_steps=2000,
    label_batch_size=100,
    pretrain_steps=70,
    graph_batch_size=13000,
    graph_steps=0,
    batch_size=200,
    max_iter=1000,
    eval_every=1,
)

#: The authors' Planetoid-I (their ``test_ind.py``): as :data:`AUTHORS_T` but
#: 10,000 label-context batches of 20 pairs, 400 graph-context batches of
#: 20 walks (about 1,300 pairs), then one graph-context batch every 10
#: supervised steps on average, context rate 0.001.
AUTHORS_I = dict(
    AUTHORS_T,
    context_learning_rate=0.001,
    label_pretrain_steps=10000,
    label_batch_size=20,
    pretrain_steps=400,
    graph_batch_size=1300,
    graph_steps=0.1,
)


class PlanetoidT(_Planetoid):
    """Transductive Planetoid: a free embedding per node of the graph.

    Parameters
    ----------
    n_components : int, default=50
        Dimension of the embeddings.
    hidden : int, default=64
        Width of the ReLU layers over the features and over the embedding
        (``classifier="hidden"``).
    window, walk_length, n_walks : int
        Graph context: vertices at most `window` steps apart on `n_walks`
        walks of `walk_length` from every vertex (the paper: 3, 10).
    label_context : float in [0, 1] or None
        Fraction of the graph-context batches' pairs drawn from the labels
        (same class). None: 0 for Planetoid-T, 0.2 for Planetoid-I. The
        authors' schedule instead trains on label context in separate
        batches first (`label_pretrain_steps`).
    negative : int
        Negative pairs per positive pair.
    batch_size : int
        Labelled nodes per step.
    graph_batch_size : int or None
        Positive context pairs per step. None: 1000 for Planetoid-T, 200 for
        Planetoid-I.
    learning_rate : float
        Step of the optimiser (of the supervised loss with SGD).
    l2 : float
        Weight decay of the dense layers.
    max_iter, label_steps, eval_every : int
        Schedule: `max_iter` rounds of `graph_steps` context steps and
        `label_steps` labelled steps, after the pre-training; the validation
        accuracy is checked every `eval_every` rounds.
    graph_steps : float
        Context steps per round; a fraction is the probability of one step
        (the authors' Planetoid-I: 0.1).
    classifier : {'hidden', 'branches'}, default='hidden'
        ``'hidden'``: softmax over ReLU layers of the features and of the
        embedding. ``'branches'`` (the authors'): a softmax of width
        n_classes over each, with its own cross-entropy added to the loss,
        mixed by a softmax layer over the two.
    context_loss : {'negative', 'softmax'}, default='negative'
        ``'negative'``: negative sampling (`negative` per pair).
        ``'softmax'`` (the authors'): a softmax over every vertex, no
        negatives.
    optimizer : {'adam', 'sgd'}, default='adam'
        With ``'sgd'`` the context rate applies to the context loss summed
        over the batch, as in the authors' code.
    context_learning_rate : float or None
        Step of the context loss (None: `learning_rate`).
    label_pretrain_steps, label_batch_size : int
        Label-context batches (of `label_batch_size` same-class pairs) before
        the graph-context pre-training (the authors': 2,000 of 100).
    self_context : float in [0, 1], default=0
        Fraction of graph-context pairs whose context is the centre vertex
        itself; the authors' walk windows include offset 0, about 17% of
        their pairs.
    fresh_walks : bool, default=False
        Draw new walks for every graph-context batch, as the authors' code
        does, instead of sampling the pairs from `n_walks` walks per vertex
        drawn once. The walks start from the vertices in turn, in a new
        random order at every pass over them.
    start_excluded : bool, default=True
        Whether walks may start from the nodes given to ``fit`` as
        `exclude` (their pairs are dropped either way). The authors'
        Planetoid-I starts walks only from the other nodes (False).
    softmax_excluded : bool, default=True
        Whether the full-softmax context (``context_loss="softmax"``) scores
        the nodes given to ``fit`` as `exclude` too, as vertices no pair
        names. The authors' Planetoid-I softmax covers only the other
        vertices (False).
    shared_bias : bool, default=True
        Planetoid-I only (Planetoid-T has no embedding layer): whether the
        graph context reads the embedding layer with the classifier's bias.
        The authors' context branch shares the layer's weights but has a
        bias of its own (False).
    pretrain_steps : int or None
        Context steps before the first labelled step. None: for
        Planetoid-T, enough for about 400 positive pairs per node (at least
        200 steps), for Planetoid-I 200 steps: a free vector per node needs
        context for every node, a shared feature map does not.
    random_state : int, RandomState instance or None

    Attributes
    ----------
    embedding_ : ndarray of shape (n_nodes, n_components)
    params_ : dict of ndarray
    loss_curve_ : list of (supervised loss, context loss) per round
    validation_score_ : float
        Best validation accuracy (when `validation` was given).

    Examples
    --------
    >>> from pyunlocbox_gae.embeddings.planetoid import make_sbm_dataset
    >>> d = make_sbm_dataset(300, n_per_class=10, n_val=50, n_test=100,
    ...                      random_state=0)
    >>> m = PlanetoidT(max_iter=100, pretrain_steps=100, random_state=0).fit(
    ...     d.features, d.y_train(), d.adjacency,
    ...     validation=(d.val, d.labels[d.val]))
    >>> bool((m.predict(d.test) == d.labels[d.test]).mean() > 0.6)
    True
    """

    #: ``authors``: :data:`AUTHORS_T`; ``adam``: the constructor's defaults.
    PRESETS = {"authors": AUTHORS_T, "adam": {}}
    _default_label_context = 0.0
    _default_graph_batch_size = 1000
    _sized_pretraining = True
    _embedding_layer = True

    def _init_embedding(self, n_nodes, n_features, rng, dtype):
        d = self.n_components
        if self.classifier == "branches":  # lasagne's EmbeddingLayer init
            return dict(E=(0.01 * rng.standard_normal((n_nodes, d))).astype(dtype))
        return dict(E=rng.uniform(-0.5 / d, 0.5 / d, (n_nodes, d)).astype(dtype))

    def _embed(self, p, X, idx, context=False):
        return p["E"][idx], None

    def _embed_grad(self, p, X, idx, dE, cache, context=False):
        return {"E": (idx, dE)}

    @property
    def embedding_(self):
        check_is_fitted(self, "params_")
        return self.params_["E"]

    def predict_proba(self, nodes=None):
        """Class probabilities of graph nodes (all by default)."""
        check_is_fitted(self, "params_")
        idx = np.arange(self._fit_X.shape[0]) if nodes is None else np.asarray(nodes)
        return self._proba(self._fit_X, idx)

    def predict(self, nodes=None):
        """Class of graph nodes (all by default)."""
        return self.predict_proba(nodes).argmax(axis=1)


class PlanetoidI(_Planetoid):
    r"""Inductive Planetoid: the embedding is a ReLU layer of the features.

    Parameters are those of :class:`PlanetoidT`; the embedding
    :math:`e = \mathrm{ReLU}(x W_e + b_e)` is trained by the context loss
    and fed to the softmax beside the hidden layer of the features, so new
    nodes need no graph and no walks.

    Examples
    --------
    >>> from pyunlocbox_gae.embeddings.planetoid import make_sbm_dataset
    >>> d = make_sbm_dataset(300, n_per_class=10, n_val=50, n_test=100,
    ...                      random_state=0)
    >>> m = PlanetoidI(max_iter=20, pretrain_steps=10, random_state=0).fit(
    ...     d.features, d.y_train(), d.adjacency, exclude=d.test)
    >>> m.predict(d.features[d.test[:5]]).shape
    (5,)
    """

    #: ``authors``: :data:`AUTHORS_I`; ``adam``: the constructor's defaults.
    PRESETS = {"authors": AUTHORS_I, "adam": {}}
    _default_label_context = 0.2
    _default_graph_batch_size = 200
    _sized_pretraining = False
    _embedding_layer = False

    def fit(self, X, y, graph, validation=None, monitor=None, exclude=None):
        """Learn as :meth:`PlanetoidT.fit`; give the test nodes as `exclude`.

        An inductive model is evaluated on nodes it did not see while
        training. Without `exclude`, the test nodes of `X` and `graph` enter
        the context pairs, so training sees their features and edges and
        the test accuracy is too high (a leak): a ``UserWarning`` says so.
        Pass ``exclude=test_nodes`` (as ``gae planetoid`` does), or
        ``exclude=()`` when no node of the graph will be tested.
        """
        if exclude is None:
            warnings.warn(
                "PlanetoidI.fit without exclude: every node of the graph, the "
                "test nodes too, enters the context pairs, so training sees "
                "the features and edges of the nodes you will test on (a "
                "leak); pass exclude=<test node indices>, or exclude=() if "
                "none of these nodes will be tested",
                UserWarning,
                stacklevel=2,
            )
        return super().fit(X, y, graph, validation, monitor, exclude)

    def _init_embedding(self, n_nodes, n_features, rng, dtype):
        d = self.n_components
        p = dict(We=_glorot(rng, (n_features, d), dtype), be=np.zeros(d, dtype))
        if not self.shared_bias:  # the graph context's own bias
            p["bc"] = np.zeros(d, dtype)
        return p

    def _bias(self, context):
        return "bc" if context and not self.shared_bias else "be"

    def _embed(self, p, X, idx, context=False):
        Xb = _rows(X, idx)
        Ae = np.asarray(Xb @ p["We"]) + p[self._bias(context)]
        return _relu(Ae.copy()), (Xb, Ae)

    def _embed_grad(self, p, X, idx, dE, cache, context=False):
        Xb, Ae = cache
        dAe = dE * (Ae > 0)
        return {"We": np.asarray(Xb.T @ dAe), self._bias(context): dAe.sum(axis=0)}

    def transform(self, X):
        """Embeddings of nodes from their features, (n_samples, n_components)."""
        check_is_fitted(self, "params_")
        X = self._check_X(X)
        return self._embed(self.params_, X, np.arange(X.shape[0]))[0]

    def predict_proba(self, X):
        """Class probabilities of nodes from their features alone."""
        check_is_fitted(self, "params_")
        X = self._check_X(X)
        return self._proba(X, np.arange(X.shape[0]))

    def predict(self, X):
        """Class of nodes from their features alone."""
        return self.predict_proba(X).argmax(axis=1)
