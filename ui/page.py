"""What every page does first: page config, the password gate, the navigation."""

from __future__ import annotations

import streamlit as st

from .auth import gate

#: (file, label, icon) of every view, in menu order.
PAGES = (
    ("streamlit_app.py", "Home", ":material/home:"),
    ("pages/1_Library.py", "Library", ":material/library_music:"),
    ("pages/2_Classical_features.py", "Classical features", ":material/scatter_plot:"),
    ("pages/3_Neural_embeddings.py", "Neural embeddings", ":material/neurology:"),
    ("pages/4_Compare_methods.py", "Compare methods", ":material/compare_arrows:"),
    ("pages/5_Similar_sections.py", "Similar sections", ":material/queue_music:"),
    ("pages/6_Review.py", "Review", ":material/rate_review:"),
    ("pages/7_Mix.py", "Mix", ":material/equalizer:"),
)


def setup(title: str) -> None:
    """Configure the page, stop at the password gate when one is set, then draw the menu.

    Nothing of the page is rendered before the gate passes.
    """
    st.set_page_config(page_title=f"{title} · CrateMap", page_icon=":material/library_music:", layout="wide")
    gate()
    with st.sidebar:
        st.markdown("### CrateMap")
        for path, label, icon in PAGES:
            st.page_link(path, label=label, icon=icon)
        st.divider()
