"""Decode any audio file libsndfile reads into mono float32 at the analysis rate.

Files are read through :mod:`soundfile` in blocks, mixed to mono block by
block and resampled with a streaming :mod:`soxr` resampler straight into one
output array, sized from the header's frame count (grown in place only when
the header is wrong). So memory is one copy of the decoded signal, and never
more than the duration limit allows, whatever a header declares.

Every way a file can be bad ends in a :class:`~engine.errors.DecodeError`
that names the file and gives a reason code from
:data:`~engine.errors.DECODE_REASONS`; nothing else escapes.
"""

from __future__ import annotations

import hashlib
import os
import struct
from pathlib import Path

import numpy as np
import soundfile as sf
import soxr

from .config import DecodeConfig
from .errors import DecodeError, ParameterError
from .records import Audio, Track

__all__ = ["file_digest", "decode_file", "AUDIO_SUFFIXES", "is_audio_name"]

#: File name endings offered to the decoder when scanning folders.
AUDIO_SUFFIXES = (".wav", ".wave", ".flac", ".ogg", ".oga", ".opus", ".mp3", ".aif", ".aiff", ".aifc")

_BLOCK_FRAMES = 1 << 18  # frames per decoded block (~6 s at 44.1 kHz)
_HASH_CHUNK = 1 << 20  # bytes per read when hashing


def is_audio_name(name: str) -> bool:
    """True when ``name`` ends in one of :data:`AUDIO_SUFFIXES` (case-insensitive)."""
    return name.lower().endswith(AUDIO_SUFFIXES)


def file_digest(path: str | os.PathLike) -> str:
    """Return the sha256 hex digest of a file's bytes: CrateMap's ``track_id``.

    Parameters
    ----------
    path : str or os.PathLike
        The file to hash.

    Returns
    -------
    str
        64 hex digits.

    Raises
    ------
    DecodeError
        ``missing`` if the file cannot be opened.
    """
    h = hashlib.sha256()
    try:
        with open(path, "rb") as fh:
            for chunk in iter(lambda: fh.read(_HASH_CHUNK), b""):
                h.update(chunk)
    except OSError as exc:
        raise DecodeError(str(path), "missing", f"cannot read the file ({exc.strerror or exc})") from exc
    return h.hexdigest()


def _declared_shortfall(path: Path) -> int:
    """Bytes a RIFF/RF64/AIFF header promises for its audio data but the file lacks.

    libsndfile quietly clamps a truncated WAV to what is there; this reads the
    chunk headers (never the data) so a cut file is reported as truncated.
    Returns 0 for other formats or when the header is consistent.
    """
    size = path.stat().st_size
    with open(path, "rb") as fh:
        head = fh.read(12)
        if len(head) < 12:
            return 0
        kind, form = head[:4], head[8:12]
        if kind in (b"RIFF", b"RIFX") and form == b"WAVE":
            endian, data_id, align = ("<" if kind == b"RIFF" else ">"), b"data", True
        elif kind == b"FORM" and form in (b"AIFF", b"AIFC"):
            endian, data_id, align = ">", b"SSND", True
        else:
            return 0
        pos = 12
        for _ in range(1000):  # bounded walk over chunk headers
            fh.seek(pos)
            hdr = fh.read(8)
            if len(hdr) < 8:
                return 0
            cid, clen = hdr[:4], struct.unpack(endian + "I", hdr[4:])[0]
            if cid == data_id:
                return max(0, pos + 8 + clen - size)
            pos += 8 + clen + (clen & 1 if align else 0)
            if pos >= size:
                return 0
    return 0


def decode_file(
    path: str | os.PathLike,
    *,
    sample_rate: int = 44_100,
    config: DecodeConfig = DecodeConfig(),
    name: str | None = None,
    min_seconds: float = 0.0,
    track_id: str | None = None,
) -> Audio:
    """Decode one file to mono float32 at ``sample_rate``.

    Parameters
    ----------
    path : str or os.PathLike
        The file. Any format libsndfile reads: WAV (8/16/24/32-bit integer,
        32/64-bit float), FLAC, OGG Vorbis, Opus, MP3, AIFF.
    sample_rate : int
        Target rate in Hz; the file is resampled with soxr (HQ) when it differs.
    config : DecodeConfig
        Size, duration, sample-rate and channel limits.
    name : str, optional
        Display name for messages and the record (default: the file name).
    min_seconds : float
        Refuse audio shorter than this (``too-short``), e.g. one section.
    track_id : str, optional
        The file's sha256 when the caller already has it.

    Returns
    -------
    Audio
        ``y`` is float32 [shape=(n_samples,)] at ``sample_rate``.

    Raises
    ------
    DecodeError
        With reason ``missing``, ``too-large``, ``empty``, ``not-audio``,
        ``bad-sample-rate``, ``bad-channels``, ``truncated``, ``too-long``
        (over ``config.max_seconds``: refused from the header's frame count
        before decoding where the format gives one, else as soon as the
        decoded audio passes the limit), ``non-finite``, ``silent`` or
        ``too-short``.
    ParameterError
        If ``sample_rate`` itself is out of range.
    """
    if not config.min_sample_rate <= sample_rate <= config.max_sample_rate:
        raise ParameterError(f"target sample_rate {sample_rate} Hz is outside the allowed range")
    path = Path(path)
    label = name or path.name
    if not path.is_file():
        raise DecodeError(label, "missing", "the file does not exist or is not a regular file")
    n_bytes = path.stat().st_size
    if n_bytes == 0:
        raise DecodeError(label, "empty", "the file is empty (0 bytes)")
    if n_bytes > config.max_file_bytes:
        raise DecodeError(
            label,
            "too-large",
            f"the file is {n_bytes / 2**20:.0f} MB, over the {config.max_file_bytes / 2**20:.0f} MB limit",
        )
    if track_id is None:
        track_id = file_digest(path)

    try:
        snd = sf.SoundFile(path)
    except (sf.LibsndfileError, RuntimeError, ValueError, TypeError) as exc:
        raise DecodeError(label, "not-audio", f"not an audio file libsndfile can read ({_short(exc)})") from exc
    with snd:
        native_sr, channels = int(snd.samplerate), int(snd.channels)
        fmt = f"{snd.format}/{snd.subtype}"
        if not config.min_sample_rate <= native_sr <= config.max_sample_rate:
            raise DecodeError(
                label,
                "bad-sample-rate",
                f"sample rate {native_sr} Hz is outside {config.min_sample_rate}-{config.max_sample_rate} Hz",
            )
        if not 1 <= channels <= config.max_channels:
            raise DecodeError(label, "bad-channels", f"{channels} channels (allowed: 1-{config.max_channels})")
        shortfall = _declared_shortfall(path)
        if shortfall:
            raise DecodeError(label, "truncated", f"the header promises {shortfall} more bytes of audio than the file holds")
        declared = _declared_frames(snd)
        if declared > config.max_seconds * native_sr:
            raise _too_long(label, declared / native_sr, config.max_seconds)
        y = _read_mono(snd, label, native_sr, sample_rate, declared=declared, max_seconds=config.max_seconds)

    if y.size == 0:
        raise DecodeError(label, "empty", "the file holds no audio samples")
    if not (np.isfinite(y.min()) and np.isfinite(y.max())):  # min/max propagate NaN; no n-sized temporary
        raise DecodeError(label, "non-finite", "the audio contains NaN or infinite samples")
    if not np.any(y):
        raise DecodeError(label, "silent", "the audio is digital silence throughout")
    duration = y.size / sample_rate
    if duration < min_seconds:
        raise DecodeError(label, "too-short", f"{duration:.2f} s of audio is shorter than one section ({min_seconds:g} s)")
    track = Track(
        track_id=track_id,
        name=label,
        duration_s=duration,
        native_sample_rate=native_sr,
        channels=channels,
        format=fmt,
        n_bytes=n_bytes,
        path=str(path),
    )
    return Audio(track=track, y=y, sample_rate=sample_rate)


def _read_mono(snd: sf.SoundFile, label: str, native_sr: int, sample_rate: int, *, declared: int, max_seconds: float) -> np.ndarray:
    """Read every block, mix to mono, resample as a stream into one array; return float32.

    The output array is allocated once, from ``declared`` (the header's frame
    count; 0 when unknown) and the resampling ratio, and filled in place; if
    the header was wrong it grows (and finally shrinks) with ``ndarray.resize``,
    a ``realloc`` that moves large blocks without a second copy. Zero blocks
    before the first sound are only counted, so a long silent file is refused
    as ``silent`` without ever holding its samples. Decoding stops as soon as
    more than ``max_seconds`` of audio has come out (``too-long``).
    """
    resampler = None if native_sr == sample_rate else soxr.ResampleStream(native_sr, sample_rate, 1, dtype="float32", quality="HQ")
    limit = int(max_seconds * native_sr)  # native frames
    out = _Output(expected=int(np.ceil(min(declared, limit) * sample_rate / native_sr)) + _SLACK)
    read = 0
    try:
        for block in snd.blocks(blocksize=_BLOCK_FRAMES, dtype="float32", always_2d=True):
            read += block.shape[0]
            if read > limit:
                raise _too_long(label, read / native_sr, max_seconds, read_so_far=True)
            mono = _mix_down(block)
            if not (np.isfinite(mono.min()) and np.isfinite(mono.max())):
                # refused here, by name: soxr would smear NaN or inf over the neighbouring samples
                raise DecodeError(label, "non-finite", "the audio contains NaN or infinite samples")
            out.append(mono if resampler is None else resampler.resample_chunk(mono))
        if resampler is not None:
            out.append(resampler.resample_chunk(np.zeros(0, np.float32), last=True))
    except (sf.LibsndfileError, RuntimeError) as exc:
        raise DecodeError(label, "truncated", f"decoding stopped part-way ({_short(exc)})") from exc
    if out.size == 0:
        return np.zeros(0, np.float32)
    if out.y is None:
        raise DecodeError(label, "silent", "the audio is digital silence throughout")
    return out.finish()


def _declared_frames(snd: sf.SoundFile) -> int:
    """The frame count the file's header gives (0 when it gives none)."""
    frames = int(snd.frames)
    return frames if 0 < frames < 2**62 else 0


#: Samples of room beyond the expected output length (soxr's stream may give a few more).
_SLACK = 1024


class _Output:
    """The decoded signal, appended block by block into one growing float32 array.

    Leading silence is only counted (``size``) until the first block with a
    non-zero sample arrives; then the array is allocated, zero-filled, at its
    expected length (or longer, to hold the silence counted so far).
    """

    def __init__(self, expected: int) -> None:
        self.expected = expected
        self.y: np.ndarray | None = None
        self.size = 0  # samples appended, the leading zeros included

    def append(self, block: np.ndarray) -> None:
        """Add ``block`` (float32 [n]) after the samples so far."""
        if self.y is None:
            if not block.any():
                self.size += block.size
                return
            self.y = np.zeros(max(self.expected, self.size + block.size), dtype=np.float32)
        end = self.size + block.size
        if end > self.y.size:  # the header under-counted (or gave no length): grow by half
            self.y.resize(max(end, self.y.size + self.y.size // 2), refcheck=False)
        self.y[self.size : end] = block
        self.size = end

    def finish(self) -> np.ndarray:
        """The filled part, trimmed in place."""
        y = self.y
        self.y = None
        if y.size != self.size:
            y.resize(self.size, refcheck=False)
        return y


def _too_long(label: str, seconds: float, max_seconds: float, *, read_so_far: bool = False) -> DecodeError:
    """The ``too-long`` error, from the header's length or from what was decoded so far."""
    what = f"more than {_clock(seconds)} of audio was decoded" if read_so_far else f"the header says {_clock(seconds)} of audio"
    return DecodeError(label, "too-long", f"{what}, over the {_clock(max_seconds)} limit")


def _clock(seconds: float) -> str:
    """``h:mm:ss`` (or ``m:ss`` under an hour)."""
    s = int(seconds)
    h, m = divmod(s // 60, 60)
    return f"{h}:{m:02d}:{s % 60:02d}" if h else f"{m}:{s % 60:02d}"


def _mix_down(block: np.ndarray) -> np.ndarray:
    """Mean over channels of a (frames, channels) block, as float32.

    Column sums are several times faster than ``mean(axis=1)`` on rows of two
    values and need no BLAS threads.
    """
    mono = block[:, 0].copy()
    for c in range(1, block.shape[1]):
        mono += block[:, c]
    if block.shape[1] > 1:
        mono *= np.float32(1.0 / block.shape[1])
    return mono


def _short(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()[-1] if str(exc).strip() else type(exc).__name__
    return text[:200]
