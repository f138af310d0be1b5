r"""Figures of experiments and sweeps (matplotlib, Agg backend, PNG files).

Every function draws on a new figure, saves it to `path` atomically and
closes it, so that long sweeps do not accumulate open figures; none needs a
display.

.. autosummary::
    plot_accuracy
    plot_objectives
    plot_series
    plot_atoms
    plot_demo
    plot_sweep
"""

import math
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # files only: no display needed, safe in tests and CI

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from pyunlocbox_gae import store  # noqa: E402


def _save(fig, path):
    path = Path(path)
    with store.atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=100, bbox_inches="tight")
    plt.close(fig)
    return path


def _axis(ax, values, xlabel):
    """Categorical x axis when values are not all numbers, log when they span."""
    numeric = all(
        isinstance(v, (int, float)) and not isinstance(v, bool) for v in values
    )
    if not numeric:
        x = np.arange(len(values))
        ax.set_xticks(x, [str(v) for v in values])
    else:
        x = np.asarray(values, dtype=float)
        positive = x[x > 0]
        if len(positive) and positive.max() / positive.min() >= 100:
            if len(positive) == len(x):
                ax.set_xscale("log")
            elif (x >= 0).all():  # a 0 among decades (lg = 0, 1, 10, ...)
                ax.set_xscale("symlog", linthresh=positive.min())
    ax.set_xlabel(xlabel)
    return x


def plot_accuracy(values, accuracy, std, path, baseline=None, chance=None, xlabel=""):
    """Accuracy with error bars against a parameter, beside baseline and chance.

    Parameters
    ----------
    values : sequence
        The parameter's values (x axis).
    accuracy, std : sequence of float
        Mean and std of the accuracy (%).
    path : str or Path
        PNG file to write.
    baseline : tuple (mean, std) of sequences, optional
    chance : float, optional
        Accuracy of always answering the largest class (%).

    Examples
    --------
    >>> import tempfile, pathlib
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "acc.png"
    >>> _ = plot_accuracy([0, 10, 100], [90, 95, 96], [1, 1, 0.5], path,
    ...                   baseline=([89] * 3, [1] * 3), chance=10)
    >>> path.read_bytes()[1:4]
    b'PNG'
    """
    fig, ax = plt.subplots(figsize=(6, 4))
    x = _axis(ax, values, xlabel)
    ax.errorbar(x, accuracy, yerr=std, marker="o", capsize=3, label="codes")
    if baseline is not None:
        ax.errorbar(
            x, baseline[0], yerr=baseline[1], marker="s", capsize=3, label="baseline"
        )
    if chance is not None:
        ax.axhline(chance, color="grey", linestyle=":", label="chance")
    ax.set_ylabel("accuracy (%)")
    ax.grid(alpha=0.3)
    ax.legend()
    return _save(fig, path)


def plot_objectives(values, terms, path, xlabel=""):
    """Objective terms against a parameter, weighted and unweighted, log scale.

    Parameters
    ----------
    terms : dict
        Name → sequence of values (e.g. ``data``, ``data_unweighted``);
        non-positive values are left out of the log plot.
    """
    fig, axes = plt.subplots(1, 2, figsize=(11, 4), sharex=True)
    for ax, weighted in zip(axes, (True, False), strict=True):
        x = _axis(ax, values, xlabel)
        for name, series in terms.items():
            if name.endswith("_unweighted") == weighted:
                continue
            y = np.asarray(series, dtype=float)
            y = np.where(y > 0, y, np.nan)
            if np.isfinite(y).any():
                ax.plot(x, y, marker="o", label=name.replace("_unweighted", ""))
        ax.set_yscale("log")
        ax.set_title("weighted terms" if weighted else "unweighted terms (weight 1)")
        ax.grid(alpha=0.3)
        ax.legend()
    return _save(fig, path)


def plot_series(values, series, path, ylabel, xlabel="", logy=False):
    """One or more quantities (sparsity, seconds, iterations) against a parameter.

    Parameters
    ----------
    series : dict
        Label → sequence of values.
    """
    fig, ax = plt.subplots(figsize=(6, 4))
    x = _axis(ax, values, xlabel)
    for label, y in series.items():
        ax.plot(x, y, marker="o", label=label)
    if logy:
        ax.set_yscale("log")
    ax.set_ylabel(ylabel)
    ax.grid(alpha=0.3)
    if len(series) > 1:
        ax.legend()
    return _save(fig, path)


def plot_atoms(atoms, path, shape=None, n_max=64, title=None):
    """Atoms (rows of ``components_``) as a grid of images.

    Parameters
    ----------
    atoms : ndarray of shape (n_atoms, n_features)
    shape : tuple (h, w), optional
        Image shape of an atom; a square when n_features is a square,
        otherwise one row of pixels per atom.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "atoms.png"
    >>> _ = plot_atoms(np.eye(16), path)
    >>> path.exists()
    True
    """
    atoms = np.asarray(atoms)[:n_max]
    n, size = atoms.shape
    if shape is None:
        side = math.isqrt(size)
        shape = (side, side) if side * side == size else (1, size)
    cols = math.ceil(math.sqrt(n))
    rows = math.ceil(n / cols)
    fig, axes = plt.subplots(
        rows, cols, figsize=(cols * 0.9, rows * 0.9), squeeze=False
    )
    for ax in axes.ravel():
        ax.axis("off")
    for ax, atom in zip(axes.ravel(), atoms, strict=False):
        lim = np.abs(atom).max() or 1.0
        ax.imshow(atom.reshape(shape), cmap="RdBu_r", vmin=-lim, vmax=lim)
    if title:
        fig.suptitle(title)
    return _save(fig, path)


def plot_demo(payload, path, title="digits: linear SVM, stratified CV"):
    """The demo's accuracies against noise, one line per representation."""
    fig, ax = plt.subplots(figsize=(6, 4))
    noises = payload["noises"]
    for rep in payload["representations"]:
        cells = np.asarray(payload["table"][rep])
        ax.errorbar(
            noises, cells[:, 0], yerr=cells[:, 1], marker="o", capsize=3, label=rep
        )
    ax.axhline(payload["chance"], color="grey", linestyle=":", label="chance")
    ax.set_xlabel("noise std")
    ax.set_ylabel("accuracy (%)")
    ax.set_title(title)
    ax.grid(alpha=0.3)
    ax.legend()
    return _save(fig, path)


def plot_sweep(payload, folder, cache=None):
    """Every figure of a sweep into `folder`; returns the paths written.

    ``accuracy.png``, ``objectives.png``, ``sparsity.png``, ``time.png``,
    ``iterations.png`` and, when the stage cache holds them, ``atoms-<i>.png``
    for each value.
    """
    folder = Path(folder)
    rows, param = payload["rows"], payload["param"]
    values = [r["value"] for r in rows]
    col = lambda name: [r.get(name, np.nan) for r in rows]  # noqa: E731
    paths = [
        plot_accuracy(
            values,
            col("accuracy"),
            col("accuracy_std"),
            folder / "accuracy.png",
            baseline=(col("baseline"), col("baseline_std")),
            chance=rows[0]["chance"],
            xlabel=param,
        )
    ]
    terms = {}
    for n in ("data", "sparsity", "graph", "encoder"):
        terms[n] = col(n)
        terms[f"{n}_unweighted"] = col(f"{n}_unweighted")
    paths.append(plot_objectives(values, terms, folder / "objectives.png", param))
    paths.append(
        plot_series(
            values,
            {"non-zero codes (%)": [100 * v for v in col("nnz")]},
            folder / "sparsity.png",
            "non-zero codes (%)",
            param,
        )
    )
    seconds = {
        s: col(f"seconds_{s}")
        for s in ("graph", "codes", "classify")
        if any(f"seconds_{s}" in r for r in rows)
    }
    paths.append(plot_series(values, seconds, folder / "time.png", "seconds", param))
    paths.append(
        plot_series(
            values,
            {"outer": col("n_outer"), "inner (codes)": col("z_iter")},
            folder / "iterations.png",
            "iterations",
            param,
            logy=True,
        )
    )
    if cache is not None:
        for i, row in enumerate(rows):
            path = cache.path("codes", row.get("codes_key", ""))
            if path is not None and path.exists():
                with store.open_h5(path, "experiment-codes") as f:
                    atoms = f["components"][...]
                paths.append(
                    plot_atoms(
                        atoms,
                        folder / f"atoms-{i}.png",
                        title=f"{param} = {row['value']}",
                    )
                )
    return paths


def plot_results(results, path, chance=None, title="accuracy"):
    """Bars of accuracy ± std, one per result of an audio pipeline run.

    `results` is the list of ``{features, protocol, mean, std}`` (fractions)
    of :func:`pyunlocbox_gae.experiments.pipeline.run`; `chance` a fraction.
    """
    fig, ax = plt.subplots(figsize=(max(4, 1.2 * len(results)), 4))
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
    return _save(fig, path)


def plot_controls(payload, path):
    """Graph codes − each control, paired over the splits, against the value.

    One line per control (``diff_<c>`` ± ``diff_<c>_std`` of the rows of a
    sweep or run payload); the zero line is "the graph's structure adds
    nothing over this control". Returns None when no row has controls.
    """
    rows, param = payload["rows"], payload.get("param", "")
    names = [
        c for c in ("random", "ridge", "tuned") if any(f"diff_{c}" in r for r in rows)
    ]
    if not names:
        return None
    fig, ax = plt.subplots(figsize=(6, 4))
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
    return _save(fig, path)
