r"""The whole configuration checked before any stage starts.

:func:`check` tests every entry of a flat configuration (:mod:`.settings`)
at once: its type and range (the estimator's own constraints,
``GraphAutoEncoder._parameter_constraints``, for its parameters; the same
kind of constraint for every other key), every choice, the CQT settings of
an audio source and every file path, so that a bad value fails in a second,
with the key's name, rather than when its stage starts after the CQT, the
graph or the codes fit.

.. autosummary::
    check
    CONSTRAINTS
"""

from numbers import Integral, Real
from pathlib import Path

from sklearn.utils._param_validation import (
    Interval,
    InvalidParameterError,
    StrOptions,
    validate_parameter_constraints,
)

from pyunlocbox_gae.errors import InputError, MissingFileError
from pyunlocbox_gae.experiments import scoring, sources
from pyunlocbox_gae.scaling import SCALINGS


def _positive():
    return [Interval(Integral, 1, None, closed="left")]


def _seed():
    return [Interval(Integral, 0, None, closed="left")]


def _graph_constraints():
    from pyunlocbox_gae.graphs.constructions import CONSTRUCTIONS
    from pyunlocbox_gae.graphs.graph import LAP_TYPES
    from pyunlocbox_gae.graphs.search import BACKENDS, METRICS
    from pyunlocbox_gae.graphs.weights import KERNELS, SYMMETRIZE

    return dict(
        symmetrize=[StrOptions(set(SYMMETRIZE))],
        k=_positive(),
        metric=[StrOptions(set(METRICS))],
        kernel=[StrOptions(set(KERNELS))],
        lap_type=[StrOptions(set(LAP_TYPES))],
        backend=[StrOptions(set(BACKENDS))],
        sigma=[Interval(Real, 0, None, closed="neither"), None],
        self_loops=["boolean"],
        construction=[StrOptions(set(CONSTRUCTIONS))],
        temporal_mix=[Interval(Real, 0, 1, closed="both")],
        temporal_radius=_positive(),
        view_width=_positive(),
        view_rank=_positive(),
        view_rounds=_positive(),
        cross_clip=["boolean"],
    )


# Every key that is not an estimator parameter (those are checked by the
# estimator's own constraints).
CONSTRAINTS = dict(
    dataset=[str],
    labels=[str, None],
    label_column=[str],
    group_column=[str, None],
    n_samples=[Interval(Integral, 20, None, closed="left"), None],
    log=["boolean"],
    scaling=[StrOptions(set(SCALINGS))],
    noise=[Interval(Real, 0, None, closed="left")],
    noise_seed=_seed(),
    genres=[StrOptions({"all"}), Interval(Integral, 2, None, closed="left"), list],
    clips_per_genre=[Interval(Integral, 0, None, closed="left")],
    short_clips=[StrOptions({"keep", "error", "pad"})],
    on_error=[StrOptions({"raise", "skip"})],
    resample=["boolean"],
    sample_rate=_positive(),
    clip_samples=_positive(),
    frame_size=_positive(),
    frame_hop=_positive(),
    n_bins=_positive(),
    bins_per_octave=_positive(),
    fmin=[Interval(Real, 0, None, closed="neither"), str],
    frames_per_clip=[Interval(Integral, 0, None, closed="left")],
    classifier=[StrOptions(set(scoring.CLASSIFIERS))],
    C=[Interval(Real, 0, None, closed="neither")],
    scaler=[StrOptions(set(scoring.SCALERS))],
    baseline=["boolean"],
    baseline_scaler=[StrOptions({"same", *scoring.SCALERS})],
    pooling=[StrOptions(set(scoring.POOLINGS))],
    n_vectors=_positive(),
    scoring=[StrOptions(set(scoring.SCORINGS))],
    protocol=[StrOptions(set(scoring.PROTOCOLS)), list],
    n_splits=[Interval(Integral, 2, None, closed="left")],
    n_repeats=_positive(),
    test_size=[Interval(Real, 0, 1, closed="neither")],
    cv_seed=_seed(),
    controls=[list],
    tune_ls=[list],
    mode=[StrOptions({"transductive", "inductive", "clean_train"})],
    stability_runs=[Interval(Integral, 0, None, closed="left")],
    stability_factors=[list],
)


def _estimator_constraints():
    from pyunlocbox_gae.model.estimator import GraphAutoEncoder

    return GraphAutoEncoder._parameter_constraints


def _one_line(err, key, value):
    text = str(err).split(" must be ", 1)[-1].split(" Got ")[0].rstrip(". ")
    text = text.replace("an instance of 'list'", "a list")
    return f"config key {key} must be {text}; got {value!r}"


def check_values(config):
    """Check the type, range or choice of each entry of `config` present."""
    constraints = dict(CONSTRAINTS, **_graph_constraints())
    estimator = _estimator_constraints()
    for key, value in config.items():
        rule = estimator.get(key) if key in estimator else constraints.get(key)
        if rule is None or rule == "no_validation":
            continue
        if (
            isinstance(value, bool)
            and rule
            and bool not in rule
            and "boolean" not in rule
        ):
            raise InputError(f"config key {key} must not be a boolean; got {value!r}")
        try:
            validate_parameter_constraints({key: rule}, {key: value}, "config")
        except InvalidParameterError as err:
            raise InputError(_one_line(err, key, value)) from None


def check_genres(genres):
    """A list of genres must name two at least (the int form is a range)."""
    if isinstance(genres, list) and len(genres) < 2:
        raise InputError(
            f"config key genres lists {len(genres)} class(es): the classifier "
            "needs at least two"
        )


def check_protocols(config):
    """Each protocol of a list is known; inductive codes need clip splits."""
    protocols = config["protocol"]
    protocols = protocols if isinstance(protocols, list) else [protocols]
    bad = [p for p in protocols if p not in scoring.PROTOCOLS]
    if bad or not protocols:
        raise InputError(
            f"config key protocol lists {bad or 'nothing'}: choose among "
            f"{list(scoring.PROTOCOLS)}"
        )
    if config["mode"] != "transductive" and (
        config["construction"] != "knn"
        or config["temporal_mix"]
        or config["cross_clip"]
    ):
        raise InputError(
            f"mode {config['mode']!r} builds each split's k-NN graph over its "
            "training samples: use construction = 'knn', temporal_mix = 0 and "
            "cross_clip = false, or "
            "mode = 'transductive'"
        )
    if config["mode"] != "transductive" and "leaky" in protocols:
        raise InputError(
            f"mode {config['mode']!r} fits the model on each split's training "
            "clips; the 'leaky' protocol splits a clip's vectors and cannot: use "
            "'grouped'"
        )


def _check_controls(config):
    from pyunlocbox_gae.experiments.controls import CONTROLS

    unknown = [c for c in config["controls"] if c not in CONTROLS]
    if unknown:
        raise InputError(
            f"config key controls lists {unknown}: choose among {list(CONTROLS)} "
            "(or none)"
        )
    values = config["tune_ls"]
    bad = [v for v in values if isinstance(v, bool) or not isinstance(v, (int, float))]
    if "tuned" in config["controls"] and (bad or not values or min(values) < 0):
        raise InputError(
            f"config key tune_ls must list sparsity weights >= 0, got {values!r}"
        )


def _check_modes(config):
    """Test codings the fitted model can give; stability factors known."""
    from pyunlocbox_gae.experiments.stability import FACTORS

    needs = dict(out_of_sample=("lg", "a graph"), encoder=("le", "an encoder"))
    algorithm = config["transform_algorithm"]
    if config["mode"] != "transductive" and algorithm in needs:
        key, what = needs[algorithm]
        if not config[key]:
            raise InputError(
                f"config key transform_algorithm = {algorithm!r} needs {what} "
                f"({key} > 0; {key} = {config[key]!r}): set {key} or "
                "transform_algorithm = 'auto'"
            )
    unknown = [f for f in config["stability_factors"] if f not in FACTORS]
    if unknown or (config["stability_runs"] and not config["stability_factors"]):
        raise InputError(
            f"config key stability_factors lists {unknown or 'nothing'}: choose "
            f"among {list(FACTORS)}"
        )


def _check_paths(config, kind):
    if kind == "digits":
        return
    path = Path(config["dataset"])
    if not path.exists():
        raise MissingFileError(f"dataset {path} does not exist")
    if config["labels"] is not None and not Path(config["labels"]).is_file():
        raise MissingFileError(f"labels file {config['labels']} does not exist")
    if kind == "features" and path.suffix.lower() == ".npy" and not config["labels"]:
        raise InputError(
            f"{path} holds no labels: set labels = a .npy or text file of one "
            "label per row"
        )


def check(config):
    """Check a whole configuration; raise on the first bad entry.

    Parameters
    ----------
    config : dict
        A full configuration (:func:`~.settings.make_config`).

    Returns
    -------
    str
        The kind of its source: ``"digits"``, ``"features"`` or ``"audio"``.

    Raises
    ------
    InputError
        Naming the key, what it must be and the value given.
    MissingFileError
        For a dataset or labels file that does not exist.

    Examples
    --------
    >>> from pyunlocbox_gae.experiments.settings import make_config
    >>> check(make_config())
    'digits'
    >>> check(make_config(k=-3))
    Traceback (most recent call last):
    ...
    pyunlocbox_gae.errors.InputError: config key k must be an int in the range [1...
    >>> check(make_config(ld=-1))
    Traceback (most recent call last):
    ...
    pyunlocbox_gae.errors.InputError: config key ld must be a float in the range [0...
    """
    check_values(config)
    check_genres(config["genres"])
    check_protocols(config)
    _check_controls(config)
    _check_modes(config)
    kind = sources.kind_of(config["dataset"])
    _check_paths(config, kind)
    if kind == "audio":
        from pyunlocbox_gae.experiments.settings import cqt_params

        cqt_params(config)  # Nyquist, frame and octave constraints
    return kind
