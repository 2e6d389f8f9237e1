"""Records of the neural stage: embeddings and tag probabilities per piece.

Frozen dataclasses holding arrays and tuples (shapes documented per field);
they import nothing from the engine's stages.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

__all__ = ["PieceTable"]


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
