"""CrateMap's landing page: what it does, the library at a glance, and where to go next."""

from __future__ import annotations

import streamlit as st

from engine.errors import EngineError
from ui import charts, compute, controls, page
from ui.library import require_library

page.setup("Home")

st.title("CrateMap")
st.markdown(
    "Which **sections** of which tracks belong together — and which could be mixed one after another. "
    "CrateMap cuts every track into sections, describes each by how it sounds, and groups sections that sound alike."
)

analysed = require_library()
library, result = analysed.library, analysed.result
table = compute.sections(library, analysed.config)

c1, c2, c3, c4 = st.columns(4)
c1.metric("Tracks", len(library))
c2.metric("Sections", len(table))
c3.metric("Minutes of audio", f"{result.seconds_of_audio / 60:.1f}")
c4.metric("Could not be read", len(result.errors))
st.caption(
    f"You are looking at **{analysed.label}**. Open **Library** to drop in your own folder of songs "
    "or to change how tracks are cut."
)

model = compute.model_table(library, analysed.config)
if len(model) >= 3:
    config = controls.cluster_config(model.names, len(model))
    try:
        clustering = compute.clustering(library, analysed.config, config)
    except EngineError as exc:
        controls.fail(exc)
    st.plotly_chart(
        charts.track_bars(compute.cluster_frame(clustering), title=f"Which tracks share sounds ({controls.describe(config)})"),
        config={"displaylogo": False},
    )

st.subheader("Where to go next")
views = (
    ("pages/1_Library.py", "Library", "Upload a folder or files, set the section length, see what could not be read."),
    ("pages/2_Classical_features.py", "Classical features", "Cluster sections by loudness, brightness and timbre; click a point to hear it."),
    ("pages/3_Neural_embeddings.py", "Neural embeddings", "The same map from a music-tagging neural network."),
    ("pages/4_Compare_methods.py", "Compare methods", "Where the classical and neural clusterings agree, section by section."),
    ("pages/5_Similar_sections.py", "Similar sections", "Pick a section, get the closest ones across the library as a playlist."),
    ("pages/6_Review.py", "Review", "Listen and mark assigned clusters right or wrong; your judgements are saved."),
    ("pages/7_Mix.py", "Mix", "Tempo, key and energy of a section, what mixes well after it, and a transition to hear."),
)
for path, label, blurb in views:
    icon = next(i for p, _, i in page.PAGES if p == path)
    st.page_link(path, label=f"**{label}** — {blurb}", icon=icon)
