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

import numpy as np
from pyunlocbox import acceleration
from pyunlocbox import solvers as _solvers

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
    raise ValueError(f"unknown solver {name!r}: choose one of {', '.join(SOLVERS)}")


def solve(functions, x0, solver, rtol=1e-4, maxit=100, eval_every=1):
    r"""Minimise a sum of functions in place, checking the objective sparingly.

    Like :func:`pyunlocbox.solvers.solve` with ``inplace=True`` and
    ``verbosity='NONE'``, but the objective (a full pass over the data) is
    evaluated only every `eval_every` iterations and at the end, and the
    momentum of a :class:`fista` acceleration is restarted when the objective
    has increased since the last evaluation.

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
        Maximum number of iterations.
    eval_every : int
        Iterations between two evaluations of the objective.

    Returns
    -------
    dict
        ``sol`` (x0 itself), ``crit`` ('RTOL' or 'MAXIT'), ``niter``,
        ``time`` (seconds), ``objective`` (the values at each evaluation,
        starting with x0) and ``restarts``.

    Raises
    ------
    FloatingPointError
        If the objective becomes NaN or infinite (a step size too large for
        the problem, or non-finite data).
    """
    if maxit < 1 or eval_every < 1:
        raise ValueError("maxit and eval_every must be at least 1")
    tstart = time.perf_counter()
    if not hasattr(solver, "verbosity"):
        solver.verbosity = "NONE"
    solver.pre(functions, x0)
    try:
        current = float(np.sum(solver.objective(x0)))
        objective, niter, crit, restarts = [current], 0, None, 0
        while crit is None:
            for _ in range(min(eval_every, maxit - niter)):
                niter += 1
                solver.algo(objective, niter)
            last, current = current, float(np.sum(solver.objective(solver.sol)))
            objective.append(current)
            if not np.isfinite(current):
                raise FloatingPointError(
                    f"the objective became {current} after {niter} iterations of "
                    f"{type(solver).__name__}: the step is too large or the "
                    "data holds NaN/inf"
                )
            if current > last and hasattr(solver.accel, "restart"):
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
        time=time.perf_counter() - tstart,
    )
