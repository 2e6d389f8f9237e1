"""Cached wrappers over the CNN side of the engine: models, embeddings, their clusterings and Grad-CAM.

Caching decisions, written where they are made:

* the network is loaded once per process and config (``st.cache_resource``:
  a torch module is not data to copy);
* embeddings live in the store (``engine.run.embedding.embed_library`` writes
  them per track, keyed on the model config and the weights' hash); the app
  only computes them when the user asks (about 25 s for half an hour of
  audio on two cores; the demo's are shipped);
* tables, clusterings and projections of them are cached per (library,
  analysis config, embed config, level, cluster config), like the classical ones.
"""

from __future__ import annotations

import dataclasses

import streamlit as st

from engine.analysis.cluster import cluster
from engine.config import AnalysisConfig, ClusterConfig, EmbedConfig
from engine.errors import EngineError, ModelError
from engine.neural.tables import cluster_gradcam, embedding_table
from engine.records import ClusterResult, EmbeddingTable, PieceTable, Projection
from engine.store.core import pieces_key

from . import compute, deploy
from .library import Library, queue_turn

MODELS = {
    "musicnn": "musicnn (Million Song Dataset tags)",
    "musicnn-mtt": "musicnn (MagnaTagATune tags)",
    "msd-vgg": "musicnn's VGG baseline (Million Song Dataset)",
    "vggish": "VGGish (AudioSet)",
}
#: Seconds of wall time per minute of audio, for estimates: embed_library over the demo (28 min, decoding
#: included) took 0.8 s per minute on two cores with musicnn under ONNX Runtime; VGGish is about as fast.
#: 1.2 leaves room for a slower or shared machine such as Community Cloud.
SECONDS_PER_AUDIO_MINUTE = 1.2


@st.cache_data(ttl=600, show_spinner=False)
def vggish_available() -> bool:
    """Are VGGish weights on disk (never downloaded by the app)?"""
    try:
        from engine.neural.vggish import find_weights

        find_weights(allow_download=False)
        return True
    except EngineError:
        return False


def available_models() -> dict[str, str]:
    """The models this server can run: the bundled musicnn ones, and VGGish when its weights are present."""
    return {m: label for m, label in MODELS.items() if m != "vggish" or vggish_available()}


@st.cache_resource(max_entries=2, show_spinner="Loading the network...")
def model_info(config: EmbedConfig) -> tuple[str, str]:
    """(weights file name, sha256) of the network behind ``config``; loads it once per process."""
    from engine.neural.embed import load_model

    net = load_model(config)
    return net.weights_file, net.weights_sha256


def missing_tracks(library: Library, config: EmbedConfig) -> list[str]:
    """Track ids whose embeddings are not in the store yet."""
    _, sha = model_info(config)
    key = pieces_key(config.cache_digest(), sha)
    store = library.store()
    return [t for t in library.track_ids if not store.has_pieces(t, key)]


def compute_embeddings(library: Library, analysis: AnalysisConfig, config: EmbedConfig, *, minutes: float) -> None:
    """Embed the library's tracks into the store, with live progress (once; later calls read the store)."""
    from engine.run.embedding import embed_library

    errors = []
    with st.status(f"Listening with {MODELS[config.model]}: {len(library)} tracks, about {minutes:.0f} minutes of audio", expanded=True) as status:
        bar = st.progress(0.0, text="Loading the network...")

        def on_progress(p) -> None:
            how = {"analysed": f"{p.realtime_factor:.0f}x real time", "cached": "from the store"}.get(p.status, "could not be read")
            if p.status == "error":
                errors.append(f"{p.name}: {p.detail}")
            bar.progress(p.done / max(p.total, 1), text=f"{p.done}/{p.total}  {p.name}  ({how})")

        try:
            with queue_turn(status):  # public mode: one of the server's analysis slots
                embed_library(library.store(), list(library.track_ids), analysis=analysis, config=config, progress=on_progress)
        except EngineError as exc:
            status.update(label="The network could not run", state="error")
            st.error(deploy.said(exc))
            st.stop()
        status.update(label="Embeddings ready", state="complete", expanded=False)
    for e in errors:
        st.error(e)
    pieces.clear()


@st.cache_data(max_entries=4, show_spinner=False)
def pieces(library: Library, analysis: AnalysisConfig, config: EmbedConfig) -> PieceTable:
    """The library's stored piece embeddings (names as the user gave them)."""
    from engine.run.embedding import embed_library

    table = embed_library(library.store(), list(library.track_ids), analysis=analysis, config=config)
    names = dict(zip(library.track_ids, library.names))
    return dataclasses.replace(table, meta=table.meta.assign(name=table.meta["track_id"].map(names)))


@st.cache_data(max_entries=8, show_spinner=False)
def table(library: Library, analysis: AnalysisConfig, config: EmbedConfig, level: str) -> EmbeddingTable:
    """Embeddings of the representative sections' pieces (or of the sections)."""
    return embedding_table(pieces(library, analysis, config), compute.model_table(library, analysis), level=level)


@st.cache_data(max_entries=16, show_spinner=False)
def clustering(library: Library, analysis: AnalysisConfig, config: EmbedConfig, level: str, cconfig: ClusterConfig) -> ClusterResult:
    return cluster(table(library, analysis, config, level).table, config=cconfig)


@st.cache_data(max_entries=16, show_spinner=False)
def projection(library: Library, analysis: AnalysisConfig, config: EmbedConfig, level: str, cconfig: ClusterConfig, method: str) -> Projection:
    return compute.project_for_map(clustering(library, analysis, config, level, cconfig), method)


def heatmaps(library: Library, analysis: AnalysisConfig, config: EmbedConfig, level: str, cconfig: ClusterConfig, per_cluster: int):
    """Mean Grad-CAM per cluster over a seeded sample of each cluster's pieces, or None until asked for.

    Kept in the session (it draws progress while it runs, so it is not a ``st.cache_data`` function).
    """
    key = (library, analysis.digest(), config.digest(), level, cconfig.digest(), per_cluster)
    held = st.session_state.setdefault("_gradcam", {})
    return held.get(key)


def compute_heatmaps(library: Library, analysis: AnalysisConfig, config: EmbedConfig, level: str, cconfig: ClusterConfig, per_cluster: int):
    """Compute (with progress) what :func:`heatmaps` returns."""
    import numpy as np

    et = table(library, analysis, config, "pieces")
    labels = clustering(library, analysis, config, level, cconfig).labels
    if level == "sections":  # each piece takes the cluster of its section
        sec = table(library, analysis, config, "sections").table.meta
        lookup = {(t, int(s)): int(c) for t, s, c in zip(sec["track_id"], sec["section"], labels)}
        labels = [lookup.get((t, int(s)), -1) for t, s in zip(et.table.meta["track_id"], et.table.meta["section"])]
    bar = st.progress(0.0, text="Decoding the sampled pieces...")

    def on_progress(i: int, n: int, name: str) -> None:
        bar.progress(i / n, text=f"Decoded {i}/{n}: {name}; then one backward pass per piece")

    try:
        maps = cluster_gradcam(
            et.table.meta,
            np.asarray(labels),
            et.table.values,
            paths=dict(zip(library.track_ids, library.paths)),
            config=config,
            max_per_cluster=per_cluster,
            seed=cconfig.seed,
            progress=on_progress,
        )
    finally:
        bar.empty()
    key = (library, analysis.digest(), config.digest(), level, cconfig.digest(), per_cluster)
    held = st.session_state.setdefault("_gradcam", {})
    held.clear()  # one at a time: they are large
    held[key] = maps
    return maps


def model_error(exc: ModelError) -> None:
    st.error(f"The network cannot run here: {deploy.said(exc)}")
    st.stop()


def embed_config() -> EmbedConfig:
    """The embedding settings of this session (the model; everything else at its default)."""
    from . import state

    models = available_models()
    model = state.get("nn_model")
    if model not in models:
        model = "musicnn"
    return EmbedConfig(model=model)


def require_embeddings(library: Library, analysis: AnalysisConfig, config: EmbedConfig, *, seconds_of_audio: float, key: str) -> None:
    """Stop the page with a button to compute the embeddings, unless the store has them all."""
    try:
        missing = missing_tracks(library, config)
    except ModelError as exc:
        model_error(exc)
    if not missing:
        return
    share = len(missing) / max(len(library), 1)
    minutes = seconds_of_audio / 60 * share
    estimate = max(5, minutes * SECONDS_PER_AUDIO_MINUTE)
    when = f"about {estimate / 60:.0f} minutes" if estimate >= 90 else f"about {estimate:.0f} seconds"
    st.info(
        f"The network has not listened to {len(missing)} of your {len(library)} tracks yet. "
        f"It hears each track in {'0.96' if config.model == 'vggish' else '3'}-second pieces; on this server's CPU that takes "
        f"{when}, once: the embeddings are kept in the store for every later visit."
    )
    if st.button(f"Listen with {MODELS[config.model]}", type="primary", key=key, icon=":material/hearing:"):
        compute_embeddings(library, analysis, config, minutes=minutes)
        st.rerun()
    st.stop()
