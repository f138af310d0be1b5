"""
The divergence guard of :func:`pyunlocbox_gae.solvers.solve`.

When an objective becomes non-finite or rises, these functions name the term
at fault, so that the message says what to change.
"""

import warnings

import numpy as np
from pyunlocbox import solvers as _solvers
from sklearn.exceptions import ConvergenceWarning

from pyunlocbox_gae.errors import ConvergenceError


def _term_name(f):
    """What to call a term in messages: its ``term_name``, else its class."""
    return getattr(f, "term_name", None) or type(f).__name__


def _leaves(solver, x):
    """(term, argument) of every term of a prepared solver's objective.

    Sums of smooth terms are split into their terms, so that a message can
    name the one that caused trouble.
    """
    pairs = [(f, x) for f in solver.smooth_funs + solver.non_smooth_funs]
    if isinstance(solver, _solvers.primal_dual) and len(solver.non_smooth_funs) > 1:
        # The second non-smooth function is evaluated at L x.
        pairs[len(solver.smooth_funs) + 1] = (solver.non_smooth_funs[1], solver.L(x))
    return [(term, arg) for f, arg in pairs for term in getattr(f, "terms", [f])]


def _finite(call):
    """Whether `call()` gives only finite numbers (a failure counts as not)."""
    try:
        return bool(np.all(np.isfinite(call())))
    except Exception:  # noqa: BLE001 - a diagnosis must not fail
        return False


def _blame(solver, bad, good):
    """Sentence naming the term that caused a non-finite or risen objective.

    In order: a term that is not finite at the last good iterate; one whose
    gradient or proximal point there is not finite (the source of a NaN that
    then spreads to every term); the first term that is not finite at the
    bad iterate; the one that rose most. Runs only when something went wrong.
    """
    if good is None:  # no copy kept: only the bad iterate can be examined
        for term, arg in _leaves(solver, bad):
            if not _finite(lambda t=term, a=arg: t.eval(a)):
                return f"term '{_term_name(term)}' is not finite"
        return "no copy of a good iterate to compare with (max_halvings=0)"
    good_terms = _leaves(solver, good)
    for term, arg in good_terms:
        if not _finite(lambda t=term, a=arg: t.eval(a)):
            return f"term '{_term_name(term)}' is not finite at the last good iterate"
    for term, arg in good_terms:
        caps = term.cap(arg)
        if "GRAD" in caps and not _finite(lambda t=term, a=arg: t.grad(a)):
            return f"term '{_term_name(term)}' has a non-finite gradient"
        if "PROX" in caps and "GRAD" not in caps:
            if not _finite(lambda t=term, a=arg: t.prox(a, solver.step)):
                return f"term '{_term_name(term)}' has a non-finite proximal point"
    rises = []
    for (term, arg), (_, before) in zip(_leaves(solver, bad), good_terms, strict=True):
        try:
            value, start = float(term.eval(arg)), float(term.eval(before))
        except Exception:  # noqa: BLE001
            continue
        if not np.isfinite(value):
            return f"term '{_term_name(term)}' became {value}"
        rises.append((value - start, _term_name(term), start, value))
    if not rises:
        return "no single term to blame"
    _, name, start, value = max(rises)
    return f"term '{name}' rose most, from {start:.6g} to {value:.6g}"


def _restart_from(solver, functions, x0, good):
    """Put the last good iterate back and start the solver afresh from it."""
    solver.post()
    x0[...] = good
    solver.step = solver.step / 2
    solver.pre(functions, x0)  # fresh buffers, momentum and dual variables


class _Run:
    """The state of one :func:`solve`: iterates, evaluations, the guard."""

    def __init__(self, solver, functions, x0, name, max_halvings, rise_tol):
        self.solver, self.functions, self.x0, self.name = solver, functions, x0, name
        self.max_halvings, self.rise_tol = max_halvings, rise_tol
        # A descent is guaranteed only by forward-backward with a valid step;
        # primal-dual iterates may raise the primal objective legitimately.
        self.monotone = isinstance(solver, _solvers.forward_backward)
        self.can_restart = hasattr(solver.accel, "restart")
        current = float(np.sum(solver.objective(x0)))
        if not np.isfinite(current):
            raise ConvergenceError(
                f"{name}: the objective is {current} at the starting point "
                f"({_blame(solver, x0, x0)}): the data or the starting "
                "point holds NaN/inf or values too large for the dtype"
            )
        # The last good iterate: one more array of x0's size.
        self.good = np.array(x0, copy=True) if max_halvings else None
        self.good_value = self.current = current
        self.objective, self.niter, self.crit = [current], 0, None
        self.restarts = self.halvings = 0
        self.warned = False  # the last evaluation rose

    def iterate(self, rtol, maxit, eval_every):
        solver, tol = self.solver, self.rise_tol
        while self.crit is None:
            for _ in range(min(eval_every, maxit - self.niter)):
                self.niter += 1
                solver.algo(self.objective, self.niter)
            last = self.current
            current = self.current = float(np.sum(solver.objective(solver.sol)))
            rose = current > last + tol * (abs(last) or 1.0)
            # A rise is forgiven once to FISTA, whose momentum may overshoot
            # (it is restarted below, and the next steps descend from the
            # risen point); never to ISTA, which must descend at each step.
            if not np.isfinite(current) or (
                self.monotone and rose and (self.warned or not self.can_restart)
            ):
                self._halve_or_raise()
                if self.niter >= maxit:
                    self.crit = "MAXIT"
                continue
            self.objective.append(current)
            self.warned = rose
            # The last good iterate: the best so far, within the tolerance.
            if current <= self.good_value + tol * (abs(self.good_value) or 1.0):
                if self.good is not None:
                    np.copyto(self.good, solver.sol)
                self.good_value = current
            if current > last and self.can_restart:
                solver.accel.restart()
                self.restarts += 1
            scale = abs(current) if current else (abs(last) or 1.0)
            if rtol is not None and abs(current - last) / scale < rtol:
                self.crit = "RTOL"
            elif self.niter >= maxit:
                self.crit = "MAXIT"

    def _halve_or_raise(self):
        """Roll back to the last good iterate with half the step, or give up."""
        solver, current = self.solver, self.current
        what = (
            f"became {current}"
            if not np.isfinite(current)
            else f"rose to {current:.6g} (last good {self.good_value:.6g})"
        )
        message = (
            f"{self.name}: the objective {what} after {self.niter} iterations "
            f"of {type(solver).__name__} with step {solver.step:.3g}; "
            f"{_blame(solver, self.x0, self.good)}"
        )
        if self.halvings >= self.max_halvings:
            if self.good is not None:  # never leave a diverged iterate
                self.x0[...] = self.good
            # Nor the end point a solver would write when it stops (mlfbf).
            solver.__dict__.pop("_p1", None)
            raise ConvergenceError(
                f"{message}. The step was halved {self.halvings} times "
                "without curing it: the step is too large for this "
                "term (check its Lipschitz constant) or the data "
                "holds huge values (rescale it, or lower the weight)"
            )
        _restart_from(solver, self.functions, self.x0, self.good)
        self.halvings += 1
        warnings.warn(
            f"{message}; restarted from the last good iterate with "
            f"the step halved to {solver.step:.3g} "
            f"(halving {self.halvings} of at most {self.max_halvings})",
            ConvergenceWarning,
            stacklevel=4,
        )
        self.current, self.warned = self.good_value, False
