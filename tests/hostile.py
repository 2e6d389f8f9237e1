"""A corpus of broken and hostile audio files, generated into a folder at test time.

Nothing binary is committed: :func:`build_corpus` writes every file from a
fixed seed. Each :class:`Hostile` says what :func:`engine.audio.decode.decode_file`
must make of it: one named :class:`~engine.errors.DecodeError` reason, or a
result (``"ok"``). Shared by ``tests/test_hostile.py`` and ``bench/robustness.py``.
"""

from __future__ import annotations

import io
import os
import struct
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np
import soundfile as sf

SR = 22_050
TWO_HOURS_S = 2 * 60 * 60


@dataclass(frozen=True)
class Hostile:
    """One hostile file: how to write it and what decoding it must give."""

    name: str  # file name written into the corpus folder
    write: Callable[[Path], None]  # writes the file at the given path
    expect: frozenset[str]  # DecodeError reasons accepted, and/or "ok" for a finite result
    note: str  # what is hostile about it
    seconds: tuple[float, float] | None = None  # when "ok": the duration range accepted, in seconds


def tone(seconds: float = 2.0, sr: int = SR, *, seed: int = 0) -> np.ndarray:
    """A chord over a little noise, float32 in [-0.5, 0.5]."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(round(seconds * sr))) / sr
    y = 0.3 * np.sin(2 * np.pi * 220 * t) + 0.1 * np.sin(2 * np.pi * 331 * t) + 0.02 * rng.standard_normal(t.size)
    return y.astype(np.float32)


def wav_header(*, channels: int, sample_rate: int, bits: int = 16, data_bytes: int, riff_size: int | None = None, fmt_size: int = 16, fmt_tag: int = 1) -> bytes:
    """A canonical 44-byte PCM WAV header, every field given by hand (so it can lie)."""
    block_align = channels * bits // 8
    fmt = struct.pack("<HHIIHH", fmt_tag, channels, sample_rate, sample_rate * block_align, block_align, bits)
    fmt += b"\0" * max(0, fmt_size - 16) if fmt_size <= 64 else b""
    riff = 4 + 8 + len(fmt) + 8 + data_bytes if riff_size is None else riff_size
    return b"RIFF" + struct.pack("<I", riff & 0xFFFFFFFF) + b"WAVE" + b"fmt " + struct.pack("<I", fmt_size) + fmt + b"data" + struct.pack("<I", data_bytes & 0xFFFFFFFF)


def _pcm16(y: np.ndarray) -> bytes:
    return (np.clip(y, -1, 1) * 32767).astype("<i2").tobytes()


def _random_bytes(p: Path) -> None:
    p.write_bytes(np.random.default_rng(7).integers(0, 256, 64 * 1024, dtype=np.uint8).tobytes())


def _riff_size_wrong(p: Path) -> None:
    data = _pcm16(tone())
    p.write_bytes(wav_header(channels=1, sample_rate=SR, data_bytes=len(data), riff_size=123) + data)


def _fmt_size_wrong(p: Path) -> None:
    data = _pcm16(tone())
    hdr = bytearray(wav_header(channels=1, sample_rate=SR, data_bytes=len(data)))
    hdr[16:20] = struct.pack("<I", 0x7FFF_FFF0)  # the fmt chunk claims 2 GB
    p.write_bytes(bytes(hdr) + data)


def _data_size_short(p: Path) -> None:
    data = _pcm16(tone())
    p.write_bytes(wav_header(channels=1, sample_rate=SR, data_bytes=len(data) // 3) + data)  # trailing junk after data


def _gigabytes(p: Path) -> None:
    data = _pcm16(tone())
    p.write_bytes(wav_header(channels=1, sample_rate=SR, data_bytes=3_000_000_000) + data)


def _zero_channels(p: Path) -> None:
    data = _pcm16(tone())
    p.write_bytes(wav_header(channels=0, sample_rate=SR, data_bytes=len(data)) + data)


def _many_channels(p: Path) -> None:
    y = np.tile(tone(0.2)[:, None], (1, 300))
    sf.write(p, y, SR, subtype="PCM_16")


def _nan_inf(p: Path) -> None:
    y = tone()
    y[::97] = np.nan
    y[5::89] = np.inf
    y[7::83] = -np.inf
    sf.write(p, y, SR, subtype="FLOAT")


def _one_sample(p: Path) -> None:
    sf.write(p, np.array([0.25], np.float32), SR, subtype="PCM_16")


def _rate(rate: int) -> Callable[[Path], None]:
    def write(p: Path) -> None:
        sf.write(p, tone(1.0, rate), rate, subtype="PCM_16")

    return write


def _two_hours_silent(p: Path) -> None:
    """Two hours of 8 kHz mono silence, written sparse (the zeros are a hole, not bytes)."""
    n = 8_000 * TWO_HOURS_S * 2
    with open(p, "wb") as fh:
        fh.write(wav_header(channels=1, sample_rate=8_000, data_bytes=n))
        fh.truncate(44 + n)


def _mp3_corrupt_middle(p: Path) -> None:
    buf = io.BytesIO()
    sf.write(buf, tone(4.0, 44_100), 44_100, format="MP3")
    data = bytearray(buf.getvalue())
    mid = len(data) // 2
    data[mid : mid + 600] = np.random.default_rng(3).integers(0, 256, 600, dtype=np.uint8).tobytes()
    p.write_bytes(bytes(data))


def _ogg_cut_in_half(p: Path) -> None:
    buf = io.BytesIO()
    sf.write(buf, tone(4.0, 44_100), 44_100, format="OGG", subtype="VORBIS")
    data = buf.getvalue()
    p.write_bytes(data[: len(data) // 2])


def _truncated_wav(p: Path) -> None:
    buf = io.BytesIO()
    sf.write(buf, tone(), SR, format="WAV", subtype="PCM_16")
    data = buf.getvalue()
    p.write_bytes(data[: len(data) // 2])


def _header_only(p: Path) -> None:
    p.write_bytes(wav_header(channels=2, sample_rate=SR, data_bytes=0))


def _text_named_wav(p: Path) -> None:
    p.write_text("RIFF? no: these are my notes\n" * 50)


def _ok(*reasons: str) -> frozenset[str]:
    return frozenset(reasons)


#: Every hostile file, in a stable order.
CORPUS: tuple[Hostile, ...] = (
    Hostile("random_bytes.wav", _random_bytes, _ok("not-audio"), "64 KB of random bytes named .wav"),
    Hostile("text_notes.wav", _text_named_wav, _ok("not-audio"), "a text file named .wav"),
    Hostile("riff_size_wrong.wav", _riff_size_wrong, _ok("ok"), "RIFF chunk size says 123 bytes", (1.99, 2.01)),
    Hostile("fmt_size_wrong.wav", _fmt_size_wrong, _ok("not-audio"), "fmt chunk claims 2 GB"),
    Hostile("data_size_short.wav", _data_size_short, _ok("ok"), "data chunk shorter than the samples that follow", (0.66, 0.67)),
    Hostile("gigabytes.wav", _gigabytes, _ok("truncated"), "header declares 3 GB of data"),
    Hostile("zero_channels.wav", _zero_channels, _ok("not-audio"), "hand-made header with 0 channels"),
    Hostile("300_channels.wav", _many_channels, _ok("bad-channels"), "300 channels"),
    Hostile("nan_inf.wav", _nan_inf, _ok("non-finite"), "float WAV full of NaN and +-inf"),
    Hostile("one_sample.wav", _one_sample, _ok("ok"), "a single sample", (0.9 / SR, 1.1 / SR)),
    Hostile("8k.wav", _rate(8_000), _ok("ok"), "8 kHz", (0.99, 1.01)),
    Hostile("192k.wav", _rate(192_000), _ok("ok"), "192 kHz", (0.99, 1.01)),
    Hostile("384k.wav", _rate(384_000), _ok("bad-sample-rate"), "384 kHz"),
    Hostile("two_hours_silent.wav", _two_hours_silent, _ok("silent"), "2 hours of digital silence (sparse, 115 MB)"),
    # libmpg123 resyncs past the damage, but what it outputs for the damaged frame is not
    # deterministic (seen: finite in one process, NaN in another), so either outcome is right:
    # decoded, or refused by name as non-finite. Never a crash, never NaN passed on.
    Hostile("corrupt_middle.mp3", _mp3_corrupt_middle, _ok("ok", "non-finite"), "MP3 with 600 random bytes mid-stream", (3.0, 4.2)),
    Hostile("cut_in_half.ogg", _ogg_cut_in_half, _ok("ok"), "OGG Vorbis cut in half", (0.5, 2.5)),
    Hostile("cut_in_half.wav", _truncated_wav, _ok("truncated"), "WAV cut in half"),
    Hostile("header_only.wav", _header_only, _ok("empty"), "a header and no samples"),
    Hostile("empty.wav", lambda p: p.write_bytes(b""), _ok("empty"), "0 bytes"),
)


def build_corpus(folder: str | os.PathLike, *, include: Callable[[Hostile], bool] = lambda h: True) -> list[tuple[Hostile, Path]]:
    """Write the corpus into ``folder``; return each item with its path."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    out = []
    for h in CORPUS:
        if include(h):
            path = folder / h.name
            h.write(path)
            out.append((h, path))
    return out
