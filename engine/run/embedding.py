"""CNN embeddings of a library's tracks, cached in the store: per track ``decode -> embed -> store``.

The next track is decoded and its log-mel prepared in a thread while the
network runs on the current one (:class:`_Reader`). ``analyze(...,
embedding=...)`` instead embeds each file in its analysis task, from the
decode its features use.

Runs on this machine (the network wants one process and, when there is one,
the GPU); the tracks must be analysed into the store first
(:func:`engine.run.pipeline.analyze`), here or on a cluster.
"""

from __future__ import annotations

import time
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any, Callable, Mapping, Sequence

import numpy as np
import pandas as pd

from ..audio.decode import decode_file
from ..audio.segment import segment
from ..config import AnalysisConfig, EmbedConfig
from ..errors import DecodeError, EngineError, ParameterError
from ..records import PieceTable, Progress, SectionTable, Track
from ..store.core import Store, pieces_key

__all__ = ["embed_library", "missing_embeddings", "section_embeddings"]

#: The columns of :attr:`PieceTable.meta`, in order.
_PIECE_COLUMNS = ["track_id", "name", "section", "piece", "start_s", "end_s"]


def embed_library(
    store: Store,
    track_ids: Sequence[str],
    *,
    analysis: AnalysisConfig,
    config: EmbedConfig = EmbedConfig(),
    paths: Mapping[str, str] | None = None,
    progress: Callable[[Progress], None] | None = None,
) -> PieceTable:
    """CNN embeddings of every piece of the given tracks, cached in the store.

    Embeddings are stored per track under ``(track_id,
    EmbedConfig.cache_digest(), weights sha256)``, independent of the section
    length, the batch size, the device and where the weights file lies; each piece is then
    given the section of ``analysis`` that contains its centre (``-1`` when
    none does), so the same stored vectors serve any section length.

    Parameters
    ----------
    store : Store
        Holds the tracks (their file paths are read for tracks not yet embedded).
    track_ids : sequence of str
        Tracks to embed, in the order wanted.
    analysis : AnalysisConfig
        Decides the sections the pieces are assigned to.
    config : EmbedConfig
        Model, layer, device and the VGGish weights policy.
    paths : mapping of str to str, optional
        Where each track's file is now (track_id -> path), when it may have
        moved since the store recorded it; default: the recorded path.
    progress : callable, optional
        Called with a :class:`Progress` after each track; a track whose audio
        cannot be read is reported with status ``"error"`` and left out.

    Returns
    -------
    PieceTable
        Possibly empty (zero rows) when no track could be embedded.

    Raises
    ------
    ParameterError
        For ``model="none"``.
    ModelError
        When the model's weights are missing (never runs random weights).
    """
    from ..neural.embed import load_model

    if config.model == "none":
        raise ParameterError("embedding model 'none' computes no embeddings")
    net = load_model(config)  # fails early, naming where it looked, when weights are missing
    # keyed on what decides the vectors (model, layer, rate, the weights' bytes), never on batch size or device
    key = pieces_key(config.cache_digest(), net.weights_sha256)
    t0 = time.perf_counter()
    metas, values, tags = [], [], []
    tracks = [store.track(tid) for tid in track_ids]
    todo = [i for i, tid in enumerate(track_ids) if tracks[i] is not None and not store.has_pieces(tid, key)]
    reader = _Reader(store, track_ids, tracks, todo, analysis=analysis, config=config, paths=paths or {})
    with reader:
        for i, tid in enumerate(track_ids, start=1):
            t_file = time.perf_counter()
            track = tracks[i - 1]
            name = track.name if track else tid[:12]
            try:
                status, got = _stored_pieces(store, tid, track, key, config=config, reader=reader, index=i - 1)
            except (DecodeError, EngineError) as exc:
                detail = exc.detail if isinstance(exc, DecodeError) else str(exc)
                if progress is not None:
                    progress(Progress(i, len(track_ids), name, "error", 0.0, time.perf_counter() - t_file, time.perf_counter() - t0, detail))
                continue
            metas.append(_piece_meta(got, track, analysis, store))
            values.append(got["embeddings"])
            if got["tags"] is not None:
                tags.append(got["tags"])
            if progress is not None:
                progress(Progress(i, len(track_ids), name, status, track.duration_s, time.perf_counter() - t_file, time.perf_counter() - t0))
    dim = values[0].shape[1] if values else 0
    return PieceTable(
        meta=pd.concat(metas, ignore_index=True) if metas else pd.DataFrame(columns=_PIECE_COLUMNS),
        values=np.vstack(values) if values else np.zeros((0, dim), np.float32),
        tags=np.vstack(tags) if tags and len(tags) == len(values) else None,
        tag_names=tuple(net.tag_names) if tags else (),
        model=config.model,
        weights=f"{Path(net.weights_file).name} sha256:{net.weights_sha256}",
        config_digest=config.digest(),
    )


def missing_embeddings(store: Store, track_ids: Sequence[str], *, config: EmbedConfig = EmbedConfig()) -> list[str]:
    """The tracks among ``track_ids`` whose embeddings under ``config`` are not in the store yet.

    Parameters
    ----------
    store : Store
    track_ids : sequence of str
    config : EmbedConfig

    Returns
    -------
    list of str

    Raises
    ------
    ModelError
        When the model's weights are missing (their hash is part of the key).
    """
    from ..neural.embed import load_model

    key = pieces_key(config.cache_digest(), load_model(config).weights_sha256)
    return [t for t in track_ids if not store.has_pieces(t, key)]


def section_embeddings(
    store: Store, sections: SectionTable, *, analysis: AnalysisConfig, config: EmbedConfig = EmbedConfig(), compute: bool = False
) -> SectionTable:
    """The mean embedding of each section's pieces, for the ``musicnn`` and ``fused`` similarity spaces.

    Parameters
    ----------
    store : Store
        Holds the tracks of ``sections`` (and their embeddings, unless ``compute``).
    sections : SectionTable
        The sections wanted, analysed under ``analysis``.
    analysis : AnalysisConfig
    config : EmbedConfig
        The network (default musicnn, Million Song Dataset).
    compute : bool
        Embed tracks that are not embedded yet (runs the network); by
        default they are an error, so that nothing slow happens unasked.

    Returns
    -------
    SectionTable
        One row per section (``embedding_table(..., level="sections").table``).

    Raises
    ------
    ParameterError
        When tracks are not embedded yet and ``compute`` is false.
    ModelError
        When the model's weights are missing (never runs random weights).
    """
    from ..neural.tables import embedding_table

    ids = list(dict.fromkeys(sections.meta["track_id"].astype(str)))
    missing = [] if compute else missing_embeddings(store, ids, config=config)
    if missing:
        raise ParameterError(
            f"{len(missing)} of {len(ids)} tracks have no {config.model} embeddings yet; "
            "embed them first (python -m engine analyze --embed, or --embed here), or use the classical space"
        )
    pieces = embed_library(store, ids, analysis=analysis, config=config)
    return embedding_table(pieces, sections, level="sections").table


class _Reader:
    """Decodes and prepares the network's inputs one track ahead, in a thread, while the network runs
    on the track before (decoding and the log-mel release the GIL for most of their time); on a GPU
    this keeps the device fed. Holds at most two tracks' inputs at once."""

    def __init__(self, store: Store, track_ids, tracks, todo: list[int], *, analysis: AnalysisConfig, config: EmbedConfig, paths) -> None:
        self.store, self.track_ids, self.tracks = store, track_ids, tracks
        self.analysis, self.config, self.paths = analysis, config, paths
        self.following = dict(zip(todo, todo[1:]))  # a track to embed -> the next one to prepare
        self.pool = ThreadPoolExecutor(1, thread_name_prefix="cratemap-embed-reader")
        self.ahead: dict[int, Future] = {}
        if todo:
            self.ahead[todo[0]] = self.pool.submit(self._prepare, todo[0])

    def __enter__(self) -> "_Reader":
        return self

    def __exit__(self, *exc) -> None:
        for fut in self.ahead.values():
            fut.cancel()
        self.pool.shutdown(wait=True)

    def _prepare(self, index: int):
        from ..neural.embed import model_inputs

        tid, track = self.track_ids[index], self.tracks[index]
        path = self.paths.get(tid, track.path)
        audio = decode_file(path, sample_rate=self.config.sample_rate, config=self.analysis.decode, name=track.name, track_id=tid)
        return model_inputs(audio.y, sample_rate=audio.sample_rate, model=self.config.model)

    def take(self, index: int):
        """The prepared inputs of track ``index`` (raising what preparing raised), after starting the next one's."""
        fut = self.ahead.pop(index, None) or self.pool.submit(self._prepare, index)
        following = self.following.get(index)
        if following is not None and following not in self.ahead:
            self.ahead[following] = self.pool.submit(self._prepare, following)
        return fut.result()


def _stored_pieces(
    store: Store, track_id: str, track: Track | None, key: str, *, config: EmbedConfig, reader: _Reader, index: int
) -> tuple[str, dict[str, Any]]:
    """One track's stored pieces (``Store.get_pieces``), embedded and stored first when missing.

    Returns ``("cached" | "analysed", pieces)``; raises DecodeError or
    another EngineError when the track cannot be embedded.
    """
    from ..neural.embed import embed_prepared

    if track is None:
        raise DecodeError(track_id[:12], "missing", "this track is not in the store")
    status = "cached"
    if not store.has_pieces(track_id, key):
        status = "analysed"
        store.put_pieces(embed_prepared(reader.take(index), config=config, track_id=track_id), key=key, config=config)
    return status, store.get_pieces(track_id, key)


def _piece_meta(got: Mapping[str, Any], track: Track, analysis: AnalysisConfig, store) -> pd.DataFrame:
    """The :attr:`PieceTable.meta` rows of one track's stored pieces: each piece given its section under ``analysis``."""
    from ..neural.embed import piece_sections

    n_samples = int(round(track.duration_s * analysis.frames.sample_rate))
    if analysis.segment.mode in ("bars", "phrases"):  # the track's own bar lines: its stored sections (or frames) know them
        if store.has_sections(track.track_id, analysis.section_digest()):
            seg = store.get_sections(track.track_id, analysis.section_digest()).meta
        else:
            from ..describe.sections import segment_frames

            seg = segment_frames(store.get_frames(track.track_id, analysis.frames.digest()), analysis)
    else:
        seg = segment(n_samples, analysis.frames.sample_rate, config=analysis.segment, track_id=track.track_id)
    section = piece_sections(got["start_s"], got["end_s"], np.asarray(seg.start_s), np.asarray(seg.end_s))
    return pd.DataFrame(
        {
            "track_id": track.track_id,
            "name": track.name,
            "section": section,
            "piece": np.arange(section.shape[0], dtype=np.int64),
            "start_s": got["start_s"],
            "end_s": got["end_s"],
        }
    )
