"""Communication and time of the Dask fit against the single-process estimator.

On CQT-like frames (time-correlated, ``cqt_like.py``) with a k = 10 graph,
fits the same problem with :class:`GraphAutoEncoder` and with
:func:`pyunlocbox_gae.model.distributed.fit_distributed` on a ``LocalCluster``
for several block counts, and reports per outer iteration: the block-Jacobi
sweeps, the bytes of halo rows (worker to worker), of statistics (workers to
client) and of D / E broadcasts (client to workers), next to the bytes of Z
itself (what shipping the codes would cost), the halo as a share of the
samples, wall time and the final objectives.

    python benchmarks/bench_distributed.py
    python benchmarks/bench_distributed.py --n 20000 --blocks 2,4,8 --max-outer 3
    python benchmarks/bench_distributed.py --blocks 4 --checkpoint

With ``--checkpoint`` each block count is fitted a second time with a
checkpoint written after every outer iteration (the codes gathered on the
client for each write), and the two wall times are printed side by side.
"""

import argparse
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from cqt_like import cqt_like  # noqa: E402

from pyunlocbox_gae import GraphAutoEncoder, graphs  # noqa: E402
from pyunlocbox_gae.model.distributed import _Layout, fit_distributed, partition  # noqa: E402


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--n", type=int, default=20000)
    p.add_argument("--m", type=int, default=128)
    p.add_argument("--blocks", default="2,4,8")
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--processes", action="store_true", help="worker processes")
    p.add_argument("--ld", type=float, default=10.0)
    p.add_argument("--ls", type=float, default=1.0)
    p.add_argument("--lg", type=float, default=100.0)
    p.add_argument("--max-outer", type=int, default=3)
    p.add_argument("--max-inner", type=int, default=100)
    p.add_argument("--max-sweeps", type=int, default=10)
    p.add_argument("--rtol", type=float, default=1e-3)
    p.add_argument(
        "--checkpoint", action="store_true", help="also time a checkpointed fit"
    )
    args = p.parse_args()
    from distributed import Client, LocalCluster

    X = cqt_like(args.n)
    G = graphs.knn_graph(X, k=10)
    L = G.L.tocsr()
    w = dict(ld=args.ld, ls=args.ls, lg=args.lg)
    common = dict(
        max_outer=args.max_outer,
        max_inner=args.max_inner,
        rtol=args.rtol,
        rtol_outer=0.0,
    )
    t = time.perf_counter()
    gae = GraphAutoEncoder(n_atoms=args.m, graph=G, random_state=0, **w, **common)
    gae.fit(X)
    t_single = time.perf_counter() - t
    f_single = gae.history_[-1]["objective"]
    z_bytes = X.shape[0] * args.m * X.dtype.itemsize
    print(
        f"single process: {t_single:.1f} s, objective {f_single:.6e}; "
        f"Z is {z_bytes / 2**20:.1f} MiB"
    )
    rows = []
    with (
        LocalCluster(
            n_workers=args.workers,
            threads_per_worker=1,
            processes=args.processes,
            dashboard_address=None,
        ) as cluster,
        Client(cluster) as client,
    ):
        for nb in map(int, args.blocks.split(",")):
            layout = _Layout(L, partition(L, nb))
            t = time.perf_counter()
            _, _, _, hist = fit_distributed(
                X,
                G,
                client,
                n_atoms=args.m,
                n_blocks=nb,
                random_state=0,
                max_sweeps=args.max_sweeps,
                **w,
                **common,
            )
            elapsed = time.perf_counter() - t
            for h in hist:
                rows.append(
                    dict(
                        blocks=nb,
                        outer=h["outer"],
                        sweeps=h["sweeps"],
                        halo=h["bytes_halo"],
                        stats=h["bytes_stats"],
                        bcast=h["bytes_broadcast"],
                        halo_share=layout.halo_rows() / X.shape[0],
                    )
                )
            rows[-1]["time"] = elapsed
            rows[-1]["objective"] = hist[-1]["objective"]
            if args.checkpoint:
                with tempfile.TemporaryDirectory() as tmp:
                    t = time.perf_counter()
                    fit_distributed(
                        X, G, client, n_atoms=args.m, n_blocks=nb, random_state=0,
                        max_sweeps=args.max_sweeps, checkpoint=Path(tmp) / "fit.h5",
                        **w, **common,
                    )  # fmt: skip
                    saved = time.perf_counter() - t
                print(
                    f"{nb} blocks: {elapsed:.1f} s, with a checkpoint every outer "
                    f"iteration {saved:.1f} s ({saved / elapsed:.2f}x)",
                    flush=True,
                )
    print(
        f"\nN = {args.n}, m = {args.m}, {args.workers} workers "
        f"({'processes' if args.processes else 'threads'}); single process "
        f"{t_single:.1f} s, objective {f_single:.6e}"
    )
    print(
        "| blocks | outer | sweeps | halo rows / N | halo MiB | statistics MiB "
        "| D, E broadcast MiB | all / size of Z | fit s | objective / single |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        total = r["halo"] + r["stats"] + r["bcast"]
        tail = (
            f"{r['time']:.1f} | {r['objective'] / f_single:.6f}"
            if "time" in r
            else " | "
        )
        print(
            f"| {r['blocks']} | {r['outer']} | {r['sweeps']} | "
            f"{100 * r['halo_share']:.2f} % | {r['halo'] / 2**20:.2f} | "
            f"{r['stats'] / 2**20:.2f} | {r['bcast'] / 2**20:.3f} | "
            f"{total / z_bytes:.3f} | {tail} |"
        )


if __name__ == "__main__":
    main()
