"""Saving a result (the nearest sections of one section) so it survives restarts and goes into every DJ export.

The results live in the review database, each visitor's their own
(:class:`engine.store.saved.SavedResults` through :func:`ui.reviews.saved`).
"""

from __future__ import annotations

import pandas as pd
import streamlit as st

from engine.config import AnalysisConfig
from engine.errors import EngineError

from . import deploy, reviews


def save_box(sections: pd.DataFrame, *, title: str, analysis: AnalysisConfig, config_digest: str, key: str) -> None:
    """A title box and a Save button for ``sections`` (in order), and the list of results saved under this analysis."""
    digest = analysis.section_digest()
    if failed := st.session_state.pop("_saved_error", None):  # from a Delete click
        st.error(f"Could not delete: {failed}")
    name_col, button_col = st.columns([4, 1], vertical_alignment="bottom")
    name = name_col.text_input("Save this result as", value=title, key=f"{key}_title", max_chars=200)
    if button_col.button("Save", key=f"{key}_save", icon=":material/bookmark_add:"):
        try:
            reviews.saved().save(sections, title=name, kind="similar", section_digest=digest, config_digest=config_digest)
        except EngineError as exc:
            st.error(f"Could not save: {deploy.said(exc)}")
        else:
            st.toast(f"Saved “{name.strip()}”: it is a playlist in every rekordbox and Traktor export.")
    try:
        saved = reviews.saved().results(section_digest=digest, kind="similar")
    except EngineError as exc:
        st.warning(f"The saved results cannot be read right now: {deploy.said(exc)}")
        return
    if not saved:
        st.caption("Saved results are kept with your reviews, and each becomes a playlist in the rekordbox and Traktor exports.")
        return
    with st.expander(f"Saved results ({len(saved)})", icon=":material/bookmarks:"):
        for result in saved:
            text_col, delete_col = st.columns([5, 1], vertical_alignment="center")
            tracks = len({s.track_id for s in result.sections})
            text_col.markdown(f"**{result.title}** · {len(result.sections)} sections of {tracks} tracks · saved {result.created_utc[:16].replace('T', ' ')} UTC")
            delete_col.button("Delete", key=f"{key}_delete_{result.id}", on_click=_delete, args=(result.id,), icon=":material/delete:")


def _delete(result_id: int) -> None:
    try:
        reviews.saved().delete(result_id)
    except EngineError as exc:
        st.session_state["_saved_error"] = deploy.said(exc)
