"""Speed of the classical-feature chain against a thesis-style baseline (not a test).

For every demo track (or the files given) both sides decode the file to mono
44.1 kHz float32 and describe 15-second sections:

* ours: :func:`engine.describe.features.frame_features` once per track (one STFT), then
  :func:`engine.describe.features.aggregate` over the sections;
* baseline: the thesis's way -- for every section, a separate librosa call per
  feature on the section's samples (each spectral call makes its own STFT),
  then the median over frames.

Each file and side runs in its own child process, pinned to one thread, so
that CPU seconds are per core and the peak resident memory (``ru_maxrss``) is
its own; the two sides take turns file by file so that load from other
processes falls on both alike. Both warm up (numba compilation) on a short
noise clip before timing.

Usage::

    .venv/bin/python bench/features.py [--section 15] [--repeats 1] [FILE ...]
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMBA_NUM_THREADS"):
    os.environ[_var] = "1"  # before numpy is imported: per-core numbers

import argparse  # noqa: E402
import json  # noqa: E402
import resource  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from engine.config import AggregateConfig, FrameConfig  # noqa: E402

SAMPLE_RATE = 44_100  # Hz, the analysis rate
N_FFT, HOP = 2048, 512  # samples, the FrameConfig defaults


def _decoder():
    """engine.audio.decode.decode_file when it exists, else a small soundfile + soxr reader."""
    try:
        from engine.audio.decode import decode_file
    except ImportError:
        decode_file = None
    if decode_file is not None:
        return lambda path: decode_file(path, sample_rate=SAMPLE_RATE).y, "engine.audio.decode.decode_file"

    import soundfile as sf
    import soxr

    def read(path):
        with sf.SoundFile(path) as f:
            native = f.samplerate
            parts = [b.mean(axis=1, dtype=np.float32) for b in f.blocks(blocksize=1 << 16, dtype="float32", always_2d=True)]
        y = np.concatenate(parts)
        if native != SAMPLE_RATE:
            y = soxr.resample(y, native, SAMPLE_RATE, quality="HQ")
        return np.ascontiguousarray(y, dtype=np.float32)

    return read, "soundfile + soxr (local helper)"


def _sections(n_samples: int, seconds: float) -> tuple[np.ndarray, np.ndarray]:
    """Whole sections of ``seconds`` from the start (a shorter remainder is dropped)."""
    count = int(n_samples / SAMPLE_RATE // seconds)
    start = np.arange(count) * seconds
    return start, start + seconds


def _baseline_section(y: np.ndarray) -> list[float]:
    """The thesis's way: one librosa call per feature on one section's samples."""
    import librosa

    sr, kw = SAMPLE_RATE, dict(y=y, sr=SAMPLE_RATE, n_fft=N_FFT, hop_length=HOP)
    row: list[float] = []
    framed = librosa.util.frame(np.pad(y, N_FFT // 2), frame_length=N_FFT, hop_length=HOP)
    row.append(np.median(np.abs(framed).max(axis=0)))
    row.append(np.median(librosa.feature.rms(y=y, frame_length=N_FFT, hop_length=HOP)))
    row.append(np.sum(librosa.feature.zero_crossing_rate(y, frame_length=N_FFT, hop_length=HOP)))
    row.append(np.median(librosa.feature.spectral_centroid(**kw)))
    row.append(np.median(librosa.feature.spectral_bandwidth(**kw)))
    row.append(np.median(librosa.feature.spectral_rolloff(**kw)))
    row.append(np.median(librosa.feature.spectral_flatness(y=y, n_fft=N_FFT, hop_length=HOP)))
    chroma = librosa.feature.chroma_stft(**kw)
    row.append(np.median(chroma.mean(axis=0)))
    row.extend(np.median(chroma, axis=1))
    row.extend(np.median(librosa.feature.spectral_contrast(**kw), axis=1))
    row.append(np.median(librosa.onset.onset_strength(y=y, sr=sr, n_fft=N_FFT, hop_length=HOP)))
    mfcc = librosa.feature.mfcc(**kw, n_mfcc=20)
    row.extend(np.median(mfcc, axis=1))
    row.extend(np.median(librosa.feature.delta(mfcc), axis=1))
    return row


def _child(mode: str, files: list[str], section_s: float) -> dict:
    from engine.describe.features import aggregate, frame_features

    decode, decoder_name = _decoder()
    fc, ac = FrameConfig(), AggregateConfig()
    noise = np.random.default_rng(0).standard_normal(5 * SAMPLE_RATE).astype(np.float32) * 0.1
    t0 = time.process_time()
    if mode == "ours":
        aggregate(frame_features(noise, sample_rate=SAMPLE_RATE, config=fc), [0.0], [4.0], config=ac)
    else:
        _baseline_section(noise)
    warmup = time.process_time() - t0

    audio_s = decode_cpu = feat_cpu = 0.0
    n_sections, tables = 0, []
    for path in files:
        t = time.process_time()
        y = decode(path)
        decode_cpu += time.process_time() - t
        audio_s += y.size / SAMPLE_RATE
        start, end = _sections(y.size, section_s)
        n_sections += start.size
        t = time.process_time()
        if mode == "ours":
            frames = frame_features(y, sample_rate=SAMPLE_RATE, config=fc)
            aggregate(frames, start, end, config=ac)
            tables.append(frames)
        else:
            for s, e in zip(start, end):
                _baseline_section(y[int(round(s * SAMPLE_RATE)) : int(round(e * SAMPLE_RATE))])
        feat_cpu += time.process_time() - t
        del y

    result = dict(
        mode=mode,
        decoder=decoder_name,
        warmup_cpu_s=warmup,
        audio_s=audio_s,
        sections=n_sections,
        decode_cpu_s=decode_cpu,
        features_cpu_s=feat_cpu,
        peak_mb=resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    )
    if mode == "ours":
        # Re-aggregating the stored frames of the whole library for new section lengths.
        for seconds in (10.0, 7.0):
            w = time.perf_counter()
            for frames in tables:
                start, end = _sections(frames.n_samples, seconds)
                aggregate(frames, start, end, config=ac)
            result[f"reaggregate_{seconds:g}s_wall_s"] = time.perf_counter() - w
        result["frames"] = int(sum(f.values.shape[0] for f in tables))
        result["frame_columns"] = int(tables[0].values.shape[1]) if tables else 0
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("files", nargs="*", help="audio files (default: the demo library)")
    parser.add_argument("--section", type=float, default=15.0, help="section length in seconds")
    parser.add_argument("--repeats", type=int, default=1, help="runs per file and side; the fastest counts")
    parser.add_argument("--mode", choices=("ours", "baseline"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    files = args.files or sorted(str(p) for p in (ROOT / "demo").iterdir() if p.suffix in (".ogg", ".opus"))

    if args.mode:
        print(json.dumps(_child(args.mode, files, args.section)))
        return

    def run(mode: str, paths: list[str]) -> dict:
        cmd = [sys.executable, __file__, "--mode", mode, "--section", str(args.section), *paths]
        return json.loads(subprocess.run(cmd, check=True, capture_output=True, text=True).stdout.strip().splitlines()[-1])

    # Both sides take turns file by file, so that load from other processes on
    # the machine falls on both alike; each child process measures one file.
    per_file: dict[str, list[dict]] = {"ours": [], "baseline": []}
    for path in files:
        for mode in ("ours", "baseline"):
            runs = [run(mode, [path]) for _ in range(max(1, args.repeats))]
            per_file[mode].append(min(runs, key=lambda r: r["decode_cpu_s"] + r["features_cpu_s"]))
    totals = {}
    for mode, rows in per_file.items():
        totals[mode] = {
            key: sum(r[key] for r in rows) for key in ("audio_s", "sections", "decode_cpu_s", "features_cpu_s")
        }
        totals[mode]["peak_mb"] = max(r["peak_mb"] for r in rows)
        totals[mode]["warmup_cpu_s"] = max(r["warmup_cpu_s"] for r in rows)
        totals[mode]["decoder"] = rows[0]["decoder"]
    ours, base = totals["ours"], totals["baseline"]
    audio = ours["audio_s"]

    print(
        f"{len(files)} files, {audio / 60:.1f} min of audio, {ours['sections']} sections of {args.section:g} s; "
        f"decoder: {ours['decoder']}; one thread, CPU seconds"
    )
    print(f"{'':24s}{'decode':>10s}{'features':>10s}{'chain':>10s}{'xRT feat':>10s}{'xRT chain':>11s}{'peak MB':>9s}")
    for name, r in (("ours (1 STFT/track)", ours), ("baseline (per section)", base)):
        chain = r["decode_cpu_s"] + r["features_cpu_s"]
        print(
            f"{name:24s}{r['decode_cpu_s']:10.2f}{r['features_cpu_s']:10.2f}{chain:10.2f}"
            f"{audio / r['features_cpu_s']:10.0f}{audio / chain:11.0f}{r['peak_mb']:9.0f}"
        )
    chain_ratio = (base["decode_cpu_s"] + base["features_cpu_s"]) / (ours["decode_cpu_s"] + ours["features_cpu_s"])
    print(
        f"speed-up, features only: {base['features_cpu_s'] / ours['features_cpu_s']:.1f}x;  "
        f"whole chain incl. decode: {chain_ratio:.1f}x;  decode alone: {audio / ours['decode_cpu_s']:.0f}x real time"
    )
    print(
        f"first-call CPU s, not counted above (librosa import, numba compile or cache load): "
        f"ours {ours['warmup_cpu_s']:.2f}, baseline {base['warmup_cpu_s']:.2f}"
    )

    # Re-aggregating stored frames for new section lengths, whole library in one process.
    agg = run("ours", files)
    print(
        f"re-aggregating {agg['frames']} stored frames x {agg['frame_columns']} features (whole library): "
        f"10-s sections {agg['reaggregate_10s_wall_s'] * 1000:.0f} ms, "
        f"7-s sections {agg['reaggregate_7s_wall_s'] * 1000:.0f} ms (wall); "
        f"peak {agg['peak_mb']:.0f} MB with all {len(files)} files in one process"
    )


if __name__ == "__main__":
    main()
