"""Frames to section rows: cut a track's stored frames into sections, aggregate, mark the representative ones.

The step between a track's :class:`~engine.records.FrameTable` (decoded once,
kept in the store) and its :class:`~engine.records.SectionTable`. It reads no
audio, so a new section length, statistic or selection rule costs an
aggregation, not a decode.

Every section row also carries a phrase label (``phrase_label``: intro, build,
drop, breakdown or outro) and its confidence (``phrase_confidence``, 0..1), from
the track's phrases found in the same frames (:mod:`.phrases`): in mode
``phrases`` the phrase's own label, in the other modes the label of the phrase
that covers most of the section. They are metadata, never features.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..audio.segment import segment
from ..config import AggregateConfig, AnalysisConfig
from ..errors import ParameterError
from ..records import FrameTable, Phrases, SectionTable
from .aggregation import aggregate
from .representative import select_sections

__all__ = ["sections_from_frames", "segment_frames", "frame_phrases"]


def frame_phrases(frames: FrameTable) -> Phrases:
    """The track's phrases (:func:`engine.describe.phrases.track_phrases`), or none when its frames cannot
    give them (no bars, or frames made without the chroma or MFCC 2-13 the phrases read)."""
    from .phrases import track_phrases

    try:
        return track_phrases(frames)
    except ParameterError:
        return Phrases(start_s=np.zeros(0), end_s=np.zeros(0), start_bar=np.zeros(0, np.int64), labels=(), confidence=np.zeros(0))


def segment_frames(frames: FrameTable, config: AnalysisConfig, *, phrases: Phrases | None = None):
    """:func:`engine.audio.segment.segment` of a track's stored frames, with its downbeats or phrases when the
    mode needs them (found in the same frames: re-cutting into bars or phrases decodes nothing either).
    ``phrases`` saves finding them again when the caller has them."""
    downbeats = phrase_bounds = None
    if config.segment.mode == "bars":
        from .bars import frame_bars

        downbeats = frame_bars(frames)[1].downbeats_s
    elif config.segment.mode == "phrases":
        from .phrases import track_phrases

        found = track_phrases(frames) if phrases is None else phrases
        phrase_bounds = (found.start_s, found.end_s)
    return segment(frames.n_samples, frames.sample_rate, config=config.segment, track_id=frames.track_id, downbeats_s=downbeats, phrases_s=phrase_bounds)


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
        One row per section (possibly none for a track shorter than a section); ``meta`` also has
        ``phrase_label`` and ``phrase_confidence`` (:func:`engine.describe.phrases.section_phrases`).
    """
    from .phrases import section_phrases, track_phrases

    phrases = track_phrases(frames) if config.segment.mode == "phrases" else frame_phrases(frames)
    seg = segment_frames(frames, config, phrases=phrases)
    phrase_label, phrase_confidence = section_phrases(phrases, seg.start_s, seg.end_s)
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
            "phrase_label": phrase_label,
            "phrase_confidence": phrase_confidence,
        }
    )
    return SectionTable(meta=meta, values=np.asarray(values, np.float64), names=tuple(names), config_digest=config.section_digest())
