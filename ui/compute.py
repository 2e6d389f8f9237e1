"""Cached wrappers over engine calls.

Every key is a :class:`ui.library.Library` (track ids, names, paths) plus
frozen configs (hashed by value) and small scalars; no array is ever hashed.
Results are cached with ``st.cache_data`` (each caller gets its own copy, so
a page cannot spoil the cache by changing a DataFrame), bounded in entries so
a long session stays within Community Cloud's memory.

Caching decisions, written where they are made:

* the section table is read from the store once per (library, analysis config);
* a clustering once per clustering config -- so going back to an earlier k is instant;
* the k sweep ignores k, so its key sets k to a fixed value: changing k never re-sweeps;
* the SHAP surrogate, projections and neighbour lists likewise per clustering config;
* the similar-section index once per (library, analysis, clustering config with its space, metric), as a shared
  resource (``st.cache_resource``: it is read-only, and at or above ``ClusterConfig.large_rows``
  sections it is an approximate index that takes about a second to build), so each new query
  section costs one lookup.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import streamlit as st

from engine.analysis.cluster import cluster, summarize
from engine.config import AnalysisConfig, ClusterConfig
from engine.analysis.explain import explain
from engine.analysis.scale import correlation_report, prepare
from engine.analysis.project import project
from engine.analysis.similar import SectionIndex, nearest_sections
from engine.analysis.spaces import space_prepared
from engine.analysis.songs import version_groups
from engine.analysis.sweep import choose_k
from engine.audio.spectrogram import DRAW_SAMPLE_RATE, clip_to_ogg, clip_to_wav, read_section, section_spectrogram
from engine.records import ClusterResult, Explanation, KSweep, Neighbours, Projection, SectionTable, Spectrogram

from .library import Library

#: Largest k offered and swept.
K_MAX = 12
#: Bootstrap resamples per k in the stability chart.
N_BOOTSTRAP = 10
#: Values per chunk of the boundary-margin distances (rows x clusters x features).
_MARGIN_VALUES = 4_000_000
#: Trees in the SHAP surrogate: enough for a stable ranking on a few thousand sections, fast on the demo.
SURROGATE_TREES = 60


@st.cache_data(max_entries=8, show_spinner=False)
def sections(library: Library, analysis: AnalysisConfig) -> SectionTable:
    """Every section of the library under ``analysis`` (names as the user gave them, a ``path`` column)."""
    table = library.store().load_sections(analysis, track_ids=library.track_ids)
    meta = table.meta.copy()
    names = dict(zip(library.track_ids, library.names))
    paths = dict(zip(library.track_ids, library.paths))
    meta["name"] = meta["track_id"].map(names)
    meta["path"] = meta["track_id"].map(paths).fillna("")
    return SectionTable(meta=meta, values=table.values, names=table.names, config_digest=table.config_digest)


def model_table(library: Library, analysis: AnalysisConfig) -> SectionTable:
    """The representative sections: what the clusterings and searches work on."""
    return sections(library, analysis).selected()


@st.cache_data(max_entries=12, show_spinner=False)
def clustering(library: Library, analysis: AnalysisConfig, config: ClusterConfig) -> ClusterResult:
    """The clustering of the library's representative sections."""
    return cluster(model_table(library, analysis), config=config)


def sweep_range(n_rows: int) -> tuple[int, int]:
    """The k range swept for ``n_rows`` sections."""
    return 2, max(2, min(K_MAX, n_rows - 1))


@st.cache_data(max_entries=16, show_spinner=False)
def k_sweep(library: Library, analysis: AnalysisConfig, config: ClusterConfig) -> KSweep:
    """Scores over k (elbow, silhouette, DB, CH, stability); ``config.k`` must be normalised by the caller."""
    table = model_table(library, analysis)
    boots = N_BOOTSTRAP if config.method != "fcm" else N_BOOTSTRAP // 2  # fcm restarts are slow
    return choose_k(table, config=config, k_range=sweep_range(len(table)), n_bootstrap=boots)


def k_sweep_for(library: Library, analysis: AnalysisConfig, config: ClusterConfig) -> KSweep:
    """:func:`k_sweep` with k normalised (the sweep does not depend on it)."""
    return k_sweep(library, analysis, config.replace(k=2))


@st.cache_data(max_entries=16, show_spinner=False)
def projection(library: Library, analysis: AnalysisConfig, config: ClusterConfig, method: str) -> Projection:
    """The clustering's sections (and centroids) in 2-D."""
    return project_for_map(clustering(library, analysis, config), method)


def project_for_map(result: ClusterResult, method: str) -> Projection:
    """Project a clustering for the map, with t-SNE perplexity and UMAP neighbours sized to a small library."""
    kwargs = {}
    if method == "tsne":
        kwargs["perplexity"] = float(min(30.0, max(2.0, (len(result) - 1) / 3)))
    if method == "umap":
        kwargs["n_neighbors"] = int(min(15, len(result) - 1))
    return project(result, method=method, **kwargs)


@st.cache_data(max_entries=16, show_spinner=False)
def explanation(library: Library, analysis: AnalysisConfig, config: ClusterConfig) -> Explanation:
    """SHAP values of a surrogate forest of the clustering, its fidelity measured on held-out songs."""
    groups = versions(library)
    return explain(clustering(library, analysis, config), groups=groups, n_estimators=SURROGATE_TREES, max_depth=10)


def versions(library: Library) -> dict[str, str]:
    """``track_id`` -> version group, from a ``MANIFEST.tsv`` beside the tracks (the demo has one); {} when none.

    Not cached: it reads one small file per folder, only when the surrogate above is computed or the
    review page tests its labels.
    """
    return version_groups(dict(zip(library.track_ids, library.paths)))


@st.cache_data(max_entries=16, show_spinner=False)
def summaries(library: Library, analysis: AnalysisConfig, config: ClusterConfig):
    """Per-cluster summaries (tracks, typical and atypical sections)."""
    return summarize(clustering(library, analysis, config), n_examples=3)


@st.cache_resource(max_entries=4, show_spinner=False)
def section_index(library: Library, analysis: AnalysisConfig, config: ClusterConfig, metric: str) -> SectionIndex:
    """The search index over the representative sections (exact, or approximate at scale; see engine.analysis.similar)."""
    used = config.replace(dedupe=False, metric=metric)
    if config.space == "classical":
        prepared = prepare(model_table(library, analysis), config=used)
    else:  # the musicnn, fused or invariant space (ui.similar checked the embeddings are stored)
        from . import similar

        prepared = space_prepared(model_table(library, analysis), config=used, embeddings=similar.embeddings(library, analysis))
    return SectionIndex(prepared, metric=metric, config_digest=used.digest(), large_rows=config.large_rows, seed=config.seed)


@st.cache_data(max_entries=64, show_spinner=False)
def neighbours(
    library: Library, analysis: AnalysisConfig, config: ClusterConfig, row: int, k: int, metric: str, other_tracks: bool
) -> Neighbours:
    """The ``k`` nearest sections to representative section ``row``."""
    return nearest_sections(section_index(library, analysis, config, metric), row=row, k=k, other_tracks=other_tracks)


@st.cache_data(max_entries=8, show_spinner=False)
def correlations(library: Library, analysis: AnalysisConfig, features: tuple[str, ...]):
    """Highly correlated feature pairs among ``features``."""
    return correlation_report(model_table(library, analysis), features=features, threshold=0.9)


@st.cache_data(max_entries=64, show_spinner=False)
def spectrogram(track_id: str, path: str, start_s: float, end_s: float, name: str) -> Spectrogram:
    """A section's log-frequency spectrogram (keyed on the track id and times; ``path`` says where to read it)."""
    return section_spectrogram(path, start_s=start_s, end_s=end_s, sample_rate=DRAW_SAMPLE_RATE, hop_length=1024, name=name)


@st.cache_data(max_entries=32, show_spinner=False)
def section_wav(track_id: str, path: str, start_s: float, end_s: float, name: str) -> bytes:
    """A section as a small WAV (for files a browser cannot play, or too large to send whole)."""
    return clip_to_wav(_playable_clip(path, start_s, end_s, name))


@st.cache_data(max_entries=32, show_spinner=False)
def section_ogg(track_id: str, path: str, start_s: float, end_s: float, name: str) -> bytes:
    """A section as a small OGG Vorbis file (public mode: the player carries it inside the page)."""
    return clip_to_ogg(_playable_clip(path, start_s, end_s, name))


def _playable_clip(path: str, start_s: float, end_s: float, name: str):
    """The section's samples as a browser plays them: its own channels, or mono when it has more than two."""
    clip = read_section(path, start_s=start_s, end_s=end_s, mono=False, name=name)
    if clip.y.ndim == 2 and clip.y.shape[1] > 2:
        clip = read_section(path, start_s=start_s, end_s=end_s, mono=True, name=name)
    return clip


def cluster_frame(result: ClusterResult) -> pd.DataFrame:
    """The clustering's rows with ``row`` (position) and ``cluster`` columns, for tables and charts."""
    frame = result.assignments()
    frame.insert(0, "row", np.arange(len(frame)))
    return frame


def boundary_margin(result: ClusterResult) -> np.ndarray:
    """How clearly each section belongs to its cluster: small values sit between two clusters.

    Fuzzy c-means: the gap between the two strongest memberships. Other
    methods: the gap between the distances to the nearest and the second
    nearest cluster centre (scaled units). Noise rows get 0.

    Returns
    -------
    np.ndarray [shape=(n_rows,)]
    """
    if result.memberships is not None:
        top2 = np.sort(result.memberships, axis=1)[:, -2:]
        return top2[:, 1] - top2[:, 0]
    if result.k < 2:
        return np.zeros(len(result))
    X, C = result.data.X, result.centroids
    step = max(1, _MARGIN_VALUES // max(1, C.size))  # rows per chunk: an n x k x features array would not fit at scale
    margin = np.empty(len(X))
    for lo in range(0, len(X), step):
        d = np.linalg.norm(X[lo : lo + step, None, :] - C[None, :, :], axis=2)
        d.sort(axis=1)
        margin[lo : lo + step] = d[:, 1] - d[:, 0]
    margin[result.labels < 0] = 0.0
    return margin
