r"""Semi-supervised node classification data: the container and a generator.

.. autosummary::
    PlanetoidData
    sbm_adjacency
    make_sbm_dataset
"""

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
from sklearn.utils import check_random_state

from pyunlocbox_gae.errors import InputError


@dataclass
class PlanetoidData:
    """A graph with node features, labels and a train/validation/test split.

    Attributes
    ----------
    name : str
    features : scipy.sparse.csr_matrix or ndarray of shape (n_nodes, n_features)
    labels : ndarray of shape (n_nodes,), int64
        Class of every node, -1 where unknown (e.g. the Citeseer test nodes
        missing from the files).
    adjacency : scipy.sparse.csr_matrix of shape (n_nodes, n_nodes), float32
        Symmetric, 0/1 weights.
    train, val, test : ndarray of int64
        Node indices of the split.
    featured : ndarray of int64 or None
        Nodes whose features are known, None for all (the transductive
        files have features of the labelled and test nodes only; the others
        hold zeros).
    """

    name: str
    features: object
    labels: np.ndarray
    adjacency: sp.csr_matrix
    train: np.ndarray
    val: np.ndarray
    test: np.ndarray
    featured: np.ndarray | None = None

    @property
    def n_nodes(self):
        return self.adjacency.shape[0]

    @property
    def n_classes(self):
        return int(self.labels.max()) + 1

    def y_train(self):
        """Labels of the training nodes, -1 elsewhere (scikit-learn's convention)."""
        y = np.full(self.n_nodes, -1, dtype=np.int64)
        y[self.train] = self.labels[self.train]
        return y

    def summary(self):
        """One line describing the data set."""
        return (
            f"{self.name}: {self.n_nodes} nodes, {self.adjacency.nnz // 2} edges, "
            f"{self.features.shape[1]} features, {self.n_classes} classes; split "
            f"{len(self.train)} train / {len(self.val)} val / {len(self.test)} test"
        )


def sbm_adjacency(labels, p_in, p_out, random_state=None):
    """A stochastic block model graph: edge probability p_in within, p_out across.

    Edges are drawn block pair by block pair: the number of edges from a
    binomial law, their ends uniformly, so the cost grows with the number of
    edges, not of node pairs (100k nodes take a fraction of a second). Edges
    drawn twice are kept once, which is exact in the sparse regime
    (p << 1) this is meant for.

    Parameters
    ----------
    labels : array-like of shape (n_nodes,), int
        Block of every node.
    p_in, p_out : float
        Edge probabilities within a block and between two blocks.
    random_state : int, RandomState instance or None

    Returns
    -------
    scipy.sparse.csr_matrix of shape (n_nodes, n_nodes), float32
        Symmetric 0/1 adjacency without self-loops.

    Examples
    --------
    >>> import numpy as np
    >>> A = sbm_adjacency(np.repeat([0, 1], 50), 0.3, 0.01, random_state=0)
    >>> A.shape, A.dtype, bool((A != A.T).nnz == 0), int(A.diagonal().sum())
    ((100, 100), dtype('float32'), True, 0)
    >>> bool(A[:50, :50].sum() > 10 * A[:50, 50:].sum())
    True
    """
    labels = np.asarray(labels)
    for name, p in (("p_in", p_in), ("p_out", p_out)):
        if not 0 <= p <= 1:
            raise InputError(f"{name} must be a probability in [0, 1], got {p}")
    rng = check_random_state(random_state)
    members = [np.flatnonzero(labels == k) for k in np.unique(labels)]
    rows, cols = [], []
    for a, ia in enumerate(members):
        for b in range(a, len(members)):
            ib = members[b]
            pairs = len(ia) * (len(ia) - 1) // 2 if a == b else len(ia) * len(ib)
            m = rng.binomial(pairs, p_in if a == b else p_out)
            i = ia[rng.randint(0, len(ia), m)]
            j = ib[rng.randint(0, len(ib), m)]
            keep = i != j
            rows.append(i[keep])
            cols.append(j[keep])
    i, j = np.concatenate(rows), np.concatenate(cols)
    n = len(labels)
    A = sp.csr_matrix(
        (np.ones(2 * len(i), dtype=np.float32), (np.r_[i, j], np.r_[j, i])),
        shape=(n, n),
    )
    A.data[:] = 1  # edges drawn twice were summed
    return A


def make_sbm_dataset(
    n_nodes=600,
    n_classes=3,
    n_features=100,
    *,
    avg_degree=8.0,
    homophily=0.9,
    words_per_node=10,
    feature_signal=0.3,
    n_per_class=20,
    n_val=100,
    n_test=200,
    random_state=None,
):
    """Bag-of-words nodes on a stochastic block model whose blocks are the classes.

    A synthetic stand-in for the citation data sets: the class of a node is
    its block, so the graph carries the labels, while the binary bag-of-words
    features carry them only weakly (`feature_signal`). A features-only
    classifier is then mediocre and graph-aware methods should do better.

    Parameters
    ----------
    n_nodes, n_classes, n_features : int
    avg_degree : float
        Expected degree of a node.
    homophily : float in [0, 1]
        Expected fraction of a node's edges that stay within its block.
    words_per_node : int
        Words drawn (with replacement) for every node.
    feature_signal : float in [0, 1]
        Probability that a word comes from the class's own vocabulary (the
        class's n_features / n_classes words) rather than from all words.
    n_per_class, n_val, n_test : int
        The split: `n_per_class` labelled nodes of every class, then
        validation and test nodes drawn from the rest.
    random_state : int, RandomState instance or None

    Returns
    -------
    PlanetoidData

    Examples
    --------
    >>> data = make_sbm_dataset(random_state=0)
    >>> print(data.summary())
    sbm: 600 nodes, ... edges, 100 features, 3 classes; split 60 train / ...
    >>> data.features.dtype, data.features.shape
    (dtype('float32'), (600, 100))
    """
    if n_per_class * n_classes + n_val + n_test > n_nodes:
        raise InputError(
            f"the split needs {n_per_class * n_classes + n_val + n_test} nodes but "
            f"there are only {n_nodes}; lower n_per_class, n_val or n_test"
        )
    rng = check_random_state(random_state)
    labels = rng.permutation(np.arange(n_nodes) % n_classes).astype(np.int64)
    size = n_nodes / n_classes
    p_in = min(1.0, avg_degree * homophily / max(size - 1, 1))
    p_out = min(1.0, avg_degree * (1 - homophily) / max(n_nodes - size, 1))
    A = sbm_adjacency(labels, p_in, p_out, rng)

    vocab = rng.permutation(n_features) % n_classes  # class owning every word
    own = rng.random_sample((n_nodes, words_per_node)) < feature_signal
    anyword = rng.randint(0, n_features, (n_nodes, words_per_node))
    ownword = np.empty_like(anyword)
    for k in range(n_classes):
        words = np.flatnonzero(vocab == k)
        rows = labels == k
        ownword[rows] = words[rng.randint(0, len(words), (rows.sum(), words_per_node))]
    words = np.where(own, ownword, anyword)
    X = sp.csr_matrix(
        (
            np.ones(words.size, dtype=np.float32),
            (np.repeat(np.arange(n_nodes), words_per_node), words.ravel()),
        ),
        shape=(n_nodes, n_features),
    )
    X.data[:] = 1  # binary bag of words, as the citation data sets

    train = np.concatenate(
        [
            rng.permutation(np.flatnonzero(labels == k))[:n_per_class]
            for k in range(n_classes)
        ]
    )
    rest = rng.permutation(np.setdiff1d(np.arange(n_nodes), train))
    return PlanetoidData(
        name="sbm",
        features=X,
        labels=labels,
        adjacency=A,
        train=np.sort(train),
        val=np.sort(rest[:n_val]),
        test=np.sort(rest[n_val : n_val + n_test]),
    )
