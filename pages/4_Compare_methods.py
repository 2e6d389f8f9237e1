"""Compare methods: the classical and the neural clustering, section by section, after aligning their cluster ids."""

from __future__ import annotations

import numpy as np
import pandas as pd
import streamlit as st

from engine.analysis.compare import compare_labels, pieces_to_sections
from engine.errors import EngineError
from ui import charts, compute, controls, neural, page, player
from ui.library import require_library

page.setup("Compare methods")
st.title("Compare methods")
st.caption(
    "Do the classical features and the network agree on what sounds alike? Cluster numbers are arbitrary, so the neural "
    "clusters are first matched to the classical ones (the Hungarian method: the pairing that agrees on the most sections)."
)

analysed = require_library()
library, analysis = analysed.library, analysed.config
table = compute.model_table(library, analysis)
classical_cfg = controls.cluster_controls(table.names, len(table), heading="Classical clustering")
econfig = neural.embed_config()
neural.require_embeddings(library, analysis, econfig, seconds_of_audio=analysed.result.seconds_of_audio, key="cmp_compute")
try:
    pieces = neural.table(library, analysis, econfig, "pieces")
except EngineError as exc:
    controls.fail(exc)
neural_cfg = controls.cluster_controls(pieces.table.names, len(pieces), prefix="nn_", heading="Neural clustering (of pieces)")

try:
    classical = compute.clustering(library, analysis, classical_cfg)
    nn = neural.clustering(library, analysis, econfig, "pieces", neural_cfg)
except EngineError as exc:
    controls.fail(exc)

# the neural cluster of a section is the most common cluster of its pieces
piece_frame = nn.assignments()[["name", "section", "cluster"]]
try:
    by_section = pieces_to_sections(piece_frame, keys=("name", "section"), label="cluster")
except EngineError as exc:
    controls.fail(exc)
frame = compute.cluster_frame(classical)
neural_labels, found = by_section.labels_for(frame)
frame = frame[found].reset_index(drop=True)
neural_labels = neural_labels[found]
if len(frame) < 2:
    st.error("Too few sections have both a classical and a neural cluster to compare.")
    st.stop()
try:
    cmp = compare_labels(frame["cluster"].to_numpy(), neural_labels, names=("classical", "neural"))
except EngineError as exc:
    controls.fail(exc)
to_classical = {b: a for a, b in cmp.mapping}
aligned = np.array([to_classical.get(int(b), -99) for b in neural_labels])

m1, m2, m3, m4 = st.columns(4)
m1.metric("Sections compared", cmp.n)
m2.metric("Agree (after matching)", f"{cmp.agreement:.0%}", help=f"Without matching the ids: {cmp.raw_agreement:.0%}, which means nothing.")
m3.metric("Adjusted Rand index", f"{cmp.ari:.2f}", help="0: no more alike than chance; 1: the same grouping.")
m4.metric("Normalised mutual information", f"{cmp.nmi:.2f}", help="0: one tells nothing about the other; 1: either predicts the other.")
st.caption(
    f"Classical: {controls.describe(classical_cfg)}. Neural: {neural.MODELS[econfig.model]}, "
    f"{controls.describe(neural_cfg, features=False)}, on pieces; a section takes its pieces' most common cluster "
    f"({by_section.n_ties} sections had a tie, given to the smaller cluster number)."
)

left, right = st.columns([3, 2], gap="medium")
with left:
    listing = pd.DataFrame(
        {
            "track": frame["name"].astype(str),
            "section": frame["section"].astype(int),
            "from": frame["start_s"].map(charts.mmss),
            "to": frame["end_s"].map(charts.mmss),
            "classical": frame["cluster"].astype(int),
            "neural (matched)": [int(a) if a != -99 else None for a in aligned],
            "agree": frame["cluster"].to_numpy() == aligned,
            "neural (raw id)": neural_labels.astype(int),
        }
    )
    only = st.segmented_control("Show", ["all", "disagreements"], default="all", key="cmp_filter")
    shown = listing if only != "disagreements" else listing[~listing["agree"]]
    picked = st.dataframe(
        shown,
        hide_index=True,
        width="stretch",
        height=420,
        on_select="rerun",
        selection_mode="single-row",
        key="cmp_table",
        column_config={
            "track": st.column_config.TextColumn(width="medium"),
            "agree": st.column_config.CheckboxColumn("agree"),
        },
    )
    st.caption("Click a row to hear that section.")
with right, st.container(key="compare_listen_panel"):
    rows = picked.selection.rows if picked else []
    if rows:
        r = int(shown.index[rows[0]])
        sec = frame.iloc[r]
        st.markdown(
            f"#### Classical {charts.cluster_name(int(sec['cluster']))} · neural "
            f"{charts.cluster_name(int(aligned[r])) if aligned[r] != -99 else 'unmatched'}"
        )
        player.section(sec, key="compare")
    else:
        st.info("Click a row of the table to hear that section and see its spectrogram.")

matched = cmp.contingency.copy()
# neural clusters in the order of the classical ones they were matched to, so agreement lies on the diagonal
order = sorted(matched.columns, key=lambda c: (to_classical.get(int(c), 10**6), int(c)))
matched = matched[order]
matched.columns = [f"{c} → {to_classical[int(c)]}" if int(c) in to_classical else f"{c} (unmatched)" for c in matched.columns]
st.plotly_chart(
    charts.contingency(
        matched,
        x_title="neural cluster (→ matched classical cluster)",
        y_title="classical cluster",
        title="How the two clusterings share the sections",
    ),
    config={"displaylogo": False},
)
st.caption("Each cell counts the sections in one classical and one neural cluster; when the two agree, the counts sit on the matched pairs.")
