"""Download buttons whose files are built only when clicked (``st.download_button`` with a callable).

In public mode (see :mod:`ui.media`) each file travels inside the page, and
no file names a server path: playlists list each track by the name the
visitor gave it (a path relative to their own music folder), and tables
leave out the ``path`` column.
"""

from __future__ import annotations

import dataclasses
import io
import tempfile
import zipfile
from pathlib import Path
from typing import Callable

import pandas as pd
import streamlit as st

from engine.store import export
from engine.errors import EngineError
from engine.records import ClusterResult, SectionTable

from . import deploy, media


def _via_file(write: Callable[[Path], object], suffix: str) -> bytes:
    """Run an engine writer into a temporary file and return its bytes."""
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / f"out{suffix}"
        write(path)
        return path.read_bytes()


def _safe(build: Callable[[], bytes]) -> Callable[[], bytes]:
    def run() -> bytes:
        try:
            return build()
        except EngineError as exc:  # the click cannot show a message; the file says what went wrong
            return f"CrateMap could not build this file: {deploy.said(exc)}\n".encode()

    return run


#: The playlist buttons: format, label, MIME type.
_PLAYLISTS = (("xspf", "Playlist for VLC (XSPF)", "application/xspf+xml"), ("m3u", "Playlist (M3U)", "audio/x-mpegurl"))


def playlist_buttons(sections: pd.DataFrame, *, digest: str, title: str, stem: str, key: str, table_digest: str = "") -> None:
    """XSPF and M3U playlists of ``sections`` (rows with name, section, start_s, end_s, path).

    ``table_digest`` names the section table (the analysis) the rows came from; it is written beside ``digest``.
    """
    frame = sections.copy()
    if deploy.is_public() and "name" in frame:
        frame["path"] = frame["name"]  # relative to the visitor's own music folder; the server's paths stay on the server
    frame.attrs["config_digest"] = digest
    if table_digest:
        frame.attrs["table_digest"] = table_digest
    for column, (fmt, label, mime) in zip(st.columns(2), _PLAYLISTS):
        with column:
            media.download(
                label,
                _safe(lambda fmt=fmt: _via_file(lambda p: export.write_playlist(frame, p, format=fmt, title=title), f".{fmt}")),
                file_name=f"{stem}.{fmt}",
                mime=mime,
                key=f"{key}_{fmt}",
                icon=":material/playlist_play:",
            )


def _private(data):
    """``data`` without its ``path`` column in public mode (as it is, locally)."""
    if not deploy.is_public():
        return data
    if isinstance(data, pd.DataFrame):
        return data.drop(columns=["path"], errors="ignore")
    if isinstance(data, SectionTable):
        return dataclasses.replace(data, meta=data.meta.drop(columns=["path"], errors="ignore"))
    if isinstance(data, ClusterResult):
        return dataclasses.replace(data, data=dataclasses.replace(data.data, meta=data.data.meta.drop(columns=["path"], errors="ignore")))
    return data


def table_button(data, *, label: str, file_name: str, key: str) -> None:
    """A table (sections or a clustering) as CSV, with its config digest in a column."""
    data = _private(data)
    media.download(
        label,
        _safe(lambda: _via_file(lambda p: export.write_table(data, p, format="csv"), ".csv")),
        file_name=file_name,
        mime="text/csv",
        key=key,
        icon=":material/table:",
    )


def projector_button(data, *, label: str, stem: str, key: str, meta: pd.DataFrame | None = None, digest: str | None = None) -> None:
    """TensorFlow Embedding Projector files (vectors.tsv and metadata.tsv) in one zip."""

    def build() -> bytes:
        with tempfile.TemporaryDirectory() as tmp:
            vec, met = export.write_projector(data, Path(tmp) / "vectors.tsv", Path(tmp) / "metadata.tsv", meta=meta, config_digest=digest)
            buf = io.BytesIO()
            with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
                zf.write(vec, f"{stem}/vectors.tsv")
                zf.write(met, f"{stem}/metadata.tsv")
            return buf.getvalue()

    data, meta = _private(data), (None if meta is None else _private(meta))
    media.download(
        label,
        _safe(build),
        file_name=f"{stem}.zip",
        mime="application/zip",
        key=key,
        icon=":material/scatter_plot:",
        help="Load both files at projector.tensorflow.org (Load → vectors, then metadata).",
    )
