"""The on-disk result store: Parquet tables keyed by track and config digest.

Layout of a store folder::

    cratemap-store.json                    format version, last analysis config
    tracks/<track_id>.json                 the Track record and every name it was seen under
    frames/<frame_digest>/<track_id>.parquet     frame-level classical features (float32)
    sections/<section_digest>/<track_id>.parquet section rows aggregated from those frames
    pieces/<embed_digest>/<track_id>.parquet     per-piece CNN embeddings

Each file holds one track, so a finished track is never rewritten, an
interrupted analysis keeps every track it finished, and a rerun skips them.
Every write goes to a temporary file in the same folder and is renamed into
place (atomic on POSIX), so a reader never sees half a file. Each Parquet file
carries its config (JSON), the config digest and the library versions in its
schema metadata.

Caching decisions, written where they are made:

* frames are keyed by ``(track_id, FrameConfig digest)``: only a change of the
  decoding rate or STFT settings re-decodes a file;
* sections are keyed by ``(track_id, AnalysisConfig.section_digest())``: a new
  section length, aggregation or selection rule re-aggregates stored frames;
* the track id is the sha256 of the file's bytes, so a renamed file is found.
"""

from __future__ import annotations

import json
import os
import tempfile
import time
from pathlib import Path
from typing import Any, Iterable

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from . import __version__
from .config import (
    AggregateConfig,
    AnalysisConfig,
    DecodeConfig,
    FrameConfig,
    SegmentConfig,
    SelectConfig,
)
from .errors import StoreError
from .records import FrameTable, SectionTable, Track

__all__ = ["Store", "open_store", "pieces_key", "config_from_dict", "SECTION_META_COLUMNS"]

STORE_FORMAT = 1
_MANIFEST = "cratemap-store.json"
SECTION_META_COLUMNS = ("track_id", "name", "section", "start_s", "end_s", "partial", "selected")


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


def _atomic_write_bytes(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".tmp-", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _atomic_write_table(path: Path, table: pa.Table) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".tmp-", suffix=".parquet", dir=path.parent)
    os.close(fd)
    try:
        pq.write_table(table, tmp, compression="zstd")
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _read_table(path: Path, what: str, track_id: str) -> tuple[pa.Table, dict[str, Any]]:
    """Read one per-track Parquet file and its CrateMap metadata, or raise StoreError naming ``what``."""
    try:
        table = pq.read_table(path)
        return table, json.loads(table.schema.metadata[b"cratemap"])
    except (OSError, KeyError, TypeError, ValueError, pa.ArrowException) as exc:
        raise StoreError(f"{what} of track {track_id[:12]} are missing or unreadable ({exc})") from exc


class Store:
    """A result store in a local folder (created when missing).

    Parameters
    ----------
    root : str or os.PathLike
        The store folder.

    Raises
    ------
    StoreError
        If the folder cannot be created or holds a store of another format.
    """

    def __init__(self, root: str | os.PathLike) -> None:
        self.root = Path(root)
        try:
            self.root.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise StoreError(f"cannot create the store folder {self.root} ({exc.strerror or exc})") from exc
        manifest = self._read_manifest()
        if manifest.get("format", STORE_FORMAT) != STORE_FORMAT:
            raise StoreError(f"{self.root} holds a store of format {manifest.get('format')}, this CrateMap reads {STORE_FORMAT}")

    # -- manifest ----------------------------------------------------------
    def _read_manifest(self) -> dict[str, Any]:
        path = self.root / _MANIFEST
        if not path.exists():
            return {}
        try:
            return json.loads(path.read_text())
        except (OSError, ValueError) as exc:
            raise StoreError(f"the store manifest {path} is unreadable ({exc})") from exc

    def record_analysis(self, config: AnalysisConfig) -> None:
        """Remember ``config`` as the store's current analysis settings."""
        manifest = self._read_manifest()
        manifest.update(format=STORE_FORMAT, config=config.to_dict(), config_digest=config.digest(), updated=time.time())
        _atomic_write_bytes(self.root / _MANIFEST, json.dumps(manifest, indent=1).encode())

    def last_config(self) -> AnalysisConfig | None:
        """The settings of the last analysis written here, if any."""
        d = self._read_manifest().get("config")
        return config_from_dict(d) if d else None

    # -- tracks ------------------------------------------------------------
    def _track_path(self, track_id: str) -> Path:
        return self.root / "tracks" / f"{track_id}.json"

    def put_track(self, track: Track, *, names: Iterable[str] = ()) -> None:
        """Record a track, adding ``names`` to the names it was seen under."""
        old = self._read_track_json(track.track_id)
        seen = list(old.get("names", [])) if old else []
        for n in (track.name, *names):
            if n not in seen:
                seen.append(n)
        record = {**track.__dict__, "name": seen[0], "names": seen}
        _atomic_write_bytes(self._track_path(track.track_id), json.dumps(record, indent=1).encode())

    def _read_track_json(self, track_id: str) -> dict[str, Any] | None:
        path = self._track_path(track_id)
        if not path.exists():
            return None
        try:
            return json.loads(path.read_text())
        except (OSError, ValueError) as exc:
            raise StoreError(f"track record {path.name} is unreadable ({exc})") from exc

    def track(self, track_id: str) -> Track | None:
        """The stored :class:`Track`, or None."""
        d = self._read_track_json(track_id)
        if d is None:
            return None
        d.pop("names", None)
        return Track(**d)

    def track_names(self, track_id: str) -> list[str]:
        """Every name the track was seen under (the first is its display name)."""
        d = self._read_track_json(track_id)
        return list(d.get("names", [])) if d else []

    def tracks(self) -> list[Track]:
        """Every track recorded, in display-name order."""
        folder = self.root / "tracks"
        if not folder.exists():
            return []
        found = [self.track(p.stem) for p in folder.glob("*.json")]
        return sorted((t for t in found if t is not None), key=lambda t: (t.name, t.track_id))

    # -- frames ------------------------------------------------------------
    def _frames_path(self, track_id: str, frame_digest: str) -> Path:
        return self.root / "frames" / frame_digest / f"{track_id}.parquet"

    def has_frames(self, track_id: str, frame_digest: str) -> bool:
        return self._frames_path(track_id, frame_digest).exists()

    def put_frames(self, frames: FrameTable, *, config: FrameConfig) -> None:
        """Write one track's frame features (float32) atomically."""
        cols = {"time_s": pa.array(frames.times_s, pa.float64())}
        values = np.asarray(frames.values, dtype=np.float32)
        for j, name in enumerate(frames.names):
            cols[name] = pa.array(values[:, j])
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
        table = pa.table(cols).replace_schema_metadata({"cratemap": json.dumps(meta)})
        _atomic_write_table(self._frames_path(frames.track_id, frames.frame_digest), table)

    def get_frames(self, track_id: str, frame_digest: str) -> FrameTable:
        """Read one track's frame features.

        Raises
        ------
        StoreError
            If they are missing or unreadable.
        """
        table, meta = _read_table(self._frames_path(track_id, frame_digest), "frame features", track_id)
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
        folder = self.root / "frames" / frame_digest
        # a write cut short (a killed process) can leave a ".tmp-*.parquet" beside them: never a track
        return sorted(p.stem for p in folder.glob("*.parquet") if not p.name.startswith(".")) if folder.exists() else []

    # -- sections ----------------------------------------------------------
    def _sections_path(self, track_id: str, section_digest: str) -> Path:
        return self.root / "sections" / section_digest / f"{track_id}.parquet"

    def has_sections(self, track_id: str, section_digest: str) -> bool:
        return self._sections_path(track_id, section_digest).exists()

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
        _atomic_write_table(self._sections_path(str(ids[0]), config.section_digest()), arrow)

    def get_sections(self, track_id: str, section_digest: str) -> SectionTable:
        """Read one track's cached section rows."""
        arrow, meta = _read_table(self._sections_path(track_id, section_digest), "sections", track_id)
        df = arrow.to_pandas()
        names = tuple(meta["names"])
        return SectionTable(
            meta=df[list(SECTION_META_COLUMNS)].copy(),
            values=df[list(names)].to_numpy(np.float64),
            names=names,
            config_digest=meta["section_digest"],
        )

    def load_sections(self, config: AnalysisConfig | None = None, *, track_ids: Iterable[str] | None = None) -> SectionTable:
        """The section table of the whole store (or of ``track_ids``) under ``config``.

        Sections missing for this config are aggregated from stored frames
        (no decoding) and cached.

        Parameters
        ----------
        config : AnalysisConfig, optional
            Defaults to the settings of the last analysis written here.
        track_ids : iterable of str, optional
            Restrict to these tracks (default: every track with frames).

        Raises
        ------
        StoreError
            If the store holds no analysis or no tracks for ``config``.
        """
        from .pipeline import sections_from_frames  # late: pipeline imports this module

        if config is None:
            config = self.last_config()
            if config is None:
                raise StoreError(f"{self.root} holds no analysis yet; run `python -m engine analyze` first")
        if track_ids is not None:
            ids = list(track_ids)
        else:  # frames whose track record is missing are a write cut short (frames are written first)
            ids = [t for t in self.frame_track_ids(config.frames.digest()) if self._track_path(t).exists()]
        digest = config.section_digest()
        parts = []
        for tid in ids:
            if self.has_sections(tid, digest):
                parts.append(self.get_sections(tid, digest))
                continue
            track = self.track(tid)
            if track is None or not self.has_frames(tid, config.frames.digest()):
                raise StoreError(f"track {tid[:12]} has no stored frames for these settings")
            table = sections_from_frames(self.get_frames(tid, config.frames.digest()), track.name, config=config)
            if len(table):
                self.put_sections(table, config=config)
            parts.append(table)
        parts = [p for p in parts if len(p)]
        if not parts:
            raise StoreError(f"{self.root} holds no sections for these settings")
        return SectionTable(
            meta=pd.concat([p.meta for p in parts], ignore_index=True),
            values=np.vstack([p.values for p in parts]),
            names=parts[0].names,
            config_digest=digest,
        )

    # -- pieces (CNN embeddings) -------------------------------------------
    def _pieces_path(self, track_id: str, key: str) -> Path:
        return self.root / "pieces" / key / f"{track_id}.parquet"

    def has_pieces(self, track_id: str, key: str) -> bool:
        """Are embeddings stored under ``key`` (see :func:`pieces_key`)?"""
        return self._pieces_path(track_id, key).exists()

    def put_pieces(self, emb, *, key: str, config) -> None:
        """Write one track's piece embeddings (an ``embed.PieceEmbeddings``) atomically."""
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
        _atomic_write_table(self._pieces_path(emb.track_id, key), table)

    def get_pieces(self, track_id: str, key: str) -> dict[str, Any]:
        """Read one track's piece embeddings: a dict with ``start_s``, ``end_s``,
        ``embeddings`` [n, dim] float32, ``tags`` [n, n_tags] or None, and the metadata."""
        table, meta = _read_table(self._pieces_path(track_id, key), "embeddings", track_id)
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

    # -- descriptors (tempo, key, energy; see engine/mix.py) ----------------
    # Keyed by (track_id, key): mix.py builds the key from the frame digest and
    # MixConfig.descriptor_digest() for track descriptors (analysis-independent),
    # and from the section digest and the same descriptor digest for per-section ones.
    def _descriptors_path(self, track_id: str, key: str) -> Path:
        return self.root / "descriptors" / key / f"{track_id}.parquet"

    def has_descriptors(self, track_id: str, key: str) -> bool:
        """Are descriptors stored for ``track_id`` under ``key``?"""
        return self._descriptors_path(track_id, key).exists()

    def put_descriptors(self, track_id: str, key: str, frame: pd.DataFrame, *, meta: dict[str, Any]) -> None:
        """Write one track's descriptor table (and JSON-able ``meta``) atomically."""
        info = {"track_id": track_id, "key": key, "meta": meta, "versions": _versions()}
        arrow = pa.Table.from_pandas(frame, preserve_index=False)
        arrow = arrow.replace_schema_metadata({"cratemap": json.dumps(info)})
        _atomic_write_table(self._descriptors_path(track_id, key), arrow)

    def get_descriptors(self, track_id: str, key: str) -> tuple[pd.DataFrame, dict[str, Any]]:
        """Read one track's descriptor table and its ``meta``.

        Raises
        ------
        StoreError
            If they are missing or unreadable.
        """
        arrow, info = _read_table(self._descriptors_path(track_id, key), "descriptors", track_id)
        return arrow.to_pandas(), dict(info.get("meta", {}))

    # -- summary -----------------------------------------------------------
    def info(self) -> dict[str, Any]:
        """What the store holds: tracks, seconds, frame and section sets, size on disk."""
        tracks = self.tracks()

        def count(kind: str) -> dict[str, int]:
            folder = self.root / kind
            if not folder.exists():
                return {}
            return {d.name: sum(not p.name.startswith(".") for p in d.glob("*.parquet")) for d in sorted(folder.iterdir()) if d.is_dir()}

        size = sum(p.stat().st_size for p in self.root.rglob("*") if p.is_file())
        last = self.last_config()
        return {
            "root": str(self.root),
            "tracks": len(tracks),
            "seconds_of_audio": float(sum(t.duration_s for t in tracks)),
            "duplicates": {t.name: self.track_names(t.track_id)[1:] for t in tracks if len(self.track_names(t.track_id)) > 1},
            "frames": count("frames"),
            "sections": count("sections"),
            "pieces": count("pieces"),
            "bytes": size,
            "last_config_digest": last.digest() if last else None,
        }


def pieces_key(config_digest: str, weights_sha256: str) -> str:
    """Folder name for embeddings: the EmbedConfig digest and the weights' hash.

    Keyed on both, so new weights behind the same settings never reuse old vectors.
    """
    return f"{config_digest}-{weights_sha256[:16]}"


def open_store(root: str | os.PathLike) -> Store:
    """Open (or create) the store at ``root``."""
    return Store(root)
