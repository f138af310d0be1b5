"""``gae graph build`` and ``gae graph reweight``: k-NN graph files.

Thin wrappers of :func:`pyunlocbox_gae.graphs.knn_graph`,
:func:`~pyunlocbox_gae.graphs.save_graph` and
:func:`~pyunlocbox_gae.graphs.load_neighbors`.
"""

from pathlib import Path

import numpy as np

from pyunlocbox_gae.errors import FileFormatError, InputError, MissingFileError


def read_features(spec, dataset=None):
    """Load a feature matrix (n_samples, n_features) from .npy or HDF5.

    `spec` is ``FILE.npy``, ``FILE.h5`` (dataset `dataset`, default ``X``) or
    ``FILE.h5:/path/to/dataset``.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "X.npy"
    >>> np.save(path, np.ones((3, 2), np.float32))
    >>> read_features(str(path)).shape
    (3, 2)
    """
    path, inner = _split_spec(spec)
    dataset = inner or dataset
    path = Path(path)
    if not path.exists():
        raise MissingFileError(f"{path} does not exist")
    if path.suffix == ".npy":
        try:  # a memory map: the declared shape must fit in the file
            return np.load(path, mmap_mode="r", allow_pickle=False)
        except (ValueError, EOFError) as err:
            raise FileFormatError(
                f"{path} is not a readable .npy file ({err})"
            ) from None
    if path.suffix not in (".h5", ".hdf5"):
        raise InputError(f"{path}: features must be a .npy or .h5/.hdf5 file")
    import h5py

    from pyunlocbox_gae import store

    dataset = dataset or "X"
    with store.open_h5_data(path) as f:
        if dataset not in f or not isinstance(f[dataset], h5py.Dataset):
            found = [k for k in f if isinstance(f[k], h5py.Dataset)]
            raise InputError(
                f"{path} has no dataset {dataset!r}; give one as FILE.h5:NAME "
                f"or --dataset NAME (datasets at the root: {found})"
            )
        return f[dataset][()]


def _split_spec(spec):
    """(file, dataset or '') of FILE.npy / FILE.h5 / FILE.h5:DATASET."""
    spec = str(spec)
    if ".h5:" not in spec:
        return spec, ""
    path, _, inner = spec.partition(".h5:")
    return path + ".h5", inner


def _path_of(spec):
    return None if spec is None else _split_spec(spec)[0]


def _weighting_options(p):
    p.add_argument("--kernel", choices=["exp", "gaussian"], default="exp")
    p.add_argument("--sigma", type=float, default=None, help="default: mean k-th")
    p.add_argument("--no-self-loops", dest="self_loops", action="store_false")
    p.add_argument("--symmetrize", choices=["max", "mean"], default="max")
    p.add_argument(
        "--lap-type", choices=["normalized", "combinatorial"], default="normalized"
    )
    p.add_argument("--dtype", choices=["float32", "float64"], default="float32")
    p.add_argument("-v", "--verbose", action="store_true")


def _build(args):
    from pyunlocbox_gae import graphs, store

    store.check_writable(args.out)  # before the neighbour search
    store.check_not_input(args.out, _path_of(args.features))
    X = read_features(args.features, args.dataset)
    G = graphs.knn_graph(
        X,
        k=args.k,
        metric=args.metric,
        kernel=args.kernel,
        sigma=args.sigma,
        self_loops=args.self_loops,
        symmetrize=args.symmetrize,
        lap_type=args.lap_type,
        backend=args.backend,
        dtype=np.dtype(args.dtype),
        random_state=args.seed,
        verbose=args.verbose,
    )
    graphs.save_graph(args.out, G, X=X)
    print(
        f"{args.out}: {G.N} vertices, {G.W.nnz} non-zeros, lmax <= {G.lmax_exact:.4g}"
    )


def _reweight(args):
    from pyunlocbox_gae import graphs, store

    store.check_writable(args.out)
    store.check_not_input(args.out, args.graph, _path_of(args.features))
    X = read_features(args.features, args.dataset) if args.features else None
    nb = graphs.load_neighbors(args.graph, X=X)
    G = graphs.knn_graph(
        X,
        k=args.k or nb.k,
        metric=nb.metric,
        kernel=args.kernel,
        sigma=args.sigma,
        self_loops=args.self_loops,
        symmetrize=args.symmetrize,
        lap_type=args.lap_type,
        dtype=np.dtype(args.dtype),
        neighbors=nb,
        verbose=args.verbose,
    )
    graphs.save_graph(args.out, G, X=X)
    print(
        f"{args.out}: {G.N} vertices, {G.W.nnz} non-zeros, lmax <= {G.lmax_exact:.4g}"
    )


def add_commands(subparsers):
    """Add ``gae graph build`` and ``gae graph reweight``."""
    group = subparsers.add_parser("graph", help="k-NN graphs over feature vectors")
    sub = group.add_subparsers(title="graph commands", metavar="COMMAND")

    p = sub.add_parser("build", help="search neighbours and build a graph file")
    p.add_argument("features", help="FILE.npy, FILE.h5 or FILE.h5:DATASET")
    p.add_argument("out", help="output graph file (.h5)")
    p.add_argument("--dataset", default=None, help="HDF5 dataset (default X)")
    p.add_argument("--k", type=int, default=10)
    p.add_argument("--metric", choices=["euclidean", "cosine"], default="euclidean")
    p.add_argument(
        "--backend", choices=["auto", "exact", "approximate"], default="auto"
    )
    p.add_argument("--seed", type=int, default=0, help="approximate search seed")
    _weighting_options(p)
    p.set_defaults(func=_build)

    p = sub.add_parser(
        "reweight", help="re-weight the stored neighbours of a graph (no search)"
    )
    p.add_argument("graph", help="graph or neighbours file (.h5)")
    p.add_argument("out", help="output graph file (.h5)")
    p.add_argument(
        "--features", default=None, help="check the file against these features"
    )
    p.add_argument("--dataset", default=None)
    p.add_argument("--k", type=int, default=None, help="at most the stored k")
    _weighting_options(p)
    p.set_defaults(func=_reweight)
    group.set_defaults(func=lambda args: group.print_help() or 2)
