r"""
pyunlocbox_gae: structured (graph) auto-encoders for PyUNLocBoX.

Learn a dictionary D, sparse codes Z and a linear encoder E by minimising

.. math::
    \frac{\lambda_d}{2} \|X - DZ\|_F^2 + \lambda_s \|Z\|_1
    + \frac{\lambda_g}{2} \operatorname{tr}(Z L Z^\top)
    + \frac{\lambda_e}{2} \|Z - EX\|_F^2
    \quad \text{s.t.} \quad \|d_j\|_2 \le 1,

where L is the Laplacian of a graph over the samples. Every term is a
:class:`pyunlocbox.functions.func` that PyUNLocBoX solvers can minimise.

The data's path through the package:

* :mod:`pyunlocbox_gae.functions`: the objective terms.
* :mod:`pyunlocbox_gae.solvers`: fast in-place inner solvers.
* :mod:`pyunlocbox_gae.autoencoder`: the alternating loop and
  :class:`GraphAutoEncoder`, a scikit-learn transformer.
* :mod:`pyunlocbox_gae.graphs`: k-NN graphs (exact and approximate search,
  weighting, PyGSP graphs with float32 Laplacians, graph files).
* :mod:`pyunlocbox_gae.audio`: GTZAN-layout folders, framing, constant-Q
  transform, resumable HDF5 frames files.
* :mod:`pyunlocbox_gae.classification`: clip vectors, linear SVM, voting,
  grouped cross-validation.
* :mod:`pyunlocbox_gae.config` and :mod:`pyunlocbox_gae.pipeline`: the
  ``gae run CONFIG.toml`` chain with cached stages.
* :mod:`pyunlocbox_gae.experiments` and :mod:`pyunlocbox_gae.plotting`:
  ``gae demo``, sweeps with cached stages, weight balancing, figures.
* :mod:`pyunlocbox_gae.checkpoint`: resumable fits.
* :mod:`pyunlocbox_gae.walks`, :mod:`pyunlocbox_gae.embedding`,
  :mod:`pyunlocbox_gae.planetoid`: DeepWalk and Planetoid graph embeddings.
* :mod:`pyunlocbox_gae.distributed`: the alternating fit on Dask.
* :mod:`pyunlocbox_gae.store`: HDF5 files, atomic writes, fingerprints.
"""

__version__ = "0.1.0"
__release_date__ = "2026-11-28"

from pyunlocbox_gae import functions, solvers, store  # noqa: F401,E402
from pyunlocbox_gae.autoencoder import GraphAutoEncoder  # noqa: E402

__all__ = ["GraphAutoEncoder", "functions", "solvers", "store"]
