"""Shared fixtures: the bundled demo library and generated signals."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]
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
