"""Links that reproduce a view: the page's address carries the library, the settings and the focused section.

Every page writes its view into the URL's query string (``st.query_params``)
when it runs, so the address bar is always a link to what is on screen:

* ``lib``: ``demo``, or ``store:<name>`` for a store the operator named
  (locally also ``store:<folder or URL>``); a visitor's own upload is never
  in a link, so a link cannot open anyone's private library;
* every analysis and clustering setting that differs from its default
  (``section_seconds=20``, ``k=6``, ``method=agglomerative``, ...);
* ``section=<track id>:<section>[:<piece>]``: the section the page focuses on.

A new session opened on such a link (another browser, another person)
takes these values once, before the page draws, and shows the same view.
Values that are not valid for a setting are ignored, never raised on.
"""

from __future__ import annotations

import re

import streamlit as st

from . import deploy, state

#: Settings a link carries, and how a value from a URL is checked: a type and, for numbers, a range.
LINKED: dict[str, tuple[type, tuple[int, int] | None]] = {
    "preset": (str, None),
    "section_seconds": (int, (5, 60)),
    "section_unit": (str, None),
    "section_bars": (int, (1, 64)),
    "select_rule": (str, None),
    "method": (str, None),
    "k": (int, (2, 12)),
    "metric": (str, None),
    "scaler": (str, None),
    "feature_set": (str, None),
    "linkage": (str, None),
    "min_cluster_size": (int, (2, 50)),
    "projection": (str, None),
    "map_colour": (str, None),
    "nn_model": (str, None),
    "nn_level": (str, None),
    "nn_method": (str, None),
    "nn_k": (int, (2, 12)),
    "nn_metric": (str, None),
    "nn_scaler": (str, None),
    "nn_linkage": (str, None),
    "nn_min_cluster_size": (int, (2, 50)),
    "nn_projection": (str, None),
}

#: The focus (see ``ui.controls.set_focus``) of each page that has one, by its title.
FOCUS_OF_PAGE = {"Classical features": "classical", "Neural embeddings": "neural", "Similar sections": "similar", "Mix": "mix"}

_RESTORED = "_link_restored"
_WORD = re.compile(r"^[A-Za-z0-9_.:-]{1,64}$")
_SECTION = re.compile(r"^([0-9a-f]{64}):(\d{1,6})(?::(\d{1,6}))?$")


def restore(title: str) -> None:
    """Take the view from the URL, once per session (a session opened on a link)."""
    if st.session_state.get(_RESTORED):
        return
    st.session_state[_RESTORED] = True
    params = st.query_params
    for name, (kind, bounds) in LINKED.items():
        if name not in params:
            continue
        value = _parse(params[name], kind, bounds)
        if value is not None:
            state.put(name, value)
    lib = params.get("lib", "")
    if lib == "demo":
        state.put("source", "demo")
    elif lib.startswith("store:"):
        choice = lib[len("store:") :]
        if deploy.config().store_named(choice) is not None or (choice and not deploy.is_public()):
            state.put("source", "store")
            state.put("store_url", choice)
    focus = FOCUS_OF_PAGE.get(title)
    m = _SECTION.match(params.get("section", ""))
    if focus and m:
        key = (m.group(1), int(m.group(2))) + ((int(m.group(3)),) if m.group(3) else ())
        st.session_state[f"focus_{focus}"] = key


def _parse(text: str, kind: type, bounds: tuple[int, int] | None):
    if kind is int:
        try:
            value = int(text)
        except ValueError:
            return None
        return value if bounds is None or bounds[0] <= value <= bounds[1] else None
    return text if _WORD.match(text) else None


def write(title: str) -> None:
    """Put this page's view into the URL (only what differs from the defaults, and the focused section)."""
    wanted: dict[str, str] = {}
    source = state.get("source")
    if source == "demo":
        wanted["lib"] = "demo"
    elif source == "store" and str(state.get("store_url")).strip():
        choice = str(state.get("store_url")).strip()
        if not deploy.is_public() or deploy.config().store_named(choice) is not None:
            wanted["lib"] = f"store:{choice}"
    for name in LINKED:
        value = state.get(name)
        if value != state.DEFAULTS[name]:
            wanted[name] = str(value)
    focus = FOCUS_OF_PAGE.get(title)
    key = st.session_state.get(f"focus_{focus}") if focus else None
    if key:
        wanted["section"] = ":".join(str(part) for part in key)
    if dict(st.query_params.to_dict()) != wanted:
        st.query_params.from_dict(wanted)
