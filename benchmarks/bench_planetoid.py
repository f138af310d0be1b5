"""Semi-supervised node classification: every method side by side, synthetic data.

No real Planetoid data (Cora, Citeseer, Pubmed) is available offline, so the
default data set is a Cora-sized stand-in from
:func:`pyunlocbox_gae.embeddings.planetoid.make_sbm_dataset`: 2,708 nodes, 7 classes,
1,433 binary words (18 per node), expected degree 3.9 with 80% of the edges
within a class (Cora's sizes and edge homophily), and the public split's
sizes (20 labels per class, 500 validation, 1,000 test). The word signal is
set so that the features-only baseline lands near Cora's (about 58%).

Every method runs on the same split for every seed, in one process, one
after the other; reported: test accuracy mean ± std over seeds, seconds per
run and the peak memory traced during a run (NumPy and Python allocations).

    python benchmarks/bench_planetoid.py                 # Cora-sized, 3 seeds
    python benchmarks/bench_planetoid.py --nodes 1000 --features 300 --seeds 2
    python benchmarks/bench_planetoid.py --folder DIR --name cora   # real files
"""

import argparse
import time
import tracemalloc

import numpy as np

from pyunlocbox_gae.embeddings.planetoid import load_planetoid, make_sbm_dataset
from pyunlocbox_gae.embeddings.planetoid.compare import METHODS, PUBLISHED, run_method


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--nodes", type=int, default=2708)
    p.add_argument("--classes", type=int, default=7)
    p.add_argument("--features", type=int, default=1433)
    p.add_argument("--degree", type=float, default=3.9)
    p.add_argument("--homophily", type=float, default=0.8)
    p.add_argument("--signal", type=float, default=0.35)
    p.add_argument("--seeds", type=int, default=3)
    p.add_argument("--methods", nargs="+", default=list(METHODS), choices=METHODS)
    p.add_argument("--max-iter", type=int, default=500, help="Planetoid rounds")
    p.add_argument("--folder", help="a Planetoid-format folder instead")
    p.add_argument("--name", default="cora")
    args = p.parse_args()
    if args.folder:
        data = load_planetoid(args.folder, args.name)
    else:
        n_val = min(500, args.nodes // 5)  # the public split: 20 per class, 500, 1000
        data = make_sbm_dataset(
            args.nodes,
            args.classes,
            args.features,
            avg_degree=args.degree,
            homophily=args.homophily,
            words_per_node=18,
            feature_signal=args.signal,
            n_val=n_val,
            n_test=min(1000, args.nodes - n_val - 20 * args.classes),
            random_state=0,
        )
    print(data.summary())
    params = {m: {"max_iter": args.max_iter} for m in ("planetoid_t", "planetoid_i")}
    published = PUBLISHED.get(data.name.lower(), {})
    print(
        "| method | accuracy (%) | seconds per run | peak traced memory (MiB) "
        "| published (%) |"
    )
    print("|---|---|---|---|---|")
    for name in args.methods:
        accs, secs, peaks = [], [], []
        for seed in range(args.seeds):
            tracemalloc.start()
            t = time.perf_counter()
            accs.append(100 * run_method(name, data, seed, **params.get(name, {})))
            secs.append(time.perf_counter() - t)
            peaks.append(tracemalloc.get_traced_memory()[1] / 2**20)
            tracemalloc.stop()
        pub = published.get(name)
        print(
            f"| {name} | {np.mean(accs):.1f} ± {np.std(accs):.1f} "
            f"| {np.mean(secs):.1f} | {max(peaks):.0f} "
            f"| {'–' if pub is None else pub} |",
            flush=True,
        )


if __name__ == "__main__":
    main()
