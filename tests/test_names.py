"""Uploaded names: whatever the browser sends, the file lands under the uploads folder and the page shows it."""

from __future__ import annotations

import unicodedata
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ui.library import safe_relative_path, save_upload

HOSTILE_NAMES = {
    "dot-dot": "../../../../etc/cron.d/evil.wav",
    "dot-dot-inside": "crate/../../../evil.wav",
    "absolute": "/etc/passwd.wav",
    "windows-absolute": "C:\\Windows\\System32\\evil.wav",
    "windows-dot-dot": "..\\..\\evil.wav",
    "unc": "\\\\server\\share\\evil.wav",
    "control-chars": "crate/\x00nul\x07bell\x1b[31mred\r\n.wav",
    "rtl-override": "crate/gnp.\u202ecod.wav",
    "dots-only": "crate/.../....wav",
    "very-long-ascii": "crate/" + "a" * 5000 + ".wav",
    "very-long-unicode": "crate/" + "\u00e9\U0001f3b5" * 400 + ".wav",
    "very-deep": "/".join(["d"] * 2000) + "/deep.wav",
    "unicode": "Crate/Bj\u00f6rk \u2013 J\u00f3ga/\u65e5\u672c\u8a9e \U0001f3a7.wav",
    "spaces-and-shell": "crate/ $(rm -rf ~); `x` | y > z .wav",
}


def _assert_safe(display: str) -> None:
    parts = display.split("/")
    assert display and not display.startswith("/")
    assert "\\" not in display and ".." not in parts and "." not in parts and "" not in parts
    assert all(ch.isprintable() for ch in display)
    assert all(len(p.encode("utf-8")) <= 200 for p in parts)


@pytest.mark.parametrize("name", sorted(HOSTILE_NAMES))
def test_hostile_names_are_made_safe_and_saved_under_the_uploads_folder(tmp_path, name):
    raw = HOSTILE_NAMES[name]
    display = safe_relative_path(raw)
    _assert_safe(display)
    assert display.endswith(".wav")  # an audio name stays an audio name, however long
    root = tmp_path / "data" / "uploads"
    saved = save_upload(raw, b"RIFF" + name.encode(), root=root)
    path = Path(saved.path)
    assert root.resolve() in path.resolve().parents
    assert path.read_bytes() == b"RIFF" + name.encode()
    assert saved.name == display
    outside = [p for p in tmp_path.rglob("*") if p.is_file() and root not in p.parents]
    assert outside == []


def test_unicode_is_kept_not_mangled():
    assert safe_relative_path(HOSTILE_NAMES["unicode"]) == unicodedata.normalize("NFC", HOSTILE_NAMES["unicode"])


@settings(max_examples=150, derandomize=True, deadline=2_000, database=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.text(min_size=0, max_size=400))
def test_any_name_stays_under_the_uploads_folder(tmp_path, raw):
    display = safe_relative_path(raw)
    _assert_safe(display)
    root = tmp_path / "uploads"
    saved = save_upload(raw, raw.encode("utf-8", "surrogatepass") + b"!", root=root)
    assert root.resolve() in Path(saved.path).resolve().parents


def test_a_folder_upload_of_hostile_names_shows_every_track_and_writes_nothing_outside():
    from app_support import data_dir, page_errors, run_page, wav_bytes

    names = ["windows-dot-dot", "control-chars", "very-long-unicode", "unicode", "absolute"]
    at = run_page("pages/1_Library.py")
    at.radio(key="_w_source").set_value("folder").run()
    at.file_uploader[0].set_value([(HOSTILE_NAMES[n], wav_bytes(20, seed=40 + i), "audio/wav") for i, n in enumerate(names)]).run()
    assert page_errors(at) == []
    shown = at.dataframe[-1].value["track"].tolist()
    assert sorted(shown) == sorted(safe_relative_path(HOSTILE_NAMES[n]) for n in names)
    uploads = (data_dir() / "uploads").resolve()
    written = [p for p in data_dir().rglob("*") if p.is_file() and "uploads" in p.parts]
    assert len(written) >= len(names) and all(uploads in p.resolve().parents for p in written)
    assert not any(p.name == "evil.wav" for p in data_dir().parent.iterdir())
