r"""
The alternating fit on a Dask cluster: codes per block of samples on workers.

.. autosummary::
    fit_distributed
    partition

Design (costs measured in ``docs/scaling.md``):

* The samples are cut into blocks of consecutive vertices in reverse
  Cuthill–McKee order of the graph (:func:`partition`): connected components
  stay contiguous in that order and the cut between blocks is small, so a
  block's *halo*, the vertices outside it that it has edges to, is small.
* Each block's data X_b, its Laplacian rows L_bb (inside) and L_bh (to the
  halo) and its codes Z_b live on a worker, scattered once; Z_b never goes
  back to the client during the fit.
* The codes step is block-Jacobi: every block minimises the objective over
  its own codes with the halo codes fixed at the previous sweep, which turns
  the graph coupling into a linear term lg Z_h L_hb. Solved with the
  package's own terms and FISTA (:mod:`pyunlocbox_gae.functions`,
  :mod:`pyunlocbox_gae.solvers`). Between sweeps only the boundary rows of
  Z that other blocks need are sent, worker to worker. Sweeps repeat until
  the total objective changes by less than `rtol`: the fixed point is the
  minimiser of the full codes problem.
* The dictionary and encoder steps need only small statistics, Z Zᵀ (m, m),
  X Zᵀ (n, m) and ||Z||², summed on the client over blocks (X Xᵀ and ||X||²
  once); they run on the client exactly as in
  :func:`pyunlocbox_gae.model.estimator.alternate`, and every term of the
  objective is evaluated from the same statistics.
"""

import operator
import time

import numpy as np
import scipy.sparse as sp
from pyunlocbox import functions as pyu_functions
from sklearn.utils import check_random_state

from pyunlocbox_gae import _linalg, functions, solvers, store
from pyunlocbox_gae.errors import InputError
from pyunlocbox_gae.model import checkpoint, objective
from pyunlocbox_gae.model.alternate import alternate, init_dictionary
from pyunlocbox_gae.model.blocks import Layout, _Layout, partition  # noqa: F401

__all__ = ["fit_distributed", "partition"]


# ---------------------------------------------------------------------------
# Tasks run on the workers. Arrays are sample-major: X_b (N_b, n), Z_b (N_b, m).


def _block_setup(X_b, L_bb, lg):
    """Largest eigenvalue of the block's Laplacian (its own Lipschitz term)."""
    return _linalg.laplacian_lmax(L_bb) if lg and L_bb.nnz else 0.0


def _rows(Z_b, idx):
    """The rows of Z_b that one neighbouring block needs (its halo from b)."""
    return np.ascontiguousarray(Z_b[idx])


def _halo_term(L_bh, halo, lg, Z_b):
    """C = lg L_bh Z_h, (N_b, m), or None when the block has no halo."""
    if not lg or L_bh is None or not halo:
        return None
    Z_h = np.concatenate(halo, axis=0) if len(halo) > 1 else halo[0]
    C = np.zeros((L_bh.shape[0], Z_h.shape[1]), dtype=Z_b.dtype)
    _linalg.csr_matmul_add(L_bh, np.ascontiguousarray(Z_h, dtype=Z_b.dtype), C, lg)
    return C


def _solve_block(X_b, L_bb, L_bh, lmax, Z_b, halo, D, E, weights, solver, inner):
    """One block-Jacobi step: the block's codes problem with the halo fixed.

    The block's problem is the estimator's objective over its samples (the
    same registry of terms and the same splitting), plus the linear term
    lg <L_bh Z_h, Z_b> of the fixed halo. Returns the new codes (a new
    array: task inputs are never modified), the block's share of the total
    objective at the *incoming* codes (so the client learns the objective of
    the previous sweep for free), its iterations and step halvings.
    """
    Z = np.array(Z_b, order="C", copy=True)
    weights = dict(weights)
    if L_bb is None:
        weights["graph"] = 0.0
    problem = objective.Objective(
        X_b.T, Z.T, D, E, weights, graph=L_bb, lmax=max(lmax, 1e-12)
    ).problem
    C = _halo_term(L_bh, halo, weights["graph"], Z)
    if C is not None:
        problem.smooth.append(functions.linear(C.T))
    zsolver, zfuns = solvers.codes_solver(solver, problem)
    ret = solvers.solve(zfuns, Z.T, zsolver, eval_every=5, **inner)
    # The block objective counts the cross-block graph energy once per side:
    # half of it belongs to this block.
    before = ret["objective"][0]
    if C is not None:
        before -= 0.5 * _linalg.vdot64(C, Z_b)
    return Z, before, ret["niter"], ret["halvings"]


def _block_stats(X_b, Z_b, L_bb, L_bh, halo, lg):
    """Z Zᵀ, X Zᵀ, ||Z||², ||Z||_1, non-zeros and tr(Z L Zᵀ) rows of a block."""
    Xm, Zm = X_b.T, Z_b.T
    graph = 0.0
    if lg and L_bb is not None:
        graph = _linalg.csr_quadratic(L_bb, Z_b)
        C = _halo_term(L_bh, halo, 1.0, Z_b)
        if C is not None:
            graph += _linalg.vdot64(C, Z_b)
    return dict(
        ZZ=_linalg.gram64(Zm),
        XZ=_linalg.gram64(Xm, Zm),
        zz=_linalg.vdot64(Z_b),
        l1=_linalg.abs_sum64(Z_b),
        nnz=_linalg.count_nonzero(Z_b),
        graph=graph,
    )


def _data_stats(X_b):
    return dict(XX=_linalg.gram64(X_b.T), xx=_linalg.vdot64(X_b))


# ---------------------------------------------------------------------------


def _laplacian(graph):
    if graph is None:
        return None
    L = getattr(graph, "L", graph)
    if not sp.issparse(L) or L.ndim != 2 or L.shape[0] != L.shape[1]:
        raise InputError(
            "graph must be a pygsp.graphs.Graph or a square sparse Laplacian, "
            f"got {type(graph).__name__}"
        )
    return sp.csr_matrix(L)


# Terms whose values the summed block statistics give; fit_distributed
# refuses any other term of the registry (say, the graph total variation,
# which would need every edge's difference, not the Laplacian's rows).
_SUPPORTED = ("data", "sparsity", "graph", "encoder", "positive")


class _Summed:
    """The dictionary and encoder terms and the term values, from statistics."""

    def __init__(self, s, XX, xx, weights, codes):
        self.s, self.codes, self.weights = s, codes, weights
        fidelity, encoder = functions.fidelity_d, functions.encoder_e
        self.dictionary_term = fidelity.from_statistics(
            s["ZZ"], s["XZ"], xx, weights["data"]
        )
        self.dictionary_ball = functions.proj_columns_b2()
        self.encoder_term = self._encoder = None
        if codes.E is not None:
            self.encoder_term = encoder.from_statistics(
                XX, s["XZ"].T, s["zz"], weights["encoder"]
            )
            self._encoder = encoder.from_statistics(XX, s["XZ"].T, s["zz"])
        self._data = fidelity.from_statistics(s["ZZ"], s["XZ"], xx)
        self.encoder_ball = (
            functions.proj_columns_b2()
            if codes.project_encoder
            else pyu_functions.dummy()
        )

    def values(self):
        unweighted = dict(
            data=self._data.eval(self.codes.D),
            sparsity=self.s["l1"],
            positive=0.0,
        )
        if self.codes.L is not None:
            unweighted["graph"] = 0.5 * self.s["graph"]
        if self._encoder is not None:
            unweighted["encoder"] = self._encoder.eval(self.codes.E)
        return objective.term_values(unweighted, self.weights)

    def nnz(self):
        return self.s["nnz"] / (self.codes.N * self.codes.D.shape[1])


class DaskCodes:
    """Block-Jacobi codes step on a Dask cluster, for :func:`alternate`.

    Each block's data, Laplacian rows and codes are scattered once; a solve
    runs sweeps of :func:`_solve_block` on the workers, exchanging only the
    halo rows, until the total objective changes by less than `rtol`;
    :meth:`statistics` sums Z Zᵀ, X Zᵀ and the term values over blocks. The
    dictionary and encoder stay on the client (``D``, ``E``).
    """

    def __init__(self, client, X, L, blocks, D, E, weights, options):
        self.client, self.L, self.blocks = client, L, blocks
        self.D, self.E, self.weights = D, E, weights
        self.N, self.project_encoder = X.shape[0], options["project_encoder"]
        self.solver, self.rtol = options["solver"], options["rtol"]
        self.max_sweeps = (
            options["max_sweeps"] if L is not None and len(blocks) > 1 else 1
        )
        self.inner = dict(rtol=options["rtol"], maxit=options["max_inner"])
        self.layout = Layout(L, blocks)
        self._scatter(X)

    def _scatter(self, X):
        client, layout, lg = self.client, self.layout, self.weights["graph"]
        # hash=False: scattering equal data again (a second fit) must not share
        # keys with futures that the first one releases.
        blocks_of_X = [np.ascontiguousarray(X[b]) for b in self.blocks]
        self.Xf = client.scatter(blocks_of_X, hash=False)
        none = [None] * len(self.blocks)
        coupled = self.L is not None
        self.Lbb = client.scatter(layout.L_bb, hash=False) if coupled else none
        self.Lbh = client.scatter(layout.L_bh, hash=False) if coupled else none
        self.lmax = [
            client.submit(_block_setup, x, lbb, lg)
            for x, lbb in zip(self.Xf, self.Lbb, strict=True)
        ]
        m, dtype = self.D.shape[1], X.dtype
        self.Zf = [
            client.submit(np.zeros, (len(b), m), dtype, pure=False) for b in self.blocks
        ]
        data = client.gather([client.submit(_data_stats, x) for x in self.Xf])
        self.XX = sum(d["XX"] for d in data)
        self.xx = sum(d["xx"] for d in data)
        item, n = X.dtype.itemsize, X.shape[1]
        self.halo_bytes = layout.halo_rows() * m * item
        self.stats_bytes = len(self.blocks) * (m * m + n * m + 4) * 8
        self.n_workers = max(len(client.scheduler_info()["workers"]), 1)

    def _exchange(self):
        if self.L is None:
            return [[]] * len(self.blocks)
        return [
            [self.client.submit(_rows, self.Zf[c], idx) for c, idx in recv]
            for recv in self.layout.recv
        ]

    def solve(self):
        client, t = self.client, time.perf_counter()
        Df = client.scatter(self.D, broadcast=True, hash=False)
        E = self.E
        Ef = client.scatter(E, broadcast=True, hash=False) if E is not None else None
        last, sweeps, iters, halvings = None, 0, 0, 0
        for _ in range(self.max_sweeps):
            halo = self._exchange()
            out = [
                client.submit(
                    _solve_block,
                    self.Xf[b],
                    self.Lbb[b],
                    self.Lbh[b],
                    self.lmax[b],
                    self.Zf[b],
                    halo[b],
                    Df,
                    Ef,
                    self.weights,
                    self.solver,
                    self.inner,
                    pure=False,
                )  # fmt: skip
                for b in range(len(self.blocks))
            ]
            self.Zf = [client.submit(operator.getitem, o, 0) for o in out]
            info = client.gather(
                [client.submit(operator.itemgetter(1, 2, 3), o) for o in out]
            )
            sweeps += 1
            iters += max(i for _, i, _ in info)
            halvings += sum(h for _, _, h in info)
            current = sum(f for f, _, _ in info)  # objective before this sweep
            if last is not None and abs(last - current) <= self.rtol * abs(current):
                break
            last = current
        size = self.D.size + (self.E.size if self.E is not None else 0)
        return dict(
            z_iter=iters,
            z_time=time.perf_counter() - t,
            halvings=halvings,
            sweeps=sweeps,
            bytes_halo=(sweeps + 1) * self.halo_bytes,
            bytes_stats=self.stats_bytes,
            bytes_broadcast=self.n_workers * size * self.D.dtype.itemsize,
        )

    def statistics(self):
        halo, lg = self._exchange(), self.weights["graph"]
        parts = self.client.gather(
            [
                self.client.submit(
                    _block_stats,
                    self.Xf[b],
                    self.Zf[b],
                    self.Lbb[b],
                    self.Lbh[b],
                    halo[b],
                    lg,
                )  # fmt: skip
                for b in range(len(self.blocks))
            ]
        )
        summed = {k: sum(p[k] for p in parts) for k in parts[0]}
        return _Summed(summed, self.XX, self.xx, self.weights, self)

    def gather(self, out=None):
        """The codes, (n_samples, n_atoms), in the order of the samples.

        Into `out` when given (an array of that shape and X's dtype).
        """
        Z = np.empty((self.N, self.D.shape[1]), self.D.dtype) if out is None else out
        for b, z in zip(self.blocks, self.client.gather(self.Zf), strict=True):
            Z[b] = z
        return Z

    def scatter_codes(self, Z):
        """Send codes held on the client, (n_samples, n_atoms), to the blocks."""
        blocks_of_Z = [np.ascontiguousarray(Z[b]) for b in self.blocks]
        self.Zf = self.client.scatter(blocks_of_Z, hash=False)


# The estimator's parameters that the fit on Dask uses (with the terms').
_USED = (
    "dict_init", "project_encoder", "solver", "rtol", "max_inner", "rtol_outer",
    "max_outer", "random_state", "checkpoint", "checkpoint_every",
    "checkpoint_seconds",
)  # fmt: skip


def _estimator_params(n_atoms, params):
    """The estimator's parameters, its defaults filled in and checked."""
    from pyunlocbox_gae.model.estimator import GraphAutoEncoder

    usable = {*_USED, *objective.PARAMETERS}
    unknown = sorted(set(params) - usable)
    if unknown:
        raise InputError(
            f"fit_distributed does not take {', '.join(unknown)}; it takes "
            f"{', '.join(sorted(usable))}"
        )
    model = GraphAutoEncoder(n_atoms, **params)
    model._validate_params()  # the estimator's own constraints
    p = model.get_params()
    if p["solver"] == "primal_dual" and p["lg"]:
        raise InputError(
            "fit_distributed cannot use solver='primal_dual' with lg > 0: that "
            "splitting needs the graph's edge weights, and each block holds only "
            "its rows of the Laplacian; use 'auto', 'fista' or 'ista'"
        )
    return p


def _check(X, graph, weights):
    """X as a float array and the Laplacian (or None), checked."""
    X = np.asarray(X)
    if X.ndim != 2 or X.dtype not in (np.float32, np.float64):
        raise InputError(
            f"X must be a 2-D float32 or float64 array (n_samples, n_features), "
            f"got {X.dtype} with shape {X.shape}"
        )
    if not np.all(np.isfinite(X)):
        raise InputError("X holds NaN or infinite values: clean them first")
    unsupported = [
        objective.BY_NAME[name].parameter
        for name, w in weights.items()
        if w and name not in _SUPPORTED
    ]
    if unsupported:
        raise InputError(
            f"fit_distributed does not support {', '.join(unsupported)} > 0 (its "
            "codes step couples blocks through the Laplacian's rows only): fit "
            "with GraphAutoEncoder in one process"
        )
    L = _laplacian(graph) if weights["graph"] else None
    if weights["graph"] and L is None:
        raise InputError("lg > 0 needs graph= (a pygsp graph or its Laplacian)")
    if L is not None and L.shape[0] != X.shape[0]:
        raise InputError(
            f"the graph has {L.shape[0]} vertices but X has {X.shape[0]} samples: "
            "build the graph over the same samples"
        )
    return X, L


def fit_distributed(
    X, graph, client, n_atoms=128, *, n_blocks=None, max_sweeps=20, callback=None,
    **params,
):  # fmt: skip
    """Alternating fit with the codes step on Dask workers, block by block.

    The objective, parameters and result are those of
    :class:`pyunlocbox_gae.GraphAutoEncoder` (which runs in one process),
    through the same loop (:func:`pyunlocbox_gae.model.alternate.alternate`)
    with a block-Jacobi codes step (:class:`DaskCodes`).

    Parameters
    ----------
    X : ndarray, shape (n_samples, n_features)
        Training data, float32 or float64 (kept).
    graph : pygsp.graphs.Graph or sparse matrix or None
        Graph over the samples, or its Laplacian (N, N); None when lg = 0.
    client : distributed.Client
        Client of the cluster the blocks are sent to.
    n_atoms : int
    n_blocks : int, optional
        Number of sample blocks; default two per worker.
    max_sweeps : int
        Block-Jacobi sweeps per codes step (each sweep exchanges the halo).
    callback : callable, optional
        Called with each history entry.
    **params
        Parameters of :class:`~pyunlocbox_gae.GraphAutoEncoder`, with its
        defaults and checks: the terms' weights (``ld``, ``ls``, ``lg``,
        ``le``, ``positive_code``; the graph total variation ``lt`` is
        refused), ``dict_init``, ``project_encoder``, ``solver`` (the
        splitting of each block's codes problem), ``rtol`` (each block's
        solve and the sweeps), ``max_inner``, ``rtol_outer``, ``max_outer``,
        ``random_state``, and ``checkpoint``, ``checkpoint_every`` and
        ``checkpoint_seconds`` (a resumable fit: the codes are gathered on
        the client for each write and sent back to the blocks when the fit
        resumes; the file also records ``n_blocks`` and ``max_sweeps``).

    Returns
    -------
    D : ndarray (n_atoms, n_features)
        The atoms, as ``GraphAutoEncoder.components_``.
    Z : ndarray (n_samples, n_atoms)
        The codes, gathered on the client in the order of X.
    E : ndarray (n_atoms, n_features) or None
        The encoder.
    history : list of dict
        As ``GraphAutoEncoder.history_``, plus ``sweeps`` and the bytes sent
        per outer iteration: ``bytes_halo`` (worker to worker),
        ``bytes_stats`` (workers to client) and ``bytes_broadcast`` (D and E,
        client to workers).

    Examples
    --------
    >>> import numpy as np
    >>> from distributed import Client, LocalCluster
    >>> X = np.random.default_rng(0).random((60, 5))
    >>> with LocalCluster(n_workers=2, threads_per_worker=1, processes=False,
    ...                   dashboard_address=None) as cluster, Client(cluster) as c:
    ...     D, Z, E, hist = fit_distributed(X, None, c, n_atoms=4, ls=0.1,
    ...                                     max_outer=3, random_state=0)
    >>> D.shape, Z.shape, E is None, len(hist)
    ((4, 5), (60, 4), True, 3)
    """
    p = _estimator_params(n_atoms, params)
    weights = objective.term_weights(p)
    X, L = _check(X, graph, weights)
    N = X.shape[0]
    if n_blocks is None:
        n_blocks = 2 * max(len(client.scheduler_info()["workers"]), 1)
    n_blocks = min(int(n_blocks), N)
    blocks = (
        partition(L, n_blocks)
        if L is not None
        else np.array_split(np.arange(N), n_blocks)
    )
    rng = check_random_state(p["random_state"])
    D = init_dictionary(p["dict_init"], X.T, n_atoms, rng, X.dtype)
    E = np.zeros((n_atoms, X.shape[1]), dtype=X.dtype) if weights["encoder"] else None
    options = dict(p, max_sweeps=max_sweeps)
    codes = DaskCodes(client, X, L, blocks, D, E, weights, options)
    layout = dict(n_blocks=n_blocks, max_sweeps=int(max_sweeps))
    saver, history = _checkpointer(p, layout, X, L, codes, rng)
    history = alternate(
        codes,
        **{k: p[k] for k in ("solver", "rtol", "max_inner", "rtol_outer", "max_outer")},
        callback=callback,
        history=history,
        checkpoint=saver.update if saver is not None else None,
    )
    return np.ascontiguousarray(D.T), codes.gather(), E, history


def _checkpointer(p, layout, X, L, codes, rng):
    """The fit's checkpoint writer and the history it resumes, or Nones.

    The codes live on the workers: they are gathered into one array on the
    client before each write (the size of the result the fit returns), and
    sent back to the blocks when a fit resumes.
    """
    if p["checkpoint"] is None:
        return None, None
    Z = np.zeros((X.shape[0], codes.D.shape[1]), X.dtype)
    params = dict(checkpoint.trajectory_params(p), **layout)
    saver = checkpoint.Checkpointer(
        p["checkpoint"],
        p["checkpoint_every"],
        p["checkpoint_seconds"],
        store.fingerprint(X),
        checkpoint.graph_fingerprint(L),
        params,
        dict(D=codes.D, Z=Z, E=codes.E),
        rng,
    )
    saver.before_write = lambda: codes.gather(out=Z)
    history = saver.resume()
    if history is not None:
        codes.scatter_codes(Z)
    return saver, history
