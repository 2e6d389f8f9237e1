"""An optional password gate in front of every page.

When ``st.secrets`` holds a ``password``, nothing of a page is rendered until
the visitor types it (compared with :func:`hmac.compare_digest`, so the time
taken does not reveal how much of it matched). A wrong password is logged --
never the attempt itself. With no password configured the app is open.

For real user accounts, Streamlit's ``st.login`` (OpenID Connect) is the
better tool; the README shows how to configure it.
"""

from __future__ import annotations

import hmac
import logging

import streamlit as st

log = logging.getLogger("cratemap.auth")

_PASSED = "_auth_passed"


def configured_password() -> str | None:
    """The password from ``st.secrets`` (top-level ``password``), or None when the app is open."""
    try:
        value = st.secrets.get("password")
    except Exception:  # no secrets file at all: the app is open
        return None
    if value is None or str(value) == "":
        return None
    return str(value)


def gate() -> None:
    """Stop the page unless the visitor has given the configured password (a no-op when none is set)."""
    expected = configured_password()
    if expected is None or st.session_state.get(_PASSED):
        return
    st.title("CrateMap")
    st.write("This CrateMap is private. Enter the password to continue.")
    with st.form("password_gate", clear_on_submit=True):
        attempt = st.text_input("Password", type="password", key="_auth_attempt")
        submitted = st.form_submit_button("Enter", type="primary")
    if submitted:
        if hmac.compare_digest(attempt.encode("utf-8"), expected.encode("utf-8")):
            st.session_state[_PASSED] = True
            st.rerun()
        log.warning("a wrong password was entered")  # never the attempt itself
        st.error("That password is not right.")
    st.stop()
