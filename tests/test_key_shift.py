"""The key moves with the music: every demo track shifted by -2..+2 semitones (issue 19).

The middle 30 s of each demo track is pitch-shifted with Rubber Band
(pedalboard's ``time_stretch``, tempo kept), described as an analysis would,
and its key estimated as the analysis does (:func:`engine.describe.tonal.frame_key`),
for the whole stretch and for each 15-s half. A shift of n semitones must move
the key by exactly n (same mode) in at least 95 % of the pairs where both keys
are confident (at least ``CLEAR_KEY``), and the confident pairs must be most
of them, so the rate cannot come from calling everything unclear.
``bench/key.py`` prints the same table per profile, beside Essentia.
"""

from __future__ import annotations

import numpy as np
import pedalboard
import pytest

from engine.audio.decode import decode_file
from engine.config import FrameConfig, MixConfig
from engine.describe.frames import frame_features
from engine.describe.key import CLEAR_KEY
from engine.describe.tonal import frame_key

SHIFTS = (-2, -1, 1, 2)
SECONDS = 30.0


@pytest.fixture(scope="module")
def shifted(demo_dir) -> dict[str, dict[int, object]]:
    config = FrameConfig()
    sr = config.sample_rate
    out = {}
    for path in sorted(p for p in demo_dir.iterdir() if p.suffix in (".ogg", ".opus")):
        y = decode_file(path, sample_rate=sr).y
        mid, half = len(y) // 2, int(SECONDS * sr) // 2
        clip = np.ascontiguousarray(y[mid - half : mid + half], dtype=np.float32)
        clips = {0: clip} | {s: pedalboard.time_stretch(clip[None, :], sr, 1.0, pitch_shift_in_semitones=float(s))[0] for s in SHIFTS}
        out[path.name] = {s: frame_features(np.ascontiguousarray(c, dtype=np.float32), sample_rate=sr, config=config) for s, c in clips.items()}
    assert len(out) == 11
    return out


def test_every_demo_track_moves_with_its_shift(shifted):
    profile = MixConfig().key_profile
    half = int(SECONDS / 2 * FrameConfig().sample_rate / FrameConfig().hop_length)
    pairs, wrong = 0, []
    confident = 0
    for name, frames in shifted.items():
        for a, b in ((0, None), (0, half), (half, 2 * half)):
            base = frame_key(frames[0], profile=profile, start=a, stop=b)
            for s in SHIFTS:
                k = frame_key(frames[s], profile=profile, start=a, stop=b)
                pairs += 1
                if min(k.confidence, base.confidence) >= CLEAR_KEY:
                    confident += 1
                    if (k.tonic, k.mode) != ((base.tonic + s) % 12, base.mode):
                        wrong.append(f"{name} frames {a}..{b} shift {s:+d}: {base.tonic} {base.mode} -> {k.tonic} {k.mode}")
    assert pairs == 11 * 3 * 4
    assert confident >= pairs // 2, f"only {confident} of {pairs} pairs confident"
    assert len(wrong) <= 0.05 * confident, f"{len(wrong)} of {confident} confident pairs moved wrongly: {wrong}"
