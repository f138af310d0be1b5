r"""Experiments: the study's noise-robustness demo, sweeps and weight balancing.

Every experiment point goes through cached stages (data → graph → codes →
classification, :mod:`.stages`) configured by one flat dict
(:mod:`.settings`).

* :func:`demo`: the table of ``gae demo`` (raw / lg=0 / graph × noise).
* :func:`sweep`, :func:`sweep_from`, :func:`run_point`: vary one parameter;
  results as JSON and CSV with the full configuration.
* :func:`balance_weights`: weights that balance the objective's terms.
* :func:`load_source`, :func:`read_features`, :class:`Data`: any data
  source (digits, a feature file, an audio folder; :mod:`.sources`).
* :mod:`.inductive`: a model learned in each split (``mode``), on the
  noisy or on the clean training clips, test clips coded as new samples.
* :mod:`.stability`: the run-to-run spread of a point without a fixed seed
  (``stability_runs``).
"""

from pyunlocbox_gae.experiments.balance import balance_weights
from pyunlocbox_gae.experiments.demo import demo, format_table
from pyunlocbox_gae.experiments.settings import DEFAULTS, make_config
from pyunlocbox_gae.experiments.sources import Data, load_source, read_features
from pyunlocbox_gae.experiments.stages import Cache, load_data
from pyunlocbox_gae.experiments.sweep import (
    load_results,
    run_point,
    sweep,
    sweep_from,
)

__all__ = [
    "DEFAULTS",
    "Cache",
    "Data",
    "balance_weights",
    "demo",
    "format_table",
    "load_data",
    "load_results",
    "load_source",
    "make_config",
    "read_features",
    "run_point",
    "sweep",
    "sweep_from",
]
