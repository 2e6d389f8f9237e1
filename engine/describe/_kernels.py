"""The hand-written numerics of the frame features, and why each one stays.

``bench/features.py`` times every feature family three ways on the demo
library (the thesis's per-section librosa calls, librosa's own feature
functions on one shared spectrogram per track, and ours). A family is
computed by our own code, not by librosa, only where ours was at least 1.5x
faster over the whole chain (issue 15); ``tests/test_features.py`` checks
each one against librosa 0.11's own function. Besides the time-domain
features and flatness (numpy, in :mod:`.frames`), these are:

* :func:`moments` -- the spectral centroid and bandwidth (``spectral_bandwidth``
  alone took librosa longer than our whole chain);
* :func:`rolloff_bins` -- spectral rolloff (a float32 running sum, four rows at a time);
* :func:`pitch_candidates` and :class:`TuningVotes` -- chroma's tuning estimate
  (``piptrack`` + ``estimate_tuning``), gathered block by block;
* :func:`contrast_bands` and :func:`contrast_block` -- spectral contrast's band
  peaks and valleys, kept apart so that their dB floors can be taken over the
  whole track (librosa's single call needs the whole spectrogram at once).

The three compiled kernels are plain Python until :func:`kernels` compiles
them with numba (a test checks compiled == Python, bit for bit).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from ..errors import ParameterError

__all__ = ["Kernels", "kernels", "contrast_bands", "contrast_block", "TuningVotes"]

_CONTRAST_QUANTILE = 0.02  # spectral_contrast peak/valley quantile
TUNING_FMIN = 150.0  # Hz, piptrack range used by chroma_stft's tuning estimate
TUNING_FMAX = 4000.0  # Hz
_TUNING_PEAK_THRESHOLD = 0.1  # piptrack: peaks below 0.1 x the frame maximum are ignored
_TUNING_RESOLUTION = 0.01  # fractions of a chroma bin


# --------------------------------------------------------------------------
# Compiled kernels (plain Python here; see kernels())
# --------------------------------------------------------------------------


def rolloff_bins(mag, fraction, out, running):  # pragma: no cover - compiled by numba
    """First bin where the float32 running sum of each row reaches ``fraction`` of its total.

    Exactly librosa's ``np.cumsum`` (sequential float32) and comparison, but
    four rows at a time so the additions overlap: ~6x faster than np.cumsum.
    ``running`` is scratch space shaped like ``mag``.
    """
    n_frames, n_bins = mag.shape
    t = 0
    while t < n_frames:
        m = min(4, n_frames - t)
        if m == 4:
            a0 = np.float32(0.0)
            a1 = np.float32(0.0)
            a2 = np.float32(0.0)
            a3 = np.float32(0.0)
            for k in range(n_bins):
                a0 += mag[t, k]
                a1 += mag[t + 1, k]
                a2 += mag[t + 2, k]
                a3 += mag[t + 3, k]
                running[t, k] = a0
                running[t + 1, k] = a1
                running[t + 2, k] = a2
                running[t + 3, k] = a3
        else:
            for j in range(m):
                a0 = np.float32(0.0)
                for k in range(n_bins):
                    a0 += mag[t + j, k]
                    running[t + j, k] = a0
        for j in range(m):
            threshold = fraction * running[t + j, n_bins - 1]
            k = 0
            while k < n_bins - 1 and running[t + j, k] < threshold:
                k += 1
            out[t + j] = k
        t += m



def pitch_candidates(power, power_max, lo, hi, sr, n_fft, pitches, mags):  # pragma: no cover
    """librosa.piptrack's peaks within bins ``[lo, hi)`` of a power block; returns their count.

    piptrack(S=power, sr=sr, fmin=150, fmax=4000, threshold=0.1), as called by
    chroma_stft's tuning estimate, with its mixed arithmetic reproduced
    exactly (float32 power, a numba stencil that promotes ``2 * x`` and ``/ 2``
    to float64, float32 outputs), so the estimated tuning is the same.
    """
    count = 0
    for t in range(power.shape[0]):
        ref = np.float32(_TUNING_PEAK_THRESHOLD) * power_max[t]
        for k in range(lo, hi):
            left = power[t, k - 1]
            centre = power[t, k]
            right = power[t, k + 1]
            c = centre if centre > ref else np.float32(0.0)
            if c > (left if left > ref else np.float32(0.0)) and c >= (right if right > ref else np.float32(0.0)):
                a = np.float64(right + left) - 2.0 * np.float64(centre)
                b = np.float64(right - left) / 2.0
                shift = np.float32(0.0) if abs(b) >= abs(a) else np.float32(-b / a)
                gradient = (right - left) / np.float32(2.0)
                mags[count] = centre + np.float32(0.5) * gradient * shift
                pitches[count] = np.float32((k + np.float64(shift)) * np.float64(sr) / n_fft)
                count += 1
    return count



def moments(mag, freq, out):  # pragma: no cover - compiled by numba
    """Per row of ``mag``: sum S, sum S f and sum S f^2, in float64.

    Compiled with fastmath: the float64 sums may be reassociated (vectorised),
    which changes them by ~1e-16 relative.
    """
    for t in range(mag.shape[0]):
        m0 = 0.0
        m1 = 0.0
        m2 = 0.0
        for k in range(mag.shape[1]):
            s = np.float64(mag[t, k])
            f = freq[k]
            m0 += s
            m1 += s * f
            m2 += s * f * f
        out[t, 0] = m0
        out[t, 1] = m1
        out[t, 2] = m2


@dataclass(frozen=True)
class Kernels:
    """The compiled versions of :func:`rolloff_bins`, :func:`moments` and :func:`pitch_candidates`."""

    rolloff: object
    moments: object
    pitch_candidates: object


# Cached: compiling costs a second or two per process; numba also keeps the
# machine code next to this file (cache=True, under __pycache__), so later
# processes load it in milliseconds.
@lru_cache(maxsize=1)
def kernels() -> Kernels:
    """The kernels compiled with numba (once per process; nogil, cached on disk when possible)."""
    import numba  # a librosa dependency

    def jit(func, **options):
        try:
            return numba.njit(nogil=True, cache=True, **options)(func)
        except RuntimeError:  # no writable cache location: compile in every process
            return numba.njit(nogil=True, **options)(func)

    return Kernels(
        rolloff=jit(rolloff_bins),
        moments=jit(moments, fastmath=True),
        pitch_candidates=jit(pitch_candidates),
    )


# --------------------------------------------------------------------------
# Spectral contrast and the tuning estimate
# --------------------------------------------------------------------------


def contrast_bands(freq: np.ndarray, sr: int, fmin: float, n_bands: int) -> tuple:
    """librosa.feature.spectral_contrast's octave bands as contiguous bin ranges.

    Mirrors librosa's construction line by line (including the extra bin below
    each band, the last band running to Nyquist and the dropped top bin of the
    other bands), so the sorted sub-bands are the same.
    """
    if fmin <= 0:
        raise ParameterError(f"contrast_fmin must be positive, got {fmin}")
    octa = np.zeros(n_bands + 2)
    octa[1:] = fmin * (2.0 ** np.arange(0, n_bands + 1))
    if np.any(octa[:-1] >= 0.5 * sr):
        raise ParameterError(
            f"spectral contrast bands from {fmin} Hz over {n_bands} octaves exceed Nyquist ({sr / 2} Hz); "
            "reduce contrast_fmin or n_contrast_bands"
        )
    bands = []
    for k, (f_low, f_high) in enumerate(zip(octa[:-1], octa[1:])):
        current = np.logical_and(freq >= f_low, freq <= f_high)
        idx = np.flatnonzero(current)
        if idx.size == 0 or (k > 0 and idx[0] == 0):
            raise ParameterError(
                f"spectral contrast band {k + 1} ({f_low:.0f}-{f_high:.0f} Hz) holds no STFT bin; raise n_fft"
            )
        if k > 0:
            current[idx[0] - 1] = True
        if k == n_bands:
            current[idx[-1] + 1 :] = True
        rows = np.flatnonzero(current)
        if k < n_bands:
            rows = rows[:-1]
        if rows.size == 0:
            raise ParameterError(f"spectral contrast band {k + 1} is empty at n_fft={2 * (freq.size - 1)}; raise n_fft")
        q = int(max(np.rint(_CONTRAST_QUANTILE * np.sum(current)), 1))
        bands.append((int(rows[0]), int(rows[-1]) + 1, q))
    return tuple(bands)



def contrast_block(mag: np.ndarray, bands: tuple, covers_all: bool, peak: np.ndarray, valley: np.ndarray) -> np.ndarray:
    """Spectral contrast's band peaks and valleys of one block; returns each frame's largest magnitude.

    Peak and valley are the means of the q largest / smallest magnitudes in each band
    (``bands`` from :func:`contrast_bands`; ``covers_all``: do they hold every bin?).
    """
    frame_max = np.zeros(mag.shape[0], dtype=np.float32)
    for k, (b_lo, b_hi, q) in enumerate(bands):
        band = mag[:, b_lo:b_hi]
        if q == 1:
            band_max = band.max(axis=1)
            valley[:, k] = band.min(axis=1)
            peak[:, k] = band_max
        else:
            # Magnitudes are >= +0.0, where IEEE floats order like their int32 bit
            # patterns, and numpy sorts int32 ~25 % faster than float32.
            ordered = np.sort(band.view(np.int32), axis=1).view(np.float32)
            band_max = ordered[:, -1]
            valley[:, k] = ordered[:, :q].mean(axis=1)
            peak[:, k] = ordered[:, -q:].mean(axis=1)
        np.maximum(frame_max, band_max, out=frame_max)
    return frame_max if covers_all else mag.max(axis=1)



class TuningVotes:
    """chroma_stft's tuning estimate (librosa.estimate_tuning on piptrack's peaks), gathered by block.

    librosa keeps the peaks whose magnitude reaches the median magnitude of all
    peaks, and returns the most common deviation of their frequencies from the
    equal-tempered scale (a histogram of ``1 / resolution`` bins over
    -0.5..0.5 chroma bins, its left edge). The median needs every magnitude, so
    each peak is kept as its magnitude and its histogram bin (5 bytes), with
    the deviation computed per block exactly as ``librosa.pitch_tuning`` does.
    """

    def __init__(self, n_chroma: int) -> None:
        self.n_chroma = n_chroma
        self.edges = np.linspace(-0.5, 0.5, int(np.ceil(1.0 / _TUNING_RESOLUTION)) + 1)
        self.mags: list[np.ndarray] = []
        self.bins: list[np.ndarray] = []

    def add(self, pitches: np.ndarray, mags: np.ndarray) -> None:
        """Count one block's peaks (frequencies in Hz and magnitudes, float32)."""
        import librosa

        keep = pitches > 0
        residual = np.mod(self.n_chroma * librosa.hz_to_octs(pitches[keep]), 1.0)
        residual[residual >= 0.5] -= 1.0
        # np.histogram's bins: edges[i] <= x < edges[i + 1], the last one closed
        index = np.searchsorted(self.edges, residual, side="right") - 1
        np.minimum(index, self.edges.size - 2, out=index)
        self.mags.append(mags[keep].copy())
        self.bins.append(index.astype(np.uint8 if self.edges.size <= 256 else np.int64))

    def estimate(self) -> float:
        """The tuning in fractions of a chroma bin (0.0 when no peak was found)."""
        mags = np.concatenate(self.mags) if self.mags else np.zeros(0, np.float32)
        if mags.size == 0:
            return 0.0
        chosen = mags >= np.median(mags)
        if not chosen.any():
            return 0.0
        counts = np.bincount(np.concatenate(self.bins)[chosen], minlength=self.edges.size - 1)
        return float(self.edges[np.argmax(counts)])

