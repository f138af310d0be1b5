"""Synthetic frames shaped like the study's CQT features, at any size.

Each "song" is a run of consecutive frames (1,288 by default, as GTZAN's
30 s clips at hop 1024) mixing a few notes: non-negative harmonic templates
on a 96-bin, 24-per-octave log-frequency axis, with slowly varying
non-negative activations (time-correlated frames, so a k-NN graph links
neighbours in time and songs sharing notes), plus sparse broadband onsets
and a little noise; min-max scaled to [0, 1] like the study's features.
Generated song block by song block, so 1.288 M frames cost 0.5 GB (float32)
and a few seconds.
"""

import numpy as np
from scipy.signal import lfilter

N_BINS = 96
PER_OCTAVE = 24


def templates(n_templates=256, n_bins=N_BINS, seed=0):
    """Harmonic spectra: peaks at f0·h on a log axis, decaying with h."""
    rng = np.random.default_rng(seed)
    bins = np.arange(n_bins)
    T = np.zeros((n_templates, n_bins))
    for t in range(n_templates):
        b0 = rng.uniform(0, n_bins - 24)
        decay = rng.uniform(0.5, 0.9)
        for h in range(1, 9):
            b = b0 + PER_OCTAVE * np.log2(h)
            if b >= n_bins:
                break
            T[t] += decay ** (h - 1) * np.exp(-0.5 * ((bins - b) / 0.7) ** 2)
    return T / np.linalg.norm(T, axis=1, keepdims=True)


def cqt_like(
    N,
    frames_per_song=1288,
    notes_per_song=6,
    n_templates=256,
    noise=0.02,
    dtype=np.float32,
    seed=0,
    block_songs=64,
):
    """(N, 96) non-negative frames in time order, scaled to [0, 1].

    Examples
    --------
    >>> X = cqt_like(3000, seed=1)
    >>> X.shape, X.dtype, float(X.min()), float(X.max())
    ((3000, 96), dtype('float32'), 0.0, 1.0)
    """
    rng = np.random.default_rng(seed)
    T = templates(n_templates, seed=seed)
    n_songs = -(-N // frames_per_song)
    X = np.empty((n_songs * frames_per_song, N_BINS), dtype=dtype)
    F, r = frames_per_song, notes_per_song
    for s0 in range(0, n_songs, block_songs):
        S = min(block_songs, n_songs - s0)
        # Activations: gated gamma noise, low-pass filtered along time.
        A = rng.gamma(1.0, 1.0, size=(S, F, r))
        A *= rng.random((S, F // 32 + 1, r)).repeat(32, axis=1)[:, :F] < 0.4
        A = lfilter([0.15], [1.0, -0.85], A, axis=1)
        notes = rng.integers(0, n_templates, size=(S, r))
        block = np.einsum("sfr,srb->sfb", A, T[notes])
        onsets = rng.random((S, F, 1)) < 0.01  # sparse broadband transients
        block += onsets * rng.random((S, F, N_BINS)) * 0.5
        block += noise * np.abs(rng.standard_normal(block.shape))
        X[s0 * F : (s0 + S) * F] = block.reshape(S * F, N_BINS)
    X = X[:N]
    lo, hi = X.min(), X.max()
    X -= lo
    X /= hi - lo
    return X
