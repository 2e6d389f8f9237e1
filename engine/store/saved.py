"""Results a user saved (the nearest sections of one section, say), kept beside the reviews.

A saved result is a titled list of sections in the order they were shown. It
lives in the review database (a SQLite file locally, PostgreSQL on a
deployment, whose disk does not survive a restart), in its own table with an
owner, so one visitor never reads another's. It is written once and never
changed; deleting it removes the row. The sections are stored as JSON in the
row, so a result reads back whole or not at all.

Each result keeps the analysis it was cut under (``section_digest``): a page
or an export reads only the results of the analysis it shows, and an export
leaves out sections of tracks it does not hold.
"""

from __future__ import annotations

import json
from typing import Sequence

import pandas as pd
from sqlalchemy import BigInteger, Column, Index, Integer, MetaData, Table, Text, delete, insert, select
from sqlalchemy import text as sql_text

from ..errors import ParameterError
from ..records import SavedResult, SavedSection
from ._database import OwnedDatabase, clean, now_utc

__all__ = ["SavedResults"]

_MAX_TITLE = 200  # characters kept of a title
_MAX_SECTIONS = 1000  # sections one result may hold
_SETUP_LOCK = 0x43524D53  # pg_advisory_xact_lock key while creating the table ("CRMS")

_METADATA = MetaData()
_SAVED = Table(
    "saved_results", _METADATA,
    Column("id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True),
    Column("created_utc", Text, nullable=False),
    Column("owner", Text, nullable=False, server_default=""),
    Column("kind", Text, nullable=False),
    Column("title", Text, nullable=False),
    Column("section_digest", Text, nullable=False, server_default=""),
    Column("config_digest", Text, nullable=False, server_default=""),
    Column("sections", Text, nullable=False),  # JSON: [[track_id, name, section, start_s, end_s], ...]
    Index("saved_results_by_owner", "owner", "section_digest"),
    sqlite_autoincrement=True,
)
_SECTION_COLUMNS = ("track_id", "name", "section", "start_s", "end_s")


class SavedResults(OwnedDatabase):
    """Saved results in a SQLite file or a PostgreSQL database (the table created when missing).

    Parameters
    ----------
    target : str, os.PathLike or sqlalchemy.engine.URL
        As :class:`~engine.store.reviews.ReviewStore`: a path (a SQLite file) or a database URL.
    owner : str
        Whose results: every result written is this owner's, and every read sees only theirs.

    Raises
    ------
    ParameterError
        If ``target`` is neither a path nor a SQLite or PostgreSQL URL, or ``owner`` is not a string.
    StoreError
        If the database cannot be created, reached or set up.
    """

    _OPENING = "open the saved results in"
    _READING = "read the saved results in"

    def _set_up(self) -> None:
        with self._connection("set up the saved results in", write=True) as conn:
            if not self._sqlite:  # two processes creating the table at once would collide in the catalog
                conn.execute(sql_text("SELECT pg_advisory_xact_lock(:key)"), {"key": _SETUP_LOCK})
            _METADATA.create_all(conn)  # only when missing

    def save(self, sections: pd.DataFrame | Sequence[SavedSection], *, title: str, kind: str = "similar",
             section_digest: str = "", config_digest: str = "") -> SavedResult:
        """Save one result and return it as stored.

        Parameters
        ----------
        sections : pandas.DataFrame or sequence of SavedSection
            In the order shown; a frame needs ``track_id``, ``name``, ``section``, ``start_s`` and ``end_s``.
        title : str
            What to call it (required; trimmed to 200 characters).
        kind : str
            What it is ("similar": the nearest sections of its first section).
        section_digest, config_digest : str
            The analysis and the settings that found it.

        Raises
        ------
        ParameterError
            For no title, no sections, too many, or a section with bad times.
        StoreError
            If the database cannot be written.
        """
        title, kind = clean(title, _MAX_TITLE), clean(kind, 40)
        if not title or not kind:
            raise ParameterError("a saved result needs a title and a kind")
        items = _sections(sections)
        row = {
            "created_utc": now_utc(), "kind": kind, "title": title, "section_digest": str(section_digest),
            "config_digest": str(config_digest), "sections": json.dumps([[getattr(s, c) for c in _SECTION_COLUMNS] for s in items]),
        }  # fmt: skip
        with self._connection("save the result in", write=True) as conn:
            new_id = int(conn.execute(insert(_SAVED).values(owner=self.owner, **row)).inserted_primary_key[0])
        return SavedResult(id=new_id, created_utc=row["created_utc"], kind=kind, title=title, section_digest=row["section_digest"],
                           config_digest=row["config_digest"], sections=items)  # fmt: skip

    def results(self, *, section_digest: str | None = None, kind: str | None = None) -> list[SavedResult]:
        """This owner's saved results, oldest first (optionally of one analysis, or of one kind)."""
        query = select(_SAVED).where(_SAVED.c.owner == self.owner)
        if section_digest is not None:
            query = query.where(_SAVED.c.section_digest == section_digest)
        if kind is not None:
            query = query.where(_SAVED.c.kind == kind)
        with self._connection() as conn:
            rows = list(conn.execute(query.order_by(_SAVED.c.id)).mappings())
        return [
            SavedResult(
                id=int(r["id"]), created_utc=r["created_utc"], kind=r["kind"], title=r["title"], section_digest=r["section_digest"],
                config_digest=r["config_digest"], sections=tuple(SavedSection(*item) for item in json.loads(r["sections"])),
            )  # fmt: skip
            for r in rows
        ]

    def delete(self, result_id: int) -> bool:
        """Delete one of this owner's results; False when they have none of that id."""
        query = delete(_SAVED).where(_SAVED.c.owner == self.owner, _SAVED.c.id == int(result_id))
        with self._connection("delete saved results from", write=True) as conn:
            return conn.execute(query).rowcount > 0

    def delete_owner(self) -> int:
        """Delete every result of this owner (an anonymous visitor's, after their grace time); how many."""
        with self._connection("delete saved results from", write=True) as conn:
            return int(conn.execute(delete(_SAVED).where(_SAVED.c.owner == self.owner)).rowcount)


def _sections(sections) -> tuple[SavedSection, ...]:
    if isinstance(sections, pd.DataFrame):
        missing = [c for c in _SECTION_COLUMNS if c not in sections.columns]
        if missing:
            raise ParameterError(f"the sections to save lack {', '.join(missing)}")
        rows = sections[list(_SECTION_COLUMNS)].itertuples(index=False)
    else:
        rows = ((s.track_id, s.name, s.section, s.start_s, s.end_s) for s in sections)
    try:
        items = tuple(SavedSection(str(t), clean(n, 1000), int(k), float(a), float(b)) for t, n, k, a, b in rows)
    except (TypeError, ValueError) as exc:
        raise ParameterError(f"section numbers and times must be numbers ({exc})") from exc
    if not items:
        raise ParameterError("a saved result needs at least one section")
    if len(items) > _MAX_SECTIONS:
        raise ParameterError(f"a saved result holds at most {_MAX_SECTIONS} sections, got {len(items)}")
    bad = next((s for s in items if not (0 <= s.start_s < s.end_s) or not s.track_id), None)
    if bad is not None:
        raise ParameterError(f"section {bad.section} of {bad.name or bad.track_id} has bad times {bad.start_s}..{bad.end_s}")
    return items
