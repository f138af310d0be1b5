"""The training loop shared by Planetoid-T and Planetoid-I (see :mod:`.models`)."""

from numbers import Integral, Real

import numpy as np
import scipy.sparse as sp
from scipy.special import expit
from sklearn.base import BaseEstimator, _fit_context
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import Interval, StrOptions

from pyunlocbox_gae.embeddings.planetoid._adam import SGD, Adam
from pyunlocbox_gae.embeddings.walks import (
    Walker,
    as_adjacency,
    random_walks,
    window_pairs,
)
from pyunlocbox_gae.errors import InputError

#: Positive context pairs per node of Planetoid-T's default pre-training.
PRETRAIN_PAIRS_PER_NODE = 400

#: Rows of a full-softmax context batch scored at once (bounds the memory of
#: the (rows, n_nodes) score matrix: 2,048 x 20,000 float32 is 160 MiB).
SOFTMAX_CHUNK = 2048

#: Dense weights under the L2 penalty (never the embedding or context tables).
_DECAYED = ("W1", "W2", "V1", "V2", "V", "We")


def _relu(A):
    return np.maximum(A, 0, out=A)


def _rows(X, idx):
    """Rows of dense or sparse features (sparse stays sparse)."""
    return X[idx]


def _glorot(rng, shape, dtype):
    bound = np.sqrt(6.0 / sum(shape))
    return rng.uniform(-bound, bound, shape).astype(dtype)


def _softmax(A):
    """Row softmax, in place."""
    A -= A.max(axis=1, keepdims=True)
    np.exp(A, out=A)
    A /= A.sum(axis=1, keepdims=True)
    return A


def _softmax_backward(P, dP):
    """Gradient on the scores of P = softmax(scores), given the gradient on P."""
    return P * (dP - np.einsum("ij,ij->i", dP, P)[:, None])


def _cross_entropy(P, y):
    return -float(np.log(P[np.arange(len(y)), y] + 1e-30).mean())


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
        "graph_steps": [Interval(Real, 0, None, closed="left")],
        "classifier": [StrOptions({"hidden", "branches"})],
        "context_loss": [StrOptions({"negative", "softmax"})],
        "optimizer": [StrOptions({"adam", "sgd"})],
        "context_learning_rate": [Interval(Real, 0, None, closed="neither"), None],
        "label_pretrain_steps": [Interval(Integral, 0, None, closed="left")],
        "label_batch_size": [Interval(Integral, 1, None, closed="left")],
        "self_context": [Interval(Real, 0, 1, closed="both")],
        "fresh_walks": ["boolean"],
        "start_excluded": ["boolean"],
        "softmax_excluded": ["boolean"],
        "shared_bias": ["boolean"],
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
        classifier="hidden",
        context_loss="negative",
        optimizer="adam",
        context_learning_rate=None,
        label_pretrain_steps=0,
        label_batch_size=100,
        self_context=0.0,
        fresh_walks=False,
        start_excluded=True,
        softmax_excluded=True,
        shared_bias=True,
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
        self.classifier = classifier
        self.context_loss = context_loss
        self.optimizer = optimizer
        self.context_learning_rate = context_learning_rate
        self.label_pretrain_steps = label_pretrain_steps
        self.label_batch_size = label_batch_size
        self.self_context = self_context
        self.fresh_walks = fresh_walks
        self.start_excluded = start_excluded
        self.softmax_excluded = softmax_excluded
        self.shared_bias = shared_bias
        self.random_state = random_state

    @classmethod
    def from_preset(cls, name, **params):
        """A model with the settings of ``PRESETS[name]``, overridden by params.

        Examples
        --------
        >>> from pyunlocbox_gae.embeddings.planetoid import PlanetoidT
        >>> PlanetoidT.from_preset("authors", max_iter=10).optimizer
        'sgd'
        >>> PlanetoidT.from_preset("paper")
        Traceback (most recent call last):
        ...
        pyunlocbox_gae.errors.InputError: unknown preset 'paper'; choose one of...
        """
        if name not in cls.PRESETS:
            raise InputError(
                f"unknown preset {name!r}; choose one of {sorted(cls.PRESETS)}"
            )
        return cls(**{**cls.PRESETS[name], **params})

    # -- the network ----------------------------------------------------
    def _init_params(self, n_nodes, n_features, n_classes, rng, dtype):
        d, h, K = self.n_components, self.hidden, n_classes
        p = self._init_embedding(n_nodes, n_features, rng, dtype)
        if self.classifier == "hidden":
            p.update(
                W1=_glorot(rng, (n_features, h), dtype),
                b1=np.zeros(h, dtype),
                V1=_glorot(rng, (h, K), dtype),
                c=np.zeros(K, dtype),
            )
            if self._embedding_layer:  # Planetoid-T: a ReLU layer over e
                p.update(W2=_glorot(rng, (d, h), dtype), b2=np.zeros(h, dtype))
            p["V2"] = _glorot(rng, (h if self._embedding_layer else d, K), dtype)
        else:  # the authors' softmax branches, mixed by a softmax layer
            p.update(
                W1=_glorot(rng, (n_features, K), dtype),
                b1=np.zeros(K, dtype),
                W2=_glorot(rng, (d, K), dtype),
                b2=np.zeros(K, dtype),
                V=_glorot(rng, (2 * K, K), dtype),
                c=np.zeros(K, dtype),
            )
        if self.context_loss == "negative":
            p["C"] = np.zeros((n_nodes, d), dtype)  # context vectors w_c
        else:  # a softmax layer over every vertex
            p["Cs"] = _glorot(rng, (d, n_nodes), dtype)
            p["cb"] = np.zeros(n_nodes, dtype)
        return p

    def _forward(self, p, X, idx):
        """Logits of nodes idx and what backward needs."""
        Xb = _rows(X, idx)
        E, ecache = self._embed(p, X, idx)
        if self.classifier == "hidden":
            A1 = Xb @ p["W1"] + p["b1"]
            H1 = _relu(A1.copy())
            A2, H2 = None, E
            if self._embedding_layer:
                A2 = E @ p["W2"] + p["b2"]
                H2 = _relu(A2.copy())
            logits = H1 @ p["V1"] + H2 @ p["V2"] + p["c"]
            return logits, (Xb, E, ecache, A1, H1, A2, H2)
        P1 = _softmax(np.asarray(Xb @ p["W1"]) + p["b1"])
        P2 = _softmax(E @ p["W2"] + p["b2"])
        H = np.hstack([P1, P2])
        return H @ p["V"] + p["c"], (Xb, E, ecache, P1, P2, H)

    def _supervised(self, p, X, idx, y):
        """Mean cross-entropy (+ L2) of nodes idx and its gradients.

        With ``classifier="branches"`` the loss also has the cross-entropy
        of each branch (the authors' auxiliary losses).
        """
        logits, cache = self._forward(p, X, idx)
        P = _softmax(logits)
        B = len(idx)
        loss = _cross_entropy(P, y)
        G = P
        G[np.arange(B), y] -= 1
        G /= B
        if self.classifier == "hidden":
            Xb, E, ecache, A1, H1, A2, H2 = cache
            grads = dict(V1=H1.T @ G, V2=H2.T @ G, c=G.sum(axis=0))
            dA1 = (G @ p["V1"].T) * (A1 > 0)
            dE = G @ p["V2"].T
            if self._embedding_layer:
                dA2 = dE * (A2 > 0)
                grads.update(W2=E.T @ dA2, b2=dA2.sum(axis=0))
                dE = dA2 @ p["W2"].T
        else:
            Xb, E, ecache, P1, P2, H = cache
            K = P1.shape[1]
            grads = dict(V=H.T @ G, c=G.sum(axis=0))
            dH = G @ p["V"].T
            dA1 = _softmax_backward(P1, dH[:, :K])
            dA2 = _softmax_backward(P2, dH[:, K:])
            for P_, dA in ((P1, dA1), (P2, dA2)):  # the auxiliary losses
                loss += _cross_entropy(P_, y)
                P_[np.arange(B), y] -= 1
                dA += P_ / B
            grads.update(W2=E.T @ dA2, b2=dA2.sum(axis=0))
            dE = dA2 @ p["W2"].T
        grads["W1"] = np.asarray(Xb.T @ dA1)
        grads["b1"] = dA1.sum(axis=0)
        grads.update(self._embed_grad(p, X, idx, dE, ecache))
        loss += self._add_l2(p, grads)
        return loss, grads

    def _add_l2(self, p, grads):
        penalty = 0.0
        if self.l2 == 0:
            return penalty
        for k in _DECAYED:
            if k in p:
                penalty += 0.5 * self.l2 * float(np.vdot(p[k], p[k]))
                grads[k] = grads[k] + self.l2 * p[k]
        return penalty

    def _context(self, p, X, i, c, gamma):
        """Mean context loss over the pairs and its gradients.

        Negative sampling: -log sigma(gamma e_i . w_c); full softmax:
        -log softmax(e_i Cs + cb)_c (gamma, always 1, is not used).
        """
        if self.context_loss == "softmax":
            return self._context_softmax(p, X, i, c)
        E, cache = self._embed(p, X, i, context=True)
        Cc = p["C"][c]
        s = gamma * np.einsum("ij,ij->i", E, Cc)
        loss = float(np.logaddexp(0, -s).mean())
        # d/ds log(1 + e^-s) = -sigmoid(-s); expit does not overflow
        g = (-gamma * expit(-s) / len(i)).astype(E.dtype)[:, None]
        grads = {"C": (c, g * E)}
        grads.update(self._embed_grad(p, X, i, g * Cc, cache, context=True))
        return loss, grads

    def _context_softmax(self, p, X, i, c):
        # By chunks of rows: a batch of the authors' schedule scores 13,000
        # pairs against every vertex.
        E, cache = self._embed(p, X, i, context=True)
        n = len(i)
        Cs, cb, cols = p["Cs"], p["cb"], None
        if not self.softmax_excluded and self._allowed is not None:
            # the authors' Planetoid-I: a softmax over the other vertices only
            cols = self._allowed_nodes
            Cs, cb = Cs[:, cols], cb[cols]
            c = np.searchsorted(cols, c)  # every context vertex is allowed
        loss, dE = 0.0, np.empty_like(E)
        dCs, dcb = np.zeros_like(Cs), np.zeros_like(cb)
        for s in range(0, n, SOFTMAX_CHUNK):
            rows = slice(s, s + SOFTMAX_CHUNK)
            P = _softmax(E[rows] @ Cs + cb)
            r = np.arange(P.shape[0])
            loss -= float(np.log(P[r, c[rows]] + 1e-30).sum())
            P[r, c[rows]] -= 1
            P /= n
            dCs += E[rows].T @ P
            dcb += P.sum(axis=0)
            dE[rows] = P @ Cs.T
        if cols is not None:  # no gradient on the excluded vertices' columns
            full, dCs = dCs, np.zeros_like(p["Cs"])
            dCs[:, cols] = full
            full, dcb = dcb, np.zeros_like(p["cb"])
            dcb[cols] = full
        grads = dict(Cs=dCs, cb=dcb)
        grads.update(self._embed_grad(p, X, i, dE, cache, context=True))
        return loss / n, grads

    # -- sampling -------------------------------------------------------
    def _sample_context(self, rng, walks, labelled, y_node, size=None, share=None):
        """A batch of (centre, context, gamma) triplets (Algorithm 1 of the paper).

        `size` positive pairs (default: the graph batch size), a `share` of
        them (default: `label_context`) from the labels.
        """
        B = self.graph_batch_size_ if size is None else size
        k, n_nodes = self.negative, len(y_node)
        if self.context_loss == "softmax":
            k = 0  # the softmax normalises over every vertex: no negatives
        if share is None:
            share = self.label_context
            share = self._default_label_context if share is None else share
        n_label = rng.binomial(B, share) if len(labelled) > 1 else 0
        i_g, c_g = (
            window_pairs(walks, self.window, B - n_label, random_state=rng)
            if B > n_label
            else (np.zeros(0, np.int64), np.zeros(0, np.int64))
        )
        if self.self_context:  # a vertex as its own context (offset 0)
            own = rng.random_sample(len(i_g)) < self.self_context
            c_g = np.where(own, i_g, c_g)
        allowed = self._allowed
        if allowed is not None:  # pairs touching an excluded node are dropped
            keep = allowed[i_g] & allowed[c_g]
            i_g, c_g = i_g[keep], c_g[keep]
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
        i_ng = np.repeat(i_g, k)
        if allowed is None:
            c_ng = rng.randint(0, n_nodes, k * len(i_g))
        else:
            nodes = self._allowed_nodes
            c_ng = nodes[rng.randint(0, len(nodes), k * len(i_g))]
        i_nl = np.repeat(i_l, k)
        c_nl = labelled[rng.randint(0, len(labelled), len(i_nl))]
        differs = y_node[c_nl] != y_node[i_nl]
        i_nl, c_nl = i_nl[differs], c_nl[differs]
        n_pos = len(i_g) + len(i_l)
        gamma = np.r_[np.ones(n_pos), -np.ones(len(i_ng) + len(i_nl))]
        i = np.r_[i_g, i_l, i_ng, i_nl].astype(np.int64)
        return i, np.r_[c_g, c_l, c_ng, c_nl].astype(np.int64), gamma

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
    def fit(self, X, y, graph, validation=None, monitor=None, exclude=None):
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
        monitor : (indices, labels), optional
            Nodes whose accuracy is only recorded, every `eval_every`
            rounds, in ``monitor_curve_`` as (round, validation accuracy or
            NaN, monitor accuracy); it never selects anything. Giving the test
            nodes here tells what picking the checkpoint on them (as the
            authors' scripts do) would have reported.
        exclude : array-like of int, optional
            Nodes kept out of every context pair (never a labelled node):
            the test nodes of an inductive evaluation, so that training
            never sees their features or edges. None or empty: every node
            may be in a pair. :class:`PlanetoidI` warns when it is not given.

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
        self._allowed = self._allowed_nodes = None
        if exclude is not None and np.size(exclude) == 0:
            exclude = None  # nothing to keep out
        if exclude is not None:
            self._allowed = np.ones(n, dtype=bool)
            self._allowed[np.asarray(exclude, dtype=np.int64)] = False
            self._allowed_nodes = np.flatnonzero(self._allowed)
            if np.intersect1d(np.asarray(exclude), labelled).size:
                raise InputError("exclude must not list labelled nodes")
        self.classes_ = np.arange(int(y.max()) + 1)
        rng = check_random_state(self.random_state)
        dtype = X.dtype
        p = self._init_params(n, X.shape[1], len(self.classes_), rng, dtype)
        opt = (Adam if self.optimizer == "adam" else SGD)(p, self.learning_rate)
        lr_context = self.context_learning_rate
        lr_context = self.learning_rate if lr_context is None else lr_context
        walks = self._walk_source(A, rng)

        def context_step(size=None, share=None):
            pool = None if share == 1.0 else walks(size)  # label pairs only
            i, c, gamma = self._sample_context(rng, pool, labelled, y_node, size, share)
            loss, grads = self._context(p, X, i, c, gamma.astype(dtype))
            # SGD: the authors' rate applies to the loss summed over the pairs
            scale = len(i) if self.optimizer == "sgd" else 1
            opt.step(p, grads, lr_context * scale)
            return loss

        def label_step():
            size = min(self.batch_size, len(labelled))
            idx = labelled[rng.choice(len(labelled), size, replace=False)]
            loss, grads = self._supervised(p, X, idx, y_node[idx])
            opt.step(p, grads)
            return loss

        def accuracy(nodes):
            idx, labels = nodes
            return float(
                (self._logits(p, X, np.asarray(idx)).argmax(1) == labels).mean()
            )

        self.loss_curve_, self.monitor_curve_ = [], []
        self.graph_batch_size_, self.pretrain_steps_ = self._schedule(n)
        for _ in range(self.label_pretrain_steps):
            context_step(self.label_batch_size, share=1.0)
        for _ in range(self.pretrain_steps_):
            context_step()
        whole, frac = divmod(float(self.graph_steps), 1.0)
        best, self.best_iter_ = -1.0, 0
        for it in range(1, self.max_iter + 1):
            n_graph = int(whole) + (bool(frac) and rng.random_sample() < frac)
            lu = [context_step() for _ in range(n_graph)]
            ls = [label_step() for _ in range(self.label_steps)]
            self.loss_curve_.append(
                (
                    float(np.mean(ls)) if ls else np.nan,
                    float(np.mean(lu)) if lu else np.nan,
                )
            )
            if it % self.eval_every and it < self.max_iter:
                continue
            acc = np.nan if validation is None else accuracy(validation)
            if monitor is not None:
                self.monitor_curve_.append((it, acc, accuracy(monitor)))
            if validation is not None and acc > best:
                best, self.best_iter_ = acc, it
                kept = {k: v.copy() for k, v in p.items()}
        if validation is not None:
            p = kept
            self.validation_score_ = best
        self.params_ = p
        self.n_iter_ = self.max_iter
        self._fit_X = X
        return self

    def _walk_source(self, A, rng):
        """A function of the batch size giving the walks to draw pairs from.

        By default the `n_walks` walks from every vertex, drawn once (without
        those from excluded nodes when ``start_excluded=False``). With
        ``fresh_walks`` every batch gets new walks, from start vertices taken
        in turn from random permutations of the vertices (with out-going
        edges, and not excluded when ``start_excluded=False``), enough of
        them for about as many window pairs as the batch has pairs.
        """
        starts = np.arange(A.shape[0])
        if not self.start_excluded and self._allowed is not None:
            starts = self._allowed_nodes
        if not self.fresh_walks:
            walks = random_walks(A, self.n_walks, self.walk_length, random_state=rng)
            if len(starts) < A.shape[0]:
                walks = walks[np.isin(walks[:, 0], starts)]
            return lambda size=None: walks
        walker = Walker(A)
        starts = starts[walker.out_degree()[starts] > 0]
        if len(starts) == 0:
            raise InputError("fresh_walks needs a graph with edges to walk on")
        L, w = self.walk_length, min(self.window, self.walk_length - 1)
        per_walk = w * (2 * L - w - 1)  # (position, offset) pairs of one walk
        queue = []

        def walks(size=None):
            B = self.graph_batch_size_ if size is None else size
            n = int(np.ceil(B / per_walk))
            while len(queue) < n:  # the next starts of the current permutation
                queue.extend(rng.permutation(starts).tolist())
            chosen = np.array(queue[:n])
            del queue[:n]
            return walker.walks(chosen, L, random_state=rng)

        return walks

    def _logits(self, p, X, idx):
        return self._forward(p, X, idx)[0]

    def _proba(self, X, idx):
        logits = self._logits(self.params_, X, idx)
        logits -= logits.max(axis=1, keepdims=True)
        P = np.exp(logits)
        return P / P.sum(axis=1, keepdims=True)
