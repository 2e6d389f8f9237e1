"""The password gate: with a password in st.secrets, every page shows nothing but the gate until it is given."""

from __future__ import annotations

import logging

import pytest

from app_support import PAGES, app, page_errors

SECRET = "correct horse battery staple"


def _gated(page: str | None):
    at = app()
    at.secrets["password"] = SECRET
    at.run()
    if page:
        at.switch_page(page).run()
    return at


def _only_the_gate(at) -> bool:
    texts = [t.value for t in at.title] + [h.value for h in at.subheader] + [m.label for m in at.metric]
    return texts == ["CrateMap"] and len(at.text_input) == 1 and at.text_input[0].label == "Password" and not at.sidebar.children


@pytest.mark.parametrize("page", [None, *PAGES])
def test_every_page_is_blocked_until_the_password_is_given(page):
    at = _gated(page)
    assert page_errors(at) == []
    assert _only_the_gate(at)


def test_a_wrong_password_is_refused_and_logged_without_the_attempt(caplog):
    at = _gated("pages/2_Classical_features.py")
    with caplog.at_level(logging.WARNING, logger="cratemap.auth"):
        at.text_input(key="_auth_attempt").input("hunter2-guess")
        at.button[0].click().run()
    assert any("not right" in e.value for e in at.error)
    assert _only_the_gate(at)
    assert any("wrong password" in r.getMessage() for r in caplog.records)
    assert not any("hunter2-guess" in r.getMessage() for r in caplog.records)


def test_the_right_password_opens_every_page():
    at = _gated("pages/2_Classical_features.py")
    at.text_input(key="_auth_attempt").input(SECRET)
    at.button[0].click().run()
    assert page_errors(at) == []
    assert [t.value for t in at.title] == ["Classical features"]
    for page in PAGES:
        if "Neural" in page or "Compare" in page:
            continue  # covered (with their heavier models) in test_app_pages
        at.switch_page(page).run()
        assert page_errors(at) == []
        assert not any(t.label == "Password" for t in at.text_input)


def test_without_a_secret_the_app_is_open():
    at = app()
    at.run()
    assert page_errors(at) == []
    assert not any(t.label == "Password" for t in at.text_input)
    assert at.title[0].value == "CrateMap" and len(at.metric) >= 3
