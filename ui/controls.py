"""Shared controls. Each returns a config part (or a chosen section) and keeps its value across pages."""

from __future__ import annotations

import functools
import re

import pandas as pd
import streamlit as st

from engine.analysis.methods import METHOD_METRICS
from engine.config import PRESETS, THESIS_FEATURES, AnalysisConfig, ClusterConfig
from engine.errors import EngineError
from engine.records import ClusterResult, SectionTable

from . import charts, compute, deploy, state
from .compute import K_MAX
from .library import Library, require_library

METHODS = {
    "kmeans": "K-Means",
    "fcm": "Fuzzy c-means (soft memberships)",
    "agglomerative": "Agglomerative (hierarchical)",
    "hdbscan": "HDBSCAN (finds the number itself)",
}
METRICS = {
    "euclidean": "Euclidean (straight-line)",
    "cosine": "Cosine (direction, not loudness)",
    "correlation": "Correlation (shape of the profile)",
    "manhattan": "Manhattan (sum of differences)",
}
SCALERS = {
    "zscore": "z-score (each feature: mean 0, spread 1)",
    "minmax": "min-max (each feature 0 to 1)",
    "robust": "robust (median and quartiles)",
    "l2-column": "L2 per column (the thesis's scaling)",
}
LINKAGES = {"average": "average", "complete": "complete", "ward": "Ward (Euclidean only)", "single": "single"}
FEATURE_SETS = {
    "default": "Default: all but per-note chroma and MFCC deltas",
    "thesis": "The thesis's 17: loudness, brightness, MFCC 1-13",
    "timbre": "Timbre: MFCC 1-20",
    "spectral": "Loudness and spectral shape",
    "all": "Every feature",
    "custom": "Pick features...",
}
PRESET_LABELS = {"default": "Default (all features, fixed sections)", "thesis": "Thesis (its cuts, 17 features, its selection)"}
RULES = {
    "all": "Every section",
    "energy": "The loudest 60% of each track",
    "thesis": "The thesis's rule (bright, relatively quiet sections)",
}
_SPECTRAL = (
    "amplitude_envelope",
    "rmse",
    "zero_crossing_rate",
    "spectral_centroid",
    "spectral_bandwidth",
    "rolloff",
    "spectral_flatness",
    "onset_strength",
)

#: From this many sections on, clustering uses the interactive settings below.
INTERACTIVE_ROWS = 5_000
INTERACTIVE_FIT_SAMPLE = 5_000


def fail(exc: Exception) -> None:
    """Show an engine error as a sentence and stop the page (never a traceback)."""
    st.error(deploy.said(exc))
    st.stop()


# --------------------------------------------------------------------------- analysis


def _preset_changed() -> None:
    state._copy_back("preset")
    # the thesis preset brings the thesis's selection rule; back to default brings every section
    state.put("select_rule", "thesis" if state.get("preset") == "thesis" else "all")


def analysis_controls() -> None:
    """Preset, section length and representative-section rule (the analysis settings)."""
    presets = list(PRESETS)
    kwargs = state.bind("preset", options=presets)
    kwargs["on_change"], kwargs["args"] = _preset_changed, ()
    st.selectbox("Feature preset", presets, format_func=PRESET_LABELS.get, help="What is measured and how tracks are cut.", **kwargs)
    thesis = state.get("preset") == "thesis"
    units = {"seconds": "seconds", "bars": "bars", "phrases": "phrases"}
    st.radio("Cut sections by", list(units), format_func=units.get, horizontal=True, disabled=thesis,
             help="Seconds cut where the clock says; bars start each section on a downbeat, as a DJ counts; phrases "
             "cut where the music changes (an intro, a build, a drop), on bar lines. "
             "Switching re-cuts the stored analysis; nothing is decoded again. Whichever you choose, each section is "
             "labelled intro, build, drop, breakdown or outro: the label of the phrase that covers most of it.",
             **state.bind("section_unit", options=list(units)))  # fmt: skip
    if state.get("section_unit") == "bars" and not thesis:
        st.select_slider(
            "Section length (bars)", options=[1, 2, 4, 8, 16, 32], help="8 bars is a short phrase, 16 or 32 a full one.",
            **state.bind("section_bars", options=[1, 2, 4, 8, 16, 32]),
        )  # fmt: skip
    elif state.get("section_unit") == "phrases" and not thesis:
        st.caption("Each section is one phrase: from where the music changes to where it changes next, labelled intro, build, "
                   "drop, breakdown or outro with a confidence (the maps' hover text, the Mix page and the exports show it).")
    else:
        st.slider(
            "Section length (seconds)",
            5,
            60,
            step=1,
            disabled=thesis,
            help="Tracks are cut into sections this long; the last one is kept when at least half as long. "
            "The thesis preset cuts as the thesis did (about 15 s, evenly) and ignores this.",
            **state.bind("section_seconds"),
        )
    rules = list(RULES)
    st.selectbox(
        "Representative sections",
        rules,
        format_func=RULES.get,
        help="Which sections of each track are clustered and searched.",
        **state.bind("select_rule", options=rules),
    )


# --------------------------------------------------------------------------- clustering


def resolve_features(set_name: str, names: tuple[str, ...], custom) -> tuple[str, ...]:
    """The feature columns of a named set that the table has (``()`` = the engine's default set)."""
    if set_name == "default":
        return ()
    if set_name == "thesis":
        return tuple(f for f in THESIS_FEATURES if f in names)
    if set_name == "timbre":
        return tuple(f for f in names if re.fullmatch(r"mfcc\d+", f))
    if set_name == "spectral":
        return tuple(f for f in names if f in _SPECTRAL or f.startswith("spectral_contrast"))
    if set_name == "all":
        return tuple(names)
    return tuple(f for f in names if f in set(custom or ()))


def cluster_config(names: tuple[str, ...], n_rows: int, *, prefix: str = "") -> ClusterConfig:
    """The clustering settings of this session, checked against the table (no widgets drawn).

    ``prefix`` selects a set of settings: ``""`` for the classical features, ``"nn_"`` for the embeddings.
    """
    method = state.get(prefix + "method")
    if method not in METHODS:
        method = "kmeans"
    metric = state.get(prefix + "metric")
    if metric not in METHOD_METRICS[method]:
        metric = "euclidean"
    linkage = state.get(prefix + "linkage")
    if linkage == "ward" and metric != "euclidean":
        linkage = "average"
    k = int(min(max(2, state.get(prefix + "k")), max(2, min(K_MAX, n_rows - 1))))
    features: tuple[str, ...] = ()
    if not prefix:
        features = resolve_features(state.get("feature_set"), names, state.get("custom_features"))
        if state.get("feature_set") != "default" and not features:
            st.error("This feature set has none of the features this analysis measured; choose another set.")
            st.stop()
    try:
        return ClusterConfig(
            method=method,
            k=k,
            metric=metric,
            scaler=state.get(prefix + "scaler"),
            features=features,
            linkage=linkage,
            min_cluster_size=int(min(state.get(prefix + "min_cluster_size"), max(2, n_rows))),
            # large libraries: one seeded K-Means start fitted on a 5,000-row sample, then every row
            # assigned, so a slider move stays interactive (bench/interactive.py: ~150 ms at 20,000 x 128
            # against ~0.6-1.2 s with ten starts on every row); small ones keep the full fit
            **({"n_init": 1, "fit_sample": INTERACTIVE_FIT_SAMPLE} if n_rows > INTERACTIVE_ROWS else {}),
        )
    except EngineError as exc:
        fail(exc)


def clustered_library(*, heading: str = "Clustering") -> tuple[Library, AnalysisConfig, SectionTable, ClusterConfig, ClusterResult]:
    """What a clustering page starts from: the library, its analysis, its representative sections, the
    clustering controls' config and the clustering (the page stops with the error when it cannot be made)."""
    analysed = require_library()
    library, analysis = analysed.library, analysed.config
    table = compute.model_table(library, analysis)
    config = cluster_controls(table.names, len(table), heading=heading)
    try:
        result = compute.clustering(library, analysis, config)
    except EngineError as exc:
        fail(exc)
    return library, analysis, table, config, result


def cluster_controls(names: tuple[str, ...], n_rows: int, *, prefix: str = "", heading: str = "Clustering") -> ClusterConfig:
    """Method, k, distance, scaler (and, for features, the feature set) in the sidebar; returns the config."""
    if n_rows < 3:
        st.error(f"Clustering needs at least 3 sections; this library has {n_rows}. Add tracks or shorten the sections.")
        st.stop()
    p = prefix
    with st.sidebar:
        st.subheader(heading)
        methods = list(METHODS)
        method = st.selectbox("Method", methods, format_func=METHODS.get, **state.bind(p + "method", options=methods))
        k_max = max(2, min(K_MAX, n_rows - 1))
        if method == "hdbscan":
            if state.get(p + "min_cluster_size") > n_rows:
                state.put(p + "min_cluster_size", max(2, n_rows // 4))
            st.slider(
                "Smallest cluster",
                2,
                max(3, min(50, n_rows)),
                help="HDBSCAN finds the number of clusters itself; rows that fit none are marked as noise.",
                **state.bind(p + "min_cluster_size"),
            )
        elif k_max <= 2:
            state.put(p + "k", 2)
            st.markdown(f"Number of clusters: **2** (the most {n_rows} rows allow)")
        else:
            if state.get(p + "k") > k_max:
                state.put(p + "k", k_max)
            st.slider("Number of clusters (k)", 2, k_max, help="The charts under *Choosing k* suggest one.", **state.bind(p + "k"))
        metrics = [m for m in METRICS if m in METHOD_METRICS[method]]
        metric = st.selectbox("Distance", metrics, format_func=METRICS.get, **state.bind(p + "metric", options=metrics))
        if method == "agglomerative":
            linkages = [m for m in LINKAGES if m != "ward" or metric == "euclidean"]
            st.selectbox("Linkage", linkages, format_func=LINKAGES.get, **state.bind(p + "linkage", options=linkages))
        scalers = list(SCALERS)
        st.selectbox("Scaling", scalers, format_func=SCALERS.get, **state.bind(p + "scaler", options=scalers))
        if not prefix:
            _feature_controls(names)
    return cluster_config(names, n_rows, prefix=prefix)


def _feature_controls(names: tuple[str, ...]) -> None:
    sets = list(FEATURE_SETS)

    def set_changed() -> None:
        state._copy_back("feature_set")
        if state.get("feature_set") == "custom" and not state.get("custom_features"):
            # start a custom set from the thesis's features, which the user then edits
            state.put("custom_features", [f for f in THESIS_FEATURES if f in names] or list(names[:8]))

    kwargs = state.bind("feature_set", options=sets)
    kwargs["on_change"], kwargs["args"] = set_changed, ()
    chosen = st.selectbox("Features", sets, format_func=FEATURE_SETS.get, **kwargs)
    if chosen == "custom":
        kept = [f for f in state.get("custom_features") if f in names]
        if kept != list(state.get("custom_features")):
            state.put("custom_features", kept)
        st.multiselect("Features to use", list(names), **state.bind("custom_features"))


def describe(config: ClusterConfig, *, features: bool = True) -> str:
    """One line saying how sections were clustered."""
    what = METHODS[config.method].split(" (")[0]
    k = "" if config.method == "hdbscan" else f", k={config.k}"
    text = f"{what}{k}, {config.metric} distance, {config.scaler} scaling"
    if features:
        text += f", {FEATURE_SETS.get(state.get('feature_set'), '').split(':')[0].lower()} features"
    return text


# --------------------------------------------------------------------------- choosing a section


def row_labels(frame: pd.DataFrame) -> list[str]:
    """Each row as a picker shows it: ``tune · section 3 (0:45–1:00) · drop 0.82`` (the phrase where known)."""
    spans = zip(frame["name"], frame["section"], frame["start_s"], frame["end_s"], charts.phrase_texts(frame))
    return [charts.section_label(n, s, a, b) + (f" · {p}" if p else "") for n, s, a, b, p in spans]


def section_key(frame: pd.DataFrame, row: int) -> tuple:
    """A row's identity that survives re-clustering: (track id, section[, piece])."""
    key = (str(frame["track_id"].iloc[row]), int(frame["section"].iloc[row]))
    if "piece" in frame.columns:
        key += (int(frame["piece"].iloc[row]),)
    return key


def row_of(frame: pd.DataFrame, key) -> int | None:
    """Row position of a key from :func:`section_key` in ``frame``, or None."""
    if not key:
        return None
    hit = (frame["track_id"].astype(str).to_numpy() == key[0]) & (frame["section"].to_numpy() == key[1])
    if len(key) > 2 and "piece" in frame.columns:
        hit &= frame["piece"].to_numpy() == key[2]
    rows = hit.nonzero()[0]
    return int(rows[0]) if len(rows) else None


def set_focus(name: str, key) -> None:
    """Remember the section being listened to on a page (``name``) by its (track id, section)."""
    st.session_state[f"focus_{name}"] = key


def get_focus(name: str):
    return st.session_state.get(f"focus_{name}")


def section_picker(frame: pd.DataFrame, *, focus: str, label: str = "Or pick a section") -> int | None:
    """A select box over the sections, in sync with a page's focus; returns the focused row."""
    labels = row_labels(frame)
    current = row_of(frame, get_focus(focus))
    wkey = f"_pick_{focus}"
    options = [None, *range(len(frame))]
    if st.session_state.get(wkey, "unset") != current:
        st.session_state[wkey] = current

    def changed() -> None:
        row = st.session_state[wkey]
        set_focus(focus, None if row is None else section_key(frame, row))

    st.selectbox(
        label,
        options,
        format_func=lambda r: "(none)" if r is None else labels[r],
        key=wkey,
        on_change=changed,
    )
    return current


def map_colour(frame: pd.DataFrame) -> str:
    """A sidebar choice of what a map's colours show: ``"cluster"`` or ``"phrase"`` (label); only offered when
    the rows carry phrase labels (sections cut from frames), else ``"cluster"``."""
    if "phrase_label" not in frame.columns or not (frame["phrase_label"].fillna("") != "").any():
        return "cluster"
    options = list(charts.COLOUR_BY)
    with st.sidebar:
        return st.radio("Colour the map by", options, format_func=charts.COLOUR_BY.get, **state.bind("map_colour", options=options),
                        help="Each section's phrase label (intro, build, drop, breakdown, outro) comes from its energy, novelty "
                             "and place in the track; its confidence is in the hover text.")  # fmt: skip


def section_map(fig, *, key: str, focus: str, frame: pd.DataFrame) -> None:
    """Draw a map of sections where clicking, box or lasso selection focuses a section (:func:`on_chart_select`)."""
    st.plotly_chart(
        fig,
        key=key,
        on_select=functools.partial(on_chart_select, key, focus, frame),
        selection_mode=("points", "box", "lasso"),
        config={"displaylogo": False},
    )


def row_of_customdata(custom: object) -> int | None:
    """The section row a clicked mark carries as ``customdata[0]``, or None for any other mark.

    A section point's customdata is a list whose first item is its row. Other marks carry
    other shapes: a cluster centre ``[-1, cluster]``, a numeric row that reaches the app
    as a dict (``{"0": -1, "1": 3}``, how a JavaScript typed array is serialised), a
    scalar, or nothing at all (density layers, bars, heat-map cells, legend entries).
    """
    if isinstance(custom, dict):
        custom = custom.get("0", custom.get(0))
    elif isinstance(custom, (list, tuple)):
        custom = custom[0] if custom else None
    if isinstance(custom, bool) or custom is None:
        return None
    try:
        value = float(custom)
    except (TypeError, ValueError):
        return None
    return int(value) if value.is_integer() else None


def on_chart_select(chart_key: str, focus: str, frame: pd.DataFrame) -> None:
    """Callback for ``st.plotly_chart(on_select=...)``: the first selected section becomes the focus."""
    event = st.session_state.get(chart_key)
    points = (event or {}).get("selection", {}).get("points", []) if event else []
    rows = []
    for p in points:
        r = row_of_customdata(p.get("customdata") if isinstance(p, dict) else None)
        if r is not None and 0 <= r < len(frame) and r not in rows:
            rows.append(r)
    st.session_state[f"selected_{focus}"] = [section_key(frame, r) for r in rows]
    if rows:
        set_focus(focus, section_key(frame, rows[0]))


def selected_rows(frame: pd.DataFrame, focus: str) -> list[int]:
    """Rows of the current chart selection (by section key, so they survive re-clustering)."""
    keys = st.session_state.get(f"selected_{focus}", [])
    rows = [row_of(frame, k) for k in keys]
    return [r for r in rows if r is not None]
