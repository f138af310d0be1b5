"""
The errors that pyunlocbox_gae raises on purpose.

Every deliberate error derives from :class:`GAEError`, and also from the
built-in exception that callers caught before (``ValueError`` for bad input
or a bad file, ``FloatingPointError`` for a diverged fit, ...), so both
``except GAEError`` and ``except ValueError`` work. The ``gae`` command
prints one line for a :class:`GAEError` and a traceback for anything else:
an exception that is not a GAEError is a bug, not a user's mistake.

.. autosummary::
    GAEError
    InputError
    FileFormatError
    UnsafeFileError
    CheckpointMismatch
    ConvergenceError
    MissingFileError
    AccessError
    MissingDependencyError
    StorageError
    BusyError

Examples
--------
>>> from pyunlocbox_gae import GraphAutoEncoder
>>> import numpy as np
>>> try:
...     GraphAutoEncoder(n_atoms=2).fit(np.full((4, 3), np.nan))
... except ValueError as err:
...     print(type(err).__name__, isinstance(err, ValueError))
ValueError True
>>> issubclass(InputError, GAEError) and issubclass(InputError, ValueError)
True
"""

__all__ = [
    "GAEError",
    "InputError",
    "FileFormatError",
    "UnsafeFileError",
    "CheckpointMismatch",
    "ConvergenceError",
    "MissingFileError",
    "AccessError",
    "MissingDependencyError",
    "StorageError",
    "BusyError",
]


class GAEError(Exception):
    """Root of every error that pyunlocbox_gae raises on purpose."""


class InputError(GAEError, ValueError):
    """Bad input: an array, a parameter, a graph or a configuration value."""


class FileFormatError(GAEError, ValueError):
    """A file that is not what it should be: damaged, truncated, another kind."""


class UnsafeFileError(FileFormatError):
    """A file refused because reading it could run code or reach other files."""


class CheckpointMismatch(GAEError, ValueError):
    """A checkpoint written by another fit (other data, graph or parameters)."""


class ConvergenceError(GAEError, FloatingPointError):
    """A problem whose objective became non-finite or diverged for good."""


class MissingFileError(GAEError, FileNotFoundError):
    """A file or folder that the caller named does not exist."""


class AccessError(GAEError, PermissionError):
    """A file or folder that cannot be read or written with these rights."""


class MissingDependencyError(GAEError, ImportError):
    """An optional package needed for this feature is not installed."""


class StorageError(GAEError, OSError):
    """A write that the disk refused: no space left or the quota is reached."""


class BusyError(GAEError, BlockingIOError):
    """An output folder that another run is using at the same time."""
