"""A DJ's own collection as the library (local mode): a rekordbox XML, Traktor NML or M3U, and the music it names.

The collection file is read by :func:`engine.run.collections.read_collection`.
Each track is read where the collection says it is when that file is on this
machine; otherwise from the music folder uploaded beside it, matched by the
longest tail of its path (:func:`engine.run.collections.locate_collection`).
Tracks found nowhere are listed by name and reason and never stop the others.
After the analysis, what the DJ's program knew of each track (playlists, BPM,
key, cues) is kept in the store, and the rekordbox / Traktor exports are
merged into the collection file itself (:mod:`ui.dj`).

Public mode never offers this: a visitor's paths mean nothing on the server.
"""

from __future__ import annotations

import streamlit as st

from engine.errors import EngineError
from engine.records import BatchResult, FileError, InputFile
from engine.run.collections import analysed_locations, keep_collection, locate_collection, read_collection
from engine.store.core import Store

from . import deploy
from .dj import COLLECTION_KEY

_TYPES = ["xml", "nml", "m3u", "m3u8"]
_STATE = "_collection"  # {"ids": upload ids, "collection": DJCollection, "found": {location: InputFile}, "missing": [FileError]}


def uploaders() -> None:
    """The collection file and music folder uploaders of the Library page, and what was found."""
    from .library import save_upload, save_uploads

    file = st.file_uploader(
        "Your collection: a rekordbox XML, a Traktor NML or an M3U playlist",
        type=_TYPES, key="uploader_collection",
        help="rekordbox: File → Export Collection in xml format. Traktor: the collection.nml in your Traktor folder. "
        "Tracks are read where the collection says they are when they are on this computer.",
    )  # fmt: skip
    music = st.file_uploader(
        "The music folder it points to (only for tracks not on this computer)",
        accept_multiple_files="directory", key="uploader_collection_music",
        help="Each track is matched to the uploaded file whose path ends the same way as the path the collection gives.",
    )  # fmt: skip
    if file is None:
        st.session_state.pop(_STATE, None)
        st.session_state.pop(COLLECTION_KEY, None)
        return
    ids = (getattr(file, "file_id", file.name), tuple(getattr(f, "file_id", f.name) for f in music or ()))
    held = st.session_state.get(_STATE)
    if held is None or held["ids"] != ids:
        with st.spinner("Reading the collection..."):
            try:
                saved = save_upload(file.name, file.getbuffer())
                collection = read_collection(saved.path)
            except EngineError as exc:
                st.error(f"Cannot read {file.name}: {deploy.said(exc)}")
                st.session_state.pop(_STATE, None)
                return
            given = [InputFile(p, n) for p, n in save_uploads(music, folder_upload=True).saved] if music else []
            found, missing = locate_collection(collection, given)
        held = {"ids": ids, "collection": collection, "found": found, "missing": missing}
        st.session_state[_STATE] = held
        st.session_state[COLLECTION_KEY] = {"name": file.name, "program": collection.program, "data": bytes(file.getbuffer())}
    collection = held["collection"]
    st.caption(
        f"{collection.program} collection **{file.name}**: {len(collection.tracks)} tracks, {len(collection.playlists)} playlists; "
        f"**{len(held['found'])} found**, {len(held['missing'])} not found (listed below the analysis)."
    )


def inputs() -> tuple[list[InputFile], list[str], str]:
    """The files of the uploaded collection that were found, as :func:`ui.library.current_inputs` gives them."""
    held = st.session_state.get(_STATE)
    return (list(held["found"].values()) if held else []), [], "your collection"


def missing() -> tuple[FileError, ...]:
    """The collection's tracks whose files were not found."""
    held = st.session_state.get(_STATE)
    return tuple(held["missing"]) if held else ()


def keep(store: Store, result: BatchResult) -> None:
    """Store what the collection knew of each analysed track (playlists, BPM, key, cues)."""
    held = st.session_state.get(_STATE)
    if held is None:
        return
    try:
        keep_collection(store, held["collection"], analysed_locations(held["found"], result))
    except EngineError as exc:
        st.warning(f"The collection's own cues and playlists could not be kept: {deploy.said(exc)}")
