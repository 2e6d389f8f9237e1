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


def _clear_throttle():
    import ui.auth

    with ui.auth._failures_lock:
        ui.auth._failures.clear()
        ui.auth._checked.clear()
        ui.auth._over_ceiling = False


@pytest.fixture(autouse=True)
def fresh_throttle():
    _clear_throttle()
    yield
    _clear_throttle()


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


def _fake_clock(monkeypatch, start: float = 1000.0) -> list[float]:
    import ui.auth

    now = [start]
    monkeypatch.setattr(ui.auth, "_clock", lambda: now[0])
    return now


def _lock_out(at) -> None:
    """Wrong passwords from ``at`` until its client is locked."""
    import ui.auth

    for i in range(ui.auth.FREE_ATTEMPTS):
        _attempt(at, f"guess-{i}")
    assert "try again in 2 s" in at.error[0].value
    _attempt(at, SECRET)
    assert "Too many wrong passwords" in at.error[0].value and _only_the_gate(at)


def test_a_client_without_an_address_cannot_lock_out_another(monkeypatch):
    """AppTest sessions have no address (as behind some proxies, or on localhost): each is counted on its own."""
    import ui.auth

    _fake_clock(monkeypatch)
    a = _via_landing("pages/6_Review.py")
    _lock_out(a)
    b = _via_landing("pages/2_Classical_features.py")
    _attempt(b, SECRET)  # a new session gets in at once, with no wait
    assert page_errors(b) == [] and not _only_the_gate(b)
    assert [t.value for t in b.title] == ["Classical features"]
    _attempt(a, SECRET)  # ... and b's right password did not clear a's count
    assert "Too many wrong passwords" in a.error[0].value and _only_the_gate(a)
    assert [k.split(":")[0] for k in ui.auth._failures] == ["session"]


def test_the_count_is_per_address_when_known_and_per_session_otherwise():
    from ui.auth import _client_key

    one, two = {}, {}
    for ip in ("203.0.113.7", "10.0.0.9", "2001:db8::1"):
        assert _client_key(ip, one) == _client_key(ip, two) == _client_key(ip, {}), ip  # shared by every session
    assert _client_key("203.0.113.7", one) != _client_key("203.0.113.8", one)
    assert _client_key("2001:db8:0::1", one) == _client_key("2001:db8::1", two)  # one address, however written
    for unknown in (None, "", " ", "127.0.0.1", "127.1.2.3", "::1", "::ffff:127.0.0.1", "0.0.0.0", "::", "localhost", 42):
        key = _client_key(unknown, one)
        assert key.startswith("session:") and key == _client_key(unknown, one), unknown  # one id per session, kept
        assert key != _client_key(unknown, two), unknown  # another session is another client
    assert one.keys() == two.keys() == {"_auth_session_id"}
    assert len(one["_auth_session_id"]) == 32 and one["_auth_session_id"] != two["_auth_session_id"]


@pytest.mark.parametrize("address, shared", [("203.0.113.7", True), ("127.0.0.1", False), ("::1", False)])
def test_sessions_from_one_known_address_share_the_lock(monkeypatch, address, shared):
    """Through the ``_address`` seam (what ``st.context.ip_address`` says): a real address is one client."""
    import ui.auth

    _fake_clock(monkeypatch)
    monkeypatch.setattr(ui.auth, "_address", lambda: address)
    _lock_out(_via_landing("pages/6_Review.py"))
    other = _via_landing("pages/2_Classical_features.py")  # a new tab from the same address
    _attempt(other, SECRET)
    if shared:
        assert "Too many wrong passwords" in other.error[0].value and _only_the_gate(other)
        assert list(ui.auth._failures) == [f"ip:{address}"]
    else:
        assert page_errors(other) == [] and not _only_the_gate(other)


def test_the_global_ceiling_stops_checking_any_password(monkeypatch, caplog):
    import ui.auth

    busy = "Too many password attempts on this server right now."
    now = _fake_clock(monkeypatch)
    early = ui.auth.GLOBAL_ATTEMPTS // 3
    # one wrong attempt each from many clients, none of them locked: a third of them at t, the rest 20 s later
    for i in range(ui.auth.GLOBAL_ATTEMPTS - 1):
        if i == early:
            now[0] += 20
        assert ui.auth._check(f"session:{i}", f"guess-{i}", SECRET)[0] == "wrong"
    last = _via_landing("pages/6_Review.py")
    _attempt(last, "guess-last")
    assert [e.value for e in last.error] == ["That password is not right."]
    # the ceiling is reached: the next attempt, even the right password from a new session, is not checked
    now[0] += 10  # t + 30: the oldest attempts leave the window in 30 s
    fresh = _via_landing("pages/2_Classical_features.py")
    with caplog.at_level(logging.WARNING, logger="cratemap.auth"):
        _attempt(fresh, SECRET)
        assert [e.value for e in fresh.error] == [f"{busy} Try again in 30 s."] and _only_the_gate(fresh)
        for i in range(5):
            assert ui.auth._check(f"ip:198.51.100.{i}", SECRET, SECRET) == ("busy", 30.0)
    assert sum("reached" in r.getMessage() for r in caplog.records) == 1  # the refusal is logged once, not per attempt
    assert not any(k.startswith("ip:") for k in ui.auth._failures)  # a refused attempt is not counted as wrong either
    # once the window slides past the oldest attempts, passwords are checked again
    now[0] += 30.5
    _attempt(fresh, SECRET)
    assert page_errors(fresh) == [] and not _only_the_gate(fresh)
    assert [t.value for t in fresh.title] == ["Classical features"]
    # ... but only as many as left the window: the third that left, less the one just checked
    for i in range(early - 1):
        assert ui.auth._check(f"ip:192.0.2.{i}", "nope", SECRET)[0] == "wrong"
    assert ui.auth._check("ip:192.0.2.250", SECRET, SECRET)[0] == "busy"
