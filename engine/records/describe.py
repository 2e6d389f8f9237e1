"""Records of the describe stage: frame-level features, section rows, tempo, energy and key.

Frozen dataclasses holding arrays and tuples (shapes documented per field);
they import nothing from the engine's stages.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

__all__ = ["FrameTable", "SectionTable", "SECTION_META_COLUMNS", "Tempo", "Energy", "Key"]

#: The meta columns of a section table, in order.
SECTION_META_COLUMNS: tuple[str, ...] = ("track_id", "name", "section", "start_s", "end_s", "partial", "selected")


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

    ``meta`` columns: :data:`SECTION_META_COLUMNS` -- ``track_id``, ``name``,
    ``section``, ``start_s``, ``end_s``, ``partial``, ``selected`` (representative
    under the config's rule). ``values`` holds the features in ``names`` order.
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


@dataclass(frozen=True)
class Tempo:
    """A constant-tempo estimate of one stretch of audio (:func:`engine.describe.rhythm.estimate_tempo`)."""

    bpm: float  # beats per minute, inside the plausible range
    confidence: float  # 0..1, normalised autocorrelation of the onset envelope at one beat
    first_beat_s: float  # seconds from the stretch's start to its first grid beat (0 <= t < period)
    raw_bpm: float  # the best tempo over 40-300 BPM, before octave folding
    octave: float  # bpm / raw_bpm rounded to a power of two: 1, 2 (double time) or 0.5 (half time)

    @property
    def period_s(self) -> float:
        """Seconds per beat."""
        return 60.0 / self.bpm

    @property
    def note(self) -> str:
        """``""``, or "double time of 70.0 BPM" / "half time of 250.0 BPM"."""
        if self.octave > 1.0:
            return f"double time of {self.raw_bpm:.1f} BPM"
        if self.octave < 1.0:
            return f"half time of {self.raw_bpm:.1f} BPM"
        return ""


@dataclass(frozen=True)
class Energy:
    """Energy of a stretch of audio on the absolute 1-10 scale (see :mod:`engine.describe.rhythm`)."""

    energy: float  # 1.0..10.0
    level: int  # 1..10, ``round(energy)``
    loudness_db: float  # dBFS, RMS level
    onset_rate: float  # onsets per second


@dataclass(frozen=True)
class Key:
    """A key estimate (:func:`engine.describe.key.estimate_key`).

    Its names come from the describe stage: ``key_name(k.tonic, k.mode)``
    ("A minor") and ``camelot(k.tonic, k.mode)`` ("8A") in
    :mod:`engine.describe.key`.
    """

    tonic: int  # pitch class 0..11, C = 0
    mode: str  # "major" | "minor"
    strength: float  # Pearson correlation of the chroma with the best key's profile, -1..1
    confidence: float  # (best - second best) / best, 0..1
    profile: str  # the profile used
