"""Generated signals and a shared demo store for the DJ-mixing tests."""

from __future__ import annotations

import atexit
import functools
import shutil
import tempfile
from pathlib import Path

import numpy as np

SR = 44_100
FRAME_RATE = SR / 512
DEMO_DIR = Path(__file__).resolve().parents[1] / "demo"
#: A small demo store: three 60-s techno loops and one 3-minute dance track.
DEMO_TRACKS = ("tt1.ogg", "tt2.ogg", "tt4.ogg", "JDruid-Trip_on_the_Funny_Boat.ogg")


def clicks(bpm: float, seconds: float = 15.0, *, phase: float = 0.1) -> np.ndarray:
    """A 1.5-kHz click (30 ms, decaying) on every beat."""
    n = int(seconds * SR)
    y = np.zeros(n + SR, np.float32)
    t = np.arange(int(0.03 * SR)) / SR
    click = (0.5 * np.sin(2 * np.pi * 1500 * t) * np.exp(-t * 150)).astype(np.float32)
    for when in np.arange(phase, seconds, 60.0 / bpm):
        i = int(round(when * SR))
        y[i : i + len(click)] += click
    return y[:n]


def kicks(bpm: float, seconds: float = 15.0, *, phase: float = 0.2, pitch: float = 50.0, hats: float = 0.2, seed: int = 0) -> np.ndarray:
    """Four-on-the-floor: a pitched-down sine kick on every beat, a noise hi-hat on every off-beat."""
    rng = np.random.default_rng(seed)
    n = int(seconds * SR)
    y = np.zeros(n + SR, np.float32)
    tk = np.arange(int(0.25 * SR)) / SR
    kick = (0.6 * np.sin(2 * np.pi * (pitch * tk + 2.0 * (1 - np.exp(-tk * 30)))) * np.exp(-tk * 12)).astype(np.float32)
    th = np.arange(int(0.05 * SR)) / SR
    period = 60.0 / bpm
    for when in np.arange(phase, seconds, period):
        i = int(round(when * SR))
        y[i : i + len(kick)] += kick
        j = int(round((when + period / 2) * SR))
        y[j : j + len(th)] += (hats * rng.standard_normal(len(th)) * np.exp(-th * 80)).astype(np.float32)
    return y[:n]


def envelopes(y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The ``onset_strength`` and ``rmse`` frames of a generated signal, as the store keeps them."""
    from engine.config import FrameConfig
    from engine.describe.frames import frame_features

    frames = frame_features(np.asarray(y, np.float32), sample_rate=SR, config=FrameConfig())
    return frames.values[:, frames.names.index("onset_strength")], frames.values[:, frames.names.index("rmse")]


def _tone(midi: int, seconds: float, amp: float = 0.08) -> np.ndarray:
    t = np.arange(int(seconds * SR)) / SR
    f = 440.0 * 2 ** ((midi - 69) / 12)
    y = sum(amp / h * np.sin(2 * np.pi * h * f * t) for h in range(1, 7) if h * f < SR / 2)
    return y * np.minimum(1.0, t / 0.02) * np.exp(-t * 0.8)


def progression(tonic: int, mode: str, *, chord_seconds: float = 1.0) -> np.ndarray:
    """I-IV-V-I-vi-IV-V-I (major), i-iv-V-i-VI-iv-V-i (minor) or, for ``mode="aeolian"``, the
    natural-minor loop i-VI-III-VII twice and i: triads with a bass root, 6 harmonics each."""
    if mode == "major":
        seq = [(0, "M"), (5, "M"), (7, "M"), (0, "M"), (9, "m"), (5, "M"), (7, "M"), (0, "M")]
    elif mode == "aeolian":
        seq = [(0, "m"), (8, "M"), (3, "M"), (10, "M")] * 2 + [(0, "m")]
    else:
        seq = [(0, "m"), (5, "m"), (7, "M"), (0, "m"), (8, "M"), (5, "m"), (7, "M"), (0, "m")]
    out = []
    for root, quality in seq:
        base = 60 + (tonic + root) % 12
        notes = [base, base + (4 if quality == "M" else 3), base + 7, base - 12]
        out.append(sum(_tone(m, chord_seconds) for m in notes))
    return np.concatenate(out).astype(np.float32)


@functools.lru_cache(maxsize=1)
def demo_store() -> Path:
    """Analyse :data:`DEMO_TRACKS` once per test process into a temporary store."""
    from engine.cli.main import main

    root = Path(tempfile.mkdtemp(prefix="cratemap-mix-"))
    atexit.register(shutil.rmtree, root, ignore_errors=True)
    code = main(["analyze", *(str(DEMO_DIR / n) for n in DEMO_TRACKS), "--out", str(root), "--quiet"])
    assert code == 0
    return root
