"""Downbeats: which beat of the bar each tracked beat is, from the stored frames.

Dance music is in 4/4 and its chords, bass lines and sounds change on bar
lines far more often than inside a bar. So, given the track's beats (tracked
on its onset envelope), each beat interval is summarised by the frames it
holds: its mean chroma (harmony) and its mean MFCCs 2-13 (timbre, without the
level). Between each pair of consecutive beat intervals a *change* is
measured: the cosine distance of their chroma plus the distance of their
timbre (each scaled by its median over the track). A bar line falls where
change is large, every ``beats_per_bar`` beats: for each of the 4 phases, the
mean change at the beats of that phase, minus the mean change at the others,
is its score; the best phase makes the downbeats.

A further cue separates beat 1 from beat 3, which harmony alone may not (a
chord held two beats changes on 3 as well): the level (RMS) right after each
beat, as most tracks accent the downbeat (a crash, a bass note, the kick
after a fill). Its score is added at a tenth of the weight.

One phase holds for the whole track. That needs beats without slips: a
tracker that loses the beat where the drums stop (a breakdown) and finds it
again half a beat later counts one beat too many, and every bar after it
would be counted from the wrong beat. :func:`steady_beats` mends that for a
steady track: it fits the track's grid to the tracked beats (a constant
period, allowing a slow linear drift), and where tracked beats leave the grid
by more than a tenth of a beat puts the grid's own beats in their place, so
there is one beat per grid line. A track whose beats mostly do not fit one
grid (a tempo change, a live recording) keeps its tracked beats.
``confidence`` is how far the best phase's score is ahead of the next, in
medians of change, clipped to 0..1 (near 0: no phase stands out, e.g. drums
alone with nothing that marks a bar; 0.09 on generated kicks and hi-hats).
"""

from __future__ import annotations

import dataclasses

import numpy as np

from ..errors import ParameterError
from ..records import Bars, FrameTable, Tempo
from .rhythm import accent_beats, estimate_tempo

__all__ = ["frame_bars", "track_bars", "steady_beats", "BEATS_PER_BAR", "TIMBRE_COLUMNS"]

#: Beats in a bar: CrateMap assumes 4/4, as dance music is.
BEATS_PER_BAR = 4
#: The stored MFCCs that describe timbre without the level (MFCC 1 is the level).
TIMBRE_COLUMNS = tuple(f"mfcc{i}" for i in range(2, 14))
_ACCENT_WEIGHT = 0.1
_MIN_TEMPO_S = 4.0  # shortest envelope with a tempo of its own
_CLEAR_MARGIN = 1.0  # a phase this far ahead of the next (in medians of change) is certain
_ON_GRID = 0.1  # a tracked beat within this fraction of a beat of the fitted grid is on it
_STEADY_SHARE = 0.7  # a track is steady when at least this share of its beats is on the grid


def frame_bars(frames: FrameTable, *, bpm_min: float = 85.0, bpm_max: float = 180.0) -> tuple[Tempo, Bars]:
    """A whole track's tempo, beats and bars from its stored frames.

    The tempo is :func:`~engine.describe.rhythm.estimate_tempo`'s; the beats are
    tracked by librosa at that tempo, moved onto the accents
    (:func:`~engine.describe.rhythm.accent_beats`) and mended by :func:`steady_beats`;
    the bars are :func:`track_bars`'s.

    Parameters
    ----------
    frames : FrameTable
        With ``onset_strength``, ``rmse``, ``chroma_0..11`` and ``mfcc2..13``.
    bpm_min, bpm_max : float
        The plausible tempo range.

    Returns
    -------
    tempo : Tempo
        Confidence 0 for a track under 4 s (estimated on the envelope padded with silence).
    bars : Bars
        Beats inside the track, each with its place in the bar.

    Raises
    ------
    ParameterError
        If a needed column is missing or beat tracking fails.
    """
    import librosa

    try:
        onset, rmse = (frames.values[:, frames.names.index(c)].astype(np.float64) for c in ("onset_strength", "rmse"))
        chroma = np.column_stack([frames.values[:, frames.names.index(f"chroma_{i}")] for i in range(12)]).astype(np.float64)
        timbre = np.column_stack([frames.values[:, frames.names.index(c)] for c in TIMBRE_COLUMNS]).astype(np.float64)
    except ValueError:
        raise ParameterError("the stored frames lack onset, RMS, chroma or MFCC columns; analyse again with the default frame settings") from None
    rate = frames.sample_rate / frames.hop_length
    pad = max(int(np.ceil(_MIN_TEMPO_S * rate)) - len(onset), 0)
    o_t, r_t = np.pad(onset, (0, pad)), np.pad(rmse, (0, pad))
    tempo = estimate_tempo(o_t, frame_rate=rate, bpm_min=bpm_min, bpm_max=bpm_max, accent=r_t)
    if pad:
        tempo = dataclasses.replace(tempo, confidence=0.0)
    try:
        _, beats = librosa.beat.beat_track(
            onset_envelope=o_t, sr=frames.sample_rate, hop_length=frames.hop_length, bpm=tempo.bpm, tightness=400, units="time"
        )
    except librosa.ParameterError as exc:
        raise ParameterError(f"beat tracking failed ({exc})") from exc
    beats = steady_beats(accent_beats(np.asarray(beats, np.float64), r_t, frame_rate=rate), tempo.bpm, span_s=(0.0, frames.duration_s))
    beats = np.asarray(beats[(beats >= 0) & (beats < frames.duration_s)], np.float64)
    return tempo, track_bars(beats, frame_rate=rate, chroma=chroma, timbre=timbre, rms=rmse)


def steady_beats(beats_s: np.ndarray, bpm: float, *, span_s: tuple[float, float] | None = None) -> np.ndarray:
    """The tracked beats with their slips mended: one beat per line of the track's grid, where the track is steady.

    Parameters
    ----------
    beats_s : np.ndarray [shape=(n_beats,)]
        Tracked beats, seconds, increasing.
    bpm : float
        The track's tempo.
    span_s : (float, float), optional
        Extend the grid to this stretch (the whole track): a tracker starts late and stops early.

    Returns
    -------
    np.ndarray [shape=(n,)]
        From the first to the last tracked beat (or over ``span_s``): each grid line's tracked beat where
        one lies on it, the grid line itself where none does. ``beats_s`` unchanged when fewer than 16 beats, or under 70 %
        of them, fit one grid.
    """
    beats = np.asarray(beats_s, dtype=np.float64)
    if beats.size < 16 or not bpm > 0:
        return beats
    period = 60.0 / float(bpm)
    t = beats - beats[0]
    off = (t + period / 2) % period - period / 2  # each beat's offset from a grid on the first beat
    inlier = np.abs(off - np.median(off)) < _ON_GRID * period
    for _ in range(3):  # a robust straight line: a constant offset and a slow drift of the period
        if inlier.sum() < 2:
            return beats
        slope, icpt = np.polyfit(t[inlier], off[inlier], 1)
        inlier = np.abs(off - (icpt + slope * t)) < _ON_GRID * period
    if inlier.mean() < _STEADY_SHARE:
        return beats
    # grid line k sits where t = icpt + slope * t + k * period
    lo, hi = (beats[0] - period / 2, beats[-1] + period / 2) if span_s is None else (span_s[0], span_s[1])
    k = np.arange(np.floor(((lo - beats[0]) * (1 - slope) - icpt) / period) - 1, np.ceil(((hi - beats[0]) * (1 - slope) - icpt) / period) + 2)
    grid = beats[0] + (icpt + k * period) / (1 - slope)
    grid = grid[(grid >= lo) & (grid <= hi)]
    nearest = np.clip(np.searchsorted(beats[inlier], grid), 1, max(int(inlier.sum()) - 1, 1))
    kept = beats[inlier]
    pick = np.where(np.abs(kept[nearest - 1] - grid) < np.abs(kept[nearest] - grid), kept[nearest - 1], kept[nearest])
    return np.where(np.abs(pick - grid) < _ON_GRID * period, pick, grid)


def track_bars(beats_s: np.ndarray, *, frame_rate: float, chroma: np.ndarray, timbre: np.ndarray, rms: np.ndarray) -> Bars:
    """The bar position of every beat, and the downbeats.

    Parameters
    ----------
    beats_s : np.ndarray [shape=(n_beats,)]
        Tracked beats, seconds, increasing.
    frame_rate : float
        Frames per second of the frame columns.
    chroma : np.ndarray [shape=(n_frames, 12)]
        The stored chroma frames.
    timbre : np.ndarray [shape=(n_frames, n_mfcc)]
        MFCC frames (the stored ``mfcc2 .. mfcc13``).
    rms : np.ndarray [shape=(n_frames,)]

    Returns
    -------
    Bars
        ``positions`` 1..4 per beat (1 = downbeat). With fewer than
        ``2 * BEATS_PER_BAR + 1`` beats the phase cannot be measured: the first
        beat is taken as the downbeat, with confidence 0.

    Raises
    ------
    ParameterError
        For mismatched shapes or a non-positive frame rate.
    """
    beats = np.asarray(beats_s, dtype=np.float64)
    c, m, level = (np.asarray(a, dtype=np.float64) for a in (chroma, timbre, rms))
    if not frame_rate > 0:
        raise ParameterError(f"frame_rate must be positive, got {frame_rate}")
    if c.ndim != 2 or c.shape[1] != 12 or m.ndim != 2 or len(m) != len(c) or level.shape != (len(c),):
        raise ParameterError(f"chroma [n, 12], timbre [n, k] and rms [n] must share n, got {c.shape}, {m.shape}, {level.shape}")
    n = beats.size
    if n < 2 * BEATS_PER_BAR + 1:
        return Bars(beats_s=beats, positions=(np.arange(n) % BEATS_PER_BAR + 1).astype(np.int64), confidence=0.0)
    edges = np.clip(np.round(np.append(beats, beats[-1] + np.median(np.diff(beats))) * frame_rate).astype(np.int64), 0, len(c))
    harm, tim, acc = _per_beat(edges, c, m, level)
    change = _scaled(_cosine_change(harm)) + _scaled(np.linalg.norm(np.diff(tim, axis=0), axis=1))
    accent = _scaled(acc[1:] - acc[:-1])
    scores = np.array([_phase_score(change, p) + _ACCENT_WEIGHT * _phase_score(accent, p) for p in range(BEATS_PER_BAR)])
    order = np.argsort(-scores, kind="stable")
    best, second = scores[order[0]], scores[order[1]]
    confidence = float(np.clip((best - second) / _CLEAR_MARGIN, 0.0, 1.0))
    phase = int(order[0])  # the first downbeat is beat index phase
    positions = ((np.arange(n) - phase) % BEATS_PER_BAR + 1).astype(np.int64)
    return Bars(beats_s=beats, positions=positions, confidence=confidence)


def _per_beat(edges: np.ndarray, c: np.ndarray, m: np.ndarray, level: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Mean chroma, mean timbre, and the level of the first quarter of each beat interval."""
    n = len(edges) - 1
    harm, tim, acc = np.zeros((n, c.shape[1])), np.zeros((n, m.shape[1])), np.zeros(n)
    for i in range(n):
        a, b = edges[i], max(edges[i + 1], edges[i] + 1)
        if a >= len(c):
            harm[i], tim[i], acc[i] = harm[i - 1], tim[i - 1], acc[i - 1]
            continue
        harm[i], tim[i] = c[a:b].mean(axis=0), m[a:b].mean(axis=0)
        acc[i] = level[a : max(a + 1, a + (b - a) // 4)].mean()
    return harm, tim, acc


def _cosine_change(x: np.ndarray) -> np.ndarray:
    """1 - cosine similarity of each row with the next: [n - 1]."""
    norm = np.linalg.norm(x, axis=1)
    norm[norm == 0] = 1.0
    u = x / norm[:, None]
    return 1.0 - np.sum(u[1:] * u[:-1], axis=1)


def _scaled(x: np.ndarray) -> np.ndarray:
    """``x`` over the median of its absolute values (0 stays 0 for an all-zero series)."""
    scale = float(np.median(np.abs(x)))
    if scale <= 0:
        scale = float(np.mean(np.abs(x))) or 1.0
    return x / scale


def _phase_score(change: np.ndarray, phase: int) -> float:
    """Mean ``change`` into the beats of ``phase`` (bar lines) minus the mean into the other beats.

    ``change[i]`` is the change from beat interval ``i`` to ``i + 1``: it marks beat ``i + 1``.
    """
    beat = np.arange(1, len(change) + 1)
    at = (beat - phase) % BEATS_PER_BAR == 0
    if not at.any() or at.all():
        return 0.0
    return float(change[at].mean() - change[~at].mean())
