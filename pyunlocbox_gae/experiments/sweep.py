r"""Experiment points and sweeps of one parameter, with result files.

:func:`run_point` runs one configuration through the cached stages and
returns one flat record: accuracy ± std of the codes and of the raw-feature
baseline, sparsity, every objective term weighted and unweighted, inner and
outer iterations, seconds and peak memory of each stage. :func:`sweep`
varies one parameter over a list of values and writes ``results.json``
(the full configuration, the records and each value's history) and
``results.csv`` after every value, so that an interrupted sweep resumes where
it stopped and :func:`sweep_from` reproduces a finished one from its file.

.. autosummary::
    run_point
    sweep
    sweep_from
    load_results
"""

import csv
import json
import time
from pathlib import Path

import numpy as np
from tqdm.auto import tqdm

from pyunlocbox_gae import store
from pyunlocbox_gae.errors import InputError, MissingFileError
from pyunlocbox_gae.experiments import controls, scoring, sources, stages
from pyunlocbox_gae.experiments.settings import (
    DEFAULTS,
    GROUPS,
    NONE_CHOICE,
    make_config,
)
from pyunlocbox_gae.model.estimator import TERMS
from pyunlocbox_gae.model.objective import needs_graph

RESULTS_KIND = "pyunlocbox_gae/sweep"
RESULTS_VERSION = 1


def _as_data(data):
    if isinstance(data, sources.Data):
        return data
    X, y = data
    y = np.asarray(y)
    classes, codes = np.unique(y, return_inverse=True)
    return sources.Data(np.asarray(X), codes, [str(c) for c in classes])


def run_point(config, cache=None, data=None, progress=False):
    """Run one configuration through the stages; return its record.

    Parameters
    ----------
    config : dict
        A full configuration (:func:`~.settings.make_config`).
    cache : Cache or str or Path, optional
        Where stage outputs are kept (a folder); nothing is kept if None.
    data : tuple (X, y) or Data, optional
        Raw rows and labels (:class:`~.sources.Data` for clips and groups)
        instead of ``config['dataset']``. The configuration's scaling and
        noise are applied to them, as to every source.
    progress : bool
        Show progress bars: CQT (audio), graph, each outer iteration of the
        codes fit, cross-validation splits.

    Returns
    -------
    record : dict
        Flat, JSON-able: ``accuracy``, ``accuracy_std``, ``baseline``,
        ``baseline_std``, ``chance`` (in %), ``nnz`` (fraction of non-zero
        codes), ``objective`` and every term weighted and unweighted,
        ``n_outer``, ``z_iter``, ``d_iter``, ``e_iter`` (total inner
        iterations), ``seconds_<stage>``, ``peak_mib_<stage>`` (see
        :func:`~.stages.measure`; ``memory_measure`` says how),
        ``cached_<stage>``, plus ``history`` (the estimator's ``history_``)
        and ``scores`` / ``baseline_scores`` (accuracy of each fold in %, the
        same folds for both, so their differences are paired). With
        ``mode`` ``"inductive"`` or ``"clean_train"`` the model is learned
        in each split (:func:`~.inductive.inductive_record`); with
        ``stability_runs > 0`` the record also holds the run-to-run spread
        (:func:`~.stability.stability_record`).
    extra : dict
        ``codes`` and ``components`` (arrays, not stored in the record;
        None when ``mode`` learns a model in each split, whose record
        :func:`~.inductive.inductive_record` describes).

    Examples
    --------
    >>> from pyunlocbox_gae.experiments.settings import make_config
    >>> cfg = make_config(n_samples=100, n_atoms=16, max_outer=2, n_repeats=1)
    >>> record, extra = run_point(cfg)
    >>> sorted(k for k in record if k.startswith("sparsity"))
    ['sparsity', 'sparsity_unweighted']
    >>> extra["codes"].shape
    (100, 16)
    """
    if isinstance(config["protocol"], list):
        raise InputError(
            "one experiment point takes one protocol; gae run runs each of a list "
            f"(got {config['protocol']})"
        )
    if not isinstance(cache, stages.Cache):
        cache = stages.Cache(cache)
    with stages.measure() as load:
        if data is None:
            data = sources.load_source(config, cache.folder, progress)
        data = _as_data(data)
    if config["mode"] != "transductive":  # a model fitted in each split
        record, extra = _inductive_point(data, config, cache, load["seconds"], progress)
    else:
        record, extra = _transductive_point(
            data, config, cache, load["seconds"], progress
        )
    if "padded" in data.info:  # audio: clips padded to clip_samples
        record["padded_clips"] = data.info["padded"]
    if config["stability_runs"]:
        from pyunlocbox_gae.experiments.stability import stability_record

        record.update(stability_record(config, cache, data, progress))
    return record, extra


def _transductive_point(data, config, cache, seconds_data, progress):
    """run_point for codes learned from all rows at once (the study's)."""
    with stages.measure() as prepared:
        X = sources.prepare(
            data.X,
            config["scaling"],
            config["noise"],
            config["noise_seed"],
            config["log"],
        )
        x_key = store.fingerprint(X)
    record = dict(seconds_data=seconds_data + prepared["seconds"])
    graph = graph_key = None
    if needs_graph(config):
        graph, ginfo = stages.graph_stage(
            X, config, cache, x_key, progress, clips=data.clips
        )
        graph_key = ginfo["key"]
        record.update(
            seconds_graph=ginfo["seconds"],
            peak_mib_graph=ginfo["peak_mib"],
            cached_graph=ginfo["cached"],
        )
    Z, cinfo = stages.codes_stage(X, config, graph, graph_key, cache, x_key, progress)
    record.update(_codes_record(cinfo))
    codes = stages.classify_stage(Z, data, config, cache, cinfo["key"], progress)
    record.update(_scores_record(codes, X, data, config, cache, x_key))
    if config["lg"] and config["controls"]:
        record.update(
            controls.control_records(
                X, data, config, graph, graph_key, cache, x_key, codes["scores"]
            )
        )
    record["history"] = cinfo["history"]
    return record, dict(codes=Z, components=cinfo["components"])


def _scores_record(codes, X, data, config, cache, x_key):
    """Accuracy of the codes and, on the same splits, of the raw features."""
    counts = np.bincount(stages.clip_labels(data)[0])
    out = dict(
        accuracy=codes["accuracy"],
        accuracy_std=codes["accuracy_std"],
        chance=100 * counts.max() / counts.sum(),
        protocol=codes.get("protocol", config["protocol"]),
        mode=config["mode"],
        seconds_classify=codes["seconds"],
        cached_classify=codes["cached"],
        # Per-fold scores, for the paired differences of the figures.
        scores=list(codes["scores"]),  # in %, as the accuracy
    )
    base = {}
    if config["baseline"]:
        base = stages.classify_stage(X, data, config, cache, x_key, baseline=True)
        out.update(
            baseline=base["accuracy"],
            baseline_std=base["accuracy_std"],
            seconds_baseline=base["seconds"],
            baseline_scores=list(base["scores"]),
        )
    for name in scoring.SCORINGS:  # rows in clips: every scoring
        for key in (f"accuracy_{name}", f"accuracy_{name}_std"):
            if key in codes:
                out[key] = codes[key]
            if key in base:
                out[key.replace("accuracy", "baseline", 1)] = base[key]
    return out


def _inductive_point(data, config, cache, seconds_data, progress):
    """run_point for the modes that learn the model in each split."""
    from pyunlocbox_gae.experiments.inductive import inductive_record

    record = dict(seconds_data=seconds_data)
    # Not measure(): the fits inside measure their own seconds and memory.
    start = time.perf_counter()
    record.update(inductive_record(data, config, cache, progress))
    coding = record["seconds_codes"] + record["seconds_transform"]
    record["seconds_classify"] = max(time.perf_counter() - start - coding, 0.0)
    return record, dict(codes=None, components=None)


def _codes_record(cinfo):
    """The record's entries of the codes stage: costs, iterations, terms."""
    history = cinfo["history"]
    last = history[-1]
    out = dict(
        seconds_codes=cinfo["seconds"],
        peak_mib_codes=cinfo["peak_mib"],
        cached_codes=cinfo["cached"],
        memory_measure=cinfo.get("memory"),
        codes_key=cinfo["key"],
        n_outer=len(history),
        z_iter=sum(h["z_iter"] + h.get("z_final_iter", 0) for h in history),
        d_iter=sum(h["d_iter"] for h in history),
        e_iter=sum(h.get("e_iter", 0) for h in history),
        nnz=float(last["nnz"]),
        objective=float(last["objective"]),
    )
    for name in TERMS:
        out[name] = float(last[name])
        out[f"{name}_unweighted"] = float(last[f"{name}_unweighted"])
    return out


def _json_default(value):
    if isinstance(value, np.generic):
        return value.item()
    raise TypeError(f"cannot store {type(value).__name__} in a result file")


def write_results(folder, payload, stem="results"):
    """Write ``<stem>.json`` (everything) and ``<stem>.csv`` (one row a record).

    Both are written atomically; lists (histories) stay out of the CSV.
    """
    folder = Path(folder)
    with store.atomic_path(folder / f"{stem}.json") as tmp:
        tmp.write_text(json.dumps(payload, indent=1, default=_json_default))
    rows = payload["rows"]
    columns = []
    for row in rows:
        columns += [
            k for k, v in row.items() if not isinstance(v, list) and k not in columns
        ]
    with store.atomic_path(folder / f"{stem}.csv") as tmp:
        with open(tmp, "w", newline="") as f:
            writer = csv.DictWriter(f, columns, extrasaction="ignore")
            writer.writeheader()
            writer.writerows(rows)


def load_results(path):
    """Read a ``results.json`` written by :func:`sweep` (checks its kind)."""
    path = Path(path)
    if not path.exists():
        raise MissingFileError(f"{path} does not exist")
    try:
        payload = json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise InputError(f"{path} is not a JSON result file: {err}") from None
    if not isinstance(payload, dict) or payload.get("kind") != RESULTS_KIND:
        raise InputError(
            f"{path} is not a sweep result file (expected kind {RESULTS_KIND!r})"
        )
    return payload


def sweep(param, values, config=None, output=None, progress=True, plots=True):
    """Vary `param` over `values`, holding the rest of `config`; save results.

    Parameters
    ----------
    param : str
        Any configuration key (:data:`~.settings.DEFAULTS`): an estimator
        parameter (``ls``, ``lg``, ``n_atoms``, ``rtol``...), a graph
        parameter (``k``, ``metric``, ``lap_type``), ``noise``, ``C``...
    values : sequence
    config : dict, optional
        The held parameters (missing ones take their defaults).
    output : str or Path, optional
        Folder of ``results.json``, ``results.csv``, the plots and the
        ``cache/`` of stage outputs. A sweep started again into the same
        folder with the same configuration skips the values already done.
    progress : bool
        Show a progress bar.
    plots : bool
        Write the sweep's figures
        (:func:`pyunlocbox_gae.experiments.plotting.plot_sweep`).

    Returns
    -------
    dict
        The content of ``results.json``: ``kind``, ``version``, ``param``,
        ``values``, ``config`` and ``rows`` (one record per value, with
        ``param`` and ``value``).

    Examples
    --------
    >>> import tempfile
    >>> out = sweep("ls", [0.5, 2], dict(n_samples=60, n_atoms=8, max_outer=2,
    ...             n_repeats=1, n_splits=3), output=tempfile.mkdtemp(),
    ...             progress=False, plots=False)
    >>> [row["value"] for row in out["rows"]]
    [0.5, 2]
    """
    if param not in DEFAULTS:
        make_config({param: None})  # raises with the nearest valid name
    # --values scaler,none parses "none" as None: the choice named "none".
    values = ["none" if v is None and param in NONE_CHOICE else v for v in values]
    if not values:
        raise InputError("give at least one value to sweep")
    config = make_config(config)
    stages.check_estimators(make_config(config, **{param: v}) for v in values)
    config.pop(param)
    payload = dict(
        kind=RESULTS_KIND,
        version=RESULTS_VERSION,
        param=param,
        values=values,
        config=config,
        rows=[],
    )
    done = {}
    folder = None
    if output is not None:
        folder = Path(output)
        store.make_folder(folder)
        previous = folder / "results.json"
        if previous.exists():
            old = load_results(previous)
            if old["param"] == param and old["config"] == config:
                done = {json.dumps(r["value"]): r for r in old["rows"]}
    cache = stages.Cache(None if folder is None else folder / "cache")
    data = {}
    bar = tqdm(values, desc=f"sweep {param}", disable=not progress, unit="value")
    for value in bar:
        row = done.get(json.dumps(value))
        if row is None:
            point = make_config(config, **{param: value})
            dkey = stages.key_of(
                {k: point[k] for k in GROUPS["data"] if k not in ("noise", "scaling")}
            )
            if dkey not in data:  # the data is shared unless the sweep varies it
                data = {dkey: sources.load_source(point, cache.folder, progress)}
            record, _ = run_point(point, cache, data[dkey], progress)
            row = dict(param=param, value=value, **record)
        payload["rows"].append(row)
        bar.set_postfix(accuracy=f"{row['accuracy']:.1f}")
        if folder is not None:
            write_results(folder, payload)
    if folder is not None and plots:
        from pyunlocbox_gae.experiments import figures, plotting

        plotting.plot_sweep(payload, folder, cache=cache)
        figures.plot_controls(payload, folder / "controls.png")
    return payload


def sweep_from(path, output=None, progress=True, plots=True):
    """Run again the sweep saved in `path` (``results.json``).

    The result is written to `output` (by default, the file's folder, where
    finished values are then read back rather than recomputed).
    """
    payload = load_results(path)
    return sweep(
        payload["param"],
        payload["values"],
        payload["config"],
        output=Path(path).parent if output is None else output,
        progress=progress,
        plots=plots,
    )
