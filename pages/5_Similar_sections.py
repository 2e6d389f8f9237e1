"""Similar sections: pick one, get its nearest sections across the library, as a playlist."""

from __future__ import annotations

import functools

import pandas as pd
import streamlit as st

from engine.errors import EngineError
from engine.analysis.similar import METRICS
from ui import charts, compute, controls, dj, mix, downloads, page, player, saved, similar

page.setup("Similar sections")
st.title("Similar sections")
st.caption("Choose a section; CrateMap lists the sections that sound closest to it across your library — candidates to mix next.")

library, analysis, table, config, result = controls.clustered_library()
frame = mix.add_descriptors(compute.cluster_frame(result), library, analysis)  # BPM, key, energy in hovers and tables
FOCUS = "similar"

with st.sidebar:
    st.subheader("Similarity")
    k = st.slider("How many similar sections", 3, min(30, max(3, len(table) - 1)), 10, key="sim_k")
    metric_labels = {m: controls.METRICS[m] for m in METRICS}
    metric = st.selectbox("Distance", list(metric_labels), format_func=metric_labels.get, key="sim_metric")
    other = st.checkbox("Only sections of other tracks", value=True, key="sim_other")
space = similar.space_control(library, analysis, key="sim_space", seconds_of_audio=similar.audio_seconds(library, analysis))
st.caption(f"Similar by: **{similar.LABELS[space]}**. {similar.WHY}")

pick_col, map_col = st.columns([2, 3], gap="medium")
with pick_col:
    names = list(library.names)
    focus = controls.get_focus(FOCUS)
    if focus is None:  # start from the section being listened to on the Classical page, else the first
        focus = controls.get_focus("classical") or controls.section_key(frame, 0)
        controls.set_focus(FOCUS, focus)
    row = controls.row_of(frame, focus)
    if row is None:
        row = 0
        controls.set_focus(FOCUS, controls.section_key(frame, 0))
    track_name = str(frame["name"].iloc[row])

    def track_changed() -> None:
        chosen = st.session_state["sim_track"]
        first = frame.index[frame["name"] == chosen][0]
        controls.set_focus(FOCUS, controls.section_key(frame, int(first)))

    st.session_state["sim_track"] = track_name
    st.selectbox("Track", names, key="sim_track", on_change=track_changed)
    in_track = frame[frame["name"] == track_name]
    options = in_track.index.tolist()

    def section_changed() -> None:
        controls.set_focus(FOCUS, controls.section_key(frame, int(st.session_state["sim_section"])))

    st.session_state["sim_section"] = row
    st.selectbox(
        "Section",
        options,
        format_func=lambda r: f"section {int(frame['section'].iloc[r])} ({charts.mmss(frame['start_s'].iloc[r])}–{charts.mmss(frame['end_s'].iloc[r])}), {charts.cluster_name(int(frame['cluster'].iloc[r]))}",
        key="sim_section",
        on_change=section_changed,
    )
    st.caption("Listen to it below, beside the candidate you pick from the list.")

with map_col:
    proj = compute.projection(library, analysis, config, "pca")
    fig = charts.cluster_scatter(
        frame, proj.points, centroids=None, method="pca", explained=proj.explained_variance_ratio,
        title="Or click a section on the map", focus_row=row, placed=proj.placed, seed=config.seed, colour_by=controls.map_colour(frame),
    )
    fig.update_layout(height=380)
    st.plotly_chart(
        fig,
        key="similar_map",
        on_select=functools.partial(controls.on_chart_select, "similar_map", FOCUS, frame),
        selection_mode="points",
        config={"displaylogo": False},
    )
    if sampled := charts.sampling_caption(proj):
        st.caption(sampled)

try:
    nb = compute.neighbours(library, analysis, config.replace(space=space), int(row), int(k), metric, bool(other))
except EngineError as exc:  # e.g. the invariant space under the thesis's 17 features: fall back to classical, saying so
    space = similar.usable(space, exc)
    try:
        nb = compute.neighbours(library, analysis, config.replace(space=space), int(row), int(k), metric, bool(other))
    except EngineError as exc:
        controls.fail(exc)

st.subheader(f"The {len(nb)} closest sections to {charts.section_label(nb.query_name, nb.query_section, frame['start_s'].iloc[row], frame['end_s'].iloc[row])}")
if len(nb) == 0:
    st.info("No other sections to compare with: turn off *Only sections of other tracks* or add tracks.")
    st.stop()
found = nb.meta.copy()
found["cluster"] = frame["cluster"].to_numpy()[nb.rows]
listing = pd.DataFrame(
    {
        "#": range(1, len(found) + 1),
        "track": found["name"].astype(str),
        "section": found["section"].astype(int),
        "from": found["start_s"].map(charts.mmss),
        "to": found["end_s"].map(charts.mmss),
        "distance": found["distance"].round(4),
        "cluster": found["cluster"].astype(int),
    }
)
for col, label in (("bpm", "BPM"), ("camelot", "key (Camelot)"), ("energy_level", "energy")):
    if col in frame.columns:  # tempo, key and energy of each neighbour, for a DJ
        listing[label] = frame[col].to_numpy()[nb.rows]
picked = st.dataframe(
    listing,
    hide_index=True,
    width="stretch",
    on_select="rerun",
    selection_mode="single-row",
    key="sim_table",
    column_config={
        "distance": st.column_config.NumberColumn(help=f"{metric} distance in the {similar.LABELS[space]} space; smaller is closer"),
        "BPM": st.column_config.NumberColumn(format="%.1f"),
    },
)
st.caption(similar.caption(space, metric, config.scaler) + (" The classical part uses the clustering's features and scaling." if space != "musicnn" else ""))
if nb.index != "exact":  # a large library: say which index answered
    st.caption(f"Searched with {nb.index}.")
chosen = picked.selection.rows[0] if picked and picked.selection.rows else 0
a, b = st.columns(2)
with a:
    st.markdown("**This section**")
    player.section(frame.iloc[row], heading=True, show_spectrogram=False)
with b:
    st.markdown(f"**Candidate #{chosen + 1}** (click a row above to choose another)")
    player.section(found.iloc[chosen], heading=True, show_spectrogram=False)

st.subheader("Take it with you")
playlist = pd.concat([frame.iloc[[row]], found], ignore_index=True)
saved.save_box(playlist, title=f"near {nb.query_name} section {nb.query_section}", analysis=analysis, config_digest=nb.config_digest, key="sim_saved")
downloads.playlist_buttons(
    playlist,
    digest=nb.config_digest,
    title=f"CrateMap: near {nb.query_name} section {nb.query_section}",
    stem=f"cratemap-similar-{nb.query_section}",
    key="sim_playlist",
    table_digest=analysis.section_digest(),
)
st.caption("The playlists play only each section (VLC reads the start and stop times); the file paths are where this server keeps the audio.")
dj.dj_buttons(library, analysis, config, playlist, playlist=("Similar sections", f"near {nb.query_name} section {nb.query_section}"), key="sim_dj")
c1, c2, c3 = st.columns(3)
with c1:
    downloads.table_button(compute.sections(library, analysis), label="Features of every section (CSV)", file_name="cratemap-features.csv", key="dl_features")
with c2:
    downloads.table_button(result, label="Cluster assignments (CSV)", file_name="cratemap-assignments.csv", key="dl_assign")
with c3:
    downloads.projector_button(result, label="Embedding Projector files", stem="cratemap-projector", key="dl_projector")
