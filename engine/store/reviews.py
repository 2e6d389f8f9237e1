"""Expert judgements of cluster assignments, kept in SQLite or PostgreSQL.

A reviewer listens to a section and says whether the cluster it was put in is
right. Each judgement is one row, never updated in place: a reviewer who
changes their mind adds a newer row, and :meth:`ReviewStore.latest` reads the
newest row per reviewer and section. Every row records who judged, when (UTC),
and under which settings (the clustering's config digest and the analysis's
section digest), so judgements made under other settings are never mixed up
with the current ones.

Storage decisions, written where they are made:

* one storage layer (SQLAlchemy Core) over two databases named by a URL: a SQLite file
  (``reviews.sqlite`` in the app's data folder; a plain path means one) on one machine, PostgreSQL
  (``postgresql://user:pw@host/db``, through psycopg 3) when several app servers share the judgements;
* SQLite in WAL mode, so readers never block the writer and a crash loses at most the judgement
  being written; every write its own ``BEGIN IMMEDIATE`` transaction with a busy timeout, so two
  processes writing at once queue instead of failing or losing rows; a connection per call (no
  pool), so no connection is shared across threads (Streamlit runs each session in its own thread);
* PostgreSQL through a small pool per process (each connection checked before use), every write
  its own transaction;
* one engine (so one pool) per URL and process, kept in this module: a :class:`ReviewStore`
  opened on every Streamlit rerun costs a version check and leaks nothing;
* the schema version in a ``cratemap_meta`` table: a database of a newer or unknown schema is
  refused, a SQLite file of schema 1 (before owners) is migrated in place;
* every row has an owner (``""`` on a local app; a signed-in user or an anonymous visitor on a
  deployment): a store writes and reads only its owner's rows (:meth:`ReviewStore.delete_owner`
  drops them);
* every database failure is a :class:`~engine.errors.StoreError` whose sentence never shows a password.

Reading filters on both digests it is given: a clustering's config digest
and, when named, the analysis's section digest, so a page shows only the
judgements made on the analysis and clustering it shows.

Labels a reviewer actually gave are read by :meth:`ReviewStore.labels_for`
(the analysis stage tests them with
:func:`engine.analysis.compare.knn_evaluate_reviews`). A judgement gives a label when the reviewer typed one (whatever the verdict)
or, with the verdict ``wrong``, named the cluster that is right. A bare
``right`` verdict only agrees with the clustering: counting it as the
assigned cluster would teach the KNN the clustering back (it would mostly
relearn the clusters, not the reviewers' ears), so it gives no label; nor do
``unsure`` or a ``wrong`` with no better answer.
"""

from __future__ import annotations

import csv
import io

import numpy as np
import pandas as pd
from sqlalchemy import (
    BigInteger, CheckConstraint, Column, Float, Index, Integer, MetaData, Table, Text, delete, func, insert, inspect, select,
)
from sqlalchemy import text as sql_text
from sqlalchemy.engine import Connection

from ..errors import ParameterError, StoreError
from ..records import Judgement
from ._database import OwnedDatabase, clean, now_utc

__all__ = ["VERDICTS", "SCHEMA_VERSION", "ReviewStore", "agreement_table"]

#: What a reviewer can say about an assigned cluster.
VERDICTS: tuple[str, ...] = ("right", "wrong", "unsure")

#: Bump when the table layout changes (checked on open). 2: rows have an owner.
SCHEMA_VERSION = 2

_MAX_TEXT = 2000  # characters kept of a comment
_MAX_NAME = 80  # characters kept of a reviewer name or a free label
_VERSION_KEY = "review_schema_version"
_SETUP_LOCK = 0x43524D52  # pg_advisory_xact_lock key: one process sets the schema up at a time ("CRMR")
_UNKNOWN = object()  # a judgements table with no version recorded

_METADATA = MetaData()
_JUDGEMENTS = Table(
    "judgements", _METADATA,
    # an integer key from the database; on SQLite AUTOINCREMENT, so an id is never reused after a delete
    Column("id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True),
    Column("created_utc", Text, nullable=False),  # ISO 8601, UTC, microseconds
    Column("reviewer", Text, nullable=False),
    Column("track_id", Text, nullable=False),  # sha256 of the file's bytes
    Column("name", Text, nullable=False),  # display name at the time
    Column("section", Integer, nullable=False),
    Column("start_s", Float, nullable=False),
    Column("end_s", Float, nullable=False),
    Column("assigned_cluster", Integer, nullable=False),  # the cluster the app showed
    Column("verdict", Text, nullable=False),
    Column("corrected_cluster", Integer),  # the cluster the reviewer says is right, if any
    Column("label", Text, nullable=False, server_default=""),  # a free label, if any
    Column("comment", Text, nullable=False, server_default=""),
    Column("config_digest", Text, nullable=False),  # ClusterConfig digest of the clustering judged
    Column("section_digest", Text, nullable=False, server_default=""),  # AnalysisConfig.section_digest()
    Column("owner", Text, nullable=False, server_default=""),  # whose rows: "" locally
    CheckConstraint("verdict IN ('right', 'wrong', 'unsure')", name="judgements_verdict"),
    Index("judgements_by_config", "config_digest", "track_id", "section"), Index("judgements_by_reviewer", "reviewer"),
    Index("judgements_by_owner", "owner", "config_digest"),
    sqlite_autoincrement=True,
)
#: The columns a reader gets (a :class:`Judgement`'s fields): every one but the owner.
_COLUMNS = tuple(column.name for column in _JUDGEMENTS.columns if column.name != "owner")
_META = Table("cratemap_meta", _METADATA, Column("key", Text, primary_key=True), Column("value", Text, nullable=False))



def _checked_row(
    *, reviewer, track_id, name, section, start_s, end_s, assigned_cluster, verdict, corrected_cluster, label, comment,
    config_digest, section_digest,
) -> dict:
    """The row :meth:`ReviewStore.add` writes: its arguments checked, cleaned and stamped with the time (UTC)."""
    reviewer = clean(reviewer, _MAX_NAME)
    if not reviewer:
        raise ParameterError("give a reviewer name")
    if verdict not in VERDICTS:
        raise ParameterError(f"verdict must be one of {list(VERDICTS)}, got {verdict!r}")
    if not track_id or not config_digest:
        raise ParameterError("a judgement needs a track id and a config digest")
    try:
        section, assigned_cluster = int(section), int(assigned_cluster)
        start_s, end_s = float(start_s), float(end_s)
        corrected = None if corrected_cluster is None else int(corrected_cluster)
    except (TypeError, ValueError) as exc:
        raise ParameterError(f"section, times and clusters must be numbers ({exc})") from exc
    if section < 0:
        raise ParameterError(f"section must be >= 0, got {section}")
    if not (np.isfinite(start_s) and np.isfinite(end_s) and end_s > start_s >= 0):
        raise ParameterError(f"section times must satisfy 0 <= start < end, got {start_s}..{end_s}")
    if corrected is not None and verdict != "wrong":
        raise ParameterError("a corrected cluster goes with the verdict 'wrong'")
    if corrected is not None and corrected == assigned_cluster:
        raise ParameterError(f"the corrected cluster {corrected} is the assigned one; mark the verdict 'right' instead")
    return {
        "created_utc": now_utc(),
        "reviewer": reviewer,
        "track_id": str(track_id),
        "name": clean(name, 1000),
        "section": section,
        "start_s": start_s,
        "end_s": end_s,
        "assigned_cluster": assigned_cluster,
        "verdict": verdict,
        "corrected_cluster": corrected,
        "label": clean(label, _MAX_NAME),
        "comment": clean(comment, _MAX_TEXT),
        "config_digest": str(config_digest),
        "section_digest": str(section_digest),
    }


class ReviewStore(OwnedDatabase):
    """Judgements in a SQLite file or a PostgreSQL database (tables created when missing).

    Parameters
    ----------
    target : str, os.PathLike or sqlalchemy.engine.URL
        A path (a SQLite file; its folder is created when missing) or a database
        URL: ``sqlite:///path`` or ``postgresql+psycopg://user:password@host:port/database``
        (``postgresql://`` and ``postgres://`` mean the same).
    owner : str
        Whose judgements: every row written is this owner's, and every read sees
        only this owner's rows. ``""`` (the default) on a local app.

    Attributes
    ----------
    url : str
        The database URL, its password masked.
    owner : str
        Whose judgements this store writes and reads.
    path : pathlib.Path or None
        The SQLite file (None for PostgreSQL).

    Raises
    ------
    ParameterError
        If ``target`` is neither a path nor a SQLite or PostgreSQL URL, or ``owner`` is not a string.
    StoreError
        If the database cannot be created, reached or set up, or holds another schema version.
    """

    _OPENING = "open the review database"
    _READING = "read judgements from"

    # -- the schema --------------------------------------------------------
    def _set_up(self) -> None:
        """Create the tables, migrate a schema 1 SQLite file, or refuse another schema."""
        with self._connection(self._OPENING) as conn:
            if self._schema_found(conn) == str(SCHEMA_VERSION):
                return  # the usual case, without taking the write lock
        with self._connection("set up the review database", write=True) as conn:
            if not self._sqlite:  # two processes creating the tables at once would collide in the catalog
                conn.execute(sql_text("SELECT pg_advisory_xact_lock(:key)"), {"key": _SETUP_LOCK})
            found = self._schema_found(conn)
            if found == str(SCHEMA_VERSION):
                return
            if found is not None and not (self._sqlite and found == "1"):
                shown = "of an unknown version" if found is _UNKNOWN else found
                raise StoreError(f"{self._where} holds review schema {shown}; this CrateMap reads schema {SCHEMA_VERSION}")
            if found == "1" and "owner" not in {c["name"] for c in inspect(conn).get_columns("judgements")}:
                conn.exec_driver_sql("ALTER TABLE judgements ADD COLUMN owner TEXT NOT NULL DEFAULT ''")
            _METADATA.create_all(conn)  # only the tables missing
            for index in _JUDGEMENTS.indexes:  # a migrated table lacks the owner index
                index.create(conn, checkfirst=True)
            conn.execute(insert(_META).values(key=_VERSION_KEY, value=str(SCHEMA_VERSION)))
            if self._sqlite:  # an older CrateMap reads this one and refuses the file
                conn.exec_driver_sql(f"PRAGMA user_version = {SCHEMA_VERSION}")

    def _schema_found(self, conn: Connection) -> str | object | None:
        """The schema version the database holds: None when it holds no judgements yet."""
        found = inspect(conn)
        if found.has_table(_META.name):
            value = conn.execute(select(_META.c.value).where(_META.c.key == _VERSION_KEY)).scalar_one_or_none()
            return _UNKNOWN if value is None else str(value)
        legacy = int(conn.exec_driver_sql("PRAGMA user_version").scalar_one()) if self._sqlite else 0
        if legacy:  # schema 1 kept its version in SQLite's header (and later ones beside the table)
            return str(legacy) if legacy != SCHEMA_VERSION else _UNKNOWN
        return _UNKNOWN if found.has_table(_JUDGEMENTS.name) else None

    # -- writing -----------------------------------------------------------
    def add(
        self,
        *,
        reviewer: str,
        track_id: str,
        name: str,
        section: int,
        start_s: float,
        end_s: float,
        assigned_cluster: int,
        verdict: str,
        config_digest: str,
        section_digest: str = "",
        corrected_cluster: int | None = None,
        label: str = "",
        comment: str = "",
    ) -> Judgement:
        """Write one judgement and return it as stored.

        Parameters
        ----------
        reviewer : str
            Who judged (required; trimmed to 80 characters).
        track_id, name, section, start_s, end_s
            The section judged.
        assigned_cluster : int
            The cluster the app showed (-1 for noise).
        verdict : {"right", "wrong", "unsure"}
        config_digest : str
            The clustering's config digest (required).
        section_digest : str
            The analysis's section digest.
        corrected_cluster : int, optional
            The cluster the reviewer says is right (only with ``wrong``).
        label : str
            A free label (trimmed to 80 characters).
        comment : str
            Free text (trimmed to 2000 characters).

        Returns
        -------
        Judgement

        Raises
        ------
        ParameterError
            For a missing reviewer, track or digest, an unknown verdict, or bad times.
        StoreError
            If the database cannot be written.
        """
        row = _checked_row(
            reviewer=reviewer, track_id=track_id, name=name, section=section, start_s=start_s, end_s=end_s,
            assigned_cluster=assigned_cluster, verdict=verdict, corrected_cluster=corrected_cluster, label=label,
            comment=comment, config_digest=config_digest, section_digest=section_digest,
        )
        return Judgement(id=self._insert(row), **row)

    def _insert(self, row: dict) -> int:
        """Write one row, this store's owner's, in its own transaction; return its id."""
        with self._connection("save the judgement in", write=True) as conn:
            result = conn.execute(insert(_JUDGEMENTS).values(owner=self.owner, **row))
            return int(result.inserted_primary_key[0])

    def delete_owner(self) -> int:
        """Delete every judgement of this store's owner (an anonymous visitor's, after their grace time).

        Returns how many were deleted; raises :class:`StoreError` if the database cannot be written.
        """
        with self._connection("delete judgements from", write=True) as conn:
            return int(conn.execute(delete(_JUDGEMENTS).where(_JUDGEMENTS.c.owner == self.owner)).rowcount)

    # -- reading -----------------------------------------------------------
    def judgements(
        self, *, config_digest: str | None = None, section_digest: str | None = None, reviewer: str | None = None
    ) -> pd.DataFrame:
        """Every judgement of this store's owner (optionally of one clustering, one analysis or one reviewer), oldest first.

        Parameters
        ----------
        config_digest : str, optional
            Only judgements of the clustering with this digest.
        section_digest : str, optional
            Only judgements of sections cut and described under this analysis
            (``AnalysisConfig.section_digest()``).
        reviewer : str, optional
            Only this reviewer's judgements.

        Returns
        -------
        pandas.DataFrame
            One row per judgement, columns as :class:`Judgement`'s fields.

        Raises
        ------
        StoreError
            If the database cannot be read.
        """
        table = _JUDGEMENTS
        query = select(*(table.c[name] for name in _COLUMNS)).where(table.c.owner == self.owner)
        for column, value in (("config_digest", config_digest), ("section_digest", section_digest), ("reviewer", reviewer)):
            if value is not None:
                query = query.where(table.c[column] == value)
        with self._connection() as conn:
            rows = [tuple(row) for row in conn.execute(query.order_by(table.c.id))]
        frame = pd.DataFrame(rows, columns=list(_COLUMNS))
        frame["corrected_cluster"] = frame["corrected_cluster"].astype("Int64")
        return frame

    def count(self) -> int:
        """How many judgements this store's owner has."""
        query = select(func.count()).select_from(_JUDGEMENTS).where(_JUDGEMENTS.c.owner == self.owner)
        with self._connection() as conn:
            return int(conn.execute(query).scalar_one())

    def latest(self, *, config_digest: str | None = None, section_digest: str | None = None) -> pd.DataFrame:
        """The newest judgement per reviewer and section (earlier ones were superseded).

        Filters as :meth:`judgements`; a section judged under several
        clusterings or analyses (when not filtered to one) keeps one row for each.
        """
        frame = self.judgements(config_digest=config_digest, section_digest=section_digest)
        if frame.empty:
            return frame
        keys = ["reviewer", "track_id", "section", "config_digest", "section_digest"]
        return frame.sort_values("id").drop_duplicates(keys, keep="last").reset_index(drop=True)

    def agreement(
        self, *, by: str = "cluster", config_digest: str | None = None, section_digest: str | None = None
    ) -> pd.DataFrame:
        """How often reviewers agreed with the assigned cluster; see :func:`agreement_table`."""
        return agreement_table(self.latest(config_digest=config_digest, section_digest=section_digest), by=by)

    def to_csv(self, *, config_digest: str | None = None, section_digest: str | None = None) -> str:
        """Every judgement as CSV text (a header row, then one row per judgement).

        Text cells that a spreadsheet would read as a formula (starting with
        ``=``, ``+``, ``-`` or ``@``) are prefixed with an apostrophe.
        """
        frame = self.judgements(config_digest=config_digest, section_digest=section_digest)
        buf = io.StringIO()
        writer = csv.writer(buf, lineterminator="\n")
        writer.writerow(_COLUMNS)
        for row in frame.itertuples(index=False):
            writer.writerow([_csv_cell(v) for v in row])
        return buf.getvalue()

    def labels_for(self, meta: pd.DataFrame, *, config_digest: str, section_digest: str | None = None) -> np.ndarray:
        """One label a reviewer gave per section row, for :func:`engine.analysis.compare.knn_evaluate`.

        Each reviewer's newest judgement of a section stands for that
        reviewer (a changed mind withdraws an earlier label); of those, the
        newest that gives a label (:attr:`Judgement.resolved_label`) labels the
        section. Sections no reviewer labelled get ``None`` (knn_evaluate
        leaves them out), including sections only judged ``right``.

        Parameters
        ----------
        meta : pandas.DataFrame [shape=(n_rows, ...)]
            Section metadata with ``track_id`` and ``section``.
        config_digest : str
            Only judgements of this clustering count.
        section_digest : str, optional
            Only judgements made under this analysis count.

        Returns
        -------
        np.ndarray [shape=(n_rows,)], object
        """
        frame = self.latest(config_digest=config_digest, section_digest=section_digest)
        out = np.full(len(meta), None, dtype=object)
        if frame.empty:
            return out
        labels: dict[tuple[str, int], str] = {}
        for row in frame.sort_values("id").itertuples(index=False):
            label = Judgement.label_of(row)
            if label is not None:  # newer labels overwrite older ones; a judgement giving none leaves them
                labels[(row.track_id, int(row.section))] = label
        for i, (tid, sec) in enumerate(zip(meta["track_id"].astype(str), meta["section"].astype(int))):
            out[i] = labels.get((tid, int(sec)))
        return out


def _csv_cell(value: object) -> object:
    if value is None or (isinstance(value, float) and np.isnan(value)) or value is pd.NA:
        return ""
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@"):
        return "'" + value
    return value


def agreement_table(judgements: pd.DataFrame, *, by: str = "cluster") -> pd.DataFrame:
    """Agreement with the assigned clusters, per cluster or per reviewer.

    Parameters
    ----------
    judgements : pandas.DataFrame
        Rows as :meth:`ReviewStore.latest` returns them.
    by : {"cluster", "reviewer"}

    Returns
    -------
    pandas.DataFrame
        Columns ``cluster`` (or ``reviewer``), ``judged``, ``right``,
        ``wrong``, ``unsure`` and ``agreement`` (right / (right + wrong);
        NaN when no decided judgement), sorted by the key.

    Raises
    ------
    ParameterError
        For an unknown ``by``.
    """
    if by not in ("cluster", "reviewer"):
        raise ParameterError(f"by must be 'cluster' or 'reviewer', got {by!r}")
    key = "assigned_cluster" if by == "cluster" else "reviewer"
    cols = [by, "judged", "right", "wrong", "unsure", "agreement"]
    if judgements.empty:
        return pd.DataFrame(columns=cols)
    counts = pd.crosstab(judgements[key], judgements["verdict"]).reindex(columns=list(VERDICTS), fill_value=0)
    out = counts.reset_index().rename(columns={key: by})
    out["judged"] = counts.sum(axis=1).to_numpy()
    decided = out["right"] + out["wrong"]
    out["agreement"] = np.where(decided > 0, out["right"] / decided.where(decided > 0, 1), np.nan)
    return out[cols].sort_values(by, kind="stable").reset_index(drop=True)
