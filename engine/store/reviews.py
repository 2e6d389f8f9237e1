"""Expert judgements of cluster assignments, kept in SQLite.

A reviewer listens to a section and says whether the cluster it was put in is
right. Each judgement is one row, never updated in place: a reviewer who
changes their mind adds a newer row, and :meth:`ReviewStore.latest` reads the
newest row per reviewer and section. Every row records who judged, when (UTC),
and under which settings (the clustering's config digest and the analysis's
section digest), so judgements made under other settings are never mixed up
with the current ones.

Storage decisions, written where they are made:

* one SQLite file (``reviews.sqlite`` under the app's data folder) in WAL
  mode, so readers never block the writer and a crash loses at most the
  judgement being written;
* every write is its own ``BEGIN IMMEDIATE`` transaction with a busy timeout,
  so two processes (two app servers, or the app and a script) writing at once
  queue instead of failing or losing rows;
* a connection per call: no connection object is shared across threads
  (Streamlit runs each session in its own thread).

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

import contextlib
import csv
import io
import os
import sqlite3
from datetime import datetime, timezone
from pathlib import Path
from typing import Iterator

import numpy as np
import pandas as pd

from ..errors import ParameterError, StoreError
from ..records import Judgement

__all__ = ["VERDICTS", "SCHEMA_VERSION", "ReviewStore", "agreement_table"]

#: What a reviewer can say about an assigned cluster.
VERDICTS: tuple[str, ...] = ("right", "wrong", "unsure")

#: Bump when the table layout changes (checked on open).
SCHEMA_VERSION = 1

_BUSY_TIMEOUT_S = 30.0  # how long a writer waits for another process's transaction
_MAX_TEXT = 2000  # characters kept of a comment
_MAX_NAME = 80  # characters kept of a reviewer name or a free label

_COLUMNS = (
    "id",
    "created_utc",
    "reviewer",
    "track_id",
    "name",
    "section",
    "start_s",
    "end_s",
    "assigned_cluster",
    "verdict",
    "corrected_cluster",
    "label",
    "comment",
    "config_digest",
    "section_digest",
)

_SCHEMA = """
CREATE TABLE IF NOT EXISTS judgements (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    created_utc TEXT NOT NULL,            -- ISO 8601, UTC, microseconds
    reviewer TEXT NOT NULL,
    track_id TEXT NOT NULL,               -- sha256 of the file's bytes
    name TEXT NOT NULL,                   -- display name at the time
    section INTEGER NOT NULL,
    start_s REAL NOT NULL,
    end_s REAL NOT NULL,
    assigned_cluster INTEGER NOT NULL,    -- the cluster the app showed
    verdict TEXT NOT NULL CHECK (verdict IN ('right', 'wrong', 'unsure')),
    corrected_cluster INTEGER,            -- the cluster the reviewer says is right, if any
    label TEXT NOT NULL DEFAULT '',       -- a free label, if any
    comment TEXT NOT NULL DEFAULT '',
    config_digest TEXT NOT NULL,          -- ClusterConfig digest of the clustering judged
    section_digest TEXT NOT NULL DEFAULT ''  -- AnalysisConfig.section_digest() of the sections
);
CREATE INDEX IF NOT EXISTS judgements_by_config ON judgements (config_digest, track_id, section);
CREATE INDEX IF NOT EXISTS judgements_by_reviewer ON judgements (reviewer);
"""


def _clean(text: object, limit: int) -> str:
    s = "" if text is None else str(text)
    s = "".join(ch for ch in s if ch in "\n\t" or ch.isprintable())
    return s.strip()[:limit]


def _now_utc() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="microseconds")


def _checked_row(
    *, reviewer, track_id, name, section, start_s, end_s, assigned_cluster, verdict, corrected_cluster, label, comment,
    config_digest, section_digest,
) -> dict:
    """The row :meth:`ReviewStore.add` writes: its arguments checked, cleaned and stamped with the time (UTC)."""
    reviewer = _clean(reviewer, _MAX_NAME)
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
        "created_utc": _now_utc(),
        "reviewer": reviewer,
        "track_id": str(track_id),
        "name": _clean(name, 1000),
        "section": section,
        "start_s": start_s,
        "end_s": end_s,
        "assigned_cluster": assigned_cluster,
        "verdict": verdict,
        "corrected_cluster": corrected,
        "label": _clean(label, _MAX_NAME),
        "comment": _clean(comment, _MAX_TEXT),
        "config_digest": str(config_digest),
        "section_digest": str(section_digest),
    }


class ReviewStore:
    """Judgements in one SQLite file (created when missing).

    Parameters
    ----------
    path : str or os.PathLike
        The database file; its folder is created when missing.

    Raises
    ------
    StoreError
        If the file cannot be created or opened, or holds another schema version.
    """

    def __init__(self, path: str | os.PathLike) -> None:
        self.path = Path(path)
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise StoreError(f"cannot create the folder for {self.path} ({exc.strerror or exc})") from exc
        with self._connect() as con:
            try:
                con.execute("PRAGMA journal_mode=WAL")
                version = con.execute("PRAGMA user_version").fetchone()[0]
                if version not in (0, SCHEMA_VERSION):
                    raise StoreError(f"{self.path} holds review schema {version}; this CrateMap reads {SCHEMA_VERSION}")
                con.executescript(_SCHEMA)
                con.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
            except sqlite3.Error as exc:
                raise StoreError(f"cannot set up the review database {self.path} ({exc})") from exc

    @contextlib.contextmanager
    def _connect(self) -> Iterator[sqlite3.Connection]:
        try:
            con = sqlite3.connect(self.path, timeout=_BUSY_TIMEOUT_S, isolation_level=None)
        except sqlite3.Error as exc:
            raise StoreError(f"cannot open the review database {self.path} ({exc})") from exc
        try:
            con.execute(f"PRAGMA busy_timeout = {int(_BUSY_TIMEOUT_S * 1000)}")
            con.execute("PRAGMA synchronous = NORMAL")  # durable in WAL mode up to the last checkpointed commit
            yield con
        finally:
            con.close()

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
        """Write one row in its own transaction; return its id."""
        names = list(row)
        sql = f"INSERT INTO judgements ({', '.join(names)}) VALUES ({', '.join('?' * len(names))})"
        with self._connect() as con:
            try:
                con.execute("BEGIN IMMEDIATE")
                cur = con.execute(sql, [row[n] for n in names])
                con.execute("COMMIT")
            except sqlite3.Error as exc:
                with contextlib.suppress(sqlite3.Error):
                    con.execute("ROLLBACK")
                raise StoreError(f"cannot save the judgement in {self.path} ({exc})") from exc
        return int(cur.lastrowid)

    # -- reading -----------------------------------------------------------
    def judgements(
        self, *, config_digest: str | None = None, section_digest: str | None = None, reviewer: str | None = None
    ) -> pd.DataFrame:
        """Every judgement (optionally of one clustering, one analysis or one reviewer), oldest first.

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
        where, args = [], []
        if config_digest is not None:
            where.append("config_digest = ?")
            args.append(config_digest)
        if section_digest is not None:
            where.append("section_digest = ?")
            args.append(section_digest)
        if reviewer is not None:
            where.append("reviewer = ?")
            args.append(reviewer)
        sql = f"SELECT {', '.join(_COLUMNS)} FROM judgements"
        if where:
            sql += " WHERE " + " AND ".join(where)
        sql += " ORDER BY id"
        with self._connect() as con:
            try:
                rows = con.execute(sql, args).fetchall()
            except sqlite3.Error as exc:
                raise StoreError(f"cannot read judgements from {self.path} ({exc})") from exc
        frame = pd.DataFrame(rows, columns=list(_COLUMNS))
        frame["corrected_cluster"] = frame["corrected_cluster"].astype("Int64")
        return frame

    def count(self) -> int:
        """How many judgements the file holds."""
        with self._connect() as con:
            try:
                return int(con.execute("SELECT COUNT(*) FROM judgements").fetchone()[0])
            except sqlite3.Error as exc:
                raise StoreError(f"cannot read judgements from {self.path} ({exc})") from exc

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
