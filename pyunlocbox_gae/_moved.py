"""Old import paths of modules that moved: each old name is the new module."""

import importlib
import sys


def alias(old, new, submodules=()):
    """Make `old` (and ``old.<submodule>``) the same module objects as `new`.

    The old name is not a copy: ``pyunlocbox_gae.autoencoder`` *is*
    ``pyunlocbox_gae.model.estimator``, so classes, isinstance checks and
    monkeypatching agree whichever name a caller uses.
    """
    module = importlib.import_module(new)
    for name in submodules:
        sys.modules[f"{old}.{name}"] = importlib.import_module(f"{new}.{name}")
    sys.modules[old] = module
    return module
