"""Records of the mixing stage: descriptors, suggestions, mix paths and transition previews.

Frozen dataclasses holding arrays and tuples (shapes documented per field);
they import nothing from the engine's stages.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from .describe import SectionTable

__all__ = ["TrackDescriptors", "MixTable", "Suggestions", "MixPath", "Transition"]

#: Section metadata columns that lead a descriptor table (:attr:`MixTable.descriptors`).
DESCRIPTOR_META_COLUMNS = ("track_id", "name", "section", "start_s", "end_s")
#: Columns of a section descriptor table, after :data:`DESCRIPTOR_META_COLUMNS`.
DESCRIPTOR_COLUMNS = (
    "bpm",
    "bpm_confidence",
    "raw_bpm",
    "tempo_octave",
    "tempo_note",
    "first_beat_s",
    "n_beats",
    "key",
    "key_short",
    "tonic",
    "mode",
    "camelot",
    "key_strength",
    "key_confidence",
    "key_clear",
    "energy",
    "energy_level",
    "loudness_db",
    "onset_rate",
)


@dataclass(frozen=True, eq=False)
class TrackDescriptors:
    """Tempo, beats, key and energy curve of one whole track (from its stored frames)."""

    track_id: str
    bpm: float  # BPM inside the plausible range
    bpm_confidence: float  # 0..1
    tempo_note: str  # "", or the half/double-time note
    beats_s: np.ndarray  # float64 [shape=(n_beats,)], beat times tracked over the whole track
    key: str  # "A minor"
    camelot: str  # "8A"
    key_strength: float
    key_confidence: float
    energy: float  # 1..10 over the whole track
    curve_times_s: np.ndarray  # float64 [shape=(n_points,)], energy-curve window centres
    curve_energy: np.ndarray  # float64 [shape=(n_points,)], 1..10
    descriptor_digest: str
    beat_positions: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))  # int64 [n_beats], 1..4 (1: downbeat)
    bar_confidence: float = 0.0  # 0..1, how clearly the bar's phase stands out (engine.describe.bars)

    @property
    def downbeats_s(self) -> np.ndarray:
        """The beats that start a bar (empty when bars were not measured)."""
        if len(self.beat_positions) != len(self.beats_s):
            return np.zeros(0)
        return self.beats_s[self.beat_positions == 1]


@dataclass(frozen=True, eq=False)
class MixTable:
    """Sections and their descriptors, row for row."""

    sections: SectionTable
    descriptors: pd.DataFrame  # [shape=(n_sections, len(DESCRIPTOR_META_COLUMNS) + len(DESCRIPTOR_COLUMNS))]
    tracks: dict  # track_id -> TrackDescriptors
    config_digest: str  # section digest + descriptor digest

    def __len__(self) -> int:
        return len(self.descriptors)

    def to_frame(self) -> pd.DataFrame:
        """Section metadata, descriptors and features in one DataFrame (for export)."""
        feats = pd.DataFrame(self.sections.values, columns=list(self.sections.names))
        frame = pd.concat([self.sections.meta.reset_index(drop=True), self.descriptors[list(DESCRIPTOR_COLUMNS)], feats], axis=1)
        frame.attrs["config_digest"] = self.config_digest
        return frame


@dataclass(frozen=True, eq=False)
class Suggestions:
    """Sections ranked for mixing after one query section, best first."""

    query: int  # row of the query
    query_info: dict  # the query's descriptors
    frame: pd.DataFrame  # one row per suggestion: metadata, score and its parts, reasons
    config_digest: str

    def __len__(self) -> int:
        return len(self.frame)


@dataclass(frozen=True, eq=False)
class MixPath:
    """A chain of sections from one section to another."""

    rows: np.ndarray  # int64 [shape=(steps + 1,)], rows of the sections in order
    frame: pd.DataFrame  # the sections in order, with the score and reasons of the step into each
    cost: float  # sum of the edge costs
    config_digest: str
    note: str = ""  # how the graph was built for a large table (see LARGE_ROWS); "" when from every pair

    def __len__(self) -> int:
        return int(self.rows.shape[0])


@dataclass(frozen=True, eq=False)
class Transition:
    """A rendered transition and where its beats are."""

    audio: np.ndarray  # float32 [shape=(n_samples,)], mono, |x| <= 0.98
    sample_rate: int  # Hz
    bpm: float  # A's tempo: the tempo of the whole preview
    beats_s: np.ndarray  # float64 [shape=(n_beats,)], A's grid in the preview's time
    crossfade_start_s: float
    crossfade_end_s: float
    stretch: float  # B's speed factor (> 1: B played faster)
    tempo_factor: float  # 1, 2 or 0.5: B matched at its own, double or half tempo
    stretcher: str  # "rubberband" | "phase-vocoder"
    gain_b_db: float  # level change applied to B

    @property
    def duration_s(self) -> float:
        return self.audio.shape[0] / self.sample_rate
