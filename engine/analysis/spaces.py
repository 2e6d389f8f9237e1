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

* ``invariant`` -- the fused space (half and half) times a fixed projection
  that whitens the scatter *within* groups of a section and its transformed
  copies (MP3 at 64 kbit/s, +-1 semitone, +-4 % tempo, EQ tilt, -9 dB): the
  directions in which a re-encode or a small shift moves a section are
  shrunk, those that tell sections apart kept. The projection
  (``engine/models/similarity/invariant.npz``) was fitted by
  ``bench/similarity.py --save`` on the demo library's copies; the bench
  scores it on tracks it was not fitted on (3 folds of tracks).

Why fuse (bench/similarity.py, on the demo library and its transformed copies):
the classical features follow the spectrum closely, so a low-bitrate MP3 of a
section drifts away from it, while the CNN hears through the codec; the CNN
instead follows the production, so a remake of a piece lands elsewhere, while
the classical timbre and rhythm statistics still find it. The fused space
keeps what each one gets right.
"""

from __future__ import annotations

import dataclasses
import functools
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from ..config import ClusterConfig
from ..errors import ParameterError
from ..records import Prepared, SectionTable
from ..store.tables import TableLike
from .scale import prepare, unit_rows

__all__ = [
    "SPACES", "EMBEDDING_SPACES", "PROJECTION_FILE", "SHRINK", "InvariantProjection", "fuse_blocks", "fit_projection",
    "load_projection", "align_embeddings", "space_prepared",
]  # fmt: skip

#: The spaces ``ClusterConfig.space`` accepts.
SPACES: tuple[str, ...] = ("classical", "musicnn", "fused", "invariant")
#: The spaces that need the sections' musicnn embeddings.
EMBEDDING_SPACES: tuple[str, ...] = ("musicnn", "fused", "invariant")
#: The invariant space's projection (written by ``bench/similarity.py --save``).
PROJECTION_FILE = Path(__file__).resolve().parents[1] / "models" / "similarity" / "invariant.npz"
#: Ridge added to the within-group scatter, times its mean eigenvalue: set once before any run, not tuned.
SHRINK = 1.0


@dataclass(frozen=True, eq=False)
class InvariantProjection:
    """A projection of the fused space that shrinks what transformations of a section change."""

    W: np.ndarray  # float64 [shape=(n_fused, n_fused)]: fused rows @ W
    classical: tuple[str, ...]  # the classical feature columns it was fitted on, in order
    embedding: str  # the embedding model of the other block, e.g. "musicnn"
    fused_weight: float  # the classical share of the fused rows it was fitted on
    shrink: float
    note: str  # what it was fitted on, in words


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


def fit_projection(X: np.ndarray, groups: np.ndarray, *, shrink: float = SHRINK) -> np.ndarray:
    """Whitening by the within-group scatter: rows of one group (a section and its copies) drawn together.

    Parameters
    ----------
    X : np.ndarray [shape=(n_rows, n_features)]
        Fused rows (:func:`fuse_blocks`).
    groups : np.ndarray [shape=(n_rows,)]
        Group of each row: a source section, shared by its transformed copies.
    shrink : float
        Ridge added to the scatter's eigenvalues, times their mean (> 0 keeps it invertible).

    Returns
    -------
    np.ndarray [shape=(n_features, n_features)]
        ``W`` with ``W.T @ (S_w + ridge) @ W = I``; compare ``X @ W`` by cosine distance.

    Raises
    ------
    ParameterError
        If there are fewer than two rows in any group to learn from, or shrink <= 0.
    """
    X = np.asarray(X, dtype=np.float64)
    g = pd.Series(np.asarray(groups)).astype(str).to_numpy()
    if shrink <= 0 or len(X) != len(g) or pd.Series(g).value_counts().max() < 2:
        raise ParameterError("need shrink > 0 and one group label per row, some group holding two rows or more")
    R = X - pd.DataFrame(X).groupby(g).transform("mean").to_numpy()
    vals, vecs = np.linalg.eigh(R.T @ R / max(len(R) - 1, 1))
    vals = np.maximum(vals, 0.0)
    return vecs / np.sqrt(vals + shrink * max(float(vals.mean()), 1e-12))


@functools.lru_cache(maxsize=2)
def load_projection(path: Path = PROJECTION_FILE) -> InvariantProjection:
    """The invariant space's projection from its file (read once per process).

    Raises
    ------
    ParameterError
        If the file is missing or unreadable.
    """
    try:
        with np.load(path, allow_pickle=False) as z:
            return InvariantProjection(
                W=z["W"].astype(np.float64), classical=tuple(str(n) for n in z["classical"]), embedding=str(z["embedding"]),
                fused_weight=float(z["fused_weight"]), shrink=float(z["shrink"]), note=str(z["note"]),
            )  # fmt: skip
    except (OSError, KeyError, ValueError) as exc:
        raise ParameterError(f"the invariant space's projection cannot be read from {path}: {exc}") from None


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
        ``space``, ``fused_weight`` and the scaler and features of the classical space
        (the invariant space always takes the default features, z-scored: those it was fitted on).
    embeddings : SectionTable, optional
        Section-level musicnn embeddings of (at least) the same sections;
        needed by the ``musicnn``, ``fused`` and ``invariant`` spaces.

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
    own = {"features": (), "scaler": "zscore"} if config.space == "invariant" else {}  # what its projection was fitted on
    classical = table if isinstance(table, Prepared) else prepare(table, config=config.replace(dedupe=False, **own))
    if config.space == "classical":
        return classical
    if embeddings is None:
        raise ParameterError(f"the {config.space} space needs the sections' musicnn embeddings; embed the library first, or use space 'classical'")
    E = align_embeddings(classical, embeddings)
    if config.space == "musicnn":
        sd = E.std(axis=0)
        X = (E - E.mean(axis=0)) / np.where(sd > 0, sd, 1.0)
        return dataclasses.replace(classical, X=X, raw=E, names=tuple(embeddings.names), scaler="zscore")
    names = tuple(classical.names) + tuple(embeddings.names)
    raw = np.hstack([classical.raw, E])
    if config.space == "fused":
        X = fuse_blocks([classical.X, E], [config.fused_weight, 1.0 - config.fused_weight])
        return dataclasses.replace(classical, X=X, raw=raw, names=names, scaler="fused (z-score, unit rows per space)")
    proj = load_projection()
    if tuple(classical.names) != proj.classical or proj.W.shape[0] != len(names):
        raise ParameterError(
            f"the invariant space was fitted on the default feature set and {proj.embedding} embeddings "
            f"({proj.W.shape[0]} columns); these sections have {len(names)}: use the fused space"
        )
    X = fuse_blocks([classical.X, E], [proj.fused_weight, 1.0 - proj.fused_weight]) @ proj.W
    return dataclasses.replace(classical, X=X, raw=raw, names=names, scaler="invariant (fused, whitened within transformed copies)")
