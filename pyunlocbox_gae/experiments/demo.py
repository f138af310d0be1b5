r"""The study's noise-robustness table on scikit-learn's digits (``gae demo``).

Rows: the raw-feature baseline, codes without graph (lg = 0) and codes with
the k-NN graph (lg = 10 and 100 by default); columns: Gaussian noise of std 0, 0.1
and 0.2 added after min–max scaling, the graph built from the same noisy
data; cells: accuracy ± std of a linear SVM under stratified 5-fold × 3
cross-validation of transductive codes (docs/experiments.md).

.. autosummary::
    demo
    format_table
"""

import time
from pathlib import Path

from tqdm.auto import tqdm

from pyunlocbox_gae import store
from pyunlocbox_gae.experiments import sources, stages
from pyunlocbox_gae.experiments.settings import make_config
from pyunlocbox_gae.experiments.sweep import run_point, write_results

DEMO_KIND = "pyunlocbox_gae/demo"
NOISES = (0.0, 0.1, 0.2)
# --quick: a third of the samples, half the atoms, fewer iterations and
# one CV repeat, to see the whole pipeline run in seconds.
# The study's table: a linear SVM on the codes as they are (no scaler), and
# no controls (see controls; gae run and gae sweep report them).
STUDY = dict(scaler="none", controls=[])
QUICK = dict(n_samples=600, n_atoms=64, max_outer=6, n_repeats=1)


def _label(lg):
    return "codes, lg=0" if not lg else f"codes, lg={lg:g}"


def demo(
    output=None,
    quick=False,
    noises=NOISES,
    lgs=(10.0, 100.0),
    config=None,
    progress=True,
    plots=True,
):
    """Run the noise-robustness experiment; write its table, files and plot.

    Parameters
    ----------
    output : str or Path, optional
        Folder of ``results.json``, ``results.csv``, ``demo.png`` and the
        stage ``cache/`` (reused by a second run). Nothing written if None.
    quick : bool
        Reduced size (:data:`QUICK`).
    noises : sequence of float
        Noise stds (the table's columns).
    lgs : sequence of float
        Graph weights of the rows with a graph (lg = 0 is always a row).
    config : dict, optional
        Other parameters (:data:`~.settings.DEFAULTS`), e.g. ``k`` or ``ls``.
    progress : bool
        Show a progress bar.
    plots : bool
        Write ``demo.png``.

    Returns
    -------
    dict
        ``kind``, ``config``, ``classes``, ``n_clips`` (clips, or samples),
        ``noises``, ``representations`` (row names),
        ``table`` (``{row: [[mean, std] per noise]}``), ``rows`` (one flat
        record per cell, see :func:`~.sweep.run_point`) and ``seconds``.

    Examples
    --------
    >>> out = demo(config=dict(n_samples=100, n_atoms=8, max_outer=2,
    ...            n_repeats=1, n_splits=3), noises=(0, 0.2), lgs=(10,),
    ...            progress=False)
    >>> out["representations"]
    ['raw', 'codes, lg=0', 'codes, lg=10']
    >>> [len(cells) for cells in out["table"].values()]
    [2, 2, 2]
    """
    t0 = time.perf_counter()
    reduced = dict(QUICK if quick else {})
    if (config or {}).get("dataset", "digits") != "digits":
        reduced.pop("n_samples", None)  # a subset of digits' size: digits only
    base = make_config(STUDY, **reduced)
    base = make_config(base, **(config or {}))
    lgs = [0.0] + [float(lg) for lg in lgs if lg]
    reps = ["raw"] + [_label(lg) for lg in lgs]
    stages.check_estimators(make_config(base, lg=lg) for lg in lgs)
    folder = None if output is None else Path(output)
    if folder is not None:
        store.make_folder(folder)
    cache = stages.Cache(None if folder is None else folder / "cache")
    table = {rep: [] for rep in reps}
    rows = []
    bar = tqdm(
        total=len(noises) * len(lgs), desc="gae demo", disable=not progress, unit="fit"
    )
    data = sources.load_source(base, cache.folder)  # raw: noise per column
    for noise in noises:
        point = make_config(base, noise=float(noise))
        for lg in lgs:
            bar.set_postfix(noise=noise, lg=lg)
            record, _ = run_point(make_config(point, lg=lg), cache, data=data)
            if lg == lgs[0]:
                table["raw"].append([record["baseline"], record["baseline_std"]])
                rows.append(
                    dict(
                        representation="raw",
                        noise=noise,
                        accuracy=record["baseline"],
                        accuracy_std=record["baseline_std"],
                        chance=record["chance"],
                        scores=record["baseline_scores"],
                    )
                )
            table[_label(lg)].append([record["accuracy"], record["accuracy_std"]])
            rows.append(dict(representation=_label(lg), noise=noise, lg=lg, **record))
            bar.update()
    bar.close()
    payload = dict(
        kind=DEMO_KIND,
        config=base,
        classes=list(data.classes),
        n_clips=int(len(stages.clip_labels(data)[0])),
        noises=[float(n) for n in noises],
        representations=reps,
        table=table,
        chance=rows[0]["chance"],
        rows=rows,
        seconds=time.perf_counter() - t0,
    )
    if folder is not None:
        write_results(folder, payload)
        if plots:
            from pyunlocbox_gae.experiments import plotting

            name = Path(str(base["dataset"])).name
            plotting.plot_demo(
                payload, folder / "demo.png", f"{name}: linear SVM, stratified CV"
            )
    return payload


def format_table(payload):
    """The demo's table as Markdown (accuracy ± std in %).

    Examples
    --------
    >>> print(format_table(dict(noises=[0.0, 0.2], representations=["raw"],
    ...       table={"raw": [[96.51, 0.8], [90.6, 1.12]]})))
    | representation | noise 0 | noise 0.2 |
    |---|---|---|
    | raw | 96.5 ± 0.8 | 90.6 ± 1.1 |
    """
    head = "| representation | " + " | ".join(f"noise {n:g}" for n in payload["noises"])
    lines = [head + " |", "|---" * (len(payload["noises"]) + 1) + "|"]
    for rep in payload["representations"]:
        cells = " | ".join(f"{m:.1f} ± {s:.1f}" for m, s in payload["table"][rep])
        lines.append(f"| {rep} | {cells} |")
    return "\n".join(lines)
