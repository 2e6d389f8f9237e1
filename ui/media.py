"""Audio players and downloads that, in public mode, have no URL another session could take.

Streamlit serves ``st.audio`` and ``st.download_button`` files from
``/media/<id>`` to anyone who has the link while the session that made them
lives. In public mode that is a route into another visitor's music, so here
the file travels inside the visitor's own page instead: the player's audio
and each download are ``data:`` URIs in the page the visitor's session
sent. Audio is a short OGG Vorbis clip of the section (tens of kB a
second), so nothing large is inlined. Local mode keeps Streamlit's own
widgets, which stream long files.
"""

from __future__ import annotations

import base64
import html
import io
from typing import Callable

import numpy as np
import soundfile as sf

import streamlit as st

from . import deploy

#: Largest file offered inline as one download (bigger ones are refused with a sentence).
INLINE_MAX_BYTES = 32 * 2**20


def _data_uri(data: bytes, mime: str) -> str:
    return f"data:{mime};base64,{base64.b64encode(data).decode('ascii')}"


def inline() -> bool:
    """True when files travel inside the page (public mode)."""
    return deploy.is_public()


def audio(data: bytes, mime: str) -> None:
    """A player for ``data`` (bytes of a whole, short audio file)."""
    if not inline():
        st.audio(data, format=mime)
        return
    if mime == "audio/wav":  # a tenth of the size inside the page
        data, mime = _wav_to_ogg(data), "audio/ogg"
    st.markdown(
        f'<audio class="cratemap-audio" controls preload="auto" style="width:100%" src="{_data_uri(data, mime)}"></audio>',
        unsafe_allow_html=True,
    )


def _wav_to_ogg(data: bytes) -> bytes:
    y, sr = sf.read(io.BytesIO(data), dtype="float32", always_2d=True)
    buf = io.BytesIO()
    sf.write(buf, np.clip(y, -1.0, 1.0), sr, format="OGG", subtype="VORBIS")
    return buf.getvalue()


def download(label: str, build: Callable[[], bytes], *, file_name: str, mime: str, key: str, icon: str | None = None, help: str | None = None) -> None:
    """A download of what ``build()`` returns (built when clicked locally; built now, inside the page, in public mode)."""
    if not inline():
        st.download_button(label, data=build, file_name=file_name, mime=mime, key=key, icon=icon, on_click="ignore", help=help)
        return
    data = build()
    if len(data) > INLINE_MAX_BYTES:
        st.caption(f"{label}: the file is {len(data) / 2**20:.0f} MB, too large to offer here.")
        return
    name = html.escape(file_name, quote=True)
    st.markdown(
        f'<a class="cratemap-download" data-key="{html.escape(key, quote=True)}" download="{name}" '
        f'href="{_data_uri(data, mime)}" style="display:inline-block;padding:0.4em 0.9em;border:1px solid rgba(250,250,250,0.2);'
        f'border-radius:0.5rem;text-decoration:none">⬇ {html.escape(label)}</a>',
        unsafe_allow_html=True,
        help=help,
    )
