"""Speed of the classical-feature chain, three ways, per feature family (not a test).

For every demo track (or the files given) each side decodes the file with
:func:`engine.audio.decode.decode_file` (mono 44.1 kHz float32) and describes
its 15-second sections with the same 68 features:

* thesis: the thesis's way -- for every section, a separate librosa call per
  feature on the section's samples (every spectral call makes its own STFT),
  then the median over frames;
* shared: librosa's own feature functions fed ONE spectrogram per track
  (``librosa.stft`` once; ``spectral_centroid(S=...)``, ``chroma_stft(S=...)``,
  ``spectral_contrast(S=...)``, ``mfcc(S=power_to_db(melspectrogram(S=...)))``
  ...), then :func:`engine.describe.aggregation.aggregate` over the sections;
* ours: :func:`engine.describe.frames.frame_features` (one STFT, in blocks,
  hand-written kernels where they win), then the same aggregation.

The whole chain (all features of a track, then its section rows) is timed in
CPU seconds, each file and side in its own child process pinned to one
thread (so that seconds are per core and the peak resident memory is the
side's own). Sides take turns file by file and round by round (the order
rotates), ``--repeats`` rounds; each figure is the median over rounds, summed
over files. Per feature family, the thesis and shared sides time each librosa
call; ours is timed from one extra profiled run (cProfile, the cumulative time
of each family's function in :mod:`engine.describe.frames`). The shared side's
section rows are checked against ours.

A hand-written kernel stays in :mod:`engine.describe.frames` only where its
family is at least 1.5x faster than the shared side over the whole chain
(issue 15); ours computes the STFT and the mel power twice (two passes, so
that memory does not grow with the track), and those rows count both.

Usage::

    .venv/bin/python bench/features.py [--section 15] [--repeats 3] [FILE ...]
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
from collections import defaultdict  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from engine.config import AggregateConfig, FrameConfig  # noqa: E402

SAMPLE_RATE = 44_100  # Hz, the analysis rate
CFG = FrameConfig()  # n_fft 2048, hop 512, 128 mels, 20 MFCCs
N_FFT, HOP = CFG.n_fft, CFG.hop_length
SIDES = ("thesis", "shared", "ours")

#: Feature families, in table order.
FAMILIES = (
    "STFT", "time (env, RMS, ZCR)", "centroid+bandwidth", "rolloff", "flatness", "tuning", "chroma",
    "contrast", "mel (+dB)", "MFCC", "onset", "deltas",
)

#: Our functions (called from frames._compute and its two passes) -> family.
OURS = {
    "frame_samples": "STFT", "_spectra": "STFT", "_time_block": "time (env, RMS, ZCR)",
    "_centroid_bandwidth": "centroid+bandwidth", "_rolloff": "rolloff", "_flatness": "flatness",
    "_tuning_candidates": "tuning", "estimate": "tuning", "_chroma": "chroma", "contrast_block": "contrast",
    "_contrast_db": "contrast", "_mel_power": "mel (+dB)", "_floored_db": "mel (+dB)", "_mfcc": "MFCC",
    "_onset": "onset", "_deltas": "deltas",
}


class _Clock:
    """CPU seconds per family."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = defaultdict(float)

    def __call__(self, family: str, func, *args, **kwargs):
        t = time.process_time()
        out = func(*args, **kwargs)
        self.seconds[family] += time.process_time() - t
        return out


def _sections(n_samples: int, seconds: float) -> tuple[np.ndarray, np.ndarray]:
    """Whole sections of ``seconds`` from the start (a shorter remainder is dropped)."""
    count = int(n_samples / SAMPLE_RATE // seconds)
    start = np.arange(count) * seconds
    return start, start + seconds


def _envelope(y: np.ndarray) -> np.ndarray:
    """The amplitude envelope (librosa has none): max |y| over each centred, zero-padded frame."""
    import librosa

    return np.abs(librosa.util.frame(np.pad(y, N_FFT // 2), frame_length=N_FFT, hop_length=HOP)).max(axis=0)


def _thesis_section(y: np.ndarray, clock: _Clock) -> list[float]:
    """The thesis's way: one librosa call per feature on one section's samples."""
    import librosa

    kw = dict(y=y, sr=SAMPLE_RATE, n_fft=N_FFT, hop_length=HOP)
    row: list[float] = []
    row.append(np.median(clock("time (env, RMS, ZCR)", _envelope, y)))
    row.append(np.median(clock("time (env, RMS, ZCR)", librosa.feature.rms, y=y, frame_length=N_FFT, hop_length=HOP)))
    row.append(np.sum(clock("time (env, RMS, ZCR)", librosa.feature.zero_crossing_rate, y, frame_length=N_FFT, hop_length=HOP)))
    row.append(np.median(clock("centroid+bandwidth", librosa.feature.spectral_centroid, **kw)))
    row.append(np.median(clock("centroid+bandwidth", librosa.feature.spectral_bandwidth, **kw)))
    row.append(np.median(clock("rolloff", librosa.feature.spectral_rolloff, **kw)))
    row.append(np.median(clock("flatness", librosa.feature.spectral_flatness, y=y, n_fft=N_FFT, hop_length=HOP)))
    chroma = clock("chroma", librosa.feature.chroma_stft, **kw)  # its tuning estimate included
    row.append(np.median(chroma.mean(axis=0)))
    row.extend(np.median(chroma, axis=1))
    row.extend(np.median(clock("contrast", librosa.feature.spectral_contrast, **kw), axis=1))
    row.append(np.median(clock("onset", librosa.onset.onset_strength, **kw)))
    mfcc = clock("MFCC", librosa.feature.mfcc, **kw, n_mfcc=CFG.n_mfcc)  # its mel spectrogram included
    row.extend(np.median(mfcc, axis=1))
    row.extend(np.median(clock("deltas", librosa.feature.delta, mfcc), axis=1))
    return row


def _shared_frames(y: np.ndarray, clock: _Clock):
    """librosa's own feature functions on one spectrogram of the whole track, as a FrameTable."""
    import librosa

    from engine.describe.frames import frame_feature_names
    from engine.records import FrameTable

    sr, f = SAMPLE_RATE, librosa.feature
    mag = clock("STFT", lambda: np.abs(librosa.stft(y, n_fft=N_FFT, hop_length=HOP)))
    power = clock("STFT", np.square, mag)
    time_family = "time (env, RMS, ZCR)"
    cols = {"amplitude_envelope": clock(time_family, _envelope, y)}
    cols["rmse"] = clock(time_family, f.rms, y=y, frame_length=N_FFT, hop_length=HOP)[0]
    cols["zero_crossing_rate"] = clock(time_family, f.zero_crossing_rate, y, frame_length=N_FFT, hop_length=HOP)[0]
    cols["spectral_centroid"] = clock("centroid+bandwidth", f.spectral_centroid, S=mag, sr=sr)[0]
    cols["spectral_bandwidth"] = clock("centroid+bandwidth", f.spectral_bandwidth, S=mag, sr=sr)[0]
    cols["rolloff"] = clock("rolloff", f.spectral_rolloff, S=mag, sr=sr, roll_percent=CFG.rolloff_percent)[0]
    cols["spectral_flatness"] = clock("flatness", f.spectral_flatness, S=mag)[0]
    tuning = clock("tuning", librosa.estimate_tuning, S=power, sr=sr, bins_per_octave=CFG.n_chroma)
    chroma = clock("chroma", f.chroma_stft, S=power, sr=sr, tuning=tuning, n_chroma=CFG.n_chroma)
    cols["chroma_stft"] = chroma.mean(axis=0)
    cols.update({f"chroma_{i}": row for i, row in enumerate(chroma)})
    contrast = clock("contrast", f.spectral_contrast, S=mag, sr=sr, fmin=CFG.contrast_fmin, n_bands=CFG.n_contrast_bands)
    cols.update({f"spectral_contrast{i + 1}": row for i, row in enumerate(contrast)})
    mel_db = clock("mel (+dB)", lambda: librosa.power_to_db(f.melspectrogram(S=power, sr=sr, n_mels=CFG.n_mels)))
    cols["onset_strength"] = clock("onset", librosa.onset.onset_strength, S=mel_db, sr=sr, n_fft=N_FFT, hop_length=HOP)
    mfcc = clock("MFCC", f.mfcc, S=mel_db, n_mfcc=CFG.n_mfcc)
    delta = clock("deltas", f.delta, mfcc)
    cols.update({f"mfcc{i + 1}": row for i, row in enumerate(mfcc)})
    cols.update({f"mfcc_delta{i + 1}": row for i, row in enumerate(delta)})
    names = frame_feature_names(CFG)
    values = np.stack([cols[n] for n in names], axis=1).astype(np.float32)
    n = values.shape[0]
    return FrameTable("", names, values, np.arange(n) * HOP / sr, sr, HOP, y.size / sr, y.size, CFG.digest())


def _ours_families(y: np.ndarray) -> dict[str, float]:
    """CPU seconds per family of one profiled frame_features run (cumulative time per function)."""
    import cProfile
    import pstats

    from engine.describe.frames import frame_features

    profile = cProfile.Profile(time.process_time)
    profile.runcall(frame_features, y, sample_rate=SAMPLE_RATE, config=CFG)
    stats = pstats.Stats(profile).stats
    drivers = {"_compute", "_first_pass", "_second_pass"}
    seconds: dict[str, float] = defaultdict(float)
    for (path, _, name), (_, _, _, _, callers) in stats.items():
        family = OURS.get(name)
        if family and "engine/describe" in path:
            # only the calls made by the passes themselves (_floored_db is also called inside _contrast_db)
            seconds[family] += sum(edge[3] for caller, edge in callers.items() if caller[2] in drivers)
    return dict(seconds)


def _describe(side: str, y: np.ndarray, start: np.ndarray, end: np.ndarray, clock: _Clock):
    """One track's section rows by ``side``; returns the frames (ours, shared) or None (thesis)."""
    from engine.describe.aggregation import aggregate
    from engine.describe.frames import frame_features

    if side == "thesis":
        for s, e in zip(start, end):
            _thesis_section(y[int(round(s * SAMPLE_RATE)) : int(round(e * SAMPLE_RATE))], clock)
        return None, None
    frames = frame_features(y, sample_rate=SAMPLE_RATE, config=CFG) if side == "ours" else _shared_frames(y, clock)
    return frames, aggregate(frames, start, end, config=AggregateConfig())[0]


def _child(side: str, path: str, section_s: float) -> dict:
    """Measure one side on one file (in a fresh process)."""
    from engine.audio.decode import decode_file

    noise = np.random.default_rng(0).standard_normal(5 * SAMPLE_RATE).astype(np.float32) * 0.1
    t0 = time.process_time()
    _describe(side, noise, np.zeros(1), np.full(1, 4.0), _Clock())  # librosa import, numba compile or cache load
    warmup = time.process_time() - t0

    t = time.process_time()
    y = decode_file(path, sample_rate=SAMPLE_RATE).y
    decode_cpu = time.process_time() - t
    start, end = _sections(y.size, section_s)
    clock = _Clock()
    t = time.process_time()
    frames, rows = _describe(side, y, start, end, clock)
    chain = time.process_time() - t
    result = dict(
        side=side, warmup_cpu_s=warmup, audio_s=y.size / SAMPLE_RATE, sections=int(start.size),
        decode_cpu_s=decode_cpu, chain_cpu_s=chain, families=dict(clock.seconds),
        peak_mb=resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    )
    if side == "ours":
        result["families"] = _ours_families(y)
    if rows is not None:
        result["rows"] = rows.tolist()
        result["frames"] = int(frames.values.shape[0])
    return result


def _reaggregate(files: list[str]) -> dict:
    """Re-aggregating the stored frames of the whole library for new section lengths (one process)."""
    from engine.audio.decode import decode_file
    from engine.describe.aggregation import aggregate
    from engine.describe.frames import frame_features

    tables = [frame_features(decode_file(p, sample_rate=SAMPLE_RATE).y, sample_rate=SAMPLE_RATE, config=CFG) for p in files]
    result = dict(frames=int(sum(f.values.shape[0] for f in tables)), columns=int(tables[0].values.shape[1]))
    for seconds in (10.0, 7.0):
        w = time.perf_counter()
        for frames in tables:
            aggregate(frames, *_sections(frames.n_samples, seconds), config=AggregateConfig())
        result[f"{seconds:g}s_wall_s"] = time.perf_counter() - w
    result["peak_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return result


def _run(args: list[str]) -> dict:
    cmd = [sys.executable, __file__, *args]
    return json.loads(subprocess.run(cmd, check=True, capture_output=True, text=True).stdout.strip().splitlines()[-1])


def _measure(files: list[str], section_s: float, repeats: int) -> dict[str, list[list[dict]]]:
    """runs[side][file index] = one result per round; sides take turns, the order rotating."""
    runs: dict[str, list[list[dict]]] = {side: [[] for _ in files] for side in SIDES}
    for r in range(repeats):
        for i, path in enumerate(files):
            k = (r + i) % len(SIDES)
            for side in SIDES[k:] + SIDES[:k]:
                runs[side][i].append(_run(["--child", side, "--section", str(section_s), path]))
            print(f"  round {r + 1}/{repeats}: {Path(path).name}", file=sys.stderr, flush=True)
    return runs


def _median_sum(per_file: list[list[dict]], get) -> float:
    """The median over rounds of ``get(result)``, summed over files."""
    return float(sum(np.median([get(r) for r in rounds]) for rounds in per_file))


def _report(files: list[str], runs: dict, section_s: float, repeats: int) -> None:
    ours = runs["ours"]
    audio = sum(rounds[0]["audio_s"] for rounds in ours)
    n_sections = sum(rounds[0]["sections"] for rounds in ours)
    print(
        f"{len(files)} files, {audio / 60:.1f} min of audio, {n_sections} sections of {section_s:g} s; "
        f"one thread, CPU seconds, median of {repeats} interleaved rounds; load average {os.getloadavg()[0]:.1f}"
    )
    fam = {s: {f: _median_sum(runs[s], lambda r, f=f: r["families"].get(f, 0.0)) for f in FAMILIES} for s in SIDES}
    print(f"\n{'family':22s}{'thesis':>9s}{'shared':>9s}{'ours':>9s}{'thesis/ours':>13s}{'shared/ours':>13s}")
    for f in FAMILIES:
        t, s, o = fam["thesis"][f], fam["shared"][f], fam["ours"][f]
        ratio = lambda x: f"{x / o:12.1f}x" if o > 0 and x > 0 else f"{'-':>13s}"  # noqa: E731
        print(f"{f:22s}{t:9.2f}{s:9.2f}{o:9.2f} {ratio(t)} {ratio(s)}")
    chain = {s: _median_sum(runs[s], lambda r: r["chain_cpu_s"]) for s in SIDES}
    decode = {s: _median_sum(runs[s], lambda r: r["decode_cpu_s"]) for s in SIDES}
    print(f"{'whole chain':22s}{chain['thesis']:9.2f}{chain['shared']:9.2f}{chain['ours']:9.2f} "
          f"{chain['thesis'] / chain['ours']:12.1f}x {chain['shared'] / chain['ours']:12.1f}x")
    print(f"{'  + decode':22s}" + "".join(f"{chain[s] + decode[s]:9.2f}" for s in SIDES)
          + f" {(chain['thesis'] + decode['thesis']) / (chain['ours'] + decode['ours']):12.1f}x"
          + f" {(chain['shared'] + decode['shared']) / (chain['ours'] + decode['ours']):12.1f}x")
    print("(thesis: each spectral call makes its own STFT, counted in its family; chroma includes its tuning "
          "estimate, MFCC its mel spectrogram. ours: STFT and mel power are computed twice, both counted; "
          "the profiler adds a little to each of our families.)")
    print(f"\nx real time, whole chain: " + ", ".join(f"{s} {audio / chain[s]:.0f}x" for s in SIDES)
          + f"; decode alone {audio / decode['ours']:.0f}x")
    print("peak MB (largest file): " + ", ".join(f"{s} {max(r['peak_mb'] for rs in runs[s] for r in rs):.0f}" for s in SIDES))
    print("first-call CPU s, not counted (librosa import, numba compile or cache load): "
          + ", ".join(f"{s} {max(r['warmup_cpu_s'] for rs in runs[s] for r in rs):.2f}" for s in SIDES))
    _check_rows(runs)


def _check_rows(runs: dict) -> None:
    """The shared side's section rows against ours (first round), relative to each column's largest magnitude."""
    from engine.describe.frames import frame_feature_names

    names = frame_feature_names(CFG)
    ours = np.concatenate([np.asarray(rs[0]["rows"]).reshape(-1, len(names)) for rs in runs["ours"]])
    shared = np.concatenate([np.asarray(rs[0]["rows"]).reshape(-1, len(names)) for rs in runs["shared"]])
    err = (np.abs(ours - shared) / np.maximum(np.abs(shared).max(axis=0), 1e-12)).max(axis=0)
    worst = int(np.argmax(err))
    print(f"same outputs: shared vs ours section rows differ by at most {err[worst]:.1e} of a column's "
          f"largest value ({names[worst]}), over {ours.shape[0]} sections x {len(names)} features")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("files", nargs="*", help="audio files (default: the demo library)")
    parser.add_argument("--section", type=float, default=15.0, help="section length in seconds")
    parser.add_argument("--repeats", type=int, default=3, help="interleaved rounds; medians are reported")
    parser.add_argument("--child", choices=SIDES, help=argparse.SUPPRESS)
    parser.add_argument("--reaggregate", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    files = args.files or sorted(str(p) for p in (ROOT / "demo").iterdir() if p.suffix in (".ogg", ".opus"))
    if args.child:
        print(json.dumps(_child(args.child, files[0], args.section)))
        return
    if args.reaggregate:
        print(json.dumps(_reaggregate(files)))
        return

    runs = _measure(files, args.section, max(1, args.repeats))
    _report(files, runs, args.section, max(1, args.repeats))
    agg = _run(["--reaggregate", *files])
    print(
        f"re-aggregating {agg['frames']} stored frames x {agg['columns']} features (whole library): "
        f"10-s sections {agg['10s_wall_s'] * 1000:.0f} ms, 7-s sections {agg['7s_wall_s'] * 1000:.0f} ms (wall); "
        f"peak {agg['peak_mb']:.0f} MB with all {len(files)} files in one process"
    )


if __name__ == "__main__":
    main()
