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
    mlfbf
    solve
    make_solver
    codes_solver
    choose_splitting
    CodesProblem
    Splitting
"""

import time

import numpy as np
from pyunlocbox import acceleration
from pyunlocbox import functions as pyu_functions
from pyunlocbox import solvers as _solvers

from pyunlocbox_gae import functions as _terms
from pyunlocbox_gae._guard import _Run, _term_name
from pyunlocbox_gae.errors import InputError


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
    >>> f = _terms.smooth_sum([functions.fidelity_z(X, np.eye(1, dtype=np.float32))])
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
        self._pass = self._row_pass(x0)
        self._y, self._t_y = None, 1.0

    def _row_pass(self, x0):
        """(plan, weight, low, high) when an iteration can be one fused pass.

        That is: a prepared fused plan that accepts x0's layout, a proximal
        map that is a soft threshold of weight `weight` then a clip to [low,
        high] (sparsity, non-negativity, their sum, or none), and FISTA's
        momentum (:class:`fista`) or none. None otherwise.
        """
        plan = getattr(self.smooth_funs[0], "_plan", None)
        if plan is None or not plan.accepts_rows(x0):
            return None
        if type(self.accel) not in (fista, acceleration.dummy):
            return None
        prox = _threshold_form(self.non_smooth_funs[0])
        return None if prox is None else (plan, *prox)

    def algo(self, objective, niter):
        if self._pass is not None:
            self._algo_rows(niter)
            return
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

    def _algo_rows(self, niter):
        """The iteration as one matrix product and one pass over the samples.

        Same sequence as :meth:`algo` with :class:`fista`: the point y that
        the next iteration starts from is formed in the pass that computes
        the new iterate, with the momentum that :class:`fista` would use
        then; a restart (t back to 1) is seen at the next iteration, which
        then starts from the iterate itself.
        """
        plan, weight, low, high = self._pass
        x, accel = self.sol, self.accel
        if self._y is None:  # y of the first iteration: x0
            self._y = accel.sol if type(accel) is fista else np.array(x, copy=True)
        beta = 0.0
        if type(accel) is fista:
            if niter == 1:
                accel.t = 1.0
            t = accel.t
            if t != self._t_y:  # restarted since y was formed: y = x
                np.copyto(self._y, x)
            t_new = (1.0 + np.sqrt(1.0 + 4.0 * t**2)) / 2.0
            accel.t = t_new
            beta = (t_new - 1.0) / ((1.0 + np.sqrt(1.0 + 4.0 * t_new**2)) / 2.0)
            self._t_y = t_new
        plan.fista_rows(
            self._y, x, self._buf, self.step, weight * self.step, low, high, beta
        )
        self._y, self._buf = self._buf, self._y

    def _post(self):
        for f in self._functions:
            getattr(f, "release", lambda: None)()
        del self._buf, self._functions, self._y, self._pass


def _threshold_form(g):
    """(weight, low, high) when g's proximal map at step T is a soft threshold
    at weight T followed by a clip to [low, high]; None for any other map."""
    inf = np.inf
    if type(g) is _terms.sparsity:
        return g.lambda_, -inf, inf
    if type(g) is _terms.nonnegative:
        return 0.0, *g.box
    if type(g) is pyu_functions.dummy:
        return 0.0, -inf, inf
    if type(g) is _terms.separable_sum:
        inner = (0.0, -inf, inf) if g.general is None else _threshold_form(g.general)
        if inner is None or inner[1:] != (-inf, inf):
            return None
        return inner[0], g.low, g.high
    return None


class mlfbf(_solvers.mlfbf):
    """PyUNLocBoX's MLFBF primal-dual solver, ending on a feasible point.

    MLFBF's iterate is an extrapolation, which can leave the set that the
    primal non-smooth term constrains (non-negative codes, say) by a little;
    its last proximal point p1 is inside, and equals the iterate at
    convergence. This solver returns that point.
    """

    def _algo(self):
        y1 = self.sol - self.step * (
            self.smooth_funs[0].grad(self.sol) + self.Lt(self.dual_sol)
        )
        y2 = self.dual_sol + self.step * self.L(self.sol)
        p1 = self.non_smooth_funs[0].prox(y1, self.step)
        p2 = _solvers._prox_star(self.non_smooth_funs[1], y2, self.step)
        q1 = p1 - self.step * (self.smooth_funs[0].grad(p1) + self.Lt(p2))
        q2 = p2 + self.step * self.L(p1)
        self.sol[:] = self.sol - y1 + q1
        self.dual_sol[:] = self.dual_sol - y2 + q2
        self._p1 = p1

    def _post(self):
        p1 = getattr(self, "_p1", None)
        if p1 is not None:
            self.sol[...] = p1
            del self._p1
        super()._post()


def make_solver(name, step):
    """Forward-backward solver of a dictionary or encoder step: 'fista' or 'ista'.

    The codes problem, which may need another splitting, is solved through
    :func:`codes_solver`.

    Examples
    --------
    >>> type(make_solver("ista", 0.1).accel).__name__
    'dummy'
    """
    if name == "fista":
        return forward_backward(step=step)
    if name == "ista":
        return forward_backward(step=step, accel=None)
    raise InputError(
        f"make_solver builds 'fista' or 'ista', got {name!r}; the codes "
        "problem's splittings (primal-dual included) come from codes_solver()"
    )


class CodesProblem:
    """The codes problem as the splittings see it: its terms by kind.

    Parameters
    ----------
    smooth : list of func
        Differentiable terms (gradient and Lipschitz constant).
    proximal : list of func
        Non-smooth terms with a proximal map (at most one that is not a box
        constraint, see :class:`pyunlocbox_gae.functions.separable_sum`).
    operator : list of func
        Non-smooth terms of a linear image of the codes, with ``apply``,
        ``apply_adjoint``, ``dual_term`` and ``operator_norm`` (the graph
        total variation).
    """

    def __init__(self, smooth=(), proximal=(), operator=()):
        self.smooth = [t for t in smooth if getattr(t, "lambda_", 1.0) != 0]
        self.proximal = [t for t in proximal if getattr(t, "lambda_", 1.0) != 0]
        self.operator = [t for t in operator if getattr(t, "lambda_", 1.0) != 0]

    def smooth_part(self, exclude=()):
        return _terms.smooth_sum([t for t in self.smooth if t not in exclude])

    def proximal_part(self):
        if not self.proximal:
            return pyu_functions.dummy()
        if len(self.proximal) == 1:
            return self.proximal[0]
        return _terms.separable_sum(self.proximal)


class Splitting:
    """A way to split the codes problem among a solver's functions.

    Subclasses set :attr:`name` and :attr:`description` and implement
    :meth:`unsupported` and :meth:`build`; registering one in
    :data:`SPLITTINGS` makes it a choice of the estimator, the configuration
    and the command line.
    """

    name = ""
    description = ""

    def unsupported(self, problem):
        """Why this splitting cannot solve `problem`, or None if it can."""
        general = [t for t in problem.proximal if not hasattr(t, "box")]
        if len(general) > 1:
            return "more than one non-smooth term that is not a box constraint"
        return None

    def build(self, problem):
        """The solver and the list of functions for :func:`solve`."""
        raise NotImplementedError


class ForwardBackwardSplitting(Splitting):
    """Smooth terms forward (gradient), the rest backward (one proximal map)."""

    def __init__(self, name, accel, description):
        self.name, self.accel, self.description = name, accel, description

    def unsupported(self, problem):
        if problem.operator:
            names = ", ".join(_term_name(t) for t in problem.operator)
            return f"{names} has no proximal map (it needs the primal-dual splitting)"
        return super().unsupported(problem)

    def build(self, problem):
        smooth = problem.smooth_part()
        step = 1.0 / max(smooth.lipschitz(), 1e-30)
        accel = "fista" if self.accel else None
        solver = forward_backward(step=step, accel=accel)
        return solver, [problem.proximal_part(), smooth]


class PrimalDualSplitting(Splitting):
    """PyUNLocBoX's MLFBF: a term of a linear image of the codes in the dual.

    With a graph total-variation term, that term goes to the dual through the
    graph gradient B (U = Z Bᵀ, soft thresholding there); without one, the
    Dirichlet term does (lg/2 ||Z Bᵀ||², BᵀB = L). The step is 0.99 / (β +
    ||B||) with β the Lipschitz constant of the remaining smooth terms.
    """

    name = "primal_dual"
    description = "primal-dual (MLFBF), the graph term in the dual"

    def unsupported(self, problem):
        if len(problem.operator) > 1:
            return "more than one term of a linear image of the codes"
        return super().unsupported(problem)

    def build(self, problem):
        dual, moved = self._dual(problem)
        smooth = problem.smooth_part(exclude=moved)
        beta = smooth.lipschitz()
        if dual is None:
            op, opt, h, norm = None, None, pyu_functions.dummy(), 1.0
        else:
            op, opt, h, norm = dual
        solver = mlfbf(L=op, Lt=opt, step=0.99 / (beta + norm))
        return solver, [problem.proximal_part(), h, smooth]

    @staticmethod
    def _dual(problem):
        """(L, Lᵀ, h, ||L||) of the dual term and the smooth terms it replaces."""
        if problem.operator:
            t = problem.operator[0]
            return (t.apply, t.apply_adjoint, t.dual_term(), t.operator_norm()), []
        graph = [t for t in problem.smooth if hasattr(t, "gradient_operator")]
        if not graph:
            return None, []
        term = graph[0]
        B = term.gradient_operator()
        h = _terms.squared_frobenius(term.lambda_)
        h.term_name = "graph"  # the graph term, seen from the dual
        op = lambda Z: (B @ Z.T).T  # noqa: E731
        opt = lambda U: (B.T @ U.T).T  # noqa: E731
        return (op, opt, h, float(np.sqrt(term.lmax))), [term]


#: Every splitting of the codes problem, by name.
SPLITTINGS = {
    s.name: s
    for s in (
        ForwardBackwardSplitting("fista", True, "FISTA (accelerated forward-backward)"),
        ForwardBackwardSplitting("ista", False, "ISTA (plain forward-backward)"),
        PrimalDualSplitting(),
    )
}

#: The choices of a codes solver: 'auto' picks the first splitting of
#: :data:`SPLITTINGS` that supports the problem.
SOLVERS = ("auto", *SPLITTINGS)


def choose_splitting(name, problem):
    """The splitting called `name` ('auto': the first that applies).

    Raises
    ------
    InputError
        If `name` is unknown or its splitting cannot solve `problem`.

    Examples
    --------
    >>> from pyunlocbox_gae import functions
    >>> import numpy as np, pygsp
    >>> G = pygsp.graphs.Ring(4)
    >>> problem = CodesProblem(proximal=[functions.sparsity(1.0)],
    ...                        operator=[functions.graph_tv(G, 1.0)])
    >>> choose_splitting("auto", problem).name
    'primal_dual'
    """
    if name != "auto" and name not in SPLITTINGS:
        raise InputError(f"unknown solver {name!r}: choose one of {', '.join(SOLVERS)}")
    candidates = list(SPLITTINGS.values()) if name == "auto" else [SPLITTINGS[name]]
    reasons = []
    for splitting in candidates:
        why = splitting.unsupported(problem)
        if why is None:
            return splitting
        reasons.append(f"{splitting.name}: {why}")
    raise InputError(
        f"solver {name!r} cannot solve this codes problem ({'; '.join(reasons)})"
        + ("; use solver='auto'" if name != "auto" else "")
    )


def codes_solver(name, problem):
    """Solver and function list of the codes problem with splitting `name`."""
    return choose_splitting(name, problem).build(problem)


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
    >>> f = _terms.smooth_sum([functions.fidelity_z(X, np.eye(1))])
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
    # Overflow and NaN are detected below and reported with the term at
    # fault; numpy's warnings on the way would only repeat it less clearly.
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        solver.pre(functions, x0)
        try:
            run = _Run(solver, functions, x0, name, max_halvings, rise_tol)
            run.iterate(rtol, maxit, eval_every)
        finally:
            solver.post()
    return dict(
        sol=x0,
        crit=run.crit,
        niter=run.niter,
        objective=run.objective,
        restarts=run.restarts,
        halvings=run.halvings,
        time=time.perf_counter() - tstart,
    )
