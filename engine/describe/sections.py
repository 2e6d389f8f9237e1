"""Frames to section rows: cut a track's stored frames into sections, aggregate, mark the representative ones.

The step between a track's :class:`~engine.records.FrameTable` (decoded once,
kept in the store) and its :class:`~engine.records.SectionTable`. It reads no
audio, so a new section length, statistic or selection rule costs an
aggregation, not a decode.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..audio.segment import segment
from ..config import AggregateConfig, AnalysisConfig
from ..records import FrameTable, SectionTable
from .aggregation import aggregate
from .representative import select_sections

__all__ = ["sections_from_frames", "segment_frames"]


def segment_frames(frames: FrameTable, config: AnalysisConfig):
    """:func:`engine.audio.segment.segment` of a track's stored frames, with its downbeats or phrases when the
    mode needs them (found in the same frames: re-cutting into bars or phrases decodes nothing either)."""
    downbeats = phrases = None
    if config.segment.mode == "bars":
        from .bars import frame_bars

        downbeats = frame_bars(frames)[1].downbeats_s
    elif config.segment.mode == "phrases":
        from .phrases import track_phrases

        found = track_phrases(frames)
        phrases = (found.start_s, found.end_s)
    return segment(frames.n_samples, frames.sample_rate, config=config.segment, track_id=frames.track_id, downbeats_s=downbeats, phrases_s=phrases)


def sections_from_frames(frames: FrameTable, name: str, *, config: AnalysisConfig) -> SectionTable:
    """Cut one track's stored frames into sections and aggregate them.

    Parameters
    ----------
    frames : FrameTable
        The track's frame-level features.
    name : str
        Display name written into the rows.
    config : AnalysisConfig
        Segment, aggregate and selection settings.

    Returns
    -------
    SectionTable
        One row per section (possibly none for a track shorter than a section).
    """
    seg = segment_frames(frames, config)
    values, names = aggregate(frames, seg.start_s, seg.end_s, config=config.aggregate)
    # the selection rules read RMS and centroid, aggregated the same way even when not kept as columns
    basis, _ = aggregate(
        frames,
        seg.start_s,
        seg.end_s,
        config=AggregateConfig(statistic=config.aggregate.statistic, features=("rmse", "spectral_centroid")),
    )
    selected = select_sections(basis[:, 0], basis[:, 1], config=config.select) if seg.n_sections else np.zeros(0, bool)
    meta = pd.DataFrame(
        {
            "track_id": np.full(seg.n_sections, frames.track_id, dtype=object),
            "name": np.full(seg.n_sections, name, dtype=object),
            "section": seg.section,
            "start_s": seg.start_s,
            "end_s": seg.end_s,
            "partial": seg.partial,
            "selected": selected,
        }
    )
    return SectionTable(meta=meta, values=np.asarray(values, np.float64), names=tuple(names), config_digest=config.section_digest())
