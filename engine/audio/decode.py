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
import tempfile
from pathlib import Path

import numpy as np
import soundfile as sf
import soxr

from ..config import DecodeConfig
from ..errors import DecodeError, ParameterError
from ..records import Audio, Track

__all__ = ["file_digest", "decode_file", "SignalFile", "AUDIO_SUFFIXES", "is_audio_name"]

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
    spill: bool = False,
    also_at: tuple[int, ...] = (),
) -> Audio:
    """Decode one file to mono float32 at ``sample_rate`` (and, from the same decode, at ``also_at``).

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
    spill : bool
        Keep audio longer than ``config.hold_seconds`` (or of a length the
        header does not give) in an anonymous temporary file instead of in
        memory: ``y`` is then a :class:`SignalFile`, which block-wise readers
        such as :func:`engine.describe.frames.frame_features` take as they take an
        array. The caller closes it (``with audio.y:``); the file is deleted
        on close, or by the system if the process dies.
    also_at : tuple of int
        Other rates wanted from the same decode, e.g. 16 kHz for the CNN
        beside the analysis rate: each decoded block is mixed down once and
        resampled once per rate, so two passes share one decode. These come
        back as arrays in :attr:`Audio.also` (never spilled: the CNN's
        inputs hold a track whole).

    Returns
    -------
    Audio
        ``y`` is float32 [shape=(n_samples,)] at ``sample_rate`` (an array, or
        with ``spill`` possibly a :class:`SignalFile`); ``also`` maps each rate
        of ``also_at`` to its samples.

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
    for rate in (sample_rate, *also_at):
        if not config.min_sample_rate <= rate <= config.max_sample_rate:
            raise ParameterError(f"target sample_rate {rate} Hz is outside the allowed range")
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
        to_file = spill and (declared == 0 or declared > config.hold_seconds * native_sr)
        y, *others = _read_mono(
            snd, label, native_sr, (sample_rate, *also_at), declared=declared, max_seconds=config.max_seconds, to_file=to_file
        )

    if y.size == 0:
        raise DecodeError(label, "empty", "the file holds no audio samples")
    # _read_mono refused non-finite blocks before resampling and all-zero audio as it read;
    # the array checks stay as a guard (a SignalFile was checked block by block)
    if isinstance(y, np.ndarray):
        if not (np.isfinite(y.min()) and np.isfinite(y.max())):  # min/max propagate NaN; no n-sized temporary
            raise DecodeError(label, "non-finite", "the audio contains NaN or infinite samples")
        if not np.any(y):
            raise DecodeError(label, "silent", "the audio is digital silence throughout")
    duration = y.size / sample_rate
    if duration < min_seconds:
        if isinstance(y, SignalFile):
            y.close()
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
    return Audio(track=track, y=y, sample_rate=sample_rate, also=dict(zip(also_at, others)))


def _read_mono(
    snd: sf.SoundFile,
    label: str,
    native_sr: int,
    sample_rates: tuple[int, ...],
    *,
    declared: int,
    max_seconds: float,
    to_file: bool = False,
) -> list[np.ndarray | SignalFile]:
    """Read every block, mix to mono, resample as a stream into one array per rate; return float32.

    Each output array is allocated once, from ``declared`` (the header's frame
    count; 0 when unknown) and the resampling ratio, and filled in place; if
    the header was wrong it grows (and finally shrinks) with ``ndarray.resize``,
    a ``realloc`` that moves large blocks without a second copy. Zero blocks
    before the first sound are only counted, so a long silent file is refused
    as ``silent`` without ever holding its samples. Decoding stops as soon as
    more than ``max_seconds`` of audio has come out (``too-long``). With
    ``to_file`` the samples of the first rate go to a :class:`SignalFile`
    instead; the others are always arrays.
    """
    streams = [None if native_sr == rate else soxr.ResampleStream(native_sr, rate, 1, dtype="float32", quality="HQ") for rate in sample_rates]
    limit = int(max_seconds * native_sr)  # native frames
    outs = [
        _Output(expected=int(np.ceil(min(declared, limit) * rate / native_sr)) + _SLACK, to_file=to_file and i == 0)
        for i, rate in enumerate(sample_rates)
    ]
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
            for out, stream in zip(outs, streams):
                out.append(mono if stream is None else stream.resample_chunk(mono))
        for out, stream in zip(outs, streams):
            if stream is not None:
                out.append(stream.resample_chunk(np.zeros(0, np.float32), last=True))
    except (sf.LibsndfileError, RuntimeError) as exc:
        for out in outs:
            out.discard()
        raise DecodeError(label, "truncated", f"decoding stopped part-way ({_short(exc)})") from exc
    except DecodeError:
        for out in outs:
            out.discard()
        raise
    return [_finished(out, label) for out in outs]


def _finished(out: _Output, label: str) -> np.ndarray | SignalFile:
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
    """The decoded signal, appended block by block into one growing float32 array (or a file).

    Leading silence is only counted (``size``) until the first block with a
    non-zero sample arrives; then the array is allocated, zero-filled, at its
    expected length (or longer, to hold the silence counted so far). With
    ``to_file`` the samples go to a :class:`SignalFile` instead.
    """

    def __init__(self, expected: int, *, to_file: bool = False) -> None:
        self.expected = expected
        self.to_file = to_file
        self.y: np.ndarray | SignalFile | None = None
        self.size = 0  # samples appended, the leading zeros included

    def append(self, block: np.ndarray) -> None:
        """Add ``block`` (float32 [n]) after the samples so far."""
        if self.y is None:
            if not block.any():
                self.size += block.size
                return
            if self.to_file:
                self.y = SignalFile()
                self.y.append_zeros(self.size)
            else:
                self.y = np.zeros(max(self.expected, self.size + block.size), dtype=np.float32)
        if isinstance(self.y, SignalFile):
            self.y.append(block)
            self.size += block.size
            return
        end = self.size + block.size
        if end > self.y.size:  # the header under-counted (or gave no length): grow by half
            self.y.resize(max(end, self.y.size + self.y.size // 2), refcheck=False)
        self.y[self.size : end] = block
        self.size = end

    def discard(self) -> None:
        """Drop what was decoded (an error ends the decoding)."""
        if isinstance(self.y, SignalFile):
            self.y.close()
        self.y = None

    def finish(self) -> np.ndarray | SignalFile:
        """The filled part, trimmed in place (or the file, ready to read)."""
        y = self.y
        self.y = None
        if isinstance(y, SignalFile):
            return y
        if y.size != self.size:
            y.resize(self.size, refcheck=False)
        return y


class SignalFile:
    """Mono float32 samples in an anonymous temporary file, read back by index and slice.

    What :func:`decode_file` gives instead of an array with ``spill=True``, so
    that a long track is described block by block without being held in
    memory: ``len``, ``shape``, ``size``, ``ndim`` and ``dtype`` as an array's,
    ``y[i]`` a sample, ``y[a:b]`` a new float32 array of those samples (read
    with ``pread``; the page cache, not this process, holds the file).
    ``np.asarray(y)`` reads every sample (a fallback for code that needs an
    array). The file has no name (``tempfile.TemporaryFile``): it disappears
    on :meth:`close`, and with the process however it ends.
    """

    dtype = np.dtype(np.float32)
    ndim = 1

    def __init__(self) -> None:
        self._file = tempfile.TemporaryFile(prefix="cratemap-signal-")
        self._fd = self._file.fileno()
        self.size = 0

    @property
    def shape(self) -> tuple[int]:
        return (self.size,)

    def __len__(self) -> int:
        return self.size

    def append(self, block: np.ndarray) -> None:
        """Add samples at the end."""
        data = np.ascontiguousarray(block, dtype=np.float32)
        os.pwrite(self._fd, data.tobytes(), self.size * 4)
        self.size += data.size

    def append_zeros(self, n: int) -> None:
        """Add ``n`` zero samples at the end (a sparse stretch of the file)."""
        self.size += int(n)
        os.ftruncate(self._fd, self.size * 4)

    def _read(self, start: int, count: int) -> np.ndarray:
        out = np.empty(count, dtype=np.float32)
        view, got = memoryview(out).cast("B"), 0
        while got < view.nbytes:
            n = os.preadv(self._fd, [view[got:]], start * 4 + got)
            if n <= 0:
                raise OSError(f"the decoded-audio file ended at byte {start * 4 + got}")
            got += n
        return out

    def __getitem__(self, key):
        if isinstance(key, slice):
            start, stop, step = key.indices(self.size)
            if step != 1:
                raise ParameterError("a SignalFile is read in contiguous slices")
            return self._read(start, max(0, stop - start))
        i = int(key)
        if i < 0:
            i += self.size
        if not 0 <= i < self.size:
            raise IndexError(f"sample {key} of {self.size}")
        return self._read(i, 1)[0]

    def __array__(self, dtype=None, copy=None) -> np.ndarray:
        y = self._read(0, self.size)
        return y if dtype is None else y.astype(dtype, copy=False)

    def close(self) -> None:
        """Delete the file (idempotent)."""
        self._file.close()

    def __enter__(self) -> "SignalFile":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


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
