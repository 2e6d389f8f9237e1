"""Read one section of a file, and draw-ready log-frequency spectrograms of it.

The app plays and shows single sections; decoding a whole five-minute track
for fifteen seconds of it would waste most of the work, so
:func:`read_section` seeks to the section (libsndfile seeks in WAV, FLAC,
AIFF, OGG Vorbis, Opus and MP3) and falls back to reading from the start
when a file cannot seek.

:func:`log_spectrogram` maps the power of the engine's one STFT
(:mod:`.stft`) onto log-spaced frequency bands
(``bins_per_octave`` per octave from ``fmin``): bands wide enough to hold
STFT bins average them, narrower low bands interpolate between the two
nearest bins. A musical pitch axis without the cost of a constant-Q
transform; the result is small enough to draw as a heat map.
"""

from __future__ import annotations

import io
import os
from pathlib import Path

import numpy as np
import soundfile as sf

from ..errors import DecodeError, ParameterError
from ..records import Clip, Spectrogram
from .stft import frame_count, power_blocks

__all__ = [
    "DRAW_SAMPLE_RATE",
    "read_section",
    "clip_to_wav",
    "clip_to_ogg",
    "log_frequency_filters",
    "log_spectrogram",
    "section_spectrogram",
]

#: Rate the spectrograms are computed at (Hz): enough for 11 kHz of content.
DRAW_SAMPLE_RATE = 22_050
_MAX_SECTION_S = 600.0  # refuse to read more than ten minutes as "one section"
_BLOCK_FRAMES = 1024  # STFT frames per block (bounds the complex spectrum held at once)


def read_section(
    path: str | os.PathLike,
    *,
    start_s: float,
    end_s: float,
    sample_rate: int | None = None,
    mono: bool = True,
    name: str | None = None,
) -> Clip:
    """Read ``start_s`` to ``end_s`` seconds of a file.

    Parameters
    ----------
    path : str or os.PathLike
        Any file libsndfile reads.
    start_s, end_s : float
        The section in seconds; ``end_s`` past the file's end is clipped.
    sample_rate : int, optional
        Resample to this rate (soxr HQ); default: the file's own rate.
    mono : bool
        Mix the channels down (mean); otherwise keep them.
    name : str, optional
        Display name for messages (default: the file name).

    Returns
    -------
    Clip
        ``y`` float32 [shape=(n,)] (mono) or [shape=(n, channels)].

    Raises
    ------
    ParameterError
        For times outside ``0 <= start < end`` or longer than ten minutes.
    DecodeError
        If the file is missing, unreadable, or the section lies past its end.
    """
    label = name or Path(path).name
    start_s, end_s = float(start_s), float(end_s)
    if not (np.isfinite(start_s) and np.isfinite(end_s) and 0.0 <= start_s < end_s):
        raise ParameterError(f"section times must satisfy 0 <= start < end, got {start_s}..{end_s}")
    if end_s - start_s > _MAX_SECTION_S:
        raise ParameterError(f"a section longer than {_MAX_SECTION_S:.0f} s was asked for ({end_s - start_s:.0f} s)")
    if sample_rate is not None and not 1_000 <= int(sample_rate) <= 384_000:
        raise ParameterError(f"sample_rate must be in 1000..384000 Hz, got {sample_rate}")
    if not Path(path).is_file():
        raise DecodeError(label, "missing", "the file is no longer where it was analysed")
    try:
        with sf.SoundFile(path) as snd:
            native = int(snd.samplerate)
            total = int(snd.frames)
            first = int(round(start_s * native))
            count = int(round((end_s - start_s) * native))
            if total > 0 and first >= total:
                raise DecodeError(label, "too-short", f"the file ends before {start_s:.1f} s")
            data = _read_frames(snd, first, count)
    except DecodeError:
        raise
    except (sf.LibsndfileError, RuntimeError, ValueError, TypeError, OSError) as exc:
        raise DecodeError(label, "not-audio", f"cannot read the section ({exc})") from exc
    if data.shape[0] == 0:
        raise DecodeError(label, "empty", f"no audio between {start_s:.1f} and {end_s:.1f} s")
    y = data.mean(axis=1) if mono else data
    y = np.ascontiguousarray(y, dtype=np.float32)
    rate = native
    if sample_rate is not None and int(sample_rate) != native:
        import soxr

        y = soxr.resample(y, native, int(sample_rate), quality="HQ").astype(np.float32)
        rate = int(sample_rate)
    if not np.isfinite(y).all():
        raise DecodeError(label, "non-finite", "the section holds NaN or infinite samples")
    return Clip(y=y, sample_rate=rate, start_s=start_s, end_s=start_s + data.shape[0] / native, name=label)


def _read_frames(snd: sf.SoundFile, first: int, count: int) -> np.ndarray:
    """``count`` frames from frame ``first`` on, [shape=(n, channels)] float32."""
    if snd.seekable():
        try:
            snd.seek(first)
            return snd.read(count, dtype="float32", always_2d=True)
        except (sf.LibsndfileError, RuntimeError):
            pass  # a stream that claims to seek but cannot: read from the start below
    snd_pos = 0
    if snd.seekable():
        try:
            snd.seek(0)
        except (sf.LibsndfileError, RuntimeError):
            pass
    block = 1 << 16
    while snd_pos < first:
        got = snd.read(min(block, first - snd_pos), dtype="float32", always_2d=True)
        if got.shape[0] == 0:
            return np.zeros((0, snd.channels), np.float32)
        snd_pos += got.shape[0]
    return snd.read(count, dtype="float32", always_2d=True)


def clip_to_wav(clip: Clip) -> bytes:
    """Encode a clip as a 16-bit PCM WAV file (for a browser's audio player).

    Parameters
    ----------
    clip : Clip

    Returns
    -------
    bytes
        A complete WAV file; samples beyond [-1, 1] are clipped.
    """
    buf = io.BytesIO()
    sf.write(buf, np.clip(clip.y, -1.0, 1.0), clip.sample_rate, format="WAV", subtype="PCM_16")
    return buf.getvalue()


def clip_to_ogg(clip: Clip, *, quality: float = 0.4) -> bytes:
    """Encode a clip as OGG Vorbis: about a tenth of the WAV's size, for players that carry the audio inline.

    Parameters
    ----------
    clip : Clip
    quality : float
        Vorbis quality in [0, 1] (0.4: about 128 kbit/s for stereo music).

    Returns
    -------
    bytes
        A complete OGG file.
    """
    y = np.clip(clip.y, -1.0, 1.0)
    channels = 1 if y.ndim == 1 else y.shape[1]
    buf = io.BytesIO()
    with sf.SoundFile(buf, "w", clip.sample_rate, channels, format="OGG", subtype="VORBIS", compression_level=1.0 - float(quality)) as out:
        # in blocks: one write of about a minute of stereo crashes libsndfile's Vorbis encoder (a segfault)
        for i in range(0, y.shape[0], _OGG_BLOCK):
            out.write(y[i : i + _OGG_BLOCK])
    return buf.getvalue()


_OGG_BLOCK = 32_768  # frames per write in clip_to_ogg


def log_frequency_filters(
    *, sample_rate: int, n_fft: int, fmin: float = 32.70, fmax: float | None = None, bins_per_octave: int = 24
) -> tuple[np.ndarray, np.ndarray]:
    """Weights that map STFT bins onto log-spaced bands.

    Parameters
    ----------
    sample_rate : int
        Hz.
    n_fft : int
        STFT size; there are ``n_fft // 2 + 1`` bins.
    fmin : float
        Centre of the lowest band, Hz (default C1, 32.7 Hz).
    fmax : float, optional
        Highest band centre at most this, Hz; default ``sample_rate / 2``.
    bins_per_octave : int
        Bands per octave.

    Returns
    -------
    weights : np.ndarray [shape=(n_bands, n_fft // 2 + 1)], float32
        Each row sums to 1.
    freqs : np.ndarray [shape=(n_bands,)], float64
        Band centres in Hz.

    Raises
    ------
    ParameterError
        If the range is empty or settings are out of range.
    """
    nyquist = sample_rate / 2.0
    fmax = nyquist if fmax is None else min(float(fmax), nyquist)
    if not 0 < fmin < fmax:
        raise ParameterError(f"need 0 < fmin < fmax <= {nyquist:g} Hz, got fmin={fmin}, fmax={fmax}")
    if not 1 <= bins_per_octave <= 96:
        raise ParameterError(f"bins_per_octave must be in 1..96, got {bins_per_octave}")
    if n_fft < 16:
        raise ParameterError(f"n_fft must be >= 16, got {n_fft}")
    n_bands = int(np.floor(bins_per_octave * np.log2(fmax / fmin))) + 1
    freqs = fmin * 2.0 ** (np.arange(n_bands) / bins_per_octave)
    bin_hz = sample_rate / n_fft
    n_bins = n_fft // 2 + 1
    fft_freqs = np.arange(n_bins) * bin_hz
    half = 2.0 ** (0.5 / bins_per_octave)
    weights = np.zeros((n_bands, n_bins), np.float32)
    for i, fc in enumerate(freqs):
        inside = np.flatnonzero((fft_freqs >= fc / half) & (fft_freqs < fc * half))
        if inside.size:
            weights[i, inside] = 1.0 / inside.size
        else:  # narrower than one bin: linear interpolation between the neighbours
            pos = min(fc / bin_hz, n_bins - 1.0)
            lo = int(np.floor(pos))
            hi = min(lo + 1, n_bins - 1)
            frac = pos - lo
            weights[i, lo] += 1.0 - frac
            weights[i, hi] += frac
    return weights, freqs


def log_spectrogram(
    y: np.ndarray,
    *,
    sample_rate: int,
    n_fft: int = 2048,
    hop_length: int = 512,
    fmin: float = 32.70,
    bins_per_octave: int = 24,
    top_db: float = 80.0,
) -> Spectrogram:
    """Power spectrogram on a log-frequency axis, in dB.

    Parameters
    ----------
    y : np.ndarray [shape=(n_samples,)]
        Mono audio.
    sample_rate : int
        Rate of ``y`` in Hz.
    n_fft, hop_length : int
        STFT settings (Hann window, centred frames).
    fmin : float
        Lowest band centre, Hz.
    bins_per_octave : int
        Bands per octave.
    top_db : float
        Dynamic range kept below the loudest cell.

    Returns
    -------
    Spectrogram
        ``db`` [shape=(n_bands, n_frames)].

    Raises
    ------
    ParameterError
        For non-mono, empty or non-finite audio, or bad settings.
    """
    y = np.asarray(y)
    if y.ndim != 1 or y.size == 0:
        raise ParameterError(f"audio must be a non-empty mono 1-D array, got shape {y.shape}")
    if not np.isfinite(y).all():
        raise ParameterError("audio holds NaN or infinite samples")
    if hop_length < 1 or hop_length > n_fft:
        raise ParameterError(f"hop_length must be in 1..n_fft, got {hop_length}")
    if not top_db > 0:
        raise ParameterError(f"top_db must be positive, got {top_db}")
    weights, freqs = log_frequency_filters(sample_rate=sample_rate, n_fft=n_fft, fmin=fmin, bins_per_octave=bins_per_octave)
    n_frames = frame_count(y.shape[0], hop_length=hop_length)
    bands = np.empty((weights.shape[0], n_frames), dtype=np.float32)
    for first, power in power_blocks(y.astype(np.float32), n_fft=n_fft, hop_length=hop_length, block=_BLOCK_FRAMES):
        bands[:, first : first + power.shape[0]] = weights @ power.T
    ref = float(bands.max()) if bands.size and bands.max() > 0 else 1.0
    db = 10.0 * np.log10(np.maximum(bands, 1e-12) / ref)
    db = np.maximum(db, -float(top_db)).astype(np.float32)
    times = np.arange(n_frames) * hop_length / sample_rate
    return Spectrogram(db=db, freqs_hz=freqs, times_s=times, sample_rate=int(sample_rate), top_db=float(top_db))


def section_spectrogram(
    path: str | os.PathLike,
    *,
    start_s: float,
    end_s: float,
    sample_rate: int = DRAW_SAMPLE_RATE,
    name: str | None = None,
    **options,
) -> Spectrogram:
    """Read a section of a file and return its log-frequency spectrogram.

    Parameters
    ----------
    path : str or os.PathLike
    start_s, end_s : float
        The section, seconds.
    sample_rate : int
        Rate to analyse at (default :data:`DRAW_SAMPLE_RATE`).
    name : str, optional
        Display name for messages.
    **options
        Passed to :func:`log_spectrogram`.

    Returns
    -------
    Spectrogram
        Times count from the section's start.

    Raises
    ------
    ParameterError, DecodeError
        As :func:`read_section` and :func:`log_spectrogram`.
    """
    clip = read_section(path, start_s=start_s, end_s=end_s, sample_rate=sample_rate, mono=True, name=name)
    return log_spectrogram(clip.y, sample_rate=clip.sample_rate, **options)
