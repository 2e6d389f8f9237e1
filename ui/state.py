"""Settings that persist across pages.

Streamlit forgets a widget's value when a page without that widget runs, and
a widget on another page is another widget even under the same key. So every
setting lives under a *permanent* key in ``st.session_state``; the widget that
edits it uses a shadow key (``_w_<name>``) and copies its value back on
change. Any page can read any setting with :func:`get`, whether or not its
widget is on that page.
"""

from __future__ import annotations

from typing import Any

import streamlit as st

#: Every persisted setting and its default.
DEFAULTS: dict[str, Any] = {
    # library and analysis
    "source": "demo",  # "demo" | "folder" | "files" | "store" | "collection" (local mode)
    "store_url": "",  # source "store": an existing store's folder or fsspec URL
    "preset": "default",  # engine.config.PRESETS
    "section_seconds": 15,  # seconds
    "section_unit": "seconds",  # "seconds" | "bars" | "phrases": how sections are cut
    "section_bars": 8,  # bars per section when cut by bars
    "select_rule": "all",  # engine SelectConfig.rule
    # classical clustering
    "method": "kmeans",
    "k": 4,
    "metric": "euclidean",
    "scaler": "zscore",
    "feature_set": "default",
    "custom_features": [],
    "linkage": "average",
    "min_cluster_size": 5,
    "projection": "pca",
    "map_colour": "cluster",  # "cluster" | "phrase": what a map's colours show (ui.charts.COLOUR_BY)
    # neural
    "nn_model": "musicnn",
    "nn_level": "pieces",
    "nn_method": "kmeans",
    "nn_k": 4,
    "nn_metric": "cosine",
    "nn_scaler": "zscore",
    "nn_linkage": "average",
    "nn_min_cluster_size": 5,
    "nn_projection": "pca",
    # review
    "reviewer": "",
    "review_order": "boundary",
}


def get(name: str) -> Any:
    """The current value of a setting (its default when never set)."""
    if name not in DEFAULTS:
        raise KeyError(f"unknown setting {name!r}")
    return st.session_state.get(name, DEFAULTS[name])


def put(name: str, value: Any) -> None:
    """Set a setting (and the widget that shows it, when one exists)."""
    if name not in DEFAULTS:
        raise KeyError(f"unknown setting {name!r}")
    st.session_state[name] = value
    st.session_state[widget_key(name)] = value


def widget_key(name: str) -> str:
    return f"_w_{name}"


def _copy_back(name: str) -> None:
    st.session_state[name] = st.session_state[widget_key(name)]


def bind(name: str, *, options: list | tuple | None = None) -> dict[str, Any]:
    """Keyword arguments that bind a widget to a persisted setting.

    Pass them to the widget instead of ``value=``/``index=``: the widget
    starts from the persisted value (or the default) and writes changes back.

    Parameters
    ----------
    name : str
        A key of :data:`DEFAULTS`.
    options : sequence, optional
        For choice widgets: when the persisted value is no longer an option
        (e.g. a metric the new method does not support), the first option is used.
    """
    value = get(name)
    if options is not None and value not in options:
        value = options[0] if len(options) else value
        st.session_state[name] = value
    wkey = widget_key(name)
    # always: a widget of the same key on another page is another widget and would start from its default
    st.session_state[wkey] = value
    return {"key": wkey, "on_change": _copy_back, "args": (name,)}
