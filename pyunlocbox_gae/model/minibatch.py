r"""
Codes step in cache-sized blocks of samples, with dictionary updates between blocks.

.. autosummary::
    BlockCodes
    block_size
    dictionary_sweeps

Without a graph term (lg = 0, lt = 0) the codes problem is separable over
the samples: each block of samples can be solved on its own, and the
statistics of the dictionary step, Z Zᵀ and X Zᵀ, are sums over the blocks.
:class:`BlockCodes` is a codes step for
:func:`~pyunlocbox_gae.model.alternate.alternate` that uses this:

* it solves the codes block by block (FISTA on a few hundred samples at a
  time, each block with its own momentum and its own stopping rule), so a
  block's data, codes and buffers stay in the processor's cache during its
  whole solve instead of being streamed from memory at every iteration;
* it keeps the statistics up to date as each block is solved (the block's
  old contribution taken out, its new one added), so the dictionary step
  needs no pass over the data;
* between blocks it updates the dictionary from the current statistics
  (:func:`dictionary_sweeps`: exact minimisation over one atom at a time),
  as online dictionary learning does (Mairal et al., 2010), so one pass over
  the data moves the dictionary many times instead of once;
* at the start of each of its first passes it replaces atoms that no code uses, and the
  less used of two atoms that point the same way, by the samples the
  dictionary represents worst (:meth:`BlockCodes.replace_atoms`): the
  descent alone keeps such pairs, a local minimum where a direction of the
  data has no atom.

Every step, codes of one block or one atom, minimises the estimator's own
objective over its variable with the others fixed (a block's FISTA restarts
its momentum when the block's objective rises): it is the same problem as
the whole-batch codes step solves, block coordinate descent with smaller
blocks. The dictionary step of the loop then finishes each pass on the
exact statistics. Only a replacement of atoms can raise the objective, once,
at the start of a pass.
"""

import time
import warnings

import numba
import numpy as np
from sklearn.exceptions import ConvergenceWarning
from threadpoolctl import threadpool_limits

from pyunlocbox_gae import _linalg, functions, solvers
from pyunlocbox_gae._fused import shrink
from pyunlocbox_gae.errors import ConvergenceError, InputError
from pyunlocbox_gae.model import objective as _objective

#: Halvings of a block's step before its divergence is an error.
MAX_HALVINGS = 5
#: Power iterations and margin of the step between blocks (see BlockCodes._setup).
POWER_ITERATIONS = 8
LIPSCHITZ_MARGIN = 1.02

#: An atom whose use, Σ z_j² relative to the largest (at least 1), is below
#: this is unused: the sweeps leave it, the start of a pass replaces it.
UNUSED = 1e-12

#: Two atoms whose cosine exceeds this are near duplicates: at the start of
#: a pass, the less used one is replaced (see BlockCodes.replace_atoms).
DUPLICATE_COSINE = 0.9
#: Passes at whose start atoms may be replaced. On data whose atoms are all
#: alike (non-negative images: cosines above 0.9 are common) replacements
#: would go on at every pass; after these passes the descent settles.
REPLACE_PASSES = 10

#: Bytes of the working set of one block (its data, codes and two buffers):
#: about the size of a core's L2 cache.
CACHE_BYTES = 1 << 20


def block_size(n_features, n_atoms, itemsize=4, cache_bytes=CACHE_BYTES):
    """Samples per block so that a block's arrays fit in `cache_bytes`.

    A block holds its data row (n_features) and its codes, the FISTA
    point, the gradient step and the constant (4 × n_atoms) per sample.

    Examples
    --------
    >>> block_size(96, 128)
    384
    >>> block_size(96, 4096)
    64
    """
    per_sample = (n_features + 4 * n_atoms) * itemsize
    return int(max(64, min(4096, cache_bytes // per_sample)) // 64 * 64)


@numba.njit(cache=True, nogil=True)
def _prox_momentum(W, Y, y_scale, C, Z, thr, low, beta):
    """W + y_scale Y + C, soft threshold at `thr`, clip below at `low`, into
    Z; then the FISTA point z + beta (z - z_old) into W. One block, one
    thread: a block is too small to share between threads (the whole-batch
    step's kernel, ``_fused._fista_rows``, starts a parallel region per
    call)."""
    k, m = W.shape
    for i in range(k):
        for c in range(m):
            v = W[i, c] + C[i, c]
            if y_scale != 0:
                v += y_scale * Y[i, c]
            z = shrink(v, thr)
            if z < low:
                z = low
            W[i, c] = z + beta * (z - Z[i, c])
            Z[i, c] = z


@numba.njit(cache=True, nogil=True)
def _sweeps(D, A, B, sweeps):
    n, m = D.shape
    u = np.empty(n)
    for _ in range(sweeps):
        for j in range(m):
            a = A[j, j]
            if a <= UNUSED * max(1.0, A[0, 0]):  # unused atom: left as it is
                continue
            for i in range(n):
                u[i] = B[i, j]
            for k in range(m):
                akj = A[k, j]
                if akj != 0.0:
                    for i in range(n):
                        u[i] -= D[i, k] * akj
            norm = 0.0
            for i in range(n):
                u[i] = D[i, j] + u[i] / a
                norm += u[i] * u[i]
            scale = 1.0 / max(1.0, np.sqrt(norm))
            for i in range(n):
                D[i, j] = u[i] * scale


def dictionary_sweeps(D, A, B, sweeps=1):
    r"""Minimise over one atom at a time, in place: ``sweeps`` passes over the atoms.

    Minimises :math:`\frac12 \operatorname{tr}(D^\top D A) -
    \operatorname{tr}(D^\top B)` subject to :math:`\|d_j\| \le 1`, that is
    :math:`\frac12 \|X - DZ\|^2` up to a constant with the statistics
    :math:`A = ZZ^\top` and :math:`B = XZ^\top`. Each atom gets its exact
    minimiser with the others fixed (the unconstrained one projected onto
    the unit ball), so the objective never increases; an atom that no code
    uses (:math:`A_{jj} = 0`) is left unchanged.

    Parameters
    ----------
    D : ndarray (n, m)
        Dictionary, updated in place (float32 or float64).
    A, B : ndarray (m, m) and (n, m)
        The statistics Z Zᵀ and X Zᵀ (float64).
    sweeps : int
        Passes over the atoms.

    Examples
    --------
    >>> import numpy as np
    >>> Z = np.array([[1.0, 0.0], [0.0, 2.0]])
    >>> X = np.array([[0.5, 0.0], [0.0, 1.0]])
    >>> D = np.eye(2)
    >>> dictionary_sweeps(D, Z @ Z.T, X @ Z.T)
    >>> D  # atoms that reproduce X from Z, within the unit ball
    array([[0.5, 0. ],
           [0. , 0.5]])
    """
    work = np.array(D, dtype=np.float64)  # (n, m): small
    _sweeps(work, np.ascontiguousarray(A, dtype=np.float64),
            np.ascontiguousarray(B, dtype=np.float64), int(sweeps))  # fmt: skip
    D[...] = work


class _Statistics:
    """The dictionary and encoder terms and the term values, from the sums."""

    def __init__(self, codes):
        o, s = codes.objective, codes
        w = o.weights
        self.codes = codes
        self.dictionary_term = functions.fidelity_d.from_statistics(
            s.ZZ, s.XZ, s.xx, w["data"]
        )
        self.dictionary_ball = o.dictionary_ball
        self._data = functions.fidelity_d.from_statistics(s.ZZ, s.XZ, s.xx)
        self.encoder_term = self._encoder = None
        if o.E is not None:
            self.encoder_term = functions.encoder_e.from_statistics(
                s.XX, s.XZ.T, s.zz, w["encoder"]
            )
            self._encoder = functions.encoder_e.from_statistics(s.XX, s.XZ.T, s.zz)
        self.encoder_ball = o.encoder_ball

    def values(self):
        unweighted = dict(
            data=self._data.eval(self.codes.D),
            sparsity=self.codes.l1,
            positive=0.0,
        )
        if self._encoder is not None:
            unweighted["encoder"] = self._encoder.eval(self.codes.E)
        return _objective.term_values(unweighted, self.codes.objective.weights)

    def nnz(self):
        return self.codes.nz / max(self.codes.objective.Z.size, 1)


class BlockCodes:
    """Codes step in blocks of samples, for problems without a graph term.

    Parameters
    ----------
    objective : pyunlocbox_gae.model.objective.Objective
        The terms, over arrays updated in place; no graph term (lg = 0 and
        lt = 0). Its Z must be an (m, N) view of sample-major memory (the
        estimator's codes), X any (n, N) array.
    rtol, max_inner, eval_every
        Stopping of each block's FISTA: relative change of the block's
        objective between two evaluations `eval_every` iterations apart below
        `rtol`, or `max_inner` iterations.
    block : int or None
        Samples per block; None: :func:`block_size`.
    updates : int or None
        Dictionary updates per pass over the data (each one sweep of
        :func:`dictionary_sweeps` on the current statistics, evenly spaced
        between blocks); None: one after every block, or after every 2 m
        samples when blocks are smaller (an update costs about as much as
        coding 2 m / 3 samples once, with m atoms); 0 keeps the dictionary
        fixed during a pass, as the whole-batch codes step does.
    replace : bool
        At the start of each of the first :data:`REPLACE_PASSES` passes that
        move the dictionary, replace atoms that no code uses and the less
        used atom of each pair of near duplicates (see
        :meth:`replace_atoms`).
    seed : int
        Seed of the order of the blocks, drawn anew at each pass (the pass
        number :attr:`passes` is mixed in, so a fit resumed from a checkpoint
        repeats the order of an uninterrupted one).
    name : str
        What messages call the step.

    Attributes
    ----------
    passes : int
        Passes over the data made so far (set it when resuming a fit).
    """

    def __init__(
        self,
        objective,
        rtol=1e-4,
        max_inner=100,
        eval_every=5,
        block=None,
        updates=None,
        replace=True,
        seed=0,
        name="codes step",
    ):
        w = objective.weights
        if w.get("graph") or w.get("graph_tv"):
            raise InputError(
                "BlockCodes solves each block of samples on its own, which a "
                "graph term couples: use LocalCodes when lg > 0 or lt > 0"
            )
        Z = objective.Z
        if not Z.T.flags.c_contiguous:
            raise InputError(
                "BlockCodes needs the codes sample-major: Z as the (m, N) "
                "transposed view of a C-contiguous (N, m) array"
            )
        if block is not None and int(block) < 1:
            raise InputError(f"block must be a positive number of samples, got {block}")
        self.splitting = solvers.choose_splitting("fista", objective.problem)
        self.objective = objective
        self.D, self.E = objective.D, objective.E
        self.X = objective.X.T  # (N, n): sample-major rows of the data, a view
        self.Zs = Z.T  # (N, m), a view
        N, n = self.X.shape
        m = Z.shape[0]
        self.block = int(block) if block else block_size(n, m, Z.dtype.itemsize)
        self.bounds = [(s, min(s + self.block, N)) for s in range(0, N, self.block)]
        if updates is None:  # one per block, or per 2 m samples if more
            updates = -(-N // max(self.block, 2 * m))
        self.updates = int(updates)
        self.replace = bool(replace)
        self.rtol, self.max_inner = rtol, int(max_inner)
        self.eval_every = int(eval_every)
        self.seed, self.name, self.passes = int(seed), name, 0
        self._sums = None  # made from the codes at the first use
        self._v = None  # top eigenvector of DᵀD, for the step between blocks
        self.xx = self.XX = None

    # -- statistics -----------------------------------------------------------

    def _block_stats(self, s, e):
        Zb, Xb = self.Zs[s:e], self.X[s:e]
        return [
            _linalg.gram64(Zb.T),
            _linalg.gram64(Xb.T, Zb.T),
            _linalg.vdot64(Zb),
            _linalg.abs_sum64(Zb),
            _linalg.count_nonzero(Zb),
        ]

    def _ensure_sums(self):
        """Z Zᵀ, X Zᵀ, ||Z||², ||Z||_1 and non-zeros of the current codes."""
        if self._sums is not None:
            return
        m, n = self.Zs.shape[1], self.X.shape[1]
        self._sums = [np.zeros((m, m)), np.zeros((n, m)), 0.0, 0.0, 0]
        for s, e in self.bounds:
            for i, value in enumerate(self._block_stats(s, e)):
                self._sums[i] = self._sums[i] + value
        if self.xx is None:  # the data's: fixed
            self.xx = _linalg.vdot64(self.X)
            self.XX = _linalg.gram64(self.objective.X) if self.E is not None else None

    @property
    def ZZ(self):
        return self._sums[0]

    @property
    def XZ(self):
        return self._sums[1]

    @property
    def zz(self):
        return self._sums[2]

    @property
    def l1(self):
        return self._sums[3]

    @property
    def nz(self):
        return self._sums[4]

    def statistics(self):
        """The terms of the dictionary and encoder steps, from the sums."""
        self._ensure_sums()
        return _Statistics(self)

    # -- atoms that learn nothing ---------------------------------------------

    def _redundant_atoms(self):
        """Atoms no code uses, and the less used atom of each near-duplicate pair."""
        use = np.diag(self.ZZ)
        unused = use <= UNUSED * max(float(use.max()), 1.0)
        G = _linalg.gram64(np.asarray(self.D.T, np.float64))  # DᵀD
        norms = np.sqrt(np.diag(G))
        cos = np.abs(G) / np.maximum(np.outer(norms, norms), 1e-300)
        np.fill_diagonal(cos, 0.0)
        out = set(np.flatnonzero(unused))
        for i, j in zip(*np.nonzero(np.triu(cos > DUPLICATE_COSINE)), strict=True):
            if i not in out and j not in out:
                out.add(i if use[i] < use[j] else j)
        return sorted(int(j) for j in out)

    def replace_atoms(self):
        """Replace atoms that add nothing by the worst-represented samples.

        An atom that no code uses never moves again, and of two atoms that
        point the same way (cosine above :data:`DUPLICATE_COSINE`) one is
        nearly redundant: the alternating descent keeps both, in a local
        minimum where some direction of the data has no atom. Each such atom
        is replaced by the normalised sample with the largest residual
        ||x - D z||², as K-SVD does (Aharon et al., 2006), and its codes are
        set to zero (the next codes step fits them). The objective may rise
        at this step; the passes that follow descend again. Deterministic:
        a fit resumed from a checkpoint replaces the same atoms.

        Returns
        -------
        list of int
            The atoms replaced.
        """
        atoms = self._redundant_atoms()
        if not atoms:
            return atoms
        D, Zs, X = self.D, self.Zs, self.X
        Zs[:, atoms] = 0
        residual = np.empty(X.shape[0])
        for s, e in self.bounds:
            R = Zs[s:e] @ D.T - X[s:e]  # a block's residuals: small
            residual[s:e] = np.einsum("ij,ij->i", R, R, dtype=np.float64)
        worst = np.argsort(residual, kind="stable")[::-1][: len(atoms)]
        for j, i in zip(atoms, worst, strict=False):  # (fewer samples than atoms)
            x = np.asarray(X[i], np.float64)
            norm = np.linalg.norm(x)
            if norm > 0:
                D[:, j] = x / norm
        self._sums = None  # the codes changed
        self._ensure_sums()
        return atoms

    # -- the codes step ---------------------------------------------------------

    def _setup(self, scale=1.0, exact=True):
        """The fixed parts of the block solves with the current D and E.

        The step is 1/L with L the exact Lipschitz constant of the smooth
        terms when `exact`; between blocks, after the dictionary moved a
        little, ||D||² comes from a few power iterations on DᵀD started from
        its last top eigenvector, with a margin (an eigen-decomposition per
        block would cost as much as a fifth of the pass).
        """
        w, D, E = self.objective.weights, self.D, self.E
        dt = self.Zs.dtype
        ld, ls = w["data"], w["sparsity"]
        le = w.get("encoder", 0.0) if E is not None else 0.0
        G = _linalg.gram64(D.T)
        if exact or self._v is None:
            lip = self.objective.problem.smooth_part().lipschitz()
            self._v = np.linalg.eigh(G)[1][:, -1]
        else:
            v = self._v
            for _ in range(POWER_ITERATIONS):
                v = G @ v
                v /= max(np.linalg.norm(v), 1e-300)
            self._v = v
            lip = LIPSCHITZ_MARGIN * ld * float(v @ G @ v) + le
        if not lip > 0:
            raise InputError(f"{self.name}: the codes problem has no smooth term")
        step = scale / lip
        # More than twice as many atoms as features: the data term's step
        # through D and Dᵀ (2 n m per sample) rather than DᵀD (m² per sample).
        factored = D.shape[1] > 2 * D.shape[0]
        A = np.eye(G.shape[0]) * (1.0 - step * le) - (step * ld) * G
        # The constant of the gradient step, per block: X_b @ M, M (n, m).
        M = step * ld * np.asarray(D, np.float64) * (not factored)
        if le:
            M = M + step * le * np.asarray(E, np.float64).T
        return dict(
            factored=factored, y_scale=dt.type((1.0 - step * le) * factored),
            Dneg=np.ascontiguousarray(-step * ld * np.asarray(D, np.float64), dt),
            A=A.astype(dt), M=M.astype(dt), thr=dt.type(step * ls),
            low=dt.type(0.0 if w.get("positive") else -np.inf), ld=ld, ls=ls,
            le=le, DT=np.ascontiguousarray(D.T),
            ET=np.ascontiguousarray(E.T) if le else None,
        )  # fmt: skip

    def _block_objective(self, Xb, Zb, R, p):
        np.matmul(Zb, p["DT"], out=R)
        R -= Xb
        value = 0.5 * p["ld"] * _linalg.vdot64(R)
        if p["ls"]:
            value += p["ls"] * _linalg.abs_sum64(Zb)
        if p["le"]:
            value += 0.5 * p["le"] * _linalg.diff_sq64(Zb, Xb @ p["ET"])
        return value

    def _fista(self, Xb, Zb, p, bufs):
        """FISTA on one block from its codes; the iterations, or None if it
        diverged (an objective not finite, or rising with the momentum off)."""
        k = Zb.shape[0]
        Y, W, C, R = (b[:k] for b in bufs)
        np.matmul(Xb, p["M"], out=C)
        Y[...] = Zb
        dt = Zb.dtype.type
        last = self._block_objective(Xb, Zb, R, p)
        if not np.isfinite(last):
            return None
        t, it, restarted = 1.0, 0, False
        while it < self.max_inner:
            it += 1
            t_next = (1.0 + np.sqrt(1.0 + 4.0 * t * t)) / 2.0
            beta, t = (t - 1.0) / t_next, t_next
            if p["factored"]:  # W = -t ld (Y Dᵀ - X) D, plus y_scale Y below
                np.matmul(Y, p["DT"], out=R)
                R -= Xb
                np.matmul(R, p["Dneg"], out=W)
            else:
                np.matmul(Y, p["A"], out=W)
            _prox_momentum(W, Y, p["y_scale"], C, Zb, p["thr"], p["low"], dt(beta))
            Y, W = W, Y
            if it % self.eval_every and it < self.max_inner:
                continue
            value = self._block_objective(Xb, Zb, R, p)
            rise = value > last * (1 + 1e-6) + 1e-30
            if not np.isfinite(value) or (rise and restarted):
                return None
            if rise:  # the momentum overshot: restart it
                t, restarted = 1.0, True
                Y[...] = Zb
            else:
                restarted = False
            if abs(last - value) <= self.rtol * abs(value):
                break
            last = value
        return it

    def _solve_block(self, s, e, p, bufs):
        Xb, Zb = self.X[s:e], self.Zs[s:e]
        start = Zb.copy()  # a block's codes: small
        for halvings in range(MAX_HALVINGS + 1):
            # Overflow and NaN are detected by the block's objective and
            # reported below; numpy's warnings would only say it less clearly.
            with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
                it = self._fista(
                    Xb, Zb, p if not halvings else self._setup(0.5**halvings), bufs
                )
            if it is not None:
                return it, halvings
            Zb[...] = start
            if halvings < MAX_HALVINGS:
                warnings.warn(
                    f"{self.name}: the objective of samples {s} to {e - 1} "
                    "became non-finite or rose: solved again with the step "
                    f"halved (halving {halvings + 1} of at most {MAX_HALVINGS})",
                    ConvergenceWarning,
                    stacklevel=4,
                )
        raise ConvergenceError(
            f"{self.name}: the objective of samples {s} to {e - 1} is not finite "
            f"or rises even with the step halved {MAX_HALVINGS} times: the data "
            "holds values too large for its dtype (rescale it, or lower the "
            "weights), or a term's Lipschitz constant is too small for its step; "
            "the codes of these samples are left as they were"
        )

    def final_solve(self):
        """One pass with the dictionary fixed: the codes of the final model."""
        updates, self.updates = self.updates, 0
        try:
            return self.solve()
        finally:
            self.updates = updates

    def solve(self):
        """One pass over the blocks, in a random order; the dictionary moves
        between blocks (see the class's parameters).

        BLAS and numba run on one thread during the pass: a block's products
        and sums are too small to share, and on a loaded machine threads that
        wait for one another at every small product cost more than they save.
        """
        threads = numba.get_num_threads()
        numba.set_num_threads(1)
        try:
            with threadpool_limits(1, user_api="blas"):
                return self._pass()
        finally:
            numba.set_num_threads(threads)

    def _pass(self):
        t0 = time.perf_counter()
        self._ensure_sums()
        # (Before the first pass no code is set, so every atom looks unused.)
        replaced = []
        if self.replace and self.updates and self.nz and self.passes < REPLACE_PASSES:
            replaced = self.replace_atoms()
        p = self._setup()
        k, (n, m) = self.block, self.D.shape
        dt = self.Zs.dtype
        bufs = [np.empty((k, m), dt) for _ in range(3)] + [np.empty((k, n), dt)]
        rng = np.random.RandomState([self.seed, self.passes])
        order = rng.permutation(len(self.bounds))
        every = len(order) / self.updates if self.updates else np.inf
        iters, halvings, next_update = 0, 0, every
        for done, b in enumerate(order, 1):
            s, e = self.bounds[b]
            old = self._block_stats(s, e) if self.nz else None
            it, h = self._solve_block(s, e, p, bufs)
            iters, halvings = iters + it * (e - s), halvings + h
            new = self._block_stats(s, e)
            for i in (0, 1):  # the running sums: this block's codes are new
                self._sums[i] += new[i] if old is None else new[i] - old[i]
            if done >= next_update and done < len(order):
                next_update += every
                # The blocks still to solve see the moved dictionary.
                dictionary_sweeps(self.D, self.ZZ, self.XZ)
                p = self._setup(exact=False)
        # The sums of this pass's codes made anew, block by block in their
        # order: no drift from the running updates, and the same sums as a
        # fit resumed from these codes makes (checkpoints resume bit for bit).
        self._sums = None
        self._ensure_sums()
        self.passes += 1
        return dict(
            z_iter=int(round(iters / max(self.X.shape[0], 1))),
            z_time=time.perf_counter() - t0,
            halvings=halvings,
            replaced=len(replaced),
        )
