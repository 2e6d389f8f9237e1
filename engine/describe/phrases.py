"""Phrases: where the music changes, snapped to the bar grid, and what each part is (intro, build, drop, ...).

Every bar (from one downbeat to the next, :mod:`engine.describe.bars`) is
summarised by its stored frames: mean chroma (harmony), mean MFCC 2-13
(timbre), log RMS (level) and mean onset strength (how busy it is). Each of
these is standardised over the track's bars, and the bars' self-similarity
(cosine; harmony, timbre, level and busyness weighing alike) is scanned
with Foote's checkerboard kernel (4 bars each side,
Gaussian-tapered): the *novelty* of a bar line is how much the bars before it
resemble each other and the bars after it, and differ across it.

Dance music changes on phrase lines, every 4, 8 or 16 bars from the first
downbeat. So novelty at a bar line that is a multiple of 8 bars from the first
downbeat counts 1.5 times, of 4 bars 1.25 times. Boundaries are then taken
greedily, strongest first, at least :data:`MIN_PHRASE_BARS` bars apart,
while their novelty is at least 2.5 times the median novelty at the track's
4-bar lines (most of which are no boundary).

Labels (:func:`label_phrases`) come from each phrase's energy (its standardised
level plus busyness) and its place in the track:

* **drop**: the phrases whose energy is close to the track's highest (within a
  third of the spread of phrase energies);
* **build**: a phrase just before a louder drop whose energy rises across it
  by more than half a standard deviation of the track's bars (risers, rolls),
  however loud it is itself;
* **intro** / **outro**: the phrases before the first build or drop / after
  the last drop;
* **breakdown**: the other phrases between drops.

Each label's confidence is how far the phrase's energy lies from the nearest
rule's threshold, in units of the spread, clipped to 0..1; 0 when the track is
one phrase (or its phrases' energies are all alike), which is labelled drop.

Sections of any mode get the label of the phrase that covers most of them
(:func:`section_phrases`): in mode ``phrases`` each section is a phrase and gets
its own label; in modes ``bars``, ``fixed`` and ``thesis`` a section that
straddles two phrases gets the one it overlaps longer. The labels are
metadata of the section rows (``phrase_label``, ``phrase_confidence``), never a
feature the clustering weighs.
"""

from __future__ import annotations

import numpy as np

from ..errors import ParameterError
from ..records import FrameTable, Phrases
from .bars import TIMBRE_COLUMNS, frame_bars

__all__ = ["PHRASE_LABELS", "MIN_PHRASE_BARS", "track_phrases", "bar_features", "phrase_bounds", "label_phrases", "section_phrases", "phrase_text"]

#: The labels a phrase can get.
PHRASE_LABELS = ("intro", "build", "drop", "breakdown", "outro")
#: The shortest phrase, in bars.
MIN_PHRASE_BARS = 4
_KERNEL_BARS = 4
_NOVELTY_RATIO = 2.5  # a boundary's novelty is at least this many times the typical phrase line's
_BUILD_RISE = 0.5  # how much a build's energy rises across it (standardised units)


def track_phrases(frames: FrameTable) -> Phrases:
    """A track's phrases and their labels, from its stored frames (bars by :func:`engine.describe.bars.frame_bars`).

    Returns
    -------
    Phrases
        Empty when the track has fewer than two downbeats.
    """
    downbeats = frame_bars(frames)[1].downbeats_s
    if len(downbeats) < 2:
        return Phrases(start_s=np.zeros(0), end_s=np.zeros(0), start_bar=np.zeros(0, np.int64), labels=(), confidence=np.zeros(0))
    features, energy, level = bar_features(frames, downbeats)
    starts = phrase_bounds(features)
    labels, confidence = label_phrases(energy, level, starts)
    bar_s = float(np.median(np.diff(downbeats)))
    ends = np.append(downbeats[starts[1:]], min(frames.duration_s, downbeats[-1] + bar_s))
    return Phrases(start_s=downbeats[starts], end_s=ends, start_bar=starts, labels=tuple(labels), confidence=confidence)


def bar_features(frames: FrameTable, downbeats_s: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per-bar summaries of the stored frames.

    Returns
    -------
    features : np.ndarray [shape=(n_bars, 26)]
        Standardised over the bars: chroma (12), MFCC 2-13 (12), log RMS, onset strength.
    energy : np.ndarray [shape=(n_bars,)]
        Standardised log RMS plus standardised onset strength.
    level : np.ndarray [shape=(n_bars,)]
        Log RMS (dB-like), not standardised.
    """
    d = np.asarray(downbeats_s, dtype=np.float64)
    rate = frames.sample_rate / frames.hop_length
    try:
        chroma = frames.values[:, [frames.names.index(f"chroma_{i}") for i in range(12)]].astype(np.float64)
        timbre = frames.values[:, [frames.names.index(c) for c in TIMBRE_COLUMNS]].astype(np.float64)
        rms = frames.values[:, frames.names.index("rmse")].astype(np.float64)
        onset = frames.values[:, frames.names.index("onset_strength")].astype(np.float64)
    except ValueError:
        raise ParameterError("the stored frames lack chroma, MFCC, RMS or onset columns") from None
    edges = np.clip(np.round(np.append(d, d[-1] + (np.median(np.diff(d)) if len(d) > 1 else 2.0)) * rate).astype(np.int64), 0, len(rms))
    rows = []
    for a, b in zip(edges[:-1], edges[1:]):
        b = max(b, a + 1)
        if a >= len(rms):
            rows.append(rows[-1] if rows else np.zeros(26))
            continue
        rows.append(np.concatenate([chroma[a:b].mean(0), timbre[a:b].mean(0), [10 * np.log10(np.mean(rms[a:b] ** 2) + 1e-10)], [onset[a:b].mean()]]))
    x = np.asarray(rows)
    level = x[:, 24].copy()
    z = (x - x.mean(0)) / np.where(x.std(0) > 1e-9, x.std(0), 1.0)
    energy = z[:, 24] + z[:, 25]
    z[:, :24] /= np.sqrt(12.0)  # harmony, timbre, level and busyness weigh alike in the similarity
    return z, energy, level


def phrase_bounds(features: np.ndarray) -> np.ndarray:
    """Bar indices where phrases start (0 first), from per-bar features (:func:`bar_features`).

    Returns
    -------
    np.ndarray of int64
        Increasing, starting with 0; each at least :data:`MIN_PHRASE_BARS` from the next.
    """
    x = np.asarray(features, dtype=np.float64)
    n = len(x)
    if n < 2 * MIN_PHRASE_BARS:
        return np.zeros(1, np.int64)
    u = x / np.where(np.linalg.norm(x, axis=1, keepdims=True) > 0, np.linalg.norm(x, axis=1, keepdims=True), 1.0)
    ssm = u @ u.T
    novelty = _novelty(ssm, _KERNEL_BARS)
    prior = np.where(np.arange(n) % 8 == 0, 1.5, np.where(np.arange(n) % 4 == 0, 1.25, 1.0))
    score = novelty * prior
    phrase_lines = score[np.arange(n) % 4 == 0][1:]
    threshold = _NOVELTY_RATIO * float(np.median(phrase_lines)) if len(phrase_lines) else np.inf
    chosen = [0]
    for i in np.argsort(-score, kind="stable"):
        if score[i] <= threshold or score[i] <= 0:
            break
        if i >= MIN_PHRASE_BARS and n - i >= MIN_PHRASE_BARS and all(abs(int(i) - c) >= MIN_PHRASE_BARS for c in chosen):
            chosen.append(int(i))
    return np.array(sorted(chosen), dtype=np.int64)


def _novelty(ssm: np.ndarray, half: int) -> np.ndarray:
    """Foote's novelty: a Gaussian-tapered checkerboard kernel along the diagonal; value i is the bar line before bar i."""
    n = len(ssm)
    k = np.arange(-half, half) + 0.5
    taper = np.exp(-0.5 * (k / (half / 2.0)) ** 2)
    sign = np.sign(k)
    kernel = np.outer(sign, sign) * np.outer(taper, taper)
    padded = np.pad(ssm, half, mode="edge")
    out = np.zeros(n)
    for i in range(n):
        out[i] = float(np.sum(kernel * padded[i : i + 2 * half, i : i + 2 * half]))
    return np.maximum(out, 0.0)


def label_phrases(energy: np.ndarray, level: np.ndarray, starts: np.ndarray) -> tuple[list[str], np.ndarray]:
    """A label and a confidence for each phrase.

    Parameters
    ----------
    energy : np.ndarray [shape=(n_bars,)]
        Per-bar energy (:func:`bar_features`).
    level : np.ndarray [shape=(n_bars,)]
        Per-bar log RMS.
    starts : np.ndarray [shape=(n_phrases,)]
        First bar of each phrase (:func:`phrase_bounds`).

    Returns
    -------
    labels : list of str
        One of :data:`PHRASE_LABELS` per phrase.
    confidence : np.ndarray [shape=(n_phrases,)]
        0..1.
    """
    e = np.asarray(energy, dtype=np.float64)
    bounds = list(np.asarray(starts, dtype=np.int64)) + [len(e)]
    mean = np.array([e[a:b].mean() for a, b in zip(bounds[:-1], bounds[1:])])
    rise = np.array([_slope(e[a:b]) for a, b in zip(bounds[:-1], bounds[1:])])
    n = len(mean)
    spread = float(mean.max() - mean.min()) or 1.0
    cut = mean.max() - spread / 3.0
    drop = mean >= cut
    conf = np.clip(np.abs(mean - cut) / spread * 3.0, 0.0, 1.0)
    if n < 2 or float(mean.max() - mean.min()) <= 1e-9:
        conf[:] = 0.0  # one phrase (or all alike): nothing to tell a drop from, so no confidence in the label
    build = np.zeros(n, bool)
    for i in range(n - 1):  # a rising phrase that leads into a louder drop is its build, even when loud itself
        if drop[i + 1] and mean[i] < mean[i + 1] and rise[i] > _BUILD_RISE:
            build[i], drop[i] = True, False
            conf[i] = float(np.clip((rise[i] - _BUILD_RISE) / _BUILD_RISE, 0.0, 1.0))
    labels = ["build" if build[i] else "drop" if drop[i] else "breakdown" for i in range(n)]
    drops = np.flatnonzero(drop)
    if len(drops):
        first, last = int(drops[0]), int(drops[-1])
        for i in range(n):
            if labels[i] == "breakdown" and i < first:
                labels[i] = "intro"
            elif labels[i] == "breakdown" and i > last:
                labels[i] = "outro"
    return labels, conf


def _slope(x: np.ndarray) -> float:
    """The straight-line rise of ``x`` from its start to its end, in its own units."""
    if len(x) < 2:
        return 0.0
    return float(np.polyfit(np.arange(len(x)), x, 1)[0] * (len(x) - 1))


def section_phrases(phrases: Phrases, start_s: np.ndarray, end_s: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The label and confidence of the phrase that covers most of each section.

    In mode ``phrases`` the sections are the phrases, so each gets its own
    phrase's label; in modes ``bars``, ``fixed`` and ``thesis`` a section that
    straddles a phrase line gets the label of the phrase it overlaps longer
    (the earlier one on a tie).

    Parameters
    ----------
    phrases : Phrases
        The track's phrases (:func:`track_phrases`).
    start_s, end_s : np.ndarray [shape=(n_sections,)]
        Section bounds in seconds.

    Returns
    -------
    labels : np.ndarray of str [shape=(n_sections,)]
        One of :data:`PHRASE_LABELS`; ``""`` for a section that overlaps no phrase
        (the track has no bars, or the section lies wholly before the first downbeat).
    confidence : np.ndarray of float64 [shape=(n_sections,)]
        That phrase's label confidence, 0..1; NaN where the label is ``""``.
    """
    a = np.asarray(start_s, dtype=np.float64)[:, None]
    b = np.asarray(end_s, dtype=np.float64)[:, None]
    labels = np.full(a.shape[0], "", dtype=object)
    confidence = np.full(a.shape[0], np.nan)
    if not len(phrases.labels) or not a.shape[0]:
        return labels, confidence
    overlap = np.minimum(b, phrases.end_s[None, :]) - np.maximum(a, phrases.start_s[None, :])
    best = np.argmax(overlap, axis=1)
    covered = overlap[np.arange(a.shape[0]), best] > 0
    names = np.asarray(phrases.labels, dtype=object)
    labels[covered] = names[best[covered]]
    confidence[covered] = np.asarray(phrases.confidence, dtype=np.float64)[best[covered]]
    return labels, confidence


def phrase_text(label, confidence) -> str:
    """A phrase label and its confidence as cues, tooltips and playlists show them: ``"drop 0.82"``;
    just the label when the confidence is unknown; ``""`` when the label is unknown (empty or missing)."""
    if not isinstance(label, str) or not label:
        return ""
    try:
        c = float(confidence)
    except (TypeError, ValueError):
        return label
    return f"{label} {c:.2f}" if np.isfinite(c) else label
