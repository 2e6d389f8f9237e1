"""Decoding speed per format: libsndfile (what the engine uses) against pedalboard's decoders (not a test).

    python bench/decode.py [--seconds 120] [--repeats 5]

A stretch of a demo track is written as WAV (16-bit), FLAC, OGG Vorbis, Opus
and MP3; each file is then decoded to mono float32 at its own rate by

* libsndfile through soundfile, block by block as
  :func:`engine.audio.decode.decode_file` reads (``SoundFile.blocks``);
* pedalboard's ``AudioFile`` (JUCE's decoders and its own MP3 reader), the
  other decoder in the locked environment;

(the first channel compared; the decoders alone, nothing mixed or
resampled) and through :func:`engine.audio.decode.decode_file` itself (mixing
to mono, resampling to the analysis rate and every check included). Each figure is the best of
``--repeats`` rounds, the sides taken in turn, as seconds of audio per second
of one core (threads pinned to one). Where both decoders read a format, the
largest difference between their samples is printed: a decoder can replace
the engine's only where it gives the same samples (or the same features).
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import soundfile as sf
import soxr
from threadpoolctl import threadpool_limits

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from engine.audio.decode import decode_file  # noqa: E402

SOURCE = ROOT / "demo" / "JDruid-Trip_on_the_Funny_Boat.ogg"
FORMATS = {  # name -> (suffix, soundfile format, subtype)
    "WAV 16-bit": (".wav", "WAV", "PCM_16"),
    "FLAC": (".flac", "FLAC", "PCM_16"),
    "OGG Vorbis": (".ogg", "OGG", "VORBIS"),
    "Opus": (".opus", "OGG", "OPUS"),
    "MP3": (".mp3", "MP3", "MPEG_LAYER_III"),
}


def libsndfile(path: Path) -> np.ndarray:
    """The decoder alone: every channel as float32, nothing mixed or resampled."""
    return sf.read(path, dtype="float32", always_2d=True)[0][:, 0]


def pedalboard(path: Path) -> np.ndarray:
    from pedalboard.io import AudioFile

    with AudioFile(str(path)) as f:
        return f.read(f.frames)[0]


def engine(path: Path) -> np.ndarray:
    return decode_file(path, sample_rate=22_050).y


def best(fn, path: Path, repeats: int) -> tuple[float, np.ndarray]:
    out, t = None, float("inf")
    for _ in range(repeats):
        t0 = time.process_time()
        out = fn(path)
        t = min(t, time.process_time() - t0)
    return t, out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=120.0)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args(argv)
    y, sr = sf.read(SOURCE, dtype="float32", frames=int(args.seconds * 44_100), always_2d=True)
    seconds = y.shape[0] / sr
    print(f"# CrateMap decode bench: {SOURCE.name}, {seconds:.0f} s stereo at {sr} Hz, one core, best of {args.repeats}; "
          f"load average {os.getloadavg()[0]:.2f}")
    print(f"{'format':<12} {'libsndfile':>12} {'pedalboard':>12} {'decode_file':>12}   largest sample difference")
    with tempfile.TemporaryDirectory(prefix="cratemap-decode-") as tmp, threadpool_limits(1):
        for name, (suffix, fmt, subtype) in FORMATS.items():
            path = Path(tmp) / f"clip{suffix}"
            rate = 48_000 if subtype == "OPUS" else sr  # Opus runs at 48 kHz
            clip = soxr.resample(y, sr, rate) if rate != sr else y
            try:
                with sf.SoundFile(path, "w", rate, clip.shape[1], format=fmt, subtype=subtype) as out:
                    for i in range(0, clip.shape[0], 32_768):  # in blocks: one large OGG write crashes libsndfile
                        out.write(clip[i : i + 32_768])
            except (sf.LibsndfileError, ValueError, TypeError) as exc:
                print(f"{name:<12} (libsndfile cannot write it here: {exc})")
                continue
            t_sf, a = best(libsndfile, path, args.repeats)
            try:
                t_pb, b = best(pedalboard, path, args.repeats)
            except Exception as exc:  # noqa: BLE001 -- a format pedalboard does not read
                t_pb, b = float("nan"), None
                note = f"pedalboard cannot read it ({type(exc).__name__})"
            else:
                n = min(a.size, b.size)
                note = f"{float(np.abs(a[:n] - b[:n]).max()):.2e} over {n} samples (lengths {a.size} / {b.size})"
            t_en, _ = best(engine, path, args.repeats)
            # first channel, both decoders; MP3 decoders may differ in the encoder delay they remove (lengths)
            rates = [seconds / t if t == t and t > 0 else float("nan") for t in (t_sf, t_pb, t_en)]
            print(f"{name:<12} " + " ".join(f"{r:>11.0f}x" for r in rates) + f"   {note}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
