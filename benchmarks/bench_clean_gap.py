"""Why codes lose to the raw CQT on clean recordings: one factor at a time.

Every row is one experiment point (:func:`pyunlocbox_gae.experiments.
run_point`) on clean frames, with the settings of
``bench_graph_constructions.py`` but the study's weights (k-NN graph,
lg = 3, 64 atoms, ls = 1, ld = 10, mean of ``|code|``, min-max scaler)
but for one factor: the pooling of the codes (of ``|code|``, or their
signed mean), the number of atoms, the sparsity weight ls, the fidelity
weight ld, the scaler of the classifier, the graph weight, log-compressed
frames. The raw CQT is classified on the same splits with the same pooling
and scaler, so each row gives the paired per-split difference *codes −
raw* (mean ± std, splits won) and the fraction of non-zero codes.

Choose settings on recordings that are not the ones reported (e.g. the
2,400 spoken digits with index 10–49), never on the test folds.

Usage::

    OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 python benchmarks/bench_clean_gap.py \\
        --dataset dev-recordings --cache /tmp/gap-cache --out gap.json
"""

import argparse
import json
import os
import sys
import tempfile
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from bench_graph_constructions import AUDIO, CHAIN, _synthetic  # noqa: E402

from pyunlocbox_gae.experiments import sources, stages  # noqa: E402
from pyunlocbox_gae.experiments.settings import make_config  # noqa: E402
from pyunlocbox_gae.experiments.sweep import run_point  # noqa: E402

STUDY = dict(lg=3.0, ls=1.0, pooling="mean", controls=[])
FACTORS = {
    "study's settings": {},
    "pooling max": dict(pooling="max"),
    "pooling meanmax": dict(pooling="meanmax"),
    "pooling signed": dict(pooling="signed"),
    "32 atoms": dict(n_atoms=32),
    "128 atoms": dict(n_atoms=128),
    "256 atoms": dict(n_atoms=256),
    "ls 0.3": dict(ls=0.3),
    "ls 0.1": dict(ls=0.1),
    "ls 0.03": dict(ls=0.03),
    "ld 100": dict(ld=100.0),
    "scaler standard": dict(scaler="standard"),
    "lg 0": dict(lg=0.0),
    "log frames": dict(log=True),
    "ls 0.3, pooling meanmax": dict(ls=0.3, pooling="meanmax"),
    "ls 0.3, 128 atoms": dict(ls=0.3, n_atoms=128),
    "ls 0.3, pooling signed": dict(ls=0.3, pooling="signed"),
    "ls 0.1, pooling signed": dict(ls=0.1, pooling="signed"),
    "ls 0.03, pooling signed": dict(ls=0.03, pooling="signed"),
}


def run(dataset, names, cache):
    base = make_config(dict(AUDIO, **{**CHAIN, **STUDY}), dataset=str(dataset))
    data = sources.load_source(base, cache.folder)
    rows = []
    for name in names:
        t = time.process_time()
        record, _ = run_point(
            make_config(base, **FACTORS[name]), cache=cache, data=data
        )
        d = np.subtract(record["scores"], record["baseline_scores"])
        rows.append(
            dict(
                factor=name,
                settings=FACTORS[name],
                accuracy=record["accuracy"],
                accuracy_std=record["accuracy_std"],
                raw=record["baseline"],
                minus_raw=float(d.mean()),
                minus_raw_std=float(d.std()),
                won=int((d > 0).sum()),
                splits=len(d),
                nnz=record["nnz"],
                cpu_seconds=time.process_time() - t,
            )
        )
        print(json.dumps(rows[-1]), flush=True)
    return rows


def table(rows):
    lines = [
        "| factor | codes % | raw CQT % | codes − raw | non-zero codes |",
        "|---|---|---|---|---|",
    ]
    for r in rows:
        lines.append(
            f"| {r['factor']} | {r['accuracy']:.1f} ± {r['accuracy_std']:.1f} "
            f"| {r['raw']:.1f} | {r['minus_raw']:+.1f} ± {r['minus_raw_std']:.1f} "
            f"({r['won']}/{r['splits']}) | {100 * r['nnz']:.0f} % |"
        )
    return "\n".join(lines)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", help="folder with labels.csv (default: synthetic)")
    parser.add_argument("--factors", nargs="+", default=list(FACTORS), metavar="NAME")
    parser.add_argument("--cache", help="folder of the stages' outputs")
    parser.add_argument("--out", help="JSON file of every figure")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        dataset = args.dataset or _synthetic(os.path.join(tmp, "spoken"))
        cache = stages.Cache(args.cache or os.path.join(tmp, "cache"))
        t = time.perf_counter()
        rows = run(dataset, args.factors, cache)
    print(table(rows))
    load = os.getloadavg()
    print(f"{time.perf_counter() - t:.0f} s wall, load {load}")
    if args.out:
        with open(args.out, "w") as f:
            json.dump(
                dict(rows=rows, dataset=str(args.dataset), load=load), f, indent=1
            )


if __name__ == "__main__":
    main()
