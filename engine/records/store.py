"""Records of the store stage: an expert's stored judgement of a section's cluster, and DJ collections.

Frozen dataclasses holding arrays and tuples (shapes documented per field);
they import nothing from the engine's stages.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pandas as pd

__all__ = ["Judgement", "SavedSection", "SavedResult", "DJCue", "DJTempo", "DJTrack", "DJPlaylist", "DJCollection"]


@dataclass(frozen=True)
class Judgement:
    """One stored judgement (a row of ``engine.store.reviews.ReviewStore``)."""

    id: int  # row id, increasing in the order rows were written
    created_utc: str  # ISO 8601 in UTC
    reviewer: str
    track_id: str  # sha256 of the file's bytes
    name: str  # the track's display name when judged
    section: int  # section number within the track
    start_s: float  # seconds
    end_s: float  # seconds
    assigned_cluster: int  # the cluster shown to the reviewer
    verdict: str  # one of engine.store.reviews.VERDICTS
    corrected_cluster: int | None  # the right cluster, when the reviewer named one
    label: str  # a free label ("" when none)
    comment: str  # "" when none
    config_digest: str  # clustering config digest
    section_digest: str  # analysis section digest ("" when unknown)

    @property
    def resolved_label(self) -> str | None:
        """The label the reviewer gave the section, or None when they gave none.

        A free label wins; else the cluster named with a ``wrong`` verdict
        (``"cluster 3"``). A ``right`` verdict without a free label gives none:
        it only repeats the clustering's own answer.
        """
        return Judgement.label_of(self)

    @staticmethod
    def label_of(row) -> str | None:
        """The label a judgement, or a row of ``ReviewStore.judgements()`` (a named tuple), gives its section.

        The rule of :attr:`resolved_label`, for rows read as a table.
        """
        if row.label:
            return str(row.label)
        if row.verdict == "wrong" and row.corrected_cluster is not None and not pd.isna(row.corrected_cluster):
            return f"cluster {int(row.corrected_cluster)}"
        return None  # "right" repeats the clustering's answer; "unsure" and a bare "wrong" name none


@dataclass(frozen=True)
class SavedSection:
    """One section of a saved result."""

    track_id: str  # sha256 of the file's bytes
    name: str  # the track's display name when saved
    section: int
    start_s: float  # seconds
    end_s: float  # seconds


@dataclass(frozen=True)
class SavedResult:
    """A result the user saved (a row of ``engine.store.saved.SavedResults``): a titled, ordered list of sections."""

    id: int  # row id, increasing in the order results were saved
    created_utc: str  # ISO 8601 in UTC
    kind: str  # what it is, e.g. "similar" (the nearest sections of one section)
    title: str
    section_digest: str  # the analysis the sections were cut under ("" when unknown)
    config_digest: str  # the settings that found them ("" when none)
    sections: tuple[SavedSection, ...]  # in the order shown


@dataclass(frozen=True)
class DJCue:
    """A cue point as DJ software keeps it."""

    start_s: float  # seconds from the file's start (written to the millisecond)
    name: str  # shown on the deck; "" when none
    slot: int = -1  # -1: a memory cue; 0-7: hot cue A-H
    colour: tuple[int, int, int] | None = None  # RGB 0-255 of a hot cue, None: the program's default


@dataclass(frozen=True)
class DJTempo:
    """One stretch of a beat grid: from ``start_s`` on, beats every 60 / ``bpm`` seconds."""

    start_s: float  # seconds of the first beat of the stretch
    bpm: float
    beat: int = 1  # that beat's place in its bar, 1-4 (1: a downbeat)


@dataclass(frozen=True)
class DJTrack:
    """One track of a DJ collection: where it is on the DJ's machine and what the program knows of it."""

    location: str  # absolute path on the DJ's machine (see engine.store.locations)
    name: str = ""  # title
    artist: str = ""
    duration_s: float = 0.0
    bpm: float = 0.0  # average; 0 when unknown
    key: str = ""  # standard notation, e.g. "Am", "F#m", "Db"; "" when unknown
    cues: tuple[DJCue, ...] = ()
    tempo: tuple[DJTempo, ...] = ()  # the beat grid, in time order
    rating: int = 0  # 0-5 stars


@dataclass(frozen=True)
class DJPlaylist:
    """A playlist inside folders: ``path`` is the folders then the playlist's name."""

    path: tuple[str, ...]
    locations: tuple[str, ...]  # the tracks in order, by DJTrack.location


@dataclass(frozen=True)
class DJCollection:
    """A DJ program's library as read from its file: tracks and playlists."""

    tracks: tuple[DJTrack, ...]
    playlists: tuple[DJPlaylist, ...] = field(default_factory=tuple)
    program: str = ""  # "rekordbox", "traktor", "m3u"
