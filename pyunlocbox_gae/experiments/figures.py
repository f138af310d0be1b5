"""
Figures of ``gae run``: accuracy bars, the graph codes against the controls, spread.

.. autosummary::
    plot_results
    plot_controls
    plot_stability
    plot_test_codings

Like :mod:`pyunlocbox_gae.experiments.plotting`, every function takes
``ax=``, returns the figure and never sets a backend.
"""

import numpy as np

from pyunlocbox_gae.experiments.plotting import _axis, _figure, _finish


def plot_results(results, path=None, chance=None, title="accuracy", ax=None):
    """Bars of accuracy ± std, one per result of an audio pipeline run.

    `results` is the list of ``{features, protocol, mean, std}`` (fractions)
    of :func:`pyunlocbox_gae.experiments.pipeline.run`; `chance` a fraction.
    Returns the figure (written to `path` when given).
    """
    fig, ax, own = _figure(ax, (max(4, 1.2 * len(results)), 4))
    names = [f"{r['features']}\n{r['protocol']}" for r in results]
    x = np.arange(len(results))
    ax.bar(
        x,
        [100 * r["mean"] for r in results],
        yerr=[100 * r["std"] for r in results],
        capsize=4,
        color="tab:blue",
    )
    if chance is not None:
        ax.axhline(100 * chance, color="grey", linestyle=":", label="chance")
        ax.legend()
    ax.set_xticks(x, names)
    ax.set_ylabel("accuracy (%)")
    ax.set_title(title)
    ax.grid(alpha=0.3, axis="y")
    return _finish(fig, path, own)


def plot_controls(payload, path=None, ax=None):
    """Graph codes − each control, paired over the splits, against the value.

    One line per control (``diff_<c>`` ± ``diff_<c>_std`` of the rows of a
    sweep or run payload); the zero line is "the graph's structure adds
    nothing over this control". Returns the figure (written to `path` when
    given), or None when no row has controls.
    """
    rows, param = payload["rows"], payload.get("param", "")
    names = [
        c for c in ("random", "ridge", "tuned") if any(f"diff_{c}" in r for r in rows)
    ]
    if not names:
        return None
    fig, ax, own = _figure(ax, (6, 4))
    values = [r["value"] for r in rows]
    x = _axis(ax, values, param)
    labels = dict(
        random="− random graph", ridge="− L = I (ridge)", tuned="− lg=0, ls tuned"
    )
    for c in names:
        ax.errorbar(
            x,
            [r.get(f"diff_{c}", np.nan) for r in rows],
            yerr=[r.get(f"diff_{c}_std", np.nan) for r in rows],
            marker="o",
            capsize=3,
            label=f"graph codes {labels[c]}",
        )
    ax.axhline(0, color="grey", linestyle=":")
    ax.set_ylabel("paired difference (points)")
    ax.grid(alpha=0.3)
    ax.legend()
    return _finish(fig, path, own)


def plot_stability(payload, path=None, ax=None):
    """Run-to-run spread of the accuracy, factor by factor, against the value.

    For each factor of :mod:`.stability` (``stability_<f>_std`` of the rows
    of a sweep or run payload): the std of the accuracy over runs that draw
    that factor's seeds afresh, beside the std over the folds of one run
    (``accuracy_std``). A difference between two values smaller than the
    ``all`` line is within what changes from run to run. Returns the figure
    (written to `path` when given), or None when no row has stability runs.

    Examples
    --------
    >>> payload = dict(param="lg", rows=[
    ...     dict(value=0, accuracy_std=1.0, stability_all_std=0.4),
    ...     dict(value=10, accuracy_std=1.2, stability_all_std=0.6)])
    >>> len(plot_stability(payload).axes[0].lines) >= 2
    True
    """
    from pyunlocbox_gae.experiments.stability import FACTORS

    rows, param = payload["rows"], payload.get("param", "")
    names = [f for f in FACTORS if any(f"stability_{f}_std" in r for r in rows)]
    if not names:
        return None
    fig, ax, own = _figure(ax, (6, 4))
    x = _axis(ax, [r["value"] for r in rows], param)
    labels = dict(
        noise="noise draw", init="dictionary start", folds="folds", all="all three"
    )
    for f in names:
        ax.plot(
            x,
            [r.get(f"stability_{f}_std", np.nan) for r in rows],
            marker="o",
            linewidth=2.5 if f == "all" else 1.5,
            label=f"runs, new seed: {labels[f]}",
        )
    ax.plot(
        x,
        [r.get("accuracy_std", np.nan) for r in rows],
        color="grey",
        linestyle=":",
        marker="s",
        label="folds of one run",
    )
    ax.set_ylabel("std of the accuracy (points)")
    ax.set_ylim(bottom=0)
    ax.grid(alpha=0.3)
    ax.legend(fontsize="small")
    return _finish(fig, path, own)


# The ways the per-split modes code test clips (see inductive), as labelled.
TEST_CODINGS = dict(
    out_of_sample="test codes out of sample (graph)",
    encoder="test codes by the encoder",
    sparse_code="test codes without graph",
)


def plot_test_codings(payload, path=None, ax=None):
    """Accuracy of each way of coding the test clips, against the value.

    For the rows of a sweep or run payload: the reported accuracy (every
    mode, the transductive codes included), each test coding the per-split
    modes scored (``accuracy_<c>``, :mod:`.inductive`) and the raw
    baseline, mean ± std over the folds, as markers side by side. Returns
    the figure (written to `path` when given), or None when no row has a
    per-split test coding.

    Examples
    --------
    >>> payload = dict(param="mode", rows=[
    ...     dict(value="transductive", accuracy=95.5, accuracy_std=0.8),
    ...     dict(value="clean_train", accuracy=96.9, accuracy_std=0.8,
    ...          accuracy_sparse_code=87.8, accuracy_sparse_code_std=1.6)])
    >>> len(plot_test_codings(payload).axes[0].containers)
    2
    """
    rows, param = payload["rows"], payload.get("param", "")
    codings = [c for c in TEST_CODINGS if any(f"accuracy_{c}" in r for r in rows)]
    if not codings:
        return None
    fig, ax, own = _figure(ax, (max(6, 1.5 * len(rows)), 4))
    x = np.arange(len(rows), dtype=float)
    series = [("accuracy", "codes (reported)")]
    series += [(f"accuracy_{c}", TEST_CODINGS[c]) for c in codings]
    if any("baseline" in r for r in rows):
        series.append(("baseline", "raw features"))
    width = 0.8 / len(series)
    for i, (key, label) in enumerate(series):
        ax.errorbar(
            x + (i - (len(series) - 1) / 2) * width,
            [r.get(key, np.nan) for r in rows],
            yerr=[r.get(f"{key}_std", np.nan) for r in rows],
            marker="os^vD"[i % 5],
            linestyle="none",
            capsize=3,
            label=label,
        )
    ax.set_xticks(x, [str(r["value"]) for r in rows])
    ax.set_xlabel(param)
    ax.set_ylabel("accuracy (%)")
    ax.grid(alpha=0.3, axis="y")
    ax.legend(fontsize="small")
    return _finish(fig, path, own)
