r"""The demo's noise-robustness table on a GTZAN-layout folder (``gae demo --gtzan``).

The same experiment as :func:`~.demo.demo` (raw features / codes lg = 0 /
codes with the graph, at each noise level), run through the audio pipeline
(:func:`pyunlocbox_gae.experiments.pipeline.run`): CQT frames, clip vectors, linear SVM
with cross-validation grouped by clip. The pipeline's own stage files live
in ``OUTPUT/pipeline`` (the CQT frames are computed once for all cells).

.. autosummary::
    demo_gtzan
"""

import copy
import time
from pathlib import Path

from pyunlocbox_gae import store
from pyunlocbox_gae.errors import InputError, MissingFileError
from pyunlocbox_gae.experiments.demo import DEMO_KIND, NOISES, _label
from pyunlocbox_gae.experiments.settings import read_toml

# --quick: a few clips of three genres, short clips, a small dictionary.
QUICK_GTZAN = dict(
    dataset=dict(genres=3, clips_per_genre=10, short_clips="pad"),
    cqt=dict(frames_per_clip=40),
    autoencoder=dict(n_atoms=32, max_outer=5, max_inner=100, rtol=1e-4),
    classification=dict(protocols=["grouped"], n_splits=5, n_repeats=2),
)


def _merge(base, update):
    out = copy.deepcopy(base)
    for key, value in (update or {}).items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = _merge(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out


def _pick(report, prefix):
    """Accuracy (%) mean and std of the grouped-CV result named `prefix`."""
    for r in report["results"]:
        if r["features"].startswith(prefix) and r["protocol"] == "grouped":
            return [100 * r["mean"], 100 * r["std"]]
    raise InputError(
        f"the pipeline gave no grouped result for {prefix!r}: keep 'grouped' "
        "in classification.protocols"
    )


def demo_gtzan(
    data,
    output,
    quick=False,
    noises=NOISES,
    lgs=(100.0,),  # one graph row: each cell is a full pipeline run
    config=None,
    progress=True,
    log=print,
):
    """Run the noise-robustness table on audio; write results.json/csv and a plot.

    Parameters
    ----------
    data : str or Path
        GTZAN-layout folder (one sub-folder per genre).
    output : str or Path
        Folder of ``results.json``, ``results.csv``, ``demo.png`` and the
        pipeline's files (``pipeline/``).
    quick : bool
        Reduced size (:data:`QUICK_GTZAN`).
    noises, lgs
        As :func:`~.demo.demo`.
    config : dict or str or Path, optional
        Pipeline configuration tables (:mod:`pyunlocbox_gae.experiments.config`), e.g.
        ``{"cqt": {"frames_per_clip": 149}}``, or a TOML file of them; the
        study's values otherwise. Its ``data`` and ``output`` are replaced.

    Returns
    -------
    dict
        Same layout as :func:`~.demo.demo` (``table``, ``representations``,
        ``noises``, ``chance``, ``rows``) plus ``reports`` (one pipeline report
        per cell).
    """
    from pyunlocbox_gae.experiments import pipeline

    data = Path(data)
    if not data.is_dir():
        raise MissingFileError(
            f"{data} is not a folder: --gtzan expects a GTZAN-layout folder "
            "(one sub-folder of audio files per genre)"
        )
    if config is not None and not isinstance(config, dict):
        config = read_toml(config)
    t0 = time.perf_counter()
    folder = Path(output)
    store.make_folder(folder)
    base = _merge(QUICK_GTZAN if quick else {}, config)
    base = _merge(base, dict(data=str(data), output=str(folder / "pipeline")))
    lgs = [0.0] + [float(lg) for lg in lgs if lg]
    reps = ["raw"] + [_label(lg) for lg in lgs]
    table = {rep: [] for rep in reps}
    rows, reports = [], []
    for noise in noises:
        for lg in lgs:
            log(f"gae demo --gtzan: noise {noise:g}, lg {lg:g}")
            cfg = _merge(
                base,
                dict(
                    input=dict(noise=float(noise)),
                    autoencoder=dict(lg=lg),
                    classification=dict(baseline=not lg),
                ),
            )
            report = pipeline.run(
                cfg, progress=progress, log=lambda *_: None, plots=False
            )
            reports.append(report)
            if not lg:
                mean, std = _pick(report, "cqt")
                table["raw"].append([mean, std])
                rows.append(
                    dict(
                        representation="raw",
                        noise=noise,
                        accuracy=mean,
                        accuracy_std=std,
                    )
                )
            mean, std = _pick(report, "codes")
            table[_label(lg)].append([mean, std])
            rows.append(
                dict(
                    representation=_label(lg),
                    noise=noise,
                    lg=lg,
                    accuracy=mean,
                    accuracy_std=std,
                    nnz=report["nnz"],
                    **{f"seconds_{k}": v for k, v in report["timing"].items()},
                )
            )
    payload = dict(
        kind=DEMO_KIND,
        dataset="gtzan",
        data=str(data),
        config=base,
        noises=[float(n) for n in noises],
        representations=reps,
        table=table,
        chance=100 * reports[0]["chance"],
        genres=reports[0]["genres"],
        n_clips=reports[0]["n_clips"],
        rows=rows,
        seconds=time.perf_counter() - t0,
    )
    from pyunlocbox_gae.experiments import plotting
    from pyunlocbox_gae.experiments.sweep import write_results

    write_results(folder, payload)
    plotting.plot_demo(payload, folder / "demo.png", title="GTZAN-layout audio")
    return payload
