"""``gae demo``: the study's noise-robustness table (digits, or any data set)."""

import math
from pathlib import Path

from pyunlocbox_gae.cli import use_file_backend
from pyunlocbox_gae.errors import InputError

DEFAULT_OUTPUT = "gae-demo"


def add_commands(subparsers):
    """Add ``gae demo`` to the ``gae`` command."""
    p = subparsers.add_parser(
        "demo",
        help="noise-robustness table: raw / codes / codes with graph (digits)",
        description="Run the study's noise-robustness experiment on scikit-learn's "
        "handwritten digits (no download): accuracy ± std of a linear SVM on the "
        "raw pixels, on codes without graph and on codes with a k-NN graph, at "
        "noise std 0, 0.1 and 0.2. Writes results.json, results.csv and "
        "demo.png; stage outputs are cached in OUTPUT/cache.",
    )
    p.add_argument(
        "--output",
        default=None,
        help=f"output folder (default: ./{DEFAULT_OUTPUT})",
    )
    p.add_argument("--quick", action="store_true", help="reduced size, in seconds")
    p.add_argument(
        "--gtzan",
        metavar="PATH",
        help="run the experiment on a GTZAN-layout folder (or a folder of "
        "recordings with a labels.csv) instead",
    )
    p.add_argument(
        "--config",
        metavar="TOML",
        help="with --gtzan: a configuration file (the keys of `gae run` files, "
        "flat or in tables); --set KEY=VALUE entries override it",
    )
    p.add_argument(
        "--lg",
        default=None,
        help="graph weights of the rows with a graph, comma-separated "
        "(default 10,100; with --gtzan 100)",
    )
    p.add_argument(
        "--noise",
        default="0,0.1,0.2",
        help="noise stds, comma-separated (default 0,0.1,0.2)",
    )
    p.add_argument(
        "--set",
        dest="assignments",
        action="append",
        metavar="KEY=VALUE",
        help="any other experiment parameter (repeatable), e.g. --set k=5",
    )
    p.add_argument(
        "--no-progress", action="store_true", help="no progress bar (for logs)"
    )
    p.set_defaults(func=run_demo)


def _floats(text, what):
    try:
        values = [float(v) for v in text.split(",") if v.strip()]
    except ValueError:
        values = None
    if not values or not all(math.isfinite(v) for v in values):
        raise InputError(
            f"--{what} expects comma-separated numbers (finite), e.g. 0,0.1, "
            f"got {text!r}"
        )
    return values


def _quiet_pygsp():
    """PyGSP warns about self-loops on every graph; the study's graphs have them."""
    import logging

    for name in ("pygsp", "pygsp.graphs", "pygsp.graphs.graph"):
        logging.getLogger(name).setLevel(logging.ERROR)


def run_demo(args):
    """Handler of ``gae demo``."""
    from pyunlocbox_gae import experiments
    from pyunlocbox_gae.experiments.settings import parse_assignments

    _quiet_pygsp()
    use_file_backend()

    output = Path(args.output or DEFAULT_OUTPUT)
    noises = _floats(args.noise, "noise")
    lgs = _floats(args.lg or ("100" if args.gtzan else "10,100"), "lg")
    print(f"gae demo: results in {output.resolve()}", flush=True)
    if args.gtzan:
        from pyunlocbox_gae.experiments.gtzan import demo_gtzan

        out = demo_gtzan(
            args.gtzan,
            output,
            quick=args.quick,
            noises=noises,
            lgs=lgs,
            config=_gtzan_config(args),
            progress=not args.no_progress,
        )
        print(
            f"\n{args.gtzan}: {out['n_clips']} clips of {len(out['classes'])} "
            "classes, linear SVM on clip vectors, CV grouped by clip; "
            "accuracy (%) mean ± std:\n"
        )
        return _finish(out, output)
    if args.config:
        raise InputError("--config applies to --gtzan; for digits use --set KEY=VALUE")
    config = parse_assignments(args.assignments)
    out = experiments.demo(
        output=output,
        quick=args.quick,
        noises=noises,
        lgs=lgs,
        config=config,
        progress=not args.no_progress,
    )
    cfg = out["config"]
    name = "Digits" if cfg["dataset"] == "digits" else Path(cfg["dataset"]).name
    size = cfg["n_samples"] or (1797 if cfg["dataset"] == "digits" else "all")
    print(
        f"\n{name} ({size} samples), m={cfg['n_atoms']} atoms, "
        f"ld={cfg['ld']:g}, ls={cfg['ls']:g}, k={cfg['k']} graph, linear SVM "
        f"C={cfg['C']:g}, stratified {cfg['n_splits']}-fold x {cfg['n_repeats']}; "
        "accuracy (%) mean ± std:\n"
    )
    return _finish(out, output)


def _gtzan_config(args):
    """--config entries (flat or in tables), updated by --set entries."""
    from pyunlocbox_gae.experiments.config import flatten
    from pyunlocbox_gae.experiments.settings import parse_assignments, read_toml

    entries = flatten(read_toml(args.config)) if args.config else {}
    return {**entries, **parse_assignments(args.assignments)}


def _finish(out, output):
    from pyunlocbox_gae import experiments

    print(experiments.format_table(out))
    print(f"\nchance {out['chance']:.1f} %; {out['seconds']:.0f} s")
    for name in ("results.json", "results.csv", "demo.png"):
        print(f"wrote {output / name}")
    return 0
