"""Peak memory of analysing one long track, against its length (not a test).

Generates music-like stereo WAVs (16-bit, 44.1 kHz) of 5, 20 and 60 minutes
-- seeded chords, kick and hi-hat drums and a little noise, written block by
block so this script stays small -- and runs
``python -m engine analyze FILE --out STORE --jobs 1`` on each in a fresh
child process. It prints each child's peak resident memory (``ru_maxrss`` of
the child, from ``os.wait4``) side by side, with
the ratio of the longest to the shortest track.

The aim (issue 14): the 60-minute peak within 1.5x the 5-minute peak and
under 600 MB. "decoded MB" is the mono float32 signal at 44.1 kHz: the
pipeline holds it for tracks up to ``DecodeConfig.hold_seconds`` (10 minutes)
and keeps longer ones in a temporary file while it describes them, so the
column is what holding the signal costs (MB here are MiB, as ``ru_maxrss``
/ 1024). The 60-minute WAV is 635 MB, over the default 500 MB file
limit, so every run passes ``--max-file-mb 2000``.

Usage::

    .venv/bin/python bench/memory.py [--minutes 5 20 60] [--keep DIR]
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMBA_NUM_THREADS"):
    os.environ[_var] = "1"  # children inherit it: one thread, as --jobs 1 runs

import argparse  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402
import soundfile as sf  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]

SAMPLE_RATE = 44_100  # Hz, the file's rate (and the analysis rate)
BPM = 126.0  # beats per minute of the generated drums
BLOCK_S = 30  # seconds generated and written at a time
SEED = 0

# A I-V-vi-IV progression in C, one chord per bar (MIDI note numbers).
_CHORDS = ((60, 64, 67), (67, 71, 74), (69, 72, 76), (65, 69, 72))


def _hz(note: int) -> float:
    return 440.0 * 2.0 ** ((note - 69) / 12)


def _block(start: int, n: int, rng: np.random.Generator) -> np.ndarray:
    """Samples ``start .. start + n`` of the track, stereo float32 [n, 2]."""
    t = (start + np.arange(n)) / SAMPLE_RATE
    beat = 60.0 / BPM
    bar = (t // (4 * beat)).astype(np.int64)
    y = np.zeros(n, dtype=np.float64)
    for i, chord in enumerate(_CHORDS):
        on = (bar % len(_CHORDS)) == i
        if on.any():
            for note in chord:
                y[on] += 0.08 * np.sin(2 * np.pi * _hz(note) * t[on])
    # kick on every beat: a decaying 55 Hz sine; hi-hat off-beat: decaying noise
    since_beat = t % beat
    y += 0.5 * np.exp(-since_beat * 18.0) * np.sin(2 * np.pi * 55.0 * since_beat)
    since_off = (t + beat / 2) % beat
    y += 0.15 * np.exp(-since_off * 60.0) * rng.standard_normal(n)
    y += 0.01 * rng.standard_normal(n)
    left = y + 0.005 * rng.standard_normal(n)
    right = y + 0.005 * rng.standard_normal(n)
    return np.stack([left, right], axis=1).astype(np.float32)


def write_track(path: Path, minutes: float, *, seed: int = SEED) -> None:
    """Write a seeded music-like stereo WAV of ``minutes`` minutes to ``path``."""
    rng = np.random.default_rng(seed)
    total = int(round(minutes * 60 * SAMPLE_RATE))
    with sf.SoundFile(path, "w", samplerate=SAMPLE_RATE, channels=2, subtype="PCM_16") as f:
        for start in range(0, total, BLOCK_S * SAMPLE_RATE):
            f.write(_block(start, min(BLOCK_S * SAMPLE_RATE, total - start), rng))


def peak_of_analyze(path: Path, store: Path) -> tuple[float, float]:
    """Run the CLI on ``path`` in a fresh child; return (peak resident MB, wall seconds)."""
    cmd = [sys.executable, "-m", "engine", "analyze", str(path), "--out", str(store), "--jobs", "1",
           "--max-file-mb", "2000", "--quiet"]
    with tempfile.TemporaryFile("w+") as log:
        t0 = time.perf_counter()
        proc = subprocess.Popen(cmd, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT, text=True)
        _, status, usage = os.wait4(proc.pid, 0)  # this child's own peak (KiB on Linux)
        wall = time.perf_counter() - t0
        proc.returncode = os.waitstatus_to_exitcode(status)
        log.seek(0)
        out = log.read()
    if proc.returncode != 0 or "error" in out.lower():
        raise SystemExit(f"analyze failed on {path.name} (exit {proc.returncode}):\n{out}")
    return usage.ru_maxrss / 1024, wall


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, nargs="+", default=[5.0, 20.0, 60.0], help="track lengths")
    parser.add_argument("--keep", type=Path, default=None, help="write the WAVs here and keep them (reused if present)")
    args = parser.parse_args()
    minutes = sorted(args.minutes)

    with tempfile.TemporaryDirectory() as tmp:
        folder = args.keep or Path(tmp)
        folder.mkdir(parents=True, exist_ok=True)
        rows = []
        for m in minutes:
            path = folder / f"track_{m:g}min.wav"
            if not path.exists():
                write_track(path, m)
            peak, wall = peak_of_analyze(path, Path(tmp) / f"store_{m:g}")
            rows.append((m, path.stat().st_size / 1e6, peak, wall))
            print(f"  {m:g} min: peak {peak:.0f} MB ({wall:.0f} s)", file=sys.stderr)

    print("python -m engine analyze FILE --jobs 1, one stereo 44.1 kHz WAV per run, fresh process")
    print(f"{'minutes':>8s}{'file MB':>10s}{'decoded MB':>12s}{'peak RSS MB':>14s}{'wall s':>9s}")
    for m, size, peak, wall in rows:
        decoded = m * 60 * SAMPLE_RATE * 4 / 2**20  # the mono float32 signal (held only up to hold_seconds)
        print(f"{m:8g}{size:10.0f}{decoded:12.0f}{peak:14.0f}{wall:9.0f}")
    if len(rows) > 1:
        (m0, _, p0, _), (m1, _, p1, _) = rows[0], rows[-1]
        print(f"peak ratio {m1:g} min / {m0:g} min: {p1 / p0:.2f}x (aim: <= 1.5x, and under 600 MB)")


if __name__ == "__main__":
    main()
