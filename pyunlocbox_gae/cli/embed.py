r"""``gae embed`` (DeepWalk) and ``gae planetoid`` (semi-supervised comparison).

Both only parse arguments, read files and call
:mod:`pyunlocbox_gae.embeddings.deepwalk` and
:mod:`pyunlocbox_gae.embeddings.planetoid`.
"""

import json
import time
from pathlib import Path

from pyunlocbox_gae.errors import InputError, MissingFileError

# Kept here so that building the parser imports neither numba nor gensim;
# tests check that they match the library.
PRESET_NAMES = ("cheap", "paper")
METHOD_NAMES = ("features_lr", "propagated_lr", "gae", "planetoid_t", "planetoid_i")
PLANETOID_PRESETS = ("authors", "adam")


def read_graph(path):
    """An adjacency matrix from a ``.npz`` (scipy.sparse) or HDF5 graph file.

    Examples
    --------
    >>> import tempfile, os, scipy.sparse as sp
    >>> path = os.path.join(tempfile.mkdtemp(), "g.npz")
    >>> sp.save_npz(path, sp.csr_matrix([[0, 1.0], [1.0, 0]]))
    >>> read_graph(path).shape
    (2, 2)
    >>> read_graph(path + ".txt")
    Traceback (most recent call last):
    ...
    pyunlocbox_gae.errors.InputError: ...g.npz.txt: a graph file ends in .npz...
    """

    from pyunlocbox_gae import store
    from pyunlocbox_gae.embeddings.walks import as_adjacency

    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in (".npz", ".h5", ".hdf5"):
        raise InputError(
            f"{path}: a graph file ends in .npz (scipy.sparse.save_npz) or .h5 "
            "(gae graph build)"
        )
    if not path.exists():
        raise MissingFileError(f"{path} does not exist")
    if suffix == ".npz":
        return as_adjacency(store.load_npz(path))
    from pyunlocbox_gae.graphs import load_graph

    return as_adjacency(load_graph(path))


def cmd_embed(args):
    """``gae embed``: DeepWalk embedding of a graph file."""
    from pyunlocbox_gae import store
    from pyunlocbox_gae.embeddings.deepwalk import DeepWalk

    store.check_writable(args.out)  # before the walks and the training
    store.check_not_input(args.out, args.graph)
    A = read_graph(args.graph)
    overrides = {
        k: v
        for k, v in dict(
            n_walks=args.walks,
            walk_length=args.length,
            window=args.window,
            n_components=args.dim,
        ).items()
        if v is not None
    }
    model = DeepWalk.from_preset(
        args.preset,
        epochs=args.epochs,
        workers=args.workers,
        random_state=args.seed,
        **overrides,
    )
    t = time.perf_counter()
    model.fit(A)
    model.save(args.out)
    print(
        f"embedded {A.shape[0]} vertices in {model.n_components} dimensions "
        f"({model.n_walks} walks of {model.walk_length}, window {model.window}) "
        f"in {time.perf_counter() - t:.1f} s -> {args.out}"
    )


def cmd_planetoid(args):
    """``gae planetoid``: the semi-supervised comparison on Planetoid files."""
    from pyunlocbox_gae import store
    from pyunlocbox_gae.embeddings.planetoid import load_planetoid
    from pyunlocbox_gae.embeddings.planetoid.compare import compare, format_table

    store.check_writable(args.out)  # before the data and the fits
    folder = Path(args.folder)
    inputs = [*folder.glob(f"ind.{args.name}.*"), *folder.glob(f"trans.{args.name}.*")]
    store.check_not_input(args.out, *inputs)
    data = load_planetoid(args.folder, args.name, n_val=args.n_val, files=args.files)
    print(data.summary(), flush=True)
    methods = list(args.methods)
    if data.featured is not None:  # transductive files: no other features
        from pyunlocbox_gae.embeddings.planetoid.compare import NEEDS_ALL_FEATURES

        skipped = [m for m in methods if m in NEEDS_ALL_FEATURES]
        methods = [m for m in methods if m not in NEEDS_ALL_FEATURES]
        if skipped:
            print(
                f"transductive files (features of labelled and test nodes only): "
                f"not running {', '.join(skipped)}; no validation nodes, so the "
                "Planetoid models keep their last parameters",
                flush=True,
            )
        if not methods:
            raise InputError(
                "none of the chosen methods runs on the transductive files; "
                "choose features_lr or planetoid_t"
            )
    planetoid = {"preset": args.planetoid_preset}
    if args.max_iter is not None:
        planetoid["max_iter"] = args.max_iter
    params = {
        "planetoid_t": planetoid,
        "planetoid_i": planetoid,
        "gae": {
            "lg": args.gae_lg,
            "ls": args.gae_ls,
            "n_atoms": args.gae_atoms,
            "lap_type": args.gae_laplacian,
            "row_normalize": args.gae_row_normalize,
            "tfidf": args.gae_tfidf,
            "max_outer": args.gae_max_outer,
            "rtol": args.gae_rtol,
            "rtol_outer": args.gae_rtol,
            "standardize": args.gae_standardize,
            "cs": "fine" if args.gae_fine_c else None,
        },
        "propagated_lr": {"k": args.k},
    }
    config = dict(
        dataset=args.name,
        files=args.files,
        seeds=args.seeds,
        methods=methods,
        params=params,
    )
    out = Path(args.out)
    previous = None
    if out.exists() and not args.restart:
        try:
            previous = json.loads(out.read_text())
        except (json.JSONDecodeError, UnicodeDecodeError):
            previous = None
        if not isinstance(previous, dict):
            raise InputError(
                f"{out} is not a results file; remove it or pass --restart"
            )
        if previous.get("config") != config:
            raise InputError(
                f"{out} holds results of other settings; pass --restart to "
                "replace them or --out to write elsewhere"
            )

    def save(results):
        with store.atomic_path(out) as tmp:
            tmp.write_text(json.dumps({"config": config, **results}, indent=1))

    def progress(name, seed, acc, seconds):
        print(f"  {name} seed {seed}: {acc:.1f}% ({seconds:.1f} s)", flush=True)

    results = compare(
        data,
        methods,
        args.seeds,
        params,
        progress=progress,
        previous=previous,
        checkpoint=save,
    )
    save(results)
    print(format_table(results))
    print(f"results -> {out}")


def _positive(value):
    n = int(value)
    if n < 1:
        raise InputError(f"expected a positive integer, got {value}")
    return n


def add_commands(subparsers):
    """Add ``gae embed`` and ``gae planetoid`` to the ``gae`` command."""
    p = subparsers.add_parser(
        "embed",
        help="DeepWalk embedding of a graph (needs the 'embed' extra: gensim)",
        description="Learn a DeepWalk embedding of every vertex of a graph and "
        "write it to an HDF5 file (dataset 'embedding', shape (n_nodes, dim)).",
    )
    p.add_argument("graph", help="graph: .npz (scipy.sparse.save_npz) or .h5 file")
    p.add_argument("out", help="output HDF5 file")
    p.add_argument(
        "--preset",
        choices=PRESET_NAMES,
        default="paper",
        help="paper: 80 walks of 40, window 10, dim 128; cheap: 10 walks, "
        "window 5 (about 15x faster; see docs/embedding.md)",
    )
    p.add_argument("--walks", type=_positive, help="walks per vertex")
    p.add_argument("--length", type=_positive, help="vertices per walk")
    p.add_argument("--window", type=_positive, help="SkipGram window")
    p.add_argument("--dim", type=_positive, help="embedding dimension")
    p.add_argument("--epochs", type=_positive, default=1, help="SkipGram passes")
    p.add_argument(
        "--workers",
        type=_positive,
        default=1,
        help="gensim threads (results are reproducible only with 1)",
    )
    p.add_argument("--seed", type=int, default=0, help="random seed")
    p.set_defaults(func=cmd_embed)

    q = subparsers.add_parser(
        "planetoid",
        help="semi-supervised node classification on a Planetoid-format folder",
        description="Compare Planetoid-T/-I, the graph auto-encoder and two "
        "logistic-regression baselines on the standard split of a Planetoid data "
        "set (ind.<name>.x, ...); print accuracy ± std over seeds and write "
        "results.json. Rerunning with the same settings resumes.",
    )
    q.add_argument("folder", help="folder of the ind.<name>.* files")
    q.add_argument("--name", default="cora", help="data set name (default cora)")
    q.add_argument("--seeds", type=_positive, default=5, help="seeds (default 5)")
    q.add_argument(
        "--methods",
        nargs="+",
        choices=METHOD_NAMES,
        metavar="METHOD",
        default=list(METHOD_NAMES),
        help=f"methods to run, among {', '.join(METHOD_NAMES)} (default all)",
    )
    q.add_argument("--n-val", type=_positive, default=500, help="validation nodes")
    q.add_argument(
        "--files",
        choices=("auto", "ind", "trans"),
        default="auto",
        help="ind.<name>.* (every method) or trans.<name>.* (features_lr and "
        "planetoid_t only, no validation); auto: ind when complete (default)",
    )
    q.add_argument(
        "--planetoid-preset",
        choices=PLANETOID_PRESETS,
        default="authors",
        help="authors: the authors' model and schedule (default); adam: the "
        "compact model (ReLU layers, negative sampling, Adam)",
    )
    q.add_argument(
        "--max-iter",
        type=_positive,
        help="Planetoid training rounds (default: the preset's)",
    )
    q.add_argument("--k", type=_positive, default=2, help="propagation steps")
    q.add_argument("--gae-lg", type=float, default=100.0, help="graph weight of gae")
    q.add_argument("--gae-ls", type=float, default=0.5, help="sparsity weight of gae")
    q.add_argument("--gae-atoms", type=_positive, default=64, help="atoms of gae")
    q.add_argument(
        "--gae-laplacian",
        choices=("normalized", "combinatorial"),
        default="normalized",
        help="Laplacian of gae's graph term (default normalized)",
    )
    q.add_argument(
        "--gae-row-normalize",
        action="store_true",
        help="divide each node's features by their sum before gae",
    )
    q.add_argument(
        "--gae-tfidf",
        action="store_true",
        help="weight each node's bag-of-words by TF-IDF (rows of unit norm) before gae",
    )
    q.add_argument(
        "--gae-max-outer",
        type=_positive,
        default=5,
        help="outer iterations of gae (default 5)",
    )
    q.add_argument(
        "--gae-rtol",
        type=float,
        default=1e-4,
        help="relative change that stops gae's inner and outer loops "
        "(default 1e-4; 1e-6 lets the fit converge)",
    )
    q.add_argument(
        "--gae-standardize",
        action="store_true",
        help="scale every code of gae to zero mean and unit variance before "
        "the logistic regression",
    )
    q.add_argument(
        "--gae-fine-c",
        action="store_true",
        help="choose the C of gae's logistic regression on validation among 16 "
        "values (three per decade, 0.001 to 100) instead of 5",
    )
    q.add_argument("--out", default="results.json", help="results file")
    q.add_argument(
        "--restart", action="store_true", help="ignore the results of an earlier run"
    )
    q.set_defaults(func=cmd_planetoid)
