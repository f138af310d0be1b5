"""Synthetic problems for the benchmarks: CQT-like frames with a planted dictionary.

Samples come in clusters that share atoms, so that the k-NN graph carries
information, and are shuffled (the worst case for the memory locality of the
sparse product with L) unless ``order="cluster"``.
"""

import time
from pathlib import Path

import numpy as np
import scipy.sparse as sp


def make_problem(
    n=96,
    m=128,
    N=20000,
    s=5,
    n_clusters=40,
    snr_db=20.0,
    dtype=np.float32,
    order="shuffled",
    seed=0,
):
    """X (N, n) sample-major, the planted D0 (n, m) and cluster labels."""
    rng = np.random.default_rng(seed)
    D0 = rng.standard_normal((n, m))
    D0 /= np.linalg.norm(D0, axis=0)
    pool = min(3 * s, m)
    pools = np.stack([rng.choice(m, pool, replace=False) for _ in range(n_clusters)])
    labels = np.sort(rng.integers(0, n_clusters, N))
    pick = np.argsort(rng.random((N, pool)), axis=1)[:, :s]
    rows = pools[labels[:, None], pick]
    vals = (0.5 + rng.random((N, s))) * rng.choice([-1.0, 1.0], (N, s))
    X = np.zeros((N, n))
    for j in range(s):  # X = Z0 D0ᵀ without forming Z0
        X += vals[:, j : j + 1] * D0.T[rows[:, j]]
    noise = rng.standard_normal(X.shape)
    X += noise * (np.linalg.norm(X) / np.linalg.norm(noise) * 10 ** (-snr_db / 20))
    if order == "shuffled":
        perm = rng.permutation(N)
        X, labels = X[perm], labels[perm]
    return np.ascontiguousarray(X, dtype=dtype), D0.astype(dtype), labels


def knn_laplacian(X, k=10, cache=None):
    """Normalized Laplacian of the study's k-NN graph (exact search), cached."""
    if cache is not None and Path(cache).exists():
        data = np.load(cache)
        return sp.csr_matrix(
            (data["data"], data["indices"], data["indptr"]), shape=tuple(data["shape"])
        )
    from sklearn.neighbors import NearestNeighbors

    t = time.perf_counter()
    d, idx = NearestNeighbors(n_neighbors=k + 1, algorithm="brute").fit(X).kneighbors(X)
    N = X.shape[0]
    sigma = d[:, -1].mean()
    W = sp.csr_matrix(
        (np.exp(-d / sigma).ravel(), idx.ravel(), np.arange(0, N * (k + 1) + 1, k + 1)),
        shape=(N, N),
    )
    W = W.maximum(W.T).tocsr()
    W.setdiag(1.0)
    deg = np.asarray(W.sum(axis=1)).ravel()
    s = sp.diags(1 / np.sqrt(deg))
    L = (sp.eye(N) - s @ W @ s).tocsr().astype(X.dtype)
    L.sort_indices()
    print(f"  graph over {N} samples: {time.perf_counter() - t:.1f} s", flush=True)
    if cache is not None:
        np.savez(
            cache,
            data=L.data,
            indices=L.indices,
            indptr=L.indptr,
            shape=np.array(L.shape),
        )
    return L
