r"""Frames joined across clips whose averages are near: a clip-level k-NN graph.

The k nearest neighbours of a single noisy frame are close to random with
respect to the classes, but the average of a clip's frames is much less
noisy (independent noise drops with the square root of the number of
frames), and clips of one class have near averages. :func:`clip_graph`
searches the k nearest clips of each clip on their averages, then joins
each frame to the frame of each neighbour clip at the same relative time
(the frame at 40 % of one clip to the frame at 40 % of the other), so that
the graph's edges follow the clips' similarity while each frame keeps a
partner at the same stage of the sound. Clip lengths may differ.

.. autosummary::
    clip_means
    clip_adjacency
    clip_graph
"""

import numpy as np
import scipy.sparse as sp

from pyunlocbox_gae.errors import InputError
from pyunlocbox_gae.graphs.graph import make_graph
from pyunlocbox_gae.graphs.search import search_neighbors
from pyunlocbox_gae.graphs.temporal import check_clips
from pyunlocbox_gae.graphs.weights import default_sigma, kernel_weights


def _runs(clips):
    first = np.r_[True, clips[1:] != clips[:-1]]
    starts = np.flatnonzero(first)
    lengths = np.diff(np.r_[starts, len(clips)])
    return starts, lengths, np.cumsum(first) - 1


def clip_means(X, clips):
    """The average of the rows of each clip, clips in their order of appearance.

    Examples
    --------
    >>> X = np.array([[0.0], [2.0], [5.0]], np.float32)
    >>> clip_means(X, [3, 3, 1]).ravel().tolist()
    [1.0, 5.0]
    """
    X = np.asarray(X)
    clips = check_clips(clips, X.shape[0])
    starts, lengths, _ = _runs(clips)
    sums = np.add.reduceat(X.astype(np.float64), starts, axis=0)
    return (sums / lengths[:, None]).astype(X.dtype)


def clip_adjacency(X, clips, k=5, kernel="exp", dtype=np.float32, backend="exact"):
    r"""Each frame joined to the same-time frame of each of the k nearest clips.

    Parameters
    ----------
    X : ndarray of shape (n_rows, n_features)
    clips : array of int, shape (n_rows,)
        The clip of each row; clips contiguous, frames in time order.
    k : int
        Neighbour clips per clip (fewer than the number of clips).
    kernel : {'exp', 'gaussian'}
        Of the distance between the two clips' averages, width its default
        (:func:`~pyunlocbox_gae.graphs.default_sigma`): every edge between
        two clips has that weight.
    dtype : dtype
    backend : {'auto', 'exact', 'approximate'}
        Search of the clips.

    Returns
    -------
    scipy.sparse.csr_matrix
        Symmetric (``max(W, Wᵀ)``), no self-loops, no edge within a clip.

    Notes
    -----
    Frame t of a clip of length n sits at relative time :math:`r = (t +
    1/2) / n`; its partner in a clip of length m is frame :math:`\lfloor r m
    \rfloor`.

    Examples
    --------
    Clip 0 (rows 0, 1) and clip 2 (row 5) are each other's nearest clip:

    >>> X = np.array([[0.0], [0.1], [5.0], [5.1], [5.2], [0.2]], np.float32)
    >>> W = clip_adjacency(X, [0, 0, 1, 1, 1, 2], k=1)
    >>> W[:2].nonzero()[1].tolist(), W.nnz == W.T.nnz
    ([5, 5], True)
    """
    X = np.asarray(X)
    clips = check_clips(clips, X.shape[0])
    starts, lengths, run = _runs(clips)
    n_clips = len(starts)
    if int(k) != k or not 1 <= k < n_clips:
        raise InputError(
            f"k must be an integer between 1 and {n_clips - 1} (the clips "
            f"but one), got {k!r}"
        )
    nb = search_neighbors(clip_means(X, clips), k=int(k), backend=backend)
    weights = kernel_weights(nb.distances, kernel, default_sigma(nb), dtype)
    n = len(clips)
    rows = np.repeat(np.arange(n), k)
    own = run[rows]
    slot = np.tile(np.arange(k), n)
    other = nb.indices[own, slot]
    position = (rows - starts[own] + 0.5) / lengths[own]
    cols = starts[other] + np.minimum(
        (position * lengths[other]).astype(np.int64), lengths[other] - 1
    )
    W = sp.csr_matrix((weights[own, slot], (rows, cols)), shape=(n, n), dtype=dtype)
    return W.maximum(W.T).tocsr()


def clip_graph(X, clips, k=5, kernel="exp", lap_type="normalized", dtype=None):
    """The graph of :func:`clip_adjacency`, with self-loops of weight 1.

    Examples
    --------
    >>> X = np.random.default_rng(0).random((30, 3)).astype(np.float32)
    >>> G = clip_graph(X, np.repeat(np.arange(6), 5), k=2)
    >>> G.N, G.W.dtype, G.graph_params["construction"]
    (30, dtype('float32'), 'clips')
    """
    dtype = np.asarray(X).dtype if dtype is None else np.dtype(dtype)
    W = clip_adjacency(X, clips, k, kernel, dtype)
    W = (W + sp.identity(W.shape[0], dtype=dtype, format="csr")).tocsr()
    G = make_graph(W, lap_type, dtype)
    G.graph_params = dict(construction="clips", k=int(k), kernel=kernel)
    return G
