r"""Per-feature scaling and noise of a features matrix, in place.

The same for every data source: the chain's rows
(:func:`pyunlocbox_gae.experiments.sources.prepare`) and the frames of the
stage commands (:func:`pyunlocbox_gae.audio.preprocess.feature_matrix`).
Scaling is per feature over all rows, label-free, as in the original
study's transductive setting; the noise is added after it, as in the
study's noise experiment.

.. autosummary::
    SCALINGS
    check_scaling
    scale_features
    add_noise
"""

import numpy as np
from sklearn.preprocessing import MinMaxScaler, StandardScaler

from pyunlocbox_gae.errors import InputError

#: Per feature to [0, 1], to zero mean and unit variance, or left as is.
SCALINGS = ("minmax", "standard", "none")

#: Rows of a block in :func:`scale_features`' fit.
SCALE_BLOCK_ROWS = 1 << 12
#: Rows of noise drawn at a time by :func:`add_noise`.
NOISE_BLOCK_ROWS = 1 << 12


def check_scaling(scaling, noise):
    """Refuse an unknown scaling or a negative noise std."""
    if scaling not in SCALINGS:
        raise InputError(f"scaling must be one of {SCALINGS}, got {scaling!r}")
    if not float(noise) >= 0:
        raise InputError(f"noise must be a non-negative std, got {noise}")


def scale_features(X, log=False, scaling="minmax"):
    """Compress and scale every feature of a float matrix, in place.

    Parameters
    ----------
    X : ndarray of float, shape (n_rows, n_features)
        Modified in place, and returned.
    log : bool
        First compress every value as :math:`\\log(1 + x)` (CQT magnitudes;
        values must be > -1).
    scaling : {'minmax', 'standard', 'none'}
        Per feature, over all rows: to [0, 1] (scikit-learn's
        ``MinMaxScaler``), to zero mean and unit variance
        (``StandardScaler``, whose sums are accumulated in float64 whatever
        X's dtype), or none. Constant features are left at 0.

    Returns
    -------
    ndarray
        X.

    Examples
    --------
    >>> X = np.array([[0.0, 2.0], [1.0, 4.0]], np.float32)
    >>> scale_features(X) is X, X.tolist()
    (True, [[0.0, 0.0], [1.0, 1.0]])
    """
    check_scaling(scaling, 0.0)
    if log:
        if X.size and X.min() <= -1:
            raise InputError("log = true needs values > -1 (log(1 + x)); got smaller")
        np.log1p(X, out=X)
    if scaling == "none":
        return X
    scaler = (MinMaxScaler if scaling == "minmax" else StandardScaler)(copy=False)
    # Fitted a block of rows at a time: the variance's float64 temporaries
    # stay the size of a block, not twice X's.
    for s in range(0, len(X), SCALE_BLOCK_ROWS):
        scaler.partial_fit(X[s : s + SCALE_BLOCK_ROWS])
    out = scaler.transform(X)
    if out is not X:  # scikit-learn copied (X not C-contiguous)
        X[...] = out
    return X


def add_noise(X, std, seed):
    """Add Gaussian noise of std `std` to a float32 matrix, in place.

    The noise is drawn a block of rows at a time into one small buffer: the
    same numbers as ``default_rng(seed).standard_normal(X.shape)`` (the
    generator's stream, in row order), without an array of X's size.

    Examples
    --------
    >>> X = np.zeros((3, 2), np.float32)
    >>> add_noise(X, 0.5, seed=0)
    >>> bool(np.array_equal(X, np.float32(0.5) * np.random.default_rng(0)
    ...      .standard_normal((3, 2), dtype=np.float32)))
    True
    """
    if not std:
        return
    rng = np.random.default_rng(seed)
    buf = np.empty((min(NOISE_BLOCK_ROWS, len(X)), X.shape[1]), np.float32)
    for s in range(0, len(X), NOISE_BLOCK_ROWS):
        block = buf[: min(NOISE_BLOCK_ROWS, len(X) - s)]
        rng.standard_normal(out=block, dtype=np.float32)
        block *= np.float32(std)
        X[s : s + len(block)] += block
