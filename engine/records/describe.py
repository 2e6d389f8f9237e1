"""Records of the describe stage: frame-level features and section rows.

Frozen dataclasses holding arrays and tuples (shapes documented per field);
they import nothing from the engine's stages.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

__all__ = ["FrameTable", "SectionTable"]


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
