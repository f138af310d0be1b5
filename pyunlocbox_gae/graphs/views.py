r"""Denoised views of the samples, to search neighbours in.

Under noise, the nearest neighbours of single frames are close to random
with respect to the classes: the noise dominates the distances. Each view
below removes part of the noise before the search, while the codes are
still learned from the rows as they are:

* :func:`time_average`: each frame averaged with the frames around it in
  its clip (noise independent across frames drops by about the square
  root of the window);
* :func:`low_rank`: the projection on the leading principal directions
  (isotropic noise spreads over every direction, the signal over few);
* :func:`first_pass_codes`: the codes of a first fit without a graph;
* :func:`context_frames`: each frame concatenated with the frames around it
  in its clip, so that the distance between two frames sums the noise over
  the window while keeping the order in time that averaging loses.

:func:`view_graph` builds the k-NN graph of a view. The frames next to a
frame in its clip are always near it, so most k-NN edges stay within a
clip, where the pooling of a clip's codes already averages; with
``cross_clip=True`` the neighbours are searched among the frames of other
clips only (:func:`cross_clip_neighbors`).

.. autosummary::
    time_average
    low_rank
    first_pass_codes
    context_frames
    cross_clip_neighbors
    view_graph
"""

import numpy as np

from pyunlocbox_gae.errors import InputError
from pyunlocbox_gae.graphs.knn import knn_graph
from pyunlocbox_gae.graphs.search import Neighbors, search_neighbors
from pyunlocbox_gae.graphs.temporal import check_clips

VIEWS = ("raw", "smoothed", "lowrank", "codes", "context")


def time_average(X, clips, width=5):
    r"""Each row averaged over a centred window of `width` rows of its clip.

    Parameters
    ----------
    X : ndarray of shape (n_rows, n_features)
    clips : array of int, shape (n_rows,)
        The clip of each row, clips contiguous, rows in time order.
    width : int
        Rows in the window (odd widths are centred; the window is cut at the
        clip's ends, never crossing into the next clip).

    Returns
    -------
    ndarray of X's dtype, same shape.

    Notes
    -----
    Row t of a clip becomes :math:`\frac{1}{b - a} \sum_{s=a}^{b-1} x_s` with
    :math:`a = \max(t - h, \text{start})`, :math:`b = \min(t + w - h,
    \text{end})`, :math:`h = \lfloor w / 2 \rfloor`, computed from one
    cumulative sum (float64, so that long clips do not lose precision).

    Examples
    --------
    >>> X = np.array([[0.0], [3.0], [6.0], [10.0]], np.float32)
    >>> time_average(X, [0, 0, 0, 1], width=3).ravel().tolist()
    [1.5, 3.0, 4.5, 10.0]
    """
    X = np.asarray(X)
    clips = check_clips(clips, X.shape[0])
    if int(width) != width or width < 1:
        raise InputError(f"the window width must be a positive integer, got {width!r}")
    n = X.shape[0]
    first = np.r_[True, clips[1:] != clips[:-1]]
    starts = np.flatnonzero(first)
    ends = np.r_[starts[1:], n]
    run = np.cumsum(first) - 1  # which run (clip) each row is in
    h = int(width) // 2
    t = np.arange(n)
    a = np.maximum(t - h, starts[run])
    b = np.minimum(t - h + int(width), ends[run])
    csum = np.zeros((n + 1, X.shape[1]))
    np.cumsum(X, axis=0, out=csum[1:])
    out = (csum[b] - csum[a]) / (b - a)[:, None]
    return out.astype(X.dtype, copy=False)


def low_rank(X, rank=16, random_state=0):
    r"""Coordinates of the centred rows on their `rank` leading principal axes.

    Distances between these coordinates are the distances between the rows
    projected on the leading subspace, so a k-NN search on them is a search
    on the low-rank approximation. Randomised SVD (scikit-learn's
    :func:`~sklearn.utils.extmath.randomized_svd`).

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> X = (rng.random((40, 2)) @ rng.random((2, 6))).astype(np.float32)
    >>> V = low_rank(X, rank=2)
    >>> V.shape, V.dtype
    ((40, 2), dtype('float32'))
    >>> d = lambda A: np.linalg.norm(A[0] - A[1])
    >>> bool(np.isclose(d(V), d(X), rtol=1e-4))  # rank-2 data: distances kept
    True
    """
    from sklearn.utils.extmath import randomized_svd

    X = np.asarray(X)
    if int(rank) != rank or not 1 <= rank <= min(X.shape):
        raise InputError(
            f"rank must be an integer between 1 and {min(X.shape)}, got {rank!r}"
        )
    Xc = X - X.mean(axis=0, dtype=np.float64).astype(X.dtype)
    U, s, _ = randomized_svd(Xc, int(rank), random_state=random_state)
    return (U * s).astype(X.dtype, copy=False)


def first_pass_codes(X, n_atoms=32, random_state=0, **params):
    """Codes of the rows learned without a graph (lg = 0), a first pass.

    `params` go to :class:`~pyunlocbox_gae.model.estimator.GraphAutoEncoder`
    (default: its own settings, ``max_outer=5``).

    Examples
    --------
    >>> X = np.random.default_rng(0).random((30, 5)).astype(np.float32)
    >>> first_pass_codes(X, n_atoms=4).shape
    (30, 4)
    """
    from pyunlocbox_gae.model.estimator import GraphAutoEncoder

    params = dict(dict(max_outer=5), **params, lg=0.0, lt=0.0)
    model = GraphAutoEncoder(n_atoms=n_atoms, random_state=random_state, **params)
    return model.fit_transform(np.asarray(X))


def _runs(clips, n):
    """First row, end row and run number of each row's clip."""
    first = np.r_[True, clips[1:] != clips[:-1]]
    starts = np.flatnonzero(first)
    ends = np.r_[starts[1:], n]
    run = np.cumsum(first) - 1
    return starts, ends, run


def context_frames(X, clips, width=5):
    r"""Each row concatenated with the rows around it in its clip.

    Parameters
    ----------
    X : ndarray of shape (n_rows, n_features)
    clips : array of int, shape (n_rows,)
        The clip of each row, clips contiguous, rows in time order.
    width : int
        Rows in the window, odd: row t is joined with rows t - h, ..., t + h,
        :math:`h = (w - 1) / 2`. At a clip's ends the first or last row of
        the clip is repeated (edge padding), never a row of another clip.

    Returns
    -------
    ndarray of X's dtype, shape (n_rows, width * n_features)
        Block j (columns ``j * n_features`` to ``(j + 1) * n_features``) is
        the row at offset ``j - h``.

    Notes
    -----
    The squared distance between two context rows is the sum of the squared
    distances between the frames at each offset: independent noise of the
    frames is summed over ``width`` pairs, so its share in the distance
    drops like a ``width``-frame average's, while frames that differ only in
    their order in time stay apart (their average would not).

    Examples
    --------
    >>> X = np.array([[0.0], [1.0], [2.0], [9.0]], np.float32)
    >>> context_frames(X, [0, 0, 0, 1], width=3).tolist()
    [[0.0, 0.0, 1.0], [0.0, 1.0, 2.0], [1.0, 2.0, 2.0], [9.0, 9.0, 9.0]]
    """
    X = np.asarray(X)
    clips = check_clips(clips, X.shape[0])
    if int(width) != width or width < 1 or width % 2 == 0:
        raise InputError(
            f"the context width must be an odd positive integer (rows t - h to "
            f"t + h), got {width!r}"
        )
    n = X.shape[0]
    starts, ends, run = _runs(clips, n)
    h = int(width) // 2
    t = np.arange(n)
    blocks = [X[np.clip(t + o, starts[run], ends[run] - 1)] for o in range(-h, h + 1)]
    return np.hstack(blocks).astype(X.dtype, copy=False)


def cross_clip_neighbors(
    V, clips, k=10, metric="euclidean", backend="exact", random_state=None, **search
):
    """The `k` nearest rows of each row among the rows of OTHER clips.

    Searches ``k + L - 1`` neighbours (L the longest clip's rows), then
    drops those of the row's own clip: at most L - 1 of them, so at least k
    remain, the k nearest of other clips when the search is exact.

    Parameters
    ----------
    V : ndarray of shape (n_rows, n_features)
        The rows searched (the samples or a view of them).
    clips : array of int, shape (n_rows,)
        The clip of each row, clips contiguous.
    k, metric, backend, random_state, **search
        As :func:`~pyunlocbox_gae.graphs.search.search_neighbors`.

    Returns
    -------
    Neighbors
        No index of the row's own clip; ``params['cross_clip']`` is True.

    Raises
    ------
    InputError
        When some clip has fewer than k rows outside it, or an approximate
        search found fewer than k rows of other clips (use ``'exact'``).

    Examples
    --------
    >>> X = np.array([[0.0], [0.1], [0.2], [5.0], [5.1]], np.float32)
    >>> nb = cross_clip_neighbors(X, [0, 0, 0, 1, 1], k=1)
    >>> nb.indices.ravel().tolist()
    [3, 3, 3, 2, 2]
    """
    V = np.asarray(V)
    n = V.shape[0]
    clips = check_clips(clips, n)
    starts, ends, run = _runs(clips, n)
    lengths = ends - starts
    if int(k) != k or k < 1 or n - lengths.max() < k:
        raise InputError(
            f"k={k!r} neighbours in other clips: k must be a positive integer "
            f"and at most {n - lengths.max()} (the rows outside the longest "
            "clip); lower k or give more clips"
        )
    k = int(k)
    m = min(n - 1, k + int(lengths.max()) - 1)
    nb = search_neighbors(
        V, k=m, metric=metric, backend=backend, random_state=random_state, **search
    )
    other = run[nb.indices] != run[:, None]
    if other.sum(axis=1).min() < k:
        raise InputError(
            f"the {nb.backend} search found fewer than {k} rows of other clips "
            "for some row: use backend='exact'"
        )
    order = np.argsort(~other, axis=1, kind="stable")[:, :k]
    return Neighbors(
        np.take_along_axis(nb.indices, order, axis=1),
        np.take_along_axis(nb.distances, order, axis=1),
        metric=nb.metric,
        backend=nb.backend,
        params=dict(nb.params, cross_clip=True),
    )


def view_graph(
    X,
    view="smoothed",
    clips=None,
    width=5,
    rank=16,
    cross_clip=False,
    **knn_params,
):
    """The k-NN graph (:func:`~pyunlocbox_gae.graphs.knn_graph`) of a view of X.

    Parameters
    ----------
    X : ndarray of shape (n_rows, n_features)
    view : {'raw', 'smoothed', 'lowrank', 'codes', 'context'}
        X itself, :func:`time_average` (needs `clips`), :func:`low_rank`,
        :func:`first_pass_codes` (`rank` atoms) or :func:`context_frames`
        (needs `clips`).
    clips : array of int, optional
    width, rank : int
        Window of ``'smoothed'`` and ``'context'``; rank of ``'lowrank'``
        and atoms of ``'codes'``.
    cross_clip : bool
        Search each row's neighbours among the rows of other clips only
        (:func:`cross_clip_neighbors`; needs `clips`): the graph has no edge
        within a clip but the self-loops.
    **knn_params
        For :func:`~pyunlocbox_gae.graphs.knn_graph` (``k``, ``kernel``,
        ``lap_type``, ``dtype``, ...). Weights come from the view's distances.

    Returns
    -------
    pygsp.graphs.Graph
        Its ``graph_params`` say which view; it keeps no neighbour lists
        (they are the view's, not X's).

    Examples
    --------
    >>> X = np.random.default_rng(0).random((40, 4)).astype(np.float32)
    >>> G = view_graph(X, "smoothed", clips=np.repeat(np.arange(8), 5), k=3)
    >>> G.N, G.graph_params["view"]
    (40, 'smoothed')
    """
    if clips is None and (view in ("smoothed", "context") or cross_clip):
        what = "cross_clip=True" if cross_clip else f"the {view!r} view"
        raise InputError(
            f"{what} reads the clip of each row (frames of one recording): give "
            "clips (audio sources have them), or use another construction"
        )
    if view == "raw":
        V = np.asarray(X)
    elif view == "smoothed":
        V = time_average(X, clips, width)
    elif view == "context":
        V = context_frames(X, clips, width)
    elif view == "lowrank":
        V = low_rank(X, rank, knn_params.get("random_state") or 0)
    elif view == "codes":
        V = first_pass_codes(X, n_atoms=rank)
    else:
        raise InputError(f"view must be one of {VIEWS}, got {view!r}")
    knn_params.setdefault("dtype", np.asarray(X).dtype)
    if cross_clip:
        search = {
            key: knn_params.pop(key)
            for key in ("k", "metric", "backend", "random_state", "progress")
            if key in knn_params
        }
        search.setdefault("backend", "exact")
        nb = cross_clip_neighbors(V, clips, **search)
        G = knn_graph(None, k=nb.k, metric=nb.metric, neighbors=nb, **knn_params)
    else:
        G = knn_graph(V, **knn_params)
    params = dict(getattr(G, "graph_params", {}) or {})
    params.update(view=view, width=int(width), rank=int(rank))
    if cross_clip:
        params["cross_clip"] = True
    G.graph_params = params
    G.neighbors = None
    return G
