r"""k-nearest-neighbour graphs over the samples, for the Dirichlet term.

The path from data to graph, one module per step:

* :mod:`~pyunlocbox_gae.graphs.search`: neighbour lists (exact or
  approximate), the expensive step, done once: :func:`search_neighbors`,
  :class:`Neighbors`, :func:`recall_at_k`.
* :mod:`~pyunlocbox_gae.graphs.weights`: kernel weights and symmetrisation
  from stored lists, without searching again: :func:`weight_matrix`.
* :mod:`~pyunlocbox_gae.graphs.graph`: a PyGSP graph with W and L in float32
  and an upper bound of the largest eigenvalue: :func:`make_graph`,
  :func:`as_graph`, :func:`check_adjacency` (the one graph validator),
  :func:`laplacian`, :func:`lmax_bound`.
* :mod:`~pyunlocbox_gae.graphs.knn`: the builder :func:`knn_graph`, and
  :class:`NeighborIndex`, the training samples searched for new samples.
* :mod:`~pyunlocbox_gae.graphs.io`: HDF5 files: :func:`save_graph`,
  :func:`load_graph`, :func:`save_neighbors`, :func:`load_neighbors`.

Other constructions, for rows that are noisy frames of clips, all behind
:func:`build_graph` (:mod:`~pyunlocbox_gae.graphs.constructions`, with
:func:`same_label_fraction` to judge them):

* :mod:`~pyunlocbox_gae.graphs.temporal`: frames joined to their neighbours
  in time within a clip;
* :mod:`~pyunlocbox_gae.graphs.views`: k-NN graphs of denoised views
  (time-averaged frames, a low-rank projection, first-pass codes);
* :mod:`~pyunlocbox_gae.graphs.iterated`: the k-NN graph of the codes,
  re-built every few outer iterations of a fit with the graph;
* :mod:`~pyunlocbox_gae.graphs.clipwise`: frames joined across clips whose
  averages are near;
* :mod:`~pyunlocbox_gae.graphs.learned`: the log-degree graph learned from
  smooth signals (Kalofolias 2016) over k-NN candidate edges.
* :mod:`~pyunlocbox_gae.graphs.controls`: the random and L = I graphs each
  construction is compared against.

Examples
--------
>>> import numpy as np
>>> from pyunlocbox_gae import graphs
>>> X = np.random.default_rng(0).random((50, 4)).astype(np.float32)
>>> G = graphs.knn_graph(X, k=5)
>>> G.W.dtype, G.L.dtype
(dtype('float32'), dtype('float32'))
"""

from pyunlocbox_gae.graphs.constructions import build_graph, same_label_fraction
from pyunlocbox_gae.graphs.graph import (
    as_graph,
    check_adjacency,
    laplacian,
    lmax_bound,
    make_graph,
)
from pyunlocbox_gae.graphs.io import (
    load_graph,
    load_neighbors,
    save_graph,
    save_neighbors,
)
from pyunlocbox_gae.graphs.knn import NeighborIndex, knn_graph
from pyunlocbox_gae.graphs.search import Neighbors, recall_at_k, search_neighbors
from pyunlocbox_gae.graphs.weights import default_sigma, kernel_weights, weight_matrix

__all__ = [
    "NeighborIndex",
    "Neighbors",
    "as_graph",
    "build_graph",
    "check_adjacency",
    "default_sigma",
    "kernel_weights",
    "knn_graph",
    "laplacian",
    "lmax_bound",
    "load_graph",
    "load_neighbors",
    "make_graph",
    "recall_at_k",
    "same_label_fraction",
    "save_graph",
    "save_neighbors",
    "search_neighbors",
    "weight_matrix",
]
