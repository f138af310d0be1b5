"""
Blocks of samples for the fit on Dask: a partition and the halo of each block.

.. autosummary::
    partition
    Layout
"""

import numpy as np
import scipy.sparse as sp
from scipy.sparse.csgraph import reverse_cuthill_mckee

from pyunlocbox_gae.errors import InputError


def partition(L, n_blocks):
    """Blocks of samples: consecutive runs of reverse Cuthill–McKee order.

    Parameters
    ----------
    L : sparse matrix (N, N)
        Symmetric Laplacian or adjacency matrix of the graph over the samples
        (only its pattern is used), or None for no graph (blocks of
        consecutive samples).
    n_blocks : int
        Number of blocks, at most N.

    Returns
    -------
    list of ndarray
        Indices of the samples of each block, in the order used inside the
        block; together a permutation of ``range(N)``.

    Examples
    --------
    >>> import scipy.sparse as sp
    >>> # Two chains 0-2-4 and 1-3-5 interleaved: each becomes one block.
    >>> A = sp.csr_matrix(([1.0] * 8, ([0, 2, 2, 4, 1, 3, 3, 5],
    ...                                [2, 0, 4, 2, 3, 1, 5, 3])), shape=(6, 6))
    >>> [sorted(b.tolist()) for b in partition(A, 2)]
    [[1, 3, 5], [0, 2, 4]]
    """
    if L is None:
        raise InputError("partition needs the graph's matrix; got None")
    N = L.shape[0]
    if not 1 <= int(n_blocks) <= max(N, 1):
        raise InputError(
            f"n_blocks must be between 1 and the number of samples ({N}), "
            f"got {n_blocks}"
        )
    order = reverse_cuthill_mckee(sp.csr_matrix(L), symmetric_mode=True)
    return [np.asarray(b, dtype=np.int64) for b in np.array_split(order, n_blocks)]


class Layout:
    """Blocks, their Laplacian pieces and who sends which rows to whom."""

    def __init__(self, L, blocks):
        N = sum(len(b) for b in blocks)
        self.blocks = blocks
        owner = np.empty(N, dtype=np.int64)
        local = np.empty(N, dtype=np.int64)
        for b, idx in enumerate(blocks):
            owner[idx] = b
            local[idx] = np.arange(len(idx))
        self.L_bb, self.L_bh, self.recv = [], [], []
        for b, idx in enumerate(blocks):
            if L is None:
                self.L_bb.append(None)
                self.L_bh.append(None)
                self.recv.append([])
                continue
            rows = L[idx]  # (N_b, N) CSR, rows in block order
            cols = np.unique(rows.indices)
            outside = cols[owner[cols] != b]
            # Halo ordered by owner block, so halo rows arrive as one list.
            outside = outside[np.lexsort((local[outside], owner[outside]))]
            self.L_bb.append(_csr(rows[:, idx]))
            self.L_bh.append(_csr(rows[:, outside]) if len(outside) else None)
            recv = []
            for c in np.unique(owner[outside]):
                recv.append((int(c), local[outside[owner[outside] == c]]))
            self.recv.append(recv)

    def halo_rows(self):
        """Total rows sent per halo exchange."""
        return sum(len(i) for r in self.recv for _, i in r)


def _csr(A):
    A = sp.csr_matrix(A)
    A.sort_indices()
    return A


_Layout = Layout  # the name that older code used
