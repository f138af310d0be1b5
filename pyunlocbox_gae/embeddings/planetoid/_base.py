"""The training loop shared by Planetoid-T and Planetoid-I (see :mod:`.models`)."""

from numbers import Integral, Real

import numpy as np
import scipy.sparse as sp
from scipy.special import expit
from sklearn.base import BaseEstimator, _fit_context
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import Interval

from pyunlocbox_gae.embeddings.planetoid._adam import Adam
from pyunlocbox_gae.embeddings.walks import as_adjacency, random_walks, window_pairs
from pyunlocbox_gae.errors import InputError

#: Positive context pairs per node of Planetoid-T's default pre-training.
PRETRAIN_PAIRS_PER_NODE = 400


def _relu(A):
    return np.maximum(A, 0, out=A)


def _rows(X, idx):
    """Rows of dense or sparse features (sparse stays sparse)."""
    return X[idx]


def _glorot(rng, shape, dtype):
    bound = np.sqrt(6.0 / sum(shape))
    return rng.uniform(-bound, bound, shape).astype(dtype)


class _Planetoid(BaseEstimator):
    """Shared training loop; subclasses define the embedding of a node."""

    _parameter_constraints = {
        "n_components": [Interval(Integral, 1, None, closed="left")],
        "hidden": [Interval(Integral, 1, None, closed="left")],
        "window": [Interval(Integral, 1, None, closed="left")],
        "walk_length": [Interval(Integral, 2, None, closed="left")],
        "n_walks": [Interval(Integral, 1, None, closed="left")],
        "label_context": [Interval(Real, 0, 1, closed="both"), None],
        "negative": [Interval(Integral, 0, None, closed="left")],
        "batch_size": [Interval(Integral, 1, None, closed="left")],
        "graph_batch_size": [Interval(Integral, 1, None, closed="left"), None],
        "learning_rate": [Interval(Real, 0, None, closed="neither")],
        "l2": [Interval(Real, 0, None, closed="left")],
        "max_iter": [Interval(Integral, 1, None, closed="left")],
        "pretrain_steps": [Interval(Integral, 0, None, closed="left"), None],
        "graph_steps": [Interval(Integral, 0, None, closed="left")],
        "label_steps": [Interval(Integral, 0, None, closed="left")],
        "eval_every": [Interval(Integral, 1, None, closed="left")],
        "random_state": ["random_state"],
    }

    def __init__(
        self,
        n_components=50,
        hidden=64,
        *,
        window=3,
        walk_length=10,
        n_walks=10,
        label_context=None,
        negative=5,
        batch_size=200,
        graph_batch_size=None,
        learning_rate=0.01,
        l2=5e-4,
        max_iter=500,
        pretrain_steps=None,
        graph_steps=1,
        label_steps=1,
        eval_every=10,
        random_state=None,
    ):
        self.n_components = n_components
        self.hidden = hidden
        self.window = window
        self.walk_length = walk_length
        self.n_walks = n_walks
        self.label_context = label_context
        self.negative = negative
        self.batch_size = batch_size
        self.graph_batch_size = graph_batch_size
        self.learning_rate = learning_rate
        self.l2 = l2
        self.max_iter = max_iter
        self.pretrain_steps = pretrain_steps
        self.graph_steps = graph_steps
        self.label_steps = label_steps
        self.eval_every = eval_every
        self.random_state = random_state

    # -- the network ----------------------------------------------------
    def _init_params(self, n_nodes, n_features, n_classes, rng, dtype):
        d, h = self.n_components, self.hidden
        p = dict(
            W1=_glorot(rng, (n_features, h), dtype),
            b1=np.zeros(h, dtype),
            V1=_glorot(rng, (h, n_classes), dtype),
            c=np.zeros(n_classes, dtype),
            C=np.zeros((n_nodes, d), dtype),  # context vectors w_c
        )
        p.update(self._init_embedding(n_nodes, n_features, n_classes, rng, dtype))
        return p

    def _forward(self, p, X, idx):
        """Logits of nodes idx and what backward needs."""
        Xb = _rows(X, idx)
        A1 = Xb @ p["W1"] + p["b1"]
        H1 = _relu(A1.copy())
        H2, cache = self._embedding_features(p, X, idx)
        logits = H1 @ p["V1"] + H2 @ p["V2"] + p["c"]
        return logits, (Xb, A1, H1, H2, cache)

    def _supervised(self, p, X, idx, y):
        """Mean cross-entropy (+ L2) of nodes idx and its gradients."""
        logits, (Xb, A1, H1, H2, cache) = self._forward(p, X, idx)
        logits -= logits.max(axis=1, keepdims=True)
        P = np.exp(logits)
        P /= P.sum(axis=1, keepdims=True)
        B = len(idx)
        loss = -float(np.log(P[np.arange(B), y] + 1e-30).mean())
        G = P
        G[np.arange(B), y] -= 1
        G /= B
        grads = dict(V1=H1.T @ G, V2=H2.T @ G, c=G.sum(axis=0))
        dA1 = (G @ p["V1"].T) * (A1 > 0)
        grads["W1"] = np.asarray(Xb.T @ dA1)
        grads["b1"] = dA1.sum(axis=0)
        grads.update(self._embedding_features_grad(p, X, idx, G @ p["V2"].T, cache))
        loss += self._add_l2(p, grads)
        return loss, grads

    def _add_l2(self, p, grads):
        penalty = 0.0
        for k in self._decayed:
            penalty += 0.5 * self.l2 * float(np.vdot(p[k], p[k]))
            grads[k] = grads[k] + self.l2 * p[k]
        return penalty

    def _context(self, p, X, i, c, gamma):
        """Mean -log sigma(gamma e_i . w_c) over the pairs and its gradients."""
        E, cache = self._embed(p, X, i)
        Cc = p["C"][c]
        s = gamma * np.einsum("ij,ij->i", E, Cc)
        loss = float(np.logaddexp(0, -s).mean())
        # d/ds log(1 + e^-s) = -sigmoid(-s); expit does not overflow
        g = (-gamma * expit(-s) / len(i)).astype(E.dtype)[:, None]
        grads = {"C": (c, g * E)}
        grads.update(self._embed_grad(p, X, i, g * Cc, cache))
        return loss, grads

    # -- sampling -------------------------------------------------------
    def _sample_context(self, rng, walks, labelled, y_node):
        """A batch of (centre, context, gamma) triplets (Algorithm 1 of the paper)."""
        B, k, n_nodes = self.graph_batch_size_, self.negative, len(y_node)
        share = self.label_context
        share = self._default_label_context if share is None else share
        n_label = rng.binomial(B, share) if len(labelled) > 1 else 0
        i_g, c_g = window_pairs(walks, self.window, B - n_label, random_state=rng)
        # Label context: a labelled node and a random node of its class.
        ylab = y_node[labelled]
        order = np.argsort(ylab, kind="stable")
        start = np.searchsorted(ylab[order], np.arange(ylab.max() + 1))
        count = np.bincount(ylab, minlength=ylab.max() + 1)
        i_l = labelled[rng.randint(0, len(labelled), n_label)]
        yl = y_node[i_l]
        pos = start[yl] + (rng.random_sample(n_label) * count[yl]).astype(np.int64)
        c_l = labelled[order][pos]
        # Negatives: a random vertex for the graph context; a random labelled
        # node for the label context, kept only when its class differs.
        i_ng, c_ng = np.repeat(i_g, k), rng.randint(0, n_nodes, k * len(i_g))
        i_nl = np.repeat(i_l, k)
        c_nl = labelled[rng.randint(0, len(labelled), len(i_nl))]
        differs = y_node[c_nl] != y_node[i_nl]
        i_nl, c_nl = i_nl[differs], c_nl[differs]
        n_pos = len(i_g) + len(i_l)
        gamma = np.r_[np.ones(n_pos), -np.ones(len(i_ng) + len(i_nl))]
        return np.r_[i_g, i_l, i_ng, i_nl], np.r_[c_g, c_l, c_ng, c_nl], gamma

    def _schedule(self, n_nodes):
        """Context batch size and pre-training steps (defaults per model)."""
        B = self.graph_batch_size
        B = self._default_graph_batch_size if B is None else B
        steps = self.pretrain_steps
        if steps is None:
            steps = 200
            if self._sized_pretraining:
                pairs = PRETRAIN_PAIRS_PER_NODE * n_nodes / B
                steps = max(steps, int(np.ceil(pairs)))
        return B, steps

    # -- fitting --------------------------------------------------------
    def _check_X(self, X):
        if sp.issparse(X):
            X = sp.csr_matrix(X)
            if X.dtype not in (np.float32, np.float64):
                X = X.astype(np.float64)
        else:
            X = np.asarray(X)
            if X.dtype not in (np.float32, np.float64):
                X = X.astype(np.float64)
        if X.ndim != 2:
            raise InputError(
                f"X must be a 2-D (n_nodes, n_features) matrix, got {X.shape}"
            )
        values = X.data if sp.issparse(X) else X
        if not np.isfinite(values).all():
            raise InputError("X has NaN or infinite values; fix them first")
        return X

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y, graph, validation=None):
        """Learn from the labelled nodes of y and the graph over all nodes.

        Parameters
        ----------
        X : array-like or sparse matrix of shape (n_nodes, n_features)
            Features of every node of the graph (held by reference).
        y : array-like of shape (n_nodes,), int
            Class of the labelled nodes, -1 for the others.
        graph : pygsp.graphs.Graph or adjacency (n_nodes, n_nodes)
        validation : (indices, labels), optional
            Nodes whose accuracy selects the parameters kept (early
            stopping); without it the last parameters are kept.

        Returns
        -------
        self
        """
        X = self._check_X(X)
        A = as_adjacency(graph)
        y = np.asarray(y)
        n = X.shape[0]
        if A.shape[0] != n or y.shape != (n,):
            raise InputError(
                f"X has {n} nodes but the graph has {A.shape[0]} and y has shape "
                f"{y.shape}; give features and labels (-1 when unknown) for every "
                "vertex of the graph"
            )
        labelled = np.flatnonzero(y >= 0)
        if len(labelled) == 0 or len(np.unique(y[labelled])) < 2:
            raise InputError("y must label nodes of at least two classes (-1: unknown)")
        y_node = y.astype(np.int64)
        self.classes_ = np.arange(int(y.max()) + 1)
        rng = check_random_state(self.random_state)
        dtype = X.dtype
        p = self._init_params(n, X.shape[1], len(self.classes_), rng, dtype)
        opt = Adam(p, self.learning_rate)
        walks = random_walks(A, self.n_walks, self.walk_length, random_state=rng)

        def context_step():
            i, c, gamma = self._sample_context(rng, walks, labelled, y_node)
            loss, grads = self._context(p, X, i, c, gamma.astype(dtype))
            opt.step(p, grads)
            return loss

        def label_step():
            size = min(self.batch_size, len(labelled))
            idx = labelled[rng.choice(len(labelled), size, replace=False)]
            loss, grads = self._supervised(p, X, idx, y_node[idx])
            opt.step(p, grads)
            return loss

        self.loss_curve_ = []
        self.graph_batch_size_, self.pretrain_steps_ = self._schedule(n)
        for _ in range(self.pretrain_steps_):
            context_step()
        best, self.best_iter_ = -1.0, 0
        for it in range(1, self.max_iter + 1):
            lu = [context_step() for _ in range(self.graph_steps)]
            ls = [label_step() for _ in range(self.label_steps)]
            self.loss_curve_.append(
                (
                    float(np.mean(ls)) if ls else np.nan,
                    float(np.mean(lu)) if lu else np.nan,
                )
            )
            if validation is not None and (
                it % self.eval_every == 0 or it == self.max_iter
            ):
                vidx, vy = validation
                acc = float(
                    (self._logits(p, X, np.asarray(vidx)).argmax(1) == vy).mean()
                )
                if acc > best:
                    best, self.best_iter_ = acc, it
                    kept = {k: v.copy() for k, v in p.items()}
        if validation is not None:
            p = kept
            self.validation_score_ = best
        self.params_ = p
        self.n_iter_ = self.max_iter
        self._fit_X = X
        return self

    def _logits(self, p, X, idx):
        return self._forward(p, X, idx)[0]

    def _proba(self, X, idx):
        logits = self._logits(self.params_, X, idx)
        logits -= logits.max(axis=1, keepdims=True)
        P = np.exp(logits)
        return P / P.sum(axis=1, keepdims=True)
