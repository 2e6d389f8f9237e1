"""Which space "similar" searches, for the Similar sections and Mix pages: the control, the words and the embeddings.

The default is the invariant space (classical features and musicnn
embeddings fused, then projected so that re-encoding, a semitone, 4 % of
tempo, EQ or gain move a section little; see engine/analysis/spaces.py): on
the demo library and its transformed copies (bench/similarity.py), scored
on tracks its projection was not fitted on, it finds MP3 copies better than
the musicnn space and remakes better than the classical one. It needs every
track's musicnn embeddings; until the network has listened to them all,
similar uses the classical space and the page says so, with a button to
compute them. The network only runs on real weights from engine/models/.
"""

from __future__ import annotations

import numpy as np
import streamlit as st

from engine.analysis.spaces import EMBEDDING_SPACES, SPACES, space_prepared
from engine.config import AnalysisConfig, ClusterConfig, EmbedConfig
from engine.errors import EngineError
from engine.records import SectionTable

from . import compute, neural
from .library import Library

#: The space used when the embeddings are there.
DEFAULT_SPACE = "invariant"
LABELS = {
    "invariant": "Invariant: features + musicnn, robust to re-encoding (recommended)",
    "fused": "Fused: features + musicnn",
    "classical": "Classical features",
    "musicnn": "musicnn embeddings",
}
#: One line each: what the space compares.
WHAT = {
    "invariant": (
        "the classical features and the musicnn embeddings together, projected so that what an MP3 re-encode, "
        "a semitone, 4 % of tempo, EQ or gain change in a section counts little"
    ),
    "fused": "the classical features and the musicnn embeddings together, each normalised and weighted half and half",
    "classical": "the classical features (timbre, spectrum, rhythm statistics), scaled as for the clustering",
    "musicnn": "the musicnn network's embeddings of each section (the mean of its 3-s pieces)",
}
#: Why the invariant space is the default, with the numbers of bench/similarity.py (tracks held out of the fit).
WHY = (
    "Invariant is the default: on the demo library and transformed copies of it, it found the 64 kbit/s MP3 copy "
    "of a section every time (classical features 46 %, musicnn 97 %), the other version of a remade piece 88 % of "
    "the time (classical 84 %, musicnn 84-90 %), mean average precision 0.82 (classical 0.68, musicnn 0.64); "
    "see bench/similarity.py."
)


def missing(library: Library) -> list[str] | None:
    """Track ids without musicnn embeddings; None when the network cannot run here at all."""
    try:
        return neural.missing_tracks(library, EmbedConfig())
    except EngineError:
        return None


def space_control(library: Library, analysis: AnalysisConfig, *, key: str, seconds_of_audio: float) -> str:
    """A sidebar selector of the space; returns the space to use (classical while embeddings are missing)."""
    lacking = missing(library)
    ready = lacking is not None and not lacking
    with st.sidebar:
        options = list((DEFAULT_SPACE, *[s for s in SPACES if s != DEFAULT_SPACE]))
        chosen = st.selectbox(
            "Similar by", options, index=0 if ready else options.index("classical"), format_func=LABELS.get, key=key,
            help="What 'similar' compares. " + WHY,
        )  # fmt: skip
    if chosen not in EMBEDDING_SPACES or ready:
        return chosen
    if lacking is None:
        st.info(f"The {LABELS[chosen]} space needs the musicnn network, which cannot run on this server: similar uses the classical features.")
        return "classical"
    st.info(
        f"The {LABELS[chosen]} space needs musicnn embeddings of every track, and the network has not listened to "
        f"{len(lacking)} of your {len(library)} tracks yet: until it has, similar uses the classical features."
    )
    if st.button("Listen with musicnn now", key=f"{key}_listen", icon=":material/hearing:"):
        minutes = seconds_of_audio / 60 * len(lacking) / max(len(library), 1)
        neural.compute_embeddings(library, analysis, EmbedConfig(), minutes=minutes)
        st.rerun()
    return "classical"


def usable(space: str, exc: Exception) -> str:
    """After ``space`` failed with ``exc``: say so and give the classical space (or stop, when that failed)."""
    from . import controls, deploy

    if space == "classical":
        controls.fail(exc)
    st.warning(f"Similar by {LABELS[space]} cannot be used with these settings ({deploy.said(exc)}); it uses the classical features.")
    return "classical"


def embeddings(library: Library, analysis: AnalysisConfig) -> SectionTable:
    """The representative sections' mean musicnn embeddings (from the store)."""
    return neural.table(library, analysis, EmbedConfig(), "sections").table


@st.cache_data(max_entries=4, show_spinner=False)
def mix_timbre(library: Library, analysis: AnalysisConfig, table_digest: str, space: str, _table) -> np.ndarray | None:
    """The Mix page's timbre vectors in ``space`` (one row per section of the mix table ``_table``); None = classical.

    ``table_digest`` (with the library and analysis) keys the cache; the table itself is not hashed.
    """
    if space == "classical":
        return None  # the engine's own default: the z-scored features
    from engine.neural.tables import embedding_table

    emb = embedding_table(neural.pieces(library, analysis, EmbedConfig()), _table.sections, level="sections").table
    return space_prepared(_table.sections, config=ClusterConfig(scaler="zscore", space=space), embeddings=emb).X


def caption(space: str, metric: str, scaler: str) -> str:
    """One line under the results: the space searched and the distance."""
    scaled = f", {scaler}-scaled" if space == "classical" else ""
    return f"Similar by **{LABELS[space]}**: {metric} distance on {WHAT[space]}{scaled}."


def audio_seconds(library: Library, analysis: AnalysisConfig) -> float:
    """Seconds of audio in the library (for the embedding time estimate)."""
    meta = compute.sections(library, analysis).meta
    return float(meta.groupby("track_id")["end_s"].max().sum())
