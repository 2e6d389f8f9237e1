"""The Mix page's cached engine calls, controls and charts.

Caching decisions, written where they are made:

* descriptors (tempo, key, energy) once per (library, analysis config, BPM
  range, key profile) -- the weights and tolerances are not part of that key,
  so moving them only re-ranks; the engine also keeps descriptors in the store,
  so a new session reads them without recomputing;
* suggestions and mix paths per mixing config (weights are part of it), so
  moving a slider back is instant;
* a transition preview's WAV per (pair, config): it is rendered only when asked.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import streamlit as st

from engine.config import AnalysisConfig, MixConfig
from engine.errors import EngineError
from engine.describe.key import parse_camelot
from engine.mixing.descriptors import describe_store, frames_needed
from engine.mixing.path import mix_path
from engine.mixing.suggestions import suggest
from engine.mixing.transition import to_wav_bytes, transition_from_store
from engine.records import MixPath, MixTable, Suggestions

from . import similar
from .library import Library, ensure_frames


def mix_table(library: Library, analysis: AnalysisConfig, config: MixConfig) -> MixTable:
    """Sections with their descriptors; only the descriptor part of ``config`` (BPM range, key
    profile) is the cache key, so moving a weight or a tolerance never reloads them."""
    key_only = MixConfig(bpm_min=config.bpm_min, bpm_max=config.bpm_max, key_profile=config.key_profile)
    checked = st.session_state.setdefault("_mix_frames_checked", set())
    if (library, analysis, key_only) not in checked:  # once per session and settings: a store may be remote
        missing = frames_needed(library.store(), library.track_ids, analysis=analysis, config=key_only)
        if missing:  # descriptors under other settings than the stored ones (a seeded demo's) come from frames
            ensure_frames(library, analysis, missing)
        checked.add((library, analysis, key_only))
    return _descriptors(library, analysis, key_only)


@st.cache_data(max_entries=4, show_spinner="Finding tempo, key and energy of every section…")
def _descriptors(library: Library, analysis: AnalysisConfig, key_only: MixConfig) -> MixTable:
    return describe_store(library.store(), analysis=analysis, config=key_only, track_ids=library.track_ids)


#: Descriptor columns other pages show beside each section.
SHOWN = ("bpm", "camelot", "key_short", "energy_level")


def add_descriptors(rows: pd.DataFrame, library: Library, analysis: AnalysisConfig) -> pd.DataFrame:
    """``rows`` (with ``track_id`` and ``section``) plus BPM, key and energy columns.

    Rows without a section (``section`` -1, e.g. pieces past the last one)
    get NaN; when the descriptors cannot be computed the rows come back as
    they were, so no page fails for want of a tempo.
    """
    try:
        table = mix_table(library, analysis, MixConfig())
    except EngineError:
        return rows
    found = table.descriptors[["track_id", "section", *SHOWN]]
    merged = rows.merge(found, on=["track_id", "section"], how="left", suffixes=("", "_mix"))
    merged.index = rows.index
    return merged


def frame(library: Library, table: MixTable) -> pd.DataFrame:
    """Descriptors with a ``path`` column for the players and playlists, and each section's phrase label
    and confidence (``phrase_label``, ``phrase_confidence``; "" and NaN when unknown)."""
    out = table.descriptors.copy()
    meta = table.sections.meta  # row for row with the descriptors
    out["phrase_label"] = meta["phrase_label"].fillna("").to_numpy(object) if "phrase_label" in meta else ""
    out["phrase_confidence"] = meta["phrase_confidence"].to_numpy(float) if "phrase_confidence" in meta else np.nan
    out["path"] = [library.path_of(t) if t in library.track_ids else "" for t in out["track_id"]]
    out["name"] = [library.name_of(t) if t in library.track_ids else n for t, n in zip(out["track_id"], out["name"])]
    return out


@st.cache_data(max_entries=64, show_spinner=False)
def suggestions(
    library: Library, analysis: AnalysisConfig, config: MixConfig, row: int, k: int, only_compatible: bool, space: str = "classical"
) -> Suggestions:
    """Suggestions after section ``row``; timbre compared in ``space`` (see ui/similar.py)."""
    table = mix_table(library, analysis, config)
    timbre = similar.mix_timbre(library, analysis, table.config_digest, space, table)
    return suggest(table, row=row, k=k, config=config, only_compatible=only_compatible, timbre=timbre)


@st.cache_data(max_entries=32, show_spinner="Searching a chain of compatible sections…")
def path(library: Library, analysis: AnalysisConfig, config: MixConfig, start: int, end: int, steps: int, space: str = "classical") -> MixPath:
    table = mix_table(library, analysis, config)
    timbre = similar.mix_timbre(library, analysis, table.config_digest, space, table)
    return mix_path(table, start=start, end=end, steps=steps, config=config, timbre=timbre)


@st.cache_data(max_entries=8, show_spinner="Stretching and crossfading…")
def transition_wav(library: Library, analysis: AnalysisConfig, config: MixConfig, row_a: int, row_b: int) -> tuple[bytes, str]:
    """The preview as WAV bytes and a one-line description."""
    tr = transition_from_store(library.store(), mix_table(library, analysis, config), row_a=row_a, row_b=row_b, config=config)
    factor = {2.0: " at double time", 0.5: " at half time"}.get(tr.tempo_factor, "")
    text = (
        f"B stretched ×{tr.stretch:.3f}{factor} to {tr.bpm:.1f} BPM ({tr.stretcher}); "
        f"crossfade {tr.crossfade_start_s:.1f}–{tr.crossfade_end_s:.1f} s of {tr.duration_s:.1f} s."
    )
    return to_wav_bytes(tr.audio, sample_rate=tr.sample_rate), text


def controls() -> tuple[MixConfig, int, bool]:
    """Sidebar controls: the mixing config, how many suggestions, compatible only."""
    with st.sidebar:
        st.subheader("Mixing")
        k = st.slider("Suggestions", 3, 30, 10, key="mix_k")
        st.caption("Weights of the score")
        wt = st.slider("Timbre", 0.0, 1.0, 0.4, 0.05, key="mix_w_timbre")
        wb = st.slider("Tempo", 0.0, 1.0, 0.25, 0.05, key="mix_w_tempo")
        wk = st.slider("Key", 0.0, 1.0, 0.2, 0.05, key="mix_w_key")
        we = st.slider("Energy", 0.0, 1.0, 0.15, 0.05, key="mix_w_energy")
        tol = st.slider("Tempo tolerance (%)", 1, 15, 6, key="mix_tol")
        direction = st.selectbox("Energy step", ["any", "up", "same", "down"], key="mix_energy")
        profile = st.selectbox("Key profile", ["krumhansl", "temperley", "edma"], key="mix_profile")
        other = st.checkbox("Only sections of other tracks", value=True, key="mix_other")
        only = st.checkbox("Only compatible sections", value=False, key="mix_only")
        bars = st.select_slider("Crossfade bars", [1, 2, 4, 8, 16], value=8, key="mix_bars")
    if wt + wb + wk + we == 0:
        wt = 1.0
    config = MixConfig(
        weight_timbre=wt, weight_tempo=wb, weight_key=wk, weight_energy=we, tempo_tolerance=tol / 100.0,
        energy_direction=direction, key_profile=profile, other_tracks=other, crossfade_bars=int(bars),
    )  # fmt: skip
    return config, int(k), bool(only)


def camelot_wheel(code: str, others: list[str] = ()) -> go.Figure:
    """The Camelot wheel: outer ring B (major), inner ring A (minor); ``code`` highlighted, ``others`` marked."""
    fig = go.Figure()
    number, letter = parse_camelot(code)
    marks = {parse_camelot(c) for c in others}
    for ring, r in (("B", 1.0), ("A", 0.6)):
        colours, texts = [], []
        for n in range(1, 13):
            here = (n, ring) == (number, letter)
            colours.append("#e4572e" if here else ("#f3a712" if (n, ring) in marks else "#dfe6ed"))
            texts.append(f"{n}{ring}")
        fig.add_trace(
            go.Barpolar(
                r=[0.4] * 12, base=r - 0.4, theta=[(n - 1) * 30 for n in range(1, 13)], width=[28] * 12,
                marker_color=colours, text=texts, hoverinfo="text", showlegend=False,
            )
        )  # fmt: skip
    fig.update_layout(
        polar=dict(angularaxis=dict(direction="clockwise", rotation=90, tickvals=[(n - 1) * 30 for n in range(1, 13)],
                                    ticktext=[str(n) for n in range(1, 13)]), radialaxis=dict(visible=False)),
        height=260, margin=dict(l=20, r=20, t=20, b=20),
    )  # fmt: skip
    return fig


def energy_chart(times: np.ndarray, energy: np.ndarray, start_s: float, end_s: float) -> go.Figure:
    """A track's energy curve (1-10) with one section shaded."""
    fig = go.Figure(go.Scatter(x=times, y=energy, mode="lines", line=dict(color="#2e86ab"), name="energy"))
    fig.add_vrect(x0=start_s, x1=end_s, fillcolor="#e4572e", opacity=0.2, line_width=0)
    fig.update_layout(height=220, margin=dict(l=40, r=10, t=10, b=30), yaxis=dict(range=[1, 10], title="energy"), xaxis_title="seconds")
    return fig
