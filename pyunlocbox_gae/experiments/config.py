r"""Configuration files: the flat configuration, written flat or in tables.

Every command reads one configuration, the flat dict of
:data:`~.settings.DEFAULTS`. A TOML file may give its entries at the top
level (``k = 5``) or grouped in tables named after the stages that read them
(``[graph] k = 5``): the tables only group; a key means the same in any
table. Accepted tables: ``[data]``, ``[graph]``, ``[estimator]``,
``[classifier]``, ``[controls]`` (the groups of :mod:`.settings`) and, for
the audio preset ``examples/gtzan.toml``, ``[dataset]``, ``[cqt]`` and
``[input]`` (data), ``[autoencoder]`` (estimator) and ``[classification]``
(classifier). Inside a table, ``seed`` is the seed of that stage
(``noise_seed``, ``random_state``, ``cv_seed``); the top-level ``data`` is
the ``dataset`` and ``output`` the results folder.

An unknown key or table is an error that names it and, for a typo, the
nearest valid key; every value is checked (:func:`.checks.check`) before any
stage starts.

.. autosummary::
    flatten
    load_config
"""

import difflib
from pathlib import Path

from pyunlocbox_gae.errors import InputError
from pyunlocbox_gae.experiments.settings import DEFAULTS, GROUPS, read_toml

# Table name -> the group of settings its keys belong to.
TABLES = {
    **{name: name for name in GROUPS},
    "dataset": "data",
    "cqt": "data",
    "input": "data",
    "autoencoder": "estimator",
    "classification": "classifier",
}
# Keys whose name in a table differs from the flat name.
RENAMES = {
    ("data", "seed"): "noise_seed",
    ("dataset", "seed"): "noise_seed",
    ("input", "seed"): "noise_seed",
    ("estimator", "seed"): "random_state",
    ("autoencoder", "seed"): "random_state",
    ("classifier", "seed"): "cv_seed",
    ("classification", "seed"): "cv_seed",
    ("classification", "scaling"): "scaler",
    ("classification", "baseline_scaling"): "baseline_scaler",
    ("classification", "protocols"): "protocol",
}
TOP_LEVEL = {"data": "dataset"}


def _unknown(key, where, valid):
    near = difflib.get_close_matches(key, valid, n=1)
    hint = f" (did you mean {near[0]!r}?)" if near else ""
    raise InputError(f"unknown config key {where}{key!r}{hint}")


def flatten(raw):
    """The flat entries of a configuration written flat or in tables.

    Parameters
    ----------
    raw : dict
        A TOML file's content.

    Returns
    -------
    entries : dict
        Flat keys (:data:`~.settings.DEFAULTS`) and ``output`` when given.

    Examples
    --------
    >>> flatten({"data": "genres", "graph": {"k": 5},
    ...          "classification": {"seed": 3, "scaling": "none"}})
    {'dataset': 'genres', 'k': 5, 'cv_seed': 3, 'scaler': 'none'}
    >>> flatten({"cqt": {"n_bin": 84}})
    Traceback (most recent call last):
    ...
    pyunlocbox_gae.errors.InputError: unknown config key [cqt] 'n_bin' (did you mean...
    """
    out = {}

    def put(key, value, where):
        if key in out:
            raise InputError(f"config key {key!r} is given twice ({where.strip()})")
        out[key] = value

    for name, value in raw.items():
        if isinstance(value, dict):
            if name not in TABLES:
                _unknown(name, "table ", list(TABLES))
            for key, item in value.items():
                flat = RENAMES.get((name, key), key)
                if flat not in DEFAULTS:
                    group = GROUPS[TABLES[name]]
                    _unknown(key, f"[{name}] ", [*group, *DEFAULTS])
                put(flat, item, f"[{name}]")
            continue
        key = TOP_LEVEL.get(name, name)
        if key not in DEFAULTS and key != "output":
            _unknown(name, "", [*DEFAULTS, "data", "output"])
        put(key, value, "top level")
    return out


def load_config(source):
    """A checked configuration and its output folder, from a file or a dict.

    Relative paths in a file (``dataset``, ``labels``, ``output``) are
    relative to the file's folder.

    Returns
    -------
    config : dict
        The full configuration (:func:`~.settings.make_config`), checked
        whole (:func:`.checks.check`).
    output : Path or None

    Examples
    --------
    >>> import tempfile, pathlib
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "run.toml"
    >>> _ = path.write_text('output = "out"\\n[graph]\\nk = 5\\n')
    >>> config, output = load_config(path)
    >>> config["k"], config["dataset"], output == path.parent / "out"
    (5, 'digits', True)
    """
    from pyunlocbox_gae.experiments import checks
    from pyunlocbox_gae.experiments.settings import make_config

    if isinstance(source, dict):
        entries, folder = flatten(source), None
    else:
        entries, folder = flatten(read_toml(source)), Path(source).parent
    output = entries.pop("output", None)
    if folder is not None:
        for key in ("dataset", "labels"):
            value = entries.get(key)
            if value not in (None, "digits") and not Path(value).is_absolute():
                entries[key] = str(folder / value)
        if output is not None and not Path(output).is_absolute():
            output = folder / output
    config = make_config(entries)
    checks.check(config)
    return config, None if output is None else Path(output)
