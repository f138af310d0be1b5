"""Mutation fuzzer of every file format that pyunlocbox_gae reads.

Valid files are made by the package itself (a frames file, a graph file and
a neighbours file, a ``.npz`` graph, a model, a checkpoint, a TOML config, a
Planetoid folder), then mutated: bit flips, bytes set to edge values, 8-byte
integers (2**31 - 1, 2**33, 2**63 - 1, -1) written over the file, truncations,
inserted and deleted runs, and structural edits made through h5py, NumPy
and pickle (datasets reshaped, emptied, made huge or of another dtype,
attributes set to NaN, -1, 2**40 or text, items deleted, sparse indices
pushed out of range). Each mutated file goes to the package's reader in a
worker process, which must either raise one clear error (a ``GAEError``, or
an ``OSError`` about the path) or return a load that passes the format's
invariants and can be used. Anything else is a finding:

* ``bug``: another exception (the command line would print a traceback);
* ``crash``: the worker died (segmentation fault, abort);
* ``hang``: no answer within ``--timeout`` seconds;
* ``memory``: a ``MemoryError`` (the worker's address space is capped).

Findings are written to ``--out`` with the mutated file. Run by hand::

    python benchmarks/fuzz_readers.py --cases 10000 --seed 0

The bounded version in the tests runs a few hundred cases.
"""

import argparse
import collections
import json
import multiprocessing
import os
import pickle
import random
import resource
import shutil
import tempfile
import time
import zipfile
from pathlib import Path

import h5py
import numpy as np
import scipy.sparse as sp

FORMATS = (
    "frames",
    "graph",
    "neighbors",
    "npz",
    "model",
    "checkpoint",
    "config",
    "planetoid",
)
EDGE_INTS = (0, 1, -1, 2**31 - 1, 2**32, 2**33, 2**63 - 1, -(2**63))
EDGE_VALUES = (-1, 0, 2**40, 2**62, np.nan, np.inf, -np.inf, 1e308, "x", "")
TOML = """\
data = "genres"
output = "out"

[cqt]
fmin = "C2"
n_bins = 96
frames_per_clip = 20

[classification]
protocols = ["grouped", "leaky"]
n_splits = 5
n_repeats = 2
"""


# ------------------------------------------------------------ valid files


def make_seeds(folder):
    """Write one valid file (or folder) of each format; return their paths."""
    from pyunlocbox_gae import GraphAutoEncoder, graphs
    from pyunlocbox_gae.audio.cqt import CQTParams
    from pyunlocbox_gae.audio.preprocess import preprocess
    from pyunlocbox_gae.audio.synthetic import make_dataset
    from pyunlocbox_gae.embeddings.planetoid import make_sbm_dataset, write_planetoid

    folder = Path(folder)
    X = np.random.default_rng(0).random((30, 4)).astype(np.float32)
    data = make_dataset(folder / "audio", genres=2, clips_per_genre=2, seconds=0.3)
    params = CQTParams(clip_samples=5512, frame_size=512, frame_hop=256, n_bins=24,
                       bins_per_octave=12)  # fmt: skip
    preprocess(data, folder / "frames.h5", params, progress=False, log=lambda m: 0)
    G = graphs.knn_graph(X, k=3)
    graphs.save_graph(folder / "graph.h5", G, X=X)
    graphs.save_neighbors(folder / "neighbors.h5", G.neighbors, X=X)
    sp.save_npz(folder / "graph.npz", G.W, compressed=False)
    model = GraphAutoEncoder(n_atoms=3, max_outer=2, le=1.0, random_state=0)
    model.fit(X).save(folder / "model.h5")
    GraphAutoEncoder(n_atoms=3, max_outer=2, random_state=0,
                     checkpoint=folder / "checkpoint.h5").fit(X)  # fmt: skip
    (folder / "config.toml").write_text(TOML)
    (folder / "genres").mkdir()  # the config's data folder must exist
    sbm = dict(n_nodes=60, n_classes=2, n_features=8, n_per_class=5)
    data = make_sbm_dataset(**sbm, n_val=10, n_test=20, random_state=0)
    (folder / "planetoid").mkdir()
    write_planetoid(folder / "planetoid", "toy", data)
    np.save(folder / "X.npy", X)
    return {name: folder / _seed_name(name) for name in FORMATS}


def _seed_name(fmt):
    return dict(
        frames="frames.h5", graph="graph.h5", neighbors="neighbors.h5",
        npz="graph.npz", model="model.h5", checkpoint="checkpoint.h5",
        config="config.toml", planetoid="planetoid",
    )[fmt]  # fmt: skip


# ------------------------------------------------------------ mutations


def mutate_bytes(raw, rng):
    """One random byte-level mutation of `raw`."""
    raw = bytearray(raw)
    kind = rng.choice(["flip", "edge", "int", "truncate", "insert", "delete"])
    at = rng.randrange(max(len(raw), 1))
    if kind == "flip" and raw:
        for _ in range(rng.randint(1, 8)):
            raw[rng.randrange(len(raw))] ^= 1 << rng.randrange(8)
    elif kind == "edge" and raw:
        raw[at] = rng.choice([0, 0xFF, 0x7F, 0x80])
    elif kind == "int":
        value = rng.choice(EDGE_INTS) % 2**64
        raw[at : at + 8] = value.to_bytes(8, "little")
    elif kind == "truncate":
        del raw[at:]
    elif kind == "insert":
        raw[at:at] = bytes(rng.randrange(256) for _ in range(rng.randint(1, 64)))
    else:
        del raw[at : at + rng.randint(1, 64)]
    return bytes(raw), kind


def mutate_h5(path, rng):
    """One structural edit of an HDF5 file, in place."""
    with h5py.File(path, "r+") as f:
        items = []
        f.visititems(lambda name, obj: items.append((name, obj)))
        datasets = [n for n, o in items if isinstance(o, h5py.Dataset)]
        holders = ["/"] + [n for n, o in items]
        kind = rng.choice(["attr", "attr", "dataset", "huge", "delete", "dtype"])
        if kind == "attr":
            holder = f[rng.choice(holders)]
            keys = list(holder.attrs)
            if not keys:
                return "attr-none"
            key = rng.choice(keys)
            holder.attrs[key] = rng.choice(EDGE_VALUES)
            return f"attr {key}"
        name = rng.choice(datasets)
        old = f[name]
        if kind == "delete":
            del f[name]
            return f"delete {name}"
        if kind == "dtype" and old.dtype.kind in "biuf":
            data = old[()]
            del f[name]
            f[name] = np.asarray(data).astype(rng.choice(["f4", "i2", "u8", "f8"]))
            return f"dtype {name}"
        shape = old.shape
        del f[name]
        if kind == "huge":
            f.create_dataset(name, shape=(2**31,) * max(len(shape), 1), dtype="f8",
                             chunks=(1,) * max(len(shape), 1))  # fmt: skip
            return f"huge {name}"
        new = rng.choice([(0,), (1,), shape[::-1], (*shape, 2), (3, 3, 3)])
        f.create_dataset(name, data=np.full(new, rng.choice(EDGE_INTS[:6])))
        return f"shape {name} {new}"


def mutate_npz(path, rng):
    """Rewrite one array of a save_npz file (shape, indices, indptr)."""
    with np.load(path) as z:
        arrays = {k: z[k] for k in z.files}
    key = rng.choice(["shape", "indices", "indptr", "data", "format"])
    value = arrays[key].copy()
    if key == "format":
        value = np.array(rng.choice([b"coo", b"bsr", b"dia", b"xyz"]))
    elif value.size:
        edge = rng.choice(EDGE_INTS[:7])
        if value.dtype.kind in "iu":
            info = np.iinfo(value.dtype)
            edge = min(max(edge, int(info.min)), int(info.max))
        value.flat[rng.randrange(value.size)] = edge
    arrays[key] = value
    with zipfile.ZipFile(path, "w") as out:
        for name, array in arrays.items():
            with out.open(name + ".npy", "w") as f:
                np.lib.format.write_array(f, np.asarray(array), allow_pickle=False)
    return f"npz {key}"


def mutate_pickle(path, rng):
    """Edit the object of a Planetoid pickle (indices, shapes, node ids)."""
    from pyunlocbox_gae.embeddings.planetoid.io import safe_load_pickle

    obj = safe_load_pickle(path)
    if isinstance(obj, dict):
        key = rng.choice(list(obj))
        obj[key] = list(obj[key]) + [rng.choice(EDGE_INTS[2:7])]
    elif sp.issparse(obj):
        obj = sp.csr_matrix(obj)
        target = rng.choice([obj.indices, obj.indptr, obj.data])
        if target.size:
            target[rng.randrange(target.size)] = rng.choice([-1, 10**8, 2**31 - 1])
    else:
        obj = np.asarray(obj)[:, : rng.randrange(obj.shape[1] + 1)]
    with open(path, "wb") as f:
        pickle.dump(obj, f, protocol=2)
    return "pickle"


def make_case(fmt, seed_path, folder, rng):
    """Write one mutated copy of a seed into `folder`; return (path, what)."""
    if fmt == "planetoid":
        target = folder / "planetoid"
        shutil.copytree(seed_path, target)
        victim = rng.choice(sorted(target.iterdir()))
        if victim.name.endswith("test.index") or rng.random() < 0.5:
            raw, what = mutate_bytes(victim.read_bytes(), rng)
            victim.write_bytes(raw)
        else:
            what = mutate_pickle(victim, rng)
        return target, f"{victim.name}: {what}"
    target = folder / seed_path.name
    shutil.copyfile(seed_path, target)
    whats = []
    # A structural edit first, while the copy is still valid (h5py must not
    # open a damaged file in this process), then byte mutations.
    if rng.random() < 0.4:
        if fmt == "npz":
            whats.append(mutate_npz(target, rng))
        elif target.suffix == ".h5":
            whats.append(mutate_h5(target, rng))
    n_bytes = rng.choice([0, 1, 1, 2]) if whats else rng.choice([1, 1, 1, 2, 3])
    for _ in range(n_bytes):
        raw, what = mutate_bytes(target.read_bytes(), rng)
        target.write_bytes(raw)
        whats.append(what)
    return target, ", ".join(whats)


# ------------------------------------------------------------ readers


def read(fmt, path, seeds):
    """Read `path` as `fmt` with the package, use it and check invariants."""
    from pyunlocbox_gae import GraphAutoEncoder, graphs
    from pyunlocbox_gae.audio.preprocess import load_frames
    from pyunlocbox_gae.cli.embed import read_graph
    from pyunlocbox_gae.embeddings.planetoid import load_planetoid
    from pyunlocbox_gae.experiments.config import load_config

    X = np.load(seeds["X"])
    if fmt == "frames":
        F = load_frames(path)
        _expect(F["frames"].ndim == 4 and len(F["labels"]) == len(F["frames"]))
    elif fmt == "graph":
        G = graphs.load_graph(path)
        asym = abs(G.W - G.W.T)  # the tolerance of the package's own check
        _expect(G.W.shape == (G.N, G.N) and G.W.data.min(initial=0) >= 0)
        _expect(asym.nnz == 0 or asym.max() <= 1e-6 * G.W.max())
        _expect(np.isfinite(G.L @ np.ones(G.N)).all())
    elif fmt == "neighbors":
        nb = graphs.load_neighbors(path)
        graphs.knn_graph(None, k=nb.k, neighbors=nb)
    elif fmt == "npz":
        A = read_graph(path)
        _expect(A.shape[0] == A.shape[1])
        A @ np.ones(A.shape[1])
    elif fmt == "model":
        model = GraphAutoEncoder.load(path)
        if model.components_.shape[1] == X.shape[1]:
            _expect(np.isfinite(model.transform(X)).all())
    elif fmt == "checkpoint":
        model = GraphAutoEncoder(n_atoms=3, max_outer=2, random_state=0,
                                 checkpoint=path)  # fmt: skip
        _expect(np.isfinite(model.fit_transform(X)).all())
    elif fmt == "config":
        load_config(path)
    elif fmt == "planetoid":
        data = load_planetoid(path, "toy", n_val=10)
        _expect(data.features.shape[0] == data.adjacency.shape[0] == data.n_nodes)


class InvariantError(AssertionError):
    """A load that returned without error but broke the format's invariants."""


def _expect(ok):
    if not ok:
        raise InvariantError("a successful load broke the format's invariants")


def classify(err, path):
    """'clear' for an error the command line prints as one line, else 'bug'."""
    from pyunlocbox_gae.cli import _user_errors
    from pyunlocbox_gae.errors import GAEError

    if isinstance(err, MemoryError):
        return "memory"
    if isinstance(err, GAEError):
        return "clear"
    if isinstance(err, _user_errors()) and str(path.parent) in str(err):
        return "clear"
    return "bug"


def worker(conn, seeds, memory_limit):
    """Read the cases sent through `conn` and answer each outcome."""
    import warnings

    resource.setrlimit(resource.RLIMIT_AS, (memory_limit, memory_limit))
    warnings.simplefilter("ignore")
    while True:
        case = conn.recv()
        if case is None:
            return
        fmt, path = case
        path = Path(path)
        try:
            read(fmt, path, seeds)
            conn.send(("ok", ""))
        except BaseException as err:  # the fuzzer's job is to see them all
            conn.send((classify(err, path), f"{type(err).__name__}: {err}"[:300]))


class Worker:
    """A worker process, restarted when a case kills it or hangs."""

    def __init__(self, seeds, memory_limit):
        self.args = seeds, memory_limit
        self.start()

    def start(self):
        # Not fork: the parent has started OpenMP threads (fitting the seeds).
        ctx = multiprocessing.get_context("spawn")
        self.conn, child = ctx.Pipe()
        self.proc = ctx.Process(target=worker, args=(child, *self.args), daemon=True)
        self.proc.start()

    def run(self, fmt, path, timeout):
        try:
            self.conn.send((fmt, str(path)))
            answered = self.conn.poll(timeout)
        except OSError:  # the worker died after its last answer
            answered = None
        if answered is None:
            self.proc.join()
            self.start()
            return "crash", "worker died"
        if not answered:
            self.proc.kill()
            self.proc.join()
            self.start()
            return "hang", f"no answer in {timeout} s"
        try:
            return self.conn.recv()
        except (EOFError, OSError):  # the worker died while answering
            self.proc.join()
            code = self.proc.exitcode
            self.start()
            return "crash", f"worker died with exit code {code}"

    def close(self):
        try:
            self.conn.send(None)
        except OSError:  # already dead
            pass
        self.proc.join(5)
        if self.proc.is_alive():
            self.proc.kill()


def fuzz(
    cases,
    seed=0,
    timeout=30.0,
    out=None,
    memory_limit=4 * 2**30,
    log=print,
    formats=FORMATS,
):
    """Run `cases` mutated files through the readers; return the summary."""
    os.environ.setdefault("PYUNLOCBOX_GAE_MAX_READ_BYTES", str(2**30))
    rng = random.Random(seed)
    root = Path(tempfile.mkdtemp(prefix="fuzz-"))
    t0 = time.perf_counter()
    seeds = {k: str(v) for k, v in make_seeds(root / "seeds").items()}
    seeds["X"] = str(root / "seeds" / "X.npy")
    runner = Worker(seeds, memory_limit)
    counts = collections.defaultdict(collections.Counter)
    findings = []
    t1 = time.perf_counter()
    try:
        for i in range(cases):
            fmt = formats[i % len(formats)]
            folder = root / f"case{i}"
            folder.mkdir()
            path, what = make_case(fmt, Path(seeds[fmt]), folder, rng)
            outcome, detail = runner.run(fmt, path, timeout)
            counts[fmt][outcome] += 1
            if outcome in ("bug", "crash", "hang", "memory"):
                findings.append(dict(case=i, format=fmt, mutation=what,
                                     outcome=outcome, detail=detail))  # fmt: skip
                log(f"case {i} {fmt} [{what}]: {outcome}: {detail}")
                if out is not None:
                    keep = Path(out) / f"case{i}-{fmt}"
                    shutil.rmtree(keep, ignore_errors=True)
                    shutil.copytree(folder, keep)
            shutil.rmtree(folder, ignore_errors=True)
            if (i + 1) % 1000 == 0:
                log(f"{i + 1} cases, {len(findings)} findings, "
                    f"{time.perf_counter() - t1:.0f} s")  # fmt: skip
    finally:
        runner.close()
        shutil.rmtree(root, ignore_errors=True)
    totals = collections.Counter()
    for c in counts.values():
        totals.update(c)
    return dict(
        cases=cases,
        seed=seed,
        seconds=round(time.perf_counter() - t1, 1),
        setup_seconds=round(t1 - t0, 1),
        totals=dict(totals),
        by_format={k: dict(v) for k, v in counts.items()},
        findings=findings,
    )


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--cases", type=int, default=10000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--timeout", type=float, default=30.0, help="per case, s")
    parser.add_argument("--out", default=None, help="folder for the findings")
    parser.add_argument("--json", default=None, help="write the summary here")
    parser.add_argument("--formats", nargs="+", choices=FORMATS, default=FORMATS)
    args = parser.parse_args(argv)
    summary = fuzz(args.cases, args.seed, args.timeout, args.out, formats=args.formats)
    text = json.dumps(summary, indent=1)
    if args.json:
        Path(args.json).write_text(text)
    print(json.dumps({k: v for k, v in summary.items() if k != "findings"}, indent=1))
    bad = sum(summary["totals"].get(k, 0) for k in ("bug", "crash", "hang", "memory"))
    print(f"{bad} findings in {args.cases} cases")
    return 1 if bad else 0


if __name__ == "__main__":
    raise SystemExit(main())
