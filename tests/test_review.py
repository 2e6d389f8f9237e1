"""Expert judgements in SQLite: one row each, WAL, concurrent writers, restarts, labels."""

from __future__ import annotations

import multiprocessing as mp
import sqlite3
import subprocess
import sys
from datetime import datetime

import numpy as np
import pandas as pd
import pytest

from conftest import CEILING_S, ROOT
from engine.config import ClusterConfig
from engine.errors import ParameterError, StoreError
from engine.analysis.compare import knn_evaluate_reviews
from engine.store.reviews import ReviewStore, agreement_table
from engine.store.tables import table_from_frame

DIGEST = "c0ffee0123456789"


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


def test_one_row_per_judgement_with_reviewer_time_and_digest(tmp_path):
    store = ReviewStore(tmp_path / "reviews.sqlite")
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


def test_bad_judgements_are_refused_with_a_reason(tmp_path):
    store = ReviewStore(tmp_path / "r.sqlite")
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


def test_text_is_cleaned_and_trimmed(tmp_path):
    store = ReviewStore(tmp_path / "r.sqlite")
    j = _judge(store, reviewer="  bo\x00b  ", label="x" * 500, comment="ok\x07 fine")
    assert j.reviewer == "bob" and len(j.label) == 80 and j.comment == "ok fine"


def test_judgements_survive_a_restart_in_another_process(tmp_path):
    path = tmp_path / "reviews.sqlite"
    code = (
        "import sys; sys.path.insert(0, sys.argv[2])\n"
        "from engine.store.reviews import ReviewStore\n"
        "s = ReviewStore(sys.argv[1])\n"
        "s.add(reviewer='cy', track_id='t9', name='n', section=4, start_s=60, end_s=75, assigned_cluster=0,"
        " verdict='wrong', corrected_cluster=3, label='', comment='', config_digest='d')\n"
    )
    subprocess.run([sys.executable, "-c", code, str(path), str(ROOT)], check=True)
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


def test_two_processes_writing_at_once_lose_nothing(tmp_path):
    path = str(tmp_path / "reviews.sqlite")
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


def test_agreement_per_cluster_and_reviewer(tmp_path):
    store = ReviewStore(tmp_path / "r.sqlite")
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


def test_csv_export_has_every_row_and_defuses_formulas(tmp_path):
    store = ReviewStore(tmp_path / "r.sqlite")
    _judge(store, comment="=HYPERLINK(1)")
    _judge(store, section=3, label="rolling bass, breakdown")
    text = store.to_csv()
    frame = pd.read_csv(__import__("io").StringIO(text))
    assert len(frame) == 2 and "config_digest" in frame.columns and "reviewer" in frame.columns
    assert frame["comment"].iloc[0] == "'=HYPERLINK(1)"
    assert frame["label"].iloc[1] == "rolling bass, breakdown"


def test_labels_for_knn(tmp_path):
    store = ReviewStore(tmp_path / "r.sqlite")
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


def test_a_right_verdict_is_not_a_label(tmp_path):
    """A KNN taught the assigned clusters back would only relearn the clustering."""
    store = ReviewStore(tmp_path / "r.sqlite")
    assert _judge(store, verdict="right").resolved_label is None
    meta = pd.DataFrame({"track_id": ["t1", "t2"], "section": [0, 0]})
    _judge(store, track_id="t2", verdict="right", assigned_cluster=3)
    assert store.labels_for(meta, config_digest=DIGEST).tolist() == [None, None]


def test_a_reviewer_supersedes_only_their_own_label(tmp_path):
    store = ReviewStore(tmp_path / "r.sqlite")
    meta = pd.DataFrame({"track_id": ["t1", "t1"], "section": [0, 1]})
    _judge(store, section=0, verdict="wrong", label="intro")
    _judge(store, section=0, verdict="right", reviewer="bo")  # bo agrees with the cluster; ana's label stands
    _judge(store, section=1, verdict="wrong", label="outro")
    _judge(store, section=1, verdict="right")  # ana changed her mind: her label is withdrawn
    assert store.labels_for(meta, config_digest=DIGEST).tolist() == ["intro", None]
    _judge(store, section=0, verdict="wrong", label="build-up", reviewer="bo")  # the newest label given wins
    assert store.labels_for(meta, config_digest=DIGEST).tolist() == ["build-up", None]


def test_reading_filters_on_the_analysis_as_well_as_the_clustering(tmp_path):
    store = ReviewStore(tmp_path / "r.sqlite")
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


def test_knn_on_reviewers_labels_holds_versions_out_together(tmp_path):
    store = ReviewStore(tmp_path / "r.sqlite")
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


def test_knn_on_reviewers_labels_with_too_few_labels_says_why(tmp_path):
    store = ReviewStore(tmp_path / "r.sqlite")
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


def test_resolved_label_of_a_returned_judgement(tmp_path):
    store = ReviewStore(tmp_path / "r.sqlite")
    assert _judge(store).resolved_label is None  # "right" agrees with the clustering; it names no label
    assert _judge(store, label="intro").resolved_label == "intro"
    assert _judge(store, verdict="wrong", corrected_cluster=4).resolved_label == "cluster 4"
    assert _judge(store, verdict="wrong", label="intro").resolved_label == "intro"
    assert _judge(store, verdict="unsure").resolved_label is None
