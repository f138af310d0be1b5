r"""
Codes of new samples with a fitted model, one sample at a time.

.. autosummary::
    sample_codes

With the dictionary D and encoder E fixed, the codes of new samples solve

.. math::
    \min_Z \; \frac{l_d}{2} \|X - DZ\|_F^2 + \alpha \|Z\|_1
    + \frac{l_e}{2} \|Z - EX\|_F^2 + \frac{l_g}{2} \, G(Z)
    \; (+ \iota_{Z \ge 0}),

where :math:`\alpha` is the sparsity weight at transform time and G the
graph term of the new samples (see
:class:`~pyunlocbox_gae.model.anchors.AnchorGraph`). Without edges
among the new samples every term is a sum over samples, so each sample is
its own problem: :func:`sample_codes` solves them side by side, each column
with its own momentum, restart and stopping rule, so that a sample's code
never depends on which other samples came with it (``transform(X[:k])`` is
``transform(X)[:k]``). The coupled problem over a graph among the new
samples is the estimator's own codes step
(``transform_algorithm='graph'``).
"""

import warnings

import numpy as np
import scipy.sparse as sp
from sklearn.exceptions import ConvergenceWarning

from pyunlocbox_gae import functions
from pyunlocbox_gae.errors import ConvergenceError, InputError

__all__ = ["sample_codes"]

# A step too large (a wrong Lipschitz constant) is halved this many times at
# most, with a warning, before giving up with a clear error.
MAX_HALVINGS = 5

# Samples solved together: bounds the solver's buffers (a few of this many
# codes) whatever the number of samples; codes do not depend on it.
SAMPLES_PER_SOLVE = 8192


def _smooth_terms(X_api, D, E, ld, le, extra=()):
    """fidelity and encoder terms of the samples X_api, then the `extra` ones."""
    Xm = X_api.T
    terms = [functions.fidelity_z(Xm, D, ld)]
    if E is not None and le:
        terms.append(functions.encoder_z(Xm, E, le))
    return functions.smooth_sum([*terms, *extra])


def sample_codes(
    X,
    D,
    E=None,
    weights=(1.0, 1.0, 0.0, 0.0),
    anchors=None,
    rtol=1e-4,
    max_iter=500,
    accelerate=True,
    out=None,
    positive=False,
):
    r"""Codes of new samples, each sample solved on its own.

    Parameters
    ----------
    X : ndarray of shape (n_samples, n_features)
        New samples (float32 or float64; the codes take their dtype).
    D : ndarray of shape (n_features, n_atoms)
        The dictionary.
    E : ndarray of shape (n_atoms, n_features), optional
        The encoder (used when its weight is positive).
    weights : tuple of 4 floats
        ``(ld, alpha, lg, le)``: data, sparsity, graph and encoder weights.
    anchors : pyunlocbox_gae.model.anchors.AnchorGraph, optional
        The training graph; with ``lg > 0`` each new code is tied to its
        neighbours' training codes.
    rtol : float
        A sample stops when its code moves by at most `rtol` times its norm
        in one iteration.
    max_iter : int
        Iterations per sample at most.
    accelerate : bool
        FISTA momentum (with an adaptive restart per sample), or ISTA.
    out : ndarray of shape (n_samples, n_atoms), optional
        Where to write the codes (of X's dtype, C-contiguous).

    Returns
    -------
    ndarray of shape (n_samples, n_atoms)
        `out` when given.

    Notes
    -----
    Forward-backward (FISTA) on the sum of
    :class:`~pyunlocbox_gae.functions.fidelity_z`,
    :class:`~pyunlocbox_gae.functions.encoder_z`, a diagonal
    :class:`~pyunlocbox_gae.functions.dirichlet` term and the fixed
    coupling to the training codes (see
    :class:`~pyunlocbox_gae.model.anchors.AnchorGraph`), with
    :class:`~pyunlocbox_gae.functions.sparsity` as proximal term. The step
    1/L is common, from a bound that does not depend on the batch; the
    momentum, its restart (when the step goes against the momentum, O'Donoghue
    & Candès' gradient restart) and the stopping rule belong to each sample,
    and converged samples leave the solve. So a sample's code is the same
    whatever samples come with it, up to floating-point rounding.

    Examples
    --------
    >>> import numpy as np
    >>> X = np.array([[3.0, 0.0], [0.0, 0.2]])
    >>> Z = sample_codes(X, np.eye(2), weights=(1.0, 1.0, 0.0, 0.0), rtol=1e-8)
    >>> np.round(Z, 6)  # soft thresholding at alpha / ld = 1
    array([[2., 0.],
           [0., 0.]])
    >>> bool(np.array_equal(sample_codes(X[:1], np.eye(2), rtol=1e-8), Z[:1]))
    True
    """
    X = np.asarray(X)
    Z = np.zeros((X.shape[0], D.shape[1]), X.dtype) if out is None else out
    for s in range(0, X.shape[0], SAMPLES_PER_SOLVE):
        part = slice(s, s + SAMPLES_PER_SOLVE)
        for halvings in range(MAX_HALVINGS + 1):
            Z[part] = 0.0
            with np.errstate(over="ignore", invalid="ignore"):  # checked below
                _sample_codes(
                    X[part],
                    D,
                    E,
                    weights,
                    anchors,
                    rtol,
                    max_iter,
                    accelerate,
                    Z[part],
                    0.5**halvings,
                    positive,
                )
            if np.isfinite(Z[part]).all():
                break
            if halvings < MAX_HALVINGS:
                warnings.warn(
                    "transform: the codes of new samples diverged; solved again "
                    f"with the step halved (halving {halvings + 1} of at most "
                    f"{MAX_HALVINGS})",
                    ConvergenceWarning,
                    stacklevel=2,
                )
        else:
            raise ConvergenceError(
                "transform: the codes of new samples are not finite even with "
                f"the step halved {MAX_HALVINGS} times: the data holds values "
                "too large for its dtype (rescale it, or lower the weights), or "
                "a term's Lipschitz constant is too small for its step"
            )
    return Z


def _sample_codes(
    X, D, E, weights, anchors, rtol, max_iter, accelerate, Z, scale, positive
):
    ld, alpha, lg, le = (float(w) for w in weights)
    C = ell = None
    if anchors is not None and lg:
        C, ell = anchors.coupling(X, lg)

    def smooth(rows):
        Xr = X if rows is None else X[rows]
        extra = []
        if ell is not None:  # the diagonal Dirichlet term of the new samples
            L = sp.diags(ell if rows is None else ell[rows], format="csr")
            extra.append(functions.dirichlet(L, lg, lmax=anchors.bound))
        if C is not None:  # the pull of the fixed training codes: linear
            extra.append(functions.linear(np.asarray(C if rows is None else C[rows]).T))
        return _smooth_terms(Xr, D, E, ld, le, extra)

    _solve_columns(smooth, alpha, Z, rtol, max_iter, accelerate, scale, positive)


def _row_norms(A):
    return np.sqrt(np.einsum("ij,ij->i", A, A, dtype=np.float64))


def _prox(alpha, positive):
    """The per-sample proximal map: soft threshold, then the box if positive."""
    terms = ([functions.sparsity(alpha)] if alpha else []) + (
        [functions.nonnegative()] if positive else []
    )
    if not terms:
        return None
    return terms[0] if len(terms) == 1 else functions.separable_sum(terms)


def _solve_columns(
    make_smooth, alpha, Z, rtol, max_iter, accelerate, scale=1.0, positive=False
):
    """Per-sample FISTA on the rows of Z (sample-major), written into Z.

    `make_smooth(rows)` gives the smooth part over the samples `rows` (all
    of them for None), in the maths orientation (n_atoms, len(rows)).
    """
    active = np.arange(Z.shape[0])
    z = np.zeros_like(Z)
    prev, y, buf, new = (np.zeros_like(Z) for _ in range(4))
    t = np.ones(Z.shape[0])
    alive = np.ones(Z.shape[0], dtype=bool)
    prox = _prox(alpha, positive)
    f = make_smooth(None)
    step = scale / max(f.lipschitz(), 1e-30)  # the same for any batch
    f.prepare()
    try:
        for it in range(1, max_iter + 1):
            if accelerate:
                t_next = (1.0 + np.sqrt(1.0 + 4.0 * t * t)) / 2.0
                beta = ((t - 1.0) / t_next).astype(Z.dtype)
                t = t_next
                np.subtract(z, prev, out=y)
                y *= beta[:, None]
                y += z
            else:
                y[...] = z
            f.forward_into(y.T, step, buf.T)
            if prox is not None:
                prox.prox_into(buf.T, step, new.T)
            else:
                new[...] = buf
            np.subtract(new, z, out=buf)  # the step taken, per sample
            if accelerate:  # restart where the step goes against the momentum
                y -= new
                t[np.einsum("ij,ij->i", y, buf) > 0] = 1.0
            prev, z, new = z, new, prev
            done = alive & (_row_norms(buf) <= rtol * _row_norms(z))
            if it == max_iter:
                done = alive
            Z[active[done]] = z[done]
            alive &= ~done
            n_dead = alive.size - np.count_nonzero(alive)
            if not alive.any():
                break
            if n_dead >= max(1, alive.size // 4):  # drop the converged samples
                f.release()
                active, z, prev, t = active[alive], z[alive], prev[alive], t[alive]
                y, buf, new = (np.zeros_like(z) for _ in range(3))
                alive = np.ones(active.size, dtype=bool)
                f = make_smooth(active)
                f.prepare()
    finally:
        f.release()
    return Z


def check_encoder(encoder, le):
    """Refuse an encoder transform without an encoder, in one clear line."""
    if encoder is None or not le:
        raise InputError(
            "transform_algorithm='encoder' needs an encoder and le > 0 "
            f"(encoder {'absent' if encoder is None else 'fitted'}, le={le}): "
            "fit with le > 0 and keep it, or use transform_algorithm='auto'"
        )
