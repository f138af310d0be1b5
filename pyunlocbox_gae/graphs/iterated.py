r"""A graph re-built from the codes while they are learned.

The ``codes`` view (:func:`.views.first_pass_codes`) searches neighbours
once, on the codes of a fit without a graph. :func:`iterated_codes_graph`
lets the graph and the codes refine each other instead:

1. start from the study's k-NN graph of the rows;
2. fit the auto-encoder with that graph for `outer` outer iterations;
3. re-build the k-NN graph from the current codes;
4. continue the fit warm (the atoms reached so far as ``dict_init``) with
   the new graph; repeat `rounds` times.

The graph of the last round is returned: the experiment chain then learns
its codes with it, as with any other construction, so that it is compared
with the random-graph, L = I and tuned-ℓ1 controls in the same way.
:func:`iterated_fit` returns the warm model as well, for direct use.

.. autosummary::
    iterated_codes_graph
    iterated_fit
    auto_ls
"""

from numbers import Integral

import numpy as np

from pyunlocbox_gae.errors import InputError
from pyunlocbox_gae.graphs.knn import knn_graph

# The sparsity weight of the view's own fit, on clean and on noisy rows: on
# spoken-digit recordings other than those of docs/graph-constructions.md,
# ls = 0.3 kept clean codes about as informative as the raw frames (ls = 1
# lost 5 to 7 points), and ls = 1 scored best under noise 0.1 and 0.2.
LS_CLEAN, LS_NOISY = 0.3, 1.0


def auto_ls(X):
    """The sparsity weight for X, from its noise as ``lg='auto'`` estimates it.

    :data:`LS_CLEAN` up to the noise fraction below which ``lg='auto'``
    takes its clean value, :data:`LS_NOISY` above the one from which it
    takes its noisy value, log-linear between
    (:func:`pyunlocbox_gae.model.lg_auto.noise_fraction`).

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> clean = rng.random((500, 3)) @ rng.random((3, 30))
    >>> auto_ls(clean), auto_ls(clean + rng.standard_normal(clean.shape))
    (0.3, 1.0)
    """
    from pyunlocbox_gae.model import lg_auto

    nu = lg_auto.noise_fraction(X)
    t = (nu - lg_auto.NU_CLEAN) / (lg_auto.NU_NOISY - lg_auto.NU_CLEAN)
    t = float(np.clip(t, 0.0, 1.0))
    return float(round(LS_CLEAN * (LS_NOISY / LS_CLEAN) ** t, 6))


def _check_count(name, value):
    if not isinstance(value, Integral) or isinstance(value, bool) or value < 1:
        raise InputError(f"{name} must be a positive integer, got {value!r}")
    return int(value)


def iterated_fit(
    X,
    rounds=3,
    outer=3,
    n_atoms=32,
    lg="auto",
    ls="auto",
    random_state=0,
    model_params=None,
    **knn_params,
):
    """Fit with a k-NN graph re-built from the codes every `outer` iterations.

    Parameters
    ----------
    X : ndarray of shape (n_samples, n_features)
    rounds : int
        Graphs re-built from the codes (the fit runs ``rounds * outer``
        outer iterations in all).
    outer : int
        Outer iterations between two graphs.
    n_atoms : int
        Atoms of the fit.
    lg : float or 'auto'
        Graph weight of the fit (``'auto'``: chosen from the noise of X,
        :func:`pyunlocbox_gae.model.lg_auto.choose_lg`).
    ls : float or 'auto'
        Sparsity weight of the fit (``'auto'``: :func:`auto_ls`).
    random_state : int
        Seed of the first atoms.
    model_params : dict, optional
        Other parameters of
        :class:`~pyunlocbox_gae.model.estimator.GraphAutoEncoder`.
    **knn_params
        For every :func:`~pyunlocbox_gae.graphs.knn_graph` (``k``,
        ``kernel``, ``lap_type``, ``dtype``, ...).

    Returns
    -------
    graph : pygsp.graphs.Graph
        The k-NN graph of the codes of the last round.
    model : GraphAutoEncoder
        Fitted in the last round (warm from the earlier ones).
    history : list of dict
        Per round: ``round``, ``n_outer`` (outer iterations run), ``lg``
        and ``ls`` (the weights used) and ``changed`` (fraction of the rows whose
        neighbour set the new graph changed).

    Examples
    --------
    >>> X = np.random.default_rng(0).random((60, 5)).astype(np.float32)
    >>> G, model, history = iterated_fit(X, rounds=2, outer=1, n_atoms=4, k=5)
    >>> G.N, model.components_.shape, [h["round"] for h in history]
    (60, (4, 5), [1, 2])
    """
    from pyunlocbox_gae.model.estimator import GraphAutoEncoder

    rounds = _check_count("rounds", rounds)
    outer = _check_count("outer", outer)
    X = np.asarray(X)
    if isinstance(ls, str) and ls == "auto":
        ls = auto_ls(X)
    knn_params.setdefault("dtype", X.dtype)
    knn_params.setdefault("random_state", random_state)
    G = knn_graph(X, **knn_params)
    init, history, model = "samples", [], None
    params = dict(model_params or {})
    for r in range(1, rounds + 1):
        model = GraphAutoEncoder(
            n_atoms=n_atoms,
            graph=G,
            lg=lg,
            ls=ls,
            max_outer=outer,
            dict_init=init,
            random_state=random_state,
            **params,
        )
        Z = model.fit_transform(X)
        init = model.components_
        new = knn_graph(Z, **knn_params)
        history.append(
            dict(
                round=r,
                n_outer=len(model.history_),
                lg=float(model.lg_),
                ls=float(ls),
                changed=_changed(G.W, new.W),
            )
        )
        G = new
    G.graph_params = dict(
        getattr(G, "graph_params", {}) or {},
        view="codes_iterated",
        rounds=rounds,
        outer=outer,
        rank=int(n_atoms),
    )
    G.neighbors = None  # the codes' neighbours, not X's
    return G, model, history


def _changed(A, B):
    """Fraction of rows whose set of neighbours differs between two graphs."""
    A, B = A.tocsr(), B.tocsr()
    A.sort_indices()
    B.sort_indices()
    diff = (A != 0).astype(np.int8) - (B != 0).astype(np.int8)
    return float(np.mean(np.diff(abs(diff).tocsr().indptr) > 0))


def iterated_codes_graph(X, rounds=3, outer=3, n_atoms=32, **params):
    """The graph of :func:`iterated_fit` alone (the ``codes_iterated`` construction).

    Examples
    --------
    >>> X = np.random.default_rng(1).random((50, 4)).astype(np.float32)
    >>> iterated_codes_graph(X, rounds=2, outer=1, n_atoms=3, k=4).N
    50
    >>> iterated_codes_graph(X, rounds=0)
    Traceback (most recent call last):
    ...
    pyunlocbox_gae.errors.InputError: rounds must be a positive integer, got 0
    """
    return iterated_fit(X, rounds, outer, n_atoms, **params)[0]
