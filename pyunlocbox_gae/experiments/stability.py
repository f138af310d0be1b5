r"""Run-to-run spread of the accuracy, without a fixed seed.

The standard deviation over cross-validation folds says how much the
accuracy changes from one test fold to the next, for one noise draw, one
initial dictionary and one shuffle of the folds. A difference between two
settings is only meaningful if it is larger than what changes when those
seeds change. With ``stability_runs = N`` (> 0), a point is run N more
times for each factor of ``stability_factors``, each run with fresh seeds
drawn from the system's entropy (NumPy's ``SeedSequence``):

* ``"noise"``: the draw of the Gaussian noise (``noise_seed``; the graph
  and the codes are then learned again; no spread without noise);
* ``"init"``: the initial dictionary (``random_state``);
* ``"folds"``: the shuffle of the cross-validation folds (``cv_seed``);
* ``"all"``: the three together.

For each factor ``f`` the record gets the mean, std, min and max of the
runs' accuracies (``stability_<f>_mean`` ...), their list
(``stability_<f>_accuracy``) and the seeds drawn (``stability_<f>_seeds``),
plus the entropy the seeds were drawn from (``stability_entropy``, as
text), which reproduces them.

.. autosummary::
    FACTORS
    draw_seeds
    stability_record
"""

import numpy as np
from tqdm.auto import tqdm

from pyunlocbox_gae.experiments.settings import make_config

# The seeds each factor varies (configuration keys).
SEEDS = dict(
    noise=("noise_seed",),
    init=("random_state",),
    folds=("cv_seed",),
    all=("noise_seed", "random_state", "cv_seed"),
)
FACTORS = tuple(SEEDS)


def draw_seeds(sequence, factor):
    """Fresh seeds for the keys `factor` varies, from a SeedSequence.

    Examples
    --------
    >>> seq = np.random.SeedSequence(1)
    >>> sorted(draw_seeds(seq, "all"))
    ['cv_seed', 'noise_seed', 'random_state']
    >>> a, b = draw_seeds(seq, "init"), draw_seeds(seq, "init")
    >>> a != b  # each call spawns a new child sequence
    True
    """
    keys = SEEDS[factor]
    (child,) = sequence.spawn(1)
    # 31-bit seeds: valid for every seed the chain takes (NumPy, liblinear).
    state = child.generate_state(len(keys)) >> np.uint32(1)
    return {key: int(value) for key, value in zip(keys, state, strict=True)}


def stability_record(config, cache=None, data=None, progress=False, entropy=None):
    """The run-to-run spread of a point's accuracy, factor by factor.

    Parameters
    ----------
    config : dict
        A full configuration; ``stability_runs`` runs per factor of
        ``stability_factors`` (:data:`FACTORS`).
    cache : Cache, optional
        Stage outputs, shared with the point (a run that varies only the
        folds reuses the graph and the codes).
    data : Data or tuple (X, y), optional
        The raw rows, loaded once (:func:`~.sweep.run_point`).
    progress : bool
    entropy : int, optional
        Entropy of the seeds; None (default) draws it from the system, so
        that no seed is fixed in advance. The record keeps it.

    Returns
    -------
    dict
        Flat entries, see the module's description.

    Examples
    --------
    >>> cfg = make_config(n_samples=60, n_atoms=8, max_outer=2, n_repeats=1,
    ...                   n_splits=3, noise=0.1, stability_runs=2,
    ...                   stability_factors=["folds"])
    >>> out = stability_record(cfg)
    >>> len(out["stability_folds_accuracy"]), out["stability_folds_runs"]
    (2, 2)
    """
    from pyunlocbox_gae.experiments.sweep import run_point

    sequence = np.random.SeedSequence(entropy)
    out = dict(stability_entropy=str(sequence.entropy))
    runs = config["stability_runs"]
    total = runs * len(config["stability_factors"])
    with tqdm(
        total=total, desc="stability", disable=not progress, leave=False, unit="run"
    ) as bar:
        for factor in config["stability_factors"]:
            accuracy, seeds = [], []
            for _ in range(runs):
                drawn = draw_seeds(sequence, factor)
                point = make_config(config, stability_runs=0, **drawn)
                record, _ = run_point(point, cache, data)
                accuracy.append(float(record["accuracy"]))
                seeds.append(drawn)
                bar.update()
            a = np.asarray(accuracy)
            out.update(
                {
                    f"stability_{factor}_mean": float(a.mean()),
                    f"stability_{factor}_std": float(a.std()),
                    f"stability_{factor}_min": float(a.min()),
                    f"stability_{factor}_max": float(a.max()),
                    f"stability_{factor}_runs": runs,
                    f"stability_{factor}_accuracy": accuracy,
                    f"stability_{factor}_seeds": seeds,
                }
            )
    return out
