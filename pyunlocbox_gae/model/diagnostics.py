r"""Checks of a finished fit: codes that mean nothing are reported, not returned.

A fit can end without an error yet with useless codes: every code zero
(the sparsity weight outweighs the data), no progress from the starting
point (a graph or encoder weight so large that the codes cannot move), or
values at the edge of overflow. :func:`check_fit` looks at the fitted
arrays and the history and raises
:class:`~pyunlocbox_gae.errors.ConvergenceError` for non-finite results, or
warns with :class:`DegenerateFitWarning`, naming the term and the remedy.

.. autosummary::
    check_fit
    check_model_arrays
    DegenerateFitWarning
"""

import warnings

import numpy as np

from pyunlocbox_gae.errors import ConvergenceError, FileFormatError
from pyunlocbox_gae.model.objective import TERMS as _REGISTRY

#: The weighted terms, by name, and their weight parameters.
TERMS = {t.name: t.parameter for t in _REGISTRY if not t.switch}
# A fit that keeps this fraction of X's energy in its residual made no progress.
NO_PROGRESS = 0.99
# Within this factor of the largest float64, one more step can overflow.
OVERFLOW_MARGIN = 1e8


class DegenerateFitWarning(UserWarning):
    """A fit that ended without error but whose codes carry no information."""


def check_fit(history, X, Z, components, weights):
    """Raise or warn when a finished fit is degenerate.

    Parameters
    ----------
    history : list of dict
        One entry per outer iteration, with the weighted terms (``data``,
        ``sparsity``, ...) and ``objective``.
    X : ndarray (n_samples, n_features)
    Z : ndarray (n_samples, n_atoms)
        The codes.
    components : ndarray (n_atoms, n_features)
        The dictionary.
    weights : dict
        Weight of every term by name
        (:func:`pyunlocbox_gae.model.objective.term_weights`).

    Returns
    -------
    list of str
        The warnings issued (empty for a sound fit).

    Raises
    ------
    ConvergenceError
        If the codes, the dictionary or a term of the objective is not finite.

    Examples
    --------
    >>> X = np.ones((4, 2))
    >>> h = [dict(data=4.0, sparsity=0.0, graph=0.0, encoder=0.0, objective=4.0)]
    >>> with warnings.catch_warnings(record=True) as caught:
    ...     warnings.simplefilter("always")
    ...     w = dict(data=10, sparsity=50)
    ...     found = check_fit(h, X, np.zeros((4, 1)), np.ones((1, 2)), w)
    >>> print(found[0])
    every code is zero: the sparsity term (ls=50) outweighs the data term...
    """
    weights = {name: float(weights.get(name, 0.0)) for name in TERMS}
    ld, ls = weights["data"], weights["sparsity"]
    _check_finite(history, Z, components)
    found = []
    last = history[-1] if history else {}
    biggest = max((abs(float(last.get(t, 0.0))) for t in TERMS), default=0.0)
    if biggest > np.finfo(np.float64).max / OVERFLOW_MARGIN:
        found.append(
            f"the objective reached {biggest:.3g}, within a factor "
            f"{OVERFLOW_MARGIN:g} of overflow: the weights ({_listed(weights)}) "
            "are too large; divide them all by the same factor (only their "
            "ratios change the codes)"
        )
    if Z.size and not np.any(Z):
        reach = ld * float(np.abs(X @ components.T).max()) if X.size else 0.0
        if ls >= reach:
            found.append(
                f"every code is zero: the sparsity term (ls={ls:g}) outweighs the "
                f"data term (ld={ld:g}) for this data; lower ls below about "
                f"ld * max|X Dᵀ| = {reach:.3g}, or scale X up"
            )
        else:
            found.append(
                f"every code is zero although ls={ls:g} is below ld * max|X Dᵀ| = "
                f"{reach:.3g}: the weights are beyond what {X.dtype} can step "
                f"with (the step 1/ld={1 / ld if ld else np.inf:.3g} underflows); "
                "divide all weights by the same factor, or fit in float64"
            )
    elif X.size and ld > 0:
        kept = _residual_share(X, Z, components)
        if kept >= NO_PROGRESS:
            term, weight = _strongest(weights)
            found.append(
                f"the codes reconstruct {100 * (1 - kept):.2g}% of X (no progress "
                f"from the start): the {term} term ({weight}) outweighs the data "
                f"term (ld={ld:g}); lower {weight.split('=')[0]} or raise ld"
            )
    for text in found:
        warnings.warn(text, DegenerateFitWarning, stacklevel=3)
    return found


def _residual_share(X, Z, components, block=4096):
    """||X - Z D||² / ||X||², by row blocks: X is never copied whole."""
    energy = residual = 0.0
    for start in range(0, X.shape[0], block):
        rows = X[start : start + block]
        diff = rows - Z[start : start + block] @ components
        energy += float(np.vdot(rows, rows))
        residual += float(np.vdot(diff, diff))
    return residual / energy if energy else 0.0


def _listed(weights):
    return ", ".join(f"{TERMS[name]}={w:g}" for name, w in weights.items())


def _strongest(weights):
    """The regulariser whose weight is largest relative to ld, as text."""
    ratios = {name: w for name, w in weights.items() if name != "data"}
    term = max(ratios, key=ratios.get)
    return term, f"{TERMS[term]}={ratios[term]:g}"


def _check_finite(history, Z, components):
    for name, array in (("codes", Z), ("dictionary", components)):
        if not np.all(np.isfinite(array)):
            raise ConvergenceError(
                f"the fit ended with non-finite {name} (overflow): the data or "
                "the weights are too large for the dtype; rescale X (e.g. to "
                "[0, 1]) or use float64"
            )
    for entry in history[-1:]:
        for term, weight in TERMS.items():
            value = entry.get(term, 0.0)
            if not np.isfinite(value):
                raise ConvergenceError(
                    f"the {term} term of the objective is {value} (overflow): "
                    f"lower its weight {weight} or rescale X"
                )


def check_model_arrays(model, path):
    """The arrays of a model file: shapes that agree, finite float values."""
    D, E = model.components_, model.encoder_
    expected = (model.n_atoms, model.n_features_in_)
    bad = [
        f"components of shape {D.shape}" if D.shape != expected else "",
        f"encoder of shape {E.shape}" if E is not None and E.shape != expected else "",
        "non-float or non-finite values"
        if any(
            a.dtype.kind != "f" or not np.isfinite(a).all()
            for a in (D, E)
            if a is not None
        )
        else "",
        "a history that is not a list" if not isinstance(model.history_, list) else "",
    ]
    bad = [b for b in bad if b]
    if bad:
        raise FileFormatError(
            f"{path} is damaged: {', '.join(bad)} (expected {expected}); fit and "
            "save it again"
        )
