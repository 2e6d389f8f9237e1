"""Shared fixtures: the bundled demo library and generated signals."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

# A numba cache of this test session's own, set before numba is imported: a cache
# left in the venv by another process (numba's guvectorize cache files can be
# mixed up when two processes compile the same function at once, numba#10128)
# can then never crash the suite, and every run compiles from a clean slate.
os.environ.setdefault("NUMBA_CACHE_DIR", tempfile.mkdtemp(prefix="cratemap-numba-"))

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]
#: The one ceiling for anything a test waits on (an app run, a server, a subprocess, a
#: worker): never a wait itself, only the point where waiting becomes a failure, so it is
#: generous enough for a 2-core machine whose cores are both busy with other work.
#: pytest.ini's per-test ``timeout`` sits above it, so a hang fails instead of stalling CI.
CEILING_S = 600
DEMO_DIR = ROOT / "demo"
DATA_DIR = Path(__file__).resolve().parent / "data"
AUDIO_SUFFIXES = (".ogg", ".opus", ".wav", ".flac", ".mp3", ".aiff")


@pytest.fixture(scope="session")
def demo_dir() -> Path:
    return DEMO_DIR


@pytest.fixture(scope="session")
def demo_files() -> list[Path]:
    files = sorted(p for p in DEMO_DIR.iterdir() if p.suffix.lower() in AUDIO_SUFFIXES)
    assert len(files) == 11, "the demo library ships 11 tracks"
    return files


@pytest.fixture(scope="session")
def data_dir() -> Path:
    return DATA_DIR


@pytest.fixture()
def rng() -> np.random.Generator:
    return np.random.default_rng(1234)


# --------------------------------------------------------------------------- a real PostgreSQL


@pytest.fixture(scope="session")
def postgres_url():
    """A throwaway PostgreSQL server for the session (tests/pg_support.py); the URL of its test database.

    Fails, never skips, when PostgreSQL's server programs are missing: the review store is tested
    against the real database (``make system-deps`` installs it)."""
    import pg_support

    bin_dir = pg_support.find_bin()
    if bin_dir is None:
        pytest.fail(pg_support.MISSING, pytrace=False)
    server = pg_support.PostgresServer(bin_dir, ceiling_s=CEILING_S)
    try:
        server.start()
        yield server.url()
    finally:
        server.stop()


@pytest.fixture()
def postgres_db_url(postgres_url):
    """A new, empty database of the session's PostgreSQL server, dropped after the test."""
    import pg_support

    url = pg_support.fresh_database(postgres_url)
    yield url
    pg_support.drop_database(postgres_url, url)


@pytest.fixture(params=["sqlite", "postgresql"])
def review_target(request, tmp_path) -> str:
    """Where a test's judgements go: a new SQLite file's path, or the URL of a new database on the test PostgreSQL."""
    if request.param == "sqlite":
        return str(tmp_path / "reviews.sqlite")
    return request.getfixturevalue("postgres_db_url")
