"""CrateMap's answer as DJ software keeps it: per track a beat grid and cues, and one crate per cluster.

From a store's sections, their clustering and their DJ descriptors
(:func:`engine.mixing.descriptors.describe_store`), :func:`dj_crates` gives
:class:`~engine.records.DJTrack` records and :class:`~engine.records.DJPlaylist`
crates, for :func:`engine.store.rekordbox.write_rekordbox` (and Traktor):

* a **beat grid** from the beats CrateMap tracked: the first beat and the
  track's BPM, re-anchored on a detected beat wherever the grid would drift
  more than :data:`GRID_TOLERANCE_S` from it, so every written beat lies
  within that of a detected one. Each anchor carries its beat's place in
  the bar (:mod:`engine.describe.bars`), so bar one falls on a downbeat;
  where the bars were not measured, anchors are numbered from the first
  detected beat;
* a **memory cue at every section start**, named for a deck's small screen:
  ``C2 · drop 0.82 · 8A · E7 · 124`` (cluster, the section's phrase label and
  its confidence (:mod:`engine.describe.phrases`; left out when unknown),
  Camelot key, energy 1-10, BPM);
* **hot cues** (at most 8) at the track's most typical section of each of
  its clusters (the member nearest the cluster's centre), coloured as the
  app's map colours that cluster (:data:`CLUSTER_COLOURS`), named
  ``Cluster 2 · drop 0.82``;
* one **crate per cluster**, its tracks in the section table's order (a
  crate holds tracks, not sections).
"""

from __future__ import annotations

from pathlib import PurePosixPath
from typing import Mapping

import numpy as np
import pandas as pd

from ..analysis.cluster import cluster
from ..config import AnalysisConfig, ClusterConfig, MixConfig
from ..describe.phrases import phrase_text
from ..records import DJCue, DJPlaylist, DJTempo, DJTrack, MixTable
from .descriptors import describe_store

__all__ = ["CLUSTER_COLOURS", "GRID_TOLERANCE_S", "cluster_rgb", "beat_grid_tempo", "cue_name", "dj_crates"]

#: One colour per cluster id, as the app's maps draw them (repeats after 12).
CLUSTER_COLOURS = (
    "#f5a623", "#4a90e2", "#50e3c2", "#e94e77", "#b8e986", "#9013fe",
    "#f8e71c", "#ff7f50", "#7ed6df", "#c56cf0", "#3ae374", "#ff4d4d",
)  # fmt: skip
#: The most a written beat may lie from a detected one before the grid is re-anchored, seconds.
GRID_TOLERANCE_S = 0.010
_HOT_CUES = 8


def cluster_rgb(cluster_id: int) -> tuple[int, int, int]:
    """The RGB (0-255) of a cluster's colour in :data:`CLUSTER_COLOURS`."""
    code = CLUSTER_COLOURS[int(cluster_id) % len(CLUSTER_COLOURS)].lstrip("#")
    return int(code[0:2], 16), int(code[2:4], 16), int(code[4:6], 16)


def cue_name(cluster_id: int, camelot: str, energy: int, bpm: float, phrase: str = "") -> str:
    """A cue name a DJ reads on a deck: ``"C2 · drop 0.82 · 8A · E7 · 124"`` (``phrase`` as
    :func:`engine.describe.phrases.phrase_text` writes it; left out when empty)."""
    return " · ".join(p for p in (f"C{int(cluster_id)}", phrase, camelot, f"E{int(energy)}", f"{bpm:.0f}") if p)


def beat_grid_tempo(
    beats_s: np.ndarray, bpm: float, *, tolerance_s: float = GRID_TOLERANCE_S, positions: np.ndarray | None = None
) -> tuple[DJTempo, ...]:
    """A beat grid of constant-BPM stretches that keeps within ``tolerance_s`` of every detected beat.

    Parameters
    ----------
    beats_s : np.ndarray [shape=(n_beats,)]
        Detected beat times, seconds, increasing.
    bpm : float
        The track's tempo.
    tolerance_s : float
    positions : np.ndarray [shape=(n_beats,)], optional
        Each beat's place in its bar, 1..4 (:class:`~engine.records.TrackDescriptors.beat_positions`).

    Returns
    -------
    tuple of DJTempo
        Empty when there are no beats or no tempo. Each stretch starts on a
        detected beat; ``beat`` is that beat's place in its bar when
        ``positions`` are given (so bar one falls on a downbeat), else counted
        1-4 from the first detected beat.
    """
    beats = np.asarray(beats_s, dtype=np.float64)
    if beats.size == 0 or not bpm > 0:
        return ()
    known = positions is not None and len(positions) == beats.size
    place = np.asarray(positions, dtype=np.int64) if known else (np.arange(beats.size) % 4 + 1)
    period = 60.0 / float(bpm)
    out = [DJTempo(start_s=float(beats[0]), bpm=float(bpm), beat=int(place[0]))]
    anchor, anchor_index = float(beats[0]), 0
    for i in range(1, beats.size):
        steps = max(1, round((beats[i] - anchor) / period))
        if abs(anchor + steps * period - beats[i]) > tolerance_s:
            beat_number = anchor_index + steps  # beats counted on the grid so far
            at = int(place[i]) if known else 1 + beat_number % 4
            out.append(DJTempo(start_s=float(beats[i]), bpm=float(bpm), beat=at))
            anchor, anchor_index = float(beats[i]), beat_number
    return tuple(out)


def dj_crates(
    store,
    *,
    analysis: AnalysisConfig | None = None,
    cluster_config: ClusterConfig = ClusterConfig(),
    mix: MixConfig = MixConfig(),
    track_ids=None,
    paths: Mapping[str, str] | None = None,
) -> tuple[list[DJTrack], list[DJPlaylist]]:
    """Every analysed track as a DJ program keeps it, and one crate per cluster.

    Parameters
    ----------
    store : Store
    analysis : AnalysisConfig, optional
        Default: the store's last analysis.
    cluster_config : ClusterConfig
        The clustering whose clusters become cues and crates.
    mix : MixConfig
        Descriptor settings (BPM range, key profile).
    track_ids : iterable of str, optional
        Only these tracks.
    paths : mapping of str to str, optional
        track_id -> where the file is on the DJ's machine (default: the path the store recorded).

    Returns
    -------
    tracks : list of DJTrack
        In the section table's track order.
    crates : list of DJPlaylist
        ``("Clusters", "Cluster N")`` for each cluster with members.

    Raises
    ------
    StoreError, ParameterError
        As describe_store and cluster do (no analysis, too few sections).
    """
    table = describe_store(store, analysis=analysis, config=mix, track_ids=track_ids)
    result = cluster(table.sections, config=cluster_config)
    rows = _section_rows(table, result)
    where = dict(paths or {})
    tracks = [_track(store, tid, table, rows[rows["track_id"] == tid], where) for tid in pd.unique(rows["track_id"])]
    location = {tid: t.location for tid, t in zip(pd.unique(rows["track_id"]), tracks)}
    crates = []
    for c in sorted(int(x) for x in rows["cluster"].unique() if x >= 0):
        members = rows[rows["cluster"] == c]  # in the table's order: tracks together, sections ascending
        crates.append(DJPlaylist(path=("Clusters", f"Cluster {c}"), locations=tuple(location[t] for t in dict.fromkeys(members["track_id"]))))
    return tracks, crates


def _section_rows(table: MixTable, result) -> pd.DataFrame:
    """Every section row with its cluster (-1 when the clustering left it out) and its distance to that centre."""
    rows = table.descriptors[["track_id", "section", "start_s", "camelot", "energy_level", "bpm"]].copy()
    meta = table.sections.meta  # row for row with the descriptors
    rows["phrase"] = [phrase_text(a, b) for a, b in zip(meta.get("phrase_label", [""] * len(meta)), meta.get("phrase_confidence", [np.nan] * len(meta)))]
    rows["cluster"] = -1
    rows["distance"] = np.inf
    at = np.asarray(result.data.rows, dtype=np.int64)  # positions in the section table
    labels = np.asarray(result.labels, dtype=np.int64)
    rows.iloc[at, rows.columns.get_loc("cluster")] = labels
    ok = labels >= 0
    dist = np.full(labels.shape, np.inf)
    dist[ok] = np.linalg.norm(result.data.X[ok] - result.centroids[labels[ok]], axis=1)
    rows.iloc[at, rows.columns.get_loc("distance")] = dist
    return rows


def _track(store, track_id: str, table: MixTable, rows: pd.DataFrame, where: Mapping[str, str]) -> DJTrack:
    desc = table.tracks[track_id]
    stored = store.track(track_id)
    cues = [
        DJCue(start_s=float(r.start_s), name=cue_name(r.cluster, r.camelot, r.energy_level, r.bpm, r.phrase))
        for r in rows.itertuples()
        if r.cluster >= 0
    ]
    typical = rows[rows["cluster"] >= 0].sort_values("distance").drop_duplicates("cluster").sort_values("cluster").head(_HOT_CUES)
    for slot, r in enumerate(typical.itertuples()):
        name = " · ".join(p for p in (f"Cluster {r.cluster}", r.phrase) if p)
        cues.append(DJCue(start_s=float(r.start_s), name=name, slot=slot, colour=cluster_rgb(r.cluster)))
    tonic_name = desc.key.replace(" minor", "m").replace(" major", "")
    return DJTrack(
        location=where.get(track_id, stored.path if stored is not None else ""),
        name=PurePosixPath(stored.name).stem if stored is not None else track_id[:12],  # the title: no folder, no suffix
        duration_s=float(stored.duration_s) if stored is not None else 0.0,
        bpm=float(desc.bpm),
        key=tonic_name,
        cues=tuple(cues),
        tempo=beat_grid_tempo(desc.beats_s, desc.bpm, positions=desc.beat_positions),
    )
