"""Records of the audio stage: a track's identity, its decoded signal, its section bounds, clips and spectrograms.

Frozen dataclasses holding arrays and tuples (shapes documented per field);
they import nothing from the engine's stages.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Mapping

import numpy as np

__all__ = ["Track", "Audio", "Segmentation", "Clip", "Spectrogram"]


@dataclass(frozen=True)
class Track:
    """One distinct audio file (by content)."""

    track_id: str  # sha256 hex of the file's bytes
    name: str  # display name: the relative path the user gave
    duration_s: float  # seconds, after decoding
    native_sample_rate: int  # Hz, as stored in the file
    channels: int  # channels in the file (mixed to mono for analysis)
    format: str  # container/codec as libsndfile names it, e.g. "OGG/VORBIS"
    n_bytes: int  # file size
    path: str = ""  # where it was read from (may be a temporary upload path)


@dataclass(frozen=True, eq=False)
class Audio:
    """Decoded mono audio of one track at the analysis rate."""

    track: Track
    y: np.ndarray  # float32 [shape=(n_samples,)], mono
    sample_rate: int  # Hz, the analysis rate
    # the same decode resampled to other rates (``decode_file(also_at=...)``): rate -> float32 [shape=(n,)]
    also: Mapping[int, np.ndarray] = field(default_factory=dict)


@dataclass(frozen=True, eq=False)
class Segmentation:
    """Sections (and pieces inside them) of one track.

    ``section`` numbers the sections from 0; ``piece_section`` says which
    section each piece belongs to and ``piece`` numbers pieces within their
    section from 0, so ``(track_id, section, piece)`` is a stable id.
    """

    track_id: str
    section: np.ndarray  # int64 [shape=(n_sections,)]
    start_s: np.ndarray  # float64 [shape=(n_sections,)], seconds from the track start
    end_s: np.ndarray  # float64 [shape=(n_sections,)], exclusive
    partial: np.ndarray  # bool [shape=(n_sections,)], True for a short last section
    piece_section: np.ndarray  # int64 [shape=(n_pieces,)]
    piece: np.ndarray  # int64 [shape=(n_pieces,)]
    piece_start_s: np.ndarray  # float64 [shape=(n_pieces,)]
    piece_end_s: np.ndarray  # float64 [shape=(n_pieces,)]

    @property
    def n_sections(self) -> int:
        return int(self.section.shape[0])


@dataclass(frozen=True, eq=False)
class Clip:
    """Samples of one section of a file."""

    y: np.ndarray  # float32 [shape=(n_samples,)] mono, or [shape=(n_samples, n_channels)]
    sample_rate: int  # Hz
    start_s: float  # where the clip starts in the file, seconds
    end_s: float  # where it ends (clipped to the file's end), seconds
    name: str  # the file's display name

    @property
    def duration_s(self) -> float:
        return self.y.shape[0] / self.sample_rate


@dataclass(frozen=True, eq=False)
class Spectrogram:
    """Power in decibels on a log-frequency axis."""

    db: np.ndarray  # float32 [shape=(n_bands, n_frames)], dB relative to the loudest cell, floored at -top_db
    freqs_hz: np.ndarray  # float64 [shape=(n_bands,)], band centres, ascending
    times_s: np.ndarray  # float64 [shape=(n_frames,)], frame centres in seconds from the clip's start
    sample_rate: int  # Hz
    top_db: float  # dynamic range shown
