"""Semi-supervised node classification: the whole comparison table, timed.

Runs every method of ``gae planetoid`` on every data set named, each
(data set, method) in a child process, and reports test accuracy mean ± std
over seeds, the Planetoid models' test-selected accuracy beside their
validation-selected one, seconds per run and the child's peak resident
memory (the whole process: interpreter, libraries and data included).
Results are kept in ``--results`` (one JSON file per data set and method,
written after every seed), so an interrupted run resumes where it stopped.

    # the real files: every method on Cora and Citeseer, 5 seeds
    python benchmarks/bench_planetoid.py --folder DIR --names cora citeseer \\
        --seeds 5 --markdown table.md
    # a method's settings, {method: {parameter: value}} (one file per data
    # set and method: earlier results of other settings are refused)
    python benchmarks/bench_planetoid.py --folder DIR --names citeseer --methods gae \\
        --params '{"gae": {"row_normalize": true, "lg": 100, "ls": 0.05}}'
    # no real files: a Cora-sized synthetic stand-in written in that format
    python benchmarks/bench_planetoid.py --synthetic --seeds 3
"""

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

METHODS = ("features_lr", "propagated_lr", "gae", "planetoid_t", "planetoid_i")


def worker(folder, name, method, seeds, out, params):
    """One data set, one method, every seed; results saved after each seed."""
    from pyunlocbox_gae.embeddings.planetoid import load_planetoid
    from pyunlocbox_gae.embeddings.planetoid.compare import compare

    data = load_planetoid(folder, name)
    out = Path(out)
    previous = json.loads(out.read_text()) if out.exists() else None
    if previous is not None and previous.get("params", {}) != params:
        raise SystemExit(
            f"{out} holds results of other parameters ({previous.get('params')}); "
            "remove it or give another --results folder"
        )

    def save(results):
        results = {**results, "params": params}
        tmp = out.with_suffix(".tmp")
        tmp.write_text(json.dumps(results, indent=1))
        os.replace(tmp, out)

    def progress(m, seed, acc, seconds):
        print(f"  {name} {m} seed {seed}: {acc:.1f}% ({seconds:.1f} s)", flush=True)

    ran = []
    results = compare(
        data,
        [method],
        seeds,
        {method: params} if params else None,
        progress=lambda *a: (ran.append(a), progress(*a)),
        previous=previous,
        checkpoint=save,
    )
    # Peak resident memory of this process (KiB on Linux); kept from the
    # run that computed the seeds when a resumed run had nothing left to do.
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    old = (previous or {}).get("peak_rss_mib")
    results["peak_rss_mib"] = max(peak, old or 0) if ran else old
    results["params"] = params
    save(results)


def synthetic_folder(folder):
    """A Cora-sized stochastic block model written as Planetoid files."""
    from pyunlocbox_gae.embeddings.planetoid import make_sbm_dataset, write_planetoid

    data = make_sbm_dataset(
        2708,
        7,
        1433,
        avg_degree=3.9,
        homophily=0.8,
        words_per_node=18,
        feature_signal=0.35,
        n_val=500,
        n_test=1000,
        random_state=0,
    )
    write_planetoid(folder, "sbm", data)
    return "sbm"


def run_child(args, name, method, out):
    """Run one worker in its own process (so that its peak memory is its own)."""
    cmd = [sys.executable, __file__, "--worker", args.folder, name, method]
    cmd += [str(args.seeds), str(out), json.dumps(args.params.get(method, {}))]
    t = time.perf_counter()
    code = subprocess.call(cmd)
    if code:
        raise SystemExit(f"{name} {method} failed (exit {code})")
    return time.perf_counter() - t


def table(rows):
    lines = [
        "| data set | method | accuracy (%) | test-selected (%) | seconds per run "
        "| peak memory (MiB) | published (%) |",
        "|---|---|---|---|---|---|---|",
    ]
    for name, method, r, peak in rows:
        if r is None:
            lines.append(f"| {name} | {method} | – | – | – | – | – |")
            continue
        acc = f"{r['mean']:.1f} ± {r['std']:.1f}"
        sel = "–"
        if "test_selected_mean" in r:
            sel = f"{r['test_selected_mean']:.1f} ± {r['test_selected_std']:.1f}"
        pub = "–" if r.get("published") is None else f"{r['published']:.1f}"
        peak = "–" if peak is None else f"{peak:.0f}"  # a run stopped early
        lines.append(
            f"| {name} | {method} | {acc} | {sel} | {r['seconds']:.1f} "
            f"| {peak} | {pub} |"
        )
    return "\n".join(lines)


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--folder", help="folder of Planetoid files")
    p.add_argument("--names", nargs="+", default=["cora", "citeseer"])
    p.add_argument("--synthetic", action="store_true", help="Cora-sized SBM instead")
    p.add_argument("--seeds", type=int, default=5)
    p.add_argument("--methods", nargs="+", default=list(METHODS), choices=METHODS)
    p.add_argument(
        "--params",
        type=json.loads,
        default={},
        help='JSON {method: {parameter: value}}, e.g. \'{"gae": {"lg": 30}}\'',
    )
    p.add_argument("--results", default="planetoid-bench", help="results folder")
    p.add_argument("--markdown", help="also write the table to this file")
    args = p.parse_args()
    if args.synthetic:
        args.folder = tempfile.mkdtemp()
        args.names = [synthetic_folder(args.folder)]
    if not args.folder:
        p.error("give --folder DIR (Planetoid files) or --synthetic")
    from pyunlocbox_gae.embeddings.planetoid import load_planetoid
    from pyunlocbox_gae.embeddings.planetoid.compare import NEEDS_ALL_FEATURES

    results = Path(args.results)
    results.mkdir(parents=True, exist_ok=True)
    rows = []
    for name in args.names:
        data = load_planetoid(args.folder, name)
        print(data.summary(), flush=True)
        for method in args.methods:
            if data.featured is not None and method in NEEDS_ALL_FEATURES:
                print(f"  {name} {method}: needs every node's features, skipped")
                rows.append((name, method, None, None))
                continue
            out = results / f"{name}-{method}.json"
            wall = run_child(args, name, method, out)
            saved = json.loads(out.read_text())
            r, peak = saved["methods"][method], saved.get("peak_rss_mib")
            print(f"  {name} {method}: peak {peak:.0f} MiB, {wall:.0f} s", flush=True)
            rows.append((name, method, r, peak))
    text = table(rows)
    print(text)
    if args.markdown:
        Path(args.markdown).write_text(text + "\n")


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--worker":
        folder, name, method, seeds, out, params = sys.argv[2:8]
        worker(folder, name, method, int(seeds), out, json.loads(params))
    else:
        main()
