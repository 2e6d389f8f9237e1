"""Downbeats and phrases: generated tracks with a known structure, and Essentia's beats on the demo as a peer (not a test).

    python bench/structure.py [--tracks 8] [--no-demo]

1. ``--tracks`` generated tracks (``tests/structure_support.structured_track``:
   intro 16 bars, build 8 with a riser and a fill, drop 16, breakdown 16
   without drums, drop 16, outro 16), at seeded tempi of 118-150 BPM, first
   downbeats of 0-1.5 s and tonics. Each is described as an analysis would
   (:func:`engine.mixing.descriptors.describe_track`,
   :func:`engine.describe.phrases.track_phrases`) and scored against the truth:

   * beat and downbeat F-measure (+-70 ms);
   * beside them, the naive downbeats every analysis had before bars were
     known: every 4th tracked beat from the first;
   * phrase boundaries found within one beat of the truth, and extra ones;
   * phrase labels right, as a share of the duration (compared every 50 ms).

2. The demo library: CrateMap's beats against Essentia's
   ``BeatTrackerMultiFeature`` (a published beat tracker; a dev tool, AGPL,
   never part of the app), F-measure +-70 ms per track. Neither is the truth.
   No published *downbeat* tracker runs here: madmom's RNN downbeat model is
   the usual peer, but madmom 0.16 does not build on Python 3.11 with
   numpy 2 (its last release is from 2018), so it is not in the lock.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

from engine.audio.decode import decode_file  # noqa: E402
from engine.config import FrameConfig  # noqa: E402
from engine.describe.frames import frame_features  # noqa: E402
from engine.describe.phrases import track_phrases  # noqa: E402
from engine.mixing.descriptors import describe_track  # noqa: E402
from engine.run.inputs import collect_inputs  # noqa: E402
from engine.run.pipeline import DEMO_DIR  # noqa: E402
from structure_support import SR, f_measure, structured_track  # noqa: E402


def _labels_right(truth, labels, starts, ends) -> float:
    grid = np.arange(0.0, truth[-1][2], 0.05)
    want = np.array([next((lab for lab, a, b in truth if a <= t < b), "") for t in grid])
    got = np.array([next((lab for lab, a, b in zip(labels, starts, ends) if a <= t < b), "") for t in grid])
    inside = want != ""
    return float(np.mean(got[inside] == want[inside]))


def generated(n: int) -> None:
    rng = np.random.default_rng(19)
    print(f"{n} generated tracks (intro 16, build 8, drop 16, breakdown 16, drop 16, outro 16 bars); F-measure +-70 ms")
    head = f"{'BPM':>6} {'first':>6} {'beats F':>8} {'downbeats F':>12} {'every 4th beat F':>17} {'bounds':>7} {'extra':>6} {'labels':>7}"
    print(head)
    totals = []
    for _ in range(n):
        bpm, first, tonic = float(rng.uniform(118, 150)), float(rng.uniform(0.0, 1.5)), int(rng.integers(12))
        track = structured_track(round(bpm, 1), tonic=tonic, first_downbeat_s=round(first, 2), seed=int(rng.integers(1000)))
        frames = frame_features(track.y, sample_rate=SR, config=FrameConfig())
        d = describe_track(frames)
        beat = 60.0 / track.bpm
        beats = np.arange(track.downbeats_s[0], track.downbeats_s[-1] + 4 * beat - 1e-9, beat)
        naive = d.beats_s[::4]
        phrases = track_phrases(frames)
        truth = np.array([a for _, a, _ in track.phrases])
        hits = sum(bool(np.any(np.abs(phrases.start_s - t) <= beat)) for t in truth)
        row = (
            f_measure(d.beats_s, beats), f_measure(d.downbeats_s, track.downbeats_s), f_measure(naive, track.downbeats_s),
            hits / len(truth), max(len(phrases.start_s) - hits, 0),
            _labels_right(track.phrases, phrases.labels, phrases.start_s, phrases.end_s),
        )  # fmt: skip
        totals.append(row)
        print(f"{track.bpm:6.1f} {track.downbeats_s[0]:6.2f} {row[0]:8.3f} {row[1]:12.3f} {row[2]:17.3f} {row[3]:7.0%} {row[4]:6d} {row[5]:7.0%}", flush=True)
    m = np.mean(np.array(totals, dtype=float), axis=0)
    print(f"{'mean':>13} {m[0]:8.3f} {m[1]:12.3f} {m[2]:17.3f} {m[3]:7.0%} {m[4]:6.1f} {m[5]:7.0%}")


def demo_peer() -> None:
    try:
        import essentia
        import essentia.standard as es
    except ImportError:
        print("\nEssentia is not installed (make setup-dev installs it): no beat peer")
        return
    essentia.log.infoActive = False
    print(f"\ndemo library: CrateMap's beats against Essentia {essentia.__version__} BeatTrackerMultiFeature (F-measure +-70 ms)")
    print(f"{'track':<36} {'CrateMap BPM':>12} {'beats':>6} {'Essentia beats':>15} {'F':>6} {'F, Essentia at x2 or x1/2':>26}")
    scores = []
    for item in collect_inputs([DEMO_DIR])[0]:
        y = decode_file(item.path).y
        d = describe_track(frame_features(y, sample_rate=SR, config=FrameConfig()))
        theirs, _ = es.BeatTrackerMultiFeature()(np.ascontiguousarray(y, dtype=np.float32))
        theirs = np.asarray(theirs, dtype=np.float64)
        f = f_measure(d.beats_s, theirs)
        doubled = np.sort(np.r_[theirs, (theirs[1:] + theirs[:-1]) / 2])
        octave = max(f, f_measure(d.beats_s, doubled), f_measure(d.beats_s, theirs[::2]), f_measure(d.beats_s, theirs[1::2]))
        scores.append((f, octave))
        print(f"{item.name[:36]:<36} {d.bpm:12.1f} {len(d.beats_s):6d} {len(theirs):15d} {f:6.3f} {octave:26.3f}", flush=True)
    s = np.array(scores)
    print(f"{'mean':<36} {'':>12} {'':>6} {'':>15} {s[:, 0].mean():6.3f} {s[:, 1].mean():26.3f}")
    print("no downbeat peer: madmom (the published RNN downbeat tracker) does not build on Python 3.11 with numpy 2")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--tracks", type=int, default=8, help="generated structured tracks")
    parser.add_argument("--no-demo", action="store_true", help="skip the demo library's beat peer")
    args = parser.parse_args()
    t0 = time.perf_counter()
    generated(args.tracks)
    if not args.no_demo:
        demo_peer()
    print(f"\n{time.perf_counter() - t0:.0f} s")


if __name__ == "__main__":
    main()
