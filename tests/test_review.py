"""Expert judgements in SQLite and in a real PostgreSQL: one row each, owners, concurrent writers,
restarts, labels; SQLite's WAL mode, schema check and migration of a schema 1 file."""

from __future__ import annotations

import contextlib
import multiprocessing as mp
import socket
import sqlite3
import subprocess
import sys
import traceback
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime

import numpy as np
import pandas as pd
import pytest
import sqlalchemy as sa

from conftest import CEILING_S, ROOT
from engine.config import ClusterConfig
from engine.errors import ParameterError, StoreError
from engine.analysis.compare import knn_evaluate_reviews
from engine.store.reviews import ReviewStore, agreement_table
from engine.store.tables import table_from_frame

DIGEST = "c0ffee0123456789"
# review_target (conftest.py): each test runs on a new SQLite file and on a new database of a real PostgreSQL


@contextlib.contextmanager
def _raw(target: str):
    """A plain SQLAlchemy connection to ``target`` (no ReviewStore in between), committed on leaving."""
    engine = sa.create_engine(target if "://" in target else f"sqlite:///{target}", poolclass=sa.NullPool)
    try:
        with engine.begin() as con:
            yield con
    finally:
        engine.dispose()


def _judge(store: ReviewStore, **changes):
    args = dict(
        reviewer="ana",
        track_id="t1",
        name="crate/a.wav",
        section=0,
        start_s=0.0,
        end_s=15.0,
        assigned_cluster=1,
        verdict="right",
        config_digest=DIGEST,
        section_digest="s1",
    )
    args.update(changes)
    return store.add(**args)


def test_one_row_per_judgement_with_reviewer_time_and_digest(review_target):
    store = ReviewStore(review_target)
    first = _judge(store)
    second = _judge(store, verdict="wrong", corrected_cluster=2, comment="more like the breakdowns")
    rows = store.judgements()
    assert len(rows) == 2 and store.count() == 2
    assert list(rows["id"]) == [first.id, second.id]
    assert set(rows["reviewer"]) == {"ana"} and set(rows["config_digest"]) == {DIGEST}
    stamp = datetime.fromisoformat(rows["created_utc"].iloc[0])
    assert stamp.utcoffset().total_seconds() == 0  # UTC
    assert rows["corrected_cluster"].iloc[1] == 2 and rows["comment"].iloc[1] == "more like the breakdowns"
    # the newer judgement supersedes the older one for the same reviewer and section
    latest = store.latest()
    assert len(latest) == 1 and latest["verdict"].iloc[0] == "wrong"


def test_database_is_in_wal_mode(tmp_path):
    path = tmp_path / "reviews.sqlite"
    ReviewStore(path)
    with sqlite3.connect(path) as con:
        assert con.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_bad_judgements_are_refused_with_a_reason(review_target):
    store = ReviewStore(review_target)
    with pytest.raises(ParameterError, match="reviewer"):
        _judge(store, reviewer="   ")
    with pytest.raises(ParameterError, match="verdict"):
        _judge(store, verdict="maybe")
    with pytest.raises(ParameterError, match="start < end"):
        _judge(store, start_s=10.0, end_s=5.0)
    with pytest.raises(ParameterError, match="'wrong'"):
        _judge(store, verdict="right", corrected_cluster=3)
    with pytest.raises(ParameterError, match="assigned one"):
        _judge(store, verdict="wrong", corrected_cluster=1)
    assert store.count() == 0


def test_text_is_cleaned_and_trimmed(review_target):
    store = ReviewStore(review_target)
    j = _judge(store, reviewer="  bo\x00b  ", label="x" * 500, comment="ok\x07 fine")
    assert j.reviewer == "bob" and len(j.label) == 80 and j.comment == "ok fine"


def test_judgements_survive_a_restart_in_another_process(review_target):
    path = review_target
    code = (
        "import sys; sys.path.insert(0, sys.argv[2])\n"
        "from engine.store.reviews import ReviewStore\n"
        "s = ReviewStore(sys.argv[1])\n"
        "s.add(reviewer='cy', track_id='t9', name='n', section=4, start_s=60, end_s=75, assigned_cluster=0,"
        " verdict='wrong', corrected_cluster=3, label='', comment='', config_digest='d')\n"
    )
    subprocess.run([sys.executable, "-c", code, str(path), str(ROOT)], check=True, timeout=CEILING_S)
    again = ReviewStore(path)  # a fresh process-level open, as after an app restart
    rows = again.judgements()
    assert len(rows) == 1 and rows["reviewer"].iloc[0] == "cy" and rows["corrected_cluster"].iloc[0] == 3


def _writer(path: str, who: str, n: int, start) -> None:
    store = ReviewStore(path)
    start.wait()
    for i in range(n):
        store.add(
            reviewer=who,
            track_id=f"t{i % 7}",
            name="x",
            section=i,
            start_s=0,
            end_s=1,
            assigned_cluster=i % 3,
            verdict="right" if i % 2 else "wrong",
            config_digest=DIGEST,
        )


def test_two_processes_writing_at_once_lose_nothing(review_target):
    path = review_target
    ReviewStore(path)
    ctx = mp.get_context("spawn")
    start = ctx.Event()
    procs = [ctx.Process(target=_writer, args=(path, who, 150, start)) for who in ("ana", "bo")]
    for p in procs:
        p.start()
    start.set()
    for p in procs:
        p.join(timeout=CEILING_S)
        assert p.exitcode == 0
    rows = ReviewStore(path).judgements()
    assert len(rows) == 300
    assert rows.groupby("reviewer").size().to_dict() == {"ana": 150, "bo": 150}
    assert rows["id"].is_unique


def test_agreement_per_cluster_and_reviewer(review_target):
    store = ReviewStore(review_target)
    _judge(store, section=0, assigned_cluster=0, verdict="right")
    _judge(store, section=1, assigned_cluster=0, verdict="wrong")
    _judge(store, section=2, assigned_cluster=1, verdict="right")
    _judge(store, section=2, assigned_cluster=1, verdict="unsure", reviewer="bo")
    by_cluster = store.agreement(by="cluster")
    assert by_cluster["cluster"].tolist() == [0, 1]
    assert by_cluster["agreement"].tolist() == [0.5, 1.0]
    assert by_cluster["judged"].tolist() == [2, 2]
    by_rev = store.agreement(by="reviewer").set_index("reviewer")
    assert by_rev.loc["ana", "agreement"] == pytest.approx(2 / 3)
    assert np.isnan(by_rev.loc["bo", "agreement"])  # nothing decided
    with pytest.raises(ParameterError, match="by must be"):
        agreement_table(store.latest(), by="track")


def test_csv_export_has_every_row_and_defuses_formulas(review_target):
    store = ReviewStore(review_target)
    _judge(store, comment="=HYPERLINK(1)")
    _judge(store, section=3, label="rolling bass, breakdown")
    text = store.to_csv()
    frame = pd.read_csv(__import__("io").StringIO(text))
    assert len(frame) == 2 and "config_digest" in frame.columns and "reviewer" in frame.columns
    assert frame["comment"].iloc[0] == "'=HYPERLINK(1)"
    assert frame["label"].iloc[1] == "rolling bass, breakdown"


def test_labels_for_knn(review_target):
    store = ReviewStore(review_target)
    _judge(store, section=0, assigned_cluster=2, verdict="right")  # agrees with the clustering: no label of its own
    _judge(store, section=1, assigned_cluster=2, verdict="wrong", corrected_cluster=0)
    _judge(store, section=2, assigned_cluster=2, verdict="wrong", label="vocal")
    _judge(store, section=3, assigned_cluster=2, verdict="unsure")
    _judge(store, section=4, assigned_cluster=2, verdict="wrong")  # wrong, but no better answer given
    _judge(store, section=5, assigned_cluster=2, verdict="right", label="breakdown")  # a label typed is a label given
    _judge(store, section=1, assigned_cluster=2, verdict="wrong", corrected_cluster=1, config_digest="other")  # another clustering
    meta = pd.DataFrame({"track_id": ["t1"] * 7, "section": [0, 1, 2, 3, 4, 5, 6]})
    labels = store.labels_for(meta, config_digest=DIGEST)
    assert labels.tolist() == [None, "cluster 0", "vocal", None, None, "breakdown", None]


def test_a_right_verdict_is_not_a_label(review_target):
    """A KNN taught the assigned clusters back would only relearn the clustering."""
    store = ReviewStore(review_target)
    assert _judge(store, verdict="right").resolved_label is None
    meta = pd.DataFrame({"track_id": ["t1", "t2"], "section": [0, 0]})
    _judge(store, track_id="t2", verdict="right", assigned_cluster=3)
    assert store.labels_for(meta, config_digest=DIGEST).tolist() == [None, None]


def test_a_reviewer_supersedes_only_their_own_label(review_target):
    store = ReviewStore(review_target)
    meta = pd.DataFrame({"track_id": ["t1", "t1"], "section": [0, 1]})
    _judge(store, section=0, verdict="wrong", label="intro")
    _judge(store, section=0, verdict="right", reviewer="bo")  # bo agrees with the cluster; ana's label stands
    _judge(store, section=1, verdict="wrong", label="outro")
    _judge(store, section=1, verdict="right")  # ana changed her mind: her label is withdrawn
    assert store.labels_for(meta, config_digest=DIGEST).tolist() == ["intro", None]
    _judge(store, section=0, verdict="wrong", label="build-up", reviewer="bo")  # the newest label given wins
    assert store.labels_for(meta, config_digest=DIGEST).tolist() == ["build-up", None]


def test_reading_filters_on_the_analysis_as_well_as_the_clustering(review_target):
    store = ReviewStore(review_target)
    _judge(store, section=0, verdict="wrong", label="intro", section_digest="s1")
    _judge(store, section=0, verdict="wrong", label="drop", section_digest="s2")  # same clustering, other sections
    _judge(store, section=1, verdict="right", section_digest="s2")
    _judge(store, section=1, verdict="wrong", label="x", section_digest="s1", config_digest="other")
    assert len(store.judgements(config_digest=DIGEST, section_digest="s1")) == 1
    assert len(store.latest(config_digest=DIGEST, section_digest="s2")) == 2
    assert len(store.latest(config_digest=DIGEST)) == 3  # both analyses when none is named
    by = store.agreement(by="cluster", config_digest=DIGEST, section_digest="s1")
    assert by["judged"].tolist() == [1]
    meta = pd.DataFrame({"track_id": ["t1", "t1"], "section": [0, 1]})
    assert store.labels_for(meta, config_digest=DIGEST, section_digest="s1").tolist() == ["intro", None]
    assert store.labels_for(meta, config_digest=DIGEST, section_digest="s2").tolist() == ["drop", None]
    assert store.to_csv(config_digest=DIGEST, section_digest="s2").count("\n") == 3  # header + 2 rows


def _twin_table(rng, n_songs=12, per_track=4):
    """Two versions of each song that sound alike; songs differ at random."""
    rows, names, parts = [], [], []
    for s in range(n_songs):
        fingerprint = rng.normal(size=3) * 3.0
        for v in range(2):
            for p in range(per_track):
                rows.append(fingerprint + rng.normal(scale=0.05, size=3))
                names.append(f"song{s:02d}_v{v}.wav")
                parts.append(p)
    frame = pd.DataFrame(np.asarray(rows), columns=["a", "b", "c"])
    frame.insert(0, "part", parts)
    frame.insert(0, "filename", names)
    return table_from_frame(frame)


def test_knn_on_reviewers_labels_holds_versions_out_together(review_target):
    store = ReviewStore(review_target)
    table = _twin_table(np.random.default_rng(3))
    meta = table.meta
    song = meta["name"].str.slice(0, 6)
    label_of = {f"song{s:02d}": ("intro", "drop", "breakdown")[s % 3] for s in range(12)}
    for row in meta.itertuples(index=False):
        _judge(store, track_id=row.track_id, name=row.name, section=int(row.section), verdict="wrong",
               label=label_of[row.name[:6]])
    config = ClusterConfig(features=("a", "b", "c"), dedupe=False)
    leaky = knn_evaluate_reviews(table, store, config_digest=DIGEST, config=config)
    assert leaky.n_groups == 24 and leaky.accuracy > 0.95  # each song's twin version was in training
    versions = dict(zip(meta["track_id"], song))
    honest = knn_evaluate_reviews(table, store, config_digest=DIGEST, versions=versions, config=config)
    assert honest.n_groups == 12 and honest.n_sections == len(meta)
    assert honest.accuracy < 0.7


def test_knn_on_reviewers_labels_with_too_few_labels_says_why(review_target):
    store = ReviewStore(review_target)
    table = _twin_table(np.random.default_rng(4), n_songs=3)
    config = ClusterConfig(features=("a", "b", "c"), dedupe=False)
    meta = table.meta
    with pytest.raises(ParameterError, match="no section has a label a reviewer gave"):
        knn_evaluate_reviews(table, store, config_digest=DIGEST, config=config)
    for row in meta.itertuples(index=False):  # every section judged right: still no label of the reviewers' own
        _judge(store, track_id=row.track_id, section=int(row.section), verdict="right")
    with pytest.raises(ParameterError, match="no section has a label a reviewer gave"):
        knn_evaluate_reviews(table, store, config_digest=DIGEST, config=config)
    first = meta.iloc[0]
    _judge(store, track_id=first.track_id, section=int(first.section), verdict="wrong", label="intro")
    with pytest.raises(ParameterError, match="only one label"):
        knn_evaluate_reviews(table, store, config_digest=DIGEST, config=config)
    _judge(store, track_id=first.track_id, section=int(meta.iloc[1].section), verdict="wrong", label="drop")
    with pytest.raises(ParameterError, match="only 1 song"):
        knn_evaluate_reviews(table, store, config_digest=DIGEST, config=config)


def test_a_file_of_another_schema_is_refused(tmp_path):
    path = tmp_path / "r.sqlite"
    with sqlite3.connect(path) as con:
        con.execute("PRAGMA user_version = 99")
    with pytest.raises(StoreError, match="schema 99"):
        ReviewStore(path)


def test_resolved_label_of_a_returned_judgement(review_target):
    store = ReviewStore(review_target)
    assert _judge(store).resolved_label is None  # "right" agrees with the clustering; it names no label
    assert _judge(store, label="intro").resolved_label == "intro"
    assert _judge(store, verdict="wrong", corrected_cluster=4).resolved_label == "cluster 4"
    assert _judge(store, verdict="wrong", label="intro").resolved_label == "intro"
    assert _judge(store, verdict="unsure").resolved_label is None


# --------------------------------------------------------------------------- owners, concurrency, schema, errors


def test_owners_see_and_delete_only_their_own_judgements(review_target):
    local, ana_s, bo_s = (ReviewStore(review_target, owner=owner) for owner in ("", "owner-a", "owner-b"))
    _judge(local, section=0, verdict="wrong", label="intro")
    _judge(ana_s, section=1, verdict="wrong", label="drop")
    _judge(ana_s, section=2, verdict="right")
    last_b = _judge(bo_s, section=3, verdict="wrong", corrected_cluster=4, reviewer="bo")
    assert local.judgements()["section"].tolist() == [0]
    assert ana_s.judgements()["section"].tolist() == [1, 2]
    assert bo_s.judgements()["section"].tolist() == [3]
    assert (local.count(), ana_s.count(), bo_s.count()) == (1, 2, 1)
    meta = pd.DataFrame({"track_id": ["t1"] * 4, "section": [0, 1, 2, 3]})
    assert local.labels_for(meta, config_digest=DIGEST).tolist() == ["intro", None, None, None]
    assert ana_s.labels_for(meta, config_digest=DIGEST).tolist() == [None, "drop", None, None]
    assert bo_s.labels_for(meta, config_digest=DIGEST).tolist() == [None, None, None, "cluster 4"]
    assert ana_s.agreement(by="reviewer")["judged"].tolist() == [2] and len(bo_s.latest()) == 1
    assert ana_s.to_csv().count("\n") == 3  # header + ana's 2 rows
    # the owner is never a column of what a reader gets: the CSV and the Judgement record keep their fields
    assert "owner" not in ana_s.judgements().columns and "owner" not in ana_s.to_csv().splitlines()[0].split(",")

    assert bo_s.delete_owner() == 1
    assert (local.count(), ana_s.count(), bo_s.count()) == (1, 2, 0)
    assert ReviewStore(review_target, owner="owner-a").count() == 2  # another store object of the same owner
    assert bo_s.delete_owner() == 0
    again = _judge(bo_s, section=3)
    assert again.id > last_b.id  # an id is never reused after a delete
    assert local.delete_owner() == 1 and local.count() == 0 and ana_s.count() == 2 and bo_s.count() == 1


def test_threads_writing_at_once_lose_nothing(review_target):
    store = ReviewStore(review_target)  # one store shared by threads, as by Streamlit's sessions

    def write(who: str) -> list[int]:
        return [_judge(store, reviewer=who, section=i, verdict="unsure").id for i in range(40)]

    who = [f"r{k}" for k in range(6)]
    with ThreadPoolExecutor(len(who)) as pool:
        futures = [pool.submit(write, w) for w in who]
        ids = [i for f in futures for i in f.result(timeout=CEILING_S)]
    rows = ReviewStore(review_target).judgements()
    assert len(rows) == len(ids) == 240 and sorted(rows["id"]) == sorted(ids)
    assert rows.groupby("reviewer").size().to_dict() == {w: 40 for w in who}


def _open_and_add(target: str, who: str, start) -> None:
    start.wait(CEILING_S)
    _judge(ReviewStore(target), reviewer=who)


def test_processes_opening_a_new_database_at_once_all_set_it_up(review_target):
    ctx = mp.get_context("spawn")
    start = ctx.Event()
    procs = [ctx.Process(target=_open_and_add, args=(review_target, f"r{k}", start)) for k in range(4)]
    for p in procs:
        p.start()
    start.set()
    for p in procs:
        p.join(timeout=CEILING_S)
        assert p.exitcode == 0
    store = ReviewStore(review_target)
    assert sorted(store.judgements()["reviewer"]) == ["r0", "r1", "r2", "r3"]
    with _raw(review_target) as con:
        assert con.execute(sa.text("SELECT key, value FROM cratemap_meta")).all() == [("review_schema_version", "2")]


def test_the_database_refuses_a_verdict_it_does_not_know(review_target):
    ReviewStore(review_target)
    row = "'2020-01-01T00:00:00+00:00', 'ana', 't1', 'n', 0, 0.0, 1.0, 1, 'maybe', 'd'"
    with pytest.raises(sa.exc.IntegrityError), _raw(review_target) as con:
        con.execute(sa.text(
            "INSERT INTO judgements (created_utc, reviewer, track_id, name, section, start_s, end_s, assigned_cluster,"
            f" verdict, config_digest) VALUES ({row})"
        ))
    assert ReviewStore(review_target).count() == 0


def test_a_database_of_a_newer_schema_is_refused(review_target):
    ReviewStore(review_target)
    with _raw(review_target) as con:
        con.execute(sa.text("UPDATE cratemap_meta SET value = '99'"))
    with pytest.raises(StoreError, match="schema 99; this CrateMap reads schema 2"):
        ReviewStore(review_target)


def test_a_path_and_its_sqlite_url_are_one_database(tmp_path):
    path = tmp_path / "deep" / "reviews.sqlite"
    by_path = ReviewStore(path)
    by_url = ReviewStore(f"sqlite:///{path}")
    _judge(by_path)
    assert by_url.count() == 1 and by_url.path == by_path.path == path
    assert by_path.url == f"sqlite:///{path}"
    with pytest.raises(ParameterError, match="neither SQLite nor PostgreSQL"):
        ReviewStore("mysql://someone:pw@localhost/db")
    with pytest.raises(ParameterError, match="in-memory"):
        ReviewStore("sqlite://")


def test_postgres_urls_use_psycopg_and_the_store_shows_no_password(postgres_db_url):
    plain = postgres_db_url.replace("postgresql+psycopg://", "postgres://")
    store = ReviewStore(plain)
    assert store.url == postgres_db_url and store.path is None
    _judge(store)
    assert ReviewStore(postgres_db_url.replace("postgresql+psycopg://", "postgresql://")).count() == 1
    with_password = postgres_db_url.replace("cratemap@", "cratemap:s3cret-pw@")
    shown = ReviewStore(with_password)  # trust authentication lets any password in
    assert "s3cret-pw" not in shown.url and "s3cret-pw" not in repr(shown) and "***" in shown.url


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]  # nothing listens there once the socket is closed


def test_a_database_that_cannot_be_reached_is_a_sentence_without_the_password(tmp_path):
    url = f"postgresql://kim:s3cret-pw@127.0.0.1:{_closed_port()}/reviews"
    with pytest.raises(StoreError, match="cannot open the review database postgresql") as caught:
        ReviewStore(url)
    shown = "".join(traceback.format_exception(caught.value))
    assert "s3cret-pw" not in shown and "***" in str(caught.value)
    assert "\n" not in str(caught.value) and "Traceback" not in str(caught.value)
    (tmp_path / "a-folder.sqlite").mkdir()
    with pytest.raises(StoreError, match="a-folder.sqlite"):  # a folder where the SQLite file should be
        ReviewStore(tmp_path / "a-folder.sqlite")


_V1_SCHEMA = """
CREATE TABLE judgements (
    id INTEGER PRIMARY KEY AUTOINCREMENT, created_utc TEXT NOT NULL, reviewer TEXT NOT NULL,
    track_id TEXT NOT NULL, name TEXT NOT NULL, section INTEGER NOT NULL, start_s REAL NOT NULL,
    end_s REAL NOT NULL, assigned_cluster INTEGER NOT NULL,
    verdict TEXT NOT NULL CHECK (verdict IN ('right', 'wrong', 'unsure')), corrected_cluster INTEGER,
    label TEXT NOT NULL DEFAULT '', comment TEXT NOT NULL DEFAULT '', config_digest TEXT NOT NULL,
    section_digest TEXT NOT NULL DEFAULT ''
);
CREATE INDEX judgements_by_config ON judgements (config_digest, track_id, section);
CREATE INDEX judgements_by_reviewer ON judgements (reviewer);
"""


def test_a_schema_1_file_is_migrated_and_its_rows_stay_the_local_owners(tmp_path):
    path = tmp_path / "reviews.sqlite"
    with contextlib.closing(sqlite3.connect(path)) as con:
        con.executescript(_V1_SCHEMA)
        con.execute(
            "INSERT INTO judgements (created_utc, reviewer, track_id, name, section, start_s, end_s, assigned_cluster,"
            " verdict, corrected_cluster, label, config_digest, section_digest) VALUES"
            " ('2024-05-01T10:00:00.000000+00:00', 'ana', 't1', 'crate/a.wav', 3, 45.0, 60.0, 1, 'wrong', 2, '', ?, 's1')",
            (DIGEST,),
        )
        con.execute("PRAGMA user_version = 1")
        con.commit()
    store = ReviewStore(path)
    rows = store.judgements()
    assert rows[["id", "reviewer", "section", "verdict"]].values.tolist() == [[1, "ana", 3, "wrong"]]
    assert rows["corrected_cluster"].tolist() == [2]
    assert ReviewStore(path, owner="someone").count() == 0  # the old rows are the local owner's
    assert _judge(store).id == 2 and ReviewStore(path).count() == 2  # opens again, and takes writes
    with contextlib.closing(sqlite3.connect(path)) as con:
        assert con.execute("PRAGMA user_version").fetchone()[0] == 2
        assert con.execute("SELECT owner FROM judgements ORDER BY id").fetchall() == [("",), ("",)]
        assert con.execute("SELECT value FROM cratemap_meta WHERE key = 'review_schema_version'").fetchone() == ("2",)
        indexes = {r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type = 'index'")}
        assert {"judgements_by_owner", "judgements_by_config", "judgements_by_reviewer"} <= indexes
        assert con.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
