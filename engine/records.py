"""Typed, frozen records that flow between the engine's stages.

Records hold numpy arrays and tuples. Each knows the ``track_id`` (sha256 of
the file's bytes) it came from. Array shapes are documented per field.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

__all__ = ["Track", "Audio", "Segmentation", "FrameTable", "SectionTable", "PieceTable", "FileError", "BatchResult"]


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


@dataclass(frozen=True, eq=False)
class FrameTable:
    """Frame-level classical features of one whole track.

    Frame ``i`` is centred at ``times_s[i] = i * hop_length / sample_rate``.
    """

    track_id: str
    names: tuple[str, ...]  # feature names, one per column
    values: np.ndarray  # float32 [shape=(n_frames, n_features)]
    times_s: np.ndarray  # float64 [shape=(n_frames,)], frame centres
    sample_rate: int  # Hz
    hop_length: int  # samples
    duration_s: float  # the track's duration
    n_samples: int  # samples of the decoded track at ``sample_rate``
    frame_digest: str  # digest of the FrameConfig that made it


@dataclass(frozen=True, eq=False)
class SectionTable:
    """One row per section: ids, times and aggregated features.

    ``meta`` columns: ``track_id``, ``name``, ``section``, ``start_s``,
    ``end_s``, ``partial``, ``selected`` (representative under the config's
    rule). ``values`` holds the features in ``names`` order.
    """

    meta: pd.DataFrame  # [shape=(n_sections, 7)]
    values: np.ndarray  # float64 [shape=(n_sections, n_features)]
    names: tuple[str, ...]
    config_digest: str

    def __len__(self) -> int:
        return int(self.values.shape[0])

    def to_frame(self) -> pd.DataFrame:
        """Metadata and features side by side in one DataFrame."""
        feats = pd.DataFrame(self.values, columns=list(self.names), index=self.meta.index)
        return pd.concat([self.meta, feats], axis=1)

    def selected(self) -> "SectionTable":
        """Only the representative sections."""
        mask = self.meta["selected"].to_numpy(bool)
        return SectionTable(self.meta[mask].reset_index(drop=True), self.values[mask], self.names, self.config_digest)


@dataclass(frozen=True, eq=False)
class PieceTable:
    """One row per CNN input piece (a musicnn 3-s patch, a VGGish 0.96-s example).

    ``meta`` columns: ``track_id``, ``name``, ``section`` (the section of the
    analysis config that contains the piece's centre; -1 when none does),
    ``piece`` (index within the track), ``start_s``, ``end_s``.
    """

    meta: pd.DataFrame  # [shape=(n_pieces, 6)]
    values: np.ndarray  # float32 [shape=(n_pieces, dim)], the embedding
    tags: np.ndarray | None  # float32 [shape=(n_pieces, n_tags)], tag probabilities (musicnn) or None
    tag_names: tuple[str, ...]
    model: str  # EmbedConfig.model
    weights: str  # "<file> sha256:<hex>" of the weights that ran
    config_digest: str  # EmbedConfig digest

    def __len__(self) -> int:
        return int(self.values.shape[0])


@dataclass(frozen=True)
class FileError:
    """A file that could not be analysed, and why."""

    name: str  # display name
    reason: str  # one of errors.DECODE_REASONS (or "error" for anything else)
    detail: str  # a sentence for a person


@dataclass(frozen=True, eq=False)
class BatchResult:
    """What analysing a batch of files produced."""

    tracks: tuple[Track, ...]  # distinct tracks read (first name wins)
    errors: tuple[FileError, ...]  # files that failed, with reasons
    duplicates: tuple[tuple[str, str], ...]  # (duplicate name, name of the track it repeats)
    sections: SectionTable | None = None
    seconds_of_audio: float = 0.0
    wall_s: float = 0.0
    from_store: tuple[str, ...] = field(default=())  # track ids answered by the store without decoding
