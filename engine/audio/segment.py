"""Cut a track into sections, and sections into pieces.

Segmentation needs only the track's length in samples and its rate, so a
new section length can be applied to stored frame features without decoding
the audio again.

Four modes (:class:`~engine.config.SegmentConfig`):

``fixed`` (default)
    Sections of ``section_seconds`` from the start of the track. The
    remainder at the end becomes a last section marked *partial* when it is at
    least ``min_last_fraction`` of a section long (default: half), and is
    dropped otherwise. A track shorter than one full section has no sections.
``thesis``
    Exactly what the 2022 thesis did: ``steps = ceil(duration) // 15 - 1``
    contiguous sections of ``len(y) // steps`` samples each; the few samples
    left over are dropped. 15 is ``section_seconds``. Each section is thus
    ``duration / steps`` long: always longer than 15 s, by how much depending
    on the track -- under ``15 * (steps + 2) / steps`` s. A track of just
    over 29 s up to 44 s is one section of its whole length, a 60-s track
    three of 20 s, a 4-minute track fifteen of 16 s; tracks of 29 s or less
    have none.
``bars``
    Sections of ``bars`` bars (default 8), from the first downbeat: section
    ``k`` runs from downbeat ``k * bars`` to downbeat ``(k + 1) * bars``, so
    each starts on bar one of a phrase a DJ counts in. The audio before the
    first downbeat (a pickup) is in no section. After the last full section,
    the rest of the track is a last *partial* section when it holds at least
    ``min_last_fraction`` of the bars. The downbeats come from the stored
    frames (:func:`engine.describe.bars.frame_bars`), so this mode re-cuts
    stored tracks without decoding them either.
``phrases``
    One section per phrase: from where the music changes to where it changes
    next, on bar lines (:func:`engine.describe.phrases.track_phrases`, also
    from the stored frames). Sections differ in length, as phrases do.

Examples
--------
>>> from engine.config import SegmentConfig
>>> thesis = SegmentConfig(mode="thesis")
>>> segment(44 * 1000, 1000, config=thesis).end_s.tolist()  # a 44-s track: one 44-s section
[44.0]
>>> seg = segment(60 * 1000, 1000, config=thesis)
>>> seg.n_sections, (seg.end_s - seg.start_s).tolist()
(3, [20.0, 20.0, 20.0])
>>> seg = segment(240 * 1000, 1000, config=thesis)
>>> seg.n_sections, float(seg.end_s[0])
(15, 16.0)

Pieces are consecutive whole pieces of ``piece_seconds`` inside each section
(the tail of a section shorter than one piece is not a piece). Ids are
``(track_id, section, piece)``; times are seconds from the start of the track.
"""

from __future__ import annotations

import math

import numpy as np

from ..config import SegmentConfig
from ..errors import ParameterError
from ..records import Segmentation

__all__ = ["segment", "min_track_seconds"]


#: The fastest tempo a bar is counted at when judging whether a track can hold a section of bars.
_FASTEST_BPM = 180.0


def min_track_seconds(config: SegmentConfig) -> float:
    """The shortest track (in seconds) that may yield at least one section."""
    if config.mode == "bars":
        return config.bars * 4 * 60.0 / _FASTEST_BPM
    if config.mode == "phrases":
        return 4 * 4 * 60.0 / _FASTEST_BPM  # the shortest phrase, 4 bars
    if config.mode == "thesis":
        return 2.0 * config.section_seconds - 1.0 + 1e-9  # ceil(d) // N - 1 >= 1  <=>  ceil(d) >= 2N
    return config.section_seconds


def segment(
    n_samples: int,
    sample_rate: int,
    *,
    config: SegmentConfig,
    track_id: str = "",
    downbeats_s: np.ndarray | None = None,
    phrases_s: tuple[np.ndarray, np.ndarray] | None = None,
) -> Segmentation:
    """Cut a track of ``n_samples`` at ``sample_rate`` into sections and pieces.

    Parameters
    ----------
    n_samples : int
        Length of the decoded track in samples.
    sample_rate : int
        Its rate in Hz.
    config : SegmentConfig
        Section and piece lengths, mode and the remainder rule.
    track_id : str
        Carried into the record.
    downbeats_s : np.ndarray [shape=(n_bars,)], optional
        The track's downbeats, seconds (needed, and only used, in mode ``bars``).
    phrases_s : (np.ndarray, np.ndarray), optional
        Start and end seconds of the track's phrases (needed, and only used, in mode ``phrases``).

    Returns
    -------
    Segmentation
        Possibly with zero sections when the track is shorter than
        :func:`min_track_seconds`.

    Raises
    ------
    ParameterError
        If ``n_samples`` is negative, ``sample_rate`` is not positive, or mode ``bars`` has no downbeats
        (``phrases`` no phrases).
    """
    if n_samples < 0 or sample_rate <= 0:
        raise ParameterError(f"need n_samples >= 0 and sample_rate > 0, got {n_samples}, {sample_rate}")
    if config.mode == "bars":
        if downbeats_s is None:
            raise ParameterError("sections of bars need the track's downbeats")
        bounds = _bar_bounds(n_samples, sample_rate, config, np.asarray(downbeats_s, dtype=np.float64))
    elif config.mode == "phrases":
        if phrases_s is None:
            raise ParameterError("sections of phrases need the track's phrases")
        bounds = [
            (int(round(a * sample_rate)), min(int(round(b * sample_rate)), n_samples), False)
            for a, b in zip(*phrases_s)
            if 0 <= a * sample_rate < n_samples and b > a
        ]
    elif config.mode == "thesis":
        bounds = _thesis_bounds(n_samples, sample_rate, config)
    else:
        bounds = _fixed_bounds(n_samples, sample_rate, config)
    starts = np.array([b[0] for b in bounds], dtype=np.int64)
    ends = np.array([b[1] for b in bounds], dtype=np.int64)
    partial = np.array([b[2] for b in bounds], dtype=bool)

    piece_len = int(round(config.piece_seconds * sample_rate))
    per_section = (ends - starts) // piece_len if len(bounds) else np.zeros(0, np.int64)
    piece_section = np.repeat(np.arange(len(bounds), dtype=np.int64), per_section)
    piece = np.concatenate([np.arange(n, dtype=np.int64) for n in per_section]) if len(bounds) else np.zeros(0, np.int64)
    piece_start = starts[piece_section] + piece * piece_len if len(bounds) else np.zeros(0, np.int64)

    sr = float(sample_rate)
    return Segmentation(
        track_id=track_id,
        section=np.arange(len(bounds), dtype=np.int64),
        start_s=starts / sr,
        end_s=ends / sr,
        partial=partial,
        piece_section=piece_section,
        piece=piece,
        piece_start_s=piece_start / sr,
        piece_end_s=(piece_start + piece_len) / sr,
    )


def _fixed_bounds(n: int, sr: int, config: SegmentConfig) -> list[tuple[int, int, bool]]:
    size = int(round(config.section_seconds * sr))
    full = n // size
    bounds = [(i * size, (i + 1) * size, False) for i in range(full)]
    rest = n - full * size
    if full >= 1 and rest > 0 and rest >= config.min_last_fraction * size:
        bounds.append((full * size, n, True))
    return bounds


def _thesis_bounds(n: int, sr: int, config: SegmentConfig) -> list[tuple[int, int, bool]]:
    duration = n / sr
    steps = math.ceil(duration) // int(config.section_seconds) - 1
    if steps < 1:
        return []
    size = n // steps
    return [(i * size, (i + 1) * size, False) for i in range(steps)]


def _bar_bounds(n: int, sr: int, config: SegmentConfig, downbeats: np.ndarray) -> list[tuple[int, int, bool]]:
    at = np.round(downbeats[(downbeats >= 0) & (downbeats * sr < n)] * sr).astype(np.int64)
    if len(at) < 2:
        return []
    bar = float(np.median(np.diff(at)))
    bounds = [(int(at[i]), int(at[i + config.bars]), False) for i in range(0, len(at) - config.bars, config.bars)]
    last = bounds[-1][1] if bounds else int(at[0])
    if bounds and n - last >= config.min_last_fraction * config.bars * bar:
        bounds.append((last, n, True))
    return bounds
