r"""Figures of experiments and sweeps (matplotlib).

Every function draws into the axes it is given (``ax=``) or into a new
figure, and returns the figure; with `path` it also writes a PNG file
atomically and closes a figure it made itself, so that long sweeps do not
accumulate open figures. Importing this module does not choose a
matplotlib backend: a script that must not open windows selects ``Agg``
itself, as the ``gae`` command does.

Accuracy axes are zoomed on the data (chance level is written in a corner,
and drawn only when it falls in that range), and
:func:`plot_differences` shows the paired differences per fold (codes with
a graph minus codes without one, or minus a control), which is where a few
points of gain are seen.

.. autosummary::
    plot_accuracy
    plot_differences
    plot_objectives
    plot_series
    plot_atoms
    plot_demo
    plot_sweep
"""

import math
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np

from pyunlocbox_gae import store
from pyunlocbox_gae.model.objective import TERMS

# The weighted terms of the objective, as ``history_`` and sweeps name them
# (pyunlocbox_gae.model.objective.TERMS, without the switches).
_WEIGHTED_TERMS = tuple(t.name for t in TERMS if not t.switch)


def _figure(ax, figsize):
    """(figure, axes, made here) for a function that takes ``ax=``."""
    if ax is not None:
        return ax.figure, ax, False
    fig, ax = plt.subplots(figsize=figsize, layout="constrained")
    return fig, ax, True


def _finish(fig, path, own):
    """Write `fig` to `path` (if given), close it if we made it; return it."""
    if path is not None:
        with store.atomic_path(Path(path)) as tmp:
            fig.savefig(tmp, format="png", dpi=100, bbox_inches="tight")
        if own:
            plt.close(fig)
    return fig


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


def _zoom_accuracy(ax, lows, highs, chance):
    """Y limits around the data (not down to chance); chance as a note."""
    lows = np.asarray(lows, dtype=float)
    highs = np.asarray(highs, dtype=float)
    low, high = np.nanmin(lows), np.nanmax(highs)
    pad = max(0.15 * (high - low), 0.5)
    bottom, top = float(max(low - pad, 0.0)), float(min(high + pad, 100.0))
    ax.set_ylim(bottom, top)
    if chance is not None:
        if bottom <= chance <= top:
            ax.axhline(chance, color="grey", linestyle=":", label="chance")
        ax.text(
            0.99,
            0.02,
            f"chance: {chance:.1f} %",
            transform=ax.transAxes,
            ha="right",
            va="bottom",
            fontsize="small",
            color="dimgrey",
        )
    ax.set_ylabel("accuracy (%)")


def plot_accuracy(
    values, accuracy, std, path=None, baseline=None, chance=None, xlabel="", ax=None
):
    """Accuracy with error bars against a parameter, beside the baseline.

    The y axis is zoomed on the data; chance level is written in a corner.

    Parameters
    ----------
    values : sequence
        The parameter's values (x axis).
    accuracy, std : sequence of float
        Mean and std of the accuracy (%).
    path : str or Path, optional
        PNG file to write.
    baseline : tuple (mean, std) of sequences, optional
    chance : float, optional
        Accuracy of always answering the largest class (%).
    xlabel : str
    ax : matplotlib.axes.Axes, optional
        Where to draw; a new figure if None.

    Returns
    -------
    matplotlib.figure.Figure

    Examples
    --------
    >>> fig = plot_accuracy([0, 10, 100], [90, 95, 96], [1, 1, 0.5],
    ...                     baseline=([89] * 3, [1] * 3), chance=10)
    >>> bool(fig.axes[0].get_ylim()[0] > 80)  # zoomed on the data, not chance
    True
    """
    fig, ax, own = _figure(ax, (6, 4))
    x = _axis(ax, values, xlabel)
    accuracy, std = np.asarray(accuracy, float), np.asarray(std, float)
    ax.errorbar(x, accuracy, yerr=std, marker="o", capsize=3, label="codes")
    lows, highs = [accuracy - std], [accuracy + std]
    if baseline is not None:
        mean, spread = (np.asarray(b, float) for b in baseline)
        ax.errorbar(x, mean, yerr=spread, marker="s", capsize=3, label="baseline")
        lows.append(mean - spread)
        highs.append(mean + spread)
    _zoom_accuracy(ax, np.concatenate(lows), np.concatenate(highs), chance)
    ax.grid(alpha=0.3)
    ax.legend()
    return _finish(fig, path, own)


def plot_objectives(values, terms, path=None, xlabel="", ax=None):
    """Objective terms against a parameter, weighted and unweighted, log scale.

    Parameters
    ----------
    values : sequence
    terms : dict
        Name → sequence of values (e.g. ``data``, ``data_unweighted``);
        non-positive values are left out of the log plot.
    path : str or Path, optional
    xlabel : str
    ax : pair of matplotlib.axes.Axes, optional
        Weighted, then unweighted terms; a new figure if None.

    Returns
    -------
    matplotlib.figure.Figure
    """
    if ax is None:
        fig, axes = plt.subplots(1, 2, figsize=(11, 4), layout="constrained")
        own = True
    else:
        axes, fig, own = ax, ax[0].figure, False
    for axis, weighted in zip(axes, (True, False), strict=True):
        x = _axis(axis, values, xlabel)
        for name, series in terms.items():
            if name.endswith("_unweighted") == weighted:
                continue
            y = np.asarray(series, dtype=float)
            y = np.where(y > 0, y, np.nan)
            if np.isfinite(y).any():
                axis.plot(x, y, marker="o", label=name.replace("_unweighted", ""))
        axis.set_yscale("log")
        axis.set_title("weighted terms" if weighted else "unweighted terms (weight 1)")
        axis.grid(alpha=0.3)
        axis.legend()
    return _finish(fig, path, own)


def plot_series(values, series, path=None, ylabel="", xlabel="", logy=False, ax=None):
    """One or more quantities (sparsity, seconds, iterations) against a parameter.

    Parameters
    ----------
    values : sequence
    series : dict
        Label → sequence of values.
    path : str or Path, optional
    ylabel, xlabel : str
    logy : bool
    ax : matplotlib.axes.Axes, optional

    Returns
    -------
    matplotlib.figure.Figure
    """
    fig, ax, own = _figure(ax, (6, 4))
    x = _axis(ax, values, xlabel)
    for label, y in series.items():
        ax.plot(x, y, marker="o", label=label)
    if logy:
        ax.set_yscale("log")
    ax.set_ylabel(ylabel)
    ax.grid(alpha=0.3)
    if len(series) > 1:
        ax.legend()
    return _finish(fig, path, own)


def atoms_mosaic(atoms, shape=None, n_max=64):
    """Atoms tiled into one image, each scaled to [-1, 1], NaN between tiles.

    Parameters
    ----------
    atoms : ndarray of shape (n_atoms, n_features)
    shape : tuple (h, w), optional
        Image shape of an atom; a square when n_features is a square,
        otherwise one row of pixels per atom.
    n_max : int
        At most this many atoms (the first ones).

    Examples
    --------
    >>> atoms_mosaic(np.eye(16)).shape  # 16 atoms of 4x4 in a 4x4 grid
    (19, 19)
    """
    atoms = np.asarray(atoms, dtype=float)[:n_max]
    n, size = atoms.shape
    if shape is None:
        side = math.isqrt(size)
        shape = (side, side) if side * side == size else (1, size)
    h, w = shape
    if h == 1:  # not images: one atom per row, no gaps
        scale = np.abs(atoms).max(axis=1, keepdims=True)
        return atoms / np.where(scale > 0, scale, 1)
    cols = math.ceil(math.sqrt(n))
    rows = math.ceil(n / cols)
    image = np.full((rows * (h + 1) - 1, cols * (w + 1) - 1), np.nan)
    for i, atom in enumerate(atoms):
        r, c = divmod(i, cols)
        scale = np.abs(atom).max() or 1.0
        image[r * (h + 1) : r * (h + 1) + h, c * (w + 1) : c * (w + 1) + w] = (
            atom.reshape(shape) / scale
        )
    return image


def plot_atoms(atoms, path=None, shape=None, n_max=64, title=None, ax=None):
    """Atoms (rows of ``components_``) as a grid of images.

    Each atom is scaled to its own largest magnitude; red is positive, blue
    negative, white zero and the gaps between atoms.

    Parameters
    ----------
    atoms : ndarray of shape (n_atoms, n_features)
    path : str or Path, optional
    shape : tuple (h, w), optional
        Image shape of an atom; a square when n_features is a square,
        otherwise one row of pixels per atom.
    n_max : int
    title : str, optional
    ax : matplotlib.axes.Axes, optional

    Returns
    -------
    matplotlib.figure.Figure

    Examples
    --------
    >>> import tempfile, pathlib
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "atoms.png"
    >>> fig = plot_atoms(np.eye(16), path)
    >>> path.read_bytes()[1:4]
    b'PNG'
    """
    image = atoms_mosaic(atoms, shape, n_max)
    rows, cols = image.shape
    fig, ax, own = _figure(ax, (min(max(cols / 6, 3), 8), min(max(rows / 6, 3), 8)))
    cmap = plt.get_cmap("RdBu_r").with_extremes(bad="white")
    ax.imshow(image, cmap=cmap, vmin=-1, vmax=1, interpolation="nearest")
    ax.set_axis_off()
    if title:
        ax.set_title(title)
    return _finish(fig, path, own)


def _by_noise(payload, representation):
    """Rows of one representation, keyed by noise."""
    return {
        r["noise"]: r
        for r in payload.get("rows", [])
        if r.get("representation") == representation
    }


def paired_differences(payload):
    """Per-fold differences of the demo's representations, as plotted.

    Each representation with a graph (``lg > 0``) is compared with the codes
    without graph (or, if absent, the raw features) and with every control
    (a representation whose rows say ``control``): fold by fold, since all
    are scored on the same folds.

    Returns
    -------
    dict
        ``"A − B"`` → (noises, list of per-fold differences per noise), in
        percentage points.

    Examples
    --------
    >>> rows = [dict(representation="raw", noise=0.0, scores=[90, 92]),
    ...         dict(representation="codes, lg=10", noise=0.0, lg=10,
    ...              scores=[95, 96])]
    >>> paired_differences(dict(representations=["raw", "codes, lg=10"],
    ...                         rows=rows))
    {'codes, lg=10 − raw': ([0.0], [[5.0, 4.0]])}
    """
    reps = payload["representations"]
    rows = {rep: _by_noise(payload, rep) for rep in reps}

    def is_graph(rep):
        return any((r.get("lg") or 0) > 0 for r in rows[rep].values())

    def is_control(rep):
        return "control" in rep or any(r.get("control") for r in rows[rep].values())

    graphs = [rep for rep in reps if is_graph(rep) and not is_control(rep)]
    plain = [rep for rep in reps if not is_graph(rep) and not is_control(rep)]
    references = [rep for rep in plain if rep != "raw"] or plain[:1]
    references += [rep for rep in reps if is_control(rep)]
    out = {}
    for g in graphs:
        for ref in references:
            noises, diffs = [], []
            for noise, row in sorted(rows[g].items()):
                other = rows[ref].get(noise)
                if other is None or not row.get("scores") or not other.get("scores"):
                    continue
                a, b = np.asarray(row["scores"]), np.asarray(other["scores"])
                if a.shape != b.shape:
                    continue
                noises.append(noise)
                diffs.append([float(d) for d in a - b])
            if noises:
                out[f"{g} − {ref}"] = (noises, diffs)
    return out


def plot_differences(payload, path=None, ax=None):
    """Paired accuracy differences against noise: mean ± std over folds.

    One line per comparison of :func:`paired_differences`; the dots are the
    folds. Above zero, the graph helps.

    Parameters
    ----------
    payload : dict
        What :func:`pyunlocbox_gae.experiments.demo` returns (or its
        ``results.json``).
    path : str or Path, optional
    ax : matplotlib.axes.Axes, optional

    Returns
    -------
    matplotlib.figure.Figure
    """
    fig, ax, own = _figure(ax, (6, 4))
    comparisons = paired_differences(payload)
    steps = np.diff(sorted(set(payload.get("noises", []))))
    width = 0.08 * (steps.min() if len(steps) else 1.0)
    reps = list(payload.get("representations", []))
    references = []
    for i, (label, (noises, diffs)) in enumerate(comparisons.items()):
        shift = (i - (len(comparisons) - 1) / 2) * width
        x = np.asarray(noises) + shift
        mean = [np.mean(d) for d in diffs]
        spread = [np.std(d) for d in diffs]
        # The colour of the graph's line in plot_demo, a line style per reference.
        graph, reference = label.split(" − ", 1)
        if reference not in references:
            references.append(reference)
        style = ("-", "--", ":", "-.")[references.index(reference) % 4]
        color = f"C{reps.index(graph)}" if graph in reps else None
        (line, *_) = ax.errorbar(
            x, mean, yerr=spread, marker="o", capsize=3, color=color, linestyle=style
        )
        line.set_label(label)
        for xi, d in zip(x, diffs, strict=True):
            ax.plot(np.full(len(d), xi), d, ".", color=line.get_color(), alpha=0.3)
    ax.axhline(0, color="black", linewidth=0.8)
    ax.set_xlabel("noise std")
    ax.set_ylabel("paired difference (points)")
    ax.set_title("difference per fold, mean ± std")
    ax.grid(alpha=0.3)
    if comparisons:
        ax.legend(fontsize="small")
    else:
        ax.text(0.5, 0.5, "no per-fold scores", ha="center", transform=ax.transAxes)
    return _finish(fig, path, own)


def plot_demo(payload, path=None, title="digits: linear SVM, stratified CV", ax=None):
    """The demo's accuracies against noise and their paired differences.

    Parameters
    ----------
    payload : dict
        What :func:`pyunlocbox_gae.experiments.demo` returns.
    path : str or Path, optional
    title : str
    ax : matplotlib.axes.Axes, optional
        Draw only the accuracies there; without it, a figure of two panels
        (accuracies, and :func:`plot_differences`).

    Returns
    -------
    matplotlib.figure.Figure
    """
    if ax is None:
        fig, (ax, right) = plt.subplots(1, 2, figsize=(11, 4), layout="constrained")
        own = True
    else:
        fig, right, own = ax.figure, None, False
    noises = np.asarray(payload["noises"], dtype=float)
    lows, highs = [], []
    for rep in payload["representations"]:
        cells = np.asarray(payload["table"][rep], dtype=float)
        ax.errorbar(
            noises, cells[:, 0], yerr=cells[:, 1], marker="o", capsize=3, label=rep
        )
        lows.append(cells[:, 0] - cells[:, 1])
        highs.append(cells[:, 0] + cells[:, 1])
    _zoom_accuracy(ax, np.concatenate(lows), np.concatenate(highs), payload["chance"])
    ax.set_xlabel("noise std")
    ax.set_title(title)
    ax.grid(alpha=0.3)
    ax.legend(fontsize="small")
    if right is not None:
        plot_differences(payload, ax=right)
    return _finish(fig, path, own)


def plot_sweep(payload, folder, cache=None):
    """Every figure of a sweep into `folder`; returns the paths written.

    ``accuracy.png``, ``objectives.png``, ``sparsity.png``, ``time.png``,
    ``iterations.png``, ``stability.png`` when the rows hold stability runs
    (:func:`~.figures.plot_stability`), ``test-codings.png`` when they hold
    per-split test codings (:func:`~.figures.plot_test_codings`) and, when
    the stage cache holds them, ``atoms-<i>.png`` for each value.
    """
    folder = Path(folder)
    rows, param = payload["rows"], payload["param"]
    values = [r["value"] for r in rows]
    col = lambda name: [r.get(name, np.nan) for r in rows]  # noqa: E731
    paths = [folder / n for n in ("accuracy.png", "objectives.png", "sparsity.png")]
    chance = rows[0]["chance"]
    base = (col("baseline"), col("baseline_std"))
    acc, std = col("accuracy"), col("accuracy_std")
    plot_accuracy(values, acc, std, paths[0], base, chance, xlabel=param)
    terms = {}
    for n in _WEIGHTED_TERMS:
        terms[n] = col(n)
        terms[f"{n}_unweighted"] = col(f"{n}_unweighted")
    plot_objectives(values, terms, paths[1], param)
    nnz = {"non-zero codes (%)": [100 * v for v in col("nnz")]}
    plot_series(values, nnz, paths[2], "non-zero codes (%)", param)
    seconds = {
        s: col(f"seconds_{s}")
        for s in ("graph", "codes", "classify")
        if any(f"seconds_{s}" in r for r in rows)
    }
    paths.append(folder / "time.png")
    plot_series(values, seconds, paths[-1], "seconds", param)
    paths.append(folder / "iterations.png")
    iterations = {"outer": col("n_outer"), "inner (codes)": col("z_iter")}
    plot_series(values, iterations, paths[-1], "iterations", param, logy=True)
    from pyunlocbox_gae.experiments.figures import plot_stability, plot_test_codings

    if plot_stability(payload, folder / "stability.png") is not None:
        paths.append(folder / "stability.png")
    if plot_test_codings(payload, folder / "test-codings.png") is not None:
        paths.append(folder / "test-codings.png")
    if cache is not None:
        for i, row in enumerate(rows):
            path = cache.path("codes", row.get("codes_key", ""))
            if path is not None and path.exists():
                with store.open_h5(path, "experiment-codes") as f:
                    atoms = f["components"][...]
                paths.append(folder / f"atoms-{i}.png")
                plot_atoms(atoms, paths[-1], title=f"{param} = {row['value']}")
    return paths
