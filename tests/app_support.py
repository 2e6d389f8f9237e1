"""Shared by the app tests: one data folder per test process, the demo analysed into it once.

``AppTest`` runs pages in this process, so ``CRATEMAP_DATA`` (read by
``ui.library.data_dir``) is set here before any page runs, and Streamlit's
caches, keyed on that folder's store, are shared by every app test.
"""

from __future__ import annotations

import atexit
import io
import os
import shutil
import tempfile
from pathlib import Path

import numpy as np
import soundfile as sf

from conftest import CEILING_S, ROOT

APP = str(ROOT / "streamlit_app.py")
PAGES = (
    "pages/1_Library.py",
    "pages/2_Classical_features.py",
    "pages/3_Neural_embeddings.py",
    "pages/4_Compare_methods.py",
    "pages/5_Similar_sections.py",
    "pages/6_Review.py",
)
#: First runs analyse the demo library (about 20-40 s on two idle cores, several times that
#: on busy ones); later ones read the store. Both are ceilings: AppTest returns when the run ends.
FIRST_RUN_TIMEOUT = CEILING_S
RUN_TIMEOUT = CEILING_S

_DATA: Path | None = None


def data_dir() -> Path:
    """This process's app data folder (created once, removed at exit), exported as ``CRATEMAP_DATA``."""
    global _DATA
    if _DATA is None:
        _DATA = Path(tempfile.mkdtemp(prefix="cratemap-app-test-"))
        atexit.register(shutil.rmtree, _DATA, True)
    os.environ["CRATEMAP_DATA"] = str(_DATA)
    return _DATA


def app():
    """A fresh ``AppTest`` of the landing page (a new session), with the test data folder in place."""
    from streamlit.testing.v1 import AppTest

    data_dir()
    return AppTest.from_file(APP, default_timeout=RUN_TIMEOUT)


def run_page(page: str | None = None, *, secrets: dict | None = None):
    """A new session that opens the landing page, then ``page``; returns the AppTest."""
    at = app()
    for k, v in (secrets or {}).items():
        at.secrets[k] = v
    at.run(timeout=FIRST_RUN_TIMEOUT)
    if page:
        at.switch_page(page)
        at.run(timeout=FIRST_RUN_TIMEOUT)
    return at


def wav_bytes(seconds: float = 40.0, *, sample_rate: int = 22_050, seed: int = 0) -> bytes:
    """A short, real WAV: a chord over noise, so every feature is defined."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * sample_rate)) / sample_rate
    y = 0.2 * np.sin(2 * np.pi * 220 * t) + 0.1 * np.sin(2 * np.pi * 330 * (1 + 0.1 * seed) * t) + 0.05 * rng.standard_normal(t.size)
    buf = io.BytesIO()
    sf.write(buf, y.astype(np.float32), sample_rate, format="WAV", subtype="PCM_16")
    return buf.getvalue()


def page_errors(at) -> list[str]:
    """Every exception and st.error a run produced, as text."""
    return [str(e.value) for e in at.exception] + [str(e.value) for e in at.error]
