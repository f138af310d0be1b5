r"""Audio commands: ``gae synthetic|preprocess|features|classify|run``.

Thin wrappers over :mod:`pyunlocbox_gae.experiments.pipeline`: options are
generated from the config schema (:mod:`pyunlocbox_gae.experiments.config`),
so every config key of a stage is also an option with the same default and
help. The schema is read only when one of these commands is parsed or its
help shown (:func:`pyunlocbox_gae.cli.add_options_later`), so that
``gae --help`` and ``gae --version`` stay cheap.
"""

import argparse
import json
from pathlib import Path

from pyunlocbox_gae.cli import add_options_later

# Keys whose names repeat across tables get distinct options.
FLAGS = {
    ("input", "scaling"): "input_scaling",
    ("input", "seed"): "noise_seed",
    ("classification", "seed"): "cv_seed",
}


def _add_table(parser, table, skip=()):
    """One option per key of a config table: --frame-size for frame_size."""
    from pyunlocbox_gae.experiments.config import CHOICES, SCHEMA

    group = parser.add_argument_group(f"[{table}] options (config table)")
    for name, (default, types, text) in SCHEMA[table].items():
        if name in skip:
            continue
        flag = "--" + FLAGS.get((table, name), name).replace("_", "-")
        dest = f"{table}.{name}"
        choices = CHOICES.get((table, name))
        if bool in types:
            group.add_argument(
                flag,
                dest=dest,
                default=None,
                action=argparse.BooleanOptionalAction,
                help=f"{text} (default: {default})",
            )
            continue
        kind = _caster(types)
        group.add_argument(
            flag,
            dest=dest,
            default=None,
            type=kind,
            choices=choices,
            nargs="+" if list in types and kind is str else None,
            metavar=name.upper() if not choices else None,
            help=f"{text} (default: {default})",
        )


def _caster(types):
    if types == (int,):
        return int
    if float in types and str not in types:
        return float
    if types == (str, float):
        return _number_or_text
    return str


def _number_or_text(text):
    try:
        return float(text)
    except ValueError:
        return text


def _table(args, table):
    """The options of a table that were given on the command line."""
    out = {}
    for key, value in vars(args).items():
        if key.startswith(table + ".") and value is not None:
            out[key.split(".", 1)[1]] = value
    return out


def _genres(value):
    if value is None or value == ["all"]:
        return None
    if len(value) == 1 and value[0].isdigit():
        return int(value[0])
    return value


def _print_results(report):
    from pyunlocbox_gae.experiments.pipeline import summary

    print(summary(report))


def cmd_synthetic(args):
    """``gae synthetic``: write a synthetic data set (GTZAN layout or labelled)."""
    from pyunlocbox_gae.audio.synthetic import make_dataset, make_labelled_dataset

    if args.speakers:
        root = make_labelled_dataset(
            args.folder,
            classes=_genres(args.genres) or 3,
            speakers=args.speakers,
            clips_per_speaker=args.clips_per_genre,
            seconds=(args.seconds / 5, args.seconds),
            sample_rate=args.sample_rate,
            seed=args.seed,
        )
        print(f"wrote recordings of several lengths and {root / 'labels.csv'}")
        return
    root = make_dataset(
        args.folder,
        genres=_genres(args.genres) or 3,
        clips_per_genre=args.clips_per_genre,
        seconds=args.seconds,
        sample_rate=args.sample_rate,
        seed=args.seed,
        format=args.format,
    )
    print(f"wrote a synthetic GTZAN-layout data set to {root}")


def cmd_preprocess(args):
    """``gae preprocess``: CQT frames of a GTZAN-layout folder."""
    from pyunlocbox_gae.audio.preprocess import preprocess
    from pyunlocbox_gae.experiments.config import check_config
    from pyunlocbox_gae.experiments.pipeline import cqt_params

    cfg = check_config(dict(cqt=_table(args, "cqt")))
    ds = _table(args, "dataset")
    report = preprocess(
        args.data,
        args.output,
        cqt_params(cfg),
        genres=_genres(args.genres),
        clips_per_genre=ds.get("clips_per_genre") or None,
        short=ds.get("short_clips", "error"),
        resample=ds.get("resample", True),
        on_error=ds.get("on_error", "raise"),
        progress=not args.quiet,
    )
    print(
        f"{report['output']}: {report['n_clips']} clips, {report['n_frames']} "
        f"frames" + (" (up to date)" if report["cached"] else "")
    )
    for item in report["skipped"]:
        print(f"skipped {item['path']}: {item['reason']}")


def cmd_features(args):
    """``gae features``: codes of every frame of a frames file."""
    from pyunlocbox_gae import store
    from pyunlocbox_gae.experiments.stage_files import features_file

    store.check_not_input(args.output, args.frames, args.graph)
    graph = args.graph
    if graph is None and args.k is not None:
        graph = dict(k=args.k)
    report = features_file(
        args.frames,
        args.output,
        input=_table(args, "input"),
        autoencoder=_table(args, "autoencoder"),
        graph=graph,
    )
    print(
        f"{report['output']}: codes of {report['n_frames']} frames, "
        f"{100 * report['nnz']:.1f}% non-zero"
        + (" (up to date)" if report["cached"] else "")
    )


def cmd_classify(args):
    """``gae classify``: cross-validated accuracy of a features or frames file."""
    from pyunlocbox_gae import store
    from pyunlocbox_gae.experiments.stage_files import classify_file

    if args.output:  # before the cross-validation
        store.check_writable(args.output)
        store.check_not_input(args.output, args.file)
    report = classify_file(
        args.file,
        _table(args, "classification"),
        _table(args, "input"),
    )
    _print_results(report)
    if args.output:
        with store.atomic_path(Path(args.output)) as tmp:
            tmp.write_text(json.dumps(report, indent=2))


def cmd_run(args):
    """``gae run``: the whole chain from a TOML config."""
    from pyunlocbox_gae.cli import use_file_backend
    from pyunlocbox_gae.experiments import run as chain

    use_file_backend()  # figures written to files, no window
    from pyunlocbox_gae.experiments.pipeline import run

    loaded = chain.load_run(args.config)
    if loaded[0] == "chain":
        payload = chain.run(loaded[1], loaded[2], progress=not args.quiet)
        print(chain.summary(payload))
        print(f"results: {Path(loaded[2]) / 'results.json'}")
        return
    report = run(args.config, progress=not args.quiet)
    stages = ", ".join(f"{k} {v}" for k, v in report["stages"].items())
    print(f"stages: {stages}")
    if report["skipped_files"]:
        print(f"skipped {len(report['skipped_files'])} files (see report.json)")
    _print_results(report)
    print(f"results: {Path(report['output']) / 'results.json'}")


def add_commands(sub):
    """Add the audio commands to the ``gae`` parser."""
    p = sub.add_parser(
        "synthetic",
        help="write a small synthetic GTZAN-layout data set",
        description="Write FOLDER/<genre>/<genre>.000NN.wav clips of synthetic "
        "genres told apart by pitch register, tempo and timbre.",
    )
    p.add_argument("folder", help="folder to write (created)")
    p.add_argument("--genres", nargs="+", default=["3"], help="number or names")
    p.add_argument("--clips-per-genre", type=int, default=10)
    p.add_argument("--seconds", type=float, default=5.0, help="length of each clip")
    p.add_argument("--sample-rate", type=int, default=22050)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--format", default="wav", choices=["wav", "au", "flac", "ogg"])
    p.add_argument(
        "--speakers",
        type=int,
        default=0,
        help="write one folder of recordings of several lengths (a fifth of "
        "--seconds to --seconds) by this many speakers, with a labels.csv "
        "(file,label,group), instead of the GTZAN layout; --clips-per-genre "
        "is then per speaker",
    )
    p.set_defaults(func=cmd_synthetic)

    p = sub.add_parser(
        "preprocess",
        help="CQT frames of a GTZAN-layout folder into an HDF5 file",
        description="Read the clips of DATA (one sub-folder per genre), cut "
        "them into frames and store their constant-Q transforms in OUTPUT. "
        "An interrupted run resumes where it stopped; an up-to-date OUTPUT is "
        "kept.",
    )
    p.add_argument("data", help="GTZAN-layout folder")
    p.add_argument("output", help="frames file to write (.h5)")
    p.add_argument(
        "--genres",
        nargs="+",
        help="'all' (default), the first N genres alphabetically, or names",
    )
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    add_options_later(
        p, lambda p: (_add_table(p, "dataset", skip=("genres",)), _add_table(p, "cqt"))
    )
    p.set_defaults(func=cmd_preprocess)

    p = sub.add_parser(
        "features",
        help="codes of every frame with the graph auto-encoder",
        description="Learn a dictionary and sparse codes of all frames of "
        "FRAMES (transductive, as the original study) and write them to OUTPUT.",
    )
    p.add_argument("frames", help="frames file (gae preprocess)")
    p.add_argument("output", help="features file to write (.h5)")
    p.add_argument(
        "--graph", help="graph file over the same frames (gae graph build); lg > 0"
    )
    p.add_argument(
        "--k", type=int, help="build a k-NN graph with k neighbours instead (lg > 0)"
    )
    add_options_later(
        p,
        lambda p: (
            _add_table(p, "input"),
            _add_table(p, "autoencoder", skip=("mode", "transform_algorithm")),
        ),
    )
    p.set_defaults(func=cmd_features)

    p = sub.add_parser(
        "classify",
        help="cross-validated linear SVM on clip vectors",
        description="Aggregate the frames of each clip into vectors and "
        "report the linear SVM's accuracy, mean ± std over the splits. FILE is "
        "a features file (codes) or a frames file (the CQT baseline).",
    )
    p.add_argument("file", help="features file or frames file")
    p.add_argument("--output", help="write the results to this JSON file")
    add_options_later(
        p,
        lambda p: (
            _add_table(p, "classification", skip=("baseline",)),
            _add_table(p, "input"),
        ),
    )
    p.set_defaults(func=cmd_classify)

    p = sub.add_parser(
        "run",
        help="the whole chain from a TOML config (any data source)",
        description="Run data → graph → codes → classify as set in CONFIG. A "
        "flat CONFIG (keys of `gae sweep --set`, e.g. dataset = "
        '"features.csv", plus output) works on every source: digits, a '
        "feature file (.csv, .npy, .h5) or an audio folder. A CONFIG of tables "
        "(keys data and output, tables [dataset] [cqt] [input] [graph] "
        "[autoencoder] [classification]) runs the audio pipeline on an audio "
        "folder. Up-to-date stages are skipped; the accuracy table is written "
        "to OUTPUT/results.json.",
    )
    p.add_argument("config", help="TOML config file (see examples/gtzan.toml)")
    p.add_argument("--quiet", action="store_true", help="no progress bars")
    p.set_defaults(func=cmd_run)
