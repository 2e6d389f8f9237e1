"""Classical features: cluster sections by how they sound, choose k, listen, and see why."""

from __future__ import annotations

import numpy as np
import streamlit as st

from engine.errors import EngineError
from ui import charts, compute, controls, deploy, dj, mix, page, player, state

page.setup("Classical features")
st.title("Classical features")

library, analysis, table, config, result = controls.clustered_library()
with st.sidebar:
    projections = {"pca": "PCA (fast, keeps straight-line spread)", "tsne": "t-SNE (keeps neighbours)", "umap": "UMAP (keeps neighbours)"}
    method = st.radio("Map", list(projections), format_func=projections.get, **state.bind("projection", options=list(projections)))
frame = mix.add_descriptors(compute.cluster_frame(result), library, analysis)  # BPM, key, energy in hovers and tables
colour_by = controls.map_colour(frame)

st.caption(f"{len(result)} sections of {len(library)} tracks · {controls.describe(config)}. {result.metric_note.capitalize()}.")
m1, m2, m3, m4 = st.columns(4)
m1.metric("Clusters", result.k, help="Clusters found (HDBSCAN chooses the number itself).")
m2.metric("Silhouette", "n/a" if not np.isfinite(result.silhouette) else f"{result.silhouette:.2f}",
          help="From -1 to 1: how much closer sections are to their own cluster than to the next one.")
m3.metric("Davies–Bouldin", "n/a" if not np.isfinite(result.davies_bouldin) else f"{result.davies_bouldin:.2f}",
          help="Lower is better: clusters compact and far apart.")
if result.fpc is not None:
    m4.metric("Fuzzy partition coefficient", f"{result.fpc:.2f}", help=f"1 is crisp, {1 / max(result.k, 1):.2f} is no structure at all.")
elif result.method == "hdbscan":
    m4.metric("Noise", f"{result.n_noise} sections", help="Sections HDBSCAN put in no cluster.")
else:
    m4.metric("Calinski–Harabasz", f"{result.calinski_harabasz:.0f}", help="Higher is better: spread between clusters over spread within.")
for note in result.warnings:
    st.warning(note)
for note in result.scale_notes:  # a large library: say which scalable method ran
    st.info(f"Large library: {note}.", icon=":material/speed:")

# ----------------------------------------------------------------------------- the map and the section
FOCUS = "classical"
focus_row = controls.row_of(frame, controls.get_focus(FOCUS))
sel = controls.selected_rows(frame, FOCUS)
map_col, listen_col = st.columns([3, 2], gap="medium")
with map_col:
    try:
        with st.spinner("Drawing the map (UMAP compiles itself on first use: about 20 s)..." if method == "umap" else "Drawing the map..."):
            proj = compute.projection(library, analysis, config, method)
    except EngineError as exc:
        controls.fail(exc)
    fig = charts.cluster_scatter(
        frame,
        proj.points,
        centroids=proj.centroids,
        method=method,
        explained=proj.explained_variance_ratio,
        title="Sections by sound: click one to hear it",
        focus_row=focus_row,
        placed=proj.placed,
        seed=config.seed,
        keep_rows=sel,
        colour_by=colour_by,
    )
    controls.section_map(fig, key="classical_map", focus=FOCUS, frame=frame)
    note = "Box and lasso selection are in the chart's toolbar. " + charts.SQUEEZE_NOTE
    if proj.explained_variance_ratio:
        note = f"The two axes keep {sum(proj.explained_variance_ratio):.0%} of the spread of the sections. " + note
    st.caption(note)
    if sampled := charts.sampling_caption(proj):
        st.caption(sampled)
    focus_row = controls.section_picker(frame, focus=FOCUS)

with listen_col, st.container(key="listen_panel"):
    if focus_row is None:
        st.info("Click a point on the map (or pick a section below it) to hear that section, see its spectrogram and why it landed in its cluster.")
    else:
        row = frame.iloc[focus_row]
        c = int(row["cluster"])
        st.markdown(f"#### {charts.cluster_name(c).capitalize()}")
        player.section(row, key="classical")

# ----------------------------------------------------------------------------- why: SHAP
if result.k >= 2:
    try:
        expl = compute.explanation(library, analysis, config)
    except EngineError as exc:
        expl = None
        st.warning(f"No explanation for this clustering: {deploy.said(exc)}")
    if expl is not None:
        why_col, summary_col = st.columns(2, gap="medium")
        focus_cluster = int(frame["cluster"].iloc[focus_row]) if focus_row is not None else None
        with why_col:
            if focus_row is None:
                st.plotly_chart(charts.importance_bars(expl.ranking(), cluster=None), config={"displaylogo": False})
            elif focus_cluster < 0:
                st.info("This section is noise: HDBSCAN put it in no cluster, so there is nothing to explain.")
            else:
                try:
                    one = expl.section(focus_row)
                except EngineError:
                    st.info("This section was not in the sample the explanation was trained on (large libraries are sampled).")
                else:
                    st.plotly_chart(
                        charts.shap_waterfall(one.values, one.data, one.names, base=one.base_value, predicted=one.predicted, cluster=one.cluster),
                        config={"displaylogo": False},
                    )
        with summary_col:
            shown = focus_cluster if focus_cluster is not None and focus_cluster >= 0 else 0
            clusters = list(expl.clusters)
            if shown not in clusters:
                shown = clusters[0]
            pick = st.selectbox("Cluster to summarise", clusters, index=clusters.index(shown), format_func=charts.cluster_name,
                                key=f"shap_cluster_{shown}")
            st.plotly_chart(charts.importance_bars(expl.ranking(int(pick)), cluster=int(pick)), config={"displaylogo": False})
        st.caption(
            f"SHAP values explain a random forest that predicts the clusters from the features with accuracy "
            f"{expl.fidelity:.0%} on {expl.n_test_songs} of {expl.n_songs} songs it was not trained on (always guessing the largest cluster: {expl.baseline:.0%}). {expl.note.split('. ', 1)[-1]}"
        )

# ----------------------------------------------------------------------------- the selection
if len(sel) > 1:
    st.subheader(f"Your selection: {len(sel)} sections")
    dj_cols = [c for c in ("bpm", "camelot", "energy_level") if c in frame.columns]
    shown = frame.iloc[sel][["name", "section", "start_s", "end_s", "cluster", *dj_cols]].copy()
    shown["start"] = shown["start_s"].map(charts.mmss)
    shown["end"] = shown["end_s"].map(charts.mmss)
    st.dataframe(
        shown[["name", "section", "start", "end", "cluster", *dj_cols]].rename(columns={"name": "track", "bpm": "BPM", "camelot": "key (Camelot)", "energy_level": "energy"}),
        hide_index=True,
        width="stretch",
        column_config={"BPM": st.column_config.NumberColumn(format="%.1f")},
    )

# ----------------------------------------------------------------------------- more views
# tabs run lazily: only the open one is computed, so changing k or the method never waits for a k sweep
tab_tracks, tab_k, tab_clusters, tab_fuzzy, tab_corr = st.tabs(
    ["Tracks and clusters", "Choosing k", "What each cluster holds", "Memberships", "Features that move together"],
    key="classical_tabs",
    on_change="rerun",
)
with tab_k:
    if not tab_k.open:
        pass
    elif result.method == "hdbscan":
        st.info("HDBSCAN chooses the number of clusters itself; switch to K-Means, fuzzy c-means or agglomerative to compare k.")
    else:
        try:
            slow = " Fuzzy c-means takes longest (about 15 s)." if result.method == "fcm" else ""
            with st.spinner(f"Scoring k = 2 to {compute.sweep_range(len(result))[1]}, resampling each for stability...{slow}"):
                sweep = compute.k_sweep_for(library, analysis, config)
        except EngineError as exc:
            st.warning(f"Cannot score k here: {deploy.said(exc)}")
        else:
            st.plotly_chart(charts.k_choice(sweep, current_k=config.k), config={"displaylogo": False})
            st.markdown(f"**Suggested k = {sweep.suggested_k}.** {sweep.reason}")
            if sweep.suggested_k != config.k:
                st.button(f"Use k = {sweep.suggested_k}", on_click=state.put, args=("k", sweep.suggested_k))
with tab_tracks:
    if tab_tracks.open:
        st.plotly_chart(charts.track_bars(frame), config={"displaylogo": False})
with tab_clusters:
    summ = compute.summaries(library, analysis, config) if tab_clusters.open else ()
    for s in summ:
        tracks = ", ".join(f"{n} ({v})" for n, v in s.tracks[:4]) + (" ..." if len(s.tracks) > 4 else "")
        top = np.argsort(-np.abs(s.profile_z))[:3]
        traits = ", ".join(f"{'high' if s.profile_z[i] > 0 else 'low'} {s.names[i]}" for i in top)
        with st.expander(f"{charts.cluster_name(s.cluster).capitalize()}: {s.size} sections ({s.share:.0%}) · {traits}"):
            st.write(f"Tracks: {tracks}")
            st.markdown("Most typical sections (closest to the centre); *Listen* plays one at the top of the page:")
            for r in s.typical:
                rr = frame.iloc[r]
                a, b = st.columns([5, 1])
                a.markdown(f"- {charts.section_label(rr['name'], rr['section'], rr['start_s'], rr['end_s'])}")
                b.button("Listen", key=f"typical_{s.cluster}_{r}", on_click=controls.set_focus, args=(FOCUS, controls.section_key(frame, r)))
    if tab_clusters.open:
        st.markdown(
            "**Take the clusters to your DJ software:** one crate per cluster, a memory cue at every section and a hot cue "
            "at each cluster's most typical section of a track, in the map's colours"
            + (f", and your selection of {len(sel)} sections as a playlist." if len(sel) > 1 else ".")
        )
        picked = frame.iloc[sel] if len(sel) > 1 else None
        dj.dj_buttons(library, analysis, config, picked, playlist=("Selections", f"{len(sel)} sections picked on the map"), key="classical_dj")
with tab_fuzzy:
    if not tab_fuzzy.open:
        pass
    elif result.memberships is None:
        st.info("Memberships exist for fuzzy c-means: choose it as the method to see how strongly each section belongs to each cluster.")
    else:
        cols = [f"membership_{j}" for j in range(result.memberships.shape[1])]
        fz = frame[["name", "section", "start_s", "end_s", "cluster", "boundary", *cols]].copy()
        fz = fz.sort_values(["boundary", "cluster"], ascending=[False, True])
        n_b = int(fz["boundary"].sum())
        st.markdown(
            f"**{n_b} boundary sections**: their two strongest memberships are within "
            f"{config.fcm_margin:.0%} of each other, so they sit between clusters (listed first)."
        )
        st.dataframe(
            fz.rename(columns={"name": "track"}),
            hide_index=True,
            width="stretch",
            column_config={c: st.column_config.ProgressColumn(f"cluster {c.split('_')[1]}", min_value=0.0, max_value=1.0, format="%.2f") for c in cols},
        )
with tab_corr:
    if tab_corr.open:
        try:
            report = compute.correlations(library, analysis, result.data.names)
        except EngineError as exc:
            st.warning(f"Cannot compare the features: {deploy.said(exc)}")
        else:
            if not report.pairs:
                st.info("No two features in use move together closely (|r| above 0.9).")
            else:
                st.markdown(
                    f"**{len(report.pairs)} pairs of features move together** (Pearson |r| above {report.threshold:.1f}): "
                    "they measure nearly the same thing, so together they count double in every distance. "
                    f"Leaving out {', '.join(report.suggested_drop)} would clear every pair (choose *Pick features...* in the sidebar)."
                )
                st.dataframe(report.to_frame().rename(columns={"a": "feature", "b": "moves with", "r": "correlation r"}),
                             hide_index=True, width="stretch")
