"""Distributed analysis on a Dask LocalCluster, and the store at fsspec URLs (a local S3 server included).

The cluster and the S3 server (moto, on loopback) are started once for the
module. The kill test SIGKILLs a worker process while it analyses a demo
track and checks that the store ends complete, with no duplicates, and equal
to an analysis on the plain local path.
"""

from __future__ import annotations

import os
import pickle
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import boto3
import numpy as np
import pytest

from conftest import CEILING_S, ROOT
from engine.config import AnalysisConfig
from engine.run.distributed import dask_client
from engine.errors import ParameterError, StoreError
from engine.records import InputFile
from engine.run.pipeline import analyze, open_library
from engine.store.core import Store

#: Demo tracks the cluster analyses (a mix of lengths and codecs).
TRACKS = ("tt1.ogg", "tt2.ogg", "tt3.ogg", "tt4.ogg", "track3.opus", "Kevin_MacLeod_-_Vibe_Ace.hq.ogg")
BUCKET = "crates"


@pytest.fixture(scope="module")
def client():
    with dask_client(workers=2) as c:
        yield c


@pytest.fixture(scope="module")
def s3():
    """A local S3 server (moto) on loopback, and the fsspec options that reach it."""
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    endpoint = f"http://{host}:{port}"
    creds = {"aws_access_key_id": "testing", "aws_secret_access_key": "testing", "region_name": "us-east-1"}
    boto3.client("s3", endpoint_url=endpoint, **creds).create_bucket(Bucket=BUCKET)
    options = {"key": "testing", "secret": "testing", "client_kwargs": {"endpoint_url": endpoint, "region_name": "us-east-1"}}
    yield options
    server.stop()


@pytest.fixture(scope="module")
def inputs(demo_dir, tmp_path_factory) -> list[InputFile]:
    """The demo tracks, a copy of one under another name, and a broken file."""
    d = tmp_path_factory.mktemp("crate")
    items = [InputFile(str(demo_dir / n), n) for n in TRACKS]
    copy = d / "copy of tt2.ogg"
    shutil.copyfile(demo_dir / "tt2.ogg", copy)
    broken = d / "broken.wav"
    broken.write_bytes(b"RIFF\x00\x00\x00\x00WAVEnot really audio at all" * 10)
    return items + [InputFile(str(copy), copy.name), InputFile(str(broken), broken.name)]


@pytest.fixture(scope="module")
def reference(inputs, tmp_path_factory):
    """The same files analysed on the plain local path (no Dask)."""
    store = Store(tmp_path_factory.mktemp("reference"))
    return analyze(inputs, store=store, config=AnalysisConfig(), jobs=1)


def _worker_pids(client) -> dict[str, int]:
    return client.run(os.getpid)


def test_kill_a_worker_mid_run_store_complete_without_duplicates(client, s3, inputs, reference):
    url = f"s3://{BUCKET}/killed"
    store = Store(url, storage_options=s3)
    config = AnalysisConfig()
    out: dict = {}
    seen: list = []
    first_analysed = threading.Event()  # set by the progress callback, in the analysis thread

    def on_progress(p) -> None:
        seen.append(p)
        if p.status == "analysed":
            first_analysed.set()

    def run() -> None:
        try:
            out["result"] = analyze(inputs, store=store, config=config, client=client, progress=on_progress)
        except BaseException as exc:  # pragma: no cover - shown by the assertion below
            out["error"] = exc
        finally:
            first_analysed.set()  # never leave the test waiting on a run that ended

    before = _worker_pids(client)
    thread = threading.Thread(target=run)
    thread.start()
    # Every task is submitted at once, so when the first track is in the store the other
    # five are queued or running on the two workers: wait for that event, then for the
    # scheduler to report a worker at work (a condition, with the one ceiling), and kill it.
    assert first_analysed.wait(timeout=CEILING_S), f"no track was analysed within {CEILING_S} s"
    killed = None
    deadline = time.monotonic() + CEILING_S
    while killed is None and thread.is_alive() and time.monotonic() < deadline:
        busy = [w for w, keys in client.processing().items() if keys]
        if busy:
            killed = before[busy[0]]
            os.kill(killed, signal.SIGKILL)
        else:
            time.sleep(0.05)
    thread.join(timeout=CEILING_S)
    assert killed is not None, "no worker was caught at work: the test killed nothing"
    assert not thread.is_alive(), f"the analysis did not end within {CEILING_S} s of the kill"
    assert "error" not in out, out.get("error")
    result = out["result"]

    # the nanny starts a new worker process in place of the killed one (waited for: on a busy
    # machine the run can end on the surviving worker before the new one has registered)
    client.wait_for_workers(2, timeout=CEILING_S)
    after = _worker_pids(client)
    assert killed not in after.values() and len(after) == 2

    # every readable track is there once, with the same duplicate and error as the local path
    assert sorted(t.track_id for t in result.tracks) == sorted(t.track_id for t in reference.tracks)
    assert result.duplicates == reference.duplicates == (("copy of tt2.ogg", "tt2.ogg"),)
    assert [(e.name, e.reason) for e in result.errors] == [(e.name, e.reason) for e in reference.errors]
    assert [e.name for e in result.errors] == ["broken.wav"]
    digest = config.frames.digest()
    listed = store.fs.ls(f"{BUCKET}/killed/frames/{digest}")
    assert len(listed) == len(TRACKS) == len(set(listed))  # one object per track, nothing half-written
    assert sorted(store.track_ids()) == sorted(store.frame_track_ids(digest))

    # and the numbers equal the plain local path's, bit for bit
    ref = reference.sections
    got = result.sections
    order_ref = np.lexsort((ref.meta["section"], ref.meta["track_id"]))
    order_got = np.lexsort((got.meta["section"], got.meta["track_id"]))
    assert got.names == ref.names
    np.testing.assert_array_equal(got.values[order_got], ref.values[order_ref])

    # a rerun answers every track from the store
    again = analyze(inputs, store=Store(url, storage_options=s3), config=config, client=client)
    assert len(again.from_store) == len(TRACKS)


def test_distributed_run_on_a_local_folder_reports_progress_per_file(client, inputs, tmp_path):
    store = Store(tmp_path / "store")
    seen = []
    result = analyze(inputs, store=store, client=client, progress=seen.append)
    assert len(seen) == len(inputs)
    assert sorted(p.status for p in seen) == sorted(["analysed"] * len(TRACKS) + ["duplicate", "error"])
    assert {p.name for p in seen} == {i.name for i in inputs}
    assert not list(Path(store.root).rglob(".tmp-*"))
    reopened = open_library(Store(tmp_path / "store"))
    assert len(reopened.sections) == len(result.sections)
    assert set(reopened.from_store) == {t.track_id for t in result.tracks}


def test_cli_scheduler_address_and_local_workers(client, demo_dir, tmp_path):
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    address = client.scheduler.address
    out = tmp_path / "via-scheduler"
    proc = subprocess.run(
        [sys.executable, "-m", "engine", "analyze", str(demo_dir / "tt1.ogg"), str(demo_dir / "tt3.ogg"), "--out", str(out), "--scheduler", address, "--quiet"],
        capture_output=True, text=True, env=env, timeout=CEILING_S,
    )
    assert proc.returncode == 0, proc.stderr
    assert f"at {address}" in proc.stdout and "tracks       2" in proc.stdout
    assert len(Store(out).track_ids()) == 2

    bad = subprocess.run(
        [sys.executable, "-m", "engine", "analyze", str(demo_dir / "tt1.ogg"), "--out", str(out), "--scheduler", address, "--dask-workers", "2"],
        capture_output=True, text=True, env=env, timeout=CEILING_S,
    )
    assert bad.returncode == 2 and "not allowed with argument" in bad.stderr


def test_cli_dask_workers_starts_a_local_cluster(demo_dir, tmp_path):
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    out = tmp_path / "local-cluster"
    proc = subprocess.run(
        [sys.executable, "-m", "engine", "analyze", str(demo_dir / "tt2.ogg"), "--out", str(out), "--dask-workers", "1", "--quiet"],
        capture_output=True, text=True, env=env, timeout=CEILING_S,
    )
    assert proc.returncode == 0, proc.stderr
    assert "dask         1 workers, 1 threads" in proc.stdout
    info = subprocess.run([sys.executable, "-m", "engine", "info", str(out), "--json"], capture_output=True, text=True, env=env, timeout=60)
    assert info.returncode == 0 and '"tracks": 1' in info.stdout


def test_dask_client_needs_exactly_one_way_to_reach_a_cluster():
    with pytest.raises(ParameterError, match="either a scheduler address or a number"):
        with dask_client():
            pass
    with pytest.raises(ParameterError, match="must be >= 1, got 0"):
        with dask_client(workers=0):
            pass


# --------------------------------------------------------------------------- the store at URLs


def test_memory_and_file_urls_hold_the_same_analysis_as_a_folder(demo_dir, tmp_path, reference):
    files = [InputFile(str(demo_dir / n), n) for n in ("tt1.ogg", "tt4.ogg")]
    folder = analyze(files, store=Store(tmp_path / "folder"))
    for url in (f"memory://cratemap-test-{os.getpid()}/store", (tmp_path / "via-url").as_uri()):
        store = Store(url)
        got = analyze(files, store=store)
        assert got.sections.names == folder.sections.names
        np.testing.assert_array_equal(got.sections.values, folder.sections.values)
        info = store.info()
        assert info["tracks"] == 2 and info["bytes"] > 100_000 and info["root"] == url.rstrip("/")
        assert len(analyze(files, store=Store(url)).from_store) == 2  # reopened by URL: everything cached
        # a store travels to worker processes as its URL and options
        clone = pickle.loads(pickle.dumps(store))
        assert clone.url == store.url and clone.track_ids() == store.track_ids()


def test_s3_store_round_trip_and_info(s3, demo_dir):
    url = f"s3://{BUCKET}/round-trip"
    files = [InputFile(str(demo_dir / "tt3.ogg"), "tt3.ogg")]
    watcher = Store(url, storage_options=s3)
    assert watcher.track_ids() == [] and watcher.info()["tracks"] == 0  # listed (and so cached by s3fs) while empty (but for its marker)
    result = analyze(files, store=Store(url, storage_options=s3))
    assert len(watcher.track_ids()) == 1  # another writer's files show up: listings are never stale
    store = Store(url, storage_options=s3)
    info = store.info()
    assert info["tracks"] == 1 and info["bytes"] > 100_000
    assert info["frames"] == {AnalysisConfig().frames.digest(): 1}
    assert store.is_local is False
    with pytest.raises(StoreError, match="is not a local folder"):
        store.root
    lib = open_library(store)
    np.testing.assert_array_equal(lib.sections.values, result.sections.values)


def test_open_library_of_an_empty_store_says_so(tmp_path):
    with pytest.raises(StoreError, match="holds no analysis yet"):
        open_library(Store(tmp_path / "empty"))


def test_unknown_url_protocol_is_a_store_error(tmp_path):
    with pytest.raises(StoreError, match="cannot open the store"):
        Store("nosuchprotocol://bucket/x")


def test_clean_partial_removes_only_old_temporary_files(tmp_path):
    store = Store(tmp_path / "store")
    folder = tmp_path / "store" / "frames" / "abc"
    folder.mkdir(parents=True)
    old, fresh, real = folder / ".tmp-old.parquet", folder / ".tmp-fresh.parquet", folder / "t.parquet"
    for p in (old, fresh, real):
        p.write_bytes(b"x")
    an_hour_ago = time.time() - 7200
    os.utime(old, (an_hour_ago, an_hour_ago))
    assert store.clean_partial() == 1
    assert not old.exists() and fresh.exists() and real.exists()
    assert store.frame_track_ids("abc") == ["t"]


def test_the_plain_local_path_needs_no_dask(demo_dir, tmp_path):
    """With Dask made unimportable, analyse and info still work; asking for a cluster says what to install."""
    code = (
        "import sys; sys.modules['dask'] = None; sys.modules['distributed'] = None\n"
        "from engine.cli.main import main\n"
        f"rc = main(['analyze', {str(demo_dir / 'tt1.ogg')!r}, '--out', {str(tmp_path / 's')!r}, '--quiet'])\n"
        "assert rc == 0, rc\n"
        f"rc = main(['analyze', {str(demo_dir / 'tt1.ogg')!r}, '--out', {str(tmp_path / 's')!r}, '--quiet', '--dask-workers', '2'])\n"
        "assert rc == 2, rc\n"
        "assert 'distributed' not in [m for m, v in sys.modules.items() if v is not None]\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env={**os.environ, "PYTHONPATH": str(ROOT)}, timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert "tracks       1" in proc.stdout
    assert "distributed analysis needs Dask: pip install 'distributed'" in proc.stderr


def test_store_options_must_be_a_json_object(demo_dir, tmp_path, capsys, monkeypatch):
    from engine.cli.main import main

    assert main(["info", "memory://x", "--store-options", "[1, 2]"]) == 2
    assert "--store-options must be a JSON object, got list" in capsys.readouterr().err
    monkeypatch.setenv("CRATEMAP_STORE_OPTIONS", "{not json")
    assert main(["info", "memory://x"]) == 2
    assert "$CRATEMAP_STORE_OPTIONS must be a JSON object" in capsys.readouterr().err
    monkeypatch.delenv("CRATEMAP_STORE_OPTIONS")
    assert main(["info", f"memory://nothing-{os.getpid()}"]) == 1
    assert "there is no CrateMap store at" in capsys.readouterr().err


def _trim_threshold():
    return os.environ.get("MALLOC_TRIM_THRESHOLD_")


def test_local_workers_keep_glibcs_own_trim_threshold(client):
    # Dask's default (65536) made the analysis 20-30% slower than the plain path
    assert set(client.run(_trim_threshold).values()) == {None}


def test_a_library_at_an_s3_url_is_listed_fetched_and_analysed(client, s3, demo_dir, tmp_path):
    import s3fs

    from engine.audio.decode import file_digest
    from engine.run.inputs import collect_inputs

    fs = s3fs.S3FileSystem(**s3)
    fs.put_file(str(demo_dir / "tt1.ogg"), f"{BUCKET}/music/a/tt1.ogg")
    fs.put_file(str(demo_dir / "tt4.ogg"), f"{BUCKET}/music/b/tt4.ogg")
    fs.pipe_file(f"{BUCKET}/music/b/broken.wav", b"RIFF\x00\x00\x00\x00WAVEnot audio" * 20)
    fs.pipe_file(f"{BUCKET}/music/cover.jpg", b"\xff\xd8\xff not audio")
    inputs, skipped = collect_inputs([f"s3://{BUCKET}/music/"], storage_options=s3)
    assert [i.name for i in inputs] == ["a/tt1.ogg", "b/broken.wav", "b/tt4.ogg"] and skipped == ["cover.jpg"]
    local = analyze([InputFile(str(demo_dir / n), n) for n in ("tt1.ogg", "tt4.ogg")], store=Store(tmp_path / "local"))
    for label, kwargs in (("dask", {"client": client}), ("inline", {})):
        result = analyze(inputs, store=Store(tmp_path / label), **kwargs)
        assert [(e.name, e.reason) for e in result.errors] == [("b/broken.wav", "not-audio")]
        by_name = {t.name: t for t in result.tracks}
        assert by_name["a/tt1.ogg"].track_id == file_digest(demo_dir / "tt1.ogg")  # hashed where it was fetched
        assert by_name["b/tt4.ogg"].path == f"s3://{BUCKET}/music/b/tt4.ogg"  # recorded under its URL
        np.testing.assert_array_equal(result.sections.values, local.sections.values)


def test_an_unreachable_input_url_is_a_clear_error():
    from engine.run.inputs import collect_inputs

    with pytest.raises(ParameterError, match="cannot list nosuchprotocol://x"):
        collect_inputs(["nosuchprotocol://x/"])


def test_a_file_that_kills_every_worker_is_reported_and_the_cluster_recovers(client):
    """The poison-file case: the task dies with each worker that runs it (here: os._exit), until Dask gives up."""
    from engine.run.distributed import run_tasks, task_failure

    results = list(run_tasks(client, os._exit, [(3,)]))
    assert len(results) == 1
    index, outcome, _ = results[0]
    assert index == 0 and type(outcome).__name__ == "KilledWorker"
    assert "every worker that tried this file died" in task_failure(outcome)
    client.wait_for_workers(2, timeout=CEILING_S)
    assert len(client.run(os.getpid)) == 2
