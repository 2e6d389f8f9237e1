"""Does the key move with the music? Every demo track shifted -2..+2 semitones, and Essentia as a peer (not a test).

    python bench/key.py [--seconds 30]

The middle ``--seconds`` of each demo track is pitch-shifted by -2, -1, +1
and +2 semitones with Rubber Band (pedalboard's ``time_stretch``, tempo
kept) and described into frame tables as an analysis would
(:func:`engine.describe.frames.frame_features`). Each stretch's key (the
whole stretch, and each 15-s section of it) is estimated as the analysis
does (:func:`engine.describe.tonal.frame_key`: the long-window ``tonal_*``
chroma and the ``bass_*`` chroma) under every profile, and compared with the
unshifted key moved by the shift; beside it, the estimate from the classical
``chroma_*`` columns without the bass (what stores made before the key had
its own columns give).

Printed, per profile: how many shifted keys moved by exactly the shift, over
all, and over the *confident* pairs (both confidences at least
:data:`engine.describe.key.CLEAR_KEY`). Rubber Band's shift is exact in
pitch, so a key that does not follow it shows an estimate too weak to tell
neighbouring keys apart.

Then the peer: Essentia's ``KeyExtractor`` (a published key estimator; a dev
tool here, AGPL, never part of the app) on the same stretches with its
``edma`` and ``krumhansl`` profiles: how often it follows the shift itself,
and how often CrateMap's default key equals its key exactly, per track and
per 15-s section. Neither is the truth; two estimators agreeing is a peer
check.
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
from engine.config import FrameConfig, MixConfig  # noqa: E402
from engine.describe.frames import frame_features  # noqa: E402
from engine.describe.key import CLEAR_KEY, PITCH_NAMES, PROFILES, estimate_key, tonal_chroma  # noqa: E402
from engine.describe.tonal import frame_key  # noqa: E402
from engine.run.inputs import collect_inputs  # noqa: E402
from engine.run.pipeline import DEMO_DIR  # noqa: E402

SHIFTS = (-2, -1, 1, 2)
SECTION_S = 15.0


def _stretches(n_frames: int, rate: float) -> list[tuple[int, int, str]]:
    out = [(0, n_frames, "track")]
    step = int(SECTION_S * rate)
    out += [(a, a + step, "section") for a in range(0, n_frames - step + 1, step)]
    return out


def _key(frames, a: int, b: int, profile: str, engine: bool):
    if engine:
        return frame_key(frames, profile=profile, start=a, stop=b)
    k0, r = frames.names.index("chroma_0"), frames.names.index("rmse")
    c, clarity = tonal_chroma(frames.values[a:b, k0 : k0 + 12], frames.values[a:b, r])
    return estimate_key(c, profile=profile, clarity=clarity)


def _shift_table(data: list, rate: float) -> None:
    print(f"{'profile':<10} {'chroma':<26} {'what':<8} {'moved exactly':>16} {'confident pairs':>18}")
    for profile in sorted(PROFILES):
        for engine, label in ((True, "tonal + bass (engine)"), (False, "chroma_*, no bass")):
            for what in ("track", "section"):
                ok = total = ok_c = total_c = 0
                for _, one, _ in data:
                    for a, b, kind in _stretches(one[0].values.shape[0], rate):
                        if kind != what:
                            continue
                        base = _key(one[0], a, b, profile, engine)
                        for s in SHIFTS:
                            k = _key(one[s], a, b, profile, engine)
                            right = (k.tonic, k.mode) == ((base.tonic + s) % 12, base.mode)
                            ok, total = ok + right, total + 1
                            if min(k.confidence, base.confidence) >= CLEAR_KEY:
                                ok_c, total_c = ok_c + right, total_c + 1
                cell = f"{ok}/{total} ({ok / total:.0%})"
                conf = f"{ok_c}/{total_c} ({ok_c / max(total_c, 1):.0%})"
                print(f"{profile:<10} {label:<26} {what:<8} {cell:>16} {conf:>18}")


_ESSENTIA_NAMES = {"C#": "Db", "D#": "Eb", "G#": "Ab", "A#": "Bb", "Gb": "F#"}


def _essentia_key(y: np.ndarray, sr: int, profile: str) -> tuple[int, str]:
    import essentia.standard as es

    key, scale, _ = es.KeyExtractor(profileType=profile, sampleRate=float(sr))(np.ascontiguousarray(y, dtype=np.float32))
    return PITCH_NAMES.index(_ESSENTIA_NAMES.get(key, key)), scale


def _peer_table(data: list, rate: float, sr: int) -> None:
    try:
        import essentia  # noqa: F401
    except ImportError:
        print("\nEssentia is not installed (make setup-dev installs it): no peer comparison")
        return
    import essentia

    essentia.log.infoActive = False
    default = MixConfig().key_profile
    print(f"\npeer: Essentia {essentia.__version__} KeyExtractor on the same stretches; CrateMap's profile is {default!r}")
    print(f"{'essentia profile':<17} {'what':<8} {'essentia follows shift':>23} {'CrateMap = essentia':>20} {'same when confident':>20}")
    for profile in ("edma", "krumhansl"):
        for what in ("track", "section"):
            follow = total_f = same = total = same_c = total_c = 0
            for _, one, clips in data:
                for a, b, kind in _stretches(one[0].values.shape[0], rate):
                    if kind != what:
                        continue
                    lo, hi = int(a / rate * sr), int(b / rate * sr)
                    base = _essentia_key(clips[0][lo:hi], sr, profile)
                    for s in (0, *SHIFTS):
                        theirs = base if s == 0 else _essentia_key(clips[s][lo:hi], sr, profile)
                        if s:
                            follow, total_f = follow + (theirs == ((base[0] + s) % 12, base[1])), total_f + 1
                        ours = frame_key(one[s], profile=default, start=a, stop=b)
                        hit = (ours.tonic, ours.mode) == theirs
                        same, total = same + hit, total + 1
                        if ours.confidence >= CLEAR_KEY:
                            same_c, total_c = same_c + hit, total_c + 1
            cells = (f"{follow}/{total_f} ({follow / total_f:.0%})", f"{same}/{total} ({same / total:.0%})",
                     f"{same_c}/{total_c} ({same_c / max(total_c, 1):.0%})")  # fmt: skip
            print(f"{profile:<17} {what:<8} {cells[0]:>23} {cells[1]:>20} {cells[2]:>20}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=float, default=30.0, help="seconds from the middle of each track")
    args = parser.parse_args()
    config = FrameConfig()
    sr = config.sample_rate
    rate = sr / config.hop_length
    data = []  # per track: (name, {shift: frames}, {shift: audio})
    for item in collect_inputs([DEMO_DIR])[0]:
        y = decode_file(item.path).y
        n = int(args.seconds * sr)
        mid = len(y) // 2
        clips = {0: np.ascontiguousarray(y[max(0, mid - n // 2) : mid + n // 2], dtype=np.float32)}
        for s in SHIFTS:
            clips[s] = pedalboard.time_stretch(clips[0][None, :], sr, 1.0, pitch_shift_in_semitones=float(s))[0]
        frames = {s: frame_features(np.ascontiguousarray(c, dtype=np.float32), sample_rate=sr, config=config) for s, c in clips.items()}
        data.append((item.name, frames, clips))
        print(f"described {item.name} and its 4 shifts", flush=True)
    print(f"\n{len(data)} demo tracks, middle {args.seconds:g} s, shifted {SHIFTS} semitones (Rubber Band); sections of {SECTION_S:g} s")
    _shift_table(data, rate)
    _peer_table(data, rate, sr)


if __name__ == "__main__":
    main()
