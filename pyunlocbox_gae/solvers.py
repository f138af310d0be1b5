r"""
Fast inner solvers for the alternating minimisation, built on PyUNLocBoX.

:class:`forward_backward` and :class:`fista` are subclasses of the PyUNLocBoX
solver and acceleration of the same names: they accept any PyUNLocBoX
functions, and use the fast path of this package's terms (see
:mod:`pyunlocbox_gae.functions`) when it exists, so that an iteration
allocates no array of the variable's size. :func:`solve` drives any
PyUNLocBoX solver on a variable updated in place, evaluating the objective
only every few iterations.

.. autosummary::
    forward_backward
    fista
    solve
    make_solver
"""

import time
import warnings

import numpy as np
from pyunlocbox import acceleration
from pyunlocbox import solvers as _solvers
from sklearn.exceptions import ConvergenceWarning

from pyunlocbox_gae.errors import ConvergenceError, InputError

SOLVERS = ("fista", "ista", "primal_dual")


class fista(acceleration.fista):
    r"""FISTA momentum computed in place (no array allocated per iteration).

    Same sequence as :class:`pyunlocbox.acceleration.fista`:
    :math:`y = x_k + \frac{t_k - 1}{t_{k+1}} (x_k - x_{k-1})`, with
    :math:`t_{k+1} = (1 + \sqrt{1 + 4t_k^2})/2`, plus an adaptive restart
    (:meth:`restart`) that :func:`solve` calls when the objective increases.

    Examples
    --------
    >>> import numpy as np
    >>> from pyunlocbox import functions
    >>> f = functions.norm_l2(y=np.array([4.0, 5.0]))
    >>> ret = solve([f, functions.dummy()], np.zeros(2),
    ...             forward_backward(step=0.5, accel=fista()), rtol=1e-12)
    >>> np.round(ret["sol"], 4)
    array([4., 5.])
    """

    def _update_sol(self, solver, objective, niter):
        if niter == 1:
            self.t = 1.0
        t = (1.0 + np.sqrt(1.0 + 4.0 * self.t**2)) / 2.0
        beta = (self.t - 1.0) / t
        self.t = t
        x, prev = solver.sol, self.sol
        if beta == 0:
            prev[...] = x
            return x
        # prev <- beta (x - prev); x <- x + prev = y; prev <- y - prev = x.
        np.subtract(x, prev, out=prev)
        prev *= beta
        x += prev
        np.subtract(x, prev, out=prev)
        return x

    def restart(self):
        """Forget the momentum: the next step is a plain proximal step."""
        self.t = 1.0


class forward_backward(_solvers.forward_backward):
    r"""Forward-backward splitting (FISTA by default, ISTA with ``accel=None``).

    A :class:`pyunlocbox.solvers.forward_backward` whose iteration writes the
    gradient step into one preallocated buffer and the proximal point back
    into the solution. It uses ``forward_into`` / ``prox_into`` /
    ``prepare`` / ``release`` of the functions when they exist, and their
    plain ``grad`` / ``prox`` otherwise.

    Parameters
    ----------
    step : float
        Step size, at most 1/Lipschitz of the smooth function's gradient.
    accel : pyunlocbox.acceleration.accel or None
        :class:`fista` (default), or None for ISTA.

    Examples
    --------
    >>> import numpy as np
    >>> from pyunlocbox_gae import functions
    >>> X = np.array([[1.0, 3.0]], dtype=np.float32)
    >>> f = functions.smooth_sum([functions.fidelity_z(X, np.eye(1, dtype=np.float32))])
    >>> g = functions.sparsity(lambda_=0.5)
    >>> Z = np.zeros((1, 2), dtype=np.float32)
    >>> ret = solve([g, f], Z, forward_backward(step=1 / f.lipschitz()))
    >>> Z  # soft thresholding of X at 0.5, computed in place
    array([[0.5, 2.5]], dtype=float32)
    """

    def __init__(self, step=1.0, accel="fista"):
        if accel == "fista":
            accel = fista()
        elif accel is None:
            accel = acceleration.dummy()
        _solvers.solver.__init__(self, step=step, accel=accel)
        self.verbosity = "NONE"  # pyunlocbox.solvers.solve sets it; ours does not

    def _pre(self, functions, x0):
        super()._pre(functions, x0)
        for f in functions:
            getattr(f, "prepare", lambda: None)()
        self._functions = functions
        self._buf = np.empty_like(x0)

    def algo(self, objective, niter):
        y = self.accel.update_sol(self, objective, niter)
        if y is not self.sol:
            self.sol[...] = y
        self.step = self.accel.update_step(self, objective, niter)
        self._algo()

    def _algo(self):
        f, g, buf = self.smooth_funs[0], self.non_smooth_funs[0], self._buf
        if hasattr(f, "forward_into"):
            f.forward_into(self.sol, self.step, buf)
        else:
            np.multiply(f.grad(self.sol), -self.step, out=buf)
            buf += self.sol
        if hasattr(g, "prox_into"):
            g.prox_into(buf, self.step, self.sol)
        else:
            self.sol[...] = g.prox(buf, self.step)

    def _post(self):
        for f in self._functions:
            getattr(f, "release", lambda: None)()
        del self._buf, self._functions


def make_solver(name, step):
    """The solver called `name` ('fista', 'ista' or 'primal_dual').

    Examples
    --------
    >>> type(make_solver("ista", 0.1).accel).__name__
    'dummy'
    """
    if name == "fista":
        return forward_backward(step=step)
    if name == "ista":
        return forward_backward(step=step, accel=None)
    if name == "primal_dual":
        return _solvers.mlfbf(step=step)
    raise InputError(f"unknown solver {name!r}: choose one of {', '.join(SOLVERS)}")


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


def solve(
    functions,
    x0,
    solver,
    rtol=1e-4,
    maxit=100,
    eval_every=1,
    max_halvings=5,
    rise_tol=1e-3,
    name="the problem",
):
    r"""Minimise a sum of functions in place, checking the objective sparingly.

    Like :func:`pyunlocbox.solvers.solve` with ``inplace=True`` and
    ``verbosity='NONE'``, but the objective (a full pass over the data) is
    evaluated only every `eval_every` iterations and at the end, and the
    momentum of a :class:`fista` acceleration is restarted when the objective
    has increased since the last evaluation.

    Numerical trouble is caught at each evaluation: an objective that is
    NaN or infinite, or one that rose by more than `rise_tol` (relative)
    where the solver guarantees a decrease (forward-backward: ISTA at every
    step, FISTA once its momentum has been restarted). The iterate then goes
    back to the last good one (kept at every evaluation), the step is halved,
    the solver restarts and a :class:`sklearn.exceptions.ConvergenceWarning`
    names the term at fault; after `max_halvings` halvings a
    :class:`FloatingPointError` is raised. The returned solution is never a
    non-finite or diverged iterate.

    Parameters
    ----------
    functions : list of pyunlocbox.functions.func
    x0 : ndarray
        Starting point; it is updated in place and holds the solution.
    solver : pyunlocbox.solvers.solver
    rtol : float or None
        Stop when the relative change of the objective between two
        evaluations is below `rtol`.
    maxit : int
        Maximum number of iterations (retries included).
    eval_every : int
        Iterations between two evaluations of the objective.
    max_halvings : int
        How many times the step may be halved before giving up. With 0,
        trouble raises at once, no copy of x0 is kept (one array of x0's size
        less), and x0 is left as the solver left it.
    rise_tol : float
        Relative rise of the objective taken as divergence.
    name : str
        What is being solved, for messages (e.g. ``"codes step"``).

    Returns
    -------
    dict
        ``sol`` (x0 itself), ``crit`` ('RTOL' or 'MAXIT'), ``niter``,
        ``time`` (seconds), ``objective`` (the values at each evaluation,
        starting with x0), ``restarts`` and ``halvings``.

    Raises
    ------
    FloatingPointError
        If the objective is NaN or infinite at the start (non-finite data),
        or the trouble persists after `max_halvings` halvings of the step.
        The message names the term that became non-finite or rose.

    Examples
    --------
    A step ten times too large (1/Lipschitz is 1) is halved until ISTA
    converges, with a warning each time:

    >>> import warnings
    >>> from pyunlocbox_gae import functions
    >>> X = np.array([[1.0, 3.0]])
    >>> f = functions.smooth_sum([functions.fidelity_z(X, np.eye(1))])
    >>> Z = np.zeros((1, 2))
    >>> with warnings.catch_warnings(record=True):
    ...     ret = solve([functions.sparsity(0.5), f], Z,
    ...                 forward_backward(step=10.0, accel=None), rtol=1e-12)
    >>> ret["halvings"], Z
    (3, array([[0.5, 2.5]]))
    """
    if maxit < 1 or eval_every < 1:
        raise InputError("maxit and eval_every must be at least 1")
    tstart = time.perf_counter()
    if not hasattr(solver, "verbosity"):
        solver.verbosity = "NONE"
    # A descent is guaranteed only by forward-backward with a valid step;
    # primal-dual iterates may raise the primal objective legitimately.
    monotone = isinstance(solver, _solvers.forward_backward)
    can_restart = hasattr(solver.accel, "restart")
    # Overflow and NaN are detected below and reported with the term at
    # fault; numpy's warnings on the way would only repeat it less clearly.
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        solver.pre(functions, x0)
        try:
            current = float(np.sum(solver.objective(x0)))
            if not np.isfinite(current):
                raise ConvergenceError(
                    f"{name}: the objective is {current} at the starting point "
                    f"({_blame(solver, x0, x0)}): the data or the starting "
                    "point holds NaN/inf or values too large for the dtype"
                )
            # The last good iterate: one more array of x0's size.
            good = np.array(x0, copy=True) if max_halvings else None
            good_value = current
            objective, niter, crit = [current], 0, None
            restarts = halvings = 0
            warned = False  # the last evaluation rose
            while crit is None:
                for _ in range(min(eval_every, maxit - niter)):
                    niter += 1
                    solver.algo(objective, niter)
                last, current = current, float(np.sum(solver.objective(solver.sol)))
                rose = current > last + rise_tol * (abs(last) or 1.0)
                # A rise is forgiven once to FISTA, whose momentum may overshoot
                # (it is restarted below, and the next steps descend from the
                # risen point); never to ISTA, which must descend at each step.
                trouble = not np.isfinite(current) or (
                    monotone and rose and (warned or not can_restart)
                )
                if trouble:
                    what = (
                        f"became {current}"
                        if not np.isfinite(current)
                        else f"rose to {current:.6g} (last good {good_value:.6g})"
                    )
                    message = (
                        f"{name}: the objective {what} after {niter} iterations "
                        f"of {type(solver).__name__} with step {solver.step:.3g}; "
                        f"{_blame(solver, x0, good)}"
                    )
                    if halvings >= max_halvings:
                        if good is not None:  # never leave a diverged iterate
                            x0[...] = good
                        raise ConvergenceError(
                            f"{message}. The step was halved {halvings} times "
                            "without curing it: the step is too large for this "
                            "term (check its Lipschitz constant) or the data "
                            "holds huge values (rescale it, or lower the weight)"
                        )
                    _restart_from(solver, functions, x0, good)
                    halvings += 1
                    warnings.warn(
                        f"{message}; restarted from the last good iterate with "
                        f"the step halved to {solver.step:.3g} "
                        f"(halving {halvings} of at most {max_halvings})",
                        ConvergenceWarning,
                        stacklevel=2,
                    )
                    current, warned = good_value, False
                    if niter >= maxit:
                        crit = "MAXIT"
                    continue
                objective.append(current)
                warned = rose
                # The last good iterate: the best so far, within the tolerance.
                if current <= good_value + rise_tol * (abs(good_value) or 1.0):
                    if good is not None:
                        np.copyto(good, solver.sol)
                    good_value = current
                if current > last and can_restart:
                    solver.accel.restart()
                    restarts += 1
                scale = abs(current) if current else (abs(last) or 1.0)
                if rtol is not None and abs(current - last) / scale < rtol:
                    crit = "RTOL"
                elif niter >= maxit:
                    crit = "MAXIT"
        finally:
            solver.post()
    return dict(
        sol=x0,
        crit=crit,
        niter=niter,
        objective=objective,
        restarts=restarts,
        halvings=halvings,
        time=time.perf_counter() - tstart,
    )
