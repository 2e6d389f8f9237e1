"""Access with a password set: no page by its direct URL, no download, guessing slowed, the password never shown or logged.

``test_app_auth`` covers reaching pages through the menu from the landing
page; here each page file is opened as the first page of a new session, as
when someone types its URL (``/Classical_features``, ``/Mix``, ...).

Every file the app offers (CSV exports, mix plans, audio) is built by a page
after :func:`ui.page.setup` has passed the gate, so a page that renders
nothing but the gate serves no download: the first test checks both.
"""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from app_support import APP, RUN_TIMEOUT, data_dir, page_errors
from conftest import ROOT

SECRET = "tr0ub4dor&3-never-shown"
ALL_PAGES = sorted(str(p.relative_to(ROOT)) for p in (ROOT / "pages").glob("*.py"))


@pytest.fixture(autouse=True)
def fresh_throttle():
    import ui.auth

    ui.auth._failures.clear()
    yield
    ui.auth._failures.clear()


def _direct(page: str):
    """A new session whose first page is ``page`` (its direct URL), with the password set."""
    from streamlit.testing.v1 import AppTest

    data_dir()
    at = AppTest.from_file(str(ROOT / page), default_timeout=RUN_TIMEOUT)
    at.secrets["password"] = SECRET
    return at.run()


def _via_landing(page: str):
    """A new session on the landing page, then ``page`` (the right password must open real pages here:
    a page run as the entry script cannot link back to the landing page)."""
    from app_support import app

    at = app()
    at.secrets["password"] = SECRET
    at.run()
    return at.switch_page(page).run()


def _everything_shown(at) -> str:
    """Every value and label the page rendered, as one text."""
    out = []
    for kind in ("title", "header", "subheader", "markdown", "caption", "text", "error", "warning", "info", "success", "code", "metric", "button"):
        for el in at.get(kind):
            out.append(str(getattr(el, "value", "")) + " " + str(getattr(el, "label", "")) + " " + str(getattr(el, "proto", "")))
    # a text input's .value is what the test itself typed; what the server sends back is its proto
    out.extend(str(el.proto) for el in at.get("text_input"))
    return "\n".join(out)


def _only_the_gate(at) -> bool:
    titles = [t.value for t in at.title]
    return titles == ["CrateMap"] and [t.label for t in at.text_input] == ["Password"] and not at.sidebar.children


def _attempt(at, text: str):
    at.text_input(key="_auth_attempt").input(text)
    return at.button[0].click().run()


def test_the_gate_covers_every_page_file():
    assert len(ALL_PAGES) >= 7 and "pages/7_Mix.py" in ALL_PAGES
    for page in (APP, *ALL_PAGES):
        assert "setup(" in Path(ROOT / page).read_text(), f"{page} does not start with ui.page.setup (the gate)"


@pytest.mark.parametrize("page", ALL_PAGES)
def test_a_page_opened_by_its_direct_url_shows_only_the_gate_and_no_download(page):
    at = _direct(page)
    assert page_errors(at) == []
    assert _only_the_gate(at)
    for kind in ("download_button", "dataframe", "audio", "plotly_chart", "table", "file_uploader", "metric"):
        assert at.get(kind) == [], f"{page} rendered a {kind} before the password"
    assert SECRET not in _everything_shown(at)


def test_repeated_wrong_passwords_lock_the_gate_for_longer_each_time(monkeypatch):
    import ui.auth

    now = [1000.0]
    monkeypatch.setattr(ui.auth, "_clock", lambda: now[0])
    at = _via_landing("pages/2_Classical_features.py")
    for i in range(ui.auth.FREE_ATTEMPTS - 1):
        _attempt(at, f"guess-{i}")
        assert [e.value for e in at.error] == ["That password is not right."]
    _attempt(at, "guess-last")
    assert "try again in 2 s" in at.error[0].value
    # while locked, even the right password is not checked
    _attempt(at, SECRET)
    assert "Too many wrong passwords" in at.error[0].value and _only_the_gate(at)
    # a new tab from the same client is locked too (the count is per client, not per session)
    other = _direct("pages/6_Review.py")
    _attempt(other, SECRET)
    assert "Too many wrong passwords" in other.error[0].value and _only_the_gate(other)
    # the next wrong one, after the lock, locks twice as long
    now[0] += 2.5
    _attempt(at, "guess-again")
    assert "try again in 4 s" in at.error[0].value
    now[0] += 4.5
    _attempt(at, SECRET)
    assert page_errors(at) == [] and not _only_the_gate(at)
    assert [t.value for t in at.title] == ["Classical features"]
    assert ui.auth._failures == {}  # the right password clears the count


def test_the_lock_is_capped():
    import ui.auth

    for _ in range(50):
        ui.auth._record_failure("10.0.0.9")
    assert 0 < ui.auth._locked_for("10.0.0.9") <= ui.auth.MAX_LOCK_S
    assert ui.auth._locked_for("10.0.0.10") == 0
    for i in range(ui.auth._MAX_CLIENTS + 10):  # one guess each from many addresses: the table stays bounded
        ui.auth._record_failure(f"10.1.{i // 256}.{i % 256}")
    assert len(ui.auth._failures) <= ui.auth._MAX_CLIENTS + 1
    assert ui.auth._locked_for("10.0.0.9") > 0  # a locked client is never forgotten


def test_the_password_never_appears_in_logs_or_the_page(caplog):
    caplog.set_level(logging.WARNING, logger="numba")  # its compiler's DEBUG dumps are huge and irrelevant
    with caplog.at_level(logging.DEBUG):
        at = _via_landing("pages/6_Review.py")
        _attempt(at, SECRET + "x")
        shown_wrong = _everything_shown(at)
        _attempt(at, SECRET)
        shown_right = _everything_shown(at)
    assert page_errors(at) == []
    assert not _only_the_gate(at)  # the right password opened the page
    assert SECRET not in shown_wrong and SECRET not in shown_right
    logged = "\n".join(r.getMessage() + repr(r.args) for r in caplog.records)
    assert "wrong password" in logged  # the failure itself is logged...
    assert SECRET not in logged  # ...but never what was typed, nor the password
