r"""Audio commands: ``gae synthetic|preprocess|features|classify|run``.

Thin wrappers over :mod:`pyunlocbox_gae.experiments`: every option of a stage
command is a key of the one flat configuration (:mod:`.settings`), with the
same name (``--n-atoms`` for ``n_atoms``), default and checks as in a
``gae run`` file or ``gae sweep --set``. The configuration is read only when
one of these commands is parsed or its help shown
(:func:`pyunlocbox_gae.cli.add_options_later`), so that ``gae --help`` and
``gae --version`` stay cheap.
"""

import argparse
import json
from pathlib import Path

from pyunlocbox_gae.cli import add_options_later

# The keys of the input's preparation (log, scaling, noise) read by both
# the features and the classify commands.
PREPARATION = ("log", "scaling", "noise", "noise_seed")


def _add_keys(parser, title, keys):
    """One option per configuration key: --frame-size for frame_size."""
    from pyunlocbox_gae.experiments.settings import DEFAULTS, LIST_KEYS

    group = parser.add_argument_group(title)
    for name in keys:
        default = DEFAULTS[name]
        flag = "--" + name.replace("_", "-")
        text = f"configuration key {name} (default: {default})"
        if isinstance(default, bool):
            group.add_argument(
                flag,
                dest=name,
                default=None,
                action=argparse.BooleanOptionalAction,
                help=text,
            )
            continue
        group.add_argument(
            flag,
            dest=name,
            default=None,
            type=_caster(default),
            nargs="+" if name in LIST_KEYS or name == "protocol" else None,
            metavar=name.upper(),
            help=text,
        )


def _caster(default):
    if isinstance(default, int):
        return int
    if isinstance(default, float):
        return float
    return _number_or_text


def _number_or_text(text):
    """A number when the text is one (fmin = 65.4), else the text ('C2')."""
    from pyunlocbox_gae.experiments.settings import parse_value

    try:
        return float(text)
    except ValueError:
        return parse_value(text)


def _given(args, keys):
    """The configuration keys given on the command line."""
    out = {}
    for key in keys:
        value = getattr(args, key, None)
        if value is not None:
            out[key] = value[0] if key == "protocol" and len(value) == 1 else value
    return out


def _keys(group, skip=()):
    from pyunlocbox_gae.experiments.settings import GROUPS

    return [k for k in GROUPS[group] if k not in skip]


def _audio_keys():
    from pyunlocbox_gae.experiments.settings import AUDIO_DEFAULTS

    return [k for k in AUDIO_DEFAULTS if k != "genres"]


def _genres(value):
    if value is None or value == ["all"]:
        return None
    if len(value) == 1 and value[0].isdigit():
        return int(value[0])
    return value


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
    from pyunlocbox_gae.errors import InputError
    from pyunlocbox_gae.experiments import checks
    from pyunlocbox_gae.experiments.settings import cqt_params, make_config

    config = make_config(_given(args, _audio_keys()))
    if "short_clips" not in _given(args, ["short_clips"]):
        config["short_clips"] = "error"  # a frames file holds clips of one length
    checks.check_values(config)
    if config["short_clips"] == "keep":
        raise InputError(
            "a frames file holds clips of one length: --short-clips error or pad "
            "(gae run keeps clips of any length)"
        )
    report = preprocess(
        args.data,
        args.output,
        cqt_params(config),
        genres=_genres(args.genres),
        clips_per_genre=config["clips_per_genre"] or None,
        short=config["short_clips"],
        resample=config["resample"],
        on_error=config["on_error"],
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
        _given(args, [*PREPARATION, *_keys("estimator")]),
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
    from pyunlocbox_gae.experiments.stage_files import classify_file, summary

    if args.output:  # before the cross-validation
        store.check_writable(args.output)
        store.check_not_input(args.output, args.file)
    keys = [*PREPARATION, *_keys("classifier", skip=("mode", "baseline"))]
    report = classify_file(args.file, _given(args, keys))
    print(summary(report))
    if args.output:
        with store.atomic_path(Path(args.output)) as tmp:
            tmp.write_text(json.dumps(report, indent=2))


def cmd_run(args):
    """``gae run``: the whole chain from a TOML config."""
    from pyunlocbox_gae.cli import use_file_backend
    from pyunlocbox_gae.experiments import run as chain

    use_file_backend()  # figures written to files, no window
    config, output = chain.load_run(args.config)
    payload = chain.run(config, output, progress=not args.quiet)
    print(chain.summary(payload))
    print(f"results: {Path(output) / 'results.json'}")


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
    add_options_later(p, lambda p: _add_keys(p, "clips and CQT", _audio_keys()))
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
            _add_keys(p, "input", PREPARATION),
            _add_keys(p, "estimator", _keys("estimator")),
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
            _add_keys(p, "classifier", _keys("classifier", skip=("mode", "baseline"))),
            _add_keys(p, "input", PREPARATION),
        ),
    )
    p.set_defaults(func=cmd_classify)

    p = sub.add_parser(
        "run",
        help="the whole chain from a TOML config (any data source)",
        description="Run data → graph → codes → classify as set in CONFIG, on "
        "any source: digits, a feature file (.csv, .npy, .h5) or an audio "
        "folder. CONFIG holds the keys of `gae sweep --set` (e.g. dataset = "
        '"features.csv") plus output, at the top level or grouped in tables '
        "([data] [graph] [estimator] [classifier]; see examples/gtzan.toml). "
        "Cached stages are reused; the accuracy table and the figures are "
        "written to OUTPUT.",
    )
    p.add_argument("config", help="TOML config file (see examples/gtzan.toml)")
    p.add_argument("--quiet", action="store_true", help="no progress bars")
    p.set_defaults(func=cmd_run)
