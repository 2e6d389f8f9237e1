"""The store as a shared, long-lived thing: errors that name what failed, read-only use, killed runs,
file modes, concurrent name updates and reopening without rewriting."""

from __future__ import annotations

import os
import shutil
import stat
import threading
import uuid

import pandas as pd
import pytest

from conftest import CEILING_S
from engine.config import AnalysisConfig, SegmentConfig
from engine.errors import StoreError
from engine.records import InputFile
from engine.run.pipeline import analyze, open_library
from engine.records import Track
from engine.store.core import Store


def _track(name: str = "a.ogg", tid: str = "ab" * 32) -> Track:
    return Track(track_id=tid, name=name, duration_s=60.0, native_sample_rate=44_100, channels=2, format="OGG/VORBIS", n_bytes=1234, path=f"/music/{name}")


@pytest.fixture(scope="module")
def two_tracks(tmp_path_factory, demo_dir):
    folder = tmp_path_factory.mktemp("lib")
    for name in ("tt1.ogg", "tt2.ogg"):
        shutil.copy(demo_dir / name, folder / name)
    return folder


def _analysed(tmp_path, folder) -> Store:
    store = Store(tmp_path / "store")
    analyze([InputFile(str(folder / n), n) for n in ("tt1.ogg", "tt2.ogg")], store=store, config=AnalysisConfig())
    return store


def test_a_local_write_that_fails_is_a_store_error_naming_the_file(tmp_path):
    store = Store(tmp_path / "s")
    (tmp_path / "s" / "descriptors").write_text("a file where a folder should be")
    with pytest.raises(StoreError, match=r"cannot write .*descriptors/k/t1\.parquet in the store .* \(.+\)"):
        store.put_descriptors("t1", "k", pd.DataFrame({"x": [1.0]}), meta={})


def test_a_new_store_is_marked_at_once(tmp_path):
    Store(tmp_path / "s")
    assert (tmp_path / "s" / "cratemap-store.json").is_file()
    assert Store(tmp_path / "s", create=False).info()["tracks"] == 0


@pytest.mark.parametrize("mask", [0o022, 0o027])
def test_store_files_honour_the_umask(tmp_path, mask):
    old = os.umask(mask)
    try:
        store = Store(tmp_path / "s")
        store.put_track(_track())
    finally:
        os.umask(old)
    for path in (tmp_path / "s" / "tracks" / f"{'ab' * 32}.json", *(tmp_path / "s").glob("*.json")):
        assert stat.S_IMODE(path.stat().st_mode) == 0o666 & ~mask, path


@pytest.mark.parametrize("where", ["local", "memory"])
def test_concurrent_name_updates_lose_no_name(tmp_path, monkeypatch, where):
    """Two writers add a name to one track at the same moment: both names survive.

    Each writer is held at its first write until the other reaches its own, so
    a read-modify-write of one record would lose a name every time.
    """
    root = str(tmp_path / "s") if where == "local" else f"memory://cratemap-test-{uuid.uuid4().hex}"
    store = Store(root)
    store.put_track(_track("a.ogg"))
    barrier = threading.Barrier(2, timeout=CEILING_S)
    first = threading.local()
    write = Store._write_with  # every write of the store goes through it

    def held_write(self, path, content):
        if not getattr(first, "done", False):
            first.done = True
            barrier.wait()
        return write(self, path, content)

    monkeypatch.setattr(Store, "_write_with", held_write)
    errors = []

    def add(name):
        try:
            Store(root).put_track(_track("a.ogg"), names=[name])
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=add, args=(n,)) for n in ("b.ogg", "c.ogg")]
    for t in threads:
        t.start()
    for t in threads:
        t.join(CEILING_S)
    assert not errors, errors
    # every name survives, the display name first (info lists a track's other names under it)
    others = Store(root).info()["duplicates"]
    assert list(others) == ["a.ogg"] and sorted(others["a.ogg"]) == ["b.ogg", "c.ogg"]


def test_reopening_a_library_rewrites_nothing(tmp_path, two_tracks, monkeypatch):
    store = _analysed(tmp_path, two_tracks)
    written = []
    write = Store._write_with  # every write of the store goes through it
    monkeypatch.setattr(Store, "_write_with", lambda self, path, content: (written.append(path), write(self, path, content))[1])
    again = analyze([InputFile(str(two_tracks / n), n) for n in ("tt1.ogg", "tt2.ogg")], store=store, config=AnalysisConfig())
    assert len(again.from_store) == 2
    assert written == []
    # a new name for one track writes that name, and nothing else
    analyze([InputFile(str(two_tracks / "tt1.ogg"), "renamed/tt1.ogg")], store=store, config=AnalysisConfig())
    assert len(written) == 1 and "/names/" in written[0].replace(os.sep, "/")
    assert store.info()["duplicates"] == {"tt1.ogg": ["renamed/tt1.ogg"]}


def test_a_read_only_store_still_reads_new_section_lengths(tmp_path, two_tracks, monkeypatch):
    store = _analysed(tmp_path, two_tracks)

    def refuse(self, path, content):
        raise StoreError(f"cannot write {path} in the store {self.url} (Read-only file system)")

    monkeypatch.setattr(Store, "_write_with", refuse)
    ten = AnalysisConfig(segment=SegmentConfig(section_seconds=10.0))
    with pytest.warns(UserWarning, match=r"not cached.*Read-only file system"):
        table = Store(store.root).load_sections(ten)
    assert table.meta["track_id"].nunique() == 2
    with pytest.warns(UserWarning, match="not cached"):
        result = open_library(Store(store.root), config=ten)
    assert len(result.tracks) == 2 and result.errors == ()


def test_an_unreadable_track_is_reported_as_such_not_as_too_short(tmp_path, two_tracks):
    store = _analysed(tmp_path, two_tracks)
    config = AnalysisConfig(segment=SegmentConfig(section_seconds=10.0))  # sections not stored yet: read from frames
    broken = store.tracks()[0]
    (store.root / "frames" / config.frames.digest() / f"{broken.track_id}.parquet").write_bytes(b"PAR1 not really parquet")
    result = open_library(store, config=config)
    assert [t.name for t in result.tracks] == [t.name for t in store.tracks()[1:]]
    (error,) = result.errors
    assert error.name == broken.name and error.reason == "error"
    assert "frame features" in error.detail and "unreadable" in error.detail
