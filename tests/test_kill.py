"""SIGKILL mid-analysis: the store stays readable, every finished track is intact, the next run resumes.

``python -m engine analyze`` is started on a folder of generated tracks and
killed (with its whole process group, so worker processes die too, as when
an app server is killed) as soon as the first track is complete in the store.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from conftest import CEILING_S, ROOT
from engine.config import AnalysisConfig
from engine.run.pipeline import open_library
from engine.store.core import Store

N_TRACKS = 6
TRACK_S = 20.0
SR = 22_050


def write_crate(d: Path) -> Path:
    """Write :data:`N_TRACKS` distinct generated tracks of :data:`TRACK_S` seconds into ``d``."""
    d.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(11)
    t = np.arange(int(TRACK_S * SR)) / SR
    for i in range(N_TRACKS):
        y = 0.2 * np.sin(2 * np.pi * (110 + 37 * i) * t) * (1 + 0.5 * np.sin(2 * np.pi * 0.1 * (i + 1) * t)) + 0.03 * rng.standard_normal(t.size)
        sf.write(d / f"track{i}.wav", y.astype(np.float32), SR, subtype="PCM_16")
    return d


@pytest.fixture(scope="module")
def crate(tmp_path_factory) -> Path:
    return write_crate(tmp_path_factory.mktemp("crate"))


def _cli(*args) -> list[str]:
    return [sys.executable, "-m", "engine", "analyze", *map(str, args), "--quiet"]


def _env() -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": str(ROOT)}


def _complete_tracks(store_dir: Path, digest: str) -> set[str]:
    """Tracks with both a frames file and a track record (the record is written last)."""
    frames = store_dir / "frames" / digest
    tracks = store_dir / "tracks"
    if not frames.exists() or not tracks.exists():
        return set()
    have = {p.stem for p in frames.glob("*.parquet") if not p.name.startswith(".")}
    return {t for t in have if (tracks / f"{t}.json").exists()}


def kill_after_first_track(crate: Path, store_dir: Path, *, jobs: int, timeout: float = CEILING_S) -> set[str]:
    """Run the CLI, SIGKILL its process group once one track is complete; return the complete tracks then."""
    digest = AnalysisConfig().frames.digest()
    proc = subprocess.Popen(
        _cli(crate, "--out", store_dir, "--jobs", jobs),
        cwd=ROOT,
        env=_env(),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        start_new_session=True,
    )
    deadline = time.monotonic() + timeout
    try:
        while not _complete_tracks(store_dir, digest):
            assert proc.poll() is None, f"the CLI ended before any track was stored: {proc.stderr.read().decode()[-2000:]}"
            assert time.monotonic() < deadline, "no track was stored in time"
            time.sleep(0.01)
    finally:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=CEILING_S)
        proc.stderr.close()
    assert proc.returncode == -signal.SIGKILL
    return _complete_tracks(store_dir, digest)


@pytest.mark.parametrize("jobs", [1, 2])
def test_sigkill_mid_analysis_keeps_finished_tracks_and_the_rerun_resumes(crate, tmp_path, jobs):
    store_dir = tmp_path / "store"
    finished = kill_after_first_track(crate, store_dir, jobs=jobs)
    assert 1 <= len(finished) < N_TRACKS, "the kill must land mid-batch"

    # `info` and a plain read-only open accept the store as it was left (its marker is written at creation)
    info = subprocess.run(
        [sys.executable, "-m", "engine", "info", str(store_dir), "--json"], cwd=ROOT, env=_env(), capture_output=True, text=True, timeout=CEILING_S
    )
    assert info.returncode == 0, info.stderr[-2000:]
    assert json.loads(info.stdout)["tracks"] >= len(finished)
    assert open_library(Store(store_dir, create=False)).tracks

    # the store reads: every finished track's record and frames are intact, half-written files are not data
    config = AnalysisConfig()
    store = Store(store_dir)
    assert {t.track_id for t in store.tracks()} >= finished
    frame_ids = store.frame_track_ids(config.frames.digest())
    assert all(re.fullmatch(r"[0-9a-f]{64}", t) for t in frame_ids)
    for tid in finished:
        frames = store.get_frames(tid, config.frames.digest())
        assert frames.values.shape[0] > 0 and np.isfinite(frames.values).all()
        assert store.track(tid).duration_s == pytest.approx(TRACK_S, abs=0.01)
    sections = store.load_sections(config)
    assert set(sections.meta["track_id"]) >= finished

    # the next run resumes: finished tracks come from the store, the rest are analysed
    rerun = subprocess.run(_cli(crate, "--out", store_dir), cwd=ROOT, env=_env(), capture_output=True, text=True, timeout=CEILING_S)
    assert rerun.returncode == 0, rerun.stderr[-2000:]
    m = re.search(r"tracks\s+(\d+) \((\d+) already in the store\)", rerun.stdout)
    assert m, rerun.stdout
    assert int(m.group(1)) == N_TRACKS
    assert int(m.group(2)) == len(finished)
    assert len(_complete_tracks(store_dir, config.frames.digest())) == N_TRACKS
    assert len(Store(store_dir).load_sections(config).meta["track_id"].unique()) == N_TRACKS


# --------------------------------------------------------------------------- review judgements

_REVIEW_WRITER = """
import sys
sys.path.insert(0, sys.argv[2])
from engine.store.reviews import ReviewStore
s = ReviewStore(sys.argv[1])
i = 0
while True:
    s.add(reviewer='kim', track_id=f't{i % 5}', name='crate/a.wav', section=i, start_s=0.0, end_s=15.0,
          assigned_cluster=i % 3, verdict='right', comment='x' * 500, config_digest='d')
    print(i, flush=True)  # printed only after the row's transaction committed
    i += 1
"""


def _wait_until_no_transaction_is_open(url: str) -> None:
    """Until the killed writer's server process has ended its transaction (committed, or rolled back when
    its client vanished), so that what is counted next no longer changes."""
    import sqlalchemy as sa

    engine = sa.create_engine(url, poolclass=sa.NullPool)
    busy = sa.text(
        "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()"
        " AND state IN ('active', 'idle in transaction', 'idle in transaction (aborted)')"
    )
    deadline = time.monotonic() + CEILING_S
    try:
        while True:
            with engine.connect() as con:
                if con.execute(busy).scalar_one() == 0:
                    return
            assert time.monotonic() < deadline, "the killed writer's transaction stayed open"
            time.sleep(0.01)
    finally:
        engine.dispose()


def test_sigkill_of_a_review_writer_loses_at_most_the_judgement_being_written(review_target):
    """On SQLite (the file passes an integrity check) and on PostgreSQL alike: every committed row
    is there, at most the one in flight besides, ids and sections without a gap, and the database
    still takes writes."""
    import sqlite3

    from engine.store.reviews import ReviewStore

    ReviewStore(review_target)
    proc = subprocess.Popen([sys.executable, "-c", _REVIEW_WRITER, review_target, str(ROOT)], stdout=subprocess.PIPE, text=True)
    committed = -1
    try:
        for line in proc.stdout:
            committed = int(line)
            if committed >= 150:
                break
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=CEILING_S)
    rest = proc.stdout.read().split()
    proc.stdout.close()
    committed = int(rest[-1]) if rest else committed  # lines already printed before the kill landed
    assert proc.returncode == -signal.SIGKILL and committed >= 150
    if "://" not in review_target:
        con = sqlite3.connect(review_target)
        try:
            assert con.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        finally:
            con.close()
    else:
        _wait_until_no_transaction_is_open(review_target)
    rows = ReviewStore(review_target).judgements()
    assert committed + 1 <= len(rows) <= committed + 2  # every committed row, and at most the one in flight
    assert sorted(rows["section"]) == list(range(len(rows)))
    ids = sorted(rows["id"])
    assert ids == list(range(ids[0], ids[0] + len(rows)))
    # the database still takes writes after the crash
    ReviewStore(review_target).add(reviewer="lee", track_id="t0", name="n", section=0, start_s=0, end_s=1, assigned_cluster=0, verdict="wrong", config_digest="d")
    assert ReviewStore(review_target).count() == len(rows) + 1


def test_a_review_export_round_trips(tmp_path):
    import io

    import pandas as pd

    from engine.store.reviews import ReviewStore

    store = ReviewStore(tmp_path / "r.sqlite")
    comments = ["plain", 'quotes " and, commas', "two\nlines", "Bj\u00f6rk \u65e5\u672c \U0001f3a7", ""]
    for i, comment in enumerate(comments):
        store.add(reviewer=f"r{i % 2}", track_id=f"t{i}", name=f"crate/{i}.wav", section=i, start_s=15.0 * i, end_s=15.0 * (i + 1),
                  assigned_cluster=i, verdict=("right", "wrong", "unsure")[i % 3], corrected_cluster=(7 if i == 1 else None),
                  label=("a label, with comma" if i == 3 else ""), comment=comment, config_digest="d", section_digest="s")
    back = pd.read_csv(io.StringIO(store.to_csv()), keep_default_na=False)
    ours = store.judgements()
    assert list(back.columns) == list(ours.columns)
    assert len(back) == len(ours) == len(comments)
    for col in ("id", "section", "assigned_cluster"):
        assert back[col].tolist() == ours[col].tolist()
    for col in ("created_utc", "reviewer", "track_id", "name", "verdict", "label", "comment", "config_digest", "section_digest"):
        assert back[col].astype(str).tolist() == ours[col].fillna("").astype(str).tolist(), col
    assert back["start_s"].tolist() == ours["start_s"].tolist()
    assert back["corrected_cluster"].astype(str).tolist() == ["", "7", "", "", ""]


def test_leftovers_of_a_killed_write_are_never_read_as_data(tmp_path):
    """What a SIGKILL can leave behind, made by hand: a half-written ``.tmp-`` file, and frames whose
    track record was never written (frames are written first). Neither is a track."""
    import shutil

    from engine.run.inputs import collect_inputs
    from engine.run.pipeline import analyze

    crate = write_crate(tmp_path / "crate")
    for extra in sorted(crate.iterdir())[2:]:
        extra.unlink()
    store = Store(tmp_path / "store")
    config = AnalysisConfig()
    analyze(collect_inputs([crate])[0], store=store, config=config)
    digest = config.frames.digest()
    first, second = store.frame_track_ids(digest)
    folder = store.root / "frames" / digest
    (folder / ".tmp-k1ll3d.parquet").write_bytes(b"PAR1 half a file")
    (store.root / "tracks" / f"{second}.json").unlink()
    shutil.rmtree(store.root / "sections")
    assert store.frame_track_ids(digest) == sorted([first, second])
    assert store.info()["frames"] == {digest: 2}
    assert set(store.load_sections(config).meta["track_id"]) == {first}
    result = analyze(collect_inputs([crate])[0], store=store, config=config)
    assert result.from_store == (first,) and len(result.tracks) == 2
