"""Codes (Z) step as the estimator runs it, its iterations alone, plain FISTA loops.

All minimise, over Z, ld/2 ||X - DZ||² + ls ||Z||_1 + lg/2 tr(Z L Zᵀ)
+ le/2 ||Z - EX||² on the same float32 problem (n = 96 features, a k = 10
normalized k-NN graph), with the same step 1/Lipschitz and the same thread
count for BLAS and numba, timed in interleaved rounds in one process (CPU
seconds on one thread, wall seconds on more), each round starting from Z = 0:

* **as run**: the codes step of ``GraphAutoEncoder`` (``LocalCodes`` on the
  estimator's ``Objective``): its setup, the objective every ``eval_every``
  = 5 iterations, the stopping test and the divergence guard's copy
  included; its rtol is set to 0 so that it runs the given iterations;
* **iterations alone**: the same solver's iterations, nothing else;
* **plain**: a minimal numpy/scipy FISTA written here (same momentum
  sequence as PyUNLocBoX's, so its iterates are compared with ours);
* **yardstick** (``--yardstick DIR``): ``fista_ref.fista_z`` from DIR, a
  plain FISTA written independently of this package: its loop only (a
  call without iterations, its setup, is timed in the same round and
  subtracted), so "as run" pays a setup that the yardstick does not.

Printed: milliseconds per iteration, the ratios to the yardstick (or to the
plain loop without one), the tracemalloc peak of each beyond its inputs in
units of Z's size, the cost of one evaluation of the objective, and (small
sizes) iterations and seconds, evaluations included, to reach a relative
gap.

    python benchmarks/bench_zstep.py                      # all sizes, 1 and 2 threads
    python benchmarks/bench_zstep.py --sizes 128x20000 --threads 1
    python benchmarks/bench_zstep.py --yardstick DIR      # + fista_ref from DIR
"""

import argparse
import os
import statistics
import sys
import time
import tracemalloc
from pathlib import Path

import numba
import numpy as np
from threadpoolctl import threadpool_limits

sys.path.insert(0, str(Path(__file__).parent))
from problem import knn_laplacian, make_problem  # noqa: E402

from pyunlocbox_gae import _linalg, functions, solvers  # noqa: E402
from pyunlocbox_gae.model import objective as model_objective  # noqa: E402
from pyunlocbox_gae.model.alternate import LocalCodes  # noqa: E402

WEIGHTS = dict(ld=10.0, ls=1.0, lg=1.0, le=1.0)


class Plain:
    """A minimal FISTA on sample-major arrays: the benchmark's own baseline."""

    def __init__(self, X, D, E, L, lip, ld, ls, lg, le):
        m = D.shape[1]
        self.step = 1.0 / lip
        A = ld * D.T.astype(np.float64) @ D + le * np.eye(m)
        self.Ap = (np.eye(m) - self.step * A).astype(X.dtype)
        self.Cp = (self.step * (X @ (ld * D + le * E.T))).astype(X.dtype)
        self.L, self.t_thr, self.c_lg = L, self.step * ls, self.step * lg
        N = X.shape[0]
        self.Z = np.zeros((N, m), X.dtype)
        self.Y, self.W, self.T = (np.zeros_like(self.Z) for _ in range(3))
        # PyUNLocBoX's momentum sequence (one step ahead of Beck and
        # Teboulle's t_1 = 1), so that the iterates can be compared with ours.
        self.t = (1 + np.sqrt(5)) / 2

    def iterate(self, k):
        Z, Y, W, T = self.Z, self.Y, self.W, self.T
        for _ in range(k):
            np.matmul(Y, self.Ap, out=W)
            W += self.Cp
            W -= self.c_lg * (self.L @ Y)
            np.clip(W, -self.t_thr, self.t_thr, out=T)
            np.subtract(W, T, out=T)  # T = new Z
            t_new = (1 + np.sqrt(1 + 4 * self.t**2)) / 2
            np.subtract(T, Z, out=Y)
            Y *= (self.t - 1) / t_new
            Y += T
            self.Z, Z, T = T, T, Z
            self.T = T
            self.t = t_new


class Ours:
    """The package's codes step, as the estimator sets it up."""

    def __init__(self, X, D, E, L, ld, ls, lg, le, solver="fista"):
        N, m = X.shape[0], D.shape[1]
        Xm = X.T
        self.Z_api = np.zeros((N, m), X.dtype)
        self.smooth = functions.smooth_sum(
            [
                functions.fidelity_z(Xm, D, ld),
                functions.dirichlet(L, lg),
                functions.encoder_z(Xm, E, le),
            ]
        )
        self.l1 = functions.sparsity(ls)
        self.lip = self.smooth.lipschitz()
        self.solver = solvers.make_solver(solver, 1 / self.lip)
        self.niter = 0

    def start(self):
        self.solver.pre([self.l1, self.smooth], self.Z_api.T)

    def iterate(self, k):
        for _ in range(k):
            self.niter += 1
            self.solver.algo([], self.niter)

    def stop(self):
        self.solver.post()


class AsRun:
    """The codes step as ``GraphAutoEncoder.fit`` builds and runs it."""

    def __init__(self, X, D, E, L, iters, ld, ls, lg, le, lmax=None):
        N, m = X.shape[0], D.shape[1]
        self.Z_api = np.zeros((N, m), X.dtype)  # sample-major codes
        weights = dict(data=ld, sparsity=ls, graph=lg, encoder=le)
        problem = model_objective.Objective(
            X.T, self.Z_api.T, np.asfortranarray(D), E, weights, L, lmax
        )
        # rtol = 0: run `iters` iterations, evaluating and testing as usual.
        self.codes = LocalCodes(problem, "auto", rtol=0.0, max_inner=iters)

    def run(self):
        self.Z_api[...] = 0
        return self.codes.solve()["z_iter"]


def objective(X, D, E, L, Z_api, ld, ls, lg, le):
    f = functions.smooth_sum(
        [
            functions.fidelity_z(X.T, D, ld),
            functions.dirichlet(L, lg),
            functions.encoder_z(X.T, E, le),
        ]
    )
    return f.eval(Z_api.T) + ls * _linalg.abs_sum64(Z_api)


def _peak(run):
    """tracemalloc peak of run() in bytes."""
    tracemalloc.start()
    run()
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return peak


def per_iteration(X, D, E, L, lip, iters, repeats, ref=None, threads=1):
    """Interleaved CPU time per iteration of every contender; peaks in bytes."""
    lmax = functions.dirichlet(L, 1.0).lmax
    as_run = AsRun(X, D, E, L, iters, **WEIGHTS, lmax=lmax)
    ours = Ours(X, D, E, L, **WEIGHTS)
    plain = Plain(X, D, E, L, lip, **WEIGHTS)

    def alone():
        ours.Z_api[...] = 0
        ours.start()
        ours.iterate(iters)
        ours.stop()

    def plain_run():
        plain.__init__(X, D, E, L, lip, **WEIGHTS)
        plain.iterate(iters)

    def yardstick(n_iter=iters):
        ld, lg, le = WEIGHTS["ld"], WEIGHTS["lg"], WEIGHTS["le"]
        return ref.fista_z(
            X.T, D, ld, lg, le, L, E, n_iter=n_iter, lmax_L=lmax, sparse_threads=threads
        )

    runs = {"as_run": as_run.run, "alone": alone, "plain": plain_run}
    if ref is not None:
        runs["yardstick"] = yardstick
        # Its setup alone (no iteration), subtracted: the yardstick is timed
        # per iteration of its loop, while "as run" keeps its own setup.
        runs["yardstick_setup"] = lambda: yardstick(0)
    for run in runs.values():  # warm up: numba kernels, BLAS, caches
        run()
    ours.start()  # and the evaluation (the graph term checks L's symmetry once)
    ours.solver.objective(ours.Z_api.T)
    ours.stop()
    peaks = {name: _peak(run) for name, run in runs.items()}
    times = {name: [] for name in runs}
    # CPU time on one thread (what other programs on the machine leave
    # untouched); wall time with more, where CPU time would add the threads.
    clock = time.process_time if threads == 1 else time.perf_counter
    times["evaluation"] = []
    for _ in range(repeats):
        for name, run in runs.items():
            t = clock()
            run()
            times[name].append((clock() - t) / iters)
        # One evaluation of the objective at the codes left by alone(), as
        # the solver evaluates it (its terms prepared for the solve).
        ours.start()
        t = clock()
        ours.solver.objective(ours.Z_api.T)
        times["evaluation"].append(clock() - t)
        ours.stop()
    # Same iterates (up to float32 rounding): the loops solve the same problem
    # with the same momentum sequence.
    as_run.run()
    plain_run()
    gap = np.linalg.norm(as_run.Z_api - plain.Z) / max(np.linalg.norm(plain.Z), 1e-30)
    if ref is not None:
        setup = times.pop("yardstick_setup")
        times["yardstick"] = [
            t - u for t, u in zip(times["yardstick"], setup, strict=True)
        ]
        peaks.pop("yardstick_setup")
    out = {name: statistics.median(t) for name, t in times.items()}
    return out, peaks, gap


def time_to_gap(X, D, E, L, lip, rel_gap, maxit):
    """Iterations and seconds (evaluations included) to F - F* <= rel_gap F*."""
    ref = Plain(X, D, E, L, lip, **WEIGHTS)
    ref.iterate(maxit * 3)  # F* from a longer run of the plain solver
    f_star = objective(X, D, E, L, ref.Z, **WEIGHTS)
    out = {}
    # solve() evaluates every 5 iterations: find the first evaluation under the
    # gap, then time a second, identical run that stops there.
    hit = None
    for run in range(2):
        ours = Ours(X, D, E, L, **WEIGHTS)
        t = time.perf_counter()
        ret = solvers.solve(
            [ours.l1, ours.smooth],
            ours.Z_api.T,
            ours.solver,
            rtol=None,
            maxit=hit or maxit,
            eval_every=5,
        )
        elapsed = time.perf_counter() - t
        if run == 0:
            f = ret["objective"]
            hits = [5 * i for i, v in enumerate(f) if v - f_star <= rel_gap * f_star]
            if not hits:
                out["ours"] = (None, elapsed)
                break
            hit = max(hits[0], 5)
        else:
            out["ours"] = (hit, elapsed)
    plain = Plain(X, D, E, L, lip, **WEIGHTS)
    t, it = time.perf_counter(), 0
    while it < maxit:
        plain.iterate(5)
        it += 5
        if objective(X, D, E, L, plain.Z, **WEIGHTS) - f_star <= rel_gap * f_star:
            break
    out["plain"] = (it, time.perf_counter() - t)
    return out


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--sizes", default="128x20000,512x20000,128x100000,512x100000")
    p.add_argument("--threads", default="1,2")
    p.add_argument("--iters", type=int, default=50)
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument(
        "--gap",
        type=float,
        default=1e-3,
        help="relative gap for the time-to-gap table; 0 skips it",
    )
    p.add_argument("--gap-maxit", type=int, default=300)
    p.add_argument(
        "--yardstick", help="folder of fista_ref.py, timed too (by hand only)"
    )
    p.add_argument("--cache", default="/tmp/gae-bench", help="graph cache folder")
    args = p.parse_args()
    Path(args.cache).mkdir(parents=True, exist_ok=True)
    ref = None
    if args.yardstick:
        sys.path.insert(0, args.yardstick)
        import fista_ref as ref
    rows = []
    print(f"load average at the start: {os.getloadavg()}", flush=True)
    for size in args.sizes.split(","):
        m, N = map(int, size.split("x"))
        X, D0, _ = make_problem(m=m, N=N)
        rng = np.random.default_rng(1)
        D = (D0 + 0.3 * rng.standard_normal(D0.shape)).astype(np.float32)
        D /= np.linalg.norm(D, axis=0)
        E = (0.1 * rng.standard_normal((m, X.shape[1]))).astype(np.float32)
        L = knn_laplacian(X, cache=Path(args.cache) / f"L_{N}.npz")
        lip = Ours(X, D, E, L, **WEIGHTS).lip
        for threads in map(int, args.threads.split(",")):
            numba.set_num_threads(threads)
            with threadpool_limits(threads):
                ms, peaks, diff = per_iteration(
                    X, D, E, L, lip, args.iters, args.repeats, ref, threads
                )
                row = dict(m=m, N=N, threads=threads, iterate_diff=diff)
                row.update({f"{k}_ms": 1e3 * v for k, v in ms.items()})
                row.update({f"mem_{k}": v / (N * m * 4) for k, v in peaks.items()})
                if args.gap > 0 and N <= 20000:
                    row.update(
                        {
                            f"gap_{k}": v
                            for k, v in time_to_gap(
                                X, D, E, L, lip, args.gap, args.gap_maxit
                            ).items()
                        }
                    )
            rows.append(row)
            print(row, flush=True)
    print(f"load average at the end: {os.getloadavg()}")
    base = "yardstick" if ref is not None else "plain"
    names = ["as_run", "alone", "plain"] + (["yardstick"] if ref is not None else [])
    print(
        f"\nms per iteration (CPU time), ratio to {base} in brackets; "
        "peak memory beyond the inputs in units of Z:"
    )
    print(
        "| m | N | threads | "
        + " | ".join(f"{n} ms/it" for n in names)
        + " | "
        + " | ".join(f"peak {n} (×Z)" for n in names)
        + " |"
    )
    print("|---" * (3 + 2 * len(names)) + "|")
    for r in rows:
        cells = [
            f"{r[n + '_ms']:.1f}"
            + ("" if n == base else f" ({r[n + '_ms'] / r[base + '_ms']:.2f}×)")
            for n in names
        ]
        cells += [f"{r['mem_' + n]:.2f}" for n in names]
        print(f"| {r['m']} | {r['N']} | {r['threads']} | " + " | ".join(cells) + " |")
    print("\nOne evaluation of the codes objective, against one iteration alone:")
    for r in rows:
        print(
            f"m = {r['m']}, N = {r['N']}, {r['threads']} thread(s): "
            f"{r['evaluation_ms']:.1f} ms ({r['evaluation_ms'] / r['alone_ms']:.2f} "
            "iteration)"
        )
    gaps = [r for r in rows if "gap_ours" in r]
    if gaps:
        print(
            f"\nTo a relative gap of {args.gap:g} (evaluations included; ours "
            "evaluates every 5 iterations):"
        )
        print("| m | N | threads | ours it | ours s | plain it | plain s |")
        print("|---|---|---|---|---|---|---|")
        for r in gaps:
            (io, so), (ip, spl) = r["gap_ours"], r["gap_plain"]
            print(
                f"| {r['m']} | {r['N']} | {r['threads']} | {io} | {so:.2f} | "
                f"{ip} | {spl:.2f} |"
            )


if __name__ == "__main__":
    main()
