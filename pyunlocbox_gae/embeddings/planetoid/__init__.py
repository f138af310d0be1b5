r"""Semi-supervised node classification on a given graph: Planetoid and baselines.

.. autosummary::
    PlanetoidT
    PlanetoidI
    PlanetoidData
    load_planetoid
    write_planetoid
    make_sbm_dataset
    compare

* :mod:`~pyunlocbox_gae.embeddings.planetoid.data`: the data container, a stochastic
  block model generator.
* :mod:`~pyunlocbox_gae.embeddings.planetoid.io`: the Planetoid file format, loaded
  through a restricted unpickler.
* :mod:`~pyunlocbox_gae.embeddings.planetoid.models`: Planetoid-T and Planetoid-I.
* :mod:`~pyunlocbox_gae.embeddings.planetoid.compare`: baselines and the comparison
  over seeds.
"""

from pyunlocbox_gae.embeddings.planetoid.data import (
    PlanetoidData,
    make_sbm_dataset,
    sbm_adjacency,
)
from pyunlocbox_gae.embeddings.planetoid.io import (
    UnsafePickleError,
    load_planetoid,
    safe_load_pickle,
    write_planetoid,
)
from pyunlocbox_gae.embeddings.planetoid.models import PlanetoidI, PlanetoidT

__all__ = [
    "PlanetoidData",
    "PlanetoidI",
    "PlanetoidT",
    "UnsafePickleError",
    "load_planetoid",
    "make_sbm_dataset",
    "safe_load_pickle",
    "sbm_adjacency",
    "write_planetoid",
]
