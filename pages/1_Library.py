"""Library: the demo or your own folder, the analysis settings, and what the analysis found."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from engine.errors import EngineError

from ui import charts, collection, controls, deploy, page, state
from ui.library import ensure_analysed, forget_uploads, resolve_store, save_uploads, store_info

page.setup("Library")
st.title("Library")

PUBLIC = deploy.is_public()
NAMED = [s.name for s in deploy.config().stores]
SOURCES = {
    "demo": "The demo library (11 freely licensed tracks)",
    "folder": "Upload a folder",
    "files": "Upload single files",
    "store": "Open one of the shared stores" if PUBLIC else "Open an existing store (a folder or URL)",
}
if PUBLIC and not NAMED:
    del SOURCES["store"]  # the operator named no store: there is nothing else to open
if not PUBLIC:  # the server cannot read a visitor's paths, so a collection is for a local app
    SOURCES["collection"] = "A rekordbox or Traktor collection (or an M3U playlist)"

left, right = st.columns([3, 2], gap="large")
with left:
    st.radio("What to analyse", list(SOURCES), format_func=SOURCES.get, horizontal=False, **state.bind("source", options=list(SOURCES)))
    source = state.get("source")
    if source == "demo":
        st.caption(
            "Eleven real, freely licensed tracks (28 minutes): game soundtracks, techno loops, two pairs of versions "
            "of the same piece and one jazz tune for contrast. Credits and licences are in the README."
        )
    elif source == "collection":
        collection.uploaders()
    elif source == "store":
        if PUBLIC:
            st.selectbox(
                "Store",
                NAMED,
                help="The stores the operator of this CrateMap shares. Nothing is decoded: the stored "
                "measurements are read and re-cut to the settings on the right.",
                **state.bind("store_url", options=NAMED),
            )
        else:
            st.text_input(
                "Store folder or URL",
                placeholder="/data/crate-store  or  s3://bucket/crate",
                help="A store written by `python -m engine analyze` (on this machine or a Dask cluster). "
                "Any fsspec URL works once its driver is installed (s3fs for s3://, gcsfs for gs://); "
                "credentials come from the operator's named stores, the environment or $CRATEMAP_STORE_OPTIONS. "
                "Nothing is decoded: the stored measurements are read and re-cut to the settings on the right.",
                **state.bind("store_url"),
            )
            if NAMED:
                st.caption("Named stores: " + ", ".join(f"`{n}`" for n in NAMED) + " (type a name to open it).")
        choice = str(state.get("store_url")).strip()
        if choice:
            try:
                info = store_info(resolve_store(choice))
            except EngineError as exc:
                if PUBLIC:
                    st.error(f"Cannot open the store {choice}: it cannot be read right now.")
                else:
                    st.error(f"Cannot open the store at {choice}: {exc}")
                st.stop()
            size = info["bytes"]
            size_text = f"{size / 2**30:.2f} GB" if size >= 2**30 else f"{size / 2**20:.1f} MB"
            where = "" if PUBLIC else f", at `{info['root']}`"
            st.caption(
                f"**{info['tracks']:,} tracks**, {info['seconds_of_audio'] / 3600:.1f} hours of audio, "
                f"{size_text} on disk{where}."
            )
    else:
        folder = source == "folder"
        files = st.file_uploader(
            "Drop a folder of songs here" if folder else "Drop audio files here",
            accept_multiple_files="directory" if folder else True,
            help="WAV, FLAC, AIFF, OGG, Opus and MP3. In a folder, files that are not audio (cover art, cue sheets) are skipped.",
            key=f"uploader_{source}",
        )
        if files:
            ids = tuple(getattr(f, "file_id", f.name) for f in files)
            if st.session_state.get("upload_ids") != ids:
                with st.spinner(f"Saving {len(files)} files..."):
                    uploaded = save_uploads(files, folder_upload=folder)
                st.session_state["upload_ids"] = ids
                st.session_state["upload_inputs"] = uploaded.saved
                st.session_state["upload_skipped"] = uploaded.skipped
                st.session_state["upload_refused"] = uploaded.refused
        for sentence in st.session_state.get("upload_refused", []):
            st.warning(sentence)
        if PUBLIC:
            quotas, space = deploy.config().quotas, deploy.space()
            usage = space.usage()
            st.caption(
                f"Your library: **{usage.files} of {quotas.total_files} files**, {usage.bytes / 2**20:.0f} of "
                f"{quotas.total_bytes / 2**20:.0f} MB, {usage.seconds / 60:.0f} of {quotas.total_minutes:.0f} minutes of audio "
                f"(one upload: up to {quotas.upload_files} files, {quotas.upload_bytes / 2**20:.0f} MB, {quotas.upload_minutes:.0f} minutes). "
                "It is yours alone: no other visitor can list, open or hear it. "
                + (
                    "You are signed in, so it is here on your next visit (while the server keeps it) and your reviews always are."
                    if deploy.visitor().signed_in
                    else f"It is kept while you use the app and for {deploy.config().grace_s / 3600:g} hours after; "
                    + ("sign in to keep your reviews." if deploy.login_configured() else "reviews go with it.")
                )
            )
            if usage.files and st.button("Remove my music from the server", key="forget_uploads", icon=":material/delete:"):
                forget_uploads()
                st.rerun()
        else:
            held = st.session_state.get("upload_inputs", [])
            if held and not files:
                st.caption(f"Your library is the {len(held)} files you uploaded last. Drop new ones to replace them.")
with right:
    st.markdown("**Analysis settings**")
    controls.analysis_controls()
    st.caption("Changing these re-cuts the stored analysis; no audio is decoded again.")

analysed = ensure_analysed()
if analysed is None:
    if source == "store":
        st.info("Choose a store above to open it." if PUBLIC else "Give the folder or URL of a store above to open it.")
    else:
        st.info(
            "Drop your collection file above (and the music folder, if its tracks are not on this computer)."
            if source == "collection"
            else "Drop a folder (or some files) above to analyse them, or choose the demo library."
        )
    st.stop()

result = analysed.result
library = analysed.library
n_sections = 0 if result.sections is None else len(result.sections)
c1, c2, c3, c4 = st.columns(4)
c1.metric("Tracks", len(result.tracks))
c2.metric("Sections", n_sections)
c3.metric("Minutes of audio", f"{result.seconds_of_audio / 60:.1f}")
problems = [*analysed.missing, *result.errors]  # a collection's tracks not found, then files that could not be read
c4.metric("Could not be read", len(problems))

if problems:
    st.subheader(f"Files that could not be analysed ({len(problems)})")
    st.dataframe(
        pd.DataFrame([{"file": e.name, "reason": e.reason, "why": deploy.said(e.detail)} for e in problems]),
        hide_index=True,
        width="stretch",
    )
if result.duplicates:
    st.subheader(f"Duplicates ({len(result.duplicates)})")
    st.caption("Files with identical bytes are one track; only the first name is analysed.")
    st.dataframe(pd.DataFrame(result.duplicates, columns=["file", "same audio as"]), hide_index=True, width="stretch")
if analysed.skipped:
    with st.expander(f"{len(analysed.skipped)} files skipped (not audio by their names)"):
        st.write(", ".join(analysed.skipped))

if library is not None and result.sections is not None:
    meta = result.sections.meta
    per_track = meta.groupby("track_id").agg(sections=("section", "size"), representative=("selected", "sum"))
    rows = []
    by_id = {t.track_id: t for t in result.tracks}
    for tid, name in zip(library.track_ids, library.names):
        t = by_id.get(tid)
        rows.append(
            {
                "track": name,
                "length": charts.mmss(t.duration_s) if t else "",
                "sections": int(per_track.loc[tid, "sections"]) if tid in per_track.index else 0,
                "representative": int(per_track.loc[tid, "representative"]) if tid in per_track.index else 0,
                "format": t.format if t else "",
                "channels": t.channels if t else 0,
                "sample rate (Hz)": t.native_sample_rate if t else 0,
                "from the store": tid in result.from_store,
            }
        )
    st.subheader(f"Tracks ({len(rows)})")
    st.dataframe(pd.DataFrame(rows), hide_index=True, width="stretch", height=min(38 + 35 * len(rows), 640))
    if source == "store":
        st.caption(f"Read from the store in {result.wall_s:.1f} s; no audio was decoded.")
    else:
        st.caption(
            f"Analysed in {result.wall_s:.1f} s. Tracks marked *from the store* were analysed before "
            "(the store keeps every track's measurements by the sha256 of its bytes)."
        )
    st.page_link("pages/2_Classical_features.py", label="Explore the clusters", icon=":material/scatter_plot:")
