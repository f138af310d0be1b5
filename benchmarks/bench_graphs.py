"""k-NN graph search: time, peak memory and recall@10 of each backend.

Synthetic CQT-like float32 data (d = 96): a mixture of clusters, each a
low-rank Gaussian around a smooth non-negative spectrum, plus a little noise,
like frames of min-max scaled constant-Q spectrograms (not uniform noise,
which has no neighbourhood structure and is the worst case of every ANN
index). Each (backend, N) runs in a fresh process, so the peak resident
memory (``ru_maxrss``) is that run's; it is reported on top of the data.

Backends: ``exact`` and ``approximate`` are this package's
(:func:`pyunlocbox_gae.graphs.search_neighbors`, distances recomputed and
self dropped); ``hnswlib``, ``faiss-hnsw`` and ``pynndescent`` are the raw
libraries at settings of similar recall, measured to choose the approximate
backend. ``knn_graph`` times the whole builder (search + weights + Laplacian
+ lmax) on top of the chosen backend.

Usage::

    OPENBLAS_NUM_THREADS=2 python benchmarks/bench_graphs.py --sizes 10000 100000
    python benchmarks/bench_graphs.py --sizes 1288000 --backends approximate \\
        knn_graph
"""

import argparse
import json
import os
import resource
import subprocess
import sys
import time

import numpy as np

THREADS = 2
D = 96
K = 10
ALL = ["exact", "approximate", "hnswlib", "faiss-hnsw", "pynndescent", "knn_graph"]


def cqt_like(N, d=D, n_clusters=128, rank=8, seed=0, block=8192):
    """(N, d) float32 clustered low-rank data in [0, ~1], built in blocks."""
    rng = np.random.default_rng(seed)
    freqs = np.arange(d)
    # Smooth spectra: a few Gaussian bumps (partials) per cluster.
    centres = np.zeros((n_clusters, d), np.float32)
    for c in range(n_clusters):
        for f0 in rng.uniform(0, d, 4):
            centres[c] += np.exp(-0.5 * ((freqs - f0) / rng.uniform(1, 6)) ** 2)
    centres /= centres.max(axis=1, keepdims=True)
    loadings = (rng.standard_normal((n_clusters, rank, d)) * 0.08).astype(np.float32)
    X = np.empty((N, d), np.float32)
    for s in range(0, N, block):
        n = min(block, N - s)
        lab = rng.integers(0, n_clusters, n)
        Z = rng.standard_normal((n, rank)).astype(np.float32)
        X[s : s + n] = centres[lab] + np.einsum("nr,nrd->nd", Z, loadings[lab])
        X[s : s + n] += 0.02 * rng.standard_normal((n, d)).astype(np.float32)
    return X


def rss_mib():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def raw_library(name, X, k):
    """Neighbour indices (self included) from a library used directly."""
    N = X.shape[0]
    if name == "hnswlib":
        import hnswlib

        index = hnswlib.Index(space="l2", dim=X.shape[1])
        index.init_index(max_elements=N, M=16, ef_construction=100, random_seed=0)
        index.add_items(X, num_threads=THREADS)
        index.set_ef(60)
        return index.knn_query(X, k=k + 1, num_threads=THREADS)[0]
    if name == "faiss-hnsw":
        import faiss

        index = faiss.IndexHNSWFlat(X.shape[1], 16)
        index.hnsw.efConstruction = 100
        index.add(X)
        index.hnsw.efSearch = 60
        return index.search(X, k + 1)[1]
    if name == "pynndescent":
        import pynndescent

        index = pynndescent.NNDescent(
            X, n_neighbors=k + 1, random_state=None, n_jobs=THREADS, low_memory=True
        )
        return index.neighbor_graph[0]
    raise ValueError(name)


def recall_raw(X, indices, rows, k):
    """recall@k of raw lists (self included) on the sampled rows."""
    from pyunlocbox_gae.graphs.search import (
        Neighbors,
        _drop_self,
        _pair_distances,
        recall_at_k,
    )

    idx = np.asarray(indices, dtype=np.int64)
    dist = _pair_distances(X, idx, "euclidean")
    idx, dist = _drop_self(idx, dist)
    dist = np.sort(dist, axis=1)
    return recall_at_k(Neighbors(idx, dist), X, n_queries=len(rows))


def one(N, backend, n_queries, seed):
    """Run one configuration in this process; print one JSON line."""
    import faiss

    faiss.omp_set_num_threads(THREADS)
    from pyunlocbox_gae import graphs

    X = cqt_like(N, seed=seed)
    base = rss_mib()
    rows = np.arange(n_queries)
    t = time.perf_counter()
    extra = {}
    if backend in ("exact", "approximate"):
        nb = graphs.search_neighbors(X, k=K, backend=backend, random_state=0)
        elapsed = time.perf_counter() - t
        recall = graphs.recall_at_k(nb, X, n_queries=n_queries, random_state=1)
        extra = nb.params
    elif backend == "knn_graph":
        G = graphs.knn_graph(X, k=K, random_state=0, verbose=True)
        elapsed = time.perf_counter() - t
        recall = graphs.recall_at_k(G.neighbors, X, n_queries=n_queries)
        extra = dict(nnz=int(G.W.nnz), lmax=G.lmax_exact, search=G.neighbors.backend)
    else:
        indices = raw_library(backend, X, K)
        elapsed = time.perf_counter() - t
        recall = recall_raw(X, indices, rows, K)
    print(
        json.dumps(
            dict(
                N=N,
                backend=backend,
                seconds=round(elapsed, 1),
                peak_mib_over_data=round(rss_mib() - base, 0),
                data_mib=round(X.nbytes / 2**20, 0),
                recall=round(recall, 4),
                load=os.getloadavg()[0],
                **extra,
            )
        ),
        flush=True,
    )


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000])
    parser.add_argument("--backends", nargs="+", default=ALL[:-1], choices=ALL)
    parser.add_argument("--queries", type=int, default=1000, help="recall sample")
    parser.add_argument("--timeout", type=float, default=1500)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--one", nargs=2, metavar=("N", "BACKEND"), help="internal")
    args = parser.parse_args(argv)
    if args.one:
        return one(int(args.one[0]), args.one[1], args.queries, args.seed)
    env = dict(
        os.environ,
        OMP_NUM_THREADS=str(THREADS),
        OPENBLAS_NUM_THREADS=str(THREADS),
        NUMBA_NUM_THREADS=str(THREADS),
    )
    print(f"# {THREADS} threads, load before: {os.getloadavg()}", flush=True)
    print("| N | backend | time (s) | peak MiB over data | recall@10 | load |")
    print("|---|---|---|---|---|---|")
    for N in args.sizes:
        for backend in args.backends:
            cmd = [sys.executable, __file__, "--one", str(N), backend]
            cmd += ["--queries", str(args.queries), "--seed", str(args.seed)]
            try:
                out = subprocess.run(
                    cmd, env=env, capture_output=True, text=True, timeout=args.timeout
                )
            except subprocess.TimeoutExpired:
                print(f"| {N} | {backend} | > {args.timeout:.0f} | | | |", flush=True)
                continue
            lines = [ln for ln in out.stdout.splitlines() if ln.startswith("{")]
            if out.returncode or not lines:
                print(
                    f"| {N} | {backend} | failed: {out.stderr[-300:]!r} |", flush=True
                )
                continue
            r = json.loads(lines[-1])
            print(
                f"| {N} | {backend} | {r['seconds']} | {r['peak_mib_over_data']:.0f} "
                f"| {r['recall']} | {r['load']:.1f} |",
                flush=True,
            )
            print("#", json.dumps(r), flush=True)


if __name__ == "__main__":
    main()
