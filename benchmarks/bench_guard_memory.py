"""Peak memory of one codes step in solve(), with and without the guard's copy.

solve() keeps the last good iterate (one array of Z's size) so that a
diverging sub-problem can be restarted from it with a halved step;
``max_halvings=0`` keeps the check but not the copy. Reported: the
tracemalloc peak of a 20-iteration codes step beyond the inputs and Z
itself, in units of Z's size (N = 20,000 CQT-like frames, n = 96, m = 128,
float32, k = 10 graph, encoder term on: the fused plan's constant included).

    python benchmarks/bench_guard_memory.py
"""

import sys
import tracemalloc
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
from problem import make_problem  # noqa: E402

from pyunlocbox_gae import functions as F  # noqa: E402
from pyunlocbox_gae import graphs, solvers  # noqa: E402


def main():
    X, _, _ = make_problem(n=96, m=128, N=20000)
    G = graphs.knn_graph(X, k=10)
    rng = np.random.default_rng(0)
    D = rng.standard_normal((96, 128)).astype(np.float32)
    D /= np.linalg.norm(D, axis=0)
    E = (rng.standard_normal((128, 96)) / 10).astype(np.float32)
    f = F.smooth_sum(
        [
            F.fidelity_z(X.T, D, 10.0),
            F.dirichlet(G, 1.0, lmax=G.lmax_exact),
            F.encoder_z(X.T, E, 1.0),
        ]
    )
    g = F.sparsity(1.0)
    Z = np.zeros((X.shape[0], 128), np.float32).T  # (m, N) view, as the fit
    step = 1 / f.lipschitz()
    solvers.solve([g, f], Z, solvers.forward_backward(step), maxit=3)  # warm up
    print("| max_halvings | peak beyond inputs and Z (x Z) |\n|---|---|")
    for halvings in (5, 0):
        Z[...] = 0
        tracemalloc.start()
        solvers.solve(
            [g, f],
            Z,
            solvers.forward_backward(step),
            maxit=20,
            eval_every=5,
            max_halvings=halvings,
        )
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        print(f"| {halvings} | {peak / Z.nbytes:.2f} |")


if __name__ == "__main__":
    main()
