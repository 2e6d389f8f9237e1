"""The result store: Parquet tables keyed by track and config digest, in a folder or at any fsspec URL.

Layout of a store (a local folder, or a prefix such as ``s3://bucket/crate``)::

    cratemap-store.json                    format version, last analysis config (written when the store is created)
    tracks/<track_id>.json                 the Track record (its ``name`` is the display name)
    names/<track_id>/<name digest>.json    one small file per name the track was seen under
    frames/<frame_digest>/<track_id>.parquet     frame-level classical features (float32)
    sections/<section_digest>/<track_id>.parquet section rows aggregated from those frames
    pieces/<embed_digest>/<track_id>.parquet     per-piece CNN embeddings

Each file holds one track, so a finished track is never rewritten, an
interrupted analysis keeps every track it finished, and a rerun skips them.
Many writers (worker processes, worker machines) can share one store: each
writes only its own tracks' files, under keys that two writers of the same
track would fill with the same bytes, so there is never a duplicate.

Every write is atomic, and a writer killed mid-write leaves at most a
``.tmp-*`` file, which no listing counts and :meth:`Store.clean_partial`
removes (how, per filesystem: :mod:`engine.store._files`). Each Parquet file
carries its config (JSON), the config digest and the library versions in its
schema metadata.

Caching decisions, written where they are made:

* frames are keyed by ``(track_id, FrameConfig digest)``: only a change of the
  decoding rate or STFT settings re-decodes a file;
* sections are keyed by ``(track_id, AnalysisConfig.section_digest())``: a new
  section length, aggregation or selection rule re-aggregates stored frames;
* the track id is the sha256 of the file's bytes, so a renamed file is found.

Names. Each name a track was seen under is its own file, written once and
never rewritten (:mod:`engine.store._names`), so concurrent writers never
lose one another's names; the track record is rewritten only when one of its
fields really changed.
"""

from __future__ import annotations

import json
import os
import time
import warnings
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, Iterable, Mapping

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from .. import __version__
from ..config import (
    AggregateConfig,
    AnalysisConfig,
    DecodeConfig,
    FrameConfig,
    SegmentConfig,
    SelectConfig,
)
from ..describe.sections import sections_from_frames
from ..errors import StoreError
from ..records import PHRASE_COLUMNS, SECTION_META_COLUMNS, FrameTable, SectionTable, Track
from ._files import StoreFiles
from ._names import name_body, name_entry, name_file, ordered_names

__all__ = ["Store", "open_store", "pieces_key", "config_from_dict"]

STORE_FORMAT = 1
_MANIFEST = "cratemap-store.json"
#: Reads of many small per-track files go through this many threads (object stores answer each in tens of ms).
_READ_THREADS = 16


def _versions() -> dict[str, str]:
    import librosa
    import soundfile

    return {
        "cratemap": __version__,
        "numpy": np.__version__,
        "pyarrow": pa.__version__,
        "librosa": librosa.__version__,
        "libsndfile": soundfile.__libsndfile_version__,
    }


def config_from_dict(d: dict[str, Any]) -> AnalysisConfig:
    """Rebuild an :class:`AnalysisConfig` from its ``to_dict()`` form."""
    try:
        return AnalysisConfig(
            frames=FrameConfig(**d["frames"]),
            segment=SegmentConfig(**d["segment"]),
            aggregate=AggregateConfig(**{**d["aggregate"], "features": tuple(d["aggregate"]["features"])}),
            select=SelectConfig(**d["select"]),
            decode=DecodeConfig(**d["decode"]),
        )
    except (KeyError, TypeError) as exc:
        raise StoreError(f"the stored analysis config is not readable ({exc})") from exc



#: Rows per Parquet row group when frame features are written: the columns of one
#: group are converted at a time, so writing a long track's frames holds no second copy.
_FRAME_GROUP_ROWS = 1 << 16


def _write_frames_parquet(sink, frames: FrameTable, meta_json: str) -> None:
    """Frame features as Parquet into ``sink`` (a file object or an Arrow stream), one row group at a time.

    The same schema, values and metadata as one ``pa.table`` of every column;
    only the row groups differ, which readers do not see.
    """
    schema = pa.schema(
        [pa.field("time_s", pa.float64()), *(pa.field(n, pa.float32()) for n in frames.names)],
        metadata={"cratemap": meta_json},
    )
    values = frames.values
    n = values.shape[0]
    with pq.ParquetWriter(sink, schema, compression="zstd") as writer:
        for a in range(0, max(n, 1), _FRAME_GROUP_ROWS):
            b = min(a + _FRAME_GROUP_ROWS, n)
            cols = [pa.array(np.asarray(frames.times_s[a:b], dtype=np.float64))]
            cols += [pa.array(np.ascontiguousarray(values[a:b, j], dtype=np.float32)) for j in range(len(frames.names))]
            writer.write_table(pa.Table.from_arrays(cols, schema=schema))



class Store(StoreFiles):
    """A result store in a local folder or at any fsspec URL (created when missing).

    Parameters
    ----------
    root : str or os.PathLike
        The store: a folder path, or a URL fsspec understands (``file://``,
        ``s3://bucket/prefix`` with s3fs installed, ``gs://`` with gcsfs,
        ``memory://`` for one process, ...).
    storage_options : mapping, optional
        Passed to the fsspec filesystem (credentials, ``client_kwargs`` with
        an ``endpoint_url`` ...). Workers given the same URL and options
        write to the same place.
    create : bool
        Create the store when missing (default); with False, a folder or URL
        that holds no store is an error (for opening what should exist).

    Raises
    ------
    StoreError
        If the folder cannot be created, the URL's filesystem is not
        installed, or it holds a store of another format.
    """

    def __init__(self, root: str | os.PathLike, *, storage_options: Mapping[str, Any] | None = None, create: bool = True) -> None:
        super().__init__(root, storage_options=storage_options)
        if not create:
            self._require_manifest()
        self._make_base()
        manifest = self._read_manifest()
        if manifest.get("format", STORE_FORMAT) != STORE_FORMAT:
            raise StoreError(f"{self.url} holds a store of format {manifest.get('format')}, this CrateMap reads {STORE_FORMAT}")
        if not manifest and create:
            # the marker, now: a run killed before its end must leave a store that `info` and readers accept
            data = json.dumps({"format": STORE_FORMAT, "created": time.time()}, indent=1).encode()
            self._write_new(self._path(_MANIFEST), data, what="the store marker")

    def _require_manifest(self) -> None:
        if not self._exists(self._path(_MANIFEST)):
            raise StoreError(f"there is no CrateMap store at {self.url} (no {_MANIFEST}); analyse into it first")

    def __repr__(self) -> str:
        return f"Store({self.url!r})"

    def __reduce__(self):  # a store travels to worker processes as its URL and options
        return (_reopen, (self.url, self.storage_options))

    # -- manifest ----------------------------------------------------------
    def _read_manifest(self) -> dict[str, Any]:
        path = self._path(_MANIFEST)
        try:
            data = self._read_bytes(path)
            return {} if data is None else json.loads(data)
        except (OSError, ValueError) as exc:
            raise StoreError(f"the store manifest {path} is unreadable ({exc})") from exc

    def record_analysis(self, config: AnalysisConfig) -> None:
        """Remember ``config`` as the store's current analysis settings (no write when they already are)."""
        manifest = self._read_manifest()
        if manifest.get("format") == STORE_FORMAT and manifest.get("config_digest") == config.digest():
            return
        manifest.update(format=STORE_FORMAT, config=config.to_dict(), config_digest=config.digest(), updated=time.time())
        self._write_bytes(self._path(_MANIFEST), json.dumps(manifest, indent=1).encode())

    def last_config(self) -> AnalysisConfig | None:
        """The settings of the last analysis written here, if any."""
        d = self._read_manifest().get("config")
        return config_from_dict(d) if d else None

    # -- tracks ------------------------------------------------------------
    def _track_path(self, track_id: str) -> str:
        return self._path("tracks", f"{track_id}.json")

    def _name_path(self, track_id: str, name: str) -> str:
        return self._path("names", track_id, name_file(name))

    def put_track(self, track: Track, *, names: Iterable[str] = ()) -> None:
        """Record a track, adding ``names`` to the names it was seen under.

        Safe for many concurrent writers: each name is a file of its own,
        written only when missing, so no writer's name is ever lost; the
        track record keeps the display name it was first stored under and
        is rewritten only when a field (e.g. the file's path) changed.

        Raises
        ------
        StoreError
            If a file cannot be read or written.
        """
        old = self._read_track_json(track.track_id)
        legacy = list(old.get("names", [])) if old else []
        display = old.get("name", track.name) if old else track.name
        record = {**track.__dict__, "name": display}
        if old is None or {k: v for k, v in old.items() if k != "names"} != record:
            self._write_bytes(self._track_path(track.track_id), json.dumps(record, indent=1).encode())
        for n in dict.fromkeys((track.name, *names)):
            if n not in legacy and not self._exists(self._name_path(track.track_id, n)):
                self._write_bytes(self._name_path(track.track_id, n), name_body(n, time.time()))

    def _read_track_json(self, track_id: str) -> dict[str, Any] | None:
        path = self._track_path(track_id)
        try:
            data = self._read_bytes(path)
            return None if data is None else json.loads(data)
        except (OSError, ValueError) as exc:
            raise StoreError(f"track record {track_id}.json is unreadable ({exc})") from exc

    def track_ids(self) -> list[str]:
        """Every track id with a track record, sorted."""
        return [n[: -len(".json")] for n in self._names_in("tracks", suffix=".json")]

    def track(self, track_id: str) -> Track | None:
        """The stored :class:`Track`, or None."""
        d = self._read_track_json(track_id)
        if d is None:
            return None
        d.pop("names", None)
        return Track(**d)

    def tracks(self) -> list[Track]:
        """Every track recorded, in display-name order."""
        found = []
        for d in self._track_records():
            d.pop("names", None)
            try:
                found.append(Track(**d))
            except TypeError:
                continue  # a record of another shape: the track is re-analysed by the next run
        return sorted(found, key=lambda t: (t.name, t.track_id))

    # -- frames ------------------------------------------------------------
    def _frames_path(self, track_id: str, frame_digest: str) -> str:
        return self._path("frames", frame_digest, f"{track_id}.parquet")

    def has_frames(self, track_id: str, frame_digest: str) -> bool:
        """Are frame features stored for ``track_id`` under ``frame_digest``?"""
        return self._exists(self._frames_path(track_id, frame_digest))

    def put_frames(self, frames: FrameTable, *, config: FrameConfig) -> None:
        """Write one track's frame features (float32) atomically.

        Written a row group at a time (straight into the file on a local
        store), so a long track's frames are never held twice.
        """
        meta = {
            "track_id": frames.track_id,
            "frame_config": config.to_dict(),
            "frame_digest": frames.frame_digest,
            "sample_rate": frames.sample_rate,
            "hop_length": frames.hop_length,
            "duration_s": frames.duration_s,
            "n_samples": frames.n_samples,
            "versions": _versions(),
        }
        path = self._frames_path(frames.track_id, frames.frame_digest)
        self._write_with(path, lambda fh: _write_frames_parquet(fh, frames, json.dumps(meta)))

    def get_frames(self, track_id: str, frame_digest: str) -> FrameTable:
        """Read one track's frame features.

        Raises
        ------
        StoreError
            If they are missing or unreadable.
        """
        table, meta = self._read_table(self._frames_path(track_id, frame_digest), "frame features", track_id)
        names = tuple(n for n in table.column_names if n != "time_s")
        values = np.column_stack([table.column(n).to_numpy() for n in names]).astype(np.float32, copy=False)
        return FrameTable(
            track_id=track_id,
            names=names,
            values=values,
            times_s=table.column("time_s").to_numpy(),
            sample_rate=int(meta["sample_rate"]),
            hop_length=int(meta["hop_length"]),
            duration_s=float(meta["duration_s"]),
            n_samples=int(meta["n_samples"]),
            frame_digest=meta["frame_digest"],
        )

    def frame_track_ids(self, frame_digest: str) -> list[str]:
        """Track ids that have frames under ``frame_digest``."""
        return [n[: -len(".parquet")] for n in self._names_in("frames", frame_digest, suffix=".parquet")]

    # -- sections ----------------------------------------------------------
    def _sections_path(self, track_id: str, section_digest: str) -> str:
        return self._path("sections", section_digest, f"{track_id}.parquet")

    def has_sections(self, track_id: str, section_digest: str) -> bool:
        """Are section rows stored for ``track_id`` under ``section_digest``?"""
        return self._exists(self._sections_path(track_id, section_digest))

    def section_track_ids(self, section_digest: str) -> list[str]:
        """Track ids that have section rows under ``section_digest``."""
        return [n[: -len(".parquet")] for n in self._names_in("sections", section_digest, suffix=".parquet")]

    def put_sections(self, table: SectionTable, *, config: AnalysisConfig) -> None:
        """Write one track's section rows atomically (``table`` must hold one track)."""
        ids = table.meta["track_id"].unique()
        if len(ids) != 1:
            raise StoreError(f"put_sections takes one track at a time, got {len(ids)}")
        df = table.to_frame()
        meta = {
            "config": config.to_dict(),
            "section_digest": config.section_digest(),
            "names": list(table.names),
            "versions": _versions(),
        }
        arrow = pa.Table.from_pandas(df, preserve_index=False).replace_schema_metadata({"cratemap": json.dumps(meta)})
        self._write_table(self._sections_path(str(ids[0]), config.section_digest()), arrow)

    def get_sections(self, track_id: str, section_digest: str) -> SectionTable:
        """Read one track's cached section rows."""
        arrow, meta = self._read_table(self._sections_path(track_id, section_digest), "sections", track_id)
        df = arrow.to_pandas()
        names = tuple(meta["names"])
        # rows written before sections had phrase labels lack those columns (load_sections adds them)
        return SectionTable(
            meta=df[[*SECTION_META_COLUMNS, *(c for c in PHRASE_COLUMNS if c in df.columns)]].copy(),
            values=df[list(names)].to_numpy(np.float64),
            names=names,
            config_digest=meta["section_digest"],
        )

    def load_sections(
        self, config: AnalysisConfig | None = None, *, track_ids: Iterable[str] | None = None, cache: bool = True, allow_empty: bool = False
    ) -> SectionTable:
        """The section table of the whole store (or of ``track_ids``) under ``config``.

        Sections missing for this config are aggregated from stored frames
        (no decoding) and, with ``cache``, written back for the next read.
        Reading never depends on that write: when the store cannot be
        written (a read-only folder or bucket), the sections are returned
        all the same and a :class:`UserWarning` says once that they were
        not cached, and why.

        Parameters
        ----------
        config : AnalysisConfig, optional
            Defaults to the settings of the last analysis written here.
        track_ids : iterable of str, optional
            Restrict to these tracks (default: every track with frames).
        cache : bool
            Write sections aggregated here back to the store (default).
        allow_empty : bool
            Return an empty table (no rows) instead of raising when no track
            has a section at these settings (every one is too short).

        Raises
        ------
        StoreError
            If the store holds no analysis, a track's stored files are
            missing or unreadable, or (without ``allow_empty``) no track has
            a section for ``config``.
        """

        if config is None:
            config = self.last_config()
            if config is None:
                raise StoreError(f"{self.url} holds no analysis yet; run `python -m engine analyze` first")
        if track_ids is not None:
            ids = list(track_ids)
        else:  # frames whose track record is missing are a write cut short (frames are written first)
            recorded = set(self.track_ids())
            ids = [t for t in self.frame_track_ids(config.frames.digest()) if t in recorded]
        digest = config.section_digest()

        def one(tid: str) -> SectionTable:
            if self.has_sections(tid, digest):
                stored = self.get_sections(tid, digest)
                # rows stored before phrase labels: cut again from the frames when they are here, to add them
                if PHRASE_COLUMNS[0] in stored.meta.columns or not self.has_frames(tid, config.frames.digest()):
                    return stored
            track = self.track(tid)
            if track is None or not self.has_frames(tid, config.frames.digest()):
                raise StoreError(f"track {tid[:12]} has no stored frames for these settings")
            table = sections_from_frames(self.get_frames(tid, config.frames.digest()), track.name, config=config)
            if len(table) and cache:
                try:
                    self.put_sections(table, config=config)
                except StoreError as exc:  # a read-only store: the read still succeeds
                    self._warn_not_cached(exc)
            return table

        # Many small files: read them on threads (Parquet decoding and object-store round trips release the GIL);
        # map keeps the order of ``ids``, so the table does not depend on which read finished first.
        if len(ids) > 32:
            with ThreadPoolExecutor(max_workers=_READ_THREADS) as pool:
                parts = list(pool.map(one, ids))
        else:
            parts = [one(tid) for tid in ids]
        parts = [p for p in parts if len(p)]
        if not parts and allow_empty:
            return SectionTable(meta=pd.DataFrame(columns=[*SECTION_META_COLUMNS, *PHRASE_COLUMNS]), values=np.zeros((0, 0)), names=(), config_digest=digest)
        if not parts:
            raise StoreError(f"{self.url} holds no sections for these settings")
        meta = pd.concat([p.meta for p in parts], ignore_index=True)
        label, confidence = PHRASE_COLUMNS
        meta[label] = meta[label].fillna("").astype(object) if label in meta.columns else ""  # unknown where not found
        meta[confidence] = meta[confidence].astype(np.float64) if confidence in meta.columns else np.nan
        return SectionTable(
            meta=meta,
            values=np.vstack([p.values for p in parts]),
            names=parts[0].names,
            config_digest=digest,
        )

    def _warn_not_cached(self, exc: StoreError) -> None:
        """Say once per opened store that sections computed on reading could not be cached."""
        if getattr(self, "_warned_read_only", False):
            return
        self._warned_read_only = True
        warnings.warn(f"sections were computed but not cached, the store cannot be written: {exc}", UserWarning, stacklevel=3)

    # -- pieces (CNN embeddings) -------------------------------------------
    def _pieces_path(self, track_id: str, key: str) -> str:
        return self._path("pieces", key, f"{track_id}.parquet")

    def has_pieces(self, track_id: str, key: str) -> bool:
        """Are embeddings stored under ``key`` (see :func:`pieces_key`)?"""
        return self._exists(self._pieces_path(track_id, key))

    def put_pieces(self, emb, *, key: str, config) -> None:
        """Write one track's piece embeddings (an :class:`~engine.records.PieceEmbeddings`) atomically."""
        dim = emb.embeddings.shape[1]
        flat = pa.array(np.ascontiguousarray(emb.embeddings, dtype=np.float32).ravel())
        cols = {
            "start_s": pa.array(emb.start_s, pa.float64()),
            "end_s": pa.array(emb.end_s, pa.float64()),
            "embedding": pa.FixedSizeListArray.from_arrays(flat, dim),
        }
        if emb.tags is not None:
            for j, tag in enumerate(emb.tag_names):
                cols[f"tag:{tag}"] = pa.array(np.asarray(emb.tags[:, j], dtype=np.float32))
        meta = {
            "track_id": emb.track_id,
            "model": emb.model,
            "layer": emb.layer,
            "weights_file": Path(emb.weights_file).name,
            "weights_sha256": emb.weights_sha256,
            "postprocess_sha256": emb.postprocess_sha256,
            "embed_config": config.to_dict(),
            "config_digest": emb.config_digest,
            "tag_names": list(emb.tag_names),
            "versions": _versions(),
        }
        table = pa.table(cols).replace_schema_metadata({"cratemap": json.dumps(meta)})
        self._write_table(self._pieces_path(emb.track_id, key), table)

    def get_pieces(self, track_id: str, key: str) -> dict[str, Any]:
        """Read one track's piece embeddings: a dict with ``start_s``, ``end_s``,
        ``embeddings`` [n, dim] float32, ``tags`` [n, n_tags] or None, and the metadata."""
        table, meta = self._read_table(self._pieces_path(track_id, key), "embeddings", track_id)
        col = table.column("embedding").combine_chunks()
        dim = col.type.list_size
        emb = col.flatten().to_numpy().astype(np.float32, copy=False).reshape(-1, dim)
        names = meta.get("tag_names", [])
        tags = np.column_stack([table.column(f"tag:{t}").to_numpy() for t in names]).astype(np.float32) if names else None
        return {
            **meta,
            "start_s": table.column("start_s").to_numpy(),
            "end_s": table.column("end_s").to_numpy(),
            "embeddings": emb,
            "tags": tags,
        }

    # -- descriptors (tempo, key, energy; see engine/mixing/descriptors.py) --------
    # Keyed by (track_id, key): the mixing stage builds the key from the frame digest and
    # MixConfig.descriptor_digest() for track descriptors (analysis-independent),
    # and from the section digest and the same descriptor digest for per-section ones.
    def _descriptors_path(self, track_id: str, key: str) -> str:
        return self._path("descriptors", key, f"{track_id}.parquet")

    def has_descriptors(self, track_id: str, key: str) -> bool:
        """Are descriptors stored for ``track_id`` under ``key``?"""
        return self._exists(self._descriptors_path(track_id, key))

    def put_descriptors(self, track_id: str, key: str, frame: pd.DataFrame, *, meta: dict[str, Any]) -> None:
        """Write one track's descriptor table (and JSON-able ``meta``) atomically."""
        info = {"track_id": track_id, "key": key, "meta": meta, "versions": _versions()}
        arrow = pa.Table.from_pandas(frame, preserve_index=False)
        arrow = arrow.replace_schema_metadata({"cratemap": json.dumps(info)})
        self._write_table(self._descriptors_path(track_id, key), arrow)

    def get_descriptors(self, track_id: str, key: str) -> tuple[pd.DataFrame, dict[str, Any]]:
        """Read one track's descriptor table and its ``meta``.

        Raises
        ------
        StoreError
            If they are missing or unreadable.
        """
        arrow, info = self._read_table(self._descriptors_path(track_id, key), "descriptors", track_id)
        return arrow.to_pandas(), dict(info.get("meta", {}))

    # -- summary -----------------------------------------------------------
    def _track_records(self) -> list[dict[str, Any]]:
        ids = self.track_ids()
        if self.fs is not None and ids:  # one batched (concurrent) read on object stores
            raw = list(self.fs.cat([self._track_path(t) for t in ids], on_error="omit").values())
        else:
            raw = [self._read_bytes(self._track_path(t)) for t in ids]
        records = []
        for data in raw:
            try:
                records.append(json.loads(data)) if data is not None else None
            except ValueError:
                continue  # unreadable record: the track is re-analysed by the next run
        return records

    def _all_names(self) -> dict[str, list[tuple[float, str]]]:
        """(first seen, name) of every name file, by track id: one walk of ``names/``."""
        out: dict[str, list[tuple[float, str]]] = {}
        if self.fs is None:
            paths = [os.path.join(d, f) for d, _, files in os.walk(self._path("names")) for f in files if f.endswith(".json") and not f.startswith(".")]
            raw = {p: self._read_bytes(p) for p in paths}
        else:
            self._forget_listing(self._path("names"))
            try:
                paths = [p for p in self.fs.glob(f"{self._path('names')}/*/*.json") if not p.rsplit("/", 1)[-1].startswith(".")]
            except FileNotFoundError:
                paths = []
            raw = self.fs.cat(paths, on_error="omit") if paths else {}
        for p, data in raw.items():
            entry = name_entry(data)
            if entry is not None:
                out.setdefault(p.replace("\\", "/").rsplit("/", 2)[-2], []).append(entry)
        return out

    def info(self) -> dict[str, Any]:
        """What the store holds: tracks, seconds, frame and section sets, size on disk."""
        records = self._track_records()

        def count(kind: str) -> dict[str, int]:
            return {d: len(self._names_in(kind, d, suffix=".parquet")) for d in self._folders_in(kind)}

        last = self.last_config()
        files = self._all_names()
        names = {r["name"]: ordered_names(r, files.get(r.get("track_id", ""), [])) for r in records if "name" in r}
        return {
            "root": self.url,
            "tracks": len(records),
            "seconds_of_audio": float(sum(float(r.get("duration_s", 0.0)) for r in records)),
            "duplicates": {name: seen[1:] for name, seen in names.items() if len(seen) > 1},
            "frames": count("frames"),
            "sections": count("sections"),
            "pieces": count("pieces"),
            "bytes": self.size_bytes(),
            "last_config_digest": last.digest() if last else None,
        }


def pieces_key(config_digest: str, weights_sha256: str) -> str:
    """Folder name for embeddings: ``EmbedConfig.cache_digest()`` and the weights' hash.

    Keyed on both, so new weights behind the same settings never reuse old
    vectors, while run-time settings (batch size, device, the weights' path)
    never re-embed anything.
    """
    return f"{config_digest}-{weights_sha256[:16]}"


def open_store(root: str | os.PathLike, *, storage_options: Mapping[str, Any] | None = None) -> Store:
    """Open (or create) the store at ``root`` (a folder or an fsspec URL)."""
    return Store(root, storage_options=storage_options)


def _reopen(url: str, storage_options: dict[str, Any]) -> Store:
    return Store(url, storage_options=storage_options)


