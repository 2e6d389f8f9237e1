"""Export to rekordbox / Traktor: the library's beat grids, cues and cluster crates, plus the playlist on screen.

The file is built only when its button is clicked (:func:`ui.media.download`).
Locally each track is located where this machine reads it. In public mode the
server never knows where the visitor keeps their music: they type the folder
(``D:\\Music``, ``/Users/me/Music``) and each upload's own relative path is
placed under it (:func:`engine.store.locations.under_root`).
"""

from __future__ import annotations

from typing import Callable

import pandas as pd
import streamlit as st

from engine.config import AnalysisConfig, ClusterConfig
from engine.errors import EngineError
from engine.mixing.crates import dj_crates
from engine.records import DJPlaylist
from engine.store.locations import under_root
from engine.store.rekordbox import write_rekordbox
from engine.store.traktor import write_traktor

from . import deploy, media
from .library import Library

_FORMATS = (
    ("rekordbox", "Export to rekordbox (XML)", ".xml", "application/xml", write_rekordbox),
    ("traktor", "Export to Traktor (NML)", ".nml", "application/xml", write_traktor),
)


def dj_buttons(library: Library, analysis: AnalysisConfig, cluster: ClusterConfig, rows: pd.DataFrame, *, playlist: tuple[str, str], key: str) -> None:
    """rekordbox and Traktor download buttons: every track with grid and cues, one crate per cluster, and
    ``rows`` (``track_id`` in order) as the playlist ``playlist`` (folder, name).

    In public mode a text box asks for the visitor's music folder first.
    """
    root = ""
    if deploy.is_public():
        root = st.text_input(
            "Your music folder, as your computer names it", key=f"{key}_root", placeholder="D:\\Music or /Users/me/Music",
            help="rekordbox and Traktor find each track under this folder, by the path it had in the folder you uploaded.",
        ).strip()  # fmt: skip
        if not root:
            st.caption("Type the folder your uploaded music lives in on your computer to export to rekordbox or Traktor.")
            return
    order = tuple(dict.fromkeys(str(t) for t in rows["track_id"]))
    for column, (fmt, label, suffix, mime, write) in zip(st.columns(2), _FORMATS):
        with column:
            media.download(
                label, _build(library, analysis, cluster, order, playlist, root, write), file_name=f"cratemap{suffix}", mime=mime,
                key=f"{key}_{fmt}", icon=":material/album:",
            )  # fmt: skip


def _build(library: Library, analysis: AnalysisConfig, cluster: ClusterConfig, order, playlist, root: str, write) -> Callable[[], bytes]:
    def run() -> bytes:
        try:
            if root:
                paths = {t: under_root(root, library.name_of(t)) for t in library.track_ids}
            else:
                paths = {t: library.path_of(t) for t in library.track_ids}
            tracks, crates = dj_crates(library.store(), analysis=analysis, cluster_config=cluster, track_ids=library.track_ids, paths=paths)
            extra = DJPlaylist(path=playlist, locations=tuple(paths[t] for t in order if t in paths))
            return write(tracks, [*crates, extra])
        except EngineError as exc:  # a click cannot show a message: the file says what went wrong
            return f"CrateMap could not build this file: {deploy.said(exc)}\n".encode()

    return run
