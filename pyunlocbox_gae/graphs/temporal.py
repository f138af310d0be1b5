r"""Temporal adjacency: each frame of a clip joined to its neighbours in time.

The CQT rows of a clip (:func:`pyunlocbox_gae.audio.clips.clip_rows`) are in
time order with the two streams interleaved: row t and row t + 1 start
``frame_hop`` samples apart and belong to different streams (they overlap by
half a frame), row t and row t + 2 are consecutive frames of one stream. A
temporal graph joins rows up to `radius` steps apart within one clip, never
across clips, so that a frame's code is pulled towards the codes of the
frames around it: frames of one spoken digit share its class whatever the
noise, which a k-NN graph of noisy frames does not know.

.. autosummary::
    temporal_adjacency
    temporal_graph
    mix_adjacency
"""

import numpy as np
import scipy.sparse as sp

from pyunlocbox_gae.errors import InputError
from pyunlocbox_gae.graphs.graph import make_graph


def check_clips(clips, n_rows=None):
    """The clip of each row as an int array, its runs contiguous.

    Raises
    ------
    InputError
        When `clips` is not 1-D, does not have one entry per row, or a clip's
        rows are not contiguous (rows must come clip after clip, in time
        order, as :func:`~pyunlocbox_gae.audio.clips.clip_rows` stores them).

    Examples
    --------
    >>> check_clips([0, 0, 1]).tolist()
    [0, 0, 1]
    >>> check_clips([0, 1, 0])
    Traceback (most recent call last):
    ...
    pyunlocbox_gae.errors.InputError: the rows of clip 0 are not contiguous: ...
    """
    clips = np.asarray(clips)
    if clips.ndim != 1 or clips.dtype.kind not in "iu":
        raise InputError(
            "clips must be a 1-D array of integers, the clip of each row "
            f"(got {clips.dtype} of shape {clips.shape})"
        )
    if n_rows is not None and len(clips) != n_rows:
        raise InputError(f"clips has {len(clips)} entries for {n_rows} rows")
    starts = np.r_[True, clips[1:] != clips[:-1]]
    ids = clips[starts]
    if len(np.unique(ids)) != len(ids):
        values, counts = np.unique(ids, return_counts=True)
        bad = values[counts > 1][0]
        raise InputError(
            f"the rows of clip {bad} are not contiguous: pass the rows clip "
            "after clip, each clip's frames in time order"
        )
    return clips


def temporal_adjacency(clips, radius=1, decay=1.0, dtype=np.float32):
    r"""Symmetric adjacency joining rows at most `radius` steps apart in a clip.

    Parameters
    ----------
    clips : array of int, shape (n_rows,)
        The clip of each row; each clip's rows contiguous and in time order.
    radius : int
        Largest time step joined (1: each row to the rows just before and
        after it; with two interleaved streams, 2 also joins the consecutive
        frames of one stream).
    decay : float in (0, 1]
        Weight of an edge of step s: ``decay ** (s - 1)``.
    dtype : dtype

    Returns
    -------
    scipy.sparse.csr_matrix, shape (n_rows, n_rows)
        No self-loops; no edge between two clips.

    Examples
    --------
    >>> W = temporal_adjacency([0, 0, 0, 1, 1], radius=1)
    >>> W.toarray().astype(int)
    array([[0, 1, 0, 0, 0],
           [1, 0, 1, 0, 0],
           [0, 1, 0, 0, 0],
           [0, 0, 0, 0, 1],
           [0, 0, 0, 1, 0]])
    """
    clips = check_clips(clips)
    if int(radius) != radius or radius < 1:
        raise InputError(f"radius must be a positive integer, got {radius!r}")
    if not 0 < decay <= 1:
        raise InputError(f"decay must be in (0, 1], got {decay!r}")
    n = len(clips)
    rows, cols, vals = [], [], []
    for step in range(1, int(radius) + 1):
        i = np.flatnonzero(clips[:-step] == clips[step:]) if n > step else []
        rows.append(np.asarray(i, dtype=np.int64))
        vals.append(np.full(len(i), decay ** (step - 1), dtype=dtype))
        cols.append(np.asarray(i, dtype=np.int64) + step)
    r, c, v = (np.concatenate(a) for a in (rows, cols, vals))
    upper = sp.csr_matrix((v, (r, c)), shape=(n, n), dtype=dtype)
    return (upper + upper.T).tocsr()


def temporal_graph(clips, radius=1, decay=1.0, lap_type="normalized", dtype=np.float32):
    """The graph of :func:`temporal_adjacency`, with self-loops of weight 1.

    Self-loops as the k-NN graphs have (:func:`~pyunlocbox_gae.graphs.knn_graph`),
    so that a clip of one frame is not an isolated vertex.

    Examples
    --------
    >>> G = temporal_graph([0, 0, 1, 1, 1], radius=2)
    >>> G.N, int(G.W.nnz), G.L.dtype
    (5, 13, dtype('float32'))
    """
    W = temporal_adjacency(clips, radius, decay, dtype)
    W = (W + sp.identity(W.shape[0], dtype=dtype, format="csr")).tocsr()
    G = make_graph(W, lap_type, dtype)
    G.graph_params = dict(construction="temporal", radius=int(radius), decay=decay)
    return G


def mix_adjacency(W_other, W_time, mix):
    r"""``(1 - mix) W_other + mix W_time``: temporal edges added to a graph.

    Both adjacencies are first scaled to a largest off-diagonal weight of 1,
    so that `mix` weighs the two kinds of edge whatever their kernels.

    Parameters
    ----------
    W_other, W_time : sparse matrices of one shape
    mix : float in [0, 1]
        0 keeps `W_other`, 1 gives `W_time` (plus the diagonal of
        `W_other`, its self-loops).

    Examples
    --------
    >>> A = sp.csr_matrix(np.array([[0, 0.5], [0.5, 0]], np.float32))
    >>> B = sp.csr_matrix(np.array([[0, 2.0], [2.0, 0]], np.float32))
    >>> mix_adjacency(A, B, 0.25).toarray().tolist()
    [[0.0, 1.0], [1.0, 0.0]]
    """
    if not 0 <= mix <= 1:
        raise InputError(f"the temporal mix must be in [0, 1], got {mix!r}")
    if W_other.shape != W_time.shape:
        raise InputError(
            f"the adjacencies have shapes {W_other.shape} and {W_time.shape}"
        )
    dtype = W_other.dtype

    def off_diagonal_unit(W):
        W = sp.csr_matrix(W, dtype=dtype, copy=True)
        W.setdiag(0)
        W.eliminate_zeros()
        top = W.data.max() if W.nnz else 1.0
        return W / dtype.type(top)

    diagonal = sp.diags(W_other.diagonal().astype(dtype), format="csr")
    out = (1 - mix) * off_diagonal_unit(W_other) + mix * off_diagonal_unit(W_time)
    return (out + diagonal).astype(dtype).tocsr()
