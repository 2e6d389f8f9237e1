"""What every page does first: page config, the password gate, the navigation."""

from __future__ import annotations

import streamlit as st

from . import deploy, links
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
    links.restore(title)
    links.write(title)
    with st.sidebar:
        st.markdown("### CrateMap")
        for path, label, icon in PAGES:
            st.page_link(path, label=label, icon=icon)
        st.divider()
        st.caption(":material/link: This page's address links to what you see: the library, the settings and the chosen section.")
        if deploy.login_configured():
            _account()


def _account() -> None:
    """Sign in (Streamlit's OpenID Connect login, configured under ``[auth]`` in the secrets) or out."""
    if st.user.is_logged_in:
        who = st.user.get("name") or st.user.get("email") or "you"
        st.caption(f"Signed in as **{who}**: your library and reviews are kept under your account.")
        if st.button("Sign out", key="_sign_out", icon=":material/logout:"):
            st.logout()
    else:
        st.caption("Sign in to keep your library and reviews for your next visit.")
        if st.button("Sign in", key="_sign_in", icon=":material/login:"):
            st.login()
