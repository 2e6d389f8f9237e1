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

Every write is atomic. In a local folder it goes to a temporary file in the
same folder and is renamed into place (atomic on POSIX), with the mode the
process's umask gives a new file (not ``mkstemp``'s 0600), so workers
running as other users and web servers can read a shared store; on object stores
(S3, GCS, Azure) a file is one PUT, which readers see whole or not at all; on
other fsspec filesystems a temporary file is moved into place. A writer killed
mid-write leaves at most a ``.tmp-*`` file, which no listing counts and
:meth:`Store.clean_partial` removes. Each Parquet file carries its config
(JSON), the config digest and the library versions in its schema metadata.

Caching decisions, written where they are made:

* frames are keyed by ``(track_id, FrameConfig digest)``: only a change of the
  decoding rate or STFT settings re-decodes a file;
* sections are keyed by ``(track_id, AnalysisConfig.section_digest())``: a new
  section length, aggregation or selection rule re-aggregates stored frames;
* the track id is the sha256 of the file's bytes, so a renamed file is found.

Names. Each name a track was seen under is its own file, written once and
never rewritten, so writers that add names to one track at the same time
(worker processes, machines, app sessions) can never lose one another's
update, on a local folder or an object store alike; the track record is
rewritten only when one of its fields really changed.
"""

from __future__ import annotations

import functools
import hashlib
import io
import json
import os
import tempfile
import time
import uuid
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
from ..errors import ParameterError, StoreError
from ..describe.sections import sections_from_frames
from ..records import FrameTable, SectionTable, Track

__all__ = ["Store", "open_store", "env_storage_options", "parse_storage_options", "is_remote_url", "pieces_key", "config_from_dict", "SECTION_META_COLUMNS"]

STORE_FORMAT = 1
_MANIFEST = "cratemap-store.json"
SECTION_META_COLUMNS = ("track_id", "name", "section", "start_s", "end_s", "partial", "selected")
_TMP_PREFIX = ".tmp-"
#: fsspec protocols whose single PUT is atomic (a reader sees the whole object or none): no temporary file needed.
_ATOMIC_PUT = frozenset({"s3", "s3a", "gs", "gcs", "az", "abfs", "abfss", "adl", "memory", "oss", "r2"})
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


def _umask() -> int:
    """The process's umask: read on every call where the OS shows it without changing it (Linux)."""
    try:
        with open("/proc/self/status", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError):
        pass
    return _umask_once()


@functools.lru_cache(maxsize=1)
def _umask_once() -> int:
    """Elsewhere: set and restored once (os.umask can only be read by setting it), then remembered."""
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def _atomic_write_bytes(path: Path, data: bytes) -> None:
    _atomic_write(path, lambda fh: fh.write(data))


def _atomic_write(path: Path, write) -> None:
    """Write a local file through ``write(fh)`` into a temporary file renamed over ``path``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=_TMP_PREFIX, dir=path.parent)
    try:
        os.fchmod(fd, 0o666 & ~_umask())  # the mode open() would give a new file: mkstemp's 0600 survives the rename
        with os.fdopen(fd, "wb") as fh:
            write(fh)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


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


def is_remote_url(text: str) -> bool:
    """Is ``text`` an fsspec URL of a non-local filesystem (``s3://``, ``memory://``...), not a path or ``file://``?"""
    return "://" in text and not (text.startswith("file://") or text.startswith("local://"))


class Store:
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
        text = os.fspath(root)
        self.storage_options: dict[str, Any] = dict(storage_options or {})
        self.is_local = not is_remote_url(text)
        if self.is_local:
            local = text.split("://", 1)[1] if "://" in text else text
            self._root = Path(local).expanduser()
            self.url = text if "://" in text else str(self._root)
            self.fs = None
            self._base = str(self._root)
            if not create:
                self._require_manifest()
            try:
                self._root.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise StoreError(f"cannot create the store folder {self._root} ({exc.strerror or exc})") from exc
        else:
            import fsspec  # lazy: only URLs need it

            try:
                self.fs, path = fsspec.core.url_to_fs(text, **self.storage_options)
            except (ImportError, ValueError) as exc:
                raise StoreError(f"cannot open the store {text}: {exc}") from exc
            self._root = None
            self.url = text.rstrip("/")
            self._base = path.rstrip("/")
            self._atomic_put = bool(set(_as_tuple(self.fs.protocol)) & _ATOMIC_PUT)
            if not create:
                self._require_manifest()
            try:
                self.fs.makedirs(self._base, exist_ok=True)
            except OSError as exc:
                raise StoreError(f"cannot create the store {self.url} ({exc})") from exc
        manifest = self._read_manifest()
        if manifest.get("format", STORE_FORMAT) != STORE_FORMAT:
            raise StoreError(f"{self.url} holds a store of format {manifest.get('format')}, this CrateMap reads {STORE_FORMAT}")
        if not manifest and create:
            # the marker, now: a run killed before its end must leave a store that `info` and readers accept
            self._create_manifest()

    def _create_manifest(self) -> None:
        """Write the store's marker unless one exists (never overwriting another writer's)."""
        data = json.dumps({"format": STORE_FORMAT, "created": time.time()}, indent=1).encode()
        path = self._path(_MANIFEST)
        if self.fs is None:
            tmp = Path(path).with_name(f"{_TMP_PREFIX}{uuid.uuid4().hex}")
            try:
                _atomic_write_bytes(tmp, data)
                try:
                    os.link(tmp, path)  # atomic and exclusive: a marker another process wrote first stays
                except FileExistsError:
                    pass
                except OSError:  # a filesystem without hard links: rename, unless the marker appeared meanwhile
                    if not os.path.exists(path):
                        os.replace(tmp, path)
            except OSError as exc:
                raise StoreError(f"cannot create the store marker {path} ({exc.strerror or exc})") from exc
            finally:
                tmp.unlink(missing_ok=True)
            return
        if not self._exists(path):
            self._write_bytes(path, data)

    def _require_manifest(self) -> None:
        if not self._exists(self._path(_MANIFEST)):
            raise StoreError(f"there is no CrateMap store at {self.url} (no {_MANIFEST}); analyse into it first")

    def __repr__(self) -> str:
        return f"Store({self.url!r})"

    def __reduce__(self):  # a store travels to worker processes as its URL and options
        return (_reopen, (self.url, self.storage_options))

    @property
    def root(self) -> Path:
        """The store folder, for a local store.

        Raises
        ------
        StoreError
            For a store at a non-local URL (use :attr:`url`).
        """
        if self._root is None:
            raise StoreError(f"the store {self.url} is not a local folder")
        return self._root

    # -- one place for every file operation (local paths or an fsspec filesystem)
    def _path(self, *parts: str) -> str:
        return "/".join((self._base, *parts))

    def _exists(self, path: str) -> bool:
        if self.fs is None:
            return os.path.exists(path)
        try:
            self._forget_listing(path.rsplit("/", 1)[0])
            return bool(self.fs.exists(path))
        except OSError as exc:
            raise StoreError(f"cannot reach the store {self.url} ({exc})") from exc

    def _forget_listing(self, folder: str) -> None:
        """Drop fsspec's cached listing of ``folder``: other writers (workers) add files to it behind our back."""
        self.fs.invalidate_cache(folder)

    def _read_bytes(self, path: str) -> bytes | None:
        """A file's bytes, or None when it does not exist.

        Raises
        ------
        StoreError
            If it exists but cannot be read; the message names the file and the reason.
        """
        try:
            if self.fs is None:
                return Path(path).read_bytes()
            return self.fs.cat_file(path)
        except FileNotFoundError:
            return None
        except OSError as exc:
            raise StoreError(f"cannot read {path} in the store {self.url} ({exc.strerror or exc})") from exc

    def _write_bytes(self, path: str, data: bytes) -> None:
        """Write a whole file so that a reader sees the old file or the new one, never half of one.

        Raises
        ------
        StoreError
            If it cannot be written; the message names the file and the reason.
        """
        self._write_with(path, lambda fh: fh.write(data))

    def _write_with(self, path: str, write) -> None:
        """:meth:`_write_bytes` for content that ``write(fh)`` streams into a binary file object:
        straight into the temporary file in a local folder, into one buffer for a remote store."""
        if self.fs is None:
            try:
                _atomic_write(Path(path), write)
            except OSError as exc:
                raise StoreError(f"cannot write {path} in the store {self.url} ({exc.strerror or exc})") from exc
            return
        buf = io.BytesIO()
        write(buf)
        data = buf.getvalue()
        try:
            parent = path.rsplit("/", 1)[0]
            self.fs.makedirs(parent, exist_ok=True)
            if self._atomic_put:  # one PUT: the object appears whole or not at all
                self.fs.pipe_file(path, data)
            else:
                tmp = f"{parent}/{_TMP_PREFIX}{uuid.uuid4().hex}"
                self.fs.pipe_file(tmp, data)
                self.fs.mv(tmp, path)
        except OSError as exc:
            raise StoreError(f"cannot write {path} in the store {self.url} ({exc})") from exc

    def _write_table(self, path: str, table: pa.Table) -> None:
        self._write_with(path, lambda fh: pq.write_table(table, fh, compression="zstd"))

    def _read_table(self, path: str, what: str, track_id: str) -> tuple[pa.Table, dict[str, Any]]:
        """Read one per-track Parquet file and its CrateMap metadata, or raise StoreError naming ``what``."""
        try:
            if self.fs is None:
                table = pq.read_table(path)
            else:
                table = pq.read_table(pa.py_buffer(self.fs.cat_file(path)))
            return table, json.loads(table.schema.metadata[b"cratemap"])
        except (OSError, KeyError, TypeError, ValueError, pa.ArrowException) as exc:
            raise StoreError(f"{what} of track {track_id[:12]} are missing or unreadable ({exc})") from exc

    def _names_in(self, *folder: str, suffix: str) -> list[str]:
        """File names directly in a store folder ending in ``suffix``, temporary files left out."""
        path = self._path(*folder)
        if self.fs is None:
            try:
                found = [e.name for e in os.scandir(path) if e.is_file()]
            except FileNotFoundError:
                return []
        else:
            self._forget_listing(path)
            try:
                found = [p.rsplit("/", 1)[-1] for p in self.fs.glob(f"{path}/*{suffix}")]
            except FileNotFoundError:
                return []
        # a write cut short (a killed process) can leave a ".tmp-*" file beside them: never a track
        return sorted(n for n in found if n.endswith(suffix) and not n.startswith("."))

    def _folders_in(self, *folder: str) -> list[str]:
        path = self._path(*folder)
        if self.fs is None:
            try:
                return sorted(e.name for e in os.scandir(path) if e.is_dir())
            except FileNotFoundError:
                return []
        self._forget_listing(path)
        try:
            return sorted(p["name"].rstrip("/").rsplit("/", 1)[-1] for p in self.fs.ls(path, detail=True) if p["type"] == "directory")
        except FileNotFoundError:
            return []

    def clean_partial(self, *, max_age_s: float = 3600.0) -> int:
        """Remove temporary files that writers killed mid-write left behind.

        Only files older than ``max_age_s`` go, so a writer still at work
        (another process, another machine) is never disturbed. Returns how
        many were removed.
        """
        now = time.time()
        removed = 0
        if self.fs is None:
            for dirpath, _, files in os.walk(self._base):
                for f in files:
                    if f.startswith(_TMP_PREFIX):
                        p = os.path.join(dirpath, f)
                        try:
                            if now - os.path.getmtime(p) > max_age_s:
                                os.unlink(p)
                                removed += 1
                        except FileNotFoundError:
                            pass
            return removed
        if self._atomic_put:
            return 0  # object stores never see a temporary file
        for p in self.fs.glob(f"{self._base}/**/{_TMP_PREFIX}*"):
            try:
                modified = self.fs.modified(p).timestamp()
            except (OSError, NotImplementedError):
                continue
            if now - modified > max_age_s:
                self.fs.rm_file(p)
                removed += 1
        return removed

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
        return self._path("names", track_id, f"{hashlib.sha256(name.encode()).hexdigest()[:24]}.json")

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
                body = json.dumps({"name": n, "seen": time.time()}).encode()
                self._write_bytes(self._name_path(track.track_id, n), body)

    def _names_of(self, track_id: str, record: Mapping[str, Any] | None) -> list[str]:
        """Every name of one track, the display name first, then in the order they were first seen."""
        found = (_name_entry(self._read_bytes(self._path("names", track_id, f))) for f in self._names_in("names", track_id, suffix=".json"))
        return _ordered_names(record, [e for e in found if e is not None])

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

    def track_names(self, track_id: str) -> list[str]:
        """Every name the track was seen under (the first is its display name)."""
        d = self._read_track_json(track_id)
        return self._names_of(track_id, d) if d else []

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
        return SectionTable(
            meta=df[list(SECTION_META_COLUMNS)].copy(),
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
                return self.get_sections(tid, digest)
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
            return SectionTable(meta=pd.DataFrame(columns=list(SECTION_META_COLUMNS)), values=np.zeros((0, 0)), names=(), config_digest=digest)
        if not parts:
            raise StoreError(f"{self.url} holds no sections for these settings")
        return SectionTable(
            meta=pd.concat([p.meta for p in parts], ignore_index=True),
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

    # -- descriptors (tempo, key, energy; see engine/mixing/mix.py) ----------------
    # Keyed by (track_id, key): mix.py builds the key from the frame digest and
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
            entry = _name_entry(data)
            if entry is not None:
                out.setdefault(p.replace("\\", "/").rsplit("/", 2)[-2], []).append(entry)
        return out

    def size_bytes(self) -> int:
        """Bytes the store takes (every file under it)."""
        if self.fs is None:
            return sum(p.stat().st_size for p in self.root.rglob("*") if p.is_file())
        self.fs.invalidate_cache()
        try:
            return int(self.fs.du(self._base, total=True))
        except FileNotFoundError:
            return 0

    def info(self) -> dict[str, Any]:
        """What the store holds: tracks, seconds, frame and section sets, size on disk."""
        records = self._track_records()

        def count(kind: str) -> dict[str, int]:
            return {d: len(self._names_in(kind, d, suffix=".parquet")) for d in self._folders_in(kind)}

        last = self.last_config()
        files = self._all_names()
        names = {r["name"]: _ordered_names(r, files.get(r.get("track_id", ""), [])) for r in records if "name" in r}
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


def parse_storage_options(text: str, *, what: str = "storage options") -> dict[str, Any]:
    """fsspec storage options from a JSON object's text (empty text: none).

    Raises
    ------
    ParameterError
        If the text is not a JSON object; the message names ``what``.
    """
    if not text.strip():
        return {}
    try:
        value = json.loads(text)
    except ValueError as exc:
        raise ParameterError(f"{what} must be a JSON object: {exc}") from None
    if not isinstance(value, dict):
        raise ParameterError(f"{what} must be a JSON object, got {type(value).__name__}")
    return value


def env_storage_options() -> dict[str, Any]:
    """fsspec options for store URLs from ``$CRATEMAP_STORE_OPTIONS`` (a JSON object; empty when unset).

    Raises
    ------
    ParameterError
        If the variable is set but is not a JSON object.
    """
    return parse_storage_options(os.environ.get("CRATEMAP_STORE_OPTIONS", ""), what="$CRATEMAP_STORE_OPTIONS")


def _reopen(url: str, storage_options: dict[str, Any]) -> Store:
    return Store(url, storage_options=storage_options)


def _name_entry(data: bytes | None) -> tuple[float, str] | None:
    """``(first seen, name)`` from a name file's bytes; None for a missing or damaged one (the name
    is lost, never the track)."""
    try:
        d = json.loads(data) if data is not None else None
        return float(d["seen"]), str(d["name"])
    except (ValueError, TypeError, KeyError):
        return None


def _ordered_names(record: Mapping[str, Any] | None, found: Iterable[tuple[float, str]]) -> list[str]:
    """A track's names: the record's display name, names of older stores (kept in the record), then by first seen."""
    seen = [record["name"]] if record and "name" in record else []
    seen += list(record.get("names", [])) if record else []
    seen += [n for _, n in sorted(found)]
    return list(dict.fromkeys(seen))


def _as_tuple(protocol: str | tuple[str, ...]) -> tuple[str, ...]:
    return (protocol,) if isinstance(protocol, str) else tuple(protocol)
