"""Where a store's files are, and how they are read and written: atomically, in a folder or at an fsspec URL.

:class:`StoreFiles` is the one place for every file operation of a store
(:class:`engine.store.core.Store` builds on it). Every write is atomic. In a
local folder it goes to a temporary file in the same folder and is renamed
into place (atomic on POSIX), with the mode the process's umask gives a new
file (not ``mkstemp``'s 0600), so workers running as other users and web
servers can read a shared store; on object stores (S3, GCS, Azure) a file is
one PUT, which readers see whole or not at all; on other fsspec filesystems a
temporary file is moved into place. A writer killed mid-write leaves at most a
``.tmp-*`` file, which no listing counts and :meth:`StoreFiles.clean_partial`
removes.
"""

from __future__ import annotations

import functools
import io
import json
import os
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any, Mapping

import pyarrow as pa
import pyarrow.parquet as pq

from ..errors import StoreError
from .urls import is_remote_url

_TMP_PREFIX = ".tmp-"
#: fsspec protocols whose single PUT is atomic (a reader sees the whole object or none): no temporary file needed.
_ATOMIC_PUT = frozenset({"s3", "s3a", "gs", "gcs", "az", "abfs", "abfss", "adl", "memory", "oss", "r2"})


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


class StoreFiles:
    """The files of a store in a local folder or at any fsspec URL: paths, listings, atomic reads and writes.

    Parameters
    ----------
    root : str or os.PathLike
        A folder path, or a URL fsspec understands.
    storage_options : mapping, optional
        Passed to the fsspec filesystem.

    Raises
    ------
    StoreError
        If the URL's filesystem is not installed or the URL is not understood.
    """

    def __init__(self, root: str | os.PathLike, *, storage_options: Mapping[str, Any] | None = None) -> None:
        text = os.fspath(root)
        self.storage_options: dict[str, Any] = dict(storage_options or {})
        self.is_local = not is_remote_url(text)
        if self.is_local:
            local = text.split("://", 1)[1] if "://" in text else text
            self._root = Path(local).expanduser()
            self.url = text if "://" in text else str(self._root)
            self.fs = None
            self._base = str(self._root)
            return
        import fsspec  # lazy: only URLs need it

        try:
            self.fs, path = fsspec.core.url_to_fs(text, **self.storage_options)
        except (ImportError, ValueError) as exc:
            raise StoreError(f"cannot open the store {text}: {exc}") from exc
        self._root = None
        self.url = text.rstrip("/")
        self._base = path.rstrip("/")
        self._atomic_put = bool(set(_as_tuple(self.fs.protocol)) & _ATOMIC_PUT)

    def _make_base(self) -> None:
        """Create the store's folder (or prefix) when missing."""
        if self.fs is None:
            try:
                self._root.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise StoreError(f"cannot create the store folder {self._root} ({exc.strerror or exc})") from exc
            return
        try:
            self.fs.makedirs(self._base, exist_ok=True)
        except OSError as exc:
            raise StoreError(f"cannot create the store {self.url} ({exc})") from exc

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

    def _write_new(self, path: str, data: bytes, *, what: str) -> None:
        """Write a file unless one exists, never overwriting another writer's (exclusive in a local folder).

        ``what`` names the file in the message of the StoreError raised when it cannot be written.
        """
        if self.fs is None:
            tmp = Path(path).with_name(f"{_TMP_PREFIX}{uuid.uuid4().hex}")
            try:
                _atomic_write_bytes(tmp, data)
                try:
                    os.link(tmp, path)  # atomic and exclusive: a file another process wrote first stays
                except FileExistsError:
                    pass
                except OSError:  # a filesystem without hard links: rename, unless the file appeared meanwhile
                    if not os.path.exists(path):
                        os.replace(tmp, path)
            except OSError as exc:
                raise StoreError(f"cannot create {what} {path} ({exc.strerror or exc})") from exc
            finally:
                tmp.unlink(missing_ok=True)
            return
        if not self._exists(path):
            self._write_bytes(path, data)

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

    def size_bytes(self) -> int:
        """Bytes the store takes (every file under it)."""
        if self.fs is None:
            return sum(p.stat().st_size for p in self.root.rglob("*") if p.is_file())
        self.fs.invalidate_cache()
        try:
            return int(self.fs.du(self._base, total=True))
        except FileNotFoundError:
            return 0


def _as_tuple(protocol: str | tuple[str, ...]) -> tuple[str, ...]:
    return (protocol,) if isinstance(protocol, str) else tuple(protocol)
