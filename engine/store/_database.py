"""The database layer shared by the review store and the saved results: URLs, one engine per URL and process, SQLite settings.

* one storage layer (SQLAlchemy Core) over two databases named by a URL: a SQLite file
  (a plain path means one) on one machine, PostgreSQL through psycopg 3 when several app servers share it;
* SQLite in WAL mode, every write its own ``BEGIN IMMEDIATE`` transaction with a busy timeout,
  a connection per call (no pool), so no connection is shared across threads;
* PostgreSQL through a small pool per process, each connection checked before use;
* messages never show a password.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import threading
from datetime import datetime, timezone
from pathlib import Path
from typing import Iterator

from sqlalchemy import create_engine, event
from sqlalchemy.engine import URL, Connection, Engine, make_url
from sqlalchemy.exc import ArgumentError, SQLAlchemyError
from sqlalchemy.pool import NullPool

from ..errors import ParameterError, StoreError

__all__ = ["OwnedDatabase", "BUSY_TIMEOUT_S", "WRITE", "database_url", "shown", "reason", "engine_for", "clean", "now_utc"]

BUSY_TIMEOUT_S = 30.0  # how long a writer waits for another process's transaction (or a pooled connection)
_CONNECT_TIMEOUT_S = 10  # how long opening a PostgreSQL connection may take
_MAX_OWNER = 200  # characters an owner may have (never trimmed: two owners must never merge)
_POOL_SIZE, _POOL_OVERFLOW = 3, 7  # PostgreSQL connections a process keeps, and opens beyond them at a peak
WRITE = "cratemap_write"  # execution option: this SQLite transaction writes (BEGIN IMMEDIATE)


def database_url(target: str | os.PathLike | URL) -> URL:
    """The SQLAlchemy URL of ``target``: a path (no ``://``) is a SQLite file, PostgreSQL URLs get psycopg."""
    if isinstance(target, URL):
        url = target
    else:
        text = os.fspath(target) if isinstance(target, os.PathLike) else target
        if not isinstance(text, str) or not text.strip():
            raise ParameterError(f"the review database must be a path or a database URL, got {type(target).__name__}")
        if "://" not in text:
            return URL.create("sqlite", database=str(Path(text).expanduser().absolute()))
        try:
            url = make_url(text)
        except (ArgumentError, ValueError):  # ValueError: a port that is not a number
            raise ParameterError(
                "the review database URL cannot be read; give sqlite:///path or postgresql://user:password@host/database"
            ) from None
    if url.drivername in ("postgres", "postgresql"):
        url = url.set(drivername="postgresql+psycopg")
    backend = url.get_backend_name()
    if backend not in ("sqlite", "postgresql"):
        raise ParameterError(f"{shown(url)} is neither SQLite nor PostgreSQL; reviews are kept in one of those")
    if backend == "sqlite":
        if url.database in (None, "", ":memory:"):
            raise ParameterError("an in-memory SQLite database would lose every judgement; name a file")
        url = url.set(database=str(Path(url.database).expanduser().absolute()))
    return url


def shown(url: URL) -> str:
    """``url`` as it may be shown: its password masked."""
    return url.render_as_string(hide_password=True)


def reason(exc: BaseException, url: URL) -> str:
    """One line saying why ``exc`` happened: the driver's own first line, never a password or SQL."""
    orig = getattr(exc, "orig", None) or exc
    text = next((line.strip() for line in str(orig).splitlines() if line.strip()), type(orig).__name__)
    if url.password:
        text = text.replace(str(url.password), "***")
    return text[:300]


_ENGINES: dict[str, Engine] = {}
_ENGINES_LOCK = threading.Lock()


def engine_for(url: URL) -> Engine:
    """The one engine of ``url`` in this process (created on first use)."""
    key = url.render_as_string(hide_password=False)
    with _ENGINES_LOCK:
        engine = _ENGINES.get(key)
        if engine is None:
            engine = _ENGINES[key] = _new_engine(url)
    return engine


def _new_engine(url: URL) -> Engine:
    if url.get_backend_name() == "sqlite":
        # a connection per use (NullPool): SQLite connections are cheap, and none is ever shared across threads
        engine = create_engine(url, poolclass=NullPool, connect_args={"timeout": BUSY_TIMEOUT_S})
        event.listen(engine, "connect", _sqlite_connected)
        event.listen(engine, "begin", _sqlite_begin)
        return engine
    connect_args = {} if "connect_timeout" in url.query else {"connect_timeout": _CONNECT_TIMEOUT_S}
    return create_engine(url, pool_size=_POOL_SIZE, max_overflow=_POOL_OVERFLOW, pool_timeout=BUSY_TIMEOUT_S,
                         pool_pre_ping=True, pool_recycle=1800, connect_args=connect_args)


def _sqlite_connected(dbapi_connection, _record) -> None:
    # SQLAlchemy's documented recipe: sqlite3 never begins a transaction of its own; _sqlite_begin does
    dbapi_connection.isolation_level = None
    dbapi_connection.execute(f"PRAGMA busy_timeout = {int(BUSY_TIMEOUT_S * 1000)}")
    dbapi_connection.execute("PRAGMA journal_mode=WAL")  # kept in the file; a no-op once set
    dbapi_connection.execute("PRAGMA synchronous = NORMAL")  # durable in WAL mode up to the last checkpointed commit


def _sqlite_begin(conn: Connection) -> None:
    # a writer takes the write lock at BEGIN (waiting up to the busy timeout), so it never fails halfway
    conn.exec_driver_sql("BEGIN IMMEDIATE" if conn.get_execution_options().get(WRITE) else "BEGIN")


def _forget_engines() -> None:
    """In a forked child: the parent's pools are the parent's (psycopg never closes a connection of another pid)."""
    global _ENGINES_LOCK
    _ENGINES_LOCK = threading.Lock()
    _ENGINES.clear()


os.register_at_fork(after_in_child=_forget_engines)


def clean(text: object, limit: int) -> str:
    s = "" if text is None else str(text)
    s = "".join(ch for ch in s if ch in "\n\t" or ch.isprintable())
    return s.strip()[:limit]


def now_utc() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="microseconds")


class OwnedDatabase:
    """A SQLite file or PostgreSQL database whose rows belong to one owner: the part the review store and
    the saved results share (the URL, the engine, connections, and errors as sentences).

    A subclass sets its tables up in :meth:`_set_up`, called once the engine is there, and says what
    opening and reading it are called in a message (``_OPENING``, ``_READING``).

    Attributes
    ----------
    url : str
        The database URL, its password masked.
    owner : str
        Whose rows this store writes and reads.
    path : pathlib.Path or None
        The SQLite file (None for PostgreSQL).
    """

    _OPENING = "open the database"
    _READING = "read from"

    def __init__(self, target: str | os.PathLike | URL, *, owner: str = "") -> None:
        if not isinstance(owner, str) or len(owner) > _MAX_OWNER:
            raise ParameterError(f"owner must be a string of at most {_MAX_OWNER} characters")
        self.owner = owner
        self._url = database_url(target)
        self.url = shown(self._url)
        self._sqlite = self._url.get_backend_name() == "sqlite"
        self.path = Path(self._url.database) if self._sqlite else None
        self._where = str(self.path) if self.path is not None else self.url  # how messages name the database
        if self.path is not None:
            try:
                self.path.parent.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise StoreError(f"cannot create the folder for {self.path} ({exc.strerror or exc})") from exc
        try:
            self._engine = engine_for(self._url)
        except (SQLAlchemyError, ImportError) as exc:
            raise self._error(self._OPENING, exc)
        self._writer = self._engine.execution_options(**{WRITE: True})
        self._set_up()

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.url!r}, owner={self.owner!r})"

    def _set_up(self) -> None:
        raise NotImplementedError

    def _error(self, doing: str, exc: BaseException) -> StoreError:
        """``exc`` as one sentence; the driver's error stays attached unless the URL has a password."""
        error = StoreError(f"cannot {doing} {self._where} ({reason(exc, self._url)})")
        if self._url.password is None:
            error.__cause__ = exc
        error.__suppress_context__ = True
        return error

    @contextlib.contextmanager
    def _connection(self, doing: str = "", *, write: bool = False) -> Iterator[Connection]:
        """A connection for reads (rolled back on leaving) or one write transaction (``BEGIN IMMEDIATE``
        on SQLite; committed on leaving, rolled back on an error); a database error becomes a StoreError."""
        try:
            with self._writer.begin() if write else self._engine.connect() as conn:
                yield conn
        except (SQLAlchemyError, sqlite3.Error) as exc:
            raise self._error(doing or self._READING, exc)
