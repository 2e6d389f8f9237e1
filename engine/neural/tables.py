"""CNN embeddings as tables the analysis modules take, and Grad-CAM per cluster from stored pieces.

:func:`engine.run.embedding.embed_library` gives a :class:`~engine.records.PieceTable`
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

from typing import Callable, Mapping

import numpy as np
import pandas as pd

from ..config import EmbedConfig
from ..errors import DecodeError, ParameterError
from ..records import EmbeddingTable, PieceTable, SectionTable

__all__ = ["LEVELS", "embedding_table", "piece_inputs", "cluster_gradcam", "piece_seconds"]

#: What a row of an embedding table is.
LEVELS: tuple[str, ...] = ("pieces", "sections")


def piece_seconds(model: str) -> float:
    """Seconds of audio one piece of ``model`` covers."""
    from . import musicnn, vggish

    return vggish.EXAMPLE_SECONDS if model == "vggish" else musicnn.PATCH_SECONDS


def embedding_table(pieces: PieceTable, sections: SectionTable, *, level: str = "pieces") -> EmbeddingTable:
    """Embeddings of the pieces (or sections) that lie in ``sections``.

    Parameters
    ----------
    pieces : PieceTable
        From :func:`engine.run.embedding.embed_library` with the same analysis
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
    if level not in LEVELS:
        raise ParameterError(f"level must be one of {list(LEVELS)}, got {level!r}")
    if len(pieces) == 0:
        raise ParameterError("there are no embedded pieces to work with")
    dim = pieces.values.shape[1]
    names = tuple(f"{pieces.model}_{i:03d}" for i in range(dim))
    digest = f"{pieces.config_digest}:{sections.config_digest}:{level}"
    smeta = sections.meta.reset_index(drop=True)
    rows_of = _piece_rows if level == "pieces" else _section_rows
    meta, values, tags = rows_of(pieces, smeta)
    table = SectionTable(meta=meta, values=values, names=names, config_digest=digest)
    return EmbeddingTable(
        table=table,
        tags=tags,
        tag_names=pieces.tag_names if tags is not None else (),
        level=level,
        model=pieces.model,
        weights=pieces.weights,
    )


def _piece_rows(pieces: PieceTable, smeta: pd.DataFrame) -> tuple[pd.DataFrame, np.ndarray, np.ndarray | None]:
    """Meta, values (float64) and tags of the pieces whose section is a row of ``smeta``."""
    pmeta = pieces.meta.reset_index(drop=True)
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
    return meta, values, tags


def _section_rows(pieces: PieceTable, smeta: pd.DataFrame) -> tuple[pd.DataFrame, np.ndarray, np.ndarray | None]:
    """Meta, mean-pooled values (float64) and tags of the rows of ``smeta`` whose track has pieces."""
    from .embed import pool

    pmeta = pieces.meta.reset_index(drop=True)
    values = np.zeros((len(smeta), pieces.values.shape[1]), np.float64)
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
    return smeta[found].reset_index(drop=True), values[found], (tags[found] if tags is not None else None)


def piece_inputs(path: str, start_s: np.ndarray, *, config: EmbedConfig, name: str | None = None) -> np.ndarray:
    """The network inputs of the pieces of one file that start at ``start_s``.

    Parameters
    ----------
    path : str
        The audio file.
    start_s : np.ndarray [shape=(n,)]
        Start times of the wanted pieces, as stored by :func:`engine.run.embedding.embed_library`.
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
    dict int -> engine.records.ClusterHeatmap
        ``members`` index rows of ``pieces``.

    Raises
    ------
    ParameterError
        If shapes disagree or nothing is left to explain.
    DecodeError, ModelError
        If audio or the model cannot be loaded.
    """
    from .gradcam import cluster_centroids, heatmaps_of_samples, sample_members

    labels = np.asarray(labels)
    embeddings = np.asarray(embeddings, dtype=np.float32)
    if labels.shape != (len(pieces),) or embeddings.shape[0] != len(pieces):
        raise ParameterError(f"{len(pieces)} pieces, {labels.shape[0]} labels and {embeddings.shape[0]} embeddings disagree")
    if config.model == "vggish" and config.vggish_postprocess:
        raise ParameterError("Grad-CAM needs raw VGGish embeddings; the stored ones are postprocessed (PCA, 8-bit)")
    samples = sample_members(labels, max_per_cluster=max_per_cluster, seed=seed)
    if not samples:
        raise ParameterError("no cluster to explain (every piece is noise)")
    rows = np.unique(np.concatenate(list(samples.values())))
    inputs = _inputs_of_rows(pieces.reset_index(drop=True), rows, paths=paths, config=config, progress=progress)
    return heatmaps_of_samples(samples, inputs, labels, cluster_centroids(embeddings, labels), config=config)


def _inputs_of_rows(
    meta: pd.DataFrame,
    rows: np.ndarray,
    *,
    paths: Mapping[str, str],
    config: EmbedConfig,
    progress: Callable[[int, int, str], None] | None,
) -> dict[int, np.ndarray]:
    """The network input of each of ``rows`` of the piece metadata, decoding each track once."""
    inputs: dict[int, np.ndarray] = {}
    track_of = meta["track_id"].to_numpy()[rows]
    tracks = list(dict.fromkeys(track_of.tolist()))
    for i, tid in enumerate(tracks, start=1):
        mine = rows[track_of == tid]
        name = str(meta["name"].iloc[mine[0]])
        path = paths.get(tid, "")
        if not path:
            raise DecodeError(name, "missing", "the audio of this track is not available")
        got = piece_inputs(path, meta["start_s"].to_numpy(np.float64)[mine], config=config, name=name)
        for r, x in zip(mine, got):
            inputs[int(r)] = x
        if progress is not None:
            progress(i, len(tracks), name)
    return inputs
