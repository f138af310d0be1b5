r"""``gae run`` on any source: one configuration through the whole chain.

data → scaling and noise → graph → codes → pooling → classifier → report,
for every source of :mod:`.sources` (digits, a feature file, an audio
folder). The configuration is the flat one of :mod:`.settings`, read from
a TOML file (:func:`~.settings.read_toml`) whose keys are the configuration's, plus
``output`` (the results folder). The results are written beside each other:
``results.json`` (configuration and record), ``results.csv`` and the
figures of :mod:`.plotting`.

.. autosummary::
    load_run
    run
    summary
"""

import time
from pathlib import Path

from pyunlocbox_gae.errors import InputError
from pyunlocbox_gae.experiments import sources
from pyunlocbox_gae.experiments.settings import read_toml

RUN_KIND = "pyunlocbox_gae/run"


def is_flat(raw):
    """Whether a TOML table is a flat configuration: ``dataset``, no tables.

    The audio pipeline's files name their folder ``data`` and hold tables.

    Examples
    --------
    >>> is_flat({"dataset": "x.csv", "k": 5}), is_flat({"cqt": {"n_bins": 84}})
    (True, False)
    >>> is_flat({"data": "genres", "output": "out"})
    False
    """
    tables = any(isinstance(v, dict) for v in raw.values())
    return "dataset" in raw and "data" not in raw and not tables


def run(config, output, progress=True, plots=True):
    """Run one configuration and write its results into `output`.

    Parameters
    ----------
    config : dict
        Configuration entries (:data:`~.settings.DEFAULTS`); the rest take
        their defaults. Checked whole before anything runs.
    output : str or Path
        Folder of ``results.json``, ``results.csv``, the figures and the
        stage ``cache/``.
    progress, plots : bool
        Show progress bars; write the figures.

    Returns
    -------
    dict
        The content of ``results.json``: ``kind``, ``config``, ``rows``
        (one record, see :func:`~.sweep.run_point`), ``seconds``.

    Examples
    --------
    >>> import tempfile
    >>> out = run(dict(n_samples=60, n_atoms=8, max_outer=2, n_repeats=1,
    ...           n_splits=3), tempfile.mkdtemp(), progress=False, plots=False)
    >>> bool(out["rows"][0]["accuracy"] > out["rows"][0]["chance"])
    True
    """
    from pyunlocbox_gae.experiments import stages
    from pyunlocbox_gae.experiments.settings import make_config
    from pyunlocbox_gae.experiments.sweep import run_point, write_results

    t0 = time.perf_counter()
    config = make_config(config)
    stages.check_estimators([config])
    folder = Path(output)
    folder.mkdir(parents=True, exist_ok=True)
    cache = stages.Cache(folder / "cache")
    record, _ = run_point(config, cache, progress=progress)
    name = Path(str(config["dataset"])).name
    payload = dict(
        kind=RUN_KIND,
        param="dataset",
        config=config,
        rows=[dict(param="dataset", value=name, **record)],
        seconds=time.perf_counter() - t0,
    )
    write_results(folder, payload)
    if plots:
        from pyunlocbox_gae.experiments import figures, plotting

        plotting.plot_sweep(payload, folder, cache=cache)
        figures.plot_controls(payload, folder / "controls.png")
    return payload


def summary(payload):
    """The accuracy table of a run as text.

    Examples
    --------
    >>> print(summary(dict(rows=[dict(accuracy=90.0, accuracy_std=5.0,
    ...     baseline=80.0, baseline_std=4.0, chance=50.0, protocol="grouped")])))
    features          protocol  accuracy
    codes             grouped   90.0 ± 5.0 %
    raw (baseline)    grouped   80.0 ± 4.0 %
    chance                      50.0 %
    """
    row = payload["rows"][0]
    protocol = row.get("protocol", "")
    lines = [f"{'features':<18}{'protocol':<10}accuracy"]
    for name, key in (("codes", "accuracy"), ("raw (baseline)", "baseline")):
        lines.append(
            f"{name:<18}{protocol:<10}{row[key]:.1f} ± {row[key + '_std']:.1f} %"
        )
    lines.append(f"{'chance':<28}{row['chance']:.1f} %")
    if any(key.startswith("diff_") for key in row):
        from pyunlocbox_gae.experiments.controls import format_controls

        lines += ["", format_controls(row)]
    return "\n".join(lines)


def load_run(path):
    r"""A ``gae run`` file: ``("chain", config, output)`` or ``("pipeline", path)``.

    A flat file (keys of :data:`~.settings.DEFAULTS` and ``output``) runs
    through :func:`run`; a file of stage tables (``[cqt]``,
    ``[autoencoder]``...) over an audio folder runs through the audio
    pipeline (:func:`~.pipeline.run`). Relative paths are relative to the
    file's folder.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "run.toml"
    >>> _ = path.write_text('dataset = "digits"\noutput = "out"\nk = 5\n')
    >>> kind, config, output = load_run(path)
    >>> kind, config, output == path.parent / "out"
    ('chain', {'dataset': 'digits', 'k': 5}, True)
    """
    path = Path(path)
    raw = read_toml(path)
    if not is_flat(raw):
        data = str(raw.get("data", ""))
        if sources.kind_of_path(data) == "features":
            raise InputError(
                f"{path}: a feature file runs from a flat config: write "
                f'dataset = "{data}" and the keys of `gae sweep --set` at the top '
                "level, without tables"
            )
        return "pipeline", path
    config = dict(raw)
    output = config.pop("output", None)
    if not output:
        raise InputError(f"{path} needs output = ... (the results folder)")
    for key in ("dataset", "labels"):
        value = config.get(key)
        if value not in (None, "digits") and not Path(value).is_absolute():
            config[key] = str(path.parent / value)
    return "chain", config, path.parent / output
