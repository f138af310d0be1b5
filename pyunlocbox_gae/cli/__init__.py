r"""The ``gae`` command line.

Each module of this package adds a group of sub-commands through a function
``add_commands(subparsers)``; every sub-command stores its handler as
``func`` and calls the public API, so the command line holds no logic that
the API lacks. User mistakes (a missing folder, a bad option, a file that is
not ours) end with one line on standard error and exit status 2, not a
traceback; ``gae --debug ...`` shows the traceback.
"""

import argparse
import importlib
import pkgutil
import sys
import warnings

import pyunlocbox_gae
from pyunlocbox_gae.errors import GAEError

# Sub-command groups come from every module of this package that defines
# ``add_commands``; listing them here first fixes the order of `gae --help`.
COMMAND_ORDER = ["demo", "sweep", "audio", "graph", "embed"]


def command_modules():
    """Names of the modules of :mod:`pyunlocbox_gae.cli` that add commands."""
    found = [
        m.name for m in pkgutil.iter_modules(__path__) if not m.name.startswith("_")
    ]
    rank = {name: i for i, name in enumerate(COMMAND_ORDER)}
    return sorted(found, key=lambda name: (rank.get(name, len(rank)), name))


# Exceptions that mean "the user asked for something that cannot be done":
# every deliberate error of the package (GAEError), and the operating
# system's word on a path the user named. Anything else is a bug and keeps
# its traceback.
USER_ERRORS = (
    GAEError,
    FileNotFoundError,
    FileExistsError,
    PermissionError,
    IsADirectoryError,
    NotADirectoryError,
)


def _user_errors():
    """USER_ERRORS, plus scikit-learn's parameter errors once it is loaded.

    The estimators check their parameters with scikit-learn's own validation
    (a ValueError subclass); asked for here only if scikit-learn was
    imported, so that ``gae --help`` does not import it.
    """
    validation = sys.modules.get("sklearn.utils._param_validation")
    if validation is None:
        return USER_ERRORS
    return (*USER_ERRORS, validation.InvalidParameterError)


class _Parser(argparse.ArgumentParser):
    """An argument parser that can add some of its options on first use.

    Sub-command parsers are made by the top-level parser's class, so every
    sub-command gets this behaviour; see :func:`add_options_later`.
    """

    _add_later = None

    def _complete(self):
        add, self._add_later = self._add_later, None
        if add is not None:
            add(self)

    def parse_known_args(self, args=None, namespace=None):
        self._complete()
        return super().parse_known_args(args, namespace)

    def format_help(self):
        self._complete()
        return super().format_help()

    def format_usage(self):
        self._complete()
        return super().format_usage()


def add_options_later(parser, add):
    """Call ``add(parser)`` only when `parser` parses arguments or shows help.

    For sub-commands whose options come from a module that is costly to
    import: ``gae --help`` and ``gae --version`` then never import it.

    Examples
    --------
    >>> parser = build_parser()
    >>> sub = parser._subparsers._group_actions[0].choices["classify"]
    >>> "--n-splits" in sub.format_help()
    True
    """
    parser._add_later = add


def use_file_backend():
    """Draw figures for files only (matplotlib's Agg backend): no window opens.

    Called by the commands that write figures; the plotting module itself
    leaves the backend to its caller.
    """
    import matplotlib

    matplotlib.use("Agg")


def build_parser():
    """Return the ``gae`` argument parser with every sub-command."""
    parser = _Parser(
        prog="gae",
        description="Structured (graph) auto-encoders: sparse graph-regularised "
        "features, experiments and music genre recognition.",
    )
    parser.add_argument(
        "--version", action="version", version=f"%(prog)s {pyunlocbox_gae.__version__}"
    )
    parser.add_argument(
        "--debug",
        action="store_true",
        help="show full tracebacks instead of one-line errors",
    )
    sub = parser.add_subparsers(title="commands", metavar="COMMAND")
    for name in command_modules():
        module = importlib.import_module(f"pyunlocbox_gae.cli.{name}")
        if hasattr(module, "add_commands"):
            module.add_commands(sub)
    return parser


def main(argv=None):
    """Entry point of the ``gae`` command; returns the exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if not hasattr(args, "func"):
        parser.print_help()
        return 2
    try:
        with warnings.catch_warnings():
            if not args.debug:  # one line per warning, like the errors
                warnings.showwarning = _one_line_warning
            return args.func(args) or 0
    except Exception as err:
        if args.debug or not isinstance(err, _user_errors()):
            raise
        message = err.args[0] if isinstance(err, KeyError) and err.args else err
        print(f"gae: error: {message}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("gae: interrupted", file=sys.stderr)
        return 130


def _one_line_warning(message, category, filename, lineno, file=None, line=None):
    print(f"gae: warning: {message}", file=sys.stderr if file is None else file)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
