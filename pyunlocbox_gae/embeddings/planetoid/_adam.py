"""Adam and SGD for the Planetoid networks, with lazy row updates of embedding tables.

Hand-written rather than taken from an autograd library: the only one that
would fit (PyTorch) is a heavy dependency for two shallow NumPy networks,
and its dense Adam would touch every row of an (n_nodes, dim) table at
every step, where updating only the rows in the batch costs O(batch).
"""

import numpy as np


def _sum_rows(rows, values):
    """Unique rows and the sum of the values of each (a sort and reduceat;
    np.add.at, the obvious way, took most of a training step)."""
    order = np.argsort(rows, kind="stable")
    rows = rows[order]
    starts = np.flatnonzero(np.r_[True, rows[1:] != rows[:-1]])
    return rows[starts], np.add.reduceat(values[order], starts, axis=0)


class Adam:
    """Adam; a gradient given as (rows, values) updates only those rows.

    Examples
    --------
    >>> import numpy as np
    >>> p = {"w": np.array([3.0]), "E": np.ones((3, 2))}
    >>> opt = Adam(p, lr=0.1)
    >>> for _ in range(200):
    ...     opt.step(p, {"w": 2 * p["w"], "E": (np.array([1, 1]), np.ones((2, 2)))})
    >>> bool(abs(p["w"][0]) < 0.1), p["E"][0].tolist(), bool(p["E"][1, 0] < -15)
    (True, [1.0, 1.0], True)
    """

    def __init__(self, params, lr, beta1=0.9, beta2=0.999, eps=1e-8):
        self.lr, self.b1, self.b2, self.eps = lr, beta1, beta2, eps
        self.m = {k: np.zeros_like(v) for k, v in params.items()}
        self.v = {k: np.zeros_like(v) for k, v in params.items()}
        self.t = dict.fromkeys(params, 0)

    def step(self, params, grads, lr=None):
        lr = self.lr if lr is None else lr
        for k, g in grads.items():
            self.t[k] += 1
            t = self.t[k]
            scale = lr * np.sqrt(1 - self.b2**t) / (1 - self.b1**t)
            if isinstance(g, tuple):  # sparse rows: aggregate repeats first
                rows, agg = _sum_rows(*g)
                m = self.b1 * self.m[k][rows] + (1 - self.b1) * agg
                v = self.b2 * self.v[k][rows] + (1 - self.b2) * agg * agg
                self.m[k][rows], self.v[k][rows] = m, v
                params[k][rows] -= scale * m / (np.sqrt(v) + self.eps)
            else:
                m, v = self.m[k], self.v[k]
                m *= self.b1
                m += (1 - self.b1) * g
                v *= self.b2
                v += (1 - self.b2) * g * g
                params[k] -= scale * m / (np.sqrt(v) + self.eps)


class SGD:
    """Plain stochastic gradient descent; (rows, values) gradients update rows.

    The authors' Planetoid code trains with SGD at fixed rates; this is
    that optimiser, with the interface of :class:`Adam`.

    Examples
    --------
    >>> import numpy as np
    >>> p = {"w": np.array([3.0]), "E": np.ones((3, 2))}
    >>> opt = SGD(p, lr=0.25)
    >>> opt.step(p, {"w": 2 * p["w"], "E": (np.array([1, 1]), np.ones((2, 2)))})
    >>> p["w"].tolist(), p["E"][:2].tolist()
    ([1.5], [[1.0, 1.0], [0.5, 0.5]])
    """

    def __init__(self, params, lr):
        self.lr = lr

    def step(self, params, grads, lr=None):
        lr = self.lr if lr is None else lr
        for k, g in grads.items():
            if isinstance(g, tuple):
                rows, agg = _sum_rows(*g)
                params[k][rows] -= lr * agg
            else:
                params[k] -= lr * g
