"""The one short-time Fourier transform of the engine, one block of frames at a time.

Every spectrogram in the engine -- the classical frame features
(:mod:`engine.describe.frames`), the drawn log-frequency spectrograms
(:mod:`.spectrogram`) and musicnn's log-mel input (:mod:`engine.neural.musicnn`)
-- is ``librosa.stft(y, n_fft=n_fft, hop_length=hop_length, window="hann",
center=True, pad_mode="constant")``: a periodic Hann window, frame ``i``
centred on sample ``i * hop_length``, zeros beyond the signal, so
``1 + n_samples // hop_length`` frames. Here it is computed for frames
``a .. b-1`` at a time (:func:`frame_samples` cuts their samples, zero padding
included; :func:`spectrum` transforms them with ``center=False``), so a long
track never needs its whole spectrogram in memory; the values are librosa's
whole-track ones bit for bit.

It is librosa's own transform rather than a hand-written one because
``bench/features.py`` found no speed to gain: a hand-written float64
transform with reused buffers was ~1.3x faster per block, and the rule of
issue 15 keeps a hand-written kernel only where it is at least 1.5x faster.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np

from ..errors import ParameterError

__all__ = ["frame_count", "frame_samples", "spectrum", "power_blocks"]


def frame_count(n_samples: int, *, hop_length: int) -> int:
    """Frames of a centred STFT of ``n_samples`` samples: ``1 + n_samples // hop_length``."""
    return 1 + int(n_samples) // int(hop_length)


def frame_samples(
    y: np.ndarray,
    first: int,
    stop: int,
    *,
    n_fft: int,
    hop_length: int,
    edge: bool = False,
    out: np.ndarray | None = None,
) -> tuple[int, np.ndarray]:
    """The samples under frames ``first .. stop-1`` of the centred signal.

    Parameters
    ----------
    y : np.ndarray [shape=(n_samples,)]
        Mono audio (or anything indexable like it, such as a
        :class:`~engine.audio.decode.SignalFile`).
    first, stop : int
        Frames ``first <= i < stop``; frame ``i`` is centred on sample
        ``i * hop_length``.
    n_fft, hop_length : int
        Frame length and frame step, samples.
    edge : bool
        Pad beyond the signal with repeats of its first/last sample
        (``pad_mode="edge"``, as ``librosa.feature.zero_crossing_rate``
        does) instead of zeros (``pad_mode="constant"``, as ``librosa.stft``).
    out : np.ndarray, optional
        Buffer of at least ``(stop - first - 1) * hop_length + n_fft``
        samples to fill (its dtype is kept); default: a new float32 array.

    Returns
    -------
    lo : int
        The index into ``y`` of the segment's first sample (negative at the
        start, where padding comes first).
    seg : np.ndarray [shape=((stop - first - 1) * hop_length + n_fft,)]
        The samples (a view of ``out``).
    """
    size = (stop - first - 1) * hop_length + n_fft
    seg = np.empty(size, dtype=np.float32) if out is None else out[:size]
    lo = first * hop_length - n_fft // 2
    n = y.shape[0]
    a, b = max(lo, 0), min(lo + size, n)
    seg[a - lo : b - lo] = y[a:b]
    seg[: a - lo] = y[0] if edge else 0.0
    seg[b - lo :] = y[-1] if edge else 0.0
    return lo, seg


def spectrum(seg: np.ndarray, *, n_fft: int, hop_length: int) -> np.ndarray:
    """The STFT of the frames lying whole inside ``seg``, time along the first axis.

    Parameters
    ----------
    seg : np.ndarray [shape=(n_samples,)], float32
        Samples as :func:`frame_samples` cuts them (at least ``n_fft``).
    n_fft, hop_length : int
        Frame length and step, samples.

    Returns
    -------
    np.ndarray [shape=(1 + (n_samples - n_fft) // hop_length, n_fft // 2 + 1)], complex64
        ``librosa.stft(seg, n_fft=n_fft, hop_length=hop_length, center=False).T``
        (C-contiguous: librosa returns Fortran order).
    """
    import librosa  # imported here: only the spectral stages need it

    return librosa.stft(seg, n_fft=n_fft, hop_length=hop_length, window="hann", center=False).T


def power_blocks(y: np.ndarray, *, n_fft: int, hop_length: int, block: int) -> Iterator[tuple[int, np.ndarray]]:
    """The power spectrogram of a centred STFT, ``block`` frames at a time.

    Parameters
    ----------
    y : np.ndarray [shape=(n_samples,)], float32
        Mono audio.
    n_fft, hop_length : int
        Frame length and step, samples.
    block : int
        Frames per block (bounds the memory held at once).

    Yields
    ------
    first : int
        The block's first frame.
    power : np.ndarray [shape=(n, n_fft // 2 + 1)], float32
        ``|STFT|**2`` of frames ``first .. first + n - 1``.

    Raises
    ------
    ParameterError
        If ``block`` or ``hop_length`` is not positive or ``n_fft`` is below 2.
    """
    if block < 1 or hop_length < 1 or n_fft < 2:
        raise ParameterError(f"need block >= 1, hop_length >= 1 and n_fft >= 2; got {block}, {hop_length}, {n_fft}")
    n_frames = frame_count(y.shape[0], hop_length=hop_length)
    buf = np.empty((block - 1) * hop_length + n_fft, dtype=np.float32)
    for a in range(0, n_frames, block):
        b = min(a + block, n_frames)
        _, seg = frame_samples(y, a, b, n_fft=n_fft, hop_length=hop_length, out=buf)
        mag = np.abs(spectrum(seg, n_fft=n_fft, hop_length=hop_length))
        yield a, np.square(mag, out=mag)
