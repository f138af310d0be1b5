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
* :func:`first_pass_codes`: the codes of a first fit without a graph.

:func:`view_graph` builds the k-NN graph of a view.

.. autosummary::
    time_average
    low_rank
    first_pass_codes
    view_graph
"""

import numpy as np

from pyunlocbox_gae.errors import InputError
from pyunlocbox_gae.graphs.knn import knn_graph
from pyunlocbox_gae.graphs.temporal import check_clips

VIEWS = ("smoothed", "lowrank", "codes")


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


def view_graph(X, view="smoothed", clips=None, width=5, rank=16, **knn_params):
    """The k-NN graph (:func:`~pyunlocbox_gae.graphs.knn_graph`) of a view of X.

    Parameters
    ----------
    X : ndarray of shape (n_rows, n_features)
    view : {'smoothed', 'lowrank', 'codes'}
        :func:`time_average` (needs `clips`), :func:`low_rank` or
        :func:`first_pass_codes` (`rank` atoms).
    clips : array of int, optional
    width, rank : int
        Window of ``'smoothed'``; rank of ``'lowrank'`` and atoms of
        ``'codes'``.
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
    if view == "smoothed":
        if clips is None:
            raise InputError(
                "the 'smoothed' view averages frames over time within clips: "
                "give the clip of each row (audio sources have them)"
            )
        V = time_average(X, clips, width)
    elif view == "lowrank":
        V = low_rank(X, rank, knn_params.get("random_state") or 0)
    elif view == "codes":
        V = first_pass_codes(X, n_atoms=rank)
    else:
        raise InputError(f"view must be one of {VIEWS}, got {view!r}")
    knn_params.setdefault("dtype", np.asarray(X).dtype)
    G = knn_graph(V, **knn_params)
    params = dict(getattr(G, "graph_params", {}) or {})
    params.update(view=view, width=int(width), rank=int(rank))
    G.graph_params = params
    G.neighbors = None
    return G
