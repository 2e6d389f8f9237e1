"""Records of the neural stage: embeddings and tag probabilities per piece and per section,
embedding tables, and Grad-CAM heat maps per cluster.

Frozen dataclasses holding arrays and tuples (shapes documented per field);
they import nothing from the engine's stages.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

__all__ = ["PieceEmbeddings", "SectionEmbeddings", "PieceTable", "EmbeddingTable", "ClusterHeatmap"]


@dataclass(frozen=True, eq=False)
class PieceEmbeddings:
    """Embeddings (and tag probabilities) of the pieces of one track.

    Piece ``i`` covers ``start_s[i]`` to ``end_s[i]`` seconds of the track.
    """

    track_id: str  # sha256 of the file's bytes
    model: str  # EmbedConfig.model, e.g. "musicnn"
    layer: str  # EmbedConfig.layer, e.g. "penultimate"
    start_s: np.ndarray  # float64 [shape=(n_pieces,)]
    end_s: np.ndarray  # float64 [shape=(n_pieces,)]
    embeddings: np.ndarray  # float32 [shape=(n_pieces, dim)]
    tags: np.ndarray | None  # float32 [shape=(n_pieces, n_tags)] probabilities (musicnn models), else None
    tag_names: tuple[str, ...]  # column names of ``tags``; () for VGGish
    weights_file: str  # the weights that ran
    weights_sha256: str  # sha256 of that file
    postprocess_file: str  # VGGish PCA file when postprocessed, else ""
    postprocess_sha256: str  # its sha256, else ""
    config_digest: str  # EmbedConfig.digest()

    @property
    def n_pieces(self) -> int:
        return int(self.embeddings.shape[0])

    @property
    def dim(self) -> int:
        return int(self.embeddings.shape[1])


@dataclass(frozen=True, eq=False)
class SectionEmbeddings:
    """Piece embeddings pooled to the sections of one track."""

    track_id: str
    model: str
    start_s: np.ndarray  # float64 [shape=(n_sections,)]
    end_s: np.ndarray  # float64 [shape=(n_sections,)]
    mean: np.ndarray  # float32 [shape=(n_sections, dim)], mean over the section's pieces
    max: np.ndarray  # float32 [shape=(n_sections, dim)], max over the section's pieces
    tags: np.ndarray | None  # float32 [shape=(n_sections, n_tags)], mean tag probabilities
    tag_names: tuple[str, ...]
    n_pieces: np.ndarray  # int64 [shape=(n_sections,)], pieces whose centre lies in the section
    weights_sha256: str
    config_digest: str


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


@dataclass(frozen=True, eq=False)
class EmbeddingTable:
    """Embeddings as a table, with the tags of the same rows."""

    table: SectionTable  # rows: pieces or sections; values float64 [shape=(n_rows, dim)]
    tags: np.ndarray | None  # float32 [shape=(n_rows, n_tags)] tag probabilities (musicnn), else None
    tag_names: tuple[str, ...]
    level: str  # "pieces" | "sections"
    model: str  # EmbedConfig.model
    weights: str  # "<file> sha256:<hex>"

    def __len__(self) -> int:
        return len(self.table)


@dataclass(frozen=True, eq=False)
class ClusterHeatmap:
    """Mean Grad-CAM heat map and mean input of one cluster's (sampled) members."""

    label: int
    heat: np.ndarray  # float32 [shape=(frames, bands)], mean of per-piece maps scaled to max 1
    mean_input: np.ndarray  # float32 [shape=(frames, bands)], mean log-mel input of the same pieces
    members: np.ndarray  # int64 [shape=(n_used,)], row indices of the pieces used
    n_members: int  # pieces in the cluster before sampling
    similarity: float  # mean cosine similarity of the used pieces to the centroid
