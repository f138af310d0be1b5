"""Codes (Z) step: pyunlocbox_gae's solver against a plain-numpy FISTA loop.

Both minimise, over Z, ld/2 ||X - DZ||² + ls ||Z||_1 + lg/2 tr(Z L Zᵀ)
+ le/2 ||Z - EX||² on the same float32 problem (n = 96 features, a k = 10
normalized k-NN graph), with the same step 1/Lipschitz and the same thread
count for BLAS and for the sparse product, measured side by side and
interleaved in one process. Reported: seconds per iteration (objective
evaluations excluded, as a plain loop would not evaluate), their ratio, the
peak memory of each beyond its inputs in units of Z's size, and (small sizes)
iterations and seconds, evaluations included, to reach a relative gap.

    python benchmarks/bench_zstep.py                      # all sizes, 1 and 2 threads
    python benchmarks/bench_zstep.py --sizes 128x20000 --threads 1
    python benchmarks/bench_zstep.py --yardstick ../shared/bench  # + fista_ref
"""

import argparse
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
        self.t = 1.0

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


def objective(X, D, E, L, Z_api, ld, ls, lg, le):
    f = functions.smooth_sum(
        [
            functions.fidelity_z(X.T, D, ld),
            functions.dirichlet(L, lg),
            functions.encoder_z(X.T, E, le),
        ]
    )
    return f.eval(Z_api.T) + ls * _linalg.abs_sum64(Z_api)


def per_iteration(X, D, E, L, lip, iters, repeats):
    """Interleaved timing of both loops; tracemalloc peaks in bytes."""
    ours = Ours(X, D, E, L, **WEIGHTS)
    tracemalloc.start()
    ours.start()
    ours.iterate(2)  # warm up (numba kernels compiled earlier)
    peak_ours = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    tracemalloc.start()
    plain = Plain(X, D, E, L, lip, **WEIGHTS)
    plain.iterate(2)
    peak_plain = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    t_ours, t_plain = [], []
    for _ in range(repeats):
        t = time.perf_counter()
        ours.iterate(iters)
        t_ours.append((time.perf_counter() - t) / iters)
        t = time.perf_counter()
        plain.iterate(iters)
        t_plain.append((time.perf_counter() - t) / iters)
    # Same iterates (up to float32 rounding): the loops solve the same problem.
    gap = np.linalg.norm(ours.Z_api - plain.Z) / max(np.linalg.norm(plain.Z), 1e-30)
    ours.stop()
    return (
        statistics.median(t_ours),
        statistics.median(t_plain),
        peak_ours,
        peak_plain,
        gap,
    )


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
    p.add_argument("--iters", type=int, default=20)
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
                t_o, t_p, mem_o, mem_p, diff = per_iteration(
                    X, D, E, L, lip, args.iters, args.repeats
                )
                row = dict(
                    m=m,
                    N=N,
                    threads=threads,
                    ours_ms=1e3 * t_o,
                    plain_ms=1e3 * t_p,
                    ratio=t_o / t_p,
                    mem_ours=mem_o / (N * m * 4),
                    mem_plain=mem_p / (N * m * 4),
                    iterate_diff=diff,
                )
                if ref is not None:
                    _, info = ref.fista_z(
                        X.T,
                        D,
                        WEIGHTS["ld"],
                        WEIGHTS["lg"],
                        WEIGHTS["le"],
                        L,
                        E,
                        n_iter=args.iters,
                        sparse_threads=threads,
                    )
                    row["yardstick_ms"] = 1e3 * info["per_iter"]
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
    print(
        "\n| m | N | threads | ours ms/it | plain ms/it | ratio | peak ours (×Z) "
        "| peak plain (×Z) |" + (" yardstick ms/it |" if ref else "")
    )
    print("|---|---|---|---|---|---|---|---|" + ("---|" if ref else ""))
    for r in rows:
        print(
            f"| {r['m']} | {r['N']} | {r['threads']} | {r['ours_ms']:.1f} | "
            f"{r['plain_ms']:.1f} | {r['ratio']:.2f} | {r['mem_ours']:.2f} | "
            f"{r['mem_plain']:.2f} |" + (f" {r['yardstick_ms']:.1f} |" if ref else "")
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
