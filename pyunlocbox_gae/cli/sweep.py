"""``gae sweep``: vary one experiment parameter, reusing cached stages."""

from pyunlocbox_gae.cli import use_file_backend
from pyunlocbox_gae.errors import InputError

DEFAULT_OUTPUT = "gae-sweep"
DESCRIPTION = " ".join(
    [
        "Vary one parameter over a list of values, holding the others, on any",
        "data source (--set dataset=digits, the default; a feature file",
        "features.csv / .npy / .h5; an audio folder). For each value: accuracy",
        "± std and the raw-feature baseline, sparsity, objective terms,",
        "iterations, seconds and peak memory; written to OUTPUT/results.json",
        "and results.csv with the full configuration, plus figures. Stages that",
        "the swept parameter does not affect are reused from OUTPUT/cache; an",
        "interrupted sweep resumes.",
    ]
)


def add_commands(subparsers):
    """Add ``gae sweep`` to the ``gae`` command."""
    p = subparsers.add_parser(
        "sweep",
        help="sweep one parameter (any estimator, graph or data parameter)",
        description=DESCRIPTION,
    )
    p.add_argument("--param", help="parameter to vary, e.g. lg, ls, k, noise")
    p.add_argument("--values", help="comma-separated values, e.g. 0,1,10,100")
    p.add_argument(
        "--set",
        dest="assignments",
        action="append",
        metavar="KEY=VALUE",
        help="hold a parameter at a value (repeatable), e.g. --set noise=0.2",
    )
    p.add_argument(
        "--from",
        dest="from_file",
        metavar="RESULTS.json",
        help="run again the sweep stored in a results.json",
    )
    p.add_argument(
        "--output",
        default=None,
        help=f"output folder (default: ./{DEFAULT_OUTPUT}, or the folder of --from)",
    )
    p.add_argument("--no-plots", action="store_true", help="write no figures")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.set_defaults(func=run_sweep)


def _quiet_pygsp():
    """PyGSP warns about self-loops on every graph; the study's graphs have them."""
    import logging

    for name in ("pygsp", "pygsp.graphs", "pygsp.graphs.graph"):
        logging.getLogger(name).setLevel(logging.ERROR)


def run_sweep(args):
    """Handler of ``gae sweep``."""
    from pyunlocbox_gae import experiments
    from pyunlocbox_gae.experiments.settings import parse_assignments, parse_value

    _quiet_pygsp()
    use_file_backend()

    progress, plots = not args.no_progress, not args.no_plots
    if args.from_file:
        if args.param or args.values or args.assignments:
            raise InputError("--from replays a file: drop --param, --values and --set")
        out = experiments.sweep_from(
            args.from_file, output=args.output, progress=progress, plots=plots
        )
    else:
        if not args.param or not args.values:
            raise InputError(
                "give --param NAME --values V1,V2,... (or --from results.json)"
            )
        values = [parse_value(v.strip()) for v in args.values.split(",") if v.strip()]
        out = experiments.sweep(
            args.param,
            values,
            parse_assignments(args.assignments),
            output=args.output or DEFAULT_OUTPUT,
            progress=progress,
            plots=plots,
        )
    print(f"{out['param']:>12} | accuracy      | baseline      | non-zero | seconds")
    nan = float("nan")
    for row in out["rows"]:
        print(
            f"{row['value']!s:>12} | {row['accuracy']:5.1f} ± "
            f"{row['accuracy_std']:4.1f} | {row.get('baseline', nan):5.1f} ± "
            f"{row.get('baseline_std', nan):4.1f} | "
            f"{100 * row.get('nnz', nan):7.1f}% | {row.get('seconds_codes', 0):7.1f}"
        )
    _print_controls(out)
    return 0


def _print_controls(out):
    """Graph codes − each control, paired over the splits, per value."""
    from pyunlocbox_gae.experiments.controls import CONTROLS

    done = [c for c in CONTROLS if any(f"diff_{c}" in r for r in out["rows"])]
    if not done:
        return
    print("\ngraph codes − control (points, paired over the splits; splits won):")
    print(f"{out['param']:>12} | " + " | ".join(f"{c:<20}" for c in done))
    for row in out["rows"]:
        cells = [
            f"{row[f'diff_{c}']:+5.1f} ± {row[f'diff_{c}_std']:4.1f} "
            f"({row[f'won_{c}']}/{row['splits']})"
            if f"diff_{c}" in row
            else "-"
            for c in done
        ]
        print(f"{row['value']!s:>12} | " + " | ".join(f"{c:<20}" for c in cells))
