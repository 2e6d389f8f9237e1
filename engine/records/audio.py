"""Records of the audio stage: a track's identity, its decoded signal and its section bounds.

Frozen dataclasses holding arrays and tuples (shapes documented per field);
they import nothing from the engine's stages.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["Track", "Audio", "Segmentation"]


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
