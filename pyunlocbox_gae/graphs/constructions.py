r"""Every way to build the graph over the samples, behind one name.

:func:`build_graph` is what the estimator's callers and the experiment chain
call with a construction's name (the experiment key ``construction``):

==================  ==========================================================
``knn``             the study's k-NN graph of the rows (:func:`.knn_graph`)
``temporal``        each frame joined to its neighbours in time within its
                    clip (:func:`.temporal_graph`); no search at all
``smoothed``        k-NN graph of the frames averaged over ``width`` frames of
                    their clip (:func:`.views.time_average`)
``lowrank``         k-NN graph of the rows projected on ``rank`` principal
                    axes (:func:`.views.low_rank`)
``codes``           k-NN graph of the codes of a first fit without a graph
                    (:func:`.views.first_pass_codes`, ``rank`` atoms)
``codes_iterated``  k-NN graph of the codes of a fit with a graph, re-built
                    from the codes every ``outer`` outer iterations, ``rounds``
                    times (:func:`.iterated.iterated_codes_graph`)
``learned``         the log-degree graph learned from the rows over k-NN
                    candidate edges (:func:`.learned_graph`)
``clips``           each frame joined to the frame at the same relative time
                    of each of the k clips nearest on their averages
                    (:func:`.clipwise.clip_graph`)
``context``         k-NN graph of each frame concatenated with the frames
                    around it in its clip, ``width`` in all
                    (:func:`.views.context_frames`)
==================  ==========================================================

With ``cross_clip=True`` (and clips), the neighbours of ``knn``,
``smoothed``, ``lowrank``, ``codes`` and ``context`` are searched among the
frames of other clips only (:func:`.views.cross_clip_neighbors`): no edge
joins two frames of one clip, whose codes the pooling of a clip already
averages.

With ``temporal_mix`` > 0 (and clips), temporal edges are mixed into any
construction but ``temporal``: ``(1 - mix) W + mix W_time``
(:func:`.temporal.mix_adjacency`).

:func:`same_label_fraction` measures how much class structure a graph
carries: the fraction of its edges that join two rows of one class.

.. autosummary::
    build_graph
    same_label_fraction
"""

import numpy as np
import scipy.sparse as sp

from pyunlocbox_gae.errors import InputError
from pyunlocbox_gae.graphs.clipwise import clip_graph
from pyunlocbox_gae.graphs.graph import make_graph
from pyunlocbox_gae.graphs.iterated import iterated_codes_graph
from pyunlocbox_gae.graphs.knn import knn_graph
from pyunlocbox_gae.graphs.learned import learned_graph
from pyunlocbox_gae.graphs.temporal import (
    mix_adjacency,
    temporal_adjacency,
    temporal_graph,
)
from pyunlocbox_gae.graphs.views import view_graph

CONSTRUCTIONS = (
    "knn",
    "temporal",
    "smoothed",
    "lowrank",
    "codes",
    "codes_iterated",
    "learned",
    "clips",
    "context",
)
NEEDS_CLIPS = ("temporal", "smoothed", "clips", "context")
# The constructions that search k nearest rows, so that cross_clip applies.
CROSS_CLIP = ("knn", "smoothed", "lowrank", "codes", "context")


def build_graph(
    X,
    construction="knn",
    clips=None,
    temporal_mix=0.0,
    temporal_radius=1,
    width=5,
    rank=16,
    rounds=3,
    cross_clip=False,
    **knn_params,
):
    """The graph over the rows of X built the way `construction` names.

    Parameters
    ----------
    X : ndarray of shape (n_rows, n_features)
    construction : str
        One of :data:`CONSTRUCTIONS` (see the module's table).
    clips : array of int, shape (n_rows,), optional
        The clip of each row (clips contiguous, frames in time order);
        needed by ``temporal``, ``smoothed`` and ``temporal_mix > 0``.
    temporal_mix : float in [0, 1]
        Weight of temporal edges mixed into the graph.
    temporal_radius : int
        Largest time step of a temporal edge.
    width, rank : int
        Of the ``smoothed``, ``lowrank`` and ``codes`` views (``rank``: also
        the atoms of ``codes_iterated``).
    rounds : int
        Graphs re-built from the codes by ``codes_iterated`` (3 outer
        iterations apart).
    cross_clip : bool
        Neighbours searched among the rows of other clips only (needs
        `clips`; constructions :data:`CROSS_CLIP`).
    **knn_params
        ``k``, ``metric``, ``kernel``, ``lap_type``, ``backend``, ``dtype``,
        ``random_state``, ... of :func:`~pyunlocbox_gae.graphs.knn_graph`
        (``learned`` reads ``k``, ``backend``, ``lap_type``, ``dtype``;
        ``clips`` reads ``k``, ``kernel``, ``lap_type``, ``dtype``).

    Returns
    -------
    pygsp.graphs.Graph
        Its ``graph_params`` name the construction.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> X = rng.random((60, 4)).astype(np.float32)
    >>> clips = np.repeat(np.arange(6), 10)
    >>> G = build_graph(X, "knn", clips, temporal_mix=0.5, k=4)
    >>> G.N, G.graph_params["construction"], G.W.dtype
    (60, 'knn', dtype('float32'))
    >>> build_graph(X, "temporal")
    Traceback (most recent call last):
    ...
    pyunlocbox_gae.errors.InputError: construction 'temporal' needs the clip of each...
    """
    if construction not in CONSTRUCTIONS:
        raise InputError(
            f"construction must be one of {', '.join(CONSTRUCTIONS)}; "
            f"got {construction!r}"
        )
    if cross_clip and construction not in CROSS_CLIP:
        raise InputError(
            f"cross_clip=True restricts a k-NN search to other clips; construction "
            f"{construction!r} has none: use one of {', '.join(CROSS_CLIP)}, or "
            "cross_clip=False"
        )
    if clips is None and (
        construction in NEEDS_CLIPS or temporal_mix > 0 or cross_clip
    ):
        what = f"construction {construction!r}"
        if cross_clip:
            what = "cross_clip=True"
        elif construction not in NEEDS_CLIPS:
            what = f"temporal_mix={temporal_mix}"
        raise InputError(
            f"{what} needs the clip of each row: use an audio source (its rows "
            "are frames of clips) or set temporal_mix = 0, cross_clip = False and "
            "another construction"
        )
    knn_params.setdefault("dtype", np.asarray(X).dtype)
    lap_type = knn_params.get("lap_type", "normalized")
    dtype = knn_params["dtype"]
    if construction == "temporal":
        return temporal_graph(clips, temporal_radius, lap_type=lap_type, dtype=dtype)
    if construction == "knn" and cross_clip:
        G = view_graph(X, "raw", clips, cross_clip=True, **knn_params)
    elif construction == "knn":
        G = knn_graph(X, **knn_params)
    elif construction == "learned":
        G = learned_graph(
            X,
            k=knn_params.get("k", 10),
            backend=knn_params.get("backend", "auto"),
            lap_type=lap_type,
            dtype=dtype,
            random_state=knn_params.get("random_state") or 0,
        )
    elif construction == "codes_iterated":
        knn_params.pop("progress", None)
        G = iterated_codes_graph(X, rounds=rounds, n_atoms=rank, **knn_params)
    elif construction == "clips":
        G = clip_graph(
            X,
            clips,
            k=knn_params.get("k", 10),
            kernel=knn_params.get("kernel", "exp"),
            lap_type=lap_type,
            dtype=dtype,
        )
    else:
        G = view_graph(X, construction, clips, width, rank, cross_clip, **knn_params)
    params = dict(getattr(G, "graph_params", {}) or {}, construction=construction)
    if temporal_mix > 0:
        W = mix_adjacency(G.W, temporal_adjacency(clips, temporal_radius), temporal_mix)
        G = make_graph(W, lap_type, dtype)
        params.update(temporal_mix=float(temporal_mix), radius=int(temporal_radius))
    G.graph_params = params
    return G


def same_label_fraction(graph, labels, weighted=False):
    """Fraction of the edges (self-loops aside) that join rows of one label.

    Parameters
    ----------
    graph : pygsp.graphs.Graph or sparse matrix
    labels : array of shape (n_rows,)
    weighted : bool
        Count each edge by its weight rather than once.

    Examples
    --------
    >>> W = sp.csr_matrix(np.array([[1, 1, 0], [1, 1, 1], [0, 1, 1]], float))
    >>> same_label_fraction(W, [0, 0, 1])
    0.5
    """
    W = sp.coo_matrix(getattr(graph, "W", graph))
    labels = np.asarray(labels)
    if len(labels) != W.shape[0]:
        raise InputError(f"{len(labels)} labels for a graph of {W.shape[0]} vertices")
    off = (W.row != W.col) & (W.data != 0)
    same = labels[W.row[off]] == labels[W.col[off]]
    weight = W.data[off] if weighted else np.ones(int(off.sum()))
    total = weight.sum()
    return float(weight[same].sum() / total) if total else float("nan")
