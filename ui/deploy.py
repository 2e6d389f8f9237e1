"""The deployment as the operator set it, and who the visitor is.

The mode and its limits come from the ``[cratemap]`` section of Streamlit's
secrets (``.streamlit/secrets.toml`` locally, the Secrets box on Community
Cloud), read by :func:`engine.config.deployment_from_mapping`; with no such
section the app is in *local* mode, as ``make run`` starts it.

In *public* mode every visitor works in a private space
(:mod:`engine.run.visitors`): a signed-in visitor (``st.login``) under a
key derived from their identity, so their library and reviews come back on
their next visit; anyone else under a random id kept in their browser
session, for the session plus the grace time. Nothing here ever shows a
server path: :func:`said` takes them out of any message.
"""

from __future__ import annotations

import json
import logging
import os
import re
import secrets as _secrets
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import streamlit as st

from engine.config import DeploymentConfig, deployment_from_mapping
from engine.errors import EngineError, ParameterError
from engine.run.queue import AnalysisQueue
from engine.run.visitors import VisitorSpace, VisitorSpaces, visitor_key

log = logging.getLogger("cratemap.deploy")

_KEY_DOMAIN = b"cratemap-visitor-space-v1"  # visitor keys are one-way: no key names anyone
_VISITOR_ID = "_visitor_id"
_TOUCH_EVERY_S = 60.0  # a session marks its space used at most this often
_SWEEP_EVERY_S = 60.0  # the server looks for expired or over-budget spaces at most this often
_ACTIVE_S = 15 * 60.0  # a space used this recently is never evicted


def _secrets_section() -> dict:
    try:
        section = st.secrets.get("cratemap")
    except Exception:  # no secrets file at all: local mode
        return {}
    return dict(section) if section else {}


@st.cache_resource(show_spinner=False)
def _parse(text: str) -> DeploymentConfig:
    return deployment_from_mapping(json.loads(text))


def _plain(value):
    """Streamlit's secrets (nested AttrDicts) as plain JSON-ready values."""
    if hasattr(value, "items"):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value


def config() -> DeploymentConfig:
    """The deployment settings (local mode when none are given).

    A mistake in them stops the page with a sentence for the operator (never a value of a secret).
    """
    section = _secrets_section()
    if os.environ.get("CRATEMAP_MODE") and "mode" not in section:
        section["mode"] = os.environ["CRATEMAP_MODE"]
    try:
        return _parse(json.dumps(_plain(section), sort_keys=True))
    except (ParameterError, TypeError, ValueError) as exc:
        st.error(f"CrateMap's deployment settings ([cratemap] in the secrets) are not right: {exc}")
        st.stop()
        raise  # unreachable: st.stop raises


def is_public() -> bool:
    return config().public


# --------------------------------------------------------------------------- the visitor


@dataclass(frozen=True)
class Visitor:
    """Who is using this session: their space's key, and whether they signed in."""

    key: str
    signed_in: bool


def _signed_in_identity() -> str | None:
    try:
        user = st.user
        if not user.is_logged_in:
            return None
        ident = user.get("sub") or user.get("email")
        return f"{user.get('iss', '')}|{ident}" if ident else None
    except Exception:  # login not configured
        return None


def visitor() -> Visitor:
    """This session's visitor (in local mode, the one trusted user: key "")."""
    if not is_public():
        return Visitor(key="", signed_in=False)
    ident = _signed_in_identity()
    if ident is not None:
        return Visitor(key=visitor_key(ident, signed_in=True, secret=_KEY_DOMAIN), signed_in=True)
    if _VISITOR_ID not in st.session_state:
        st.session_state[_VISITOR_ID] = _secrets.token_hex(16)
    return Visitor(key=visitor_key(st.session_state[_VISITOR_ID], signed_in=False, secret=_KEY_DOMAIN), signed_in=False)


def login_configured() -> bool:
    try:
        return bool(st.secrets.get("auth"))
    except Exception:
        return False


# --------------------------------------------------------------------------- spaces, sweeping, the queue


def data_dir() -> Path:
    from .library import data_dir as _data_dir

    return _data_dir()


@st.cache_resource(show_spinner=False)
def _spaces(root: str, budget: int, grace: float) -> VisitorSpaces:
    return VisitorSpaces(root, budget_bytes=budget, grace_s=grace)


def spaces() -> VisitorSpaces:
    cfg = config()
    return _spaces(str(data_dir() / "visitors"), cfg.disk_budget_bytes, cfg.grace_s)


_sweep_lock = threading.Lock()
_last_sweep = [0.0]


def space() -> VisitorSpace:
    """This visitor's private space (public mode only), marked used; expired spaces are swept meanwhile."""
    v = visitor()
    if not is_public():
        raise RuntimeError("visitor spaces exist only in public mode")
    held = st.session_state.get("_space")
    now = time.time()
    if held is not None and held[0] == v.key and now - held[1] < _TOUCH_EVERY_S:
        return held[2]
    try:
        opened = spaces().open(v.key, signed_in=v.signed_in)
    except EngineError as exc:
        st.error(f"Your library cannot be opened right now ({said(exc)}).")
        st.stop()
    st.session_state["_space"] = (v.key, now, opened)
    sweep()
    return opened


def sweep(*, force: bool = False) -> list[str]:
    """Remove expired and over-budget spaces (at most once a minute); drop the reviews and saved results of removed anonymous visitors."""
    with _sweep_lock:
        if not force and time.time() - _last_sweep[0] < _SWEEP_EVERY_S:
            return []
        _last_sweep[0] = time.time()
    removed = spaces().sweep(active_s=_ACTIVE_S)
    if removed:
        log.info("removed %d visitor spaces (expired or over the disk budget)", len(removed))
    from .reviews import reviews_of, saved_of

    for key in removed:
        if key.startswith("a-"):  # a signed-in visitor's reviews and saved results are never removed
            try:
                reviews_of(key).delete_owner()
                saved_of(key).delete_owner()
            except EngineError as exc:
                log.warning("could not remove the reviews of an expired visitor: %s", exc)
    return removed


@st.cache_resource(show_spinner=False)
def _queue(slots: int) -> AnalysisQueue:
    return AnalysisQueue(slots)


def queue() -> AnalysisQueue:
    """The server-wide queue of analyses (``max_analyses`` at once)."""
    return _queue(config().max_analyses)


def session_gone() -> bool:
    """True once this session's browser has gone (Streamlit no longer counts the session active)."""
    try:
        from streamlit.runtime import Runtime, exists
        from streamlit.runtime.scriptrunner_utils.script_run_context import get_script_run_ctx

        ctx = get_script_run_ctx()
        if ctx is None or not exists():
            return False
        return not Runtime.instance().is_active_session(ctx.session_id)
    except Exception:  # an older or newer runtime without this call: rely on Streamlit stopping the script
        return False


# --------------------------------------------------------------------------- messages


def _server_paths() -> list[str]:
    paths = {str(data_dir()), str(Path(__file__).resolve().parents[1]), str(Path.home()), "/tmp", os.path.realpath("/tmp")}
    try:
        paths.add(os.path.realpath(data_dir()))
    except OSError:
        pass
    return sorted((p for p in paths if p and p != "/"), key=len, reverse=True)


def said(exc: BaseException | str) -> str:
    """A message for the visitor: in public mode, with every server path taken out."""
    text = str(exc)
    if not is_public():
        return text
    for p in _server_paths():
        text = text.replace(p, "…")
    # whatever absolute path is left (a library's install folder, another temporary folder)
    return re.sub(r"(?<![\w.:])/(?:[\w.+-]+/)+([\w.+ -]*)", r"…/\1", text)
