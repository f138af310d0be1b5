r"""
Alternating minimisation: codes, then dictionary, then encoder.

.. autosummary::
    alternate
    LocalCodes
    dictionary_step
    init_dictionary

:func:`alternate` is the one outer loop of the package, as scikit-learn
pairs ``dict_learning()`` with ``DictionaryLearning.fit``:
:class:`~pyunlocbox_gae.GraphAutoEncoder` calls it with :class:`LocalCodes`
(the codes problem solved in this process) and
:func:`~pyunlocbox_gae.model.distributed.fit_distributed` with a block-Jacobi
codes step on Dask. A codes step is any object with

* ``D``, ``E``: the dictionary (n, m) and the encoder (m, n) or None, which
  the loop updates in place;
* ``solve()``: minimise over the codes with D and E fixed; returns a dict
  with at least ``z_iter``, ``z_time`` and ``halvings``; a codes step that
  also moves D during its pass (:class:`~pyunlocbox_gae.model.minibatch.BlockCodes`)
  has a ``final_solve()`` that keeps it fixed, for the loop's last codes step,
  and reports ``replaced``, the atoms it replaced (a pass that replaced
  some does not end the loop);
* ``statistics()``: an object with ``dictionary_term``, ``dictionary_ball``,
  ``encoder_term``, ``encoder_ball`` (functions of D and E, see
  :func:`dictionary_step`), ``values()`` (a dict made by
  :func:`~pyunlocbox_gae.model.objective.term_values`) and ``nnz()``.
"""

import time

import numpy as np

from pyunlocbox_gae import solvers
from pyunlocbox_gae.errors import InputError

# The divergence guard of solvers.solve keeps a copy of the iterate to roll
# back to. Above this size it only detects trouble and stops with a clear
# error instead: at the full GTZAN size (1.288 M × 512 codes) the copy alone
# is 2.5 GiB and breaks the 12 GiB budget, while with exact step sizes a
# rollback is never needed in practice.
GUARD_COPY_MAX_BYTES = 512 * 2**20


def solve_in_place(functions_, x, solver, **kwargs):
    """Solve one variable in place; return its iterations, seconds, halvings."""
    if x.nbytes > GUARD_COPY_MAX_BYTES:
        kwargs.setdefault("max_halvings", 0)
    t = time.perf_counter()
    ret = solvers.solve(functions_, x, solver, **kwargs)
    return ret["niter"], time.perf_counter() - t, ret["halvings"]


class LocalCodes:
    """The codes step in this process: the whole codes problem at once.

    Parameters
    ----------
    objective : pyunlocbox_gae.model.objective.Objective
        The terms, over arrays updated in place.
    solver : str
        A name of :data:`pyunlocbox_gae.solvers.SOLVERS`; checked here, so a
        splitting that cannot solve the problem is refused before any work.
    rtol, max_inner, eval_every
        Stopping of the inner solver (see :func:`pyunlocbox_gae.solvers.solve`).
    name : str
        What messages call the step.
    """

    def __init__(
        self,
        objective,
        solver="auto",
        rtol=1e-4,
        max_inner=100,
        eval_every=5,
        name="codes step",
    ):
        self.objective = objective
        self.D, self.E = objective.D, objective.E
        self.splitting = solvers.choose_splitting(solver, objective.problem)
        self.options = dict(rtol=rtol, maxit=max_inner, eval_every=eval_every)
        self.name = name

    def solve(self):
        zsolver, zfuns = self.splitting.build(self.objective.problem)
        it, seconds, halvings = solve_in_place(
            zfuns, self.objective.Z, zsolver, name=self.name, **self.options
        )
        return dict(z_iter=it, z_time=seconds, halvings=halvings)

    def statistics(self):
        return self.objective


def _stopped(history, rtol_outer, max_outer):
    """Whether the outer loop stops after the last entry of `history`."""
    if len(history) >= max_outer:
        return True
    if len(history) < 2 or history[-1].get("replaced"):
        return False  # (a pass that replaced atoms has not settled)
    current, last = history[-1]["objective"], history[-2]["objective"]
    return abs(current - last) <= rtol_outer * abs(current)


def _dictionary_and_encoder(codes, solver, inner):
    """D step then E step on the codes step's statistics; the entry's keys."""
    stats, halvings = codes.statistics(), []
    entry = {}
    entry["d_iter"], entry["d_time"] = dictionary_step(
        stats.dictionary_term, stats.dictionary_ball, codes.D, solver, inner,
        "dictionary", halvings,
    )  # fmt: skip
    if codes.E is not None:
        entry["e_iter"], entry["e_time"] = dictionary_step(
            stats.encoder_term, stats.encoder_ball, codes.E, solver, inner,
            "encoder", halvings,
        )  # fmt: skip
    return entry, sum(halvings)


def _record(entry, codes):
    stats = codes.statistics()
    entry.update(stats.values())
    entry["nnz"] = stats.nnz()


def alternate(
    codes,
    *,
    solver="fista",
    rtol=1e-4,
    max_inner=100,
    rtol_outer=1e-4,
    max_outer=100,
    callback=None,
    history=None,
    checkpoint=None,
):
    """Alternating minimisation: codes, then dictionary, then encoder.

    Parameters
    ----------
    codes : LocalCodes or another codes step
        The codes step (see the module's description); it holds D and E.
    solver : str
        'ista' runs the dictionary and encoder steps with ISTA, anything
        else with FISTA (the codes step has its own splitting).
    rtol, max_inner
        Inner stopping of the dictionary and encoder steps.
    rtol_outer, max_outer
        Outer stopping: relative change of the total objective.
    callback : callable, optional
        Called with the history entry after each outer iteration.
    history : list of dict, optional
        The history of a fit resumed at its last outer iteration (the arrays
        hold that iteration's state): the loop continues after it, as if it
        had never stopped.
    checkpoint : callable, optional
        Called as ``checkpoint(history, finished)`` after each outer
        iteration, when the arrays hold a complete state (every sub-problem
        starts a fresh solver: no momentum or dual variable carries over);
        `finished` is True after the last one.

    Returns
    -------
    list of dict
        One entry per outer iteration (see ``GraphAutoEncoder.history_``).
        The loop ends with one more codes step with the final dictionary and
        encoder (``z_final_iter``, ``z_final_time`` in the last entry, whose
        term values are taken after it).

    Raises
    ------
    pyunlocbox_gae.errors.ConvergenceError
        If a sub-problem diverges even with its step halved (see
        :func:`pyunlocbox_gae.solvers.solve`); the message names the step
        and the term.
    """
    history = list(history or [])
    done = bool(history) and _stopped(history, rtol_outer, max_outer)
    inner = dict(rtol=rtol, maxit=max_inner)
    while not done:
        entry = dict(outer=len(history) + 1)
        entry.update(codes.solve())
        more, halvings = _dictionary_and_encoder(codes, solver, inner)
        entry.update(more)
        entry["halvings"] += halvings
        _record(entry, codes)
        history.append(entry)
        if callback is not None:
            callback(entry)
        done = _stopped(history, rtol_outer, max_outer)
        if checkpoint is not None:
            checkpoint(history, done)
    # A last codes step with the final dictionary and encoder: the codes
    # returned by the fit are then those that transform() would compute.
    entry = history[-1]
    # (A codes step that moves the dictionary too keeps it fixed here.)
    final = getattr(codes, "final_solve", codes.solve)()
    entry["z_final_iter"], entry["z_final_time"] = final["z_iter"], final["z_time"]
    entry["halvings"] += final["halvings"]
    _record(entry, codes)
    return history


def dictionary_step(term, ball, x, solver, inner, what="dictionary", halvings=None):
    """Dictionary or encoder step: FISTA (or ISTA) on cached statistics.

    Parameters
    ----------
    term : func
        The smooth term of `x` (:class:`~pyunlocbox_gae.functions.fidelity_d`
        or :class:`~pyunlocbox_gae.functions.encoder_e`), whose ``prepare``
        caches the statistics Z Zᵀ and X Zᵀ for the whole solve.
    ball : func
        The constraint (:class:`~pyunlocbox_gae.functions.proj_columns_b2`).
    x : ndarray
        D or E, updated in place.
    solver : str
        'ista' for ISTA, anything else for FISTA.
    inner : dict
        ``rtol`` and ``maxit`` of :func:`pyunlocbox_gae.solvers.solve`.
    what : str
        What messages call the step.
    halvings : list, optional
        The step halvings of the divergence guard are appended to it.

    Returns
    -------
    (int, float)
        Iterations and seconds.
    """
    if term is None or term.lambda_ == 0:
        return 0, 0.0
    t = time.perf_counter()
    term.prepare()  # the statistics serve the step size and the whole solve
    try:
        lip = term.lipschitz()
        if lip <= 0:  # all codes are zero: the term does not depend on x
            return 0, time.perf_counter() - t
        name = "ista" if solver == "ista" else "fista"
        ret = solvers.solve(
            [ball, term],
            x,
            solvers.make_solver(name, 1.0 / lip),
            eval_every=1,
            name=f"{what} step",
            **inner,
        )
    finally:
        term.release()
    if halvings is not None:
        halvings.append(ret["halvings"])
    return ret["niter"], time.perf_counter() - t


def init_dictionary(init, X, n_atoms, rng, dtype):
    """Initial atoms, (n_features, n_atoms), unit norm, Fortran order.

    Parameters
    ----------
    init : {'uniform', 'gaussian', 'samples'} or array (n_atoms, n_features)
        Uniform in [0, 1) (the original study's choice), Gaussian, random
        samples of X (with a little noise, so no two atoms tie), or given
        atoms (copied, never modified).
    X : ndarray (n_features, n_samples)
    n_atoms : int
    rng : numpy.random.RandomState
    dtype : dtype

    Examples
    --------
    >>> import numpy as np
    >>> X = np.ones((3, 10))
    >>> D = init_dictionary("gaussian", X, 4, np.random.RandomState(0), np.float32)
    >>> D.shape, D.dtype, bool(np.allclose(np.linalg.norm(D, axis=0), 1))
    ((3, 4), dtype('float32'), True)
    """
    n, N = X.shape
    if isinstance(init, str):
        if init == "uniform":
            D = rng.uniform(0, 1, size=(n, n_atoms))
        elif init == "gaussian":
            D = rng.standard_normal((n, n_atoms))
        else:  # "samples"
            idx = rng.choice(N, n_atoms, replace=N < n_atoms)
            D = np.asarray(X[:, idx], dtype=np.float64)
            D = D + 1e-3 * rng.standard_normal(D.shape)  # no zero or tied atoms
    else:
        D = np.array(init, dtype=np.float64)  # a copy: normalised in place below
        if D.shape != (n_atoms, n):
            raise InputError(
                f"dict_init has shape {D.shape}, expected "
                f"(n_atoms, n_features) = {(n_atoms, n)}"
            )
        D = D.T
    D /= np.maximum(np.linalg.norm(D, axis=0), 1e-12)
    return np.asarray(D, dtype=dtype, order="F")
