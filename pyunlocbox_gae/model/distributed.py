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
from scipy.sparse.csgraph import reverse_cuthill_mckee
from sklearn.utils import check_random_state

from pyunlocbox_gae import _linalg, functions, solvers
from pyunlocbox_gae.errors import InputError
from pyunlocbox_gae.model import estimator as autoencoder
from pyunlocbox_gae.model.transform import _shifted

__all__ = ["fit_distributed", "partition"]


def partition(L, n_blocks):
    """Blocks of samples: consecutive runs of reverse Cuthill–McKee order.

    Parameters
    ----------
    L : sparse matrix (N, N)
        Symmetric Laplacian or adjacency matrix of the graph over the samples
        (only its pattern is used), or None for no graph (blocks of
        consecutive samples).
    n_blocks : int
        Number of blocks, at most N.

    Returns
    -------
    list of ndarray
        Indices of the samples of each block, in the order used inside the
        block; together a permutation of ``range(N)``.

    Examples
    --------
    >>> import scipy.sparse as sp
    >>> # Two chains 0-2-4 and 1-3-5 interleaved: each becomes one block.
    >>> A = sp.csr_matrix(([1.0] * 8, ([0, 2, 2, 4, 1, 3, 3, 5],
    ...                                [2, 0, 4, 2, 3, 1, 5, 3])), shape=(6, 6))
    >>> [sorted(b.tolist()) for b in partition(A, 2)]
    [[1, 3, 5], [0, 2, 4]]
    """
    if L is None:
        raise InputError("partition needs the graph's matrix; got None")
    N = L.shape[0]
    if not 1 <= int(n_blocks) <= max(N, 1):
        raise InputError(
            f"n_blocks must be between 1 and the number of samples ({N}), "
            f"got {n_blocks}"
        )
    order = reverse_cuthill_mckee(sp.csr_matrix(L), symmetric_mode=True)
    return [np.asarray(b, dtype=np.int64) for b in np.array_split(order, n_blocks)]


class _statistics(functions.fidelity_d):
    """A dictionary (or encoder) term whose statistics were reduced elsewhere.

    :class:`functions.fidelity_d` and :class:`functions.encoder_e` evaluate
    themselves from (S Sᵀ, T Sᵀ, ||T||²) once prepared; here those come summed
    over the blocks, so preparing is a no-op and the data never comes back.
    """

    def __init__(self, P, Q, tt, lambda_):
        functions._term.__init__(self, lambda_)
        self._stats = (P, Q, float(tt))

    def prepare(self):
        pass

    def release(self):
        pass


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


def _solve_block(X_b, L_bb, L_bh, lmax, Z_b, halo, D, E, w, inner):
    """One block-Jacobi step: FISTA on the block's codes, halo fixed.

    Returns the new codes (a new array: task inputs are never modified) and
    the block's share of the total objective at the *incoming* codes, so the
    client learns the objective of the previous sweep for free.
    """
    ld, ls, lg, le = w
    Z = np.array(Z_b, order="C", copy=True)
    Xm, Zm = X_b.T, Z.T
    terms = [functions.fidelity_z(Xm, D, ld)]
    if lg and L_bb is not None:
        terms.append(functions.dirichlet(L_bb, lg, lmax=max(lmax, 1e-12)))
    if E is not None and le:
        terms.append(functions.encoder_z(Xm, E, le))
    smooth = functions.smooth_sum(terms)
    C = _halo_term(L_bh, halo, lg, Z)
    f = smooth if C is None else _shifted(smooth, C.T)
    g = functions.sparsity(ls) if ls else pyu_functions.dummy()
    lip = max(f.lipschitz(), 1e-30)
    ret = solvers.solve(
        [g, f], Zm, solvers.make_solver("fista", 1.0 / lip), eval_every=5, **inner
    )
    # The block objective counts the cross-block graph energy once per side:
    # half of it belongs to this block.
    before = ret["objective"][0]
    if C is not None:
        before -= 0.5 * _linalg.vdot64(C, Z_b)
    return Z, before, ret["niter"]


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


class _Layout:
    """Blocks, their Laplacian pieces and who sends which rows to whom."""

    def __init__(self, L, blocks):
        N = sum(len(b) for b in blocks)
        self.blocks = blocks
        owner = np.empty(N, dtype=np.int64)
        local = np.empty(N, dtype=np.int64)
        for b, idx in enumerate(blocks):
            owner[idx] = b
            local[idx] = np.arange(len(idx))
        self.L_bb, self.L_bh, self.recv = [], [], []
        for b, idx in enumerate(blocks):
            if L is None:
                self.L_bb.append(None)
                self.L_bh.append(None)
                self.recv.append([])
                continue
            rows = L[idx]  # (N_b, N) CSR, rows in block order
            cols = np.unique(rows.indices)
            outside = cols[owner[cols] != b]
            # Halo ordered by owner block, so halo rows arrive as one list.
            outside = outside[np.lexsort((local[outside], owner[outside]))]
            self.L_bb.append(_csr(rows[:, idx]))
            self.L_bh.append(_csr(rows[:, outside]) if len(outside) else None)
            recv = []
            for c in np.unique(owner[outside]):
                recv.append((int(c), local[outside[owner[outside] == c]]))
            self.recv.append(recv)

    def halo_rows(self):
        """Total rows sent per halo exchange."""
        return sum(len(i) for r in self.recv for _, i in r)


def _csr(A):
    A = sp.csr_matrix(A)
    A.sort_indices()
    return A


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


def fit_distributed(
    X,
    graph,
    client,
    n_atoms=128,
    *,
    ld=10.0,
    ls=1.0,
    lg=0.0,
    le=0.0,
    n_blocks=None,
    dict_init="uniform",
    project_encoder=True,
    rtol=1e-4,
    rtol_outer=1e-4,
    max_inner=100,
    max_sweeps=20,
    max_outer=20,
    random_state=None,
    callback=None,
):
    """Alternating fit with the codes step on Dask workers, block by block.

    The objective, parameters and result are those of
    :class:`pyunlocbox_gae.GraphAutoEncoder` (which runs in one process).

    Parameters
    ----------
    X : ndarray, shape (n_samples, n_features)
        Training data, float32 or float64 (kept).
    graph : pygsp.graphs.Graph or sparse matrix or None
        Graph over the samples, or its Laplacian (N, N); None when lg = 0.
    client : distributed.Client
        Client of the cluster the blocks are sent to.
    n_atoms : int
    ld, ls, lg, le : float
        Weights of the data, sparsity, graph and encoder terms.
    n_blocks : int, optional
        Number of sample blocks; default two per worker.
    dict_init, project_encoder, random_state
        As for :class:`~pyunlocbox_gae.GraphAutoEncoder`.
    rtol, max_inner
        Stopping of each block's FISTA solve and (rtol) of the sweeps.
    max_sweeps : int
        Block-Jacobi sweeps per codes step (each sweep exchanges the halo).
    rtol_outer, max_outer
        Stopping of the alternation, as for the estimator.
    callback : callable, optional
        Called with each history entry.

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
    X = np.asarray(X)
    if X.ndim != 2 or X.dtype not in (np.float32, np.float64):
        raise InputError(
            f"X must be a 2-D float32 or float64 array (n_samples, n_features), "
            f"got {X.dtype} with shape {X.shape}"
        )
    if not np.all(np.isfinite(X)):
        raise InputError("X holds NaN or infinite values: clean them first")
    ld, ls, lg, le = (float(v or 0.0) for v in (ld, ls, lg, le))
    N, n = X.shape
    L = _laplacian(graph) if lg else None
    if lg and L is None:
        raise InputError("lg > 0 needs graph= (a pygsp graph or its Laplacian)")
    if L is not None and L.shape[0] != N:
        raise InputError(
            f"the graph has {L.shape[0]} vertices but X has {N} samples: "
            "build the graph over the same samples"
        )
    if n_blocks is None:
        n_blocks = 2 * max(len(client.scheduler_info()["workers"]), 1)
    n_blocks = min(int(n_blocks), N)
    blocks = (
        partition(L, n_blocks)
        if L is not None
        else np.array_split(np.arange(N), n_blocks)
    )
    layout = _Layout(L, blocks)
    rng = check_random_state(random_state)
    if not isinstance(dict_init, str):
        # _init_dictionary normalises a float64 array in place: keep the
        # caller's array intact.
        dict_init = np.array(dict_init, dtype=np.float64)
    D = autoencoder._init_dictionary(dict_init, X.T, n_atoms, rng, X.dtype)
    E = np.zeros((n_atoms, n), dtype=X.dtype) if le else None
    dtype, item = X.dtype, X.dtype.itemsize
    w = (ld, ls, lg, le)
    inner = dict(rtol=rtol, maxit=max_inner)

    # Scatter the fixed data once; codes start at zero, made on the workers.
    Xf = client.scatter([np.ascontiguousarray(X[b]) for b in blocks])
    Lbb = client.scatter(layout.L_bb) if L is not None else [None] * len(blocks)
    Lbh = client.scatter(layout.L_bh) if L is not None else [None] * len(blocks)
    lmax = [client.submit(_block_setup, x, l, lg) for x, l in zip(Xf, Lbb, strict=True)]
    Zf = [client.submit(np.zeros, (len(b), n_atoms), dtype, pure=False) for b in blocks]
    data = client.gather([client.submit(_data_stats, x) for x in Xf])
    XX = sum(d["XX"] for d in data)
    xx = sum(d["xx"] for d in data)
    halo_bytes = layout.halo_rows() * n_atoms * item
    stats_bytes = len(blocks) * (n_atoms * n_atoms + n * n_atoms + 4) * 8
    n_workers = max(len(client.scheduler_info()["workers"]), 1)

    def exchange(Zf):
        return [
            [client.submit(_rows, Zf[c], idx) for c, idx in layout.recv[b]]
            for b in range(len(blocks))
        ]

    def codes_step(Zf, D, E):
        Df = client.scatter(D, broadcast=True)
        Ef = client.scatter(E, broadcast=True) if E is not None else None
        last, sweeps, iters, t = None, 0, 0, time.perf_counter()
        max_s = max_sweeps if L is not None and len(blocks) > 1 else 1
        for _ in range(max_s):
            halo = exchange(Zf) if L is not None else [[]] * len(blocks)
            out = [
                client.submit(
                    _solve_block,
                    Xf[b],
                    Lbb[b],
                    Lbh[b],
                    lmax[b],
                    Zf[b],
                    halo[b],
                    Df,
                    Ef,
                    w,
                    inner,
                    pure=False,
                )
                for b in range(len(blocks))
            ]
            Zf = [client.submit(operator.getitem, o, 0) for o in out]
            info = client.gather(
                [client.submit(operator.itemgetter(1, 2), o) for o in out]
            )
            sweeps += 1
            iters += max(i for _, i in info)
            current = sum(f for f, _ in info)  # objective before this sweep
            if last is not None and abs(last - current) <= rtol * abs(current):
                break
            last = current
        return Zf, sweeps, iters, time.perf_counter() - t

    def statistics(Zf):
        halo = exchange(Zf) if L is not None else [[]] * len(blocks)
        parts = client.gather(
            [
                client.submit(_block_stats, Xf[b], Zf[b], Lbb[b], Lbh[b], halo[b], lg)
                for b in range(len(blocks))
            ]
        )
        return {k: sum(p[k] for p in parts) for k in parts[0]}

    def terms(s, D, E):
        data_d = _statistics(s["ZZ"], s["XZ"], xx, ld)
        out = dict(
            data=data_d.eval(D) if ld else 0.0,
            sparsity=ls * s["l1"],
            graph=0.5 * lg * s["graph"] if lg else 0.0,
            encoder=(
                _statistics(XX, s["XZ"].T, s["zz"], le).eval(E)
                if E is not None
                else 0.0
            ),
        )
        out["objective"] = sum(out[k] for k in autoencoder.TERMS)
        out["nnz"] = s["nnz"] / (N * n_atoms)
        return out

    history, last = [], None
    for outer in range(1, max_outer + 1):
        entry = dict(outer=outer)
        Zf, entry["sweeps"], entry["z_iter"], entry["z_time"] = codes_step(Zf, D, E)
        s = statistics(Zf)
        ball = functions.proj_columns_b2()
        entry["d_iter"], entry["d_time"] = autoencoder._stats_block(
            _statistics(s["ZZ"], s["XZ"], xx, ld), ball, D, "fista", inner
        )
        if E is not None:
            ball_e = (
                functions.proj_columns_b2()
                if project_encoder
                else pyu_functions.dummy()
            )
            entry["e_iter"], entry["e_time"] = autoencoder._stats_block(
                _statistics(XX, s["XZ"].T, s["zz"], le), ball_e, E, "fista", inner
            )
        entry.update(terms(s, D, E))
        entry["bytes_halo"] = entry["sweeps"] * halo_bytes + halo_bytes
        entry["bytes_stats"] = stats_bytes
        entry["bytes_broadcast"] = (
            n_workers * (D.size + (E.size if E is not None else 0)) * item
        )
        history.append(entry)
        if callback is not None:
            callback(entry)
        current = entry["objective"]
        if last is not None and abs(current - last) <= rtol_outer * abs(current):
            break
        last = current
    # As the estimator: a last codes step with the final D and E.
    Zf, _, entry["z_final_iter"], entry["z_final_time"] = codes_step(Zf, D, E)
    s = statistics(Zf)
    entry.update(terms(s, D, E))
    Z = np.empty((N, n_atoms), dtype=dtype)
    for b, z in zip(blocks, client.gather(Zf), strict=True):
        Z[b] = z
    return np.ascontiguousarray(D.T), Z, E, history
