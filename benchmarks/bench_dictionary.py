"""Dictionary learning (lg = 0): time to objective against SPAMS and scikit-learn.

Three learners start from the same dictionary (random samples of X, unit
norm) on the same float32 problem (n = 96, a planted sparse dictionary, see
``problem.py``) and minimise the same objective

    F(D) = min_Z  ld/2 ||X - DZ||² + ls ||Z||_1,   ||d_j|| <= 1,

* ours: the loop of ``GraphAutoEncoder`` (``alternate.alternate``, lg = 0,
  le = 0) with the estimator's codes step at lg = 0 (``--codes block``,
  ``minibatch.BlockCodes``: FISTA on cache-sized blocks of samples, the
  dictionary updated from the running statistics after each block) or the
  whole-batch one (``--codes whole``); projected FISTA on D from the
  statistics after each pass; warm starts; in blocks, unused and
  near-duplicate atoms replaced at the start of the first 10 passes;
* SPAMS ``trainDL`` (online, LARS coding; mode 2, lambda1 = ls / ld), if the
  optional ``spams`` package is installed (``pip install spams-bin``: a
  comparison only, never a dependency of the package);
* scikit-learn ``MiniBatchDictionaryLearning`` (alpha = ls / ld), fed one
  epoch of shuffled mini-batches per ``partial_fit`` round;
* ``defaults`` (not in the default ``--methods``): ``GraphAutoEncoder(m,
  ld=ld, ls=ls)`` at every other default (its uniform start, its stopping
  rule), recorded once, when its fit returns: whether the defaults alone
  reach the best objective.

Each learner records its dictionary at increasing times (the recording is
not timed). Afterwards every recorded D is scored by the SAME code: Z is
re-solved by this package's FISTA sparse coder (warm started from the
previous recording of that learner) until the objective changes by less
than ``--eval-rtol`` over 10 iterations, so all learners are judged on F(D)
and none on its own (approximate) codes. Reported: the seconds each learner
needs to come within 1 % and 0.1 % of the best F found by any of them, and
the ratios. BLAS (threadpoolctl), numba and SPAMS all get ``--threads``.

    python benchmarks/bench_dictionary.py                  # m = 128 and 512
    python benchmarks/bench_dictionary.py --m 128 --N 5000 --budget 20
    python benchmarks/bench_dictionary.py --m 128 --ld 10 --ls 1 --seed 2 \
        --methods ours,spams,defaults
"""

import argparse
import sys
import time
import warnings
from pathlib import Path

import numba
import numpy as np
from threadpoolctl import threadpool_limits

sys.path.insert(0, str(Path(__file__).parent))
from problem import make_problem  # noqa: E402

from pyunlocbox_gae import _linalg, functions, solvers  # noqa: E402
from pyunlocbox_gae.model import alternate, minibatch, objective

# Sparsity weight per m, chosen so that the best codes are ~5-10 % dense on
# this problem (ld = 1): a denser code would favour LARS-free solvers.
DEFAULT_LS = {128: 0.05, 512: 0.05}


class Recorder:
    """Keeps (learning seconds, D copy) pairs; time spent here is not counted.

    The clock is the process's CPU time by default: every learner runs on
    one thread, so CPU seconds are its compute time, and stay comparable
    when other jobs load the machine (wall time then depends on when each
    learner happened to run). ``--clock wall`` for an idle machine.
    """

    clock = staticmethod(time.process_time)

    def __init__(self):
        self.points = []
        self._paused = 0.0
        self._t0 = None

    def start(self):
        self._t0 = self.clock()
        self._paused = 0.0

    def elapsed(self):
        return self.clock() - self._t0 - self._paused

    def record(self, D):
        t = self.clock()
        self.points.append((self.elapsed(), np.array(D, dtype=np.float32)))
        self._paused += self.clock() - t


def run_ours(X, D_init, ld, ls, budget, max_inner, rtol, codes_step="block"):
    """The estimator's own loop (``alternate.alternate``) on its problem."""
    rec = Recorder()
    N, m = X.shape[0], D_init.shape[1]
    D = np.array(D_init, dtype=X.dtype, order="F")
    Z_api = np.zeros((N, m), dtype=X.dtype)
    weights = dict(data=ld, sparsity=ls)
    problem = objective.Objective(X.T, Z_api.T, D, None, weights)
    if codes_step == "block":
        codes = minibatch.BlockCodes(problem, rtol=rtol, max_inner=max_inner)
    else:
        codes = alternate.LocalCodes(problem, "fista", rtol=rtol, max_inner=max_inner)
    stop = _Budget(rec, budget)

    def callback(entry):
        rec.record(D)  # D is updated in place by the loop
        stop.check()

    rec.start()
    rec.record(D)
    try:
        alternate.alternate(
            codes,
            rtol=rtol,
            rtol_outer=1e-7,
            max_inner=max_inner,
            max_outer=100_000,
            callback=callback,
        )
    except _Budget.Done:
        pass
    return rec.points


def run_defaults(X, m, ld, ls):
    """``GraphAutoEncoder`` at its defaults (its own start, stopping rule and
    threads setting), one recording: the dictionary of the finished fit."""
    from pyunlocbox_gae import GraphAutoEncoder

    rec = Recorder()
    rec.start()
    model = GraphAutoEncoder(m, ld=ld, ls=ls, random_state=0).fit(X)
    return [(rec.elapsed(), model.components_.T)]


class _Budget:
    class Done(Exception):
        pass

    def __init__(self, rec, seconds):
        self.rec, self.seconds = rec, seconds

    def check(self):
        if self.rec.elapsed() > self.seconds:
            raise self.Done


def run_spams(X, D_init, ld, ls, budget, threads, batch):
    import spams

    rec = Recorder()
    Xf = np.asfortranarray(X.T)  # SPAMS wants (n, N) Fortran; not timed
    N = X.shape[0]
    model, D = None, np.asfortranarray(D_init)
    rec.start()
    rec.record(D)
    while rec.elapsed() < budget:
        # One epoch (N / batch mini-batches) per call, continuing the model
        # (its statistics A, B and the iteration count) from the last D.
        kwargs = dict(model=model) if model is not None else {}
        D, model = spams.trainDL(
            Xf,
            return_model=True,
            K=D_init.shape[1],
            lambda1=ls / ld,
            mode=2,
            iter=max(N // batch, 1),
            batchsize=batch,
            numThreads=threads,
            verbose=False,
            D=D,
            **kwargs,
        )
        rec.record(D)
    return rec.points


def run_sklearn(X, D_init, ld, ls, budget, batch, seed=0):
    from sklearn.decomposition import MiniBatchDictionaryLearning

    rec = Recorder()
    rng = np.random.default_rng(seed)
    mb = MiniBatchDictionaryLearning(
        n_components=D_init.shape[1],
        alpha=ls / ld,
        batch_size=batch,
        dict_init=D_init.T,
        fit_algorithm="cd",
        random_state=seed,
    )
    N = X.shape[0]
    every = max(N // batch // 4, 1)  # four recordings per epoch
    rec.start()
    rec.record(D_init)
    with warnings.catch_warnings():
        # Its coordinate descent warns on most batches at float32 precision.
        warnings.simplefilter("ignore")
        while rec.elapsed() < budget:
            perm = rng.permutation(N)
            for i, s in enumerate(range(0, N, batch)):
                mb.partial_fit(X[perm[s : s + batch]])
                if (i + 1) % every == 0:
                    rec.record(mb.components_.T)
                if rec.elapsed() >= budget:
                    break
    rec.record(mb.components_.T)
    return rec.points


def score(X, points, ld, ls, rtol, maxit):
    """F(D) of each recorded D, Z re-solved by our FISTA coder (warm started)."""
    N = X.shape[0]
    m = points[0][1].shape[1]
    Z_api = np.zeros((N, m), np.float32)
    out = []
    for t, D in points:
        D = np.asfortranarray(D)
        f = functions.smooth_sum([functions.fidelity_z(X.T, D, ld)])
        g = functions.sparsity(ls)
        solver = solvers.make_solver("fista", 1.0 / f.lipschitz())
        ret = solvers.solve(
            [g, f], Z_api.T, solver, rtol=rtol, maxit=maxit, eval_every=10
        )
        nnz = _linalg.count_nonzero(Z_api) / Z_api.size
        out.append((t, ret["objective"][-1], nnz))
    return out


def time_to(scored, target):
    for t, f, _ in scored:
        if f <= target:
            return t
    return None


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--m", default="128,512")
    p.add_argument("--N", type=int, default=20000)
    p.add_argument("--ld", type=float, default=1.0)
    p.add_argument(
        "--seed",
        type=int,
        default=0,
        help="seed of the planted problem (one seed, one problem)",
    )
    p.add_argument("--ls", type=float, help="default: per m, see DEFAULT_LS")
    p.add_argument("--budget", type=float, default=120.0, help="seconds per learner")
    p.add_argument("--sklearn-budget", type=float, help="default: 3 x --budget")
    p.add_argument("--spams-budget", type=float, help="default: 3 x --budget")
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--batch", type=int, default=256, help="SPAMS / sklearn batch")
    p.add_argument("--max-inner", type=int, default=20)
    p.add_argument("--rtol", type=float, default=1e-3, help="ours: inner rtol")
    p.add_argument("--eval-rtol", type=float, default=1e-7)
    p.add_argument("--eval-maxit", type=int, default=1500)
    p.add_argument("--methods", default="ours,spams,sklearn")
    p.add_argument(
        "--codes",
        choices=("block", "whole"),
        default="block",
        help="ours: codes step in blocks with dictionary updates between them "
        "(the estimator's, lg = 0) or the whole-batch one (lg > 0)",
    )
    p.add_argument(
        "--clock",
        choices=("cpu", "wall"),
        default="cpu",
        help="seconds counted: process CPU time (default) or wall time",
    )
    args = p.parse_args()
    numba.set_num_threads(args.threads)
    if args.clock == "wall":
        Recorder.clock = staticmethod(time.perf_counter)
    rows = []
    for m in map(int, args.m.split(",")):
        ls = args.ls if args.ls is not None else DEFAULT_LS.get(m, 0.1)
        X, _, _ = make_problem(m=m, N=args.N, seed=args.seed)
        rng = np.random.default_rng(1)
        D_init = X[rng.choice(args.N, m, replace=False)].T.astype(np.float64)
        D_init /= np.linalg.norm(D_init, axis=0)
        D_init = np.asfortranarray(D_init, dtype=np.float32)
        curves = {}
        with threadpool_limits(args.threads):
            for name in args.methods.split(","):
                if name == "spams":
                    try:
                        import spams  # noqa: F401
                    except ImportError:
                        print("spams not installed: pip install spams-bin", flush=True)
                        continue
                print(f"m={m}: {name} learning...", flush=True)
                if name == "ours":
                    pts = run_ours(
                        X,
                        D_init,
                        args.ld,
                        ls,
                        args.budget,
                        args.max_inner,
                        args.rtol,
                        args.codes,
                    )
                elif name == "defaults":
                    pts = run_defaults(X, m, args.ld, ls)
                elif name == "spams":
                    pts = run_spams(
                        X,
                        D_init,
                        args.ld,
                        ls,
                        args.spams_budget or 3 * args.budget,
                        args.threads,
                        args.batch,
                    )
                else:
                    pts = run_sklearn(
                        X,
                        D_init,
                        args.ld,
                        ls,
                        args.sklearn_budget or 3 * args.budget,
                        args.batch,
                    )
                pts = _thin(pts, 25)
                print(f"  {len(pts)} recordings, scoring...", flush=True)
                curves[name] = score(
                    X, pts, args.ld, ls, args.eval_rtol, args.eval_maxit
                )
                for t, f, nnz in curves[name]:
                    print(f"  t={t:8.2f}s  F={f:.6e}  nnz={100 * nnz:.1f}%")
        best = min(f for c in curves.values() for _, f, _ in c)
        for name, c in curves.items():
            row = dict(m=m, N=args.N, ls=ls, method=name, best=best)
            row["final"] = c[-1][1]
            row["nnz"] = c[-1][2]
            for tol in (1e-2, 1e-3):
                row[tol] = time_to(c, best * (1 + tol))
            rows.append(row)
    print(f"\nthreads={args.threads}, N={args.N}, ld={args.ld}, clock={args.clock}")
    print(
        "| m | ls | method | t to 1 % (s) | t to 0.1 % (s) | final F / best | "
        "nnz | ratio to ours (1 %) | ratio to ours (0.1 %) |"
    )
    print("|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        ours = next(x for x in rows if x["m"] == r["m"] and x["method"] == "ours")
        cells = []
        for tol in (1e-2, 1e-3):
            if r[tol] is None:
                cells.append("not reached")
            elif ours[tol] is None:
                cells.append("—")
            else:
                cells.append(f"{r[tol] / ours[tol]:.1f}")
        fmt = [
            f"{r[tol]:.1f}" if r[tol] is not None else "not reached"
            for tol in (1e-2, 1e-3)
        ]
        print(
            f"| {r['m']} | {r['ls']} | {r['method']} | {fmt[0]} | {fmt[1]} | "
            f"{r['final'] / r['best']:.5f} | {100 * r['nnz']:.1f} % | "
            f"{cells[0]} | {cells[1]} |"
        )


def _thin(points, k):
    """At most k recordings, spread geometrically in time (early ones matter)."""
    if len(points) <= k:
        return points
    times = np.array([t for t, _ in points])
    targets = np.geomspace(max(times[1], 1e-3), times[-1], k - 1)
    keep = {0, len(points) - 1}
    keep.update(int(np.searchsorted(times, x)) for x in targets)
    return [points[i] for i in sorted(i for i in keep if i < len(points))]


if __name__ == "__main__":
    main()
