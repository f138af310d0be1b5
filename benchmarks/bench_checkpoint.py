"""Cost of checkpoints, and a kill -9 at a realistic size.

1. Overhead: the same fit (synthetic CQT-like frames, float32, k = 10 graph)
   with and without ``checkpoint_every=1``, the two runs interleaved in one
   process; reported: seconds per outer iteration of each, their ratio, the
   seconds of one checkpoint write, the file size against Z's, the seconds
   to fingerprint X and the graph (once per fit) and to resume.
2. Kill -9: a child process fits with checkpoints and is SIGKILLed at a
   random moment after its first checkpoint; the fit is resumed here and
   compared with an uninterrupted fit (codes bit-identical, objective).

    python benchmarks/bench_checkpoint.py                  # N = 20000, m = 128
    python benchmarks/bench_checkpoint.py --N 5000 --m 64  # quicker
"""

import argparse
import logging
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from threadpoolctl import threadpool_limits

sys.path.insert(0, str(Path(__file__).parent))
from problem import make_problem  # noqa: E402

from pyunlocbox_gae import GraphAutoEncoder, graphs, store  # noqa: E402
from pyunlocbox_gae.model import checkpoint

ROOT = Path(__file__).resolve().parents[1]
for _name in ("pygsp", "pygsp.graphs", "pygsp.graphs.graph"):  # self-loop notices
    logging.getLogger(_name).setLevel(logging.ERROR)

CHILD = """
import logging, sys
for name in ("pygsp", "pygsp.graphs", "pygsp.graphs.graph"):
    logging.getLogger(name).setLevel(logging.ERROR)
import numpy as np
from pyunlocbox_gae import GraphAutoEncoder, graphs
X = np.load(sys.argv[1], allow_pickle=False)
G = graphs.load_graph(sys.argv[3], X=X)
GraphAutoEncoder(**{params}, graph=G, checkpoint=sys.argv[2]).fit(X)
"""


def params(args):
    return dict(
        n_atoms=args.m,
        ld=10.0,
        ls=1.0,
        lg=1.0,
        max_inner=args.max_inner,
        max_outer=args.outer,
        rtol_outer=0.0,
        random_state=0,
    )


def overhead(X, G, args, folder):
    path = folder / "overhead.h5"
    writes = []
    original = checkpoint.Checkpointer.write

    def timed(self, history):
        t = time.process_time()
        original(self, history)
        writes.append(time.process_time() - t)

    checkpoint.Checkpointer.write = timed
    # CPU seconds (one thread for BLAS and numba): a loaded machine slows the
    # wall clock of both runs unevenly, not their CPU time.
    per_outer = {"none": [], "every 1": []}
    GraphAutoEncoder(**{**params(args), "max_outer": 1}, graph=G).fit(X)  # warm-up
    try:
        for _ in range(args.repeats):
            for name in per_outer:
                path.unlink(missing_ok=True)
                extra = {} if name == "none" else dict(checkpoint=path)
                t = time.process_time()
                gae = GraphAutoEncoder(**params(args), graph=G, **extra).fit(X)
                per_outer[name].append((time.process_time() - t) / len(gae.history_))
    finally:
        checkpoint.Checkpointer.write = original
    t = time.perf_counter()
    store.fingerprint(X)
    checkpoint.graph_fingerprint(G)
    t_print = time.perf_counter() - t
    t = time.perf_counter()
    GraphAutoEncoder(**params(args), graph=G, checkpoint=path).fit(X)
    t_resume = time.perf_counter() - t  # fingerprints, read, final codes step
    size = path.stat().st_size
    base, ckpt = (min(v) for v in per_outer.values())
    Z_bytes = X.shape[0] * args.m * X.dtype.itemsize
    print("| | CPU seconds |\n|---|---|")
    print(
        f"| fit / outer iteration, no checkpoint (best of {args.repeats}) | "
        f"{base:.3f} |"
    )
    print(f"| fit / outer iteration, checkpoint every iteration | {ckpt:.3f} |")
    print(f"| ratio | {ckpt / base:.3f} |")
    write = np.median(writes)
    print(
        f"| one checkpoint write (median) | {write:.4f} "
        f"({100 * write / base:.1f} % of an outer iteration) |"
    )
    print(f"| fingerprints of X and the graph (once per fit) | {t_print:.4f} |")
    print(
        f"| resume of a finished fit (fingerprints, read, final codes) | "
        f"{t_resume:.3f} |"
    )
    print(f"\ncheckpoint file {size / 2**20:.1f} MiB = {size / Z_bytes:.2f} x Z")
    return base


def kill_test(X, G, args, folder, rng, per_outer):
    np.save(folder / "X.npy", X)
    graphs.save_graph(folder / "graph.h5", G, X=X)
    script = folder / "child.py"
    script.write_text(CHILD.format(params=repr(params(args))))
    path = folder / "killed.h5"
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    t = time.perf_counter()
    child = subprocess.Popen(
        [
            sys.executable,
            str(script),
            str(folder / "X.npy"),
            str(path),
            str(folder / "graph.h5"),
        ],
        env=env,
    )
    while not path.exists():
        assert child.poll() is None, "the child ended early"
        time.sleep(0.005)
    t_first = time.perf_counter() - t
    # Within the remaining outer iterations, so that the kill lands mid-fit.
    delay = rng.uniform(0, 0.9 * (args.outer - 1) * per_outer)
    time.sleep(delay)
    child.send_signal(signal.SIGKILL)
    child.wait()
    with store.open_h5(path, "checkpoint") as f:
        done = int(f.attrs["outer"])
    t = time.perf_counter()
    resumed = GraphAutoEncoder(**params(args), graph=G, checkpoint=path)
    Z = resumed.fit_transform(X)
    t_resume = time.perf_counter() - t
    ref = GraphAutoEncoder(**params(args), graph=G)
    Z_ref = ref.fit_transform(X)
    a, b = resumed.history_[-1]["objective"], ref.history_[-1]["objective"]
    print("\n| kill -9 | |\n|---|---|")
    print(f"| time to the first checkpoint (child start included) | {t_first:.2f} s |")
    print(
        f"| killed after | {t_first + delay:.2f} s, {done} of {args.outer} "
        "outer iterations saved |"
    )
    print(f"| resumed fit (remaining iterations) | {t_resume:.2f} s |")
    print(f"| codes identical to the uninterrupted fit | {np.array_equal(Z, Z_ref)} |")
    print(f"| final objective, relative difference | {abs(a - b) / abs(b):.1e} |")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--N", type=int, default=20000)
    parser.add_argument("--n", type=int, default=96)
    parser.add_argument("--m", type=int, default=128)
    parser.add_argument("--outer", type=int, default=4)
    parser.add_argument("--max-inner", type=int, default=20)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    X, _, _ = make_problem(n=args.n, m=args.m, N=args.N)
    X = np.ascontiguousarray(X, dtype=np.float32)
    G = graphs.knn_graph(X, k=10)
    print(
        f"N = {args.N}, n = {args.n}, m = {args.m}, float32, k = 10, "
        f"max_inner = {args.max_inner}, {args.outer} outer iterations, "
        f"{args.threads} thread(s)\n"
    )
    with threadpool_limits(args.threads), tempfile.TemporaryDirectory() as folder:
        per_outer = overhead(X, G, args, Path(folder))
        kill_test(X, G, args, Path(folder), np.random.default_rng(), per_outer)


if __name__ == "__main__":
    main()
