r"""Baselines and the semi-supervised comparison over seeds.

.. autosummary::
    METHODS
    PUBLISHED
    normalized_adjacency
    propagate
    run_method
    compare
    format_table

Every method gets the same split: it trains on the labelled training nodes
(and, for the graph methods, on the graph and the features of every node),
chooses what it chooses on the validation nodes, and is scored once on the
test nodes.

* ``features_lr``: logistic regression on the features alone.
* ``propagated_lr``: logistic regression on :math:`\hat A^k X`, the features
  averaged k times over neighbourhoods, with
  :math:`\hat A = D^{-1/2}(A + I)D^{-1/2}` (the SGC baseline, Wu et al.
  2019).
* ``gae``: the graph auto-encoder of this package with the citation graph as
  its Dirichlet graph and the features as X; logistic regression on the
  codes.
* ``planetoid_t``, ``planetoid_i``: :mod:`pyunlocbox_gae.embeddings.planetoid.models`.
"""

import logging
import time

import numpy as np
import scipy.sparse as sp
from sklearn.feature_extraction.text import TfidfTransformer
from sklearn.linear_model import LogisticRegression
from sklearn.preprocessing import StandardScaler

from pyunlocbox_gae.embeddings.planetoid.models import PlanetoidI, PlanetoidT
from pyunlocbox_gae.embeddings.walks import as_adjacency
from pyunlocbox_gae.errors import InputError

METHODS = ("features_lr", "propagated_lr", "gae", "planetoid_t", "planetoid_i")

#: Test accuracy (%) on the public split, as published: Planetoid (Yang et
#: al. 2016, Table 3; Pubmed: Planetoid-I as quoted by Kipf and Welling),
#: GCN (Kipf and Welling 2017), GAT (Velickovic et al. 2018).
PUBLISHED = {
    "cora": {"planetoid_t": 75.7, "planetoid_i": 61.2, "gcn": 81.5, "gat": 83.0},
    "citeseer": {"planetoid_t": 62.9, "planetoid_i": 64.7, "gcn": 70.3, "gat": 72.5},
    "pubmed": {"planetoid_i": 77.2, "gcn": 79.0, "gat": 79.0},
}

_CS = (0.01, 0.1, 1.0, 10.0, 100.0)

#: A finer grid of the logistic regression's C for ``gae`` (``cs="fine"``):
#: 16 values from 10^-3 to 10^2, three per decade.
FINE_CS = tuple(float(c) for c in np.logspace(-3, 2, 16))


def normalized_adjacency(adjacency, self_loops=True):
    """The symmetrically normalised adjacency D^-1/2 (A + I) D^-1/2, CSR.

    Examples
    --------
    >>> import numpy as np
    >>> A = np.array([[0, 1.0], [1.0, 0]])
    >>> normalized_adjacency(A).toarray()
    array([[0.5, 0.5],
           [0.5, 0.5]])
    """
    A = as_adjacency(adjacency)
    if self_loops:
        A = A + sp.identity(A.shape[0], dtype=A.dtype, format="csr")
    d = np.asarray(A.sum(axis=1)).ravel()
    inv = np.zeros_like(d)
    np.power(d, -0.5, where=d > 0, out=inv)
    D = sp.diags(inv.astype(A.dtype))
    return sp.csr_matrix(D @ A @ D)


def propagate(X, adjacency, k=2):
    """Features averaged `k` times over the graph: normalized_adjacency^k X.

    Sparse features stay sparse (the neighbourhoods of citation graphs are
    small), dense stay dense; the dtype of X is kept.

    Examples
    --------
    >>> import numpy as np
    >>> A = np.array([[0, 1.0], [1.0, 0]])
    >>> propagate(np.array([[1.0], [3.0]], dtype=np.float32), A, k=1)
    array([[2.],
           [2.]], dtype=float32)
    """
    S = normalized_adjacency(adjacency)
    dtype = X.dtype if X.dtype in (np.float32, np.float64) else np.float64
    S = S.astype(dtype)
    for _ in range(k):
        X = S @ X
    return X


def _fit_lr(Z, data, random_state=0, cs=_CS):
    """Logistic regression on the training nodes, C chosen on validation.

    `cs` are the values of C tried; the first of the best on validation is
    kept. Without validation nodes (the transductive files) C is
    scikit-learn's default, 1.
    """
    best = None
    y = data.labels
    for C in cs if len(data.val) else (1.0,):
        clf = LogisticRegression(C=C, max_iter=2000, random_state=random_state)
        clf.fit(Z[data.train], y[data.train])
        acc = clf.score(Z[data.val], y[data.val]) if len(data.val) else 0.0
        if best is None or acc > best[0]:
            best = (acc, clf)
    return best[1]


def _lr_accuracy(Z, data, seed, cs=_CS):
    clf = _fit_lr(Z, data, seed, cs)
    return float(clf.score(Z[data.test], data.labels[data.test]))


def _gae_codes(
    data,
    seed,
    n_atoms=64,
    ld=10.0,
    ls=0.5,
    lg=100.0,
    max_outer=5,
    row_normalize=False,
    tfidf=False,
    lap_type="normalized",
    **kw,
):
    """Codes of the graph auto-encoder with the data's graph as Dirichlet graph.

    ``row_normalize``: divide every node's features by their sum first (the
    usual preprocessing of the citation bag-of-words in GCN and GAT).
    ``tfidf``: weight the bag-of-words by TF-IDF first (scikit-learn's
    ``TfidfTransformer``: smoothed idf, every row scaled to unit norm), so
    that rare words count more than those most documents share.
    ``lap_type``: the Laplacian of the Dirichlet term, ``'normalized'`` or
    ``'combinatorial'`` (PyGSP's names).
    """
    import pygsp

    from pyunlocbox_gae import GraphAutoEncoder

    for name in ("pygsp", "pygsp.graphs"):
        logging.getLogger(name).setLevel(logging.WARNING)
    X = data.features
    if tfidf:
        X = TfidfTransformer().fit_transform(X)
    X = np.asarray(X.toarray() if sp.issparse(X) else X, dtype=np.float32)
    if row_normalize:
        sums = X.sum(axis=1, keepdims=True)
        X = X / np.where(sums > 0, sums, 1)  # rows without words stay zero
    W = as_adjacency(data.adjacency, dtype=np.float32)
    G = pygsp.graphs.Graph(W, lap_type=lap_type)  # isolated nodes: L row 0
    G.L = sp.csr_matrix(G.L, dtype=np.float32)  # float32 codes, float32 L
    gae = GraphAutoEncoder(
        n_atoms,
        ld=ld,
        ls=ls,
        lg=lg,
        graph=G,
        max_outer=max_outer,
        random_state=seed,
        **kw,
    )
    return gae.fit_transform(X)


def _c_grid(cs):
    """The C values of ``gae``'s logistic regression: None, "fine" or numbers."""
    if cs is None:
        return _CS
    if isinstance(cs, str) and cs == "fine":
        return FINE_CS
    try:
        grid = tuple(float(c) for c in cs)
    except (TypeError, ValueError):
        grid = ()
    if isinstance(cs, str) or not grid or not all(np.isfinite(grid)) or min(grid) <= 0:
        raise InputError(
            f"cs must be None (C in 0.01 ... 100, one per decade), 'fine' "
            f"(three per decade from 0.001 to 100) or positive numbers, got {cs!r}"
        )
    return grid


#: The preset of each Planetoid model in the comparison (see ``PRESETS``).
DEFAULT_PRESET = {"planetoid_t": "authors", "planetoid_i": "authors"}

#: Methods that read the features of every node (not only of the labelled
#: and test nodes), so not the transductive files.
NEEDS_ALL_FEATURES = ("propagated_lr", "gae", "planetoid_i")


def run_method(name, data, seed=0, details=None, **params):
    """Test accuracy of one method on `data` (a PlanetoidData) for one seed.

    Parameters
    ----------
    name : str
        One of :data:`METHODS`.
    data : PlanetoidData
    seed : int
    details : dict, optional
        Filled, for the Planetoid models, with ``test_selected``: the best
        test accuracy over the checkpoints, what selecting the checkpoint on
        the test nodes (as the authors' scripts do) would report. For
        comparison only; the returned accuracy is that of the checkpoint
        chosen on the validation nodes (or the last one without them).
    **params
        Parameters of the method (``k`` for ``propagated_lr``; for ``gae``
        those of GraphAutoEncoder, ``row_normalize``, ``tfidf`` (weight the
        features by TF-IDF, rows of unit norm), ``standardize`` (scale
        every code to zero mean and unit variance over the nodes before the
        logistic regression) and ``cs``, the values of the logistic
        regression's C tried on validation: None for 0.01 ... 100 one per
        decade, ``"fine"`` for :data:`FINE_CS`, or a list;
        for PlanetoidT/I ``preset`` (default
        :data:`DEFAULT_PRESET`), ``feature_scale`` (a factor on every
        feature, default 1: Pubmed's TF-IDF rows sum to about 2, Cora's
        binary rows to 18, and the authors' SGD rate suits the latter) and
        any parameter that overrides the preset).

    Returns
    -------
    float
        Accuracy on ``data.test``.

    Examples
    --------
    >>> from pyunlocbox_gae.embeddings.planetoid import make_sbm_dataset
    >>> data = make_sbm_dataset(random_state=0)
    >>> acc = run_method("propagated_lr", data, k=2)
    >>> bool(acc > run_method("features_lr", data))
    True
    """
    if name not in METHODS:
        raise InputError(f"unknown method {name!r}; choose among {', '.join(METHODS)}")
    if data.featured is not None and name in NEEDS_ALL_FEATURES:
        raise InputError(
            f"{name} needs the features of every node, but {data.name} was "
            "loaded from the transductive files (features of the labelled and "
            "test nodes only); give the ind.* files, or run features_lr and "
            "planetoid_t only"
        )
    if name == "features_lr":
        return _lr_accuracy(data.features, data, seed)
    if name == "propagated_lr":
        return _lr_accuracy(
            propagate(data.features, data.adjacency, **params), data, seed
        )
    if name == "gae":
        params = dict(params)
        cs = _c_grid(params.pop("cs", None))
        standardize = params.pop("standardize", False)
        Z = _gae_codes(data, seed, **params)
        if standardize:  # every code to zero mean and unit variance over nodes
            Z = StandardScaler().fit_transform(np.asarray(Z, dtype=np.float64))
        return _lr_accuracy(Z, data, seed, cs)
    cls = PlanetoidT if name == "planetoid_t" else PlanetoidI
    params = dict(params)
    preset = params.pop("preset", DEFAULT_PRESET[name])
    scale = params.pop("feature_scale", 1.0)
    if not (isinstance(scale, (int, float)) and np.isfinite(scale) and scale > 0):
        raise InputError(f"feature_scale must be a positive number, got {scale!r}")
    features = data.features * scale if scale != 1 else data.features
    model = cls.from_preset(preset, random_state=seed, **params)
    test = (data.test, data.labels[data.test])
    model.fit(
        features,
        data.y_train(),
        data.adjacency,
        validation=(data.val, data.labels[data.val]) if len(data.val) else None,
        monitor=test if details is not None else None,
        # inductive: the test nodes are unseen while training (as the authors)
        exclude=data.test if name == "planetoid_i" else None,
    )
    pred = (
        model.predict(data.test)
        if name == "planetoid_t"
        else model.predict(features[data.test])
    )
    accuracy = float((pred == data.labels[data.test]).mean())
    if details is not None:
        curve = [row[2] for row in model.monitor_curve_]
        details["test_selected"] = max(curve + [accuracy])
    return accuracy


def compare(
    data,
    methods=METHODS,
    seeds=5,
    params=None,
    progress=None,
    previous=None,
    checkpoint=None,
):
    """Accuracy of every method over seeds, on the data's split.

    Parameters
    ----------
    data : PlanetoidData
    methods : sequence of str
    seeds : int
        Seeds 0 .. seeds-1 (the split stays the same; the seed moves the
        initialisations, walks and samples; the logistic regressions are
        deterministic).
    params : dict, optional
        ``{method: {parameter: value}}``.
    progress : callable, optional
        Called with (method, seed, accuracy, seconds) after every run.
    previous : dict, optional
        Results of an interrupted call with the same arguments: the runs it
        holds are reused, not run again.
    checkpoint : callable, optional
        Called with the results so far after every run (to save them).

    Returns
    -------
    dict
        ``{"dataset", "summary", "methods": {method: {"accuracy": [...],
        "mean", "std", "seconds", "published"}}}``, accuracies in %; the
        Planetoid models also have ``"test_selected"`` (and its mean and
        std): the accuracy of the checkpoint picked on the test nodes, for
        comparison with the authors' scripts, which pick it so.

    Examples
    --------
    >>> from pyunlocbox_gae.embeddings.planetoid import make_sbm_dataset
    >>> r = compare(make_sbm_dataset(random_state=0), ["features_lr"], seeds=2)
    >>> acc = r["methods"]["features_lr"]
    >>> len(acc["accuracy"]), acc["std"]
    (2, 0.0)
    """
    unknown = sorted(set(methods) - set(METHODS))
    if unknown:
        raise InputError(
            f"unknown method(s) {', '.join(unknown)}; choose among {', '.join(METHODS)}"
        )
    if seeds < 1:
        raise InputError(f"seeds must be at least 1, got {seeds}")
    params = params or {}
    published = PUBLISHED.get(data.name.lower(), {})
    out = {"dataset": data.name, "summary": data.summary(), "methods": {}}
    done = (previous or {}).get("methods", {})
    for name in methods:
        old = done.get(name, {})
        accs = list(old.get("accuracy", []))[:seeds]
        seconds = list(old.get("seconds_per_run", []))[: len(accs)]
        test_selected = list(old.get("test_selected", []))[: len(accs)]
        for seed in range(len(accs), seeds):
            t = time.perf_counter()
            details = {} if name.startswith("planetoid") else None
            acc = 100 * run_method(name, data, seed, details, **params.get(name, {}))
            seconds.append(time.perf_counter() - t)
            accs.append(acc)
            if details is not None:
                test_selected.append(100 * details["test_selected"])
            out["methods"][name] = _summary(
                accs, seconds, published.get(name), test_selected
            )
            if progress is not None:
                progress(name, seed, acc, seconds[-1])
            if checkpoint is not None:
                checkpoint(out)
        out["methods"][name] = _summary(
            accs, seconds, published.get(name), test_selected
        )
    for name in ("gcn", "gat"):
        if name in published:
            out["methods"].setdefault(name, {"published": published[name]})
    return out


def _summary(accs, seconds, published, test_selected=()):
    out = {
        "accuracy": accs,
        "mean": float(np.mean(accs)),
        "std": float(np.std(accs)),
        "seconds": float(np.mean(seconds)) if seconds else float("nan"),
        "seconds_per_run": seconds,
        "published": published,
    }
    if len(test_selected):  # the Planetoid models' checkpoints chosen on test
        out["test_selected"] = list(test_selected)
        out["test_selected_mean"] = float(np.mean(test_selected))
        out["test_selected_std"] = float(np.std(test_selected))
    return out


def format_table(results):
    """A markdown table of :func:`compare` results.

    The test-selected column is what picking the Planetoid checkpoint on the
    test nodes would report (the authors' scripts do); the accuracy column
    is the honest, validation-selected one.

    Examples
    --------
    >>> r = {"dataset": "cora", "methods": {
    ...     "features_lr": {"mean": 57.1, "std": 0.0, "seconds": 0.5,
    ...                     "published": None},
    ...     "planetoid_t": {"mean": 75.0, "std": 1.0, "seconds": 50.0,
    ...                     "published": 75.7, "test_selected_mean": 75.5,
    ...                     "test_selected_std": 1.2},
    ...     "gcn": {"published": 81.5}}}
    >>> print(format_table(r))
    | method | accuracy (%) | test-selected (%) | seconds per run | published (%) |
    |---|---|---|---|---|
    | features_lr | 57.1 ± 0.0 | – | 0.5 | – |
    | planetoid_t | 75.0 ± 1.0 | 75.5 ± 1.2 | 50.0 | 75.7 |
    | gcn | – | – | – | 81.5 |
    """
    lines = [
        "| method | accuracy (%) | test-selected (%) | seconds per run "
        "| published (%) |",
        "|---|---|---|---|---|",
    ]
    for name, r in results["methods"].items():
        acc = f"{r['mean']:.1f} ± {r['std']:.1f}" if "mean" in r else "–"
        sel = "–"
        if "test_selected_mean" in r:
            sel = f"{r['test_selected_mean']:.1f} ± {r['test_selected_std']:.1f}"
        sec = f"{r['seconds']:.1f}" if "seconds" in r else "–"
        pub = "–" if r.get("published") is None else f"{r['published']:.1f}"
        lines.append(f"| {name} | {acc} | {sel} | {sec} | {pub} |")
    return "\n".join(lines)
