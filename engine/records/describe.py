"""Records of the describe stage: frame-level features, section rows, tempo, energy and key.

Frozen dataclasses holding arrays and tuples (shapes documented per field);
they import nothing from the engine's stages.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

__all__ = ["FrameTable", "SectionTable", "SECTION_META_COLUMNS", "PHRASE_COLUMNS", "TEMPO_RELATIONS", "tempo_relation", "Tempo", "Bars", "Phrases", "Energy", "Key"]

#: The meta columns of a section table, in order.
SECTION_META_COLUMNS: tuple[str, ...] = ("track_id", "name", "section", "start_s", "end_s", "partial", "selected")
#: The meta columns that follow them in sections cut from frames: the section's phrase label
#: (intro, build, drop, breakdown, outro; "" when unknown) and its confidence (0..1; NaN when unknown).
#: Tables read from other files may lack them.
PHRASE_COLUMNS: tuple[str, ...] = ("phrase_label", "phrase_confidence")


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
    under the config's rule); sections cut from frames also have
    :data:`PHRASE_COLUMNS` (``phrase_label``, ``phrase_confidence``: metadata,
    never features). ``values`` holds the features in ``names`` order.
    """

    meta: pd.DataFrame  # [shape=(n_sections, 7 or 9)]
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


#: The tempo relations a note names, as (ratio, how it is written).
TEMPO_RELATIONS: tuple[tuple[float, str], ...] = (
    (2.0, "×2"), (0.5, "×½"), (1.5, "×3/2"), (2.0 / 3.0, "×2/3"), (4.0, "×4"), (0.25, "×¼"), (3.0, "×3"), (1.0 / 3.0, "×⅓"),
)


def tempo_relation(ratio: float, *, tolerance: float = 0.03) -> str:
    """``"×2"``, ``"×3/2"``, ... for a ratio of tempi within ``tolerance`` (in octaves) of one of
    :data:`TEMPO_RELATIONS`; ``"×1"`` near 1; else ``"×1.27"``."""
    if ratio > 0 and abs(np.log2(ratio)) < tolerance:
        return "×1"
    for r, text in TEMPO_RELATIONS:
        if ratio > 0 and abs(np.log2(ratio / r)) < tolerance:
            return text
    return f"×{ratio:.2f}"


@dataclass(frozen=True)
class Tempo:
    """A constant-tempo estimate of one stretch of audio (:func:`engine.describe.rhythm.estimate_tempo`)."""

    bpm: float  # beats per minute, inside the plausible range
    confidence: float  # 0..1, normalised autocorrelation of the onset envelope at one beat
    first_beat_s: float  # seconds from the stretch's start to its first grid beat (0 <= t < period)
    raw_bpm: float  # the strongest pulse over 40-300 BPM, before the range decides
    octave: float  # bpm / raw_bpm when that is a power of two (2: double time, 0.5: half time), else 1
    bpm_min: float = 85.0  # the plausible range the tempo was kept in
    bpm_max: float = 180.0
    strength: float = float("nan")  # the tempo's score over the strongest pulse's, 0..1 (NaN: not measured)
    alternative_bpm: float = float("nan")  # the strongest other reading (x2, x1/2, x3/2 or x2/3 of bpm); NaN: none measured
    alternative_strength: float = 0.0  # its score over the strongest pulse's, 0..1

    @property
    def period_s(self) -> float:
        """Seconds per beat."""
        return 60.0 / self.bpm

    @property
    def note(self) -> str:
        """What else the tempo could be, always stated the same way, e.g.
        ``"folded ×2 from 80.0 BPM into 85–180 BPM; or 80.0 BPM (×½, strength 1.00 against 0.35)"``.

        The first part appears when the strongest pulse (``raw_bpm``) is not the tempo: ``folded`` when
        they are octaves apart and the range moved it, else the relation (``×3/2``, ``×2/3``) and why.
        The second names the strongest alternative reading, and its strength against the tempo's (each the
        estimator's score over the strongest pulse's).
        """
        parts = []
        relation = tempo_relation(self.bpm / self.raw_bpm) if self.raw_bpm > 0 else "×1"
        if relation != "×1":
            span, inside = f"{self.bpm_min:g}–{self.bpm_max:g} BPM", self.bpm_min <= self.raw_bpm <= self.bpm_max
            if self.octave != 1.0:
                parts.append(f"{relation} of the strongest pulse, {self.raw_bpm:.1f} BPM, to match the track" if inside
                             else f"folded {relation} from {self.raw_bpm:.1f} BPM into {span}")  # fmt: skip
            elif inside:
                parts.append(f"{relation} of the strongest pulse, {self.raw_bpm:.1f} BPM, which holds less onset energy")
            else:
                parts.append(f"the strongest pulse, {self.raw_bpm:.1f} BPM, lies outside {span}: kept {relation} of it")
        if np.isfinite(self.alternative_bpm):
            alt = tempo_relation(self.alternative_bpm / self.bpm)
            parts.append(f"or {self.alternative_bpm:.1f} BPM ({alt}, strength {self.alternative_strength:.2f} against {self.strength:.2f})")
        return "; ".join(parts)


@dataclass(frozen=True, eq=False)
class Bars:
    """Where the bars of a track fall (:func:`engine.describe.bars.track_bars`)."""

    beats_s: np.ndarray  # float64 [shape=(n_beats,)], the tracked beats
    positions: np.ndarray  # int64 [shape=(n_beats,)], each beat's place in its bar, 1..4 (1: a downbeat)
    confidence: float  # 0..1, how clearly one phase of the bar stands out

    @property
    def downbeats_s(self) -> np.ndarray:
        """The beats that start a bar, seconds."""
        return self.beats_s[self.positions == 1]


@dataclass(frozen=True, eq=False)
class Phrases:
    """A track's phrases (:func:`engine.describe.phrases.track_phrases`): where the music changes, on bar lines."""

    start_s: np.ndarray  # float64 [shape=(n_phrases,)], each on a downbeat
    end_s: np.ndarray  # float64 [shape=(n_phrases,)], the next phrase's start (the last: the track's end)
    start_bar: np.ndarray  # int64 [shape=(n_phrases,)], bars from the first downbeat
    labels: tuple[str, ...]  # "intro" | "build" | "drop" | "breakdown" | "outro"
    confidence: np.ndarray  # float64 [shape=(n_phrases,)], 0..1


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
    confidence: float  # the strength times the clarity, 0..1: how clearly the stretch has a key at all
    profile: str  # the profile used
    clarity: float = 1.0  # 0..1, how much of the stretch's level is tonal (engine.describe.key.tonal_chroma)
    margin: float = 0.0  # (best - second best) / best, 0..1 (small between a key and its relative)
