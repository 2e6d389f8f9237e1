"""Neural embeddings: the same exploration on what a music-tagging network hears in each piece or section."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import streamlit as st

from engine.neural.tags import describe_clusters
from engine.errors import EngineError, ModelError
from engine.neural.tables import piece_seconds
from ui import charts, compute, controls, deploy, neural, page, player, state
from ui.library import require_library

page.setup("Neural embeddings")
st.title("Neural embeddings")
st.caption(
    "A convolutional network trained to tag music (genre, mood, instruments) turns every few seconds of audio into a "
    "vector; sections whose vectors point the same way sound alike *to the network*."
)

analysed = require_library()
library, analysis = analysed.library, analysed.config

with st.sidebar:
    st.subheader("Network")
    models = neural.available_models()
    st.selectbox(
        "Model",
        list(models),
        format_func=models.get,
        help="VGGish appears when its weights are on the server (see README).",
        **state.bind("nn_model", options=list(models)),
    )
    levels = {"pieces": "Pieces (what the network hears at once)", "sections": "Sections (their pieces averaged)"}
    level = st.radio("Points on the map", list(levels), format_func=levels.get, **state.bind("nn_level", options=list(levels)))
econfig = neural.embed_config()
try:
    weights_file, sha = neural.model_info(econfig)
    ran = not neural.missing_tracks(library, econfig)
except ModelError as exc:
    neural.model_error(exc)
st.markdown(
    f"{'Model that ran' if ran else 'Model that will listen'}: **{neural.MODELS[econfig.model]}**, layer *{econfig.layer}* · "
    f"weights `{Path(weights_file).name}` (sha256 `{sha[:12]}…`)"
)
neural.require_embeddings(library, analysis, econfig, seconds_of_audio=analysed.result.seconds_of_audio, key="nn_compute")

try:
    et = neural.table(library, analysis, econfig, level)
except EngineError as exc:
    controls.fail(exc)
config = controls.cluster_controls(et.table.names, len(et), prefix="nn_", heading="Clustering the embeddings")
with st.sidebar:
    projections = {"pca": "PCA", "tsne": "t-SNE", "umap": "UMAP"}
    method = st.radio("Map", list(projections), format_func=projections.get, **state.bind("nn_projection", options=list(projections)))
try:
    result = neural.clustering(library, analysis, econfig, level, config)
except EngineError as exc:
    controls.fail(exc)
frame = compute.cluster_frame(result)
what = "piece" if level == "pieces" else "section"

st.caption(f"{len(result)} {what}s of {len(library)} tracks · {controls.describe(config, features=False)}. {result.metric_note.capitalize()}.")
m1, m2, m3 = st.columns(3)
m1.metric("Clusters", result.k)
m2.metric("Silhouette", "n/a" if not np.isfinite(result.silhouette) else f"{result.silhouette:.2f}")
m3.metric("Dimensions", et.table.values.shape[1], help="Numbers per vector in this layer of the network.")
for note in result.warnings:
    if note.startswith("constant columns"):  # dead units of the network: say it plainly
        n_dead = note.count("'")
        st.caption(f"{n_dead // 2} of the {et.table.values.shape[1]} numbers never change for this music (the network does not use them here); they are ignored.")
    else:
        st.warning(note)
for note in result.scale_notes:  # a large library: say which scalable method ran
    st.info(f"Large library: {note}.", icon=":material/speed:")

if et.tags is not None:
    words = describe_clusters(et.tags, et.tag_names, result.labels, top=3)
    st.markdown("**What the network's tags say about each cluster**")
    for c in sorted(words):
        st.markdown(f"- **{charts.cluster_name(c).capitalize()}** ({int((result.labels == c).sum())} {what}s): {words[c]}")

FOCUS = "neural"
focus_row = controls.row_of(frame, controls.get_focus(FOCUS))
map_col, listen_col = st.columns([3, 2], gap="medium")
with map_col:
    try:
        with st.spinner("Drawing the map..."):
            proj = neural.projection(library, analysis, econfig, level, config, method)
    except EngineError as exc:
        controls.fail(exc)
    fig = charts.cluster_scatter(
        frame, proj.points, centroids=proj.centroids, method=method, explained=proj.explained_variance_ratio,
        title=f"{what.capitalize()}s as the network hears them: click one to listen", focus_row=focus_row,
        what="piece in section" if level == "pieces" else "section",
        placed=proj.placed, seed=config.seed, keep_rows=controls.selected_rows(frame, FOCUS), colour_by=controls.map_colour(frame),
    )
    controls.section_map(fig, key="neural_map", focus=FOCUS, frame=frame)
    st.caption(charts.SQUEEZE_NOTE)
    if sampled := charts.sampling_caption(proj, what=what):
        st.caption(sampled)
    focus_row = controls.section_picker(frame, focus=FOCUS, label=f"Or pick a {what}")
with listen_col, st.container(key="neural_listen_panel"):
    if focus_row is None:
        st.info(f"Click a point to hear that {what}" + (" (about 3 seconds: what the network hears at once)." if level == "pieces" else "."))
    else:
        row = frame.iloc[focus_row]
        st.markdown(f"#### {charts.cluster_name(int(row['cluster'])).capitalize()}")
        if level == "pieces":
            st.caption(f"Piece {int(row['piece'])} of the track, inside section {int(row['section'])}.")
        player.section(row, key="neural")

tab_tracks, tab_cam = st.tabs(["Tracks and clusters", "Where the network listens (Grad-CAM)"], key="neural_tabs", on_change="rerun")
with tab_tracks:
    if tab_tracks.open:
        st.plotly_chart(charts.track_bars(frame, title=f"{what.capitalize()}s of each track, by cluster"), config={"displaylogo": False})
with tab_cam:
    if tab_cam.open:
        st.caption(
            "For a sample of each cluster's pieces, Grad-CAM shows which moments and which frequency bands made the network "
            "place the piece near its cluster's centre (brighter = more), beside the average input it saw."
        )
        per = st.slider("Pieces per cluster", 4, 32, 8, key="nn_cam_per", help="Each needs one pass back through the network.")
        maps = neural.heatmaps(library, analysis, econfig, level, config, per)
        if maps is None:  # computed when the tab is first opened (a few seconds: one backward pass per sampled piece)
            try:
                maps = neural.compute_heatmaps(library, analysis, econfig, level, config, per)
            except EngineError as exc:
                st.error(deploy.said(exc))
        if maps:
            seconds = piece_seconds(econfig.model)
            for c, hm in sorted(maps.items()):
                st.plotly_chart(
                    charts.heat_pair(
                        hm.mean_input, hm.heat, seconds=seconds,
                        title=f"{charts.cluster_name(c).capitalize()}: mean of {len(hm.members)} of its {hm.n_members} pieces "
                        f"(cosine similarity to the centre {hm.similarity:.2f})",
                    ),
                    config={"displaylogo": False},
                    key=f"cam_{c}",
                )
