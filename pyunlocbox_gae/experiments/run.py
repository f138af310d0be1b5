r"""``gae run`` on any source: one configuration through the whole chain.

data → scaling and noise → graph → codes → pooling → classifier → report,
for every source of :mod:`.sources` (digits, a feature file, an audio
folder). The configuration is the flat one of :mod:`.settings`, read from a
TOML file written flat or in tables (:mod:`.config`), plus ``output`` (the
results folder). The results are written beside each other:
``results.json`` (configuration and one record per protocol),
``results.csv`` and the figures of :mod:`.plotting`; the stages' outputs
are cached in ``output/cache`` so that a second run, or one that changes
only the classifier, reuses them.

.. autosummary::
    accuracy_lines
    load_run
    run
    summary
"""

import time
from pathlib import Path

from pyunlocbox_gae.errors import InputError

RUN_KIND = "pyunlocbox_gae/run"


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
        (one record per protocol, see :func:`~.sweep.run_point`),
        ``seconds``.

    Examples
    --------
    >>> import tempfile
    >>> out = run(dict(n_samples=60, n_atoms=8, max_outer=2, n_repeats=1,
    ...           n_splits=3), tempfile.mkdtemp(), progress=False, plots=False)
    >>> bool(out["rows"][0]["accuracy"] > out["rows"][0]["chance"])
    True
    """
    from pyunlocbox_gae import store
    from pyunlocbox_gae.experiments import stages
    from pyunlocbox_gae.experiments.settings import make_config
    from pyunlocbox_gae.experiments.sweep import run_point, write_results

    t0 = time.perf_counter()
    config = make_config(config)
    stages.check_estimators([config])
    folder = Path(output)
    store.make_folder(folder)
    store.check_writable(folder / "results.json")  # before any stage runs
    with store.folder_lock(folder):  # a second run on this folder is refused
        cache = stages.Cache(folder / "cache")
        protocols = config["protocol"]
        rows = []
        for protocol in protocols if isinstance(protocols, list) else [protocols]:
            point = make_config(config, protocol=protocol)
            record, _ = run_point(point, cache, progress=progress)
            rows.append(dict(param="protocol", value=protocol, **record))
        payload = dict(
            kind=RUN_KIND,
            param="protocol",
            config=config,
            rows=rows,
            seconds=time.perf_counter() - t0,
        )
        write_results(folder, payload)
    if plots:
        from pyunlocbox_gae.experiments import figures, plotting

        plotting.plot_sweep(payload, folder, cache=cache)
        figures.plot_controls(payload, folder / "controls.png")
    return payload


def accuracy_lines(entries, chance):
    r"""Lines of an accuracy table: ``(features, protocol, mean, std)`` in %.

    Examples
    --------
    >>> print("\n".join(accuracy_lines([("codes", "grouped", 90.0, 5.0)], 50.0)))
    features          protocol  accuracy
    codes             grouped   90.0 ± 5.0 %
    chance                      50.0 %
    """
    width = max([18] + [len(name) + 2 for name, *_ in entries])
    lines = [f"{'features':<{width}}{'protocol':<10}accuracy"]
    for name, protocol, mean, std in entries:
        lines.append(f"{name:<{width}}{protocol:<10}{mean:.1f} ± {std:.1f} %")
    lines.append(f"{'chance':<{width + 10}}{chance:.1f} %")
    return lines


def summary(payload):
    """The accuracy table of a run as text, one line per protocol and features.

    Examples
    --------
    >>> print(summary(dict(rows=[dict(accuracy=90.0, accuracy_std=5.0,
    ...     baseline=80.0, baseline_std=4.0, chance=50.0, protocol="grouped")])))
    features          protocol  accuracy
    codes             grouped   90.0 ± 5.0 %
    raw (baseline)    grouped   80.0 ± 4.0 %
    chance                      50.0 %
    """
    entries = []
    for row in payload["rows"]:
        protocol = row.get("protocol", "")
        for name, key in (("codes", "accuracy"), ("raw (baseline)", "baseline")):
            if key in row:
                mode = row.get("mode", "transductive")
                name += "" if mode == "transductive" else f" ({mode})"
                entries.append((name, protocol, row[key], row[key + "_std"]))
    lines = accuracy_lines(entries, payload["rows"][0]["chance"])
    for row in payload["rows"]:
        if any(key.startswith("diff_") for key in row):
            from pyunlocbox_gae.experiments.controls import format_controls

            lines.append("")
            if len(payload["rows"]) > 1:
                lines.append(f"controls, protocol {row.get('protocol', '')}:")
            lines.append(format_controls(row))
    return "\n".join(lines)


def load_run(path):
    r"""The configuration and output folder of a ``gae run`` file.

    The file is flat (``dataset = ...``, ``k = 5``) or in tables
    (``[graph] k = 5``, :mod:`.config`); it must name ``output``. Relative
    paths are relative to the file's folder. The configuration is checked
    whole before anything runs.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "run.toml"
    >>> _ = path.write_text('dataset = "digits"\noutput = "out"\nk = 5\n')
    >>> config, output = load_run(path)
    >>> config["k"], output == path.parent / "out"
    (5, True)
    """
    from pyunlocbox_gae.experiments.config import load_config

    config, output = load_config(path)
    if output is None:
        raise InputError(f"{path} needs output = ... (the results folder)")
    return config, output
