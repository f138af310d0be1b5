r"""Edge weights of a k-NN graph from stored neighbour lists (no search).

.. autosummary::
    KERNELS
    default_sigma
    kernel_weights
    weight_matrix
"""

import numpy as np
import scipy.sparse as sp

from pyunlocbox_gae.errors import InputError

KERNELS = ("exp", "gaussian")
SYMMETRIZE = ("max", "mean")


def default_sigma(neighbors):
    """Mean distance to the k-th neighbour (the study's width, Csigma = 1).

    Examples
    --------
    >>> from pyunlocbox_gae.graphs.search import Neighbors
    >>> nb = Neighbors(np.array([[1], [0]]), np.array([[2.0], [4.0]], np.float32))
    >>> default_sigma(nb)
    3.0
    """
    return float(np.mean(neighbors.distances[:, -1], dtype=np.float64))


def _check_sigma(sigma, neighbors):
    if sigma is None:
        sigma = default_sigma(neighbors)
        if not sigma > 0:
            raise InputError(
                "sigma = mean distance to the k-th neighbour is 0: every sample "
                "has k duplicates; remove duplicate samples, raise k, or pass "
                "sigma > 0"
            )
        return sigma
    try:
        sigma = float(sigma)
    except (TypeError, ValueError):
        raise InputError(f"sigma must be a positive number, got {sigma!r}") from None
    if not (sigma > 0 and np.isfinite(sigma)):
        raise InputError(f"sigma must be a positive finite number, got {sigma}")
    return sigma


def kernel_weights(distances, kernel, sigma, dtype=np.float32):
    r"""Kernel weights of distances, a new array of `dtype`.

    ``'exp'``: :math:`\exp(-d/\sigma)`; ``'gaussian'``:
    :math:`\exp(-d^2/\sigma^2)` (see :func:`weight_matrix`).

    Examples
    --------
    >>> np.round(kernel_weights(np.array([0.0, 1.0]), "gaussian", 2.0), 4)
    array([1.    , 0.7788], dtype=float32)
    """
    dtype = np.dtype(dtype)
    d = np.asarray(distances).astype(dtype, copy=True)
    d /= dtype.type(sigma)
    if kernel == "gaussian":
        d *= d
    np.negative(d, out=d)
    np.exp(d, out=d)
    return d


def weight_matrix(
    neighbors,
    kernel="exp",
    sigma=None,
    self_loops=True,
    symmetrize="max",
    dtype=np.float32,
):
    r"""Symmetric weighted adjacency matrix of a k-NN graph.

    Parameters
    ----------
    neighbors : Neighbors
        Neighbour lists from :func:`~pyunlocbox_gae.graphs.search_neighbors`
        (or loaded from a file); not searched again.
    kernel : {'exp', 'gaussian'}
        ``'exp'`` (default): :math:`w = \exp(-d/\sigma)`, the kernel of the
        original study's code, on the non-squared distance. It is the default
        because the study's published accuracies were obtained with it, and
        it decays slower than the Gaussian, so the farthest of the k
        neighbours keep a useful weight (≈ e⁻¹ at the mean k-th distance).
        ``'gaussian'``: :math:`w = \exp(-d^2/\sigma^2)`.
    sigma : float, optional
        Kernel width; by default the mean distance to the k-th neighbour
        (Zelnik-Manor & Perona's scale, as in the study).
    self_loops : bool
        Put weight 1 on the diagonal (the study's ``diag=True``); it enters
        the degrees, hence the normalized Laplacian.
    symmetrize : {'max', 'mean'}
        :math:`\max(W, W^\top)` (the study: an edge found from either end
        keeps its weight) or :math:`(W + W^\top)/2` (PyGSP's averaging; a
        one-sided edge gets half its weight).
    dtype : dtype
        Of the returned weights (float32 by default).

    Returns
    -------
    scipy.sparse.csr_matrix of shape (n_samples, n_samples)
        Symmetric, weights in (0, 1], sorted indices, no explicit zeros
        (weights that underflow to 0 are dropped, which can isolate a node
        when self_loops is False).

    Examples
    --------
    >>> from pyunlocbox_gae.graphs.search import search_neighbors
    >>> X = np.array([[0.0], [1.0], [3.0]], dtype=np.float32)
    >>> W = weight_matrix(search_neighbors(X, k=1), sigma=1.0)
    >>> W.dtype
    dtype('float32')
    >>> np.round(W.toarray(), 4)
    array([[1.    , 0.3679, 0.    ],
           [0.3679, 1.    , 0.1353],
           [0.    , 0.1353, 1.    ]], dtype=float32)
    """
    if kernel not in KERNELS:
        raise InputError(f"kernel must be one of {KERNELS}, got {kernel!r}")
    if symmetrize not in SYMMETRIZE:
        raise InputError(f"symmetrize must be one of {SYMMETRIZE}, got {symmetrize!r}")
    dtype = np.dtype(dtype)
    if dtype.kind != "f":
        raise InputError(f"dtype must be a floating type, got {dtype}")
    sigma = _check_sigma(sigma, neighbors)
    N, k = neighbors.indices.shape
    d = kernel_weights(neighbors.distances, kernel, sigma, dtype)
    # Index arrays of the smallest type that fits: halves CSR memory at 1.3M.
    itype = np.int32 if N * (k + 1) * 2 < 2**31 else np.int64
    W = sp.csr_matrix(
        (
            d.ravel(),
            # A copy: scipy sorts CSR indices in place, and a view would
            # reorder the caller's neighbour lists.
            neighbors.indices.astype(itype, copy=True).ravel(),
            np.arange(0, N * k + 1, k, dtype=itype),
        ),
        shape=(N, N),
    )
    # A duplicate listed twice in a row cannot happen (k-NN lists are sets),
    # but sum_duplicates also sorts indices, which the maximum below needs.
    W.sum_duplicates()
    if symmetrize == "max":
        W = W.maximum(W.T.tocsr())
    else:
        W = W + W.T.tocsr()
        W.data *= dtype.type(0.5)
    W = W.tocsr()
    if self_loops:
        W = _set_unit_diagonal(W)
    W.eliminate_zeros()
    W.sort_indices()
    return W.astype(dtype, copy=False)


def _set_unit_diagonal(W):
    """W with its diagonal set to 1 (a sample is never its own neighbour in
    the lists, so the diagonal is empty and adding the identity sets it)."""
    diag = W.diagonal()
    if np.any(diag):
        W = W - sp.diags(diag, format="csr", dtype=W.dtype)
    return (W + sp.eye(W.shape[0], dtype=W.dtype, format="csr")).tocsr()
