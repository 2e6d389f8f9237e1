"""Traktor NML: read a DJ's collection, and write tracks, beat grids, cues and playlists into one.

The structure is the one Traktor Pro writes in ``collection.nml`` (VERSION 19):

* ``NML/COLLECTION/ENTRY`` per track, ``TITLE`` and ``ARTIST`` on it, and inside
  ``LOCATION`` (``VOLUME``/``DIR``/``FILE``: :func:`engine.store.locations.path_to_traktor`),
  ``INFO`` (``PLAYTIME`` whole seconds, ``PLAYTIME_FLOAT``, ``RANKING`` 0-255 in
  steps of 51, ``KEY`` in standard notation), ``TEMPO BPM=``, ``MUSICAL_KEY
  VALUE=`` (0-11 the major keys from C, 12-23 the minor keys from Cm) and
  ``CUE_V2`` cues: ``START`` in **milliseconds**, ``TYPE`` 0 a cue and 4 a grid
  marker (with ``<GRID BPM=>`` inside), ``HOTCUE`` -1 for a memory cue or 0-7;
* ``NML/PLAYLISTS/NODE TYPE="FOLDER" NAME="$ROOT"/SUBNODES``: folders
  (``TYPE="FOLDER"``) and playlists (``TYPE="PLAYLIST"``, entries
  ``<PRIMARYKEY TYPE="TRACK" KEY="VOLUME+DIR+FILE">``).

Writing merges as :mod:`engine.store.rekordbox` does: the DJ's file stays
whole, CrateMap's cues are named from :data:`engine.store.rekordbox.CUE_PREFIX`
and replaced on the next export, hot cues take free slots, grid markers are
added only to a track without any, and playlists go under one ``CrateMap``
folder. NML has no per-cue colour: a hot cue's cluster is in its name.
"""

from __future__ import annotations

import uuid
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import BinaryIO, Iterable, Sequence

from ..errors import ParameterError
from ..records import DJCollection, DJCue, DJPlaylist, DJTempo, DJTrack
from ._djxml import hot_slot, number, parse
from .locations import path_to_traktor, traktor_to_path
from .rekordbox import CUE_PREFIX, FOLDER

__all__ = ["TRAKTOR_KEYS", "read_traktor", "write_traktor"]

#: MUSICAL_KEY VALUE -> standard notation (Traktor's order: the major keys from C, then the minor keys from Cm).
TRAKTOR_KEYS = (
    "C", "Db", "D", "Eb", "E", "F", "F#", "G", "Ab", "A", "Bb", "B",
    "Cm", "C#m", "Dm", "Ebm", "Em", "Fm", "F#m", "Gm", "G#m", "Am", "Bbm", "Bm",
)  # fmt: skip
_CUE, _GRID = "0", "4"
_ALIASES = {"C#": "Db", "D#": "Eb", "Gb": "F#", "G#": "Ab", "A#": "Bb", "Dbm": "C#m", "D#m": "Ebm", "Gbm": "F#m", "Abm": "G#m", "A#m": "Bbm"}


def read_traktor(source: str | Path | bytes | BinaryIO) -> DJCollection:
    """The tracks and playlists of a Traktor NML file.

    Raises
    ------
    ParameterError
        If the file is not NML, or an entry has no usable LOCATION.
    """
    root = parse(source, root_tag="NML", program="Traktor NML")
    tracks = [_track_from(e) for e in root.iterfind("COLLECTION/ENTRY")]
    by_key = {_primary_key(t.location): t.location for t in tracks}
    playlists: list[DJPlaylist] = []
    top = root.find("PLAYLISTS/NODE")
    if top is not None:
        _walk(top, (), by_key, playlists)
    return DJCollection(tracks=tuple(tracks), playlists=tuple(playlists), program="traktor")


def write_traktor(
    tracks: Sequence[DJTrack], playlists: Sequence[DJPlaylist] = (), *, merge_into: str | Path | bytes | BinaryIO | None = None
) -> bytes:
    """A Traktor NML file holding ``tracks`` and ``playlists``, merged into the DJ's own file when given.

    Parameters and merging as :func:`engine.store.rekordbox.write_rekordbox`.

    Raises
    ------
    ParameterError
        If a playlist names a track neither collection holds, or ``merge_into`` is not NML.
    """
    root = parse(merge_into, root_tag="NML", program="Traktor NML") if merge_into is not None else _empty()
    collection = root.find("COLLECTION")
    by_location = {}
    for entry in collection.iterfind("ENTRY"):
        loc = entry.find("LOCATION")
        if loc is not None and loc.get("FILE"):
            by_location[traktor_to_path(loc.get("VOLUME", ""), loc.get("DIR", ""), loc.get("FILE", ""))] = entry
    for track in tracks:
        entry = by_location.get(track.location)
        if entry is None:
            entry = ET.SubElement(collection, "ENTRY")
            by_location[track.location] = entry
            _fill_new(entry, track)
        _add_cues(entry, track)
    collection.set("ENTRIES", str(len(collection.findall("ENTRY"))))
    _put_playlists(root, playlists, {loc: _primary_key(loc) for loc in by_location})
    ET.indent(root, space="  ")
    return ET.tostring(root, encoding="UTF-8", xml_declaration=True)


def _primary_key(location: str) -> str:
    volume, directory, file = path_to_traktor(location)
    return f"{volume}{directory}{file}"


def _key_name(entry: ET.Element) -> str:
    value = entry.find("MUSICAL_KEY")
    if value is not None and value.get("VALUE", "").isdigit() and int(value.get("VALUE")) < len(TRAKTOR_KEYS):
        return TRAKTOR_KEYS[int(value.get("VALUE"))]
    info = entry.find("INFO")
    return info.get("KEY", "") if info is not None else ""


def _track_from(entry: ET.Element) -> DJTrack:
    loc = entry.find("LOCATION")
    if loc is None or not loc.get("FILE"):
        raise ParameterError(f"entry {entry.get('TITLE', '')!r} has no LOCATION")
    info = entry.find("INFO")
    info = info if info is not None else ET.Element("INFO")
    tempo_el = entry.find("TEMPO")
    cues, grid = [], []
    for cue in entry.iterfind("CUE_V2"):
        start_s = number(cue.get("START")) / 1000.0
        if cue.get("TYPE") == _GRID:
            g = cue.find("GRID")
            grid.append(DJTempo(start_s=start_s, bpm=number(g.get("BPM")) if g is not None else 0.0))
        else:
            cues.append(DJCue(start_s=start_s, name=cue.get("NAME", ""), slot=int(number(cue.get("HOTCUE"), -1))))
    return DJTrack(
        location=traktor_to_path(loc.get("VOLUME", ""), loc.get("DIR", ""), loc.get("FILE", "")),
        name=entry.get("TITLE", ""),
        artist=entry.get("ARTIST", ""),
        duration_s=number(info.get("PLAYTIME_FLOAT"), number(info.get("PLAYTIME"))),
        bpm=number(tempo_el.get("BPM")) if tempo_el is not None else 0.0,
        key=_key_name(entry),
        cues=tuple(cues),
        tempo=tuple(grid),
        rating=round(number(info.get("RANKING")) / 51),
    )


def _walk(node: ET.Element, path: tuple[str, ...], by_key: dict[str, str], out: list[DJPlaylist]) -> None:
    for child in node.iterfind("SUBNODES/NODE"):
        name = child.get("NAME", "")
        if child.get("TYPE") == "PLAYLIST":
            keys = [p.get("KEY", "") for p in child.iterfind("PLAYLIST/ENTRY/PRIMARYKEY")]
            out.append(DJPlaylist(path=(*path, name), locations=tuple(by_key[k] for k in keys if k in by_key)))
        else:
            _walk(child, (*path, name), by_key, out)


def _empty() -> ET.Element:
    root = ET.Element("NML", VERSION="19")
    ET.SubElement(root, "HEAD", COMPANY="www.native-instruments.com", PROGRAM="Traktor")
    ET.SubElement(root, "MUSICFOLDERS")
    ET.SubElement(root, "COLLECTION", ENTRIES="0")
    ET.SubElement(root, "SETS", ENTRIES="0")
    playlists = ET.SubElement(root, "PLAYLISTS")
    top = ET.SubElement(playlists, "NODE", TYPE="FOLDER", NAME="$ROOT")
    ET.SubElement(top, "SUBNODES", COUNT="0")
    return root


def _fill_new(entry: ET.Element, track: DJTrack) -> None:
    volume, directory, file = path_to_traktor(track.location)
    entry.set("TITLE", track.name or Path(track.location.replace("\\", "/")).stem)
    entry.set("ARTIST", track.artist)
    ET.SubElement(entry, "LOCATION", DIR=directory, FILE=file, VOLUME=volume, VOLUMEID=volume)
    ET.SubElement(
        entry, "INFO", PLAYTIME=str(int(round(track.duration_s))), PLAYTIME_FLOAT=f"{track.duration_s:.6f}",
        RANKING=str(51 * max(0, min(5, track.rating))), KEY=track.key,
    )  # fmt: skip
    if track.bpm > 0:
        ET.SubElement(entry, "TEMPO", BPM=f"{track.bpm:.6f}", BPM_QUALITY="100.000000")
    key = _ALIASES.get(track.key, track.key)
    if key in TRAKTOR_KEYS:
        ET.SubElement(entry, "MUSICAL_KEY", VALUE=str(TRAKTOR_KEYS.index(key)))


def _add_cues(entry: ET.Element, track: DJTrack) -> None:
    for old in [c for c in entry.iterfind("CUE_V2") if c.get("NAME", "").startswith(CUE_PREFIX)]:
        entry.remove(old)
    if track.tempo and not any(c.get("TYPE") == _GRID for c in entry.iterfind("CUE_V2")):
        for t in track.tempo:
            marker = _cue(entry, f"{CUE_PREFIX}grid", _GRID, t.start_s, -1)
            ET.SubElement(marker, "GRID", BPM=f"{t.bpm:.6f}")
    taken = {int(number(c.get("HOTCUE"), -1)) for c in entry.iterfind("CUE_V2")}
    for cue in track.cues:
        slot = hot_slot(cue.slot, taken, where=track.location, program="Traktor")
        if slot is None:
            continue  # the DJ's own hot cues fill every slot: theirs stay
        _cue(entry, CUE_PREFIX + cue.name, _CUE, cue.start_s, slot)


def _cue(entry: ET.Element, name: str, kind: str, start_s: float, slot: int) -> ET.Element:
    return ET.SubElement(
        entry, "CUE_V2", NAME=name, DISPL_ORDER="0", TYPE=kind, START=f"{start_s * 1000.0:.3f}", LEN="0.000000",
        REPEATS="-1", HOTCUE=str(slot),
    )  # fmt: skip


def _put_playlists(root: ET.Element, playlists: Iterable[DJPlaylist], keys: dict[str, str]) -> None:
    top = root.find("PLAYLISTS/NODE/SUBNODES")
    for old in [n for n in top.iterfind("NODE") if n.get("NAME") == FOLDER and n.get("TYPE") == "FOLDER"]:
        top.remove(old)
    playlists = list(playlists)
    if playlists:
        folder = ET.SubElement(ET.SubElement(top, "NODE", TYPE="FOLDER", NAME=FOLDER), "SUBNODES", COUNT="0")
        for playlist in playlists:
            _put_one(folder, playlist, keys)
        for sub in folder.iter("SUBNODES"):
            sub.set("COUNT", str(len(sub.findall("NODE"))))
    top.set("COUNT", str(len(top.findall("NODE"))))


def _put_one(folder: ET.Element, playlist: DJPlaylist, keys: dict[str, str]) -> None:
    if not playlist.path:
        raise ParameterError("a playlist needs a name")
    missing = [loc for loc in playlist.locations if loc not in keys]
    if missing:
        raise ParameterError(f"playlist {'/'.join(playlist.path)} names tracks in neither collection: {missing[:3]}")
    node = folder
    for name in playlist.path[:-1]:
        found = next((n for n in node.iterfind("NODE") if n.get("NAME") == name and n.get("TYPE") == "FOLDER"), None)
        if found is None:
            found = ET.SubElement(node, "NODE", TYPE="FOLDER", NAME=name)
            ET.SubElement(found, "SUBNODES")
        node = found.find("SUBNODES")
    entry = ET.SubElement(node, "NODE", TYPE="PLAYLIST", NAME=playlist.path[-1])
    lst = ET.SubElement(entry, "PLAYLIST", ENTRIES=str(len(playlist.locations)), TYPE="LIST", UUID=uuid.uuid5(uuid.NAMESPACE_URL, "/".join(playlist.path)).hex)
    for loc in playlist.locations:
        ET.SubElement(ET.SubElement(lst, "ENTRY"), "PRIMARYKEY", TYPE="TRACK", KEY=keys[loc])
