"""End-to-end fits at the study's sizes: graph build plus alternating fit.

Two configurations on synthetic CQT-like frames (``cqt_like.py``: 96 bins,
non-negative, time-correlated, scaled to [0, 1]), float32, the study's
weights (ld = 10, ls = 1, lg = 100), k = 10 normalized graph from
``pyunlocbox_gae.graphs.knn_graph``:

* ``--size study``: the thesis experiment, 149,000 frames, m = 128; target
  graph + fit < 2 minutes;
* ``--size full``: all of GTZAN, 1,288,000 frames, m = 512; target fit
  < 1 hour and peak memory < 12 GiB on 2 cores.

Reported: seconds for the data (not counted), the graph, and the fit; per
outer iteration the codes / dictionary / encoder seconds and inner
iterations from ``history_`` and the rest (objective evaluations, set-up);
the peak resident memory (``getrusage`` maxrss) after each stage; and, for a
reduced run (``--n``, ``--max-outer``), an extrapolation to the full number
of frames (linear in N) and to ``--extrapolate-outer`` outer iterations.

    python benchmarks/bench_fullscale.py --size study
    timeout 1800 python benchmarks/bench_fullscale.py --size full --max-outer 2
    python benchmarks/bench_fullscale.py --size full --n 100000 --max-outer 2
"""

import argparse
import json
import resource
import sys
import time
from pathlib import Path

import numba
from threadpoolctl import threadpool_limits

sys.path.insert(0, str(Path(__file__).parent))
from cqt_like import cqt_like  # noqa: E402

from pyunlocbox_gae import GraphAutoEncoder, graphs  # noqa: E402

SIZES = {
    "study": dict(n=149_000, m=128, target_s=120.0, target_gib=None),
    "full": dict(n=1_288_000, m=512, target_s=3600.0, target_gib=12.0),
}


def peak_gib():
    """Peak resident memory of this process so far (Linux: maxrss in KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--size", choices=sorted(SIZES), default="study")
    p.add_argument("--n", type=int, help="frames (default: the size's)")
    p.add_argument("--m", type=int, help="atoms (default: the size's)")
    p.add_argument("--k", type=int, default=10)
    p.add_argument("--ld", type=float, default=10.0)
    p.add_argument("--ls", type=float, default=1.0)
    p.add_argument("--lg", type=float, default=100.0)
    p.add_argument("--max-outer", type=int, default=15, help="the study's default")
    p.add_argument("--max-inner", type=int, default=100)
    p.add_argument("--rtol", type=float, default=1e-3, help="the study's default")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--backend", default="auto", help="graph search backend")
    p.add_argument(
        "--extrapolate-outer",
        type=int,
        default=7,
        help="outer iterations to extrapolate to (the study's graph runs: 7)",
    )
    p.add_argument(
        "--extrapolate-inner",
        type=int,
        default=1329,
        help="codes iterations in all to extrapolate to (the study's graph run: "
        "1,329 over 7 outer iterations)",
    )
    p.add_argument("--json", help="write the results to this file")
    args = p.parse_args()
    size = SIZES[args.size]
    N = args.n or size["n"]
    m = args.m or size["m"]
    numba.set_num_threads(min(args.threads, numba.config.NUMBA_NUM_THREADS))
    out = dict(size=args.size, N=N, m=m, threads=args.threads, args=vars(args))

    t = time.perf_counter()
    X = cqt_like(N)
    out["data_s"] = time.perf_counter() - t
    out["peak_gib_data"] = peak_gib()
    print(f"data {X.shape} {X.dtype}: {out['data_s']:.1f} s", flush=True)

    with threadpool_limits(args.threads):
        t, c = time.perf_counter(), time.process_time()
        G = graphs.knn_graph(X, k=args.k, backend=args.backend, verbose=True)
        out["graph_s"] = time.perf_counter() - t
        out["graph_cpu_s"] = time.process_time() - c
        out["graph_nnz"] = int(G.W.nnz)
        out["peak_gib_graph"] = peak_gib()
        print(f"graph: {out['graph_s']:.1f} s, {G.W.nnz} non-zeros", flush=True)

        gae = GraphAutoEncoder(
            n_atoms=m,
            ld=args.ld,
            ls=args.ls,
            lg=args.lg,
            graph=G,
            max_outer=args.max_outer,
            max_inner=args.max_inner,
            rtol=args.rtol,
            rtol_outer=args.rtol,
            random_state=0,
            verbose=1,
        )
        t, c = time.perf_counter(), time.process_time()
        gae.fit(X)
        out["fit_s"] = time.perf_counter() - t
        out["fit_cpu_s"] = time.process_time() - c
        out["peak_gib_fit"] = peak_gib()

    h = gae.history_
    stages = {}
    for key in ("z_time", "d_time", "e_time", "z_iter", "d_iter"):
        stages[key] = float(sum(e.get(key, 0) for e in h))
    stages["z_final_time"] = float(h[-1].get("z_final_time", 0.0))
    stages["z_final_iter"] = float(h[-1].get("z_final_iter", 0))
    accounted = stages["z_time"] + stages["d_time"] + stages["e_time"]
    accounted += stages["z_final_time"]
    stages["other_time"] = out["fit_s"] - accounted  # evaluations, set-up
    out["stages"] = stages
    out["n_outer"] = len(h)
    out["objective"] = h[-1]["objective"]
    out["nnz"] = h[-1]["nnz"]
    z_iters = stages["z_iter"] + stages["z_final_iter"]
    per_z_iter = (stages["z_time"] + stages["z_final_time"]) / max(z_iters, 1)
    per_outer = (out["fit_s"] - stages["z_final_time"]) / len(h)
    out["per_z_iter_s"] = per_z_iter
    out["per_outer_s"] = per_outer
    scale = size["n"] / N
    K = args.extrapolate_outer
    out["extrapolated_fit_s"] = scale * (per_outer * K + stages["z_final_time"])
    out["extrapolated_total_s"] = scale * out["graph_s"] + out["extrapolated_fit_s"]
    # Per-iteration model: codes iterations dominate; the other stages are
    # taken per outer iteration as measured.
    rest_per_outer = (out["fit_s"] - stages["z_time"] - stages["z_final_time"]) / len(h)
    out["extrapolated_iter_fit_s"] = scale * (
        per_z_iter * args.extrapolate_inner + rest_per_outer * K
    )

    print(f"\n## {args.size}: N = {N}, m = {m}, {args.threads} threads")
    print("| stage | seconds | share of fit | iterations | s / iteration |")
    print("|---|---|---|---|---|")
    for name, tkey, ikey in (
        ("codes (Z)", "z_time", "z_iter"),
        ("final codes", "z_final_time", "z_final_iter"),
        ("dictionary (D)", "d_time", "d_iter"),
        ("encoder (E)", "e_time", None),
        ("other (objective, set-up)", "other_time", None),
    ):
        sec = stages[tkey]
        it = stages[ikey] if ikey else None
        print(
            f"| {name} | {sec:.1f} | {100 * sec / out['fit_s']:.0f} % | "
            f"{'' if it is None else int(it)} | "
            f"{'' if not it else f'{sec / it:.3f}'} |"
        )
    print(
        f"\ngraph {out['graph_s']:.1f} s, fit {out['fit_s']:.1f} s "
        f"({len(h)} outer), total {out['graph_s'] + out['fit_s']:.1f} s; "
        f"non-zeros {100 * out['nnz']:.1f} %; peak RSS {out['peak_gib_fit']:.2f} GiB "
        f"(data {out['peak_gib_data']:.2f}, graph {out['peak_gib_graph']:.2f})"
    )
    print(
        f"CPU seconds: graph {out['graph_cpu_s']:.1f}, fit {out['fit_cpu_s']:.1f} "
        f"(wall x threads = {args.threads * out['fit_s']:.1f}: the gap is time "
        "lost to other jobs or to idle threads)"
    )
    if scale != 1 or len(h) != K:
        print(
            f"extrapolated to N = {size['n']} and {K} outer iterations: fit "
            f"{out['extrapolated_fit_s']:.0f} s, graph + fit "
            f"{out['extrapolated_total_s']:.0f} s (linear in N)"
        )
    print(
        f"per-iteration model, N = {size['n']}, {args.extrapolate_inner} codes "
        f"iterations over {K} outer: fit {out['extrapolated_iter_fit_s']:.0f} s "
        f"({1e3 * per_z_iter * scale:.0f} ms per codes iteration)"
    )
    if (
        scale != 1
        or out["n_outer"] < args.extrapolate_outer
        and len(h) == args.max_outer
    ):
        # A reduced run says nothing by itself: judge the extrapolation.
        t_total = out["extrapolated_total_s"]
        verdict = "met" if t_total < size["target_s"] else "missed"
        print(
            f"time target {size['target_s']:.0f} s: {verdict} by the extrapolation "
            f"({t_total:.0f} s, wall time of this machine)"
        )
    else:
        verdict = (
            "met" if out["graph_s"] + out["fit_s"] < size["target_s"] else "missed"
        )
        print(f"time target {size['target_s']:.0f} s: {verdict} (this run, wall time)")
    if size["target_gib"]:
        mem = "met" if out["peak_gib_fit"] < size["target_gib"] else "missed"
        print(f"memory target {size['target_gib']} GiB: {mem}")
    if args.json:
        Path(args.json).write_text(json.dumps(out, indent=1, default=float))


if __name__ == "__main__":
    main()
