r"""Controls beside the graph codes: does the graph's structure help?

A graph term can raise accuracy through its structure (which samples are
joined) or only through the regularisation it adds. Beside the codes of
the k-NN graph, :func:`control_records` scores, on the same splits:

* ``random``: the same objective with a random graph of the same degrees
  and weights (:func:`pyunlocbox_gae.graphs.controls.random_graph`);
* ``ridge``: the same objective with L = I, a ridge penalty
  (:func:`pyunlocbox_gae.graphs.controls.identity_graph`);
* ``tuned``: lg = 0 with the sparsity weight ``ls`` chosen among
  ``tune_ls`` on each split's training clips
  (:func:`.scoring.cross_validate_tuned`).

Each is reported as the paired split-by-split difference *graph codes −
control* (:func:`.scoring.paired`): its mean and std, and the splits the
graph codes won.

.. autosummary::
    control_records
"""

import numpy as np

from pyunlocbox_gae.experiments import scoring, stages
from pyunlocbox_gae.experiments.settings import make_config

CONTROLS = ("random", "ridge", "tuned")


def _graph_control(name, X, config, graph, graph_key, cache, x_key):
    from pyunlocbox_gae.graphs import controls

    if name == "random":
        G = controls.random_graph(graph, seed=config["random_state"] or 0)
    else:
        G = controls.identity_graph(X.shape[0], config["lap_type"], X.dtype)
    key = stages.key_of(name, graph_key, config["random_state"])
    return stages.codes_stage(X, config, G, key, cache, x_key=x_key)


def _tuned(X, data, config, cache, x_key):
    """Scores of lg = 0 codes with ls chosen on each split's training clips."""
    params = stages.group(config, "classifier")
    candidates = []
    for ls in config["tune_ls"]:
        Z, _ = stages.codes_stage(
            X, make_config(config, lg=0.0, ls=float(ls)), cache=cache, x_key=x_key
        )
        V, owner = scoring.pool(Z, data.clips, params["pooling"], params["n_vectors"])
        candidates.append(V)
    y_clip, groups = stages.clip_labels(data)
    scores, chosen = scoring.cross_validate_tuned(
        candidates, owner, y_clip, groups, **params
    )
    return scores, [float(config["tune_ls"][i]) for i in chosen]


def control_records(X, data, config, graph, graph_key, cache, x_key, scores):
    """The controls of ``config['controls']`` and their paired differences.

    Parameters
    ----------
    X : ndarray
        The prepared rows (scaled, noisy) the graph codes were learned from.
    data : Data
        Labels, clips and groups of the rows.
    config : dict
        With ``lg > 0``; ``controls`` names the controls to run.
    graph, graph_key
        The k-NN graph and its cache key.
    cache : Cache
    x_key : str
        Fingerprint of X.
    scores : list of float
        The graph codes' accuracy per split.

    Returns
    -------
    dict
        Flat entries for the record, for each control ``c``:
        ``control_<c>`` and ``control_<c>_std`` (accuracy, %),
        ``diff_<c>`` and ``diff_<c>_std`` (graph codes − control, points),
        ``won_<c>`` (splits where the graph codes scored higher),
        ``splits``; ``tuned_ls`` (the ls chosen per split) for ``tuned``.
    """
    out = {}
    for name in config["controls"]:
        if name == "tuned":
            other, out["tuned_ls"] = _tuned(X, data, config, cache, x_key)
        else:
            Z, info = _graph_control(name, X, config, graph, graph_key, cache, x_key)
            other = stages.classify_stage(Z, data, config, cache, info["key"])["scores"]
        diff = scoring.paired(scores, other)
        out.update(
            {
                f"control_{name}": float(np.mean(other)),
                f"control_{name}_std": float(np.std(other)),
                f"diff_{name}": diff["mean"],
                f"diff_{name}_std": diff["std"],
                f"won_{name}": diff["won"],
                "splits": diff["splits"],
            }
        )
    return out


def format_controls(row):
    """One line per control of a record: accuracy and paired difference.

    Examples
    --------
    >>> print(format_controls(dict(accuracy=90.0, accuracy_std=1.0,
    ...     control_random=85.0, control_random_std=2.0, diff_random=5.0,
    ...     diff_random_std=1.5, won_random=4, splits=5)))
    control               accuracy        graph − control   splits won
    random graph          85.0 ± 2.0      +5.0 ± 1.5        4/5
    """
    names = dict(random="random graph", ridge="L = I (ridge)", tuned="lg=0, ls tuned")
    lines = [f"{'control':<22}{'accuracy':<16}{'graph − control':<18}splits won"]
    for key, label in names.items():
        if f"diff_{key}" not in row:
            continue
        lines.append(
            f"{label:<22}"
            f"{row[f'control_{key}']:.1f} ± {row[f'control_{key}_std']:.1f}".ljust(38)
            + f"{row[f'diff_{key}']:+.1f} ± {row[f'diff_{key}_std']:.1f}".ljust(18)
            + f"{row[f'won_{key}']}/{row['splits']}"
        )
    return "\n".join(lines)
