r"""Weights that balance the terms of the objective (auto-tuning).

The original study found its best accuracies when the weighted terms of the
objective were of the same magnitude, and accuracy collapsing when the
fidelity term dwarfed the ℓ1 term; it asked for automatic tuning. No
library tunes the weights of a sum of terms against each other, hence this
small fixed-point search: fit briefly, compare each weighted term with the
geometric mean of all of them, move each free weight (in log scale) by a
damped secant step towards that mean, and fit again; a round that ends
worse than the best one halves the step, which starts again from the
best. ``ld`` is held fixed as the scale of the whole objective (the study
notes that ls is redundant with ld).

.. autosummary::
    balance_weights
    term_spread
"""

import math

from pyunlocbox_gae.errors import InputError
from pyunlocbox_gae.model.estimator import GraphAutoEncoder
from pyunlocbox_gae.model.objective import TERMS

# The weights balancing may tune: every weighted term but the data term.
_FREE = {t.name: t.parameter for t in TERMS if not t.switch and t.name != "data"}
_WEIGHTS = ("ld", *_FREE.values())


def term_spread(entry, terms=("data", "sparsity", "graph", "encoder", "graph_tv")):
    """Largest ratio between two weighted terms of a ``history_`` entry.

    Terms whose weight is off (value 0) are left out.

    Examples
    --------
    >>> term_spread(dict(data=10.0, sparsity=2.0, graph=40.0, encoder=0.0))
    20.0
    """
    values = [entry[t] for t in terms if entry.get(t, 0) > 0]
    return max(values) / min(values) if values else 1.0


def _gaps(row, free):
    """log(term / geometric mean of the terms) of each free term."""
    active = [t for t in ("data", *_FREE) if row[t] > 0]  # fixed ones count too
    mean = sum(math.log(row[t]) for t in active) / len(active)
    # A term that vanished (all codes zero) counts as 1000 times too small.
    return {t: math.log(row[t]) - mean if row[t] > 0 else -math.log(1e3) for t in free}


def balance_weights(
    X,
    graph=None,
    *,
    n_atoms=64,
    ld=10.0,
    ls=1.0,
    lg=None,
    le=None,
    max_outer=3,
    rounds=8,
    tol=3.0,
    step=0.7,
    tune=None,
    random_state=0,
    return_report=False,
    **params,
):
    """Propose weights whose weighted terms are within a factor of each other.

    Parameters
    ----------
    X : array-like of shape (n_samples, n_features)
        The data (or a representative subset: each round is a short fit).
    graph : pygsp.graphs.Graph or sparse matrix, optional
        Graph over the samples; the graph term is balanced when given.
    n_atoms : int
    ld : float
        Fixed weight of the data term: the scale of the objective.
    ls, lg, le : float or None
        Starting weights. ``lg`` defaults to 1 with a graph (0 without);
        ``le`` to 0 (off; give a positive value to balance the encoder).
    max_outer : int
        Outer iterations of each short fit.
    rounds : int
        Maximum number of fits.
    tol : float
        Stop when the largest ratio between two weighted terms is below `tol`
        (after refitting with the returned weights, the ratio is that of
        the round they come from).
    step : float
        Damping of the update in log scale (1: a full secant step).
    tune : sequence of {'ls', 'lg', 'le'}, optional
        The weights to adjust (default: every one that is on); the others
        keep their value, but their terms still count in the balance. With
        fewer free weights a balance may not exist (the weighted graph term
        saturates as lg grows): the best round is returned either way.
    random_state : int
    return_report : bool
        Also return the report: one dict per round with the weights, every
        term weighted and unweighted, and ``spread`` (largest ratio).
    **params
        Other :class:`GraphAutoEncoder` parameters (e.g. ``rtol``).

    Returns
    -------
    weights : dict
        Every weight (``ld``, ``ls``, ``lg``, ``le``, ``lt``): those of the
        round with the smallest spread, ready for
        ``GraphAutoEncoder(**weights)``.
    report : list of dict
        Only with ``return_report=True``.

    Examples
    --------
    >>> import numpy as np
    >>> X = np.random.default_rng(0).random((80, 16)).astype(np.float32)
    >>> w, report = balance_weights(X, n_atoms=8, ls=1e-3, max_outer=2,
    ...                             return_report=True)
    >>> sorted(w), bool(report[0]["spread"] > 10), bool(min(
    ...     r["spread"] for r in report) < 10)
    (['ld', 'le', 'lg', 'ls', 'lt'], True, True)
    """
    if graph is None and lg:
        raise InputError("lg > 0 needs graph= the graph over the samples of X")
    weights = dict(
        ld=float(ld),
        ls=float(ls or 0),
        lg=float(1.0 if lg is None and graph is not None else (lg or 0)),
        le=float(le or 0),
    )
    # The other weighted terms of the registry (lt, ...) come through params.
    for name in _WEIGHTS:
        weights.setdefault(name, float(params.pop(name, 0) or 0))
    if weights["ld"] <= 0:
        raise InputError("ld must be positive: it sets the scale of the objective")
    tune = set(_FREE.values() if tune is None else tune)
    if not tune <= set(_FREE.values()):
        raise InputError(
            f"tune takes {', '.join(map(repr, _FREE.values()))}, got {sorted(tune)}"
        )
    free = {t: name for t, name in _FREE.items() if weights[name] > 0 and name in tune}
    report = []
    slope = dict.fromkeys(free, 1.0)  # d log(term / mean) / d log(weight)
    best = None  # weights, gaps and spread of the best round so far
    damping = step
    for _ in range(max(rounds, 1)):
        model = GraphAutoEncoder(
            n_atoms,
            graph=graph,
            max_outer=max_outer,
            random_state=random_state,
            **weights,
            **params,
        ).fit(X)
        entry = model.history_[-1]
        row = dict(weights)
        for term in ("data", *_FREE):
            row[term] = float(entry[term])
            row[f"{term}_unweighted"] = float(entry[f"{term}_unweighted"])
        row["spread"] = term_spread(row)
        report.append(row)
        gap = _gaps(row, free)
        if best is not None:
            # Secant estimate of each slope against the best round: a
            # weighted term does not always grow with its weight (a large lg
            # flattens the codes and the graph term falls), so the direction
            # is measured, not assumed.
            for term, name in free.items():
                dw = math.log(weights[name]) - math.log(best[0][name])
                if abs(dw) > 1e-6:
                    s = (gap[term] - best[1][term]) / dw
                    slope[term] = math.copysign(max(abs(s), 0.2), s)
        if best is None or row["spread"] < best[2]:
            best = (dict(weights), gap, row["spread"])
        else:  # worse: the terms are coupled; step back, shorter
            damping /= 2
        if best[2] <= tol:
            break
        weights = dict(best[0])
        for term, name in free.items():
            move = -damping * best[1][term] / slope[term]
            weights[name] *= math.exp(min(max(move, -math.log(100)), math.log(100)))
    best = min(report, key=lambda r: r["spread"])
    out = {name: best[name] for name in _WEIGHTS}
    return (out, report) if return_report else out
