r"""TOML configuration of the audio pipeline: typed defaults, checked keys.

Seeds may be given under their names in the flat configuration of
:mod:`.settings`, the same in every command: ``[input] noise_seed``,
``[autoencoder] random_state``, ``[classification] cv_seed`` (``seed`` in
each table is read as well).

A config file has two top-level keys, ``data`` (a GTZAN-layout folder) and
``output`` (the results folder), and one table per stage. Every key has a
typed default, sized so that a few thousand clips run in minutes; the
study's heavier settings are the preset ``examples/gtzan.toml``; a key that is
unknown or of the wrong type is an error that names it and, for a typo, the
nearest valid key. ``[graph]`` is passed to
:func:`pyunlocbox_gae.graphs.knn_graph` and checked against its parameters.

.. autosummary::
    DEFAULTS
    load_config
    check_config
    default_config
"""

import copy
import difflib
import inspect
from pathlib import Path

from pyunlocbox_gae.errors import InputError
from pyunlocbox_gae.experiments.settings import read_toml
from pyunlocbox_gae.graphs import knn_graph
from pyunlocbox_gae.model.objective import TERMS
from pyunlocbox_gae.solvers import SOLVERS

ALL = "all"

# Each key: (default, allowed types, help). 0 / "all" mean "everything".
SCHEMA = {
    "data": (None, (str,), "GTZAN-layout folder: one sub-folder per genre"),
    "output": (None, (str,), "results folder (frames, graph, features, reports)"),
    "dataset": {
        "genres": (ALL, (int, list, str), "'all', the first N (int) or a list"),
        "clips_per_genre": (0, (int,), "first N clips of each genre (0: all)"),
        "short_clips": ("error", (str,), "'error' or 'pad' clips shorter than a clip"),
        "resample": (True, (bool,), "resample clips at another rate (else: bad file)"),
        "on_error": ("raise", (str,), "'raise' on a bad file, or 'skip' and list it"),
    },
    "cqt": {
        "sample_rate": (22050, (int,), "Hz"),
        "clip_samples": (660000, (int,), "samples per clip (truncate longer ones)"),
        "frame_size": (1024, (int,), "frame length and CQT hop of each stream"),
        "frame_hop": (512, (int,), "distance between frames (streams offset)"),
        "n_bins": (96, (int,), "CQT bins"),
        "bins_per_octave": (24, (int,), "CQT bins per octave"),
        "fmin": ("C2", (str, float), "lowest frequency, Hz or note name"),
        "frames_per_clip": (0, (int,), "first N frames per stream (0: all)"),
    },
    "input": {
        "log": (False, (bool,), "log(1 + x) compression of the CQT"),
        "scaling": ("minmax", (str,), "'minmax', 'standard' or 'none' per feature"),
        "noise": (0.0, (float,), "std of Gaussian noise added after scaling"),
        "seed": (1, (int,), "seed of the noise"),
    },
    "graph": {},  # free-form: parameters of pyunlocbox_gae.graphs.knn_graph
    "autoencoder": {
        "mode": ("transductive", (str,), "'transductive' or 'inductive'"),
        "n_atoms": (128, (int,), "atoms m"),
        "ld": (10.0, (float,), "data fidelity weight"),
        "ls": (1.0, (float,), "sparsity weight"),
        "lg": (100.0, (float,), "graph weight (0: no graph)"),
        "le": (0.0, (float,), "encoder weight (0: no encoder)"),
        "dict_init": ("samples", (str,), "atoms start from samples, or 'uniform'"),
        "solver": ("auto", (str,), "splitting of the codes problem"),
        "rtol": (1e-4, (float,), "inner relative tolerance (study: 1e-5)"),
        "rtol_outer": (1e-4, (float,), "outer relative tolerance (study: 1e-5)"),
        "max_inner": (100, (int,), "inner iteration limit (study: 500)"),
        "max_outer": (15, (int,), "outer iteration limit (study: 50)"),
        "transform_algorithm": ("auto", (str,), "inductive mode's transform"),
        "seed": (1, (int,), "seed of the initial dictionary"),
    },
    "classification": {
        "n_vectors": (6, (int,), "windows per clip (x2 with the offset set)"),
        "classifier": ("linear_svc", (str,), "'linear_svc' or 'svc' (study)"),
        "C": (1.0, (float,), "SVM regularisation"),
        "scaling": ("minmax", (str,), "scaling of code vectors (training folds)"),
        "baseline": (True, (bool,), "also classify the CQT vectors"),
        "baseline_scaling": ("minmax", (str,), "scaling of CQT vectors"),
        "voting": (False, (bool,), "majority vote per clip"),
        "protocols": (["grouped"], (list,), "'grouped' and/or 'leaky' (study)"),
        "n_splits": (5, (int,), "folds (grouped) or splits (leaky) (study: 10)"),
        "n_repeats": (3, (int,), "repetitions (study: 20)"),
        "test_size": (0.1, (float,), "test fraction of the leaky protocol"),
        "seed": (1, (int,), "seed of the splits"),
    },
}

# Every term of the objective has its parameter in the autoencoder table (the
# four above keep the study's values as defaults).
SCHEMA["autoencoder"].update(
    {
        t.parameter: (
            t.default,
            (bool,) if t.switch else (float,),
            t.description.replace("``", ""),
        )
        for t in TERMS
        if t.parameter not in SCHEMA["autoencoder"]
    }
)

DEFAULTS = {
    key: (
        {k: copy.deepcopy(v[0]) for k, v in spec.items()}
        if isinstance(spec, dict)
        else spec[0]
    )
    for key, spec in SCHEMA.items()
}

CHOICES = {
    ("dataset", "short_clips"): ("error", "pad"),
    ("dataset", "on_error"): ("raise", "skip"),
    ("input", "scaling"): ("minmax", "standard", "none"),
    ("autoencoder", "mode"): ("transductive", "inductive"),
    ("autoencoder", "solver"): SOLVERS,
    ("autoencoder", "dict_init"): ("samples", "uniform", "gaussian"),
    ("autoencoder", "transform_algorithm"): (
        "auto",
        "out_of_sample",
        "sparse_code",
        "encoder",
        "graph",
    ),
    ("classification", "classifier"): ("svc", "linear_svc"),
    ("classification", "scaling"): ("none", "minmax", "standard"),
    ("classification", "baseline_scaling"): ("none", "minmax", "standard"),
}


def default_config():
    """A fresh copy of the defaults.

    Examples
    --------
    >>> cfg = default_config()
    >>> cfg["cqt"]["n_bins"], cfg["autoencoder"]["lg"], cfg["data"]
    (96, 100.0, None)
    """
    return copy.deepcopy(DEFAULTS)


def _nearest(name, valid):
    match = difflib.get_close_matches(name, valid, n=1, cutoff=0.5)
    return f"; did you mean {match[0]!r}?" if match else ""


def _check_type(where, value, types):
    if bool in types:
        ok = isinstance(value, bool)
    elif isinstance(value, bool):  # TOML true is not a number here
        ok = False
    elif float in types and isinstance(value, int):
        ok = True
    else:
        ok = isinstance(value, types)
    if not ok:
        names = " or ".join(t.__name__ for t in types)
        raise InputError(
            f"config key {where} must be {names}, got {type(value).__name__} {value!r}"
        )


def _graph_parameters():
    skip = {"X", "dtype", "neighbors", "verbose", "lap_type"}
    return [p for p in inspect.signature(knn_graph).parameters if p not in skip] + [
        "lap_type"
    ]


def check_config(config):
    """Merge `config` into the defaults, checking every key and type.

    Returns
    -------
    dict
        The complete config.

    Raises
    ------
    ValueError
        Naming an unknown key (and the nearest valid one), a value of the
        wrong type or outside its choices.

    Examples
    --------
    >>> check_config({"cqt": {"n_bin": 84}})
    Traceback (most recent call last):
    ...
    pyunlocbox_gae.errors.InputError: unknown config key cqt.n_bin; did you mean...
    >>> check_config({"autoencoder": {"ld": "ten"}})
    Traceback (most recent call last):
    ...
    pyunlocbox_gae.errors.InputError: config key autoencoder.ld must be float, got...
    >>> check_config({"cqt": {"n_bins": 84}})["cqt"]["n_bins"]
    84
    """
    if not isinstance(config, dict):
        raise InputError(f"a config is a table (dict), got {type(config).__name__}")
    out = default_config()
    for key, value in config.items():
        if key not in SCHEMA:
            raise InputError(f"unknown config key {key}{_nearest(key, list(SCHEMA))}")
        spec = SCHEMA[key]
        if not isinstance(spec, dict):
            _check_type(key, value, spec[1])
            out[key] = value
            continue
        if not isinstance(value, dict):
            raise InputError(f"config key {key} must be a table ([{key}])")
        if key == "graph":
            valid = _graph_parameters()
            for name in value:
                if name not in valid:
                    raise InputError(
                        f"unknown config key graph.{name}{_nearest(name, valid)}"
                    )
            out[key] = dict(value)
            continue
        seeds = [n for n in value if n in ("seed", FLAT_NAMES.get((key, "seed")))]
        if len(seeds) > 1:
            raise InputError(f"config table [{key}] gives its seed twice: {seeds}")
        for name, item in value.items():
            # The seed under its name in the flat configuration (one naming).
            name = "seed" if name == FLAT_NAMES.get((key, "seed")) else name
            if name not in spec:
                raise InputError(
                    f"unknown config key {key}.{name}{_nearest(name, list(spec))}"
                )
            _check_type(f"{key}.{name}", item, spec[name][1])
            choices = CHOICES.get((key, name))
            if choices and item not in choices:
                raise InputError(
                    f"config key {key}.{name} must be one of {list(choices)}, "
                    f"got {item!r}"
                )
            out[key][name] = item
    genres = out["dataset"]["genres"]
    if isinstance(genres, str) and genres != ALL:
        raise InputError(
            f"config key dataset.genres must be 'all', an int or a list of "
            f"names, got {genres!r}"
        )
    for protocol in out["classification"]["protocols"]:
        if protocol not in ("grouped", "leaky"):
            raise InputError(
                "config key classification.protocols lists 'grouped' and/or "
                f"'leaky', got {protocol!r}"
            )
    _check_ranges(out)
    _check_cv(out["classification"])
    return out


def _check_cv(cls):
    """Impossible cross-validation settings, refused before any stage runs."""
    from pyunlocbox_gae.classification import check_cv_settings

    try:
        check_cv_settings(
            cls["protocols"], cls["n_splits"], cls["n_repeats"], cls["test_size"]
        )
    except InputError as err:
        raise InputError(f"config table [classification]: {err}") from None


# Keys of the tables named otherwise in the flat configuration of
# pyunlocbox_gae.experiments.settings (same meaning, same checks).
FLAT_NAMES = {
    ("input", "seed"): "noise_seed",
    ("autoencoder", "seed"): "random_state",
    ("classification", "seed"): "cv_seed",
    ("classification", "scaling"): "scaler",
}


def to_flat(config):
    """The entries of a checked config under their flat names (:mod:`.settings`).

    Examples
    --------
    >>> flat = to_flat(default_config())
    >>> flat["n_bins"], flat["random_state"], flat["cv_seed"], "data" in flat
    (96, 1, 1, False)
    """
    flat = {}
    for table, values in config.items():
        if isinstance(values, dict):
            for name, value in values.items():
                flat[FLAT_NAMES.get((table, name), name)] = value
    return flat


def from_flat(flat):
    """Tables of a pipeline config from entries under their flat names.

    The inverse of :func:`to_flat`, so that ``--set KEY=VALUE`` means the
    same for every command.

    Examples
    --------
    >>> from_flat({"k": 5, "noise": 0.1, "random_state": 3})
    {'graph': {'k': 5}, 'input': {'noise': 0.1}, 'autoencoder': {'seed': 3}}
    >>> from_flat({"scaler": "none", "scaling": "standard"})
    {'classification': {'scaling': 'none'}, 'input': {'scaling': 'standard'}}
    """
    inverse = {flat_name: where for where, flat_name in FLAT_NAMES.items()}
    graph = _graph_parameters()
    out = {}
    for key, value in flat.items():
        if key in inverse:
            table, name = inverse[key]
        elif key in graph:
            table, name = "graph", key
        else:
            tables = [t for t, spec in SCHEMA.items() if isinstance(spec, dict)]
            tables = [t for t in tables if key in SCHEMA[t]]
            if not tables:
                raise InputError(
                    f"{key} has no place in the audio pipeline's config; its keys "
                    "are those of examples/gtzan.toml"
                )
            table, name = ("input" if key == "scaling" else tables[0]), key
        out.setdefault(table, {})[name] = value
    return out


def _check_ranges(config):
    """Every range and choice, as the flat configuration checks them."""
    from pyunlocbox_gae.experiments import checks

    flat = to_flat(config)
    flat.pop("scaler", None)  # 'none' is a valid choice in both
    checks.check_values(flat)
    checks.check_genres(flat["genres"])


def load_config(source):
    """Read and check a config: a TOML file path or a dict.

    Relative ``data`` and ``output`` paths in a file are relative to the
    file's folder.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "run.toml"
    >>> _ = path.write_text('data = "genres"\\n[cqt]\\nframes_per_clip = 149\\n')
    >>> cfg = load_config(path)
    >>> cfg["cqt"]["frames_per_clip"], cfg["data"] == str(path.parent / "genres")
    (149, True)
    """
    if isinstance(source, dict):
        return check_config(source)
    path = Path(source)
    raw = read_toml(path)
    config = check_config(raw)
    for key in ("data", "output"):
        if config[key] is not None and not Path(config[key]).is_absolute():
            config[key] = str(path.parent / config[key])
    return config
