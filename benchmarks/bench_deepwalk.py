"""DeepWalk at 10k and 100k vertices: walk and SkipGram time, memory, accuracy.

For each size a stochastic block model graph (10 blocks, expected degree
10, 60% of the edges within blocks) is embedded with the "cheap" and the
"paper" presets of :class:`pyunlocbox_gae.embeddings.deepwalk.DeepWalk`, every
configuration in a fresh subprocess so that its peak resident memory is its
own. Reported: seconds to generate the walks once (a pass of the numba
kernel, no training), seconds of the whole fit (vertex counting pass +
SkipGram with the walks streamed again), tokens per second of the fit, peak
RSS, and the accuracy of a logistic regression on the embedding predicting
the blocks from 10% of labelled vertices (the rest is the test set).

    python benchmarks/bench_deepwalk.py                        # 10k both, 100k cheap
    python benchmarks/bench_deepwalk.py --configs 2000:cheap 2000:paper
    python benchmarks/bench_deepwalk.py --multilabel 3000   # protocols only
    python benchmarks/bench_deepwalk.py --mat blogcatalog.mat --repeats 5

``--multilabel N`` instead measures the two multi-label protocols (the
paper's oracle top-k and the honest threshold) on a graph of N vertices with
overlapping communities (every vertex in 1 to 3 of 10 communities, edges
denser within a shared community), as in the paper's BlogCatalog setting.
``--mat FILE`` measures them on a real graph in the format of the DeepWalk
authors' example graphs (``network`` and ``group`` sparse matrices).
"""

import argparse
import json
import resource
import subprocess
import sys
import time

import numpy as np
import scipy.sparse as sp

DEFAULT = ["10000:cheap", "10000:paper", "100000:cheap"]


def graph(n, blocks=10, degree=10.0, homophily=0.6, seed=0):
    from pyunlocbox_gae.embeddings.planetoid import sbm_adjacency

    labels = np.arange(n) % blocks
    size = n / blocks
    A = sbm_adjacency(
        labels,
        degree * homophily / (size - 1),
        degree * (1 - homophily) / (n - size),
        random_state=seed,
    )
    return A, labels


def one(n, preset, workers, seed):
    """Run one configuration in this process; return its measures."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import train_test_split

    from pyunlocbox_gae.embeddings.deepwalk import DeepWalk
    from pyunlocbox_gae.embeddings.walks import iter_walks

    A, labels = graph(n, seed=seed)
    for _ in iter_walks(A[:10, :10], 1, 2):  # compile the kernel (cached) first
        pass
    model = DeepWalk.from_preset(preset, workers=workers, random_state=seed)
    t = time.perf_counter()
    tokens = 0
    for walks in iter_walks(A, model.n_walks, model.walk_length, random_state=seed):
        tokens += int((walks >= 0).sum())
    t_walks = time.perf_counter() - t
    t = time.perf_counter()
    E = model.fit_transform(A)
    t_fit = time.perf_counter() - t
    tr, te = train_test_split(
        np.arange(n), train_size=0.1, stratify=labels, random_state=seed
    )
    clf = LogisticRegression(max_iter=2000).fit(E[tr], labels[tr])
    return dict(
        nodes=n,
        edges=int(A.nnz // 2),
        preset=preset,
        tokens=tokens,
        walks_s=t_walks,
        fit_s=t_fit,
        tokens_per_s=tokens / t_fit,
        peak_rss_mib=resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        accuracy=float(clf.score(E[te], labels[te])),
    )


def overlapping(n, communities=10, degree=10.0, homophily=0.7, seed=0):
    """Vertices in 1-3 communities; edges mostly within a shared community."""
    import scipy.sparse as sp

    rng = np.random.default_rng(seed)
    Y = np.zeros((n, communities), dtype=bool)
    for i, k in enumerate(rng.integers(1, 4, n)):
        Y[i, rng.choice(communities, k, replace=False)] = True
    rows, cols = [], []
    for c in range(communities):
        members = np.flatnonzero(Y[:, c])
        m = int(n * degree * homophily / 2 / communities)
        rows.append(rng.choice(members, m))
        cols.append(rng.choice(members, m))
    m = int(n * degree * (1 - homophily) / 2)
    rows.append(rng.integers(0, n, m))
    cols.append(rng.integers(0, n, m))
    i, j = np.concatenate(rows), np.concatenate(cols)
    A = sp.csr_matrix((np.ones(2 * len(i)), (np.r_[i, j], np.r_[j, i])), (n, n))
    A.setdiag(0)
    A.eliminate_zeros()
    A.data[:] = 1
    return A, Y


def read_mat(path):
    """Graph and labels of a DeepWalk example graph (``network``, ``group``)."""
    from scipy.io import loadmat

    m = loadmat(path)
    A = sp.csr_matrix(m["network"], dtype=np.float64)
    Y = sp.csr_matrix(m["group"]).toarray().astype(np.int8)
    return A, Y


def multilabel(n, workers, seed, mat=None, fractions=(0.1, 0.5), repeats=3):
    from pyunlocbox_gae.embeddings.deepwalk import DeepWalk, evaluate_multilabel

    A, Y = read_mat(mat) if mat else overlapping(n, seed=seed)
    print(f"{A.shape[0]} vertices, {A.nnz // 2} edges, {Y.shape[1]} labels")
    print("| preset | fraction labelled | protocol | micro-F1 | macro-F1 |")
    print("|---|---|---|---|---|")
    for preset in ("cheap", "paper"):
        t = time.perf_counter()
        E = DeepWalk.from_preset(preset, workers=workers, random_state=seed)
        E = E.fit_transform(A)
        print(f"{preset}: fit in {time.perf_counter() - t:.0f} s", flush=True)
        for frac in fractions:
            r = evaluate_multilabel(E, Y, frac, n_repeats=repeats, random_state=seed)
            for protocol in ("oracle", "threshold"):
                mi, ma = r[protocol]["micro"], r[protocol]["macro"]
                print(
                    f"| {preset} | {frac} | {protocol} | {100 * mi[0]:.1f} ± "
                    f"{100 * mi[1]:.1f} | {100 * ma[0]:.1f} ± {100 * ma[1]:.1f} |",
                    flush=True,
                )


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--configs", nargs="+", default=DEFAULT, help="NODES:PRESET")
    p.add_argument("--workers", type=int, default=1, help="gensim threads")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--multilabel", type=int, help="protocols on N vertices")
    p.add_argument(
        "--mat",
        help="protocols on a DeepWalk example graph (.mat with 'network' and "
        "'group', e.g. blogcatalog.mat), labelled fractions 0.1, 0.5, 0.9",
    )
    p.add_argument("--repeats", type=int, default=3, help="random splits averaged")
    p.add_argument("--one", help=argparse.SUPPRESS)  # child process: NODES:PRESET
    args = p.parse_args()
    if args.mat:
        multilabel(0, args.workers, args.seed, args.mat, (0.1, 0.5, 0.9), args.repeats)
        return
    if args.multilabel:
        multilabel(args.multilabel, args.workers, args.seed, repeats=args.repeats)
        return
    if args.one:
        n, preset = args.one.split(":")
        print(json.dumps(one(int(n), preset, args.workers, args.seed)))
        return
    print(
        "| nodes | edges | preset | tokens | walks (s) | fit (s) | tokens/s "
        "| peak RSS (MiB) | accuracy (10% labels) |"
    )
    print("|---|---|---|---|---|---|---|---|---|")
    rows = []
    for config in args.configs:
        out = subprocess.run(
            [
                sys.executable,
                __file__,
                "--one",
                config,
                "--workers",
                str(args.workers),
                "--seed",
                str(args.seed),
            ],
            capture_output=True,
            text=True,
            check=True,
        )
        r = json.loads(out.stdout.strip().splitlines()[-1])
        rows.append(r)
        print(
            f"| {r['nodes']} | {r['edges']} | {r['preset']} | {r['tokens']:.2e} "
            f"| {r['walks_s']:.1f} | {r['fit_s']:.1f} | {r['tokens_per_s']:.0f} "
            f"| {r['peak_rss_mib']:.0f} | {100 * r['accuracy']:.1f} |",
            flush=True,
        )
    by = {(r["nodes"], r["preset"]): r for r in rows}
    for n in sorted({r["nodes"] for r in rows}):
        if (n, "cheap") in by and (n, "paper") in by:
            c, q = by[n, "cheap"], by[n, "paper"]
            print(
                f"{n} nodes: paper/cheap fit time {q['fit_s'] / c['fit_s']:.1f}x, "
                f"accuracy {100 * (q['accuracy'] - c['accuracy']):+.1f} points"
            )


if __name__ == "__main__":
    main()
