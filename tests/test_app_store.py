"""Opening an existing store in the app (a folder or an fsspec URL) instead of analysing."""

from __future__ import annotations

import os

from app_support import page_errors, run_page
from engine.records import InputFile
from engine.run.pipeline import analyze
from engine.store.core import Store


def _open(url: str):
    at = run_page("pages/1_Library.py")
    at.radio(key="_w_source").set_value("store").run()
    at.text_input(key="_w_store_url").set_value(url).run()
    return at


def _metrics(at) -> dict[str, str]:
    return {m.label: m.value for m in at.metric}


def test_a_store_written_elsewhere_opens_with_its_size(demo_dir, tmp_path):
    folder = tmp_path / "elsewhere"
    written = analyze([InputFile(str(demo_dir / n), n) for n in ("tt1.ogg", "tt2.ogg")], store=Store(folder))
    at = _open(str(folder))
    assert page_errors(at) == []
    assert _metrics(at)["Tracks"] == "2" and int(_metrics(at)["Sections"]) == len(written.sections)
    size = next(c.value for c in at.caption if "tracks**" in c.value)
    assert "**2 tracks**" in size and "MB on disk" in size and str(folder) in size
    assert any("no audio was decoded" in c.value for c in at.caption)
    assert at.dataframe[-1].value["track"].tolist() == ["tt1.ogg", "tt2.ogg"]
    # the other views work on it
    at.switch_page("pages/2_Classical_features.py").run()
    assert page_errors(at) == []


def test_a_store_at_a_url_opens_too(demo_dir):
    url = f"memory://cratemap-app-{os.getpid()}/store"
    analyze([InputFile(str(demo_dir / "tt4.ogg"), "tt4.ogg")], store=Store(url))
    at = _open(url)
    assert page_errors(at) == []
    assert _metrics(at)["Tracks"] == "1"


def test_an_empty_or_unreachable_store_is_a_clear_error(tmp_path):
    at = _open(str(tmp_path / "nothing-here"))
    assert any("there is no CrateMap store at" in e for e in page_errors(at))
    assert not (tmp_path / "nothing-here").exists()  # opening never creates a folder
    at.text_input(key="_w_store_url").set_value("nosuchprotocol://bucket/x").run()
    assert any("Cannot open the store at nosuchprotocol://bucket/x" in e for e in page_errors(at))
    assert at.exception == []
