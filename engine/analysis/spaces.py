"""The spaces "similar sections" searches: classical features, CNN embeddings, or both fused.

* ``classical`` -- the section table's features, scaled as the clustering
  scales them (:func:`engine.analysis.scale.prepare`).
* ``musicnn`` -- the mean musicnn embedding of each section's pieces
  (:func:`engine.neural.tables.embedding_table`), scaled the same way.
* ``fused`` -- both: each space z-scored column by column, each row of each
  space scaled to unit length, each space weighted (``ClusterConfig.fused_weight``
  is the classical share, the embeddings take the rest) and the two put side by
  side. Cosine distance in the fused space is then a weighted mean of the two
  spaces' cosine distances, so neither space's dimension count or units decide
  how much it counts.

Why fuse (bench/similarity.py, on the demo library and its transformed copies):
the classical features follow the spectrum closely, so a low-bitrate MP3 of a
section drifts away from it, while the CNN hears through the codec; the CNN
instead follows the production, so a remake of a piece lands elsewhere, while
the classical timbre and rhythm statistics still find it. The fused space
keeps what each one gets right.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd

from ..config import ClusterConfig
from ..errors import ParameterError
from ..records import Prepared, SectionTable
from ..store.tables import TableLike
from .scale import prepare, unit_rows

__all__ = ["SPACES", "EMBEDDING_SPACES", "fuse_blocks", "align_embeddings", "space_prepared"]

#: The spaces ``ClusterConfig.space`` accepts.
SPACES: tuple[str, ...] = ("classical", "musicnn", "fused")
#: The spaces that need the sections' musicnn embeddings.
EMBEDDING_SPACES: tuple[str, ...] = ("musicnn", "fused")


def fuse_blocks(blocks: list[np.ndarray], weights: list[float]) -> np.ndarray:
    """Put spaces side by side, each z-scored per column, unit length per row, and weighted.

    Parameters
    ----------
    blocks : list of np.ndarray [shape=(n_rows, n_features_i)]
        The same rows in each space.
    weights : list of float
        One weight >= 0 per space (normalised by their sum).

    Returns
    -------
    np.ndarray [shape=(n_rows, sum of n_features_i)]
        Rows of length 1 (where any block is non-zero); the squared
        euclidean distance between two rows is twice the weighted mean of
        the spaces' cosine distances.

    Raises
    ------
    ParameterError
        If the blocks' row counts differ or the weights are not usable.
    """
    if len(blocks) != len(weights) or not blocks:
        raise ParameterError("give one weight per space")
    n = {int(np.shape(b)[0]) for b in blocks}
    if len(n) != 1:
        raise ParameterError(f"every space must hold the same rows, got row counts {sorted(n)}")
    w = np.asarray(weights, dtype=np.float64)
    if (w < 0).any() or w.sum() <= 0:
        raise ParameterError(f"weights must be >= 0 with a positive sum, got {list(weights)}")
    w = w / w.sum()
    out = []
    for block, wi in zip(blocks, w):
        X = np.asarray(block, dtype=np.float64)
        sd = X.std(axis=0)
        Z = (X - X.mean(axis=0)) / np.where(sd > 0, sd, 1.0)
        out.append(unit_rows(Z) * np.sqrt(wi))
    return np.hstack(out)


def align_embeddings(prepared: Prepared, embeddings: SectionTable) -> np.ndarray:
    """The section embeddings in the rows of ``prepared`` (matched on track and section).

    Parameters
    ----------
    prepared : Prepared
        Classical rows, with ``track_id`` and ``section`` in their metadata.
    embeddings : SectionTable
        One row per section (``embedding_table(..., level="sections").table``).

    Returns
    -------
    np.ndarray [shape=(len(prepared), dim)]

    Raises
    ------
    ParameterError
        If a section of ``prepared`` has no embedding (its track was not embedded).
    """
    emeta = embeddings.meta
    key = pd.MultiIndex.from_arrays([emeta["track_id"].astype(str), emeta["section"].astype(np.int64)])
    pos = pd.Series(np.arange(len(emeta)), index=key)
    pos = pos[~pos.index.duplicated()]
    want = pd.MultiIndex.from_arrays([prepared.meta["track_id"].astype(str), prepared.meta["section"].astype(np.int64)])
    where = pos.reindex(want).to_numpy()
    missing = pd.isna(where)
    if missing.any():
        names = sorted(set(prepared.meta["name"].astype(str)[missing]))
        raise ParameterError(f"{int(missing.sum())} sections have no musicnn embedding yet (tracks {names[:3]}); embed the library first")
    return np.asarray(embeddings.values, dtype=np.float64)[where.astype(np.int64)]


def space_prepared(table: TableLike | Prepared, *, config: ClusterConfig, embeddings: SectionTable | None = None) -> Prepared:
    """The rows "similar sections" searches, in the space ``config.space`` names.

    Parameters
    ----------
    table : SectionTable or Prepared or path or DataFrame
        The classical section table (or its prepared rows); it decides which
        sections are searched and their order.
    config : ClusterConfig
        ``space``, ``fused_weight`` and the scaler and features of the classical space.
    embeddings : SectionTable, optional
        Section-level musicnn embeddings of (at least) the same sections;
        needed by the ``musicnn`` and ``fused`` spaces.

    Returns
    -------
    Prepared
        The classical rows with ``X`` (and ``names``, ``scaler``) of the space.

    Raises
    ------
    ParameterError
        For an unknown space, or when the space needs embeddings that are missing.
    """
    if config.space not in SPACES:
        raise ParameterError(f"unknown space {config.space!r}; choose one of {list(SPACES)}")
    classical = table if isinstance(table, Prepared) else prepare(table, config=config.replace(dedupe=False))
    if config.space == "classical":
        return classical
    if embeddings is None:
        raise ParameterError(f"the {config.space} space needs the sections' musicnn embeddings; embed the library first, or use space 'classical'")
    E = align_embeddings(classical, embeddings)
    if config.space == "musicnn":
        sd = E.std(axis=0)
        X = (E - E.mean(axis=0)) / np.where(sd > 0, sd, 1.0)
        return dataclasses.replace(classical, X=X, raw=E, names=tuple(embeddings.names), scaler="zscore")
    X = fuse_blocks([classical.X, E], [config.fused_weight, 1.0 - config.fused_weight])
    names = tuple(classical.names) + tuple(embeddings.names)
    return dataclasses.replace(classical, X=X, raw=np.hstack([classical.raw, E]), names=names, scaler="fused (z-score, unit rows per space)")
