r"""
The objective of the structured auto-encoder, every term declared once.

.. autosummary::
    Term
    TERMS
    Objective
    term_weights
    term_values

:data:`TERMS` lists the terms of

.. math::
    \frac{l_d}{2} \|X - DZ\|_F^2 + l_s \|Z\|_1
    + \frac{l_g}{2} \operatorname{tr}(Z L Z^\top)
    + \frac{l_e}{2} \|Z - EX\|_F^2 + l_t \|Z \nabla^\top\|_1
    + \iota_{Z \ge 0}
    \quad \text{s.t.} \quad \|d_j\|_2 \le 1,

each with its name (the key of ``GraphAutoEncoder.history_``), the
estimator parameter that weights or switches it, its default, the blocks it
acts on and how it is built. Everything that needs the list of terms reads
it here: the estimator's parameters and their validation, ``history_``,
checkpoint fingerprints, the fit on Dask, sweeps, weight balancing and
plots. A new term is one class in :mod:`pyunlocbox_gae.functions` and one
entry below.
"""

import dataclasses
from collections.abc import Callable
from numbers import Real

import numpy as np

from pyunlocbox_gae import _linalg, functions, solvers
from pyunlocbox_gae.errors import InputError


@dataclasses.dataclass(frozen=True)
class Term:
    """One term of the objective.

    Attributes
    ----------
    name : str
        Key of the term in ``history_`` (``name`` weighted, ``name +
        "_unweighted"`` with weight 1).
    parameter : str
        The estimator's parameter: a weight (0 or None: no term) or, for a
        switch, a bool.
    default : float or bool
        Its default value.
    kind : {'smooth', 'proximal', 'operator'}
        How the codes step treats it: gradient, proximal map, or a
        non-smooth function of a linear image of the codes (primal-dual).
    codes : callable
        ``codes(objective, weight)``: the term as a function of Z.
    description : str
        One line for the estimator's docstring (reStructuredText: formulas
        in double backquotes) and the configuration's help.
    needs_graph : bool
        Whether the term needs a graph over the samples.
    switch : bool
        Whether the parameter is a bool rather than a weight.
    dictionary, encoder : callable or None
        ``f(objective, weight)``: the term as a function of D or E, for the
        terms that depend on them.
    """

    name: str
    parameter: str
    default: object
    kind: str
    codes: Callable
    description: str
    needs_graph: bool = False
    switch: bool = False
    dictionary: Callable | None = None
    encoder: Callable | None = None

    def weight(self, value):
        """The weight that a parameter value means (a switch: 1 or 0)."""
        if self.switch:
            return 1.0 if value else 0.0
        return float(value or 0.0)


def _graph_term(cls):
    return lambda o, w: cls(o.graph, w, lmax=o.lmax)


#: The terms of the objective, in the order of ``history_``.
TERMS = (
    Term(
        "data",
        "ld",
        10.0,
        "smooth",
        lambda o, w: functions.fidelity_z(o.X, o.D, w),
        "weight of the data fidelity ``ld/2 ||X - DZ||²``",
        dictionary=lambda o, w: functions.fidelity_d(o.X, o.Z, w),
    ),
    Term(
        "sparsity",
        "ls",
        1.0,
        "proximal",
        lambda o, w: functions.sparsity(w),
        "weight of the sparsity ``ls ||Z||_1``",
    ),
    Term(
        "graph",
        "lg",
        0.0,
        "smooth",
        _graph_term(functions.dirichlet),
        "weight of the graph (Dirichlet) term ``lg/2 tr(Z L Zᵀ)``",
        needs_graph=True,
    ),
    Term(
        "encoder",
        "le",
        0.0,
        "smooth",
        lambda o, w: functions.encoder_z(o.X, o.E, w),
        "weight of the encoder term ``le/2 ||Z - EX||²``",
        encoder=lambda o, w: functions.encoder_e(o.X, o.Z, w),
    ),
    Term(
        "graph_tv",
        "lt",
        0.0,
        "operator",
        _graph_term(functions.graph_tv),
        "weight of the graph total variation ``lt ||Z ∇ᵀ||_1`` (codes piecewise "
        "constant on the graph)",
        needs_graph=True,
    ),
    Term(
        "positive",
        "positive_code",
        False,
        "proximal",
        lambda o, w: functions.nonnegative(),
        "keep the codes non-negative",
        switch=True,
    ),
)

#: Term names, in the order of :data:`TERMS`.
TERM_NAMES = tuple(t.name for t in TERMS)

#: Terms by the name of their estimator parameter.
PARAMETERS = {t.parameter: t for t in TERMS}

#: Terms by name.
BY_NAME = {t.name: t for t in TERMS}


def parameters_doc(indent="    "):
    """The numpydoc entries of the term parameters, for a class docstring."""
    lines = []
    for t in TERMS:
        kind = "bool" if t.switch else "float or None"
        lines.append(f"{indent}{t.parameter} : {kind}, default={t.default!r}")
        lines.append(f"{indent}    {t.description[0].upper()}{t.description[1:]}.")
    return "\n".join(lines)


def term_weights(params):
    """Weight of every term, by name, from estimator parameters.

    Examples
    --------
    >>> w = term_weights(dict(ld=10, ls=None, positive_code=True))
    >>> w["data"], w["sparsity"], w["graph"], w["positive"]
    (10.0, 0.0, 0.0, 1.0)
    """
    return {t.name: t.weight(params.get(t.parameter, t.default)) for t in TERMS}


def parameter_constraints():
    """scikit-learn constraints of the term parameters (finite weights ≥ 0)."""
    from sklearn.utils._param_validation import Interval

    weight = [Interval(Real, 0, np.inf, closed="left"), None]
    return {t.parameter: ["boolean"] if t.switch else weight for t in TERMS}


def term_values(unweighted, weights):
    """A history entry's term values from the unweighted ones.

    Each term gets its weighted value (0 when off or not available) and its
    unweighted value (NaN when the term cannot be evaluated, e.g. the graph
    term without a graph); ``objective`` is the sum of the weighted values.

    Examples
    --------
    >>> v = term_values(dict(data=2.0, sparsity=3.0), dict(data=10.0, sparsity=1.0))
    >>> v["data"], v["sparsity"], v["graph"], v["objective"]
    (20.0, 3.0, 0.0, 23.0)
    """
    out = {}
    for name in TERM_NAMES:
        value = unweighted.get(name, np.nan)
        weight = weights.get(name, 0.0)
        out[name] = weight * value if weight and np.isfinite(value) else 0.0
        out[f"{name}_unweighted"] = value
    out["objective"] = sum(out[name] for name in TERM_NAMES)
    return out


class Objective:
    """The terms of one problem, built once over arrays updated in place.

    Parameters
    ----------
    X, Z, D, E : ndarray
        Data (n, N), codes (m, N), dictionary (n, m) and encoder (m, n) or
        None, in the maths orientation, held by reference.
    weights : dict
        Weight of each term by name (:func:`term_weights`).
    graph : pygsp.graphs.Graph or sparse matrix, optional
        Graph over the N samples, for the terms that need one.
    lmax : float, optional
        Upper bound of the largest eigenvalue of the graph's Laplacian.
    project_encoder : bool
        Keep the columns of E in the unit ball.
    """

    def __init__(
        self, X, Z, D, E, weights, graph=None, lmax=None, project_encoder=True
    ):
        self.X, self.Z, self.D, self.E = X, Z, D, E
        self.graph, self.lmax = graph, lmax
        self.weights = {t.name: float(weights.get(t.name, 0.0)) for t in TERMS}
        missing = [
            t.parameter
            for t in TERMS
            if t.needs_graph and self.weights[t.name] and graph is None
        ]
        if missing:
            raise InputError(f"{', '.join(missing)} > 0 needs a graph over the samples")
        self.codes_terms = {
            t.name: t.codes(self, self.weights[t.name])
            for t in TERMS
            if self._active(t)
        }
        self.problem = solvers.CodesProblem(
            *(
                [f for n, f in self.codes_terms.items() if _kind(n) == kind]
                for kind in ("smooth", "proximal", "operator")
            )
        )
        self.dictionary_term = self._block_term("dictionary")
        self.dictionary_ball = functions.proj_columns_b2()
        self.encoder_term = self._block_term("encoder") if E is not None else None
        self.encoder_ball = (
            functions.proj_columns_b2() if project_encoder else _unconstrained()
        )

    def _active(self, term):
        if not self.weights[term.name]:
            return False
        return term.name != "encoder" or self.E is not None

    def _block_term(self, block):
        for t in TERMS:
            build = getattr(t, block)
            if build is not None:
                return build(self, self.weights[t.name])
        return None

    def unweighted(self):
        """Value of every term with weight 1 at the current point.

        Terms that cannot be evaluated (the graph terms without a graph, the
        encoder term without an encoder) are left out, and appear as NaN in
        :meth:`values`; so are the operator terms that are off (the graph
        total variation needs the graph's edge list, built only for it).
        """
        if not hasattr(self, "_unit"):
            self._unit = {
                t.name: t.codes(self, 1.0)
                for t in TERMS
                if not (t.needs_graph and self.graph is None)
                and not (t.name == "encoder" and self.E is None)
                and not (t.kind == "operator" and not self.weights[t.name])
            }
        return {name: float(f.eval(self.Z)) for name, f in self._unit.items()}

    def values(self):
        """Weighted and unweighted values of every term, and the objective."""
        return term_values(self.unweighted(), self.weights)

    def nnz(self):
        """Fraction of non-zero codes."""
        return _linalg.count_nonzero(self.Z) / max(self.Z.size, 1)


def needs_graph(weights):
    """Whether a term that needs a graph is on.

    `weights` are the terms' weights by name, or estimator parameters (a
    configuration) by parameter name.

    Examples
    --------
    >>> needs_graph(dict(lg=0.0, lt=0.1)), needs_graph(dict(graph=0.0))
    (True, False)
    """
    if not any(t.name in weights for t in TERMS):
        if weights.get("lg") == "auto":  # chosen by the fit, never 0
            weights = dict(weights, lg=1.0)
        weights = term_weights(weights)
    return any(weights.get(t.name) for t in TERMS if t.needs_graph)


def graph_for(graph, X_api, lap_type, graph_params):
    """The graph over the samples of X as a PyGSP graph with a float L."""
    from pyunlocbox_gae import graphs  # on demand: only graph fits need PyGSP

    N = X_api.shape[0]
    if graph is None:
        params = dict(graph_params or {})
        params.setdefault("lap_type", lap_type)
        params.setdefault("dtype", X_api.dtype)
        return graphs.knn_graph(X_api, **params)
    return graphs.as_graph(graph, n_samples=N, lap_type=lap_type, dtype=X_api.dtype)


def make_init(leading, keyword):
    """An estimator's ``__init__``: `leading`, the terms' parameters, `keyword`.

    It stores its arguments verbatim (as dataclasses do): the terms'
    parameters, with their defaults, come after `leading`, keyword-only.

    scikit-learn reads an estimator's parameters from its ``__init__``
    signature; generating it from the registry of terms means a new term
    needs no edit here. Defaults are passed by reference, never as text.
    """
    keyword = {**{t.parameter: t.default for t in TERMS}, **keyword}
    names = [*leading, *keyword]
    defaults = {
        f"_default_{name}": value for name, value in {**leading, **keyword}.items()
    }
    signature = ", ".join(f"{name}=_default_{name}" for name in leading)
    signature += ", *, " + ", ".join(f"{name}=_default_{name}" for name in keyword)
    body = "".join(f"    self.{name} = {name}\n" for name in names)
    namespace = dict(defaults)
    exec(f"def __init__(self, {signature}):\n{body}", namespace)  # noqa: S102
    return namespace["__init__"]


def _kind(name):
    return next(t.kind for t in TERMS if t.name == name)


def _unconstrained():
    from pyunlocbox import functions as pyu_functions

    return pyu_functions.dummy()
