"""CNN embeddings as tables the analysis modules take, and Grad-CAM per cluster from stored pieces.

:func:`engine.run.pipeline.embed_library` gives a :class:`~engine.records.PieceTable`
(one row per CNN input piece, each knowing its section). This module turns it
into what clustering, projection, similarity and comparison work on:

* :func:`embedding_table` -- a :class:`~engine.records.SectionTable` whose
  rows are the pieces, or the sections (pieces mean-pooled by their centre,
  :func:`engine.neural.embed.pool`), restricted to the sections of a classical table
  so both methods look at the same music;
* :func:`piece_inputs` and :func:`cluster_gradcam` -- the network inputs of
  chosen pieces (decoded again at 16 kHz; the store keeps embeddings, not
  spectrograms) and the mean Grad-CAM heat map of each cluster
  (:mod:`engine.neural.gradcam`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Mapping

import numpy as np
import pandas as pd

from ..config import EmbedConfig
from ..errors import DecodeError, EngineError, ParameterError
from ..records import PieceTable, SectionTable

__all__ = ["LEVELS", "EmbeddingTable", "embedding_table", "piece_inputs", "cluster_gradcam", "piece_seconds"]

#: What a row of an embedding table is.
LEVELS: tuple[str, ...] = ("pieces", "sections")


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


def piece_seconds(model: str) -> float:
    """Seconds of audio one piece of ``model`` covers."""
    from . import musicnn, vggish

    return vggish.EXAMPLE_SECONDS if model == "vggish" else musicnn.PATCH_SECONDS


def embedding_table(pieces: PieceTable, sections: SectionTable, *, level: str = "pieces") -> EmbeddingTable:
    """Embeddings of the pieces (or sections) that lie in ``sections``.

    Parameters
    ----------
    pieces : PieceTable
        From :func:`engine.run.pipeline.embed_library` with the same analysis
        config as ``sections``.
    sections : SectionTable
        The sections to keep (e.g. the representative ones); their metadata
        (names, ``path``) is carried over.
    level : {"pieces", "sections"}
        One row per piece in those sections, or one per section (the mean of
        its pieces; a section holding no piece centre borrows its nearest piece).
        Only the mean: the max that :func:`engine.neural.embed.pool` also returns
        would follow a single odd piece (a 15-s section holds five 3-s
        musicnn patches), double the dimensions the clustering weighs, and
        the tags are means too.

    Returns
    -------
    EmbeddingTable
        ``table.meta`` has the section table's columns (plus ``piece`` at piece
        level, where ``start_s``/``end_s`` are the piece's times);
        ``table.names`` are ``<model>_000`` ...

    Raises
    ------
    ParameterError
        For an unknown level, or when no piece lies in the sections.
    """
    from .embed import pool

    if level not in LEVELS:
        raise ParameterError(f"level must be one of {list(LEVELS)}, got {level!r}")
    if len(pieces) == 0:
        raise ParameterError("there are no embedded pieces to work with")
    dim = pieces.values.shape[1]
    names = tuple(f"{pieces.model}_{i:03d}" for i in range(dim))
    digest = f"{pieces.config_digest}:{sections.config_digest}:{level}"
    pmeta = pieces.meta.reset_index(drop=True)
    smeta = sections.meta.reset_index(drop=True)
    if level == "pieces":
        keys = pd.MultiIndex.from_arrays([smeta["track_id"].astype(str), smeta["section"].astype(np.int64)])
        pos = pd.Series(np.arange(len(smeta)), index=keys)
        look = pd.MultiIndex.from_arrays([pmeta["track_id"].astype(str), pmeta["section"].astype(np.int64)])
        where = pos.reindex(look).to_numpy()
        keep = ~pd.isna(where)
        if not keep.any():
            raise ParameterError("no embedded piece lies in these sections (were they embedded with this analysis?)")
        rows = where[keep].astype(np.int64)
        meta = smeta.iloc[rows].reset_index(drop=True)
        meta["piece"] = pmeta["piece"].to_numpy()[keep]
        meta["start_s"] = pmeta["start_s"].to_numpy(np.float64)[keep]
        meta["end_s"] = pmeta["end_s"].to_numpy(np.float64)[keep]
        meta["partial"] = False
        values = pieces.values[keep].astype(np.float64)
        tags = pieces.tags[keep] if pieces.tags is not None else None
    else:
        values = np.zeros((len(smeta), dim), np.float64)
        tags = np.zeros((len(smeta), pieces.tags.shape[1]), np.float32) if pieces.tags is not None else None
        found = np.zeros(len(smeta), bool)
        for tid, srows in smeta.groupby("track_id", sort=False).groups.items():
            srows = np.asarray(srows)
            prow = np.flatnonzero(pmeta["track_id"].to_numpy() == tid)
            if len(prow) == 0:
                continue
            ps, pe = pmeta["start_s"].to_numpy(np.float64)[prow], pmeta["end_s"].to_numpy(np.float64)[prow]
            ss, se = smeta["start_s"].to_numpy(np.float64)[srows], smeta["end_s"].to_numpy(np.float64)[srows]
            mean, _, _ = pool(pieces.values[prow], ps, pe, start_s=ss, end_s=se)
            values[srows] = mean
            if tags is not None:
                tags[srows] = pool(pieces.tags[prow], ps, pe, start_s=ss, end_s=se)[0]
            found[srows] = True
        if not found.any():
            raise ParameterError("none of these sections' tracks has embeddings")
        meta = smeta[found].reset_index(drop=True)
        values = values[found]
        tags = tags[found] if tags is not None else None
    table = SectionTable(meta=meta, values=values, names=names, config_digest=digest)
    return EmbeddingTable(
        table=table,
        tags=tags,
        tag_names=pieces.tag_names if tags is not None else (),
        level=level,
        model=pieces.model,
        weights=pieces.weights,
    )


def piece_inputs(path: str, start_s: np.ndarray, *, config: EmbedConfig, name: str | None = None) -> np.ndarray:
    """The network inputs of the pieces of one file that start at ``start_s``.

    Parameters
    ----------
    path : str
        The audio file.
    start_s : np.ndarray [shape=(n,)]
        Start times of the wanted pieces, as stored by :func:`engine.run.pipeline.embed_library`.
    config : EmbedConfig
        The model (decides the input shape).
    name : str, optional
        Display name for messages.

    Returns
    -------
    np.ndarray [shape=(n, frames, bands)], float32

    Raises
    ------
    DecodeError
        If the file cannot be read.
    ParameterError
        If a start time matches no piece of the file.
    """
    from ..audio.decode import decode_file
    from .embed import model_inputs

    audio = decode_file(path, sample_rate=config.sample_rate, name=name)
    inputs, starts, _ = model_inputs(audio.y, sample_rate=audio.sample_rate, model=config.model)
    want = np.asarray(start_s, dtype=np.float64)
    idx = np.searchsorted(starts, want - 1e-6)
    idx = np.clip(idx, 0, len(starts) - 1)
    if len(starts) == 0 or np.any(np.abs(starts[idx] - want) > 1e-3):
        raise ParameterError(f"{name or path}: some pieces are not where the stored embeddings put them; embed the track again")
    return inputs[idx]


def cluster_gradcam(
    pieces: pd.DataFrame,
    labels: np.ndarray,
    embeddings: np.ndarray,
    *,
    paths: Mapping[str, str],
    config: EmbedConfig,
    max_per_cluster: int = 8,
    seed: int = 0,
    progress: Callable[[int, int, str], None] | None = None,
):
    """Mean Grad-CAM heat map per cluster, from a sample of each cluster's pieces.

    Parameters
    ----------
    pieces : pandas.DataFrame [shape=(n, ...)]
        Piece metadata with ``track_id``, ``name``, ``start_s``.
    labels : np.ndarray [shape=(n,)]
        Each piece's cluster (-1, noise, is left out).
    embeddings : np.ndarray [shape=(n, dim)]
        The pieces' stored embeddings; each cluster's target is the mean of
        all its pieces (not just the sampled ones).
    paths : mapping track id -> str
        Where each track's audio is.
    config : EmbedConfig
    max_per_cluster : int
        Pieces per cluster that get a backward pass.
    seed : int
        Seeds the sampling.
    progress : callable, optional
        Called as ``progress(done, total, track name)`` after each file is decoded.

    Returns
    -------
    dict int -> engine.neural.gradcam.ClusterHeatmap
        ``members`` index rows of ``pieces``.

    Raises
    ------
    ParameterError
        If shapes disagree or nothing is left to explain.
    DecodeError, ModelError
        If audio or the model cannot be loaded.
    """
    from .gradcam import ClusterHeatmap, gradcam

    labels = np.asarray(labels)
    embeddings = np.asarray(embeddings, dtype=np.float32)
    if labels.shape != (len(pieces),) or embeddings.shape[0] != len(pieces):
        raise ParameterError(f"{len(pieces)} pieces, {labels.shape[0]} labels and {embeddings.shape[0]} embeddings disagree")
    if max_per_cluster < 1:
        raise ParameterError(f"max_per_cluster must be >= 1, got {max_per_cluster}")
    if config.model == "vggish" and config.vggish_postprocess:
        raise ParameterError("Grad-CAM needs raw VGGish embeddings; the stored ones are postprocessed (PCA, 8-bit)")
    rng = np.random.default_rng(seed)
    chosen: dict[int, np.ndarray] = {}
    for c in sorted(int(v) for v in np.unique(labels) if v >= 0):
        members = np.flatnonzero(labels == c)
        chosen[c] = np.sort(rng.choice(members, size=min(max_per_cluster, members.size), replace=False))
    if not chosen:
        raise ParameterError("no cluster to explain (every piece is noise)")
    rows = np.unique(np.concatenate(list(chosen.values())))
    meta = pieces.reset_index(drop=True)
    inputs: dict[int, np.ndarray] = {}
    tracks = list(dict.fromkeys(meta["track_id"].to_numpy()[rows].tolist()))
    for i, tid in enumerate(tracks, start=1):
        mine = rows[meta["track_id"].to_numpy()[rows] == tid]
        name = str(meta["name"].iloc[mine[0]])
        path = paths.get(tid, "")
        if not path:
            raise DecodeError(name, "missing", "the audio of this track is not available")
        got = piece_inputs(path, meta["start_s"].to_numpy(np.float64)[mine], config=config, name=name)
        for r, x in zip(mine, got):
            inputs[int(r)] = x
        if progress is not None:
            progress(i, len(tracks), name)
    out = {}
    for c, members in chosen.items():
        x = np.stack([inputs[int(r)] for r in members])
        target = embeddings[labels == c].mean(axis=0)
        try:
            heat, sims = gradcam(x, target, config=config)
        except EngineError:
            raise
        out[c] = ClusterHeatmap(
            label=c,
            heat=heat.mean(axis=0),
            mean_input=x.mean(axis=0),
            members=members.astype(np.int64),
            n_members=int((labels == c).sum()),
            similarity=float(sims.mean()),
        )
    return out
