"""Export to rekordbox / Traktor: the library's beat grids, cues and cluster crates, the saved similar-section
results, and the playlist on screen.

The file is built only when its button is clicked (:func:`ui.media.download`).
Locally each track is located where this machine reads it. In public mode the
server never knows where the visitor keeps their music: they type the folder
(``D:\\Music``, ``/Users/me/Music``) and each upload's own relative path is
placed under it (:func:`engine.store.locations.under_root`). When the library came from the DJ's
own collection (the Library page's collection upload), the file is merged into
it: their cues, grids, ratings and playlists stay, and each track keeps the
location their program gave it.
"""

from __future__ import annotations

from typing import Callable

import pandas as pd
import streamlit as st

from engine.config import AnalysisConfig, ClusterConfig
from engine.errors import EngineError
from engine.mixing.crates import dj_crates
from engine.records import DJPlaylist
from engine.run.collections import kept_collection
from engine.store.locations import under_root
from engine.store.rekordbox import write_rekordbox
from engine.store.traktor import write_traktor

from . import deploy, media, reviews
from .library import Library

_FORMATS = (
    ("rekordbox", "Export to rekordbox (XML)", ".xml", "application/xml", write_rekordbox),
    ("traktor", "Export to Traktor (NML)", ".nml", "application/xml", write_traktor),
)


def dj_buttons(
    library: Library, analysis: AnalysisConfig, cluster: ClusterConfig, rows: pd.DataFrame | None, *, playlist: tuple[str, str], key: str
) -> None:
    """rekordbox and Traktor download buttons: every track with grid and cues, one crate per cluster, one
    playlist per saved similar-sections result, and ``rows`` (``track_id`` in order; None for none) as the
    playlist ``playlist`` (folder, name).

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
    order = () if rows is None else tuple(dict.fromkeys(str(t) for t in rows["track_id"]))
    own = st.session_state.get(COLLECTION_KEY)  # the DJ's own collection, uploaded on the Library page
    job = _Job(library, analysis, cluster, order, playlist, root, reviews.saved_of(deploy.visitor().key), own)
    for column, (fmt, label, suffix, mime, write) in zip(st.columns(2), _FORMATS):
        with column:
            media.download(
                label, job.runner(fmt, write), file_name=f"cratemap{suffix}", mime=mime, key=f"{key}_{fmt}", icon=":material/album:",
            )  # fmt: skip


#: Session key of the DJ's own collection file: ``{"name", "program", "data"}`` (set by the Library page).
COLLECTION_KEY = "dj_collection"


class _Job:
    """What one export holds; the file is built when a button is clicked."""

    def __init__(self, library, analysis, cluster, order, playlist, root, saved, own) -> None:
        self.library, self.analysis, self.cluster = library, analysis, cluster
        self.order, self.playlist, self.root, self.saved, self.own = order, playlist, root, saved, own

    def runner(self, fmt: str, write) -> Callable[[], bytes]:
        def run() -> bytes:
            try:
                merge = self.own["data"] if self.own and self.own.get("program") == fmt else None
                return write(*self.contents(), merge_into=merge)
            except EngineError as exc:  # a click cannot show a message: the file says what went wrong
                return f"CrateMap could not build this file: {deploy.said(exc)}\n".encode()

        return run

    def contents(self) -> tuple[list, list[DJPlaylist]]:
        library, store = self.library, self.library.store()
        if self.root:
            paths = {t: under_root(self.root, library.name_of(t)) for t in library.track_ids}
        else:  # where the DJ's own program keeps the file, when the library came from their collection
            paths = {t: (kept_collection(store, t) or {}).get("location") or library.path_of(t) for t in library.track_ids}
        tracks, crates = dj_crates(store, analysis=self.analysis, cluster_config=self.cluster, track_ids=library.track_ids, paths=paths)
        playlists, titles = [*crates], set()
        for result in self.saved.results(section_digest=self.analysis.section_digest(), kind="similar"):
            located = tuple(paths[t] for t in dict.fromkeys(s.track_id for s in result.sections) if t in paths)
            title, n = result.title, 1
            while title in titles:  # two results saved under one title stay two playlists
                n += 1
                title = f"{result.title} ({n})"
            titles.add(title)
            if located:
                playlists.append(DJPlaylist(path=("Saved similar sections", title), locations=located))
        if self.order:
            playlists.append(DJPlaylist(path=self.playlist, locations=tuple(paths[t] for t in self.order if t in paths)))
        return tracks, playlists
