r"""
The structured auto-encoder: alternating minimisation and its estimator.

.. autosummary::
    GraphAutoEncoder
    alternate

:func:`alternate` runs the outer loop on arrays in the maths orientation
(X (n, N), Z (m, N), D (n, m), E (m, n)); :class:`GraphAutoEncoder` wraps it
in a scikit-learn transformer on (n_samples, n_features) data. The estimator
never copies X: the maths-oriented X is a transposed view of the caller's
array, and Z is allocated once, sample-major, as the codes it returns.
"""

import json
import os
import time
import warnings
from numbers import Integral, Real

import numpy as np
from pyunlocbox import functions as pyu_functions
from pyunlocbox import solvers as pyu_solvers
from sklearn.base import (
    BaseEstimator,
    ClassNamePrefixFeaturesOutMixin,
    TransformerMixin,
    _fit_context,
)
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.validation import check_is_fitted, validate_data

from pyunlocbox_gae import _linalg, functions, solvers, store
from pyunlocbox_gae.errors import InputError
from pyunlocbox_gae.model import anchors, checkpoint
from pyunlocbox_gae.model import transform as out_of_sample

TERMS = ("data", "sparsity", "graph", "encoder")


class _Problem:
    """The terms of the objective, built once over arrays updated in place."""

    def __init__(
        self, X, Z, D, E, ld, ls, lg, le, graph=None, lmax=None, project_encoder=True
    ):
        self.X, self.Z, self.D, self.E = X, Z, D, E
        self.data_z = functions.fidelity_z(X, D, ld)
        self.sparsity = functions.sparsity(ls) if ls else pyu_functions.dummy()
        self.graph = (
            functions.dirichlet(graph, lg, lmax=lmax) if graph is not None else None
        )
        self.encoder_z = functions.encoder_z(X, E, le) if E is not None else None
        self.z_smooth = functions.smooth_sum(
            [t for t in (self.data_z, self.graph, self.encoder_z) if t is not None]
        )
        self.data_d = functions.fidelity_d(X, Z, ld)
        self.ball_d = functions.proj_columns_b2()
        if E is not None:
            self.encoder_e = functions.encoder_e(X, Z, le)
            self.ball_e = (
                functions.proj_columns_b2()
                if project_encoder
                else pyu_functions.dummy()
            )
        self.weights = dict(data=ld, sparsity=ls, graph=lg, encoder=le)

    def terms(self):
        """Weighted and unweighted value of every term at the current point.

        The unweighted value is the term with weight 1 (the original study
        balanced the weights by comparing them).
        """
        X, Z = self.X, self.Z
        unit = dict(
            data=functions.fidelity_z(X, self.D),
            sparsity=functions.sparsity(),
            graph=(
                functions.dirichlet(self.graph.graph, lmax=self.graph.lmax)
                if self.graph is not None
                else None
            ),
            encoder=functions.encoder_z(X, self.E) if self.E is not None else None,
        )
        out = {}
        for name, term in unit.items():
            value = term.eval(Z) if term is not None else np.nan
            out[name] = self.weights[name] * value if term is not None else 0.0
            out[f"{name}_unweighted"] = value
        out["objective"] = sum(out[name] for name in TERMS)
        return out


def _z_solver(problem, name):
    """Solver and function list of the codes step."""
    if name != "primal_dual":
        step = 1.0 / max(problem.z_smooth.lipschitz(), 1e-30)
        return solvers.make_solver(name, step), [problem.sparsity, problem.z_smooth]
    # Primal-dual (MLFBF): the graph term is split off through the graph
    # gradient B (BᵀB = L) and handled in the dual, lg/2 ||Z Bᵀ||².
    smooth = functions.smooth_sum(
        [t for t in (problem.data_z, problem.encoder_z) if t is not None]
    )
    beta = smooth.lipschitz()
    if problem.graph is None:
        op, opt, g, norm = None, None, pyu_functions.dummy(), 1.0
    else:
        B = problem.graph.gradient_operator()
        op = lambda Z: (B @ Z.T).T  # noqa: E731
        opt = lambda U: (B.T @ U.T).T  # noqa: E731
        g = functions.squared_frobenius(problem.graph.lambda_)
        g.term_name = "graph"  # the graph term, seen from the dual
        norm = np.sqrt(problem.graph.lmax)
    step = 0.99 / (beta + norm)
    return pyu_solvers.mlfbf(L=op, Lt=opt, step=step), [problem.sparsity, g, smooth]


# The divergence guard of solvers.solve keeps a copy of the iterate to roll
# back to. Above this size it only detects trouble and stops with a clear
# FloatingPointError instead: at the full GTZAN size (1.288 M × 512 codes)
# the copy alone is 2.5 GiB and breaks the 12 GiB budget, while with exact
# step sizes a rollback is never needed in practice.
GUARD_COPY_MAX_BYTES = 512 * 2**20


def _block(functions_, x, solver, **kwargs):
    """Solve one block in place; return its iterations, seconds, halvings."""
    if x.nbytes > GUARD_COPY_MAX_BYTES:
        kwargs.setdefault("max_halvings", 0)
    t = time.perf_counter()
    ret = solvers.solve(functions_, x, solver, **kwargs)
    return ret["niter"], time.perf_counter() - t, ret["halvings"]


def _stopped(history, rtol_outer, max_outer):
    """Whether the outer loop stops after the last entry of `history`."""
    if len(history) >= max_outer:
        return True
    if len(history) < 2:
        return False
    current, last = history[-1]["objective"], history[-2]["objective"]
    return abs(current - last) <= rtol_outer * abs(current)


def alternate(
    problem,
    solver="fista",
    rtol=1e-4,
    rtol_outer=1e-4,
    max_inner=100,
    max_outer=20,
    eval_every=5,
    callback=None,
    history=None,
    checkpoint=None,
):
    """Alternating minimisation: codes, then dictionary, then encoder.

    Parameters
    ----------
    problem : _Problem
        The terms, over arrays that are updated in place.
    solver : {'fista', 'ista', 'primal_dual'}
        Solver of every sub-problem ('primal_dual' applies to the codes; the
        dictionary and encoder steps then use FISTA).
    rtol, max_inner, eval_every
        Inner stopping: relative change of the sub-problem objective between
        two evaluations `eval_every` iterations apart (every iteration for
        the dictionary and encoder, whose evaluation is cheap).
    rtol_outer, max_outer
        Outer stopping: relative change of the total objective.
    callback : callable, optional
        Called with the history entry after each outer iteration.
    history : list of dict, optional
        The history of a fit resumed at its last outer iteration (the arrays
        of `problem` hold that iteration's state): the loop continues after
        it, as if it had never stopped.
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
    FloatingPointError
        If a sub-problem diverges even with its step halved (see
        :func:`pyunlocbox_gae.solvers.solve`); the message names the step
        and the term.
    """
    history = list(history or [])
    done = bool(history) and _stopped(history, rtol_outer, max_outer)
    inner = dict(rtol=rtol, maxit=max_inner)
    while not done:
        entry = dict(outer=len(history) + 1)
        zsolver, zfuns = _z_solver(problem, solver)
        entry["z_iter"], entry["z_time"], halvings = _block(
            zfuns, problem.Z, zsolver, eval_every=eval_every, name="codes step", **inner
        )
        more = []  # halvings of the dictionary and encoder steps
        entry["d_iter"], entry["d_time"] = _stats_block(
            problem.data_d, problem.ball_d, problem.D, solver, inner, "dictionary", more
        )
        if problem.E is not None:
            entry["e_iter"], entry["e_time"] = _stats_block(
                problem.encoder_e,
                problem.ball_e,
                problem.E,
                solver,
                inner,
                "encoder",
                more,
            )
        halvings += sum(more)
        entry.update(problem.terms())
        entry["nnz"] = _linalg.count_nonzero(problem.Z) / max(problem.Z.size, 1)
        entry["halvings"] = halvings
        history.append(entry)
        if callback is not None:
            callback(entry)
        done = _stopped(history, rtol_outer, max_outer)
        if checkpoint is not None:
            checkpoint(history, done)
    # A last codes step with the final dictionary and encoder: the codes
    # returned by the fit are then those that transform() would compute.
    entry = history[-1]
    zsolver, zfuns = _z_solver(problem, solver)
    entry["z_final_iter"], entry["z_final_time"], halvings = _block(
        zfuns, problem.Z, zsolver, eval_every=eval_every, name="codes step", **inner
    )
    entry["halvings"] += halvings
    entry.update(problem.terms())
    entry["nnz"] = _linalg.count_nonzero(problem.Z) / max(problem.Z.size, 1)
    return history


def _stats_block(term, ball, x, solver, inner, what="dictionary", halvings=None):
    """Dictionary or encoder step: FISTA (or ISTA) on cached statistics.

    Returns its iterations and seconds; the step halvings of the divergence
    guard are appended to the list `halvings` when one is given.
    """
    if term.lambda_ == 0:
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


def _init_dictionary(init, X, n_atoms, rng, dtype):
    """Initial atoms, (n_features, n_atoms), unit norm."""
    n, N = X.shape
    if isinstance(init, str):
        if init == "uniform":  # the original study's choice
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


def _graph_for(graph, X_api, lap_type, graph_params):
    """The graph over the samples of X as a PyGSP graph with a float L."""
    from pyunlocbox_gae import graphs  # on demand: only graph fits need PyGSP

    N = X_api.shape[0]
    if graph is None:
        params = dict(graph_params or {})
        params.setdefault("lap_type", lap_type)
        params.setdefault("dtype", X_api.dtype)
        return graphs.knn_graph(X_api, **params)
    return graphs.as_graph(graph, n_samples=N, lap_type=lap_type, dtype=X_api.dtype)


class GraphAutoEncoder(
    ClassNamePrefixFeaturesOutMixin, TransformerMixin, BaseEstimator
):
    r"""Structured (graph) auto-encoder: sparse codes smooth on a graph.

    Learns a dictionary D, sparse codes Z and a linear encoder E by
    alternating minimisation of

    .. math::
        \frac{l_d}{2} \|X - DZ\|_F^2 + l_s \|Z\|_1
        + \frac{l_g}{2} \operatorname{tr}(Z L Z^\top)
        + \frac{l_e}{2} \|Z - EX\|_F^2
        \quad \text{s.t.} \quad \|d_j\|_2 \le 1,

    where L is the Laplacian of a graph over the samples (the columns of X).
    A weight of 0 or None removes its term entirely.

    Parameters
    ----------
    n_atoms : int, default=128
        Number of atoms m (columns of D, rows of ``components_``). More
        atoms than training samples only memorise them (one atom per sample
        reproduces X): allowed, with a warning.
    ld, ls, lg, le : float or None
        Weights of the data fidelity (10), sparsity (1), graph (0) and
        encoder (0) terms.
    graph : pygsp.graphs.Graph or sparse matrix, optional
        Graph over the training samples (an adjacency matrix is turned into
        a graph with `lap_type`; a PyGSP graph keeps its own ``lap_type``,
        and its spectral bound is recomputed if its Laplacian changed). With
        ``lg > 0`` and no graph, a k-NN graph is built from X with
        :func:`pyunlocbox_gae.graphs.knn_graph`, a new one at each fit: in
        cross-validation each fold's graph joins its own training samples
        only (pass settings through `graph_params`, not a graph over all
        samples).
    graph_params : dict, optional
        Parameters of :func:`pyunlocbox_gae.graphs.knn_graph`; they also
        link new samples to a given graph that does not record its own.
    lap_type : {'normalized', 'combinatorial'}
        Laplacian of a graph given as an adjacency matrix or built from X.
    dict_init : {'uniform', 'gaussian', 'samples'} or array (n_atoms, n_features)
        Initial atoms: uniform in [0, 1) as the original study, Gaussian, or
        random samples of X, normalised to unit norm.
    project_encoder : bool, default=True
        Keep the columns of E in the unit ball, as the original code did.
    solver : {'fista', 'ista', 'primal_dual'}
        FISTA, plain forward-backward, or PyUNLocBoX's MLFBF primal-dual
        solver (graph term in the dual) for the codes.
    rtol, rtol_outer : float
        Relative change of the sub-problem and of the total objective below
        which the inner and outer loops stop.
    max_inner, max_outer : int
        Iteration limits of the inner and outer loops.
    eval_every : int, default=5
        Codes iterations between two evaluations of the codes objective (one
        evaluation costs about one iteration).
    transform_algorithm : {'auto', 'out_of_sample', 'sparse_code', 'encoder', \
'graph'}
        How :meth:`transform` codes new samples. ``'auto'`` (default) picks
        ``'out_of_sample'`` when the model was fitted with a graph (lg > 0)
        and lg is still > 0, ``'sparse_code'`` otherwise. ``'out_of_sample'``:
        the codes problem with the learned D, each new sample joined to its
        nearest training samples and its code tied to their fixed training
        codes by the graph term (see
        :class:`~pyunlocbox_gae.model.anchors.AnchorGraph`); the code of
        a training sample is its training code. ``'sparse_code'``: the codes
        problem with the learned D and no graph; ``'encoder'``: the fast
        encoder, soft thresholding of E x at
        alpha / le (needs le > 0; alpha is `transform_alpha`); ``'graph'``:
        the codes problem with a graph over the new samples, solved jointly.
        Every algorithm but ``'graph'`` solves each sample on its own (its
        own momentum and stopping rule, `rtol` on the change of its code),
        so a sample's code does not depend on the others in the batch.
    transform_max_iter : int, default=500
        Iteration limit of :meth:`transform` (per sample).
    random_state : int, RandomState instance or None
        Seed of the initial dictionary.
    verbose : int
        Print one line per outer iteration when positive.
    checkpoint : str or path-like, optional
        HDF5 file where the state of the fit (D, E, Z, history, random
        state) is saved at outer-iteration boundaries, atomically (write then
        rename, so a crash or ``kill -9`` leaves the previous checkpoint
        whole). A fit that finds the file resumes from it and ends as an
        uninterrupted fit would (same objective, same codes); the file is
        refused, with a message saying which, if it was written for other
        data, another graph or other parameters (``max_outer`` and
        ``rtol_outer`` may change: raise ``max_outer`` to extend a finished
        fit). The file is kept after the fit; delete it to start afresh.
    checkpoint_every : int or None, default=1
        Save every that many outer iterations (None: only by time).
    checkpoint_seconds : float or None
        Also save when that many seconds have passed since the last save.
        The state after the last outer iteration is always saved.
    transform_alpha : float or None
        Sparsity weight of :meth:`transform` (None: `ls`), as in
        scikit-learn's dictionary learning.
    callback : callable or None
        Called after each outer iteration of the fit with its
        ``history_`` entry (a dict), e.g. to log or plot progress.

    Attributes
    ----------
    components_ : ndarray of shape (n_atoms, n_features)
        The atoms (Dᵀ), with l2 norms at most 1.
    encoder_ : ndarray of shape (n_atoms, n_features) or None
        The encoder E (None when le is off).
    history_ : list of dict
        Per outer iteration: ``objective``; every term weighted (``data``,
        ``sparsity``, ``graph``, ``encoder``) and unweighted (``*_unweighted``,
        the term with weight 1); inner iterations and seconds of each step
        (``z_iter``, ``z_time``, ``d_iter``, ``d_time``, ``e_iter``,
        ``e_time``); ``nnz``, the fraction of non-zero codes; ``halvings``,
        how many times a step was halved because a sub-problem diverged
        (see :func:`pyunlocbox_gae.solvers.solve`; 0 normally). After the
        last outer iteration one more codes step runs with the final
        dictionary (``z_final_iter``, ``z_final_time``), so that the codes
        returned by :meth:`fit_transform` are those of the final model.
    n_iter_ : int
        Number of outer iterations run.
    anchors_ : pyunlocbox_gae.model.anchors.AnchorGraph or None
        What the out-of-sample transform keeps of a fit with a graph: the
        training samples (by reference), their codes and the graph's
        weights, degrees and k-NN settings (None without a graph).
    n_features_in_ : int
        Number of features seen during fit.
    feature_names_in_ : ndarray of shape (n_features_in_,)
        Names of the features, when X has string column names (a pandas
        DataFrame); kept by :meth:`save` and :meth:`load`.

    Examples
    --------
    >>> import numpy as np
    >>> from pyunlocbox_gae import GraphAutoEncoder
    >>> X = np.random.default_rng(0).random((100, 8)).astype(np.float32)
    >>> gae = GraphAutoEncoder(n_atoms=16, ls=0.1, max_outer=5, random_state=0)
    >>> Z = gae.fit_transform(X)
    >>> Z.shape, Z.dtype, gae.components_.shape
    ((100, 16), dtype('float32'), (16, 8))
    >>> h = gae.history_
    >>> bool(h[-1]["objective"] <= h[0]["objective"])
    True
    """

    _parameter_constraints = {
        "n_atoms": [Interval(Integral, 1, None, closed="left")],
        # Finite weights: [0, inf) excludes inf, and NaN fails every interval.
        "ld": [Interval(Real, 0, np.inf, closed="left"), None],
        "ls": [Interval(Real, 0, np.inf, closed="left"), None],
        "lg": [Interval(Real, 0, np.inf, closed="left"), None],
        "le": [Interval(Real, 0, np.inf, closed="left"), None],
        "graph": "no_validation",
        "graph_params": [dict, None],
        "lap_type": [StrOptions({"normalized", "combinatorial"})],
        "dict_init": [StrOptions({"uniform", "gaussian", "samples"}), "array-like"],
        "project_encoder": ["boolean"],
        "solver": [StrOptions(set(solvers.SOLVERS))],
        # A relative change of 1 or more would stop at the first evaluation.
        "rtol": [Interval(Real, 0, 1, closed="left")],
        "rtol_outer": [Interval(Real, 0, 1, closed="left")],
        "max_inner": [Interval(Integral, 1, None, closed="left")],
        "max_outer": [Interval(Integral, 1, None, closed="left")],
        "eval_every": [Interval(Integral, 1, None, closed="left")],
        "transform_algorithm": [
            StrOptions({"auto", "out_of_sample", "sparse_code", "encoder", "graph"})
        ],
        "transform_max_iter": [Interval(Integral, 1, None, closed="left")],
        "random_state": ["random_state"],
        "verbose": ["verbose"],
        "checkpoint": [str, os.PathLike, None],
        "checkpoint_every": [Interval(Integral, 1, None, closed="left"), None],
        "checkpoint_seconds": [Interval(Real, 0, np.inf, closed="neither"), None],
        "transform_alpha": [Interval(Real, 0, np.inf, closed="left"), None],
        "callback": [callable, None],
    }

    def __init__(
        self,
        n_atoms=128,
        *,
        ld=10.0,
        ls=1.0,
        lg=0.0,
        le=0.0,
        graph=None,
        graph_params=None,
        lap_type="normalized",
        dict_init="uniform",
        project_encoder=True,
        solver="fista",
        rtol=1e-4,
        rtol_outer=1e-4,
        max_inner=100,
        max_outer=20,
        eval_every=5,
        transform_algorithm="auto",
        transform_max_iter=500,
        random_state=None,
        verbose=0,
        checkpoint=None,
        checkpoint_every=1,
        checkpoint_seconds=None,
        transform_alpha=None,
        callback=None,
    ):
        self.n_atoms = n_atoms
        self.ld = ld
        self.ls = ls
        self.lg = lg
        self.le = le
        self.graph = graph
        self.graph_params = graph_params
        self.lap_type = lap_type
        self.dict_init = dict_init
        self.project_encoder = project_encoder
        self.solver = solver
        self.rtol = rtol
        self.rtol_outer = rtol_outer
        self.max_inner = max_inner
        self.max_outer = max_outer
        self.eval_every = eval_every
        self.transform_algorithm = transform_algorithm
        self.transform_max_iter = transform_max_iter
        self.random_state = random_state
        self.verbose = verbose
        self.checkpoint = checkpoint
        self.checkpoint_every = checkpoint_every
        self.checkpoint_seconds = checkpoint_seconds
        self.transform_alpha = transform_alpha
        self.callback = callback

    def _weights(self):
        return tuple(float(w or 0.0) for w in (self.ld, self.ls, self.lg, self.le))

    def _validate(self, X, reset):
        if getattr(X, "dtype", None) is not None and X.dtype.kind == "c":
            # Before scikit-learn's check, whose message prints the whole array.
            raise InputError(
                f"Complex data not supported: X holds {X.dtype} values; take "
                "magnitudes (np.abs) or stack real and imaginary parts as features"
            )
        # Fitting needs two samples (one sample cannot shape a dictionary, nor
        # a graph); coding one new sample is fine.
        X = validate_data(
            self,
            X,
            reset=reset,
            dtype=[np.float64, np.float32],
            ensure_min_samples=2 if reset else 1,
        )
        if reset and self.n_atoms > X.shape[0]:
            warnings.warn(
                f"n_atoms={self.n_atoms} is more than the {X.shape[0]} samples "
                "of X: one atom per sample already reproduces X exactly with "
                "one non-zero code each (a memorised dictionary), so more "
                f"atoms only add cost; use n_atoms <= {X.shape[0]} (or more "
                "samples)",
                UserWarning,
                stacklevel=5,  # the caller of fit or fit_transform
            )
        return X

    def fit(self, X, y=None):
        """Learn the dictionary, the encoder and the codes of X.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Training data; float32 and float64 are kept, others become
            float64. Never copied when already float and finite.
        y : ignored

        Returns
        -------
        self
        """
        self._fit(X)
        return self

    def fit_transform(self, X, y=None):
        """Fit and return the learned codes of X, shape (n_samples, n_atoms)."""
        return self._fit(X)

    @_fit_context(prefer_skip_nested_validation=True)
    def _fit(self, X):
        X = self._validate(X, reset=True)
        ld, ls, lg, le = self._weights()
        N, n = X.shape
        rng = check_random_state(self.random_state)
        Xm = X.T  # (n, N) view: the maths orientation, no copy
        D = _init_dictionary(self.dict_init, Xm, self.n_atoms, rng, X.dtype)
        Z_api = np.zeros((N, self.n_atoms), dtype=X.dtype)  # sample-major codes
        E = np.zeros((self.n_atoms, n), dtype=X.dtype) if le else None
        graph = lmax = None
        if lg:
            graph = _graph_for(self.graph, X, self.lap_type, self.graph_params)
            lmax = getattr(graph, "lmax_exact", None)
        saver, history = None, None
        if self.checkpoint is not None:
            saver = checkpoint.Checkpointer(
                self.checkpoint,
                self.checkpoint_every,
                self.checkpoint_seconds,
                store.fingerprint(X),
                checkpoint.graph_fingerprint(graph),
                checkpoint.trajectory_params(self.get_params()),
                dict(D=D, Z=Z_api, E=E),
                rng,
            )
            history = saver.resume()
            if history is not None and self.verbose:
                print(
                    f"[GraphAutoEncoder] resuming from {self.checkpoint} after "
                    f"outer iteration {len(history)}",
                    flush=True,
                )
        problem = _Problem(
            Xm,
            Z_api.T,
            D,
            E,
            ld,
            ls,
            lg,
            le,
            graph=graph,
            lmax=lmax,
            project_encoder=self.project_encoder,
        )
        self.history_ = alternate(
            problem,
            solver=self.solver,
            rtol=self.rtol,
            rtol_outer=self.rtol_outer,
            max_inner=self.max_inner,
            max_outer=self.max_outer,
            eval_every=self.eval_every,
            callback=self._outer_callback(),
            history=history,
            checkpoint=saver.update if saver is not None else None,
        )
        self.components_ = np.ascontiguousarray(D.T)
        self.encoder_ = E
        self.n_iter_ = len(self.history_)
        if not lg:  # the codes of transform(X): each sample solved on its own
            out_of_sample.sample_codes(
                X,
                D,
                E,
                (ld, ls, 0.0, le),
                rtol=self.rtol,
                max_iter=self.transform_max_iter,
                accelerate=self.solver != "ista",
                out=Z_api,
            )
        # What transform() needs to code new samples on the training graph.
        self.anchors_ = None
        if graph is not None:
            self.anchors_ = anchors.AnchorGraph(X, Z_api, graph, self.graph_params)
        return Z_api

    def _outer_callback(self):
        """The fit's per-outer-iteration call: progress line and/or callback."""
        calls = [
            c for c in (self._report if self.verbose else None, self.callback) if c
        ]
        if not calls:
            return None

        def call(entry):
            for c in calls:
                c(entry)

        return call

    def _report(self, entry):
        print(
            f"[GraphAutoEncoder] outer {entry['outer']}/{self.max_outer}: "
            f"objective {entry['objective']:.6e}, non-zeros {100 * entry['nnz']:.1f}%, "
            f"Z {entry['z_iter']} it {entry['z_time']:.2f}s, "
            f"D {entry['d_iter']} it {entry['d_time']:.2f}s"
            + (f", step halved {entry['halvings']}x" if entry["halvings"] else ""),
            flush=True,
        )

    def transform(self, X, graph=None):
        """Codes of new samples, shape (n_samples, n_atoms).

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
        graph : pygsp.graphs.Graph or sparse matrix, optional
            Graph over the samples of X, for ``transform_algorithm='graph'``
            (built from X with `graph_params` when not given).

        Examples
        --------
        With a graph, ``'auto'`` ties new codes to the training codes: a
        training sample gets back its training code, and a code does not
        depend on the other samples of the batch.

        >>> import numpy as np
        >>> X = np.random.default_rng(0).random((60, 5))
        >>> gae = GraphAutoEncoder(8, lg=5, graph_params={"k": 5},
        ...                        random_state=0, rtol=1e-6, max_inner=500)
        >>> Z = gae.fit_transform(X)
        >>> bool(np.abs(gae.transform(X) - Z).max() < 1e-3 * np.abs(Z).max())
        True
        >>> bool(np.allclose(gae.transform(X[:7]), gae.transform(X)[:7]))
        True
        """
        check_is_fitted(self)
        X = self._validate(X, reset=False)
        ld, ls, lg, le = self._weights()
        alpha = ls if self.transform_alpha is None else float(self.transform_alpha)
        algorithm = self.transform_algorithm
        fitted_graph = getattr(self, "anchors_", None)
        if algorithm == "auto":
            algorithm = (
                "out_of_sample" if fitted_graph is not None and lg else "sparse_code"
            )
        if algorithm == "encoder":
            out_of_sample.check_encoder(self.encoder_, le)
            Z = X @ self.encoder_.T.astype(X.dtype)
            t = alpha / le
            return Z - np.clip(Z, -t, t)
        D = np.asarray(self.components_.T, dtype=X.dtype)
        E = None if self.encoder_ is None else self.encoder_.astype(X.dtype)
        weights = (ld, alpha, lg, le)
        if algorithm == "graph":
            if not lg:
                raise InputError("transform_algorithm='graph' needs lg > 0")
            G = _graph_for(graph, X, self.lap_type, self.graph_params)
            return out_of_sample.graph_codes(
                X, D, E, weights, G, self.rtol, self.transform_max_iter, self.eval_every
            )
        if algorithm == "out_of_sample" and (fitted_graph is None or not lg):
            raise InputError(
                "transform_algorithm='out_of_sample' needs a model fitted with a "
                f"graph and lg > 0 (lg={lg}); use 'sparse_code' or 'auto'"
            )
        return out_of_sample.sample_codes(
            X,
            D,
            E,
            weights,
            fitted_graph if algorithm == "out_of_sample" else None,
            rtol=self.rtol,
            max_iter=self.transform_max_iter,
            accelerate=self.solver != "ista",
        )

    def inverse_transform(self, Z):
        """Reconstruction Z Dᵀ of codes, shape (n_samples, n_features)."""
        check_is_fitted(self)
        Z = np.asarray(Z)
        if Z.ndim != 2 or Z.shape[1] != self.n_atoms:
            raise InputError(
                f"Z must have shape (n_samples, {self.n_atoms}), got {Z.shape}"
            )
        return Z @ self.components_.astype(Z.dtype if Z.dtype.kind == "f" else float)

    @property
    def _n_features_out(self):
        return self.n_atoms

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.transformer_tags.preserves_dtype = ["float64", "float32"]
        return tags

    # ------------------------------------------------------------------
    # Saving without pickle.

    def save(self, path):
        """Write the fitted model to an HDF5 file (no pickle involved).

        The parameters are stored as JSON, the arrays as datasets, with
        ``feature_names_in_`` when X had feature names. A model fitted with
        a graph also stores what its out-of-sample transform needs: the
        training samples (as searched), codes and graph weights. The
        callback is not stored (the loaded model has none).
        """
        check_is_fitted(self)
        params = {
            k: v
            for k, v in self.get_params().items()
            if k not in ("graph", "dict_init", "callback")
        }
        names = getattr(self, "feature_names_in_", None)
        with store.write_h5(
            path,
            "model",
            params=json.dumps(params, default=str),  # a checkpoint Path: str
            history=json.dumps(self.history_, default=float),
            n_features_in=self.n_features_in_,
        ) as f:
            f.create_dataset("components", data=self.components_)
            if self.encoder_ is not None:
                f.create_dataset("encoder", data=self.encoder_)
            if names is not None:
                f.attrs["feature_names_in"] = json.dumps([str(n) for n in names])
            if getattr(self, "anchors_", None) is not None:
                self.anchors_.save(f.create_group("anchors"))

    @classmethod
    def load(cls, path):
        """Read a model written by :meth:`save`.

        Examples
        --------
        >>> import numpy as np, tempfile, os
        >>> X = np.random.default_rng(0).random((50, 4))
        >>> gae = GraphAutoEncoder(n_atoms=3, max_outer=2, random_state=0).fit(X)
        >>> path = os.path.join(tempfile.mkdtemp(), "model.h5")
        >>> gae.save(path)
        >>> back = GraphAutoEncoder.load(path)
        >>> bool(np.array_equal(back.components_, gae.components_))
        True
        >>> bool(np.allclose(back.transform(X), gae.transform(X)))
        True
        """
        with store.open_h5(path, "model") as f:
            try:
                model = cls(**json.loads(f.attrs["params"]))
            except (json.JSONDecodeError, TypeError) as err:
                raise InputError(
                    f"{path} holds model parameters that this version of "
                    f"pyunlocbox_gae cannot read ({err}); fit and save it again"
                ) from None
            model.components_ = f["components"][...]
            if model.components_.shape[:1] != (model.n_atoms,):
                raise InputError(
                    f"{path} is damaged: its components have shape "
                    f"{model.components_.shape}, expected ({model.n_atoms}, "
                    "n_features); fit and save it again"
                )
            model.encoder_ = f["encoder"][...] if "encoder" in f else None
            model.history_ = json.loads(f.attrs["history"])
            model.n_features_in_ = int(f.attrs["n_features_in"])
            if "feature_names_in" in f.attrs:
                names = json.loads(f.attrs["feature_names_in"])
                model.feature_names_in_ = np.asarray(names, dtype=object)
            model.anchors_ = (
                anchors.AnchorGraph.load(f["anchors"]) if "anchors" in f else None
            )
        model.n_iter_ = len(model.history_)
        return model
