"""Does the key move with the music? Every demo track shifted -2..+2 semitones (not a test).

    python bench/key.py [--seconds 90]

The middle ``--seconds`` of each demo track is pitch-shifted by -2, -1, +1
and +2 semitones with Rubber Band (pedalboard's ``time_stretch``, tempo
kept) and described into frame tables as an analysis would
(:func:`engine.describe.frames.frame_features`). Each stretch's key (the
whole stretch, and each 15-s section of it) is estimated from its tonal
chroma (:func:`engine.describe.key.tonal_chroma`) under every profile, and
compared with the unshifted key moved by the shift.

Printed, per profile: how many shifted keys moved by exactly the shift, over
all, and over the *confident* pairs (both confidences at least
:data:`engine.describe.key.CLEAR_KEY`); then the same for the chroma's mean
weighted by RMS alone (the estimate before the tonal weighting), side by
side. Rubber Band's shift is exact in pitch, so a key that does not follow
it shows an estimate too weak to tell neighbouring keys apart.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import pedalboard  # noqa: E402

from engine.audio.decode import decode_file  # noqa: E402
from engine.config import FrameConfig  # noqa: E402
from engine.describe.frames import frame_features  # noqa: E402
from engine.describe.key import CLEAR_KEY, PROFILES, estimate_key, section_chroma, tonal_chroma  # noqa: E402
from engine.run.inputs import collect_inputs  # noqa: E402
from engine.run.pipeline import DEMO_DIR  # noqa: E402

SHIFTS = (-2, -1, 1, 2)
SECTION_S = 15.0


def _chroma(y: np.ndarray, config: FrameConfig) -> tuple[np.ndarray, np.ndarray]:
    frames = frame_features(np.ascontiguousarray(y, dtype=np.float32), sample_rate=config.sample_rate, config=config)
    k0 = frames.names.index("chroma_0")
    return frames.values[:, k0 : k0 + 12].astype(np.float64), frames.values[:, frames.names.index("rmse")].astype(np.float64)


def _stretches(n_frames: int, rate: float) -> list[tuple[int, int, str]]:
    out = [(0, n_frames, "track")]
    step = int(SECTION_S * rate)
    out += [(a, a + step, "section") for a in range(0, n_frames - step + 1, step)]
    return out


def _keys(chroma: np.ndarray, rms: np.ndarray, profile: str, tonal: bool):
    if tonal:
        c, clarity = tonal_chroma(chroma, rms)
        return estimate_key(c, profile=profile, clarity=clarity)
    k = estimate_key(section_chroma(chroma, rms), profile=profile)
    return k


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=float, default=90.0, help="seconds from the middle of each track")
    args = parser.parse_args()
    config = FrameConfig()
    rate = config.sample_rate / config.hop_length
    data = []  # per track: {shift: (chroma, rms)}
    for item in collect_inputs([DEMO_DIR])[0]:
        y = decode_file(item.path).y
        n = int(args.seconds * config.sample_rate)
        mid = len(y) // 2
        y = y[max(0, mid - n // 2) : mid + n // 2]
        one = {0: _chroma(y, config)}
        for s in SHIFTS:
            one[s] = _chroma(pedalboard.time_stretch(y[None, :], config.sample_rate, 1.0, pitch_shift_in_semitones=float(s))[0], config)
        data.append((item.name, one))
        print(f"described {item.name} and its 4 shifts", flush=True)
    print(f"\n{len(data)} demo tracks, middle {args.seconds:g} s, shifted {SHIFTS} semitones (Rubber Band); sections of {SECTION_S:g} s")
    print(f"{'profile':<10} {'chroma':<22} {'what':<8} {'moved exactly':>14} {'confident pairs':>16}")
    for profile in sorted(PROFILES):
        for tonal, label in ((True, "tonal (engine)"), (False, "RMS-weighted mean")):
            for what in ("track", "section"):
                ok = total = ok_c = total_c = 0
                for _, one in data:
                    for a, b, kind in _stretches(len(one[0][0]), rate):
                        if kind != what:
                            continue
                        base = _keys(one[0][0][a:b], one[0][1][a:b], profile, tonal)
                        for s in SHIFTS:
                            k = _keys(one[s][0][a:b], one[s][1][a:b], profile, tonal)
                            right = (k.tonic, k.mode) == ((base.tonic + s) % 12, base.mode)
                            ok, total = ok + right, total + 1
                            if tonal and min(k.confidence, base.confidence) >= CLEAR_KEY:
                                ok_c, total_c = ok_c + right, total_c + 1
                confident = f"{ok_c}/{total_c} ({ok_c / max(total_c, 1):.0%})" if tonal else "-"
                print(f"{profile:<10} {label:<22} {what:<8} {f'{ok}/{total} ({ok / total:.0%})':>14} {confident:>16}")


if __name__ == "__main__":
    main()
