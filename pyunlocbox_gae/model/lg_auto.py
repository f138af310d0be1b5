r"""``lg='auto'``: the weight of the graph term chosen from the data's noise.

The graph term pays most when the rows are noisy (it averages each code
with its neighbours') and costs accuracy on clean rows, where it blurs
codes that need no denoising: measured with the study's settings, lg = 100
wins under noise and loses about 3 points on clean data, where lg = 1 to 10
is right. :func:`choose_lg` estimates the share of X's variance that is
noise and moves lg between a clean value and a noisy one on a log scale:

.. math::
    \lambda_g = \lambda_{\text{clean}}
    \left(\frac{\lambda_{\text{noisy}}}{\lambda_{\text{clean}}}\right)^{t},
    \quad t = \operatorname{clip}\left(
    \frac{\nu - \nu_0}{\nu_1 - \nu_0}, 0, 1\right),

with ν the noise fraction of :func:`noise_fraction`. It needs no labels and
no fit, so it never looks at test folds; the choice and its reason are
recorded in the estimator's ``history_`` (first entry: ``lg_auto``,
``lg_auto_reason``) and its attributes ``lg_`` and ``lg_reason_``.

.. autosummary::
    noise_level
    noise_fraction
    choose_lg
"""

import numpy as np

from pyunlocbox_gae.errors import InputError

#: lg on clean data, lg on very noisy data, and the noise fractions between
#: which lg moves from one to the other (see :func:`choose_lg`).
LG_CLEAN = 3.0
LG_NOISY = 100.0
NU_CLEAN = 0.25
NU_NOISY = 0.5


def _marchenko_pastur_median(beta):
    """Median of the Marchenko–Pastur law of aspect ratio `beta` in (0, 1]."""
    from scipy import integrate, optimize

    lo, hi = (1 - np.sqrt(beta)) ** 2, (1 + np.sqrt(beta)) ** 2

    def density(x):
        return np.sqrt(max((hi - x) * (x - lo), 0.0)) / (2 * np.pi * beta * x)

    def cdf(x):
        return integrate.quad(density, lo, x, limit=200)[0]

    return optimize.brentq(lambda x: cdf(x) - 0.5, lo, hi, xtol=1e-10)


def noise_level(X):
    r"""Standard deviation of white noise in X, from its singular values.

    Gavish & Donoho (2014), "The optimal hard threshold for singular values
    is 4/√3": for X = signal of low rank + noise of std σ (n × m, n ≥ m,
    β = m/n), the median singular value of X is close to
    :math:`\sigma \sqrt{n \mu_\beta}`, :math:`\mu_\beta` the median of the
    Marchenko–Pastur law, as long as the signal's rank is below half of m.
    The rows are centred first (the mean is not noise).

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> signal = rng.random((2000, 3)) @ rng.random((3, 40))
    >>> X = signal + 0.1 * rng.standard_normal((2000, 40))
    >>> round(noise_level(X), 2)
    0.1
    """
    X = np.asarray(X, dtype=np.float64)
    if X.ndim != 2 or min(X.shape) < 2:
        raise InputError(
            f"X must be 2-D with at least 2 rows and columns, got {X.shape}"
        )
    Xc = X - X.mean(axis=0)
    n, m = max(Xc.shape), min(Xc.shape)
    s = np.linalg.svd(Xc, compute_uv=False)
    return float(np.median(s) / np.sqrt(n * _marchenko_pastur_median(m / n)))


def noise_fraction(X):
    r"""Share of the variance of X that is white noise, in [0, 1].

    :math:`\nu = \hat\sigma^2 N n / \|X - \bar X\|_F^2`, with
    :math:`\hat\sigma` of :func:`noise_level`.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> round(noise_fraction(rng.standard_normal((1000, 20))), 1)
    1.0
    """
    X = np.asarray(X, dtype=np.float64)
    total = float(((X - X.mean(axis=0)) ** 2).sum())
    if total == 0:
        return 0.0
    return float(min(noise_level(X) ** 2 * X.size / total, 1.0))


def choose_lg(
    X, lg_clean=LG_CLEAN, lg_noisy=LG_NOISY, nu_clean=NU_CLEAN, nu_noisy=NU_NOISY
):
    """The graph weight for X, and why.

    Parameters
    ----------
    X : array of shape (n_samples, n_features)
    lg_clean, lg_noisy : float
        lg below the noise fraction `nu_clean` and above `nu_noisy`.
    nu_clean, nu_noisy : float
        Noise fractions (:func:`noise_fraction`) between which lg moves on a
        log scale. The defaults were set on scikit-learn's digits and on
        spoken-digit recordings other than those measured in the docs, with
        noise 0, 0.1 and 0.2 added after min–max scaling (see
        docs/graph-constructions.md).

    Returns
    -------
    lg : float
    reason : str
        The estimated noise and the rule that gave lg.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> clean = rng.random((500, 3)) @ rng.random((3, 30))
    >>> choose_lg(clean)[0]
    3.0
    >>> lg, why = choose_lg(clean + rng.standard_normal(clean.shape))
    >>> lg, why.split(":")[0]
    (100.0, 'noise std 1.02 of total std 1.03')
    """
    nu = noise_fraction(X)
    sigma = noise_level(X)
    total = float(
        np.sqrt(np.asarray(X, dtype=np.float64).var(axis=0).sum() / X.shape[1])
    )
    t = float(np.clip((nu - nu_clean) / (nu_noisy - nu_clean), 0.0, 1.0))
    lg = float(lg_clean * (lg_noisy / lg_clean) ** t)
    reason = (
        f"noise std {sigma:.3g} of total std {total:.3g}: noise fraction "
        f"{nu:.3f} of the variance (Gavish-Donoho median singular value); "
        f"lg = {lg_clean:g} below {nu_clean:g}, {lg_noisy:g} above {nu_noisy:g}, "
        f"log-linear between: lg = {lg:.3g}"
    )
    return lg, reason


def resolve(lg, X):
    """``(lg, reason)``: :func:`choose_lg` for ``'auto'``, else ``(lg, None)``.

    Examples
    --------
    >>> resolve(10.0, None)
    (10.0, None)
    """
    if isinstance(lg, str) and lg == "auto":
        return choose_lg(X)
    return lg, None


def fitted_params(model):
    """The estimator's parameters with ``lg='auto'`` replaced by the fit's choice.

    The choice is ``model.lg_`` after a fit, or the ``lg_auto`` entry of
    ``history_`` of a model read from a file.
    """
    params = model.get_params()
    if isinstance(params.get("lg"), str) and params["lg"] == "auto":
        lg = getattr(model, "lg_", None)
        if lg is None and getattr(model, "history_", None):
            lg = model.history_[0].get("lg_auto")
        if lg is None:
            from sklearn.exceptions import NotFittedError

            raise NotFittedError("lg='auto' is chosen by fit: fit the model first")
        params["lg"] = lg
    return params
