"""An optional password gate in front of every page.

When ``st.secrets`` holds a ``password``, nothing of a page is rendered until
the visitor types it (compared with :func:`hmac.compare_digest`, so the time
taken does not reveal how much of it matched). A wrong password is logged --
never the attempt itself. With no password configured the app is open.

Guessing is slowed down: after :data:`FREE_ATTEMPTS` wrong passwords, each
further one locks the gate for twice as long as the last (2 s, 4 s, ... up to
:data:`MAX_LOCK_S`). The count is kept per client (its IP address, as
Streamlit reports it) in this process, so opening a new tab does not reset
it; a right password clears it. While locked, no attempt is checked at all.

For real user accounts, Streamlit's ``st.login`` (OpenID Connect) is the
better tool; the README shows how to configure it.
"""

from __future__ import annotations

import hmac
import logging
import threading
import time

import streamlit as st

log = logging.getLogger("cratemap.auth")

_PASSED = "_auth_passed"

#: Wrong passwords allowed before the gate starts locking.
FREE_ATTEMPTS = 3
#: The longest lock after one wrong password, in seconds.
MAX_LOCK_S = 60.0

_MAX_CLIENTS = 4096  # counts kept before unlocked ones are forgotten
_clock = time.monotonic  # a module attribute so tests can move time on
_failures: dict[str, tuple[int, float]] = {}  # client -> (wrong attempts, locked until on _clock)
_failures_lock = threading.Lock()  # sessions run in threads of one process


def _client() -> str:
    try:
        ip = st.context.ip_address
    except Exception:
        ip = None
    return ip if isinstance(ip, str) and ip else "local"  # None on localhost


def _locked_for(client: str) -> float:
    """Seconds the gate stays locked for ``client`` (0 when open)."""
    with _failures_lock:
        _, until = _failures.get(client, (0, 0.0))
    return max(0.0, until - _clock())


def _record_failure(client: str) -> int:
    """Count one wrong password for ``client`` and lock when past the free attempts; return the count."""
    with _failures_lock:
        if len(_failures) > _MAX_CLIENTS:  # many clients guessing: forget those no longer locked
            now = _clock()
            for c in [c for c, (_, until) in _failures.items() if until <= now]:
                del _failures[c]
        n, _ = _failures.get(client, (0, 0.0))
        n += 1
        lock = 0.0 if n < FREE_ATTEMPTS else min(MAX_LOCK_S, 2.0 ** (n - FREE_ATTEMPTS + 1))
        _failures[client] = (n, _clock() + lock)
    return n


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
        client = _client()
        wait = _locked_for(client)
        if wait > 0:
            st.error(f"Too many wrong passwords. Try again in {wait:.0f} s.")
            st.stop()
        if hmac.compare_digest(attempt.encode("utf-8"), expected.encode("utf-8")):
            with _failures_lock:
                _failures.pop(client, None)
            st.session_state[_PASSED] = True
            st.rerun()
        n = _record_failure(client)
        log.warning("a wrong password was entered (%d in a row from this client)", n)  # never the attempt itself
        wait = _locked_for(client)
        if wait > 0:
            st.error(f"That password is not right. Too many wrong passwords: try again in {wait:.0f} s.")
        else:
            st.error("That password is not right.")
    st.stop()
