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

The data's path through the package, one folder or module per role:

* :mod:`pyunlocbox_gae.audio`: folders of audio files, framing, constant-Q
  transform, resumable HDF5 frames files.
* :mod:`pyunlocbox_gae.graphs`: k-NN graphs (exact and approximate search,
  weighting, PyGSP graphs with float32 Laplacians, graph files).
* :mod:`pyunlocbox_gae.functions`: the objective terms, PyUNLocBoX functions.
* :mod:`pyunlocbox_gae.solvers`: fast in-place solvers and the registry of
  the codes problem's splittings.
* :mod:`pyunlocbox_gae.model`: the objective, the alternating loop,
  :class:`GraphAutoEncoder` (a scikit-learn transformer), checkpoints and the
  fit on Dask.
* :mod:`pyunlocbox_gae.classification`: clip vectors, classifiers, voting,
  grouped cross-validation.
* :mod:`pyunlocbox_gae.experiments`: configurations, cached stages, the
  ``gae run`` chain, sweeps, ``gae demo``, weight balancing, figures.
* :mod:`pyunlocbox_gae.embeddings`: random walks, DeepWalk, Planetoid.
* :mod:`pyunlocbox_gae.cli`: the ``gae`` command.

Beside them: :mod:`pyunlocbox_gae.store` (HDF5 files, atomic writes,
fingerprints) and :mod:`pyunlocbox_gae.errors` (:class:`GAEError`, the root
of every deliberate error).

Importing the package is cheap: the names below are loaded on first use.
"""

__version__ = "0.1.0"
__release_date__ = "2026-11-28"

import importlib

from pyunlocbox_gae.errors import GAEError

# Loaded on first access (PEP 562), so that `import pyunlocbox_gae` and
# `gae --help` do not pay for scikit-learn, h5py or PyGSP.
_LAZY = {
    "GraphAutoEncoder": ("pyunlocbox_gae.model.estimator", "GraphAutoEncoder"),
    "functions": ("pyunlocbox_gae.functions", None),
    "solvers": ("pyunlocbox_gae.solvers", None),
    "store": ("pyunlocbox_gae.store", None),
    "graphs": ("pyunlocbox_gae.graphs", None),
    "model": ("pyunlocbox_gae.model", None),
}

__all__ = ["GAEError", *_LAZY]


def __getattr__(name):
    if name not in _LAZY:
        raise AttributeError(f"module 'pyunlocbox_gae' has no attribute {name!r}")
    module_name, attribute = _LAZY[name]
    value = importlib.import_module(module_name)
    if attribute is not None:
        value = getattr(value, attribute)
    globals()[name] = value
    return value


def __dir__():
    return sorted(set(globals()) | set(_LAZY))
