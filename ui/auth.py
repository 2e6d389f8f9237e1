"""An optional password gate in front of every page.

When ``st.secrets`` holds a ``password``, nothing of a page is rendered until
the visitor types it (compared with :func:`hmac.compare_digest`, so the time
taken does not reveal how much of it matched). A wrong password is logged --
never the attempt itself. With no password configured the app is open.

Guessing is slowed down by two rules, both kept in this process:

* **Per client.** After :data:`FREE_ATTEMPTS` wrong passwords, each further
  one locks the gate for that client for twice as long as the last (2 s, 4 s,
  ... up to :data:`MAX_LOCK_S`); while locked, none of its attempts is checked
  and a right password clears its count. A client is its IP address when
  Streamlit reports a real one (``st.context.ip_address``), so opening a new
  tab does not reset it. Without a known address (none at all, or a loopback
  one: the app runs locally or behind a proxy on the same host) the count is
  per *browser session* instead -- a random id kept in ``st.session_state`` --
  so one visitor can never lock out another who merely shares the missing
  address. An attacker there can reset the count by opening a new session;
  the global ceiling is what slows them down.
* **Global ceiling.** At most :data:`GLOBAL_ATTEMPTS` passwords are checked in
  any :data:`GLOBAL_WINDOW_S` seconds across all clients. Past it, no attempt
  is checked at all -- the right password neither -- until the window moves
  on; the visitor is told how long to wait. This bounds the guessing rate of
  any number of clients or sessions together (and the memory the per-client
  counts can take).

For real user accounts, Streamlit's ``st.login`` (OpenID Connect) is the
better tool; the README shows how to configure it.
"""

from __future__ import annotations

import collections
import hmac
import ipaddress
import logging
import math
import secrets
import threading
import time
from collections.abc import MutableMapping

import streamlit as st

log = logging.getLogger("cratemap.auth")

_PASSED = "_auth_passed"
_SESSION_ID = "_auth_session_id"  # st.session_state key of this session's random id

#: Wrong passwords allowed before the gate starts locking.
FREE_ATTEMPTS = 3
#: The longest lock after one wrong password, in seconds.
MAX_LOCK_S = 60.0
#: Passwords checked at most, across all clients, in any window of GLOBAL_WINDOW_S seconds.
GLOBAL_ATTEMPTS = 30
#: The sliding window of the global ceiling, in seconds.
GLOBAL_WINDOW_S = 60.0

_MAX_CLIENTS = 4096  # counts kept before unlocked ones are forgotten
_clock = time.monotonic  # a module attribute so tests can move time on
_failures: dict[str, tuple[int, float]] = {}  # client -> (wrong attempts, locked until on _clock)
_checked: collections.deque[float] = collections.deque()  # _clock times of the attempts checked in the window
_over_ceiling = False  # whether the last request for a check was refused (so the refusal is logged once, not per attempt)
_failures_lock = threading.Lock()  # sessions run in threads of one process; guards the three above


def _address() -> str | None:
    """The client's address as Streamlit reports it (None when it has none, e.g. outside a server)."""
    try:
        ip = st.context.ip_address
    except Exception:
        return None
    return ip if isinstance(ip, str) else None


def _known_address(address: str | None) -> str | None:
    """``address`` normalised when it identifies a client, else None (missing, unparsable, loopback, unspecified)."""
    if not isinstance(address, str) or not address.strip():
        return None
    try:
        ip = ipaddress.ip_address(address.strip())
    except ValueError:
        return None
    mapped = getattr(ip, "ipv4_mapped", None)  # ::ffff:127.0.0.1 is loopback too
    if ip.is_loopback or ip.is_unspecified or (mapped is not None and (mapped.is_loopback or mapped.is_unspecified)):
        return None
    return str(ip)


def _client_key(address: str | None, session: MutableMapping) -> str:
    """The key a client's wrong passwords are counted under: its address when known, else this session's id."""
    known = _known_address(address)
    if known is not None:
        return f"ip:{known}"
    sid = session.get(_SESSION_ID)
    if not isinstance(sid, str) or not sid:
        sid = secrets.token_hex(16)
        session[_SESSION_ID] = sid
    return f"session:{sid}"


def _client() -> str:
    return _client_key(_address(), st.session_state)


def _locked_for(client: str) -> float:
    """Seconds the gate stays locked for ``client`` (0 when open)."""
    with _failures_lock:
        _, until = _failures.get(client, (0, 0.0))
    return max(0.0, until - _clock())


def _take_global_slot() -> float:
    """Reserve one check under the global ceiling: 0 when granted, else the seconds until one frees up."""
    global _over_ceiling
    with _failures_lock:
        now = _clock()
        while _checked and _checked[0] <= now - GLOBAL_WINDOW_S:
            _checked.popleft()
        if len(_checked) >= GLOBAL_ATTEMPTS:
            if not _over_ceiling:
                log.warning("password attempts reached %d in %.0f s on this server: checking none until the window moves on", GLOBAL_ATTEMPTS, GLOBAL_WINDOW_S)
            _over_ceiling = True
            return max(_checked[0] + GLOBAL_WINDOW_S - now, 1e-3)  # > 0: the oldest is still inside the window
        _over_ceiling = False
        _checked.append(now)
    return 0.0


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


def _check(client: str, attempt: str, expected: str) -> tuple[str, float]:
    """Check one attempt from ``client``, both rules first.

    Returns ``(outcome, wait)``: ``("locked", s)`` the client is locked, ``("busy", s)`` over the global
    ceiling (in neither case is the attempt compared), ``("right", 0)``, or ``("wrong", s)`` with the lock it
    now has (0 while still within the free attempts).
    """
    wait = _locked_for(client)
    if wait > 0:
        return "locked", wait
    wait = _take_global_slot()
    if wait > 0:
        return "busy", wait
    if hmac.compare_digest(attempt.encode("utf-8"), expected.encode("utf-8")):
        with _failures_lock:
            _failures.pop(client, None)
        return "right", 0.0
    n = _record_failure(client)
    log.warning("a wrong password was entered (%d in a row from this client)", n)  # never the attempt itself
    return "wrong", _locked_for(client)


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
        outcome, wait = _check(_client(), attempt, expected)
        if outcome == "right":
            st.session_state[_PASSED] = True
            st.rerun()
        elif outcome == "locked":
            st.error(f"Too many wrong passwords. Try again in {wait:.0f} s.")
        elif outcome == "busy":
            st.error(f"Too many password attempts on this server right now. Try again in {max(1, math.ceil(wait))} s.")
        elif wait > 0:
            st.error(f"That password is not right. Too many wrong passwords: try again in {wait:.0f} s.")
        else:
            st.error("That password is not right.")
    st.stop()
