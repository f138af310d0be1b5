r"""
The structured auto-encoder as a scikit-learn transformer.

.. autosummary::
    GraphAutoEncoder

:class:`GraphAutoEncoder` validates its input, builds the objective
(:mod:`pyunlocbox_gae.model.objective`) and runs the alternating loop
(:func:`pyunlocbox_gae.model.alternate.alternate`) on arrays in the maths
orientation (X (n, N), Z (m, N), D (n, m), E (m, n)). It never copies X: the
maths-oriented X is a transposed view of the caller's array, and Z is
allocated once, sample-major, as the codes it returns.
"""

import json
import os
import warnings
from numbers import Integral, Real

import numpy as np
from sklearn.base import (
    BaseEstimator,
    ClassNamePrefixFeaturesOutMixin,
    TransformerMixin,
    _fit_context,
)
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.validation import check_is_fitted, validate_data

from pyunlocbox_gae import solvers, store
from pyunlocbox_gae.errors import InputError
from pyunlocbox_gae.model import (
    anchors,
    checkpoint,
    diagnostics,
    lg_auto,
    minibatch,
    objective,
)
from pyunlocbox_gae.model import transform as out_of_sample
from pyunlocbox_gae.model.alternate import (  # noqa: F401 - old names
    GUARD_COPY_MAX_BYTES,
    LocalCodes,
    alternate,
    dictionary_step,
    init_dictionary,
)
from pyunlocbox_gae.model.objective import TERM_NAMES as TERMS  # noqa: F401


class GraphAutoEncoder(
    ClassNamePrefixFeaturesOutMixin, TransformerMixin, BaseEstimator
):
    r"""Structured (graph) auto-encoder: sparse codes smooth on a graph.

    Learns a dictionary D, sparse codes Z and a linear encoder E by
    alternating minimisation of

    .. math::
        \frac{l_d}{2} \|X - DZ\|_F^2 + l_s \|Z\|_1
        + \frac{l_g}{2} \operatorname{tr}(Z L Z^\top)
        + \frac{l_e}{2} \|Z - EX\|_F^2 + l_t \|Z \nabla^\top\|_1
        \quad \text{s.t.} \quad \|d_j\|_2 \le 1 \;(\text{and } Z \ge 0),

    where L is the Laplacian of a graph over the samples (the columns of X)
    and ∇ its gradient (:func:`pyunlocbox_gae.functions.graph_gradient`). A
    weight of 0 or None removes its term entirely. The terms and their
    parameters come from :data:`pyunlocbox_gae.model.objective.TERMS`.

    Parameters
    ----------
    n_atoms : int, default=128
        Number of atoms m (columns of D, rows of ``components_``). More
        atoms than training samples only memorise them (one atom per sample
        reproduces X): allowed, with a warning.
    TERM_PARAMETERS
    graph : pygsp.graphs.Graph or sparse matrix, optional
        Graph over the training samples (an adjacency matrix is turned into
        a graph with `lap_type`; a PyGSP graph keeps its own ``lap_type``,
        and its spectral bound is recomputed if its Laplacian changed). With
        ``lg > 0`` or ``lt > 0`` and no graph, a k-NN graph is built from X
        with :func:`pyunlocbox_gae.graphs.knn_graph`, a new one at each fit:
        in cross-validation each fold's graph joins its own training samples
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
    solver : {'auto', 'fista', 'ista', 'primal_dual'}, default='auto'
        Splitting of the codes problem (:data:`pyunlocbox_gae.solvers.SPLITTINGS`):
        FISTA, plain forward-backward, or PyUNLocBoX's MLFBF primal-dual
        solver (graph term in the dual); 'auto' takes FISTA unless the
        objective has a term without a proximal map (``lt > 0``), then the
        primal-dual solver. The dictionary and encoder steps use FISTA (ISTA
        with 'ista').
    rtol, rtol_outer : float
        Relative change of the sub-problem and of the total objective below
        which the inner and outer loops stop.
    max_inner, max_outer : int, default=100 and 100
        Iteration limits of the inner and outer loops. The outer loop
        usually stops on `rtol_outer` first: scikit-learn's digits with 128
        atoms and a k = 10 graph take 20 to 40 outer iterations (lg = 100
        to 1; stopped at 20, the objective of lg = 1 is still 5 % above),
        and without a graph weakly sparse problems can take 60 (a pass over
        the data each, see `batch_size`).
    eval_every : int, default=5
        Codes iterations between two evaluations of the codes objective (one
        evaluation costs about one iteration).
    batch_size : int, 'auto' or None, default='auto'
        Without a graph term (lg = 0 and lt = 0) and with FISTA: the codes
        are solved in blocks of that many samples, each with its own
        momentum and stopping rule (`rtol`, `max_inner`), and the dictionary
        is updated from the running statistics after each block, as online
        dictionary learning does
        (:class:`~pyunlocbox_gae.model.minibatch.BlockCodes`); the objective
        is the same. At the start of each of the first 10 passes, atoms
        that no code uses and the less used of two near-duplicate atoms are
        replaced by the worst-represented samples. ``'auto'``: blocks that
        fit in a core's cache (:func:`~pyunlocbox_gae.model.minibatch.block_size`).
        None: the whole batch at once with the dictionary fixed during the
        codes step (the original study's loop, and always the loop of fits
        with a graph term, which couples the samples).
    transform_algorithm : {'auto', 'out_of_sample', 'sparse_code', 'encoder', 'graph'}
        How :meth:`transform` codes new samples. ``'auto'`` (default) picks
        ``'out_of_sample'`` when the model was fitted with a graph and lg > 0,
        ``'sparse_code'`` otherwise. ``'out_of_sample'``: the codes problem
        with the learned D, each new sample joined to its nearest training
        samples and its code tied to their fixed training codes by the graph
        term (see :class:`~pyunlocbox_gae.model.anchors.AnchorGraph`); the
        code of a training sample is its training code. ``'sparse_code'``:
        the codes problem with the learned D and no graph; ``'encoder'``: the
        fast encoder, the proximal map of the sparsity (and non-negativity)
        at E x, a soft threshold at alpha / le (needs le > 0; alpha is
        `transform_alpha`); ``'graph'``: the codes problem with a graph over
        the new samples, solved jointly. Every algorithm but ``'graph'``
        solves each sample on its own (its own momentum and stopping rule,
        `rtol` on the change of its code), so a sample's code does not depend
        on the others in the batch. The graph total variation (``lt``) is
        used out of sample by ``'graph'`` only.
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
        Per outer iteration: ``objective``; every term of
        :data:`~pyunlocbox_gae.model.objective.TERMS` weighted (``data``,
        ``sparsity``, ``graph``, ``encoder``, ``graph_tv``, ``positive``) and
        unweighted (``*_unweighted``, the term with weight 1; NaN where it
        cannot be evaluated); inner iterations and seconds of each step
        (``z_iter``, ``z_time``, ``d_iter``, ``d_time``, ``e_iter``,
        ``e_time``); ``nnz``, the fraction of non-zero codes; ``halvings``,
        how many times a step was halved because a sub-problem diverged
        (see :func:`pyunlocbox_gae.solvers.solve`; 0 normally); with the
        codes in blocks, ``replaced``, the atoms replaced at the start of the
        pass (see :meth:`~pyunlocbox_gae.model.minibatch.BlockCodes.replace_atoms`).
        After the
        last outer iteration one more codes step runs with the final
        dictionary (``z_final_iter``, ``z_final_time``), so that the codes
        returned by :meth:`fit_transform` are those of the final model.
    n_iter_ : int
        Number of outer iterations run.
    lg_ : float
        The graph weight used: `lg`, or with ``lg='auto'`` the value chosen
        from the noise of X (:func:`pyunlocbox_gae.model.lg_auto.choose_lg`);
        the choice and its reason (``lg_reason_``, None unless 'auto') are
        also the ``lg_auto`` and ``lg_auto_reason`` entries of
        ``history_[0]``.
    solver_ : str
        The splitting that solved the codes problem.
    anchors_ : pyunlocbox_gae.model.anchors.AnchorGraph or None
        What the out-of-sample transform keeps of a fit with a graph: the
        training samples (by reference), their codes and the graph's
        weights, degrees and k-NN settings (None without a graph).
    n_features_in_ : int
        Number of features seen during fit.
    feature_names_in_ : ndarray of shape (`n_features_in_`,)
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
        **objective.parameter_constraints(),
        # lg='auto': chosen by fit from the noise of X (lg_auto.choose_lg).
        "lg": [*objective.parameter_constraints()["lg"], StrOptions({"auto"})],
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
        "batch_size": [
            Interval(Integral, 1, None, closed="left"),
            StrOptions({"auto"}),
            None,
        ],
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

    def _weights(self):
        """Weight of every term, by name (lg='auto': the value fit chose)."""
        return objective.term_weights(lg_auto.fitted_params(self))

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
        self.lg_, self.lg_reason_ = lg_auto.resolve(self.lg, X)
        weights = self._weights()
        N, n = X.shape
        rng = check_random_state(self.random_state)
        Xm = X.T  # (n, N) view: the maths orientation, no copy
        D = init_dictionary(self.dict_init, Xm, self.n_atoms, rng, X.dtype)
        Z_api = np.zeros((N, self.n_atoms), dtype=X.dtype)  # sample-major codes
        E = np.zeros((self.n_atoms, n), dtype=X.dtype) if weights["encoder"] else None
        graph = lmax = None
        if objective.needs_graph(weights):
            graph = objective.graph_for(self.graph, X, self.lap_type, self.graph_params)
            lmax = getattr(graph, "lmax_exact", None)
        problem = objective.Objective(
            Xm, Z_api.T, D, E, weights, graph, lmax, self.project_encoder
        )
        # The splitting is checked before any work (and before a checkpoint).
        codes = self._codes_step(problem, graph is not None)
        saver, history = self._checkpointer(
            X, graph, codes, dict(D=D, Z=Z_api, E=E), rng
        )
        codes.passes = len(history or ())  # a resumed fit's next block order
        self.history_ = alternate(
            codes,
            solver=self.solver,
            rtol=self.rtol,
            rtol_outer=self.rtol_outer,
            max_inner=self.max_inner,
            max_outer=self.max_outer,
            callback=self._outer_callback(),
            history=history,
            checkpoint=saver.update if saver is not None else None,
        )
        if self.lg_reason_ is not None:  # lg='auto': the choice and why
            self.history_[0].update(lg_auto=self.lg_, lg_auto_reason=self.lg_reason_)
        self.components_ = np.ascontiguousarray(D.T)
        self.encoder_ = E
        self.n_iter_ = len(self.history_)
        self.solver_ = codes.splitting.name
        if graph is None:  # the codes of transform(X): each sample on its own
            out_of_sample.sample_codes(
                X, D, E, self._transform_weights(weights),
                rtol=self.rtol, max_iter=self.transform_max_iter,
                accelerate=self.solver != "ista", out=Z_api,
                positive=bool(weights["positive"]),
            )  # fmt: skip
        diagnostics.check_fit(self.history_, X, Z_api, self.components_, weights)
        # What transform() needs to code new samples on the training graph.
        self.anchors_ = None
        if graph is not None:
            self.anchors_ = anchors.AnchorGraph(X, Z_api, graph, self.graph_params)
        return Z_api

    def _transform_weights(self, weights):
        """(ld, alpha, lg, le) of the per-sample codes problem."""
        alpha = self.transform_alpha
        alpha = weights["sparsity"] if alpha is None else float(alpha)
        return (weights["data"], alpha, weights["graph"], weights["encoder"])

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

    def _codes_step(self, problem, has_graph):
        """Blocks of samples (see `batch_size`) where they apply, else whole."""
        blocks = (
            self.batch_size is not None
            and not has_graph
            and self.solver in ("auto", "fista")
        )
        if not blocks:
            return LocalCodes(
                problem, self.solver, self.rtol, self.max_inner, self.eval_every
            )
        return minibatch.BlockCodes(
            problem,
            self.rtol,
            self.max_inner,
            self.eval_every,
            block=None if self.batch_size == "auto" else self.batch_size,
        )

    def _checkpointer(self, X, graph, codes, arrays, rng):
        """The fit's checkpoint writer and the history it resumes, or Nones.

        Resuming restores D, Z, E and the random state in place.
        """
        if self.checkpoint is None:
            return None, None
        params = dict(self.get_params(), solver=codes.splitting.name)
        saver = checkpoint.Checkpointer(
            self.checkpoint,
            self.checkpoint_every,
            self.checkpoint_seconds,
            store.fingerprint(X),
            checkpoint.graph_fingerprint(graph),
            checkpoint.trajectory_params(params),
            arrays,
            rng,
        )
        history = saver.resume()
        if history is not None and self.verbose:
            print(
                f"[GraphAutoEncoder] resuming from {self.checkpoint} after "
                f"outer iteration {len(history)}",
                flush=True,
            )
        return saver, history

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
        weights = self._weights()
        algorithm = self.transform_algorithm
        fitted_graph = getattr(self, "anchors_", None)
        if algorithm == "auto":
            use_graph = fitted_graph is not None and weights["graph"]
            algorithm = "out_of_sample" if use_graph else "sparse_code"
        if algorithm == "encoder":
            return self._encode(X, weights)
        if algorithm == "graph":
            return self._graph_codes(X, graph, weights)
        if algorithm == "out_of_sample" and (
            fitted_graph is None or not weights["graph"]
        ):
            raise InputError(
                "transform_algorithm='out_of_sample' needs a model fitted with a "
                f"graph and lg > 0 (lg={weights['graph']}); use 'sparse_code' or "
                "'auto'"
            )
        return out_of_sample.sample_codes(
            X,
            np.asarray(self.components_.T, dtype=X.dtype),
            None if self.encoder_ is None else self.encoder_.astype(X.dtype),
            self._transform_weights(weights),
            fitted_graph if algorithm == "out_of_sample" else None,
            rtol=self.rtol,
            max_iter=self.transform_max_iter,
            accelerate=self.solver != "ista",
            positive=bool(weights["positive"]),
        )

    def _graph_codes(self, X, graph, weights):
        """Codes of new samples with a graph among them, solved jointly."""
        if not objective.needs_graph(weights):
            raise InputError("transform_algorithm='graph' needs lg > 0 or lt > 0")
        G = objective.graph_for(graph, X, self.lap_type, self.graph_params)
        weights = dict(weights, sparsity=self._transform_weights(weights)[1])
        Z_api = np.zeros((X.shape[0], self.n_atoms), dtype=X.dtype)
        E = None if self.encoder_ is None else self.encoder_.astype(X.dtype)
        problem = objective.Objective(
            X.T, Z_api.T, np.asarray(self.components_.T, dtype=X.dtype), E,
            weights, G, getattr(G, "lmax_exact", None),
        )  # fmt: skip
        LocalCodes(
            problem, self.solver, self.rtol, self.transform_max_iter,
            self.eval_every, name="transform",
        ).solve()  # fmt: skip
        return Z_api

    def _encode(self, X, weights):
        """Codes by the encoder: the codes problem's proximal map at E x."""
        out_of_sample.check_encoder(self.encoder_, weights["encoder"])
        Z = X @ self.encoder_.T.astype(X.dtype)
        t = self._transform_weights(weights)[1] / weights["encoder"]
        Z -= np.clip(Z, -t, t)
        if weights["positive"]:
            np.maximum(Z, 0, out=Z)
        if Z.size and not Z.any() and X.any():
            warnings.warn(
                f"transform_algorithm='encoder' gave all-zero codes: |E x| never "
                f"exceeds the threshold ls / le = {t:.3g}; fit with a larger le "
                "(or a smaller ls), or use transform_algorithm='auto'",
                UserWarning,
                stacklevel=3,
            )
        return Z

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
            # The file's author chose that path: a later fit of this model
            # writes a checkpoint only where its caller names one again.
            model.checkpoint = None
            model.components_ = f["components"][...]
            model.encoder_ = f["encoder"][...] if "encoder" in f else None
            model.history_ = json.loads(f.attrs["history"])
            model.n_features_in_ = int(f.attrs["n_features_in"])
            if "feature_names_in" in f.attrs:
                names = json.loads(f.attrs["feature_names_in"])
                model.feature_names_in_ = np.asarray(names, dtype=object)
            model.anchors_ = (
                anchors.AnchorGraph.load(f["anchors"]) if "anchors" in f else None
            )
        diagnostics.check_model_arrays(model, path)
        model.n_iter_ = len(model.history_)
        return model


# The estimator's parameters other than the terms', in signature order; the
# terms' parameters come from the registry, after n_atoms.
_PARAMETERS = dict(
    graph=None,
    graph_params=None,
    lap_type="normalized",
    dict_init="uniform",
    project_encoder=True,
    solver="auto",
    rtol=1e-4,
    rtol_outer=1e-4,
    max_inner=100,
    max_outer=100,
    eval_every=5,
    batch_size="auto",
    transform_algorithm="auto",
    transform_max_iter=500,
    random_state=None,
    verbose=0,
    checkpoint=None,
    checkpoint_every=1,
    checkpoint_seconds=None,
    transform_alpha=None,
    callback=None,
)


GraphAutoEncoder.__init__ = objective.make_init(dict(n_atoms=128), _PARAMETERS)
GraphAutoEncoder.__init__.__qualname__ = "GraphAutoEncoder.__init__"
GraphAutoEncoder.__init__.__module__ = __name__
GraphAutoEncoder.__doc__ = GraphAutoEncoder.__doc__.replace(
    "    TERM_PARAMETERS", objective.parameters_doc()
)
