"""Which sections a DJ could mix one after another.

Descriptors
    :func:`describe_track` turns one track's stored frames into its tempo,
    beats, key and energy curve; :func:`describe_sections` gives the same per
    section. :func:`describe_store` does both for a whole store and caches
    them there (no decoding):

    * track descriptors are keyed by ``(track_id, frame digest,
      MixConfig.descriptor_digest())`` -- they do not depend on how tracks are
      cut into sections;
    * section descriptors are keyed by ``(track_id, section digest,
      MixConfig.descriptor_digest())`` -- a new section length recomputes
      them from the stored frames.

Compatibility (:func:`pair_components`)
    * tempo: the candidate's BPM, also at half or double time, within
      ``tempo_tolerance`` (default 6 %) of the query's;
    * key: the Camelot rules -- same code, +-1 on the same letter, or the same
      number across A/B;
    * energy: the step between 1-10 levels, scored against the preferred
      direction.

Suggestions and paths
    The score of a pair is the weighted mean of four parts in [0, 1]:
    timbre ``1 - min(cosine distance, 1)`` on z-scored section features (or
    given embeddings), tempo ``1 - |dev| / (2 tol)``, key (same 1, +-1 or
    relative 0.85, +-2 0.4, clash 0) and energy. :func:`suggest` ranks every
    other section; :func:`mix_path` finds a chain of exactly ``steps``
    compatible transitions on a graph that keeps each section's
    ``graph_neighbours`` best-scoring successors, edge cost ``1.05 - score``.
    The graph is built in blocks of queries whose size keeps memory bounded;
    at or above :data:`~engine.config.LARGE_ROWS` sections (50,000) each
    section's successors are chosen among its :data:`MIX_CANDIDATES` nearest
    sections by timbre, from an approximate index
    (:func:`engine.analysis.similar.candidate_rows`), instead of among every section:
    a graph of all pairs is quadratic in time. ``MixPath.note`` says so.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Callable

import numpy as np
import pandas as pd

from ..config import LARGE_ROWS, AnalysisConfig, ClusterConfig, MixConfig, is_large
from ..errors import ParameterError, StoreError
from ..records import FrameTable, SectionTable
from ..describe.rhythm import Tempo, accent_beats, align_to_beats, beat_grid, energy_curve, energy_of, estimate_tempo, onset_times
from ..analysis.scale import unit_rows
from ..describe.key import estimate_key, key_name, parse_camelot, section_chroma

__all__ = [
    "TrackDescriptors",
    "MixTable",
    "Suggestions",
    "MixPath",
    "describe_track",
    "describe_sections",
    "describe_store",
    "pair_components",
    "suggest",
    "mix_path",
    "DESCRIPTOR_COLUMNS",
    "MIX_CANDIDATES",
]

#: Columns of a section descriptor table, after the section metadata.
DESCRIPTOR_COLUMNS = (
    "bpm",
    "bpm_confidence",
    "raw_bpm",
    "tempo_octave",
    "tempo_note",
    "first_beat_s",
    "n_beats",
    "key",
    "key_short",
    "tonic",
    "mode",
    "camelot",
    "key_strength",
    "key_confidence",
    "energy",
    "energy_level",
    "loudness_db",
    "onset_rate",
)
_META = ("track_id", "name", "section", "start_s", "end_s")
_KEY_SCORES = {"same": 1.0, "+1": 0.85, "-1": 0.85, "relative": 0.85, "+2": 0.4, "-2": 0.4, "clash": 0.0}
_KEY_OK = ("same", "+1", "-1", "relative")
_MIN_TEMPO_S = 4.0  # shortest stretch with its own tempo estimate; shorter sections use the track's


@dataclass(frozen=True, eq=False)
class TrackDescriptors:
    """Tempo, beats, key and energy curve of one whole track (from its stored frames)."""

    track_id: str
    bpm: float  # BPM inside the plausible range
    bpm_confidence: float  # 0..1
    tempo_note: str  # "", or the half/double-time note
    beats_s: np.ndarray  # float64 [shape=(n_beats,)], beat times tracked over the whole track
    key: str  # "A minor"
    camelot: str  # "8A"
    key_strength: float
    key_confidence: float
    energy: float  # 1..10 over the whole track
    curve_times_s: np.ndarray  # float64 [shape=(n_points,)], energy-curve window centres
    curve_energy: np.ndarray  # float64 [shape=(n_points,)], 1..10
    descriptor_digest: str


@dataclass(frozen=True, eq=False)
class MixTable:
    """Sections and their descriptors, row for row."""

    sections: SectionTable
    descriptors: pd.DataFrame  # [shape=(n_sections, 5 + len(DESCRIPTOR_COLUMNS))]
    tracks: dict  # track_id -> TrackDescriptors
    config_digest: str  # section digest + descriptor digest

    def __len__(self) -> int:
        return len(self.descriptors)

    def to_frame(self) -> pd.DataFrame:
        """Section metadata, descriptors and features in one DataFrame (for export)."""
        feats = pd.DataFrame(self.sections.values, columns=list(self.sections.names))
        frame = pd.concat([self.sections.meta.reset_index(drop=True), self.descriptors[list(DESCRIPTOR_COLUMNS)], feats], axis=1)
        frame.attrs["config_digest"] = self.config_digest
        return frame


@dataclass(frozen=True, eq=False)
class Suggestions:
    """Sections ranked for mixing after one query section, best first."""

    query: int  # row of the query
    query_info: dict  # the query's descriptors
    frame: pd.DataFrame  # one row per suggestion: metadata, score and its parts, reasons
    config_digest: str

    def __len__(self) -> int:
        return len(self.frame)


@dataclass(frozen=True, eq=False)
class MixPath:
    """A chain of sections from one section to another."""

    rows: np.ndarray  # int64 [shape=(steps + 1,)], rows of the sections in order
    frame: pd.DataFrame  # the sections in order, with the score and reasons of the step into each
    cost: float  # sum of the edge costs
    config_digest: str
    note: str = ""  # how the graph was built for a large table (see LARGE_ROWS); "" when from every pair

    def __len__(self) -> int:
        return int(self.rows.shape[0])


def _column(frames: FrameTable, name: str) -> np.ndarray:
    try:
        return frames.values[:, frames.names.index(name)].astype(np.float64)
    except ValueError:
        raise ParameterError(f"the stored frames lack {name!r}; analyse again with the default frame settings") from None


def _chroma(frames: FrameTable) -> np.ndarray:
    cols = [f"chroma_{i}" for i in range(12)]
    missing = [c for c in cols if c not in frames.names]
    if missing:
        raise ParameterError(f"the stored frames lack {missing[:3]}; key estimation needs 12 chroma bins")
    return np.column_stack([_column(frames, c) for c in cols])


def describe_track(frames: FrameTable, *, config: MixConfig = MixConfig()) -> TrackDescriptors:
    """Tempo, beats, key and energy curve of a whole track from its stored frames.

    Parameters
    ----------
    frames : FrameTable
        With ``onset_strength``, ``rmse`` and ``chroma_0..11`` columns.
    config : MixConfig
        Tempo range and key profile.

    Returns
    -------
    TrackDescriptors

    Raises
    ------
    ParameterError
        If the frames lack a needed column or the track is shorter than 4 s.
    """
    import librosa

    rate = frames.sample_rate / frames.hop_length
    onset, rmse = _column(frames, "onset_strength"), _column(frames, "rmse")
    pad = max(int(np.ceil(_MIN_TEMPO_S * rate)) - len(onset), 0)
    # Too short for a tempo of its own: estimate on the envelope padded with silence, confidence 0.
    o_t, r_t = np.pad(onset, (0, pad)), np.pad(rmse, (0, pad))
    tempo = estimate_tempo(o_t, frame_rate=rate, bpm_min=config.bpm_min, bpm_max=config.bpm_max, accent=r_t)
    if pad:
        tempo = dataclasses.replace(tempo, confidence=0.0)
    try:
        _, beats = librosa.beat.beat_track(
            onset_envelope=o_t, sr=frames.sample_rate, hop_length=frames.hop_length, bpm=tempo.bpm, tightness=400, units="time"
        )
    except librosa.ParameterError as exc:
        raise ParameterError(f"beat tracking failed ({exc})") from exc
    beats = accent_beats(np.asarray(beats, np.float64), r_t, frame_rate=rate)
    beats = beats[beats < frames.duration_s]
    key = estimate_key(section_chroma(_chroma(frames), rmse), profile=config.key_profile)
    onsets = onset_times(onset, frame_rate=rate)
    energy = energy_of(rmse, len(onsets), frames.duration_s)
    times, curve = energy_curve(rmse, onsets, frame_rate=rate)
    return TrackDescriptors(
        track_id=frames.track_id,
        bpm=tempo.bpm,
        bpm_confidence=tempo.confidence,
        tempo_note=tempo.note,
        beats_s=np.asarray(beats, np.float64),
        key=key.name,
        camelot=key.camelot,
        key_strength=key.strength,
        key_confidence=key.confidence,
        energy=energy.energy,
        curve_times_s=times,
        curve_energy=curve,
        descriptor_digest=config.descriptor_digest(),
    )


def describe_sections(
    frames: FrameTable,
    sections: pd.DataFrame,
    *,
    track: TrackDescriptors,
    config: MixConfig = MixConfig(),
) -> pd.DataFrame:
    """Tempo, beat phase, key and energy of each section of one track.

    Parameters
    ----------
    frames : FrameTable
        The track's stored frames.
    sections : pandas.DataFrame
        The track's section metadata (``track_id``, ``name``, ``section``,
        ``start_s``, ``end_s``).
    track : TrackDescriptors
        The track's own descriptors; its tempo picks each section's octave,
        and sections shorter than 4 s take its tempo.
    config : MixConfig

    Returns
    -------
    pandas.DataFrame
        The metadata columns and :data:`DESCRIPTOR_COLUMNS`; ``first_beat_s``
        is seconds from the track's start (the first grid beat in the section).

    Raises
    ------
    ParameterError
        If a needed frame column is missing.
    """
    rate = frames.sample_rate / frames.hop_length
    onset, rmse, chroma = _column(frames, "onset_strength"), _column(frames, "rmse"), _chroma(frames)
    onsets = onset_times(onset, frame_rate=rate)
    rows = []
    for _, sec in sections.iterrows():
        a = int(np.ceil(float(sec["start_s"]) * rate - 1e-9))
        b = min(int(np.ceil(float(sec["end_s"]) * rate - 1e-9)), len(onset))
        start = a / rate
        if (b - a) / rate >= _MIN_TEMPO_S:
            tempo = estimate_tempo(
                onset[a:b], frame_rate=rate, bpm_min=config.bpm_min, bpm_max=config.bpm_max, near_bpm=track.bpm, accent=rmse[a:b]
            )
            tempo = align_to_beats(tempo, track.beats_s, start_s=start)
        else:
            period = 60.0 / track.bpm
            later = track.beats_s[track.beats_s >= start]
            first = float(later[0] - start) % period if len(later) else 0.0
            tempo = Tempo(bpm=track.bpm, confidence=0.0, first_beat_s=first, raw_bpm=track.bpm, octave=1.0)
        grid = beat_grid(tempo, start_s=start, end_s=float(sec["end_s"]))
        key = estimate_key(section_chroma(chroma[a:b], rmse[a:b]), profile=config.key_profile)
        n_on = int(np.searchsorted(onsets, sec["end_s"]) - np.searchsorted(onsets, sec["start_s"]))
        energy = energy_of(rmse[a:b], n_on, float(sec["end_s"] - sec["start_s"]))
        rows.append(
            {
                **{c: sec[c] for c in _META},
                "bpm": tempo.bpm,
                "bpm_confidence": tempo.confidence,
                "raw_bpm": tempo.raw_bpm,
                "tempo_octave": tempo.octave,
                "tempo_note": tempo.note,
                "first_beat_s": float(grid[0]) if len(grid) else start,
                "n_beats": int(len(grid)),
                "key": key.name,
                "key_short": key_name(key.tonic, key.mode, short=True),
                "tonic": key.tonic,
                "mode": key.mode,
                "camelot": key.camelot,
                "key_strength": key.strength,
                "key_confidence": key.confidence,
                "energy": energy.energy,
                "energy_level": energy.level,
                "loudness_db": energy.loudness_db,
                "onset_rate": energy.onset_rate,
            }
        )
    return pd.DataFrame(rows, columns=[*_META, *DESCRIPTOR_COLUMNS])


def _track_key(frame_digest: str, config: MixConfig) -> str:
    return f"track-{frame_digest}-{config.descriptor_digest()}"


def _section_key(section_digest: str, config: MixConfig) -> str:
    return f"sections-{section_digest}-{config.descriptor_digest()}"


def _track_to_store(t: TrackDescriptors) -> tuple[pd.DataFrame, dict]:
    frame = pd.DataFrame(
        {
            "kind": ["beat"] * len(t.beats_s) + ["energy"] * len(t.curve_times_s),
            "time_s": np.concatenate([t.beats_s, t.curve_times_s]),
            "value": np.concatenate([np.ones(len(t.beats_s)), t.curve_energy]),
        }
    )
    meta = {k: getattr(t, k) for k in ("bpm", "bpm_confidence", "tempo_note", "key", "camelot", "key_strength", "key_confidence", "energy", "descriptor_digest")}
    return frame, meta


def _track_from_store(track_id: str, frame: pd.DataFrame, meta: dict) -> TrackDescriptors:
    beats = frame["kind"].to_numpy() == "beat"
    return TrackDescriptors(
        track_id=track_id,
        beats_s=frame["time_s"].to_numpy(np.float64)[beats],
        curve_times_s=frame["time_s"].to_numpy(np.float64)[~beats],
        curve_energy=frame["value"].to_numpy(np.float64)[~beats],
        **meta,
    )


def describe_store(
    store,
    *,
    analysis: AnalysisConfig | None = None,
    config: MixConfig = MixConfig(),
    track_ids=None,
    progress: Callable[[str, bool], None] | None = None,
) -> MixTable:
    """Sections of a store with their tempo, key and energy, computed once and cached.

    Parameters
    ----------
    store : Store
    analysis : AnalysisConfig, optional
        Default: the store's last analysis.
    config : MixConfig
    track_ids : iterable of str, optional
        Restrict to these tracks.
    progress : callable, optional
        Called with ``(track_id, from_cache)`` per track.

    Returns
    -------
    MixTable

    Raises
    ------
    StoreError
        If the store holds no analysis.
    ParameterError
        If stored frames lack a needed column.
    """
    if analysis is None:
        analysis = store.last_config()
        if analysis is None:
            raise StoreError(f"{store.url} holds no analysis yet; run `python -m engine analyze` first")
    sections = store.load_sections(analysis, track_ids=track_ids)
    frame_digest, section_digest = analysis.frames.digest(), analysis.section_digest()
    tkey, skey = _track_key(frame_digest, config), _section_key(section_digest, config)
    tracks: dict[str, TrackDescriptors] = {}
    parts = []
    meta = sections.meta
    for tid in pd.unique(meta["track_id"]):
        tid = str(tid)
        cached = store.has_descriptors(tid, tkey) and store.has_descriptors(tid, skey)
        frames = None
        if store.has_descriptors(tid, tkey):
            tracks[tid] = _track_from_store(tid, *store.get_descriptors(tid, tkey))
        else:
            frames = store.get_frames(tid, frame_digest)
            tracks[tid] = describe_track(frames, config=config)
            tframe, tmeta = _track_to_store(tracks[tid])
            store.put_descriptors(tid, tkey, tframe, meta=tmeta)
        own = meta[meta["track_id"] == tid]
        part = None
        if store.has_descriptors(tid, skey):
            part, _ = store.get_descriptors(tid, skey)
            if set(own["section"]) <= set(part["section"]) and set(DESCRIPTOR_COLUMNS) <= set(part.columns):
                part = part.set_index("section").loc[own["section"].to_numpy()].reset_index()[[*_META, *DESCRIPTOR_COLUMNS]]
                part["name"] = own["name"].to_numpy()
            else:  # written by another version: recompute
                part = None
        if part is None:
            frames = frames if frames is not None else store.get_frames(tid, frame_digest)
            part = describe_sections(frames, own, track=tracks[tid], config=config)
            store.put_descriptors(tid, skey, part, meta={"section_digest": section_digest, "descriptor_digest": config.descriptor_digest()})
        parts.append(part)
        if progress is not None:
            progress(tid, cached)
    desc = pd.concat(parts, ignore_index=True)
    # Rows in the section table's order (load_sections keeps tracks together, sections ascending).
    order = pd.MultiIndex.from_frame(meta[["track_id", "section"]].astype({"section": np.int64}))
    desc = desc.set_index(["track_id", "section"]).loc[order].reset_index()[[*_META, *DESCRIPTOR_COLUMNS]]
    return MixTable(sections=sections, descriptors=desc, tracks=tracks, config_digest=f"{section_digest}-{config.descriptor_digest()}")


# -- compatibility -------------------------------------------------------------


def _timbre_vectors(table: MixTable, timbre: np.ndarray | None) -> np.ndarray:
    if timbre is not None:
        X = np.asarray(timbre, dtype=np.float64)
        if X.ndim != 2 or X.shape[0] != len(table):
            raise ParameterError(f"timbre vectors must have one row per section ({len(table)}), got shape {X.shape}")
        return X
    from ..analysis.scale import prepare

    return prepare(table.sections, config=ClusterConfig(scaler="zscore", dedupe=False)).X


def _cosine_distances(Q: np.ndarray, X: np.ndarray) -> np.ndarray:
    from sklearn.metrics.pairwise import cosine_distances

    return np.maximum(cosine_distances(Q, X), 0.0)


def pair_components(
    desc: pd.DataFrame,
    X: np.ndarray,
    queries: np.ndarray,
    *,
    config: MixConfig = MixConfig(),
) -> dict[str, np.ndarray]:
    """Score parts for every (query, candidate) pair.

    Parameters
    ----------
    desc : pandas.DataFrame
        Section descriptors (:attr:`MixTable.descriptors`).
    X : np.ndarray [shape=(n_sections, n_dims)]
        Timbre vectors.
    queries : np.ndarray [shape=(n_queries,)]
        Rows of the query sections.
    config : MixConfig

    Returns
    -------
    dict of np.ndarray [shape=(n_queries, n_sections)]
        ``timbre_distance``, ``tempo_dev`` (relative BPM change, candidate at
        ``tempo_factor`` x its BPM, against the query), ``tempo_factor``
        (1, 2 or 0.5), ``key_relation`` (str), ``energy_step``; the parts
        ``s_timbre``, ``s_tempo``, ``s_key``, ``s_energy`` in [0, 1];
        ``tempo_ok``, ``key_ok``, ``compatible`` (bool) and ``score``.
    """
    q = np.asarray(queries, dtype=np.int64)
    return _components(_row_codes(desc), X, q, None, config)


_REL_NAMES = np.array(["same", "+1", "-1", "+2", "-2", "clash", "relative"], dtype=object)
_REL_SCORES = np.array([_KEY_SCORES[r] for r in _REL_NAMES], dtype=np.float64)
_REL_OK = np.isin(_REL_NAMES, _KEY_OK)


def _row_codes(desc: pd.DataFrame) -> dict[str, np.ndarray]:
    """Per-row arrays the scores need: BPM, Camelot number and letter, energy level (each code parsed once)."""
    camelot = desc["camelot"].astype(str).to_numpy()
    uniq, inverse = np.unique(camelot, return_inverse=True)
    codes = [parse_camelot(c) for c in uniq]
    return {
        "bpm": desc["bpm"].to_numpy(np.float64),
        "num": np.array([c[0] for c in codes], dtype=np.int64)[inverse],
        "letter": np.array([c[1] for c in codes])[inverse],
        "level": desc["energy_level"].to_numpy(np.int64),
    }


def _components(
    codes: dict[str, np.ndarray], X: np.ndarray, q: np.ndarray, cand: np.ndarray | None, config: MixConfig, unit: np.ndarray | None = None
) -> dict[str, np.ndarray]:
    """:func:`pair_components` of queries ``q`` against every row (``cand`` None) or rows ``cand`` [shape=(n_q, m)]."""

    def of(values: np.ndarray) -> np.ndarray:  # candidate values: [1, n] broadcast, or [n_q, m]
        return values[None, :] if cand is None else values[cand]

    bpm = codes["bpm"]
    factors = np.array([1.0, 2.0, 0.5])
    devs = (of(bpm)[None] * factors[:, None, None]) / bpm[q][None, :, None] - 1.0  # [3, nq, n or m]
    pick = np.argmin(np.abs(devs), axis=0)
    dev = np.take_along_axis(devs, pick[None], axis=0)[0]
    tol = config.tempo_tolerance
    s_tempo = np.clip(1.0 - np.abs(dev) / (2 * tol), 0.0, 1.0)
    num, letter = codes["num"], codes["letter"]
    step12 = (of(num) - num[q, None]) % 12
    same_letter = of(letter) == letter[q, None]
    rel_code = np.where(
        same_letter,
        np.select([step12 == 0, step12 == 1, step12 == 11, step12 == 2, step12 == 10], [0, 1, 2, 3, 4], 5),
        np.where(step12 == 0, 6, 5),
    )
    rel = _REL_NAMES[rel_code]
    s_key = _REL_SCORES[rel_code]
    level = codes["level"]
    step = of(level) - level[q, None]
    target = {"any": 0, "up": 1, "down": -1, "same": 0}[config.energy_direction]
    slack = 1 if config.energy_direction == "any" else 0
    s_energy = np.clip(1.0 - np.maximum(np.abs(step - target) - slack, 0) / 3.0, 0.0, 1.0)
    if cand is None:
        dist = _cosine_distances(X[q], X)
    else:  # the same cosine distance, row by row: [nq, m]
        unit = unit_rows(X) if unit is None else unit
        dist = np.maximum(1.0 - np.einsum("ij,ikj->ik", unit[q], unit[cand]), 0.0)
    s_timbre = np.clip(1.0 - dist, 0.0, 1.0)
    w = np.array([config.weight_timbre, config.weight_tempo, config.weight_key, config.weight_energy])
    score = (w[0] * s_timbre + w[1] * s_tempo + w[2] * s_key + w[3] * s_energy) / w.sum()
    tempo_ok = np.abs(dev) <= tol + 1e-12
    key_ok = _REL_OK[rel_code]
    return {
        "timbre_distance": dist,
        "tempo_dev": dev,
        "tempo_factor": factors[pick],
        "key_relation": rel,
        "energy_step": step,
        "s_timbre": s_timbre,
        "s_tempo": s_tempo,
        "s_key": s_key,
        "s_energy": s_energy,
        "tempo_ok": tempo_ok,
        "key_ok": key_ok,
        "compatible": tempo_ok & key_ok,
        "score": score,
    }


def _reason(qd: pd.Series, cd: pd.Series, dev: float, factor: float, rel: str, dist: float) -> str:
    when = {2.0: "played at double time, ", 0.5: "played at half time, "}.get(float(factor), "")
    rel_text = {"same": "same key", "+1": "+1", "-1": "-1", "relative": "relative", "+2": "+2, energy boost", "-2": "-2"}.get(rel, "key clash")
    return (
        f"{qd['camelot']} → {cd['camelot']} ({rel_text}), "
        f"{qd['bpm']:.0f} → {cd['bpm']:.0f} BPM ({when}{dev * 100:+.1f}%), "
        f"energy {int(qd['energy_level'])} → {int(cd['energy_level'])}, "
        f"timbre distance {dist:.2f}"
    )


def _find_row(table: MixTable, row: int | None, track: str | None, section: int | None) -> int:
    from ..analysis.similar import find_section

    if row is None:
        if track is None or section is None:
            raise ParameterError("give either row, or both track and section")
        return find_section(table.sections.meta, track=track, section=int(section))
    if not 0 <= int(row) < len(table):
        raise ParameterError(f"row {row} is out of range 0..{len(table) - 1}")
    return int(row)


def _query_info(table: MixTable, row: int) -> dict:
    d = table.descriptors.iloc[row]
    return {c: (d[c].item() if hasattr(d[c], "item") else d[c]) for c in (*_META, *DESCRIPTOR_COLUMNS)}


def suggest(
    table: MixTable,
    *,
    row: int | None = None,
    track: str | None = None,
    section: int | None = None,
    k: int = 10,
    config: MixConfig = MixConfig(),
    timbre: np.ndarray | None = None,
    only_compatible: bool = False,
) -> Suggestions:
    """Rank sections for mixing after one section ("mixes well with").

    Parameters
    ----------
    table : MixTable
        From :func:`describe_store`.
    row : int, optional
        The query's row; or give ``track`` and ``section``.
    track : str, optional
        A track name, id or unique part of a name.
    section : int, optional
    k : int
        Suggestions wanted.
    config : MixConfig
        Weights, tolerance, energy direction, ``other_tracks``.
    timbre : np.ndarray [shape=(n_sections, dim)], optional
        Timbre vectors (e.g. CNN embeddings per section); default: the
        z-scored section features.
    only_compatible : bool
        Keep only tempo- and key-compatible sections.

    Returns
    -------
    Suggestions
        ``frame`` columns: the section metadata, ``bpm``, ``camelot``, ``key``,
        ``energy_level``, ``score``, ``s_timbre``, ``s_tempo``, ``s_key``,
        ``s_energy``, ``timbre_distance``, ``tempo_change_pct``,
        ``tempo_factor``, ``key_relation``, ``energy_step``, ``tempo_ok``,
        ``key_ok``, ``compatible``, ``reason``.

    Raises
    ------
    ParameterError
        If the query is not found or ``k`` < 1.
    """
    if k < 1:
        raise ParameterError(f"k must be >= 1, got {k}")
    q = _find_row(table, row, track, section)
    X = _timbre_vectors(table, timbre)
    parts = {name: v[0] for name, v in pair_components(table.descriptors, X, np.array([q]), config=config).items()}
    desc = table.descriptors
    keep = np.ones(len(desc), bool)
    keep[q] = False
    if config.other_tracks:
        keep &= desc["track_id"].to_numpy() != desc["track_id"].iloc[q]
    if only_compatible:
        keep &= parts["compatible"]
    idx = np.flatnonzero(keep)
    order = idx[np.lexsort((idx, -np.round(parts["score"][idx], 12)))][:k]
    qd = desc.iloc[q]
    out = desc.iloc[order][[*_META, "bpm", "camelot", "key", "energy_level"]].reset_index(drop=True)
    for name in ("score", "s_timbre", "s_tempo", "s_key", "s_energy", "timbre_distance"):
        out[name] = parts[name][order].astype(np.float64)
    out["tempo_change_pct"] = parts["tempo_dev"][order] * 100.0
    for name in ("tempo_factor", "key_relation", "energy_step", "tempo_ok", "key_ok", "compatible"):
        out[name] = parts[name][order]
    out["row"] = order
    out["reason"] = [
        _reason(qd, desc.iloc[j], parts["tempo_dev"][j], parts["tempo_factor"][j], parts["key_relation"][j], parts["timbre_distance"][j])
        for j in order
    ]
    out.attrs["config_digest"] = f"{table.config_digest}-{config.digest()}"
    return Suggestions(query=q, query_info=_query_info(table, q), frame=out, config_digest=out.attrs["config_digest"])


# -- mix paths -----------------------------------------------------------------


#: Values per (query x section) array while the mix graph is built: bounds its memory
#: (about 15 such arrays live at once: 2,000,000 values is ~250 MB) whatever the library size.
_GRAPH_BLOCK_VALUES = 2_000_000
#: At or above the threshold, candidate successors per section from the timbre index (at least).
MIX_CANDIDATES = 200
#: Seed of that index (MixConfig has no random step of its own; CrateMap's usual seed).
_INDEX_SEED = 42


def _graph(table: MixTable, X: np.ndarray, config: MixConfig, block: int = 256, large_rows: int = LARGE_ROWS) -> tuple[np.ndarray, np.ndarray, np.ndarray, str]:
    """Edges (src, dst, cost): each section's ``graph_neighbours`` best-scoring allowed successors, and a note."""
    desc = table.descriptors
    n = len(desc)
    if is_large(n, large_rows):
        return _candidate_graph(table, X, config, large_rows)
    block = max(1, min(block, _GRAPH_BLOCK_VALUES // max(n, 1)))
    codes = _row_codes(desc)
    tid = desc["track_id"].to_numpy()
    src, dst, cost = [], [], []
    for lo in range(0, n, block):
        q = np.arange(lo, min(lo + block, n))
        parts = _components(codes, X, q, None, config)
        allowed = np.ones((len(q), n), bool)
        allowed[np.arange(len(q)), q] = False
        if config.other_tracks:
            allowed &= tid[None, :] != tid[q, None]
        if config.require_compatible:
            allowed &= parts["compatible"]
        score = np.where(allowed, parts["score"], -np.inf)
        kk = min(config.graph_neighbours, n - 1)
        top = np.argpartition(-score, kk - 1, axis=1)[:, :kk] if kk > 0 else np.zeros((len(q), 0), int)
        for i, qi in enumerate(q):
            good = top[i][np.isfinite(score[i, top[i]])]
            src.append(np.full(len(good), qi))
            dst.append(good)
            cost.append(1.05 - score[i, good])
    cat = lambda parts_, dt: np.concatenate(parts_).astype(dt) if parts_ else np.zeros(0, dt)  # noqa: E731
    return cat(src, np.int64), cat(dst, np.int64), cat(cost, np.float64), ""


def _candidate_graph(table: MixTable, X: np.ndarray, config: MixConfig, large_rows: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, str]:
    """:func:`_graph` over each section's nearest sections by timbre only (an approximate index), for large tables."""
    from ..analysis.similar import candidate_rows

    desc = table.descriptors
    n = len(desc)
    m = min(n - 1, max(MIX_CANDIDATES, 10 * config.graph_neighbours))
    cand_all, index = candidate_rows(X, k=m, metric="cosine", seed=_INDEX_SEED)
    codes = _row_codes(desc)
    unit = unit_rows(X)
    tid = pd.factorize(desc["track_id"])[0]  # integer codes: compared m times per section
    kk = min(config.graph_neighbours, m)
    block = max(1, _GRAPH_BLOCK_VALUES // (m * max(1, X.shape[1])))
    src, dst, cost = [], [], []
    for lo in range(0, n, block):
        q = np.arange(lo, min(lo + block, n))
        cand = cand_all[q]
        missing = cand < 0
        cand = np.where(missing, q[:, None], cand)  # padding points at the row itself, then is masked out
        parts = _components(codes, X, q, cand, config, unit=unit)
        allowed = ~missing & (cand != q[:, None])
        if config.other_tracks:
            allowed &= tid[cand] != tid[q, None]
        if config.require_compatible:
            allowed &= parts["compatible"]
        score = np.where(allowed, parts["score"], -np.inf)
        top = np.argpartition(-score, kk - 1, axis=1)[:, :kk]
        rows = np.repeat(q, kk)
        top_score = np.take_along_axis(score, top, axis=1).ravel()
        good = np.isfinite(top_score)
        src.append(rows[good])
        dst.append(np.take_along_axis(cand, top, axis=1).ravel()[good])
        cost.append(1.05 - top_score[good])
    note = (
        f"each section's {kk} best successors were chosen among its {m} nearest sections by timbre, "
        f"not among all {n:,}, because {n:,} sections >= {large_rows:,}; the neighbours came from {index}"
    )
    return np.concatenate(src).astype(np.int64), np.concatenate(dst).astype(np.int64), np.concatenate(cost).astype(np.float64), note


def _walk(n: int, src: np.ndarray, dst: np.ndarray, cost: np.ndarray, a: int, b: int, steps: int, banned: np.ndarray) -> tuple[list[int], float] | None:
    """Cheapest walk of exactly ``steps`` edges from a to b avoiding ``banned`` nodes in between."""
    best = np.full(n, np.inf)
    best[a] = 0.0
    preds = []
    for s in range(steps):
        cand = best[src] + cost
        ok = np.isfinite(cand) & ((s == steps - 1) | ~banned[dst])
        if s == steps - 1:
            ok &= dst == b
        else:
            ok &= dst != b
        new = np.full(n, np.inf)
        pred = np.full(n, -1, dtype=np.int64)
        if ok.any():
            cs, cd, cc = src[ok], dst[ok], cand[ok]
            order = np.lexsort((cs, cc, cd))
            cd_sorted = cd[order]
            first = np.ones(len(order), bool)
            first[1:] = cd_sorted[1:] != cd_sorted[:-1]
            sel = order[first]
            new[cd[sel]] = cc[sel]
            pred[cd[sel]] = cs[sel]
        preds.append(pred)
        best = new
    if not np.isfinite(best[b]):
        return None
    path = [b]
    for pred in reversed(preds):
        path.append(int(pred[path[-1]]))
    return path[::-1], float(best[b])


def _simple_walk(n: int, src, dst, cost, a: int, b: int, steps: int) -> tuple[list[int], float] | None:
    """:func:`_walk`, retried with any section it repeats banned from the middle (at most 20 tries)."""
    banned = np.zeros(n, bool)
    banned[[a, b]] = True
    for _ in range(20):
        found = _walk(n, src, dst, cost, a, b, steps, banned)
        if found is None:
            return None
        path = found[0]
        repeats = [node for i, node in enumerate(path) if node in path[:i]]
        if not repeats:
            return found
        banned[repeats[0]] = True
    return None


def mix_path(
    table: MixTable,
    *,
    start: int,
    end: int,
    steps: int = 5,
    config: MixConfig = MixConfig(),
    timbre: np.ndarray | None = None,
    large_rows: int = LARGE_ROWS,
) -> MixPath:
    """A chain of ``steps`` transitions from section ``start`` to section ``end``.

    The cheapest walk of exactly ``steps`` edges on the neighbour graph (see
    the module docstring), found by dynamic programming over the step count.
    A walk that visits a section twice is retried with that section banned
    from the middle of the chain (a heuristic: cheapest *simple* paths of a
    fixed length are NP-hard in general).

    Parameters
    ----------
    table : MixTable
    start, end : int
        Rows of the first and last section.
    steps : int
        Transitions (the chain holds ``steps + 1`` sections), 1..50.
    config : MixConfig
        Weights, tolerance, ``graph_neighbours``, ``require_compatible``, ``other_tracks``.
    timbre : np.ndarray [shape=(n_sections, dim)], optional
        Timbre vectors; default the z-scored section features.
    large_rows : int
        At or above this many sections each section's successors are
        chosen among its nearest sections by timbre (an approximate index)
        instead of among all sections; 0 = never. Default :data:`LARGE_ROWS`.

    Returns
    -------
    MixPath
        ``note`` says when the graph was built from the index.

    Raises
    ------
    ParameterError
        For rows out of range, ``steps`` out of 1..50, or when no chain of
        that many compatible steps exists (the message says which lengths do).
    """
    n = len(table)
    for r in (start, end):
        if not 0 <= int(r) < n:
            raise ParameterError(f"row {r} is out of range 0..{n - 1}")
    if not 1 <= steps <= 50:
        raise ParameterError(f"steps must be in 1..50, got {steps}")
    if start == end:
        raise ParameterError("a mix path needs two different sections")
    X = _timbre_vectors(table, timbre)
    src, dst, cost, note = _graph(table, X, config, large_rows=large_rows)
    found = _simple_walk(n, src, dst, cost, int(start), int(end), steps)
    if found is None:
        feasible = [s for s in range(1, 13) if _simple_walk(n, src, dst, cost, int(start), int(end), s) is not None]
        hint = f"chains exist with {feasible} steps" if feasible else "no chain of up to 12 steps exists"
        raise ParameterError(
            f"no chain of exactly {steps} {'compatible ' if config.require_compatible else ''}steps without repeats; {hint}"
            " (try another step count, a wider tempo tolerance or more graph neighbours)"
        )
    path, total = found
    rows = np.asarray(path, dtype=np.int64)
    desc = table.descriptors
    frame = desc.iloc[rows][[*_META, "bpm", "camelot", "key", "energy_level", "first_beat_s"]].reset_index(drop=True)
    scores, reasons = [np.nan], [""]
    parts_all = pair_components(desc, X, rows[:-1], config=config)
    for i in range(1, len(rows)):
        j = rows[i]
        scores.append(float(parts_all["score"][i - 1, j]))
        reasons.append(
            _reason(
                desc.iloc[rows[i - 1]], desc.iloc[j], parts_all["tempo_dev"][i - 1, j], parts_all["tempo_factor"][i - 1, j],
                parts_all["key_relation"][i - 1, j], parts_all["timbre_distance"][i - 1, j],
            )
        )
    frame["score"] = scores
    frame["reason"] = reasons
    frame["row"] = rows
    digest = f"{table.config_digest}-{config.digest()}"
    frame.attrs["config_digest"] = digest
    return MixPath(rows=rows, frame=frame, cost=float(total), config_digest=digest, note=note)
