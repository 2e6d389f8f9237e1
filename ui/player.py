"""Play a section and draw its spectrogram."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import streamlit as st

from engine.errors import EngineError

from . import charts, compute, deploy, media

#: Suffixes a browser plays natively, and their MIME types.
BROWSER_TYPES = {
    ".ogg": "audio/ogg",
    ".oga": "audio/ogg",
    ".opus": "audio/ogg",
    ".mp3": "audio/mpeg",
    ".wav": "audio/wav",
    ".wave": "audio/wav",
    ".flac": "audio/flac",
}
#: Files up to this size are sent whole and played from the section's start to its end;
#: larger ones (a long WAV) send only the section, decoded.
WHOLE_FILE_MAX_BYTES = 40 * 2**20


def _whole_seconds(t: float) -> bool:
    return abs(float(t) - round(float(t))) < 1e-3


def play(track_id: str, path: str, name: str, start_s: float, end_s: float) -> bool:
    """An audio player for one section (``st.audio`` with its start and end time).

    Returns False (after saying why) when the audio cannot be played.
    """
    if "://" in path:
        where = "in a store without its audio" if deploy.is_public() else f"at {path}"
        st.info(f"The audio of {name} is {where}; the app plays only files on its own disk.")
        return False
    if not path or not Path(path).is_file():
        st.warning(f"The audio of {name} is no longer on the server (uploads are kept only for a while); upload it again to listen.")
        return False
    suffix = Path(path).suffix.lower()
    try:
        if media.inline():  # public mode: only this section, inside the page (no URL another visitor could open)
            media.audio(compute.section_ogg(track_id, path, float(start_s), float(end_s), name), "audio/ogg")
        elif suffix in BROWSER_TYPES and Path(path).stat().st_size <= WHOLE_FILE_MAX_BYTES and _whole_seconds(start_s):
            # Streamlit's player seeks to whole seconds only (it truncates start_time), so only a section that
            # starts on a whole second is played from the file; any other (a 3-s network piece) is sent as its clip
            st.audio(path, format=BROWSER_TYPES[suffix], start_time=int(round(start_s)), end_time=int(np.ceil(end_s)))
        else:
            st.audio(compute.section_wav(track_id, path, float(start_s), float(end_s), name), format="audio/wav")
    except EngineError as exc:
        st.error(deploy.said(exc))
        return False
    return True


def spectrogram(track_id: str, path: str, name: str, start_s: float, end_s: float, *, key: str | None = None) -> None:
    """The section's log-frequency spectrogram."""
    if not path or "://" in path or not Path(path).is_file():
        return
    try:
        spec = compute.spectrogram(track_id, path, float(start_s), float(end_s), name)
    except EngineError as exc:
        st.error(deploy.said(exc))
        return
    st.plotly_chart(charts.spectrogram(spec, title="Spectrogram of this section"), key=key, config={"displaylogo": False})


def section(row, *, heading: bool = True, show_spectrogram: bool = True, key: str = "") -> None:
    """Heading, player and spectrogram of one section (a row with track_id, name, section, start_s, end_s, path)."""
    name, sec = str(row["name"]), int(row["section"])
    start, end = float(row["start_s"]), float(row["end_s"])
    if heading:
        st.markdown(f"**{name}** · section {sec} · {charts.mmss(start)}–{charts.mmss(end)}")
    play(str(row["track_id"]), str(row.get("path", "")), name, start, end)
    if show_spectrogram:
        spectrogram(str(row["track_id"]), str(row.get("path", "")), name, start, end, key=f"spec_{key}" if key else None)
