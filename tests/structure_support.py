"""Generated dance tracks with a known tempo, downbeat and phrase structure (intro, build, drop, breakdown, outro)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

SR = 44_100
#: The structure the issue names, in bars: intro 16, build 8, drop 16, breakdown 16, drop 16, outro 16.
PHRASES = (("intro", 16), ("build", 8), ("drop", 16), ("breakdown", 16), ("drop", 16), ("outro", 16))
_LOOP = (0, 8, 3, 10)  # i - VI - III - VII in semitones above the minor tonic: an Aeolian loop
_MINOR_TRIAD, _MAJOR_TRIAD = (0, 3, 7), (0, 4, 7)


@dataclass(frozen=True)
class Structured:
    """A generated track and what is known about it."""

    y: np.ndarray  # float32 mono at SR
    bpm: float
    downbeats_s: np.ndarray  # every bar's first beat
    phrases: tuple[tuple[str, float, float], ...]  # (label, start_s, end_s)


def _tone(freq: float, n: int, amp: float, decay: float) -> np.ndarray:
    t = np.arange(n) / SR
    y = sum(amp / h * np.sin(2 * np.pi * h * freq * t) for h in range(1, 6) if h * freq < SR / 2)
    return (y * np.minimum(1.0, t / 0.01) * np.exp(-t * decay)).astype(np.float32)


def _midi(m: float) -> float:
    return 440.0 * 2 ** ((m - 69) / 12)


def structured_track(bpm: float = 126.0, *, tonic: int = 9, first_downbeat_s: float = 0.37, phrases=PHRASES, seed: int = 0) -> Structured:
    """A track in ``tonic`` minor whose chords change on every bar (the Aeolian loop), with drums that
    follow the phrase: kicks in intro, build, drops and outro, claps on 2 and 4 in the drops, a crash on
    each drop's first beat, a snare fill in the last bar of the build and a noise riser over it; the bass
    in the drops and the breakdown, which has no drums."""
    rng = np.random.default_rng(seed)
    beat = 60.0 / bpm
    bars = sum(n for _, n in phrases)
    total = first_downbeat_s + bars * 4 * beat + 1.0
    y = np.zeros(int(total * SR) + SR, np.float32)

    def put(at_s: float, sound: np.ndarray) -> None:
        i = int(round(at_s * SR))
        y[i : i + len(sound)] += sound[: max(0, len(y) - i)]

    tk = np.arange(int(0.25 * SR)) / SR
    kick = (0.5 * np.sin(2 * np.pi * (50 * tk + 2.0 * (1 - np.exp(-tk * 30)))) * np.exp(-tk * 12)).astype(np.float32)
    noise = rng.standard_normal(int(2.0 * SR)).astype(np.float32)
    hat = noise[: int(0.04 * SR)] * np.exp(-np.arange(int(0.04 * SR)) / SR * 90).astype(np.float32) * 0.08
    clap = noise[: int(0.12 * SR)] * np.exp(-np.arange(int(0.12 * SR)) / SR * 30).astype(np.float32) * 0.25
    crash = noise * np.exp(-np.arange(len(noise)) / SR * 2.5).astype(np.float32) * 0.12
    out, bar, downbeats = [], 0, []
    for label, n in phrases:
        start = first_downbeat_s + bar * 4 * beat
        out.append((label, start, start + n * 4 * beat))
        for b in range(n):
            t0 = first_downbeat_s + (bar + b) * 4 * beat
            downbeats.append(t0)
            root = tonic + _LOOP[b % 4]
            triad = _MINOR_TRIAD if _LOOP[b % 4] in (0,) else _MAJOR_TRIAD
            pad = {"intro": 0.03, "build": 0.05, "drop": 0.07, "breakdown": 0.08, "outro": 0.03}[label]
            for iv in triad:
                put(t0, _tone(_midi(60 + (root + iv) % 12), int(4 * beat * SR), pad, 0.4))
            if label in ("drop", "breakdown"):
                put(t0, _tone(_midi(36 + root % 12), int(4 * beat * SR), 0.12, 0.6))  # the bass holds the chord's root
            if label != "breakdown":
                for k in range(4):
                    put(t0 + k * beat, kick)
                    put(t0 + (k + 0.5) * beat, hat)
            if label == "drop":
                put(t0 + beat, clap)
                put(t0 + 3 * beat, clap)
                if b == 0:
                    put(t0, crash)
            if label == "build" and b == n - 1:  # a snare roll into the drop
                for k in range(16):
                    put(t0 + k * beat / 4, clap * (0.3 + 0.7 * k / 16))
            if label == "build":  # a riser: noise rising in level across the build
                seg = rng.standard_normal(int(4 * beat * SR)).astype(np.float32) * 0.06 * (b + 1) / n
                put(t0, seg)
        bar += n
    y = y[: int(total * SR)]
    y /= max(1.0, float(np.abs(y).max()) / 0.9)
    return Structured(y=y, bpm=bpm, downbeats_s=np.array(downbeats), phrases=tuple(out))


def f_measure(found: np.ndarray, truth: np.ndarray, *, window_s: float = 0.07) -> float:
    """The F-measure of ``found`` events against ``truth`` within ``window_s`` (each truth matched once)."""
    found, truth = np.sort(np.asarray(found, float)), np.sort(np.asarray(truth, float))
    if not len(found) or not len(truth):
        return 0.0
    used = np.zeros(len(truth), bool)
    hits = 0
    for t in found:
        i = int(np.argmin(np.where(used, np.inf, np.abs(truth - t))))
        if not used[i] and abs(truth[i] - t) <= window_s:
            used[i] = True
            hits += 1
    precision, recall = hits / len(found), hits / len(truth)
    return 0.0 if hits == 0 else 2 * precision * recall / (precision + recall)
