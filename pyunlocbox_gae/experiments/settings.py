r"""The configuration of one experiment point: every parameter, with defaults.

A configuration is a flat dict, so that one sweep can vary any entry of it
(an estimator weight, a graph parameter, the noise level, the classifier's
C) and a result file can hold it whole. The keys fall into the groups of the
stages that read them; a stage's cache key is a hash of its group only, so a
change of ``ls`` re-learns the codes but reuses the graph, and a change of
``C`` re-runs the classifier only.

.. autosummary::
    DEFAULTS
    make_config
    parse_value
    parse_assignments
    read_toml
"""

import difflib
import json
import sys
from pathlib import Path

from pyunlocbox_gae.errors import InputError, MissingFileError

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib

# The study's settings on digits.
DATA_DEFAULTS = dict(
    # "digits" (sklearn.datasets.load_digits), a feature file (.csv, .npy,
    # .h5) or an audio folder (GTZAN layout or with a labels.csv); see sources.
    dataset="digits",
    labels=None,  # labels file of a .npy feature file
    label_column="label",  # columns of a feature CSV
    group_column="group",
    n_samples=None,  # a stratified subset of this size (None: all rows)
    log=False,  # log(1 + x) of every value, before the scaling (CQT magnitudes)
    scaling="minmax",  # per feature, before the noise: minmax, standard, none
    noise=0.0,  # std of the Gaussian noise added after scaling
    noise_seed=0,
)
# Audio folders only: clip selection and the CQT frames of each clip.
AUDIO_DEFAULTS = dict(
    genres="all",  # 'all', the first N (int) or a list of names
    clips_per_genre=0,  # first N clips of each class (0: all)
    short_clips="keep",  # clips shorter than clip_samples: keep, pad or error
    on_error="raise",  # 'raise' on a bad file, or 'skip' and list it
    resample=True,  # clips at another rate are resampled (else: a bad file)
    sample_rate=22050,
    clip_samples=660000,  # the longest clip kept (longer ones are cut)
    frame_size=1024,
    frame_hop=512,
    n_bins=96,
    bins_per_octave=24,
    fmin="C2",
    frames_per_clip=0,  # first N frames per stream (0: all)
)
GRAPH_DEFAULTS = dict(
    k=10,
    metric="euclidean",
    kernel="exp",
    self_loops=True,
    symmetrize="max",
    lap_type="normalized",
    backend="exact",
    # How the graph is built (pyunlocbox_gae.graphs.constructions): knn,
    # temporal, smoothed, lowrank, codes, codes_iterated, learned, clips or
    # context;
    # temporal edges mixed in with weight temporal_mix; the window and the
    # rank of the views; the graphs re-built from the codes (codes_iterated).
    construction="knn",
    temporal_mix=0.0,
    temporal_radius=1,
    view_width=5,
    view_rank=16,
    view_rounds=3,
    # Neighbours searched among the frames of other clips only (knn and the
    # views; needs clips).
    cross_clip=False,
)


def _term_defaults():
    from pyunlocbox_gae.model.objective import TERMS

    return {t.parameter: t.default for t in TERMS}


ESTIMATOR_DEFAULTS = dict(
    n_atoms=128,
    # Every term of the objective (pyunlocbox_gae.model.objective.TERMS),
    # with the estimator's defaults: ld=10, ls=1, lg=0, le=0, lt=0, ...
    **_term_defaults(),
    # Atoms started from random samples: measured closer to the reference
    # accuracies of docs/experiments.md than the study's uniform start
    # (codes lg=0 at noise 0.2: 90.4 against 88.5 %).
    dict_init="samples",
    solver="auto",
    rtol=1e-4,
    rtol_outer=1e-4,
    max_inner=100,
    max_outer=15,
    eval_every=5,
    # The study's whole-batch codes step, also at lg = 0: the tables of
    # docs/experiments.md were measured with it (the estimator's default,
    # blocks of samples with dictionary updates between them, reaches a
    # different dictionary).
    batch_size=None,
    transform_algorithm="auto",  # how test clips are coded in inductive mode
    random_state=0,
)
CLASSIFIER_DEFAULTS = dict(
    # transductive: every sample coded in one fit (the study); inductive: the
    # model fitted on each split's training samples, test samples coded by
    # its transform (out of sample); clean_train: the same, fitted on the
    # clean training samples, the noisy test samples coded (see inductive).
    mode="transductive",
    classifier="linear_svc",  # LinearSVC, or svc: SVC(kernel="linear")
    C=1.0,
    scaler="minmax",  # fitted on the training folds: minmax, standard, none
    baseline=True,  # also classify the raw features, on the same splits
    baseline_scaler="same",  # the raw features' scaler ("same": scaler's)
    # Per clip (audio): windows, mean, max, meanmax (of |x|), signed (mean of
    # x with its sign); or none (every frame a vector, the splits by clip).
    pooling="windows",
    n_vectors=6,  # windows per set ("windows" pooling)
    # Accuracy per vector (per frame with pooling none), or per clip: by
    # majority vote (clip) or by the mean decision score (clip_mean).
    scoring="vector",
    # grouped (by clip), group (column), leaky, holdout; gae run takes a
    # list and reports each
    protocol="grouped",
    n_splits=5,
    n_repeats=3,
    test_size=0.2,  # held-out fraction of the holdout protocol
    cv_seed=0,
)
# Beside graph codes (lg > 0), on the same splits: a random graph of the
# same degrees and weights, L = I (ridge), lg = 0 with ls tuned among
# tune_ls on each split's training clips (see controls).
CONTROL_DEFAULTS = dict(
    controls=["random", "ridge", "tuned"],
    tune_ls=[0.3, 1.0, 3.0],
)
# Run-to-run spread (see stability): stability_runs > 0 runs each point that
# many times more, each with fresh seeds drawn from the system's entropy for
# one factor (noise draw, dictionary start, folds) or all of them together.
STABILITY_DEFAULTS = dict(
    stability_runs=0,
    stability_factors=["noise", "init", "folds", "all"],
)
GROUPS = dict(
    data=tuple(DATA_DEFAULTS) + tuple(AUDIO_DEFAULTS),
    graph=tuple(GRAPH_DEFAULTS),
    estimator=tuple(ESTIMATOR_DEFAULTS),
    classifier=tuple(CLASSIFIER_DEFAULTS),
    controls=tuple(CONTROL_DEFAULTS),
    stability=tuple(STABILITY_DEFAULTS),
)
DEFAULTS = {
    **DATA_DEFAULTS,
    **AUDIO_DEFAULTS,
    **GRAPH_DEFAULTS,
    **ESTIMATOR_DEFAULTS,
    **CLASSIFIER_DEFAULTS,
    **CONTROL_DEFAULTS,
    **STABILITY_DEFAULTS,
}


# Keys with a choice named "none" (a None given for them means it).
NONE_CHOICE = ("scaling", "scaler", "baseline_scaler", "pooling")


# Keys holding lists: --set controls=random,ridge or --set controls=none.
LIST_KEYS = ("controls", "tune_ls", "stability_factors")


def _as_list(value):
    if value is None or value == "none":
        return []
    if isinstance(value, str):
        return [parse_value(v.strip()) for v in value.split(",") if v.strip()]
    return list(value) if isinstance(value, tuple) else [value]


def _check_key(key):
    if key not in DEFAULTS:
        near = difflib.get_close_matches(key, DEFAULTS, n=1)
        hint = f"did you mean {near[0]!r}? " if near else ""
        raise InputError(
            f"unknown experiment parameter {key!r}: {hint}valid parameters are "
            + ", ".join(DEFAULTS)
        )


def make_config(base=None, **overrides):
    """A full configuration: the defaults, updated by `base` then `overrides`.

    Raises
    ------
    ValueError
        For an unknown parameter, naming the nearest valid one.

    Examples
    --------
    >>> cfg = make_config(lg=100, noise=0.2)
    >>> cfg["lg"], cfg["noise"], cfg["ld"], cfg["k"]
    (100, 0.2, 10.0, 10)
    >>> make_config(n_atom=64)
    Traceback (most recent call last):
    ...
    pyunlocbox_gae.errors.InputError: unknown experiment parameter 'n_atom': did you...
    """
    config = dict(DEFAULTS)
    for source in (base or {}, overrides):
        for key, value in source.items():
            _check_key(key)
            # --set scaler=none parses as None: the choice named "none".
            if value is None and key in NONE_CHOICE:
                value = "none"
            elif key in LIST_KEYS and not isinstance(value, list):
                value = _as_list(value)
            config[key] = value
    return config


def group(config, name):
    """The entries of `config` that stage `name` reads (its cache key).

    Examples
    --------
    >>> sorted(group(make_config(), "graph"))[:5]
    ['backend', 'construction', 'cross_clip', 'k', 'kernel']
    """
    return {key: config[key] for key in GROUPS[name]}


def parse_value(text):
    """A command-line value: JSON when it parses (numbers, null, true), else text.

    Examples
    --------
    >>> [parse_value(v) for v in ("10", "0.5", "none", "cosine")]
    [10, 0.5, None, 'cosine']
    """
    if text.lower() in ("none", "null"):
        return None
    try:
        return json.loads(text.lower() if text.lower() in ("true", "false") else text)
    except json.JSONDecodeError:
        return text


def parse_assignments(items):
    """``["k=v", ...]`` from ``--set`` options as a dict of parsed values.

    Examples
    --------
    >>> parse_assignments(["ls=2", "metric=cosine"])
    {'ls': 2, 'metric': 'cosine'}
    >>> parse_assignments(["ls"])
    Traceback (most recent call last):
    ...
    pyunlocbox_gae.errors.InputError: --set expects KEY=VALUE, got 'ls'
    """
    out = {}
    for item in items or ():
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise InputError(f"--set expects KEY=VALUE, got {item!r}")
        _check_key(key.strip())
        out[key.strip()] = parse_value(value.strip())
    return out


def cqt_params(config):
    """The :class:`~pyunlocbox_gae.audio.cqt.CQTParams` of a configuration.

    `config` is a flat configuration or the ``[cqt]`` table of a pipeline
    config (the same keys).

    Examples
    --------
    >>> cqt_params(make_config(n_bins=48, frames_per_clip=10)).n_bins
    48
    """
    import dataclasses

    from pyunlocbox_gae.audio.cqt import CQTParams

    params = {f.name: config[f.name] for f in dataclasses.fields(CQTParams)}
    params["frames_per_clip"] = params["frames_per_clip"] or None  # 0: all
    return CQTParams(**params)


def read_toml(path):
    """The table of a TOML file (the one reader of every configuration file).

    Raises
    ------
    MissingFileError
        When the file does not exist.
    InputError
        When it is not valid TOML, naming the line.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "run.toml"
    >>> _ = path.write_text('dataset = "f.csv"\\nk = 5\\n')
    >>> read_toml(path)
    {'dataset': 'f.csv', 'k': 5}
    """
    path = Path(path)
    if not path.is_file():
        raise MissingFileError(f"config file {path} does not exist")
    try:
        with open(path, "rb") as f:
            return tomllib.load(f)
    except tomllib.TOMLDecodeError as err:
        raise InputError(f"{path} is not valid TOML: {err}") from None
    except UnicodeDecodeError:
        raise InputError(f"{path} is not a TOML text file") from None
