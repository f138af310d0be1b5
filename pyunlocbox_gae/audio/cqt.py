r"""Framing and constant-Q transform of clips, as the original study did.

A clip is cut into frames of `frame_size` samples every `frame_hop` samples.
As in the study, this is done as ``frame_size / frame_hop`` streams (two by
default: aligned, and offset by 512 samples), each transformed by
``librosa.cqt`` with a hop of `frame_size`; the last frame of each stream,
which librosa centres on padding, is dropped. The magnitude is kept (newer
librosa returns complex values).

Every clip is transformed as if surrounded by silence: many clips are laid
end to end with :func:`silence_gap` zeros between them and each stream is
transformed once for all of them (:func:`clips_cqt`). A frame then depends
only on its own clip, exactly as for the clip transformed alone between two
stretches of zeros, while the fixed cost of a transform (its filter bank,
the resampling between octaves) is paid once per batch, not per clip.

.. autosummary::
    CQTParams
    clip_cqt
    clips_cqt
    silence_gap
    interleave
"""

import contextlib
import dataclasses
import math
import warnings

import numpy as np

from pyunlocbox_gae.errors import InputError


@dataclasses.dataclass(frozen=True)
class CQTParams:
    """Framing and CQT settings; the defaults are the original study's.

    Parameters
    ----------
    sample_rate : int
        Hz (GTZAN: 22,050).
    clip_samples : int
        Samples per clip after truncation (660,000, 29.9 s).
    frame_size : int
        Frame length in samples, also the CQT hop of each stream (1,024).
    frame_hop : int
        Distance between consecutive frames (512: two streams).
    n_bins, bins_per_octave : int
        96 bins, 24 per octave: four octaves.
    fmin : float or str
        Lowest frequency in Hz, or a note name ('C2', 65.4 Hz).
    frames_per_clip : int or None
        Keep the first frames of each stream (the study's results use 149,
        the first 6.9 s); None keeps all.

    Raises
    ------
    ValueError
        For settings that cannot work: bins above Nyquist, clips shorter
        than one frame, a frame size that is not a multiple of the hop, ...

    Examples
    --------
    >>> p = CQTParams()
    >>> p.n_streams, p.n_frames, round(p.fmin_hz, 2), round(p.fmax_hz, 1)
    (2, 644, 65.41, 1016.7)
    >>> CQTParams(sample_rate=2000)
    Traceback (most recent call last):
    ...
    pyunlocbox_gae.errors.InputError: the CQT's upper edge is at 1046.5 Hz, above...
    """

    sample_rate: int = 22050
    clip_samples: int = 660000
    frame_size: int = 1024
    frame_hop: int = 512
    n_bins: int = 96
    bins_per_octave: int = 24
    fmin: float | str = "C2"
    frames_per_clip: int | None = None

    def __post_init__(self):
        for name in ("sample_rate", "clip_samples", "frame_size", "frame_hop"):
            value = getattr(self, name)
            if not isinstance(value, (int, np.integer)) or value < 1:
                raise InputError(f"{name} must be a positive integer, got {value!r}")
        for name in ("n_bins", "bins_per_octave"):
            value = getattr(self, name)
            if not isinstance(value, (int, np.integer)) or value < 1:
                raise InputError(f"{name} must be a positive integer, got {value!r}")
        if self.frame_size % self.frame_hop:
            raise InputError(
                f"frame_size={self.frame_size} must be a multiple of "
                f"frame_hop={self.frame_hop} (frames are taken as "
                "frame_size/frame_hop offset streams)"
            )
        if not self.fmin_hz > 0 or not math.isfinite(self.fmin_hz):
            raise InputError(
                f"fmin must be a positive frequency, got {self.fmin!r} (finite, in Hz)"
            )
        lowest = self.sample_rate / self.clip_samples  # one period per clip
        if self.fmin_hz < lowest:
            raise InputError(
                f"fmin={self.fmin!r} Hz has a period longer than a clip of "
                f"{self.clip_samples} samples at {self.sample_rate} Hz; use "
                f"fmin >= {lowest:.3g} Hz (e.g. 'C1' = 32.7 Hz)"
            )
        nyquist = self.sample_rate / 2
        # The top bin's filter reaches about one bin above its centre.
        edge = self.fmin_hz * 2 ** (self.n_bins / self.bins_per_octave)
        if edge >= nyquist:
            raise InputError(
                f"the CQT's upper edge is at {edge:.1f} Hz, above the "
                f"Nyquist frequency {nyquist:.1f} Hz of sample_rate="
                f"{self.sample_rate}; lower n_bins or fmin, or raise sample_rate"
            )
        # librosa's lowest octave halves the rate log2(hop) times at most.
        if self.frame_size & (self.frame_size - 1):
            octaves = math.ceil(self.n_bins / self.bins_per_octave)
            if self.frame_size % 2 ** (octaves - 1):
                raise InputError(
                    f"frame_size={self.frame_size} must be divisible by "
                    f"2**(octaves-1) = {2 ** (octaves - 1)} for librosa's "
                    f"multi-rate CQT over {octaves} octaves; use a power of 2"
                )
        full = self.stream_frames(self.clip_samples)
        if full < 1:
            raise InputError(
                f"clip_samples={self.clip_samples} is shorter than one frame "
                f"in every stream (frame_size={self.frame_size}, "
                f"frame_hop={self.frame_hop}); use longer clips or smaller frames"
            )
        if self.frames_per_clip is not None:
            if (
                not isinstance(self.frames_per_clip, (int, np.integer))
                or self.frames_per_clip < 1
            ):
                raise InputError(
                    f"frames_per_clip must be a positive integer or None, "
                    f"got {self.frames_per_clip!r}"
                )
            if self.frames_per_clip > full:
                raise InputError(
                    f"frames_per_clip={self.frames_per_clip} but clips of "
                    f"{self.clip_samples} samples have {full} frames per stream; "
                    "lower frames_per_clip or lengthen the clips"
                )

    @property
    def fmin_hz(self):
        if isinstance(self.fmin, str):
            import librosa

            try:
                return float(librosa.note_to_hz(self.fmin))
            except Exception:
                raise InputError(
                    f"fmin={self.fmin!r} is not a note name (e.g. 'C2') or a "
                    "frequency in Hz"
                ) from None
        return float(self.fmin)

    @property
    def fmax_hz(self):
        """Centre frequency of the highest bin."""
        return self.fmin_hz * 2 ** ((self.n_bins - 1) / self.bins_per_octave)

    @property
    def n_streams(self):
        return self.frame_size // self.frame_hop

    def stream_frames(self, n_samples):
        """Frames per stream of a clip of `n_samples` (frames_per_clip aside).

        Examples
        --------
        >>> p = CQTParams()
        >>> p.stream_frames(22050), p.stream_frames(1535), p.stream_frames(1536)
        (21, 0, 1)
        """
        # librosa centres frames, giving 1 + len // hop of them; the last one
        # is dropped, leaving len // hop. The last stream is the shortest.
        last = n_samples - (self.n_streams - 1) * self.frame_hop
        return max(last, 0) // self.frame_size

    @property
    def n_frames(self):
        """Frames kept per stream."""
        return self.frames_per_clip or self.stream_frames(self.clip_samples)

    @property
    def frame_shape(self):
        """Shape of one clip's CQT: (n_frames, n_streams, n_bins)."""
        return (self.n_frames, self.n_streams, self.n_bins)

    def as_attrs(self):
        """The settings as HDF5-storable attributes (None as 0 frames)."""
        attrs = dataclasses.asdict(self)
        attrs["fmin"] = str(self.fmin)
        attrs["fmin_hz"] = self.fmin_hz
        attrs["frames_per_clip"] = self.frames_per_clip or 0
        return attrs


def clip_cqt(y, params):
    """CQT magnitudes of one clip's frames, shape ``params.frame_shape``.

    Parameters
    ----------
    y : ndarray of shape (clip_samples,)
        Mono samples (the first `clip_samples` are used).
    params : CQTParams

    Returns
    -------
    ndarray of float32, shape (n_frames, n_streams, n_bins)
        Stream s holds the frames starting at ``s * frame_hop + k * frame_size``.

    Examples
    --------
    A pure tone on bin 40 peaks in bin 40:

    >>> p = CQTParams(clip_samples=22050)
    >>> f = p.fmin_hz * 2 ** (40 / 24)
    >>> y = np.sin(2 * np.pi * f * np.arange(22050) / 22050)
    >>> C = clip_cqt(y, p)
    >>> C.shape, C.dtype, int(C.mean(axis=(0, 1)).argmax())
    ((21, 2, 96), dtype('float32'), 40)
    """
    y = np.asarray(y, dtype=np.float32)
    if y.ndim != 1 or y.size < params.clip_samples:
        raise InputError(
            f"expected a mono clip of at least {params.clip_samples} samples, "
            f"got shape {y.shape}"
        )
    return clips_cqt([y[: params.clip_samples]], params)[0]


def silence_gap(params):
    """Zeros laid between two clips so that their CQTs do not overlap.

    A frame's value depends on the samples within half the longest filter
    of its centre: the lowest bin's, :math:`Q f_s / f_{min}` samples with
    :math:`Q = 1 / (2^{1/b} - 1)` for `b` bins per octave. The gap is that
    length with a quarter more (librosa's filters are slightly longer, and
    the resampling between octaves spreads a little), rounded up to a
    multiple of `frame_size` so that every clip starts on a frame.

    Examples
    --------
    >>> silence_gap(CQTParams())  # 0.74 s at 22,050 Hz
    16384
    """
    q = 1 / (2 ** (1 / params.bins_per_octave) - 1)
    longest = q * params.sample_rate / params.fmin_hz
    need = 1.25 * longest + params.frame_size
    return int(math.ceil(need / params.frame_size)) * params.frame_size


def clips_cqt(ys, params):
    """CQT magnitudes of several clips of any length, each as if in silence.

    Parameters
    ----------
    ys : sequence of ndarray
        Mono clips; every sample is used (no truncation to
        ``clip_samples``).
    params : CQTParams
        ``frames_per_clip`` caps the frames kept per stream.

    Returns
    -------
    list of ndarray of float32, shape (n_frames_i, n_streams, n_bins)
        One per clip, with as many frames per stream as the clip holds
        (see :attr:`CQTParams.n_frames`).

    Examples
    --------
    Two clips in one transform give the frames each gives alone:

    >>> p = CQTParams(clip_samples=22050)
    >>> rng = np.random.default_rng(0)
    >>> a, b = rng.standard_normal(22050), rng.standard_normal(30000)
    >>> both = clips_cqt([a, b], p)
    >>> [c.shape for c in both]
    [(21, 2, 96), (28, 2, 96)]
    >>> bool(np.allclose(both[1], clips_cqt([b], p)[0], atol=1e-6))
    True
    """
    import librosa

    ys = [np.asarray(y, dtype=np.float32) for y in ys]
    counts = [_frames_of(y, params) for y in ys]
    gap, hop = silence_gap(params), params.frame_size
    out = [np.empty((n, params.n_streams, params.n_bins), np.float32) for n in counts]
    for s in range(params.n_streams):
        start = s * params.frame_hop
        lengths = [y.size - start for y in ys]
        # Clip i starts at offsets[i], a multiple of the hop: its frames are
        # columns offsets[i] // hop onwards of the joint transform.
        offsets = gap + np.cumsum([0] + [-(-n // hop) * hop + gap for n in lengths])
        signal = np.zeros(offsets[-1], dtype=np.float32)
        for y, o, n in zip(ys, offsets, lengths, strict=False):
            signal[o : o + n] = y[start:]
        with warnings.catch_warnings(), shared_filters():
            warnings.filterwarnings("ignore", message="n_fft=.* is too large")
            C = librosa.cqt(
                signal,
                sr=params.sample_rate,
                hop_length=hop,
                fmin=params.fmin_hz,
                n_bins=params.n_bins,
                bins_per_octave=params.bins_per_octave,
            )
        for frames, o, n in zip(out, offsets, counts, strict=False):
            np.abs(C[:, o // hop : o // hop + n].T, out=frames[:, s, :])
    return out


def _frames_of(y, params):
    """Frames per stream of a clip of its own length (capped by frames_per_clip)."""
    n = params.stream_frames(y.size)
    return min(params.frames_per_clip, n) if params.frames_per_clip else n


# librosa builds the filter bank of each octave on every call of cqt (its
# own cache is off unless LIBROSA_CACHE_DIR is set): for many short clips
# that costs more than the transforms. They are kept here, per settings.
_FILTERS = {}
_FILTERS_MAX = 64


def build_filters(original, args):
    """Build one octave's filter bank (librosa's builder): counted by tests."""
    return original(*args)


def _filter_key(args):
    return tuple(
        tuple(np.asarray(a).tolist()) if isinstance(a, np.ndarray) else a for a in args
    )


@contextlib.contextmanager
def shared_filters():
    """Within the block, librosa's CQT reuses filter banks already built.

    The bank of each octave depends only on the settings, never on the
    clip; a copy is handed out since librosa rescales it in place.
    """
    import importlib

    module = importlib.import_module("librosa.core.constantq")
    name = "__vqt_filter_fft"  # private: without it, nothing is shared
    original = getattr(module, name, None)
    if original is None or getattr(original, "shared", False):
        yield
        return

    def shared(
        sr,
        freqs,
        filter_scale,
        norm,
        sparsity,
        hop_length=None,
        window="hann",
        gamma=0.0,
        dtype=np.complex64,
        alpha=None,
    ):
        args = (
            sr,
            freqs,
            filter_scale,
            norm,
            sparsity,
            hop_length,
            window,
            gamma,
            dtype,
            alpha,
        )
        key = _filter_key(args)
        if key not in _FILTERS:
            if len(_FILTERS) >= _FILTERS_MAX:
                _FILTERS.clear()
            _FILTERS[key] = build_filters(original, args)
        basis, n_fft, lengths = _FILTERS[key]
        return basis.copy(), n_fft, lengths

    shared.shared = True
    setattr(module, name, shared)
    try:
        yield
    finally:
        setattr(module, name, original)


def interleave(frames):
    """Frames of all streams in time order: (..., n_frames * n_streams, n_bins).

    Consecutive rows start `frame_hop` samples apart, as the study's
    aggregation read them. Returns a view when the input is contiguous.

    Examples
    --------
    >>> F = np.arange(12).reshape(1, 3, 2, 2)  # 1 clip, 3 frames, 2 streams
    >>> interleave(F)[0, :, 0].tolist()
    [0, 2, 4, 6, 8, 10]
    """
    frames = np.asarray(frames)
    return frames.reshape(*frames.shape[:-3], -1, frames.shape[-1])
