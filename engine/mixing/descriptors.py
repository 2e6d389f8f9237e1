"""Tempo, beats, key and energy of each track and section, from stored frames.

:func:`describe_track` turns one track's stored frames into its tempo, beats,
key and energy curve; :func:`describe_sections` gives the same per section.
:func:`describe_store` does both for a whole store and caches them there (no
decoding):

* track descriptors are keyed by ``(track_id, frame digest,
  MixConfig.descriptor_digest())`` -- they do not depend on how tracks are
  cut into sections;
* section descriptors are keyed by ``(track_id, section digest,
  MixConfig.descriptor_digest())`` -- a new section length recomputes them
  from the stored frames.

The rules themselves are the describe stage's: tempo, beats and energy in
:mod:`engine.describe.rhythm`, key and Camelot code in :mod:`engine.describe.key`.
"""

from __future__ import annotations

from typing import Callable

import numpy as np
import pandas as pd

from ..config import AnalysisConfig, MixConfig
from ..describe.bars import frame_bars
from ..describe.key import CLEAR_KEY, camelot, key_name
from ..describe.rhythm import align_to_beats, beat_grid, energy_curve, energy_of, estimate_tempo, onset_times
from ..describe.tonal import key_columns, key_of
from ..errors import ParameterError, StoreError
from ..records import FrameTable, MixTable, Tempo, TrackDescriptors
from ..records.mixing import DESCRIPTOR_COLUMNS, DESCRIPTOR_META_COLUMNS as _META

__all__ = ["describe_track", "describe_sections", "describe_store", "frames_needed", "DESCRIPTOR_COLUMNS"]

_MIN_TEMPO_S = 4.0  # shortest stretch with its own tempo estimate; shorter sections use the track's


def _check_row(table: MixTable, row: int) -> int:
    """``row`` as an int, or a ParameterError naming the valid range."""
    if not 0 <= int(row) < len(table):
        raise ParameterError(f"row {row} is out of range 0..{len(table) - 1}")
    return int(row)


def _column(frames: FrameTable, name: str) -> np.ndarray:
    try:
        return frames.values[:, frames.names.index(name)].astype(np.float64)
    except ValueError:
        raise ParameterError(f"the stored frames lack {name!r}; analyse again with the default frame settings") from None


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
        If the frames lack a needed column or beat tracking fails.
    """
    rate = frames.sample_rate / frames.hop_length
    onset, rmse = _column(frames, "onset_strength"), _column(frames, "rmse")
    tempo, bars = frame_bars(frames, bpm_min=config.bpm_min, bpm_max=config.bpm_max)
    beats = bars.beats_s
    key = key_of(*key_columns(frames), rmse, profile=config.key_profile)
    onsets = onset_times(onset, frame_rate=rate)
    energy = energy_of(rmse, len(onsets), frames.duration_s)
    times, curve = energy_curve(rmse, onsets, frame_rate=rate)
    return TrackDescriptors(
        track_id=frames.track_id,
        bpm=tempo.bpm,
        bpm_confidence=tempo.confidence,
        tempo_note=tempo.note,
        beats_s=beats,
        key=key_name(key.tonic, key.mode),
        camelot=camelot(key.tonic, key.mode),
        key_strength=key.strength,
        key_confidence=key.confidence,
        energy=energy.energy,
        curve_times_s=times,
        curve_energy=curve,
        descriptor_digest=config.descriptor_digest(),
        beat_positions=bars.positions,
        bar_confidence=bars.confidence,
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
    onset, rmse = _column(frames, "onset_strength"), _column(frames, "rmse")
    chroma, bass, classical = key_columns(frames)
    onsets = onset_times(onset, frame_rate=rate)
    rows = []
    for _, sec in sections.iterrows():
        a = int(np.ceil(float(sec["start_s"]) * rate - 1e-9))
        b = min(int(np.ceil(float(sec["end_s"]) * rate - 1e-9)), len(onset))
        tempo = _section_tempo(onset[a:b], rmse[a:b], a / rate, rate=rate, track=track, config=config)
        grid = beat_grid(tempo, start_s=a / rate, end_s=float(sec["end_s"]))
        key = key_of(chroma[a:b], None if bass is None else bass[a:b], classical[a:b], rmse[a:b], profile=config.key_profile)
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
                "first_beat_s": float(grid[0]) if len(grid) else a / rate,
                "n_beats": int(len(grid)),
                "key": key_name(key.tonic, key.mode),
                "key_short": key_name(key.tonic, key.mode, short=True),
                "tonic": key.tonic,
                "mode": key.mode,
                "camelot": camelot(key.tonic, key.mode),
                "key_strength": key.strength,
                "key_confidence": key.confidence,
                "key_clear": bool(key.confidence >= CLEAR_KEY),
                "energy": energy.energy,
                "energy_level": energy.level,
                "loudness_db": energy.loudness_db,
                "onset_rate": energy.onset_rate,
            }
        )
    return pd.DataFrame(rows, columns=[*_META, *DESCRIPTOR_COLUMNS])


def _section_tempo(onset: np.ndarray, rmse: np.ndarray, start: float, *, rate: float, track: TrackDescriptors, config: MixConfig) -> Tempo:
    """A section's tempo on the track's beat grid; a section under 4 s takes the track's tempo (confidence 0)."""
    if len(onset) / rate >= _MIN_TEMPO_S:
        tempo = estimate_tempo(onset, frame_rate=rate, bpm_min=config.bpm_min, bpm_max=config.bpm_max, near_bpm=track.bpm, accent=rmse)
        return align_to_beats(tempo, track.beats_s, start_s=start)
    period = 60.0 / track.bpm
    later = track.beats_s[track.beats_s >= start]
    first = float(later[0] - start) % period if len(later) else 0.0
    return Tempo(bpm=track.bpm, confidence=0.0, first_beat_s=first, raw_bpm=track.bpm, octave=1.0, bpm_min=config.bpm_min, bpm_max=config.bpm_max)


# -- the cache in the store -------------------------------------------------------


def _track_key(frame_digest: str, config: MixConfig) -> str:
    return f"track-{frame_digest}-{config.descriptor_digest()}"


def _section_key(section_digest: str, config: MixConfig) -> str:
    return f"sections-{section_digest}-{config.descriptor_digest()}"


def _track_to_store(t: TrackDescriptors) -> tuple[pd.DataFrame, dict]:
    frame = pd.DataFrame(
        {
            "kind": ["beat"] * len(t.beats_s) + ["energy"] * len(t.curve_times_s),
            "time_s": np.concatenate([t.beats_s, t.curve_times_s]),
            # a beat's value is its place in the bar, 1..4
            "value": np.concatenate([np.asarray(t.beat_positions, np.float64), t.curve_energy]),
        }
    )
    meta = {k: getattr(t, k) for k in ("bpm", "bpm_confidence", "tempo_note", "key", "camelot", "key_strength", "key_confidence", "energy",
                                       "descriptor_digest", "bar_confidence")}  # fmt: skip
    return frame, meta


def _track_from_store(track_id: str, frame: pd.DataFrame, meta: dict) -> TrackDescriptors:
    beats = frame["kind"].to_numpy() == "beat"
    return TrackDescriptors(
        track_id=track_id,
        beats_s=frame["time_s"].to_numpy(np.float64)[beats],
        beat_positions=frame["value"].to_numpy(np.float64)[beats].astype(np.int64),
        curve_times_s=frame["time_s"].to_numpy(np.float64)[~beats],
        curve_energy=frame["value"].to_numpy(np.float64)[~beats],
        **meta,
    )


def frames_needed(store, track_ids, *, analysis: AnalysisConfig, config: MixConfig = MixConfig()) -> list[str]:
    """The tracks :func:`describe_store` would need frame tables for and the store lacks.

    A track needs none when its descriptors under ``config`` are stored (a
    seeded store, like the demo's, holds those of the default settings);
    otherwise they are computed from its frames. Analyse the listed tracks
    with ``analyze(..., frames=True)`` first.
    """
    frame_digest = analysis.frames.digest()
    tkey, skey = _track_key(frame_digest, config), _section_key(analysis.section_digest(), config)
    return [
        str(t)
        for t in track_ids
        if not (store.has_descriptors(str(t), tkey) and store.has_descriptors(str(t), skey)) and not store.has_frames(str(t), frame_digest)
    ]


class _Cache:
    """One store's descriptors of one analysis and descriptor config: read when kept, else computed and kept."""

    def __init__(self, store, analysis: AnalysisConfig, config: MixConfig):
        self.store, self.config = store, config
        self.frame_digest, self.section_digest = analysis.frames.digest(), analysis.section_digest()
        self.tkey, self.skey = _track_key(self.frame_digest, config), _section_key(self.section_digest, config)
        self._frames: FrameTable | None = None  # the current track's frames, read at most once

    def frames(self, tid: str) -> FrameTable:
        if self._frames is None or self._frames.track_id != tid:
            self._frames = self.store.get_frames(tid, self.frame_digest)
        return self._frames

    def track(self, tid: str) -> TrackDescriptors:
        if self.store.has_descriptors(tid, self.tkey):
            return _track_from_store(tid, *self.store.get_descriptors(tid, self.tkey))
        track = describe_track(self.frames(tid), config=self.config)
        frame, meta = _track_to_store(track)
        self.store.put_descriptors(tid, self.tkey, frame, meta=meta)
        return track

    def sections(self, tid: str, own: pd.DataFrame, track: TrackDescriptors) -> pd.DataFrame:
        if self.store.has_descriptors(tid, self.skey):
            part, _ = self.store.get_descriptors(tid, self.skey)
            if set(own["section"]) <= set(part["section"]) and set(DESCRIPTOR_COLUMNS) <= set(part.columns):
                part = part.set_index("section").loc[own["section"].to_numpy()].reset_index()[[*_META, *DESCRIPTOR_COLUMNS]]
                part["name"] = own["name"].to_numpy()
                return part
            # written by another version: recompute
        part = describe_sections(self.frames(tid), own, track=track, config=self.config)
        meta = {"section_digest": self.section_digest, "descriptor_digest": self.config.descriptor_digest()}
        self.store.put_descriptors(tid, self.skey, part, meta=meta)
        return part


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
    cache = _Cache(store, analysis, config)
    tracks: dict[str, TrackDescriptors] = {}
    parts = []
    meta = sections.meta
    for tid in pd.unique(meta["track_id"]):
        tid = str(tid)
        cached = store.has_descriptors(tid, cache.tkey) and store.has_descriptors(tid, cache.skey)
        tracks[tid] = cache.track(tid)
        parts.append(cache.sections(tid, meta[meta["track_id"] == tid], tracks[tid]))
        if progress is not None:
            progress(tid, cached)
    desc = pd.concat(parts, ignore_index=True)
    # Rows in the section table's order (load_sections keeps tracks together, sections ascending).
    order = pd.MultiIndex.from_frame(meta[["track_id", "section"]].astype({"section": np.int64}))
    desc = desc.set_index(["track_id", "section"]).loc[order].reset_index()[[*_META, *DESCRIPTOR_COLUMNS]]
    config_digest = f"{cache.section_digest}-{config.descriptor_digest()}"
    return MixTable(sections=sections, descriptors=desc, tracks=tracks, config_digest=config_digest)
