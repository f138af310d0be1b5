import logging

import numpy as np
import pytest

# pygsp attaches DEBUG stream handlers to its loggers; keep test output clean.
for name in ("pygsp", "pygsp.graphs", "pygsp.filters", "pygsp.utils"):
    logging.getLogger(name).setLevel(logging.WARNING)


@pytest.fixture
def rng():
    return np.random.default_rng(42)


def knn_pygsp(X, k=5, lap_type="normalized", dtype=np.float32):
    """A small symmetric k-NN graph with self-loops, built independently of
    the package (tests of the core must not depend on its graph builder)."""
    import pygsp
    import scipy.sparse as sp
    from sklearn.neighbors import NearestNeighbors

    d, idx = NearestNeighbors(n_neighbors=k + 1).fit(X).kneighbors(X)
    sigma = d[:, -1].mean()
    N = X.shape[0]
    W = sp.csr_matrix(
        (np.exp(-d / sigma).ravel(), idx.ravel(), np.arange(0, N * (k + 1) + 1, k + 1)),
        shape=(N, N),
    )
    W = W.maximum(W.T).tolil()
    W.setdiag(1.0)
    G = pygsp.graphs.Graph(W.tocsr().astype(dtype), lap_type=lap_type)
    G.L = G.L.astype(dtype).tocsr()
    return G


@pytest.fixture
def small_problem(rng):
    """Maths-oriented float64 arrays: X (n, N), D (n, m), Z (m, N), E (m, n)."""
    n, m, N = 6, 8, 30
    X = rng.standard_normal((n, N))
    D = rng.standard_normal((n, m))
    D /= np.linalg.norm(D, axis=0)
    Z = rng.standard_normal((m, N))
    E = rng.standard_normal((m, n)) / 3
    G = knn_pygsp(X.T, k=4, dtype=np.float64)
    return dict(X=X, D=D, Z=Z, E=E, G=G)


def run_python(code):
    """Standard output of ``python -c code`` in a fresh interpreter.

    The checkout comes first on the path and nothing else is inherited, so
    what the code imports is what the package itself imports.
    """
    import subprocess
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parents[1]
    return subprocess.run(
        [sys.executable, "-c", code],
        cwd=root,
        capture_output=True,
        text=True,
        check=True,
        env={"PYTHONPATH": str(root), "PATH": ""},
    ).stdout
