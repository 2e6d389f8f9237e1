"""rekordbox XML: read a DJ's collection, and write tracks, beat grids, cues and playlists into one.

The format is rekordbox's "rekordbox xml" (File > Export Collection in xml
format; imported under Preferences > Advanced > Database > rekordbox xml):

* ``DJ_PLAYLISTS/COLLECTION/TRACK``, one per track: ``TrackID``, ``Name``,
  ``Artist``, ``TotalTime`` (whole seconds), ``AverageBpm``, ``Tonality``
  (standard notation: ``Am``, ``F#m``, ``Db``), ``Rating`` (0-255 in steps of
  51 for 0-5 stars) and ``Location`` (:func:`engine.store.locations.path_to_rekordbox`);
* inside a TRACK, ``TEMPO`` (``Inizio`` seconds, ``Bpm``, ``Metro="4/4"``,
  ``Battito`` the beat's place in its bar) for the beat grid, and
  ``POSITION_MARK`` (``Start`` seconds, ``Type="0"`` a cue, ``Num`` -1 for a
  memory cue or 0-7 for hot cue A-H, ``Red``/``Green``/``Blue`` for a hot
  cue's colour);
* ``DJ_PLAYLISTS/PLAYLISTS/NODE Name="ROOT"``: folders (``Type="0"``) and
  playlists (``Type="1"``, ``KeyType="0"``: entries name a ``TrackID``).

Writing merges, never replaces: given the DJ's own file, every element and
attribute in it is kept, and CrateMap adds its cues (names starting
:data:`CUE_PREFIX`, so a DJ tells them apart; hot cues only in free slots),
a beat grid only where the track has none, and its playlists under one
:data:`FOLDER` folder, which is replaced on the next export. Times are
written to the millisecond.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path
from typing import BinaryIO, Iterable, Sequence

from ..errors import ParameterError
from ..records import DJCollection, DJCue, DJPlaylist, DJTempo, DJTrack
from ._djxml import hot_slot, number, parse
from .locations import path_to_rekordbox, rekordbox_to_path

__all__ = ["FOLDER", "CUE_PREFIX", "read_rekordbox", "write_rekordbox"]

#: The playlist folder CrateMap writes its playlists into (replaced on each export).
FOLDER = "CrateMap"
#: The start of every cue name CrateMap writes.
CUE_PREFIX = "CM "


def read_rekordbox(source: str | Path | bytes | BinaryIO) -> DJCollection:
    """The tracks and playlists of a rekordbox XML file.

    Parameters
    ----------
    source : path, bytes or binary file

    Returns
    -------
    DJCollection
        Tracks in file order, locations as paths on the machine that wrote them;
        playlists with their folder path (without ``ROOT``).

    Raises
    ------
    ParameterError
        If the file is not rekordbox XML, or a track has no usable ``Location``.
    """
    root = parse(source, root_tag="DJ_PLAYLISTS", program="rekordbox XML")
    tracks, by_id = [], {}
    for el in root.iterfind("COLLECTION/TRACK"):
        track = _track_from(el)
        tracks.append(track)
        by_id[el.get("TrackID", "")] = track.location
    playlists: list[DJPlaylist] = []
    top = root.find("PLAYLISTS/NODE")
    if top is not None:
        _walk(top, (), by_id, playlists)
    return DJCollection(tracks=tuple(tracks), playlists=tuple(playlists), program="rekordbox")


def write_rekordbox(
    tracks: Sequence[DJTrack], playlists: Sequence[DJPlaylist] = (), *, merge_into: str | Path | bytes | BinaryIO | None = None
) -> bytes:
    """A rekordbox XML file holding ``tracks`` and ``playlists``, merged into the DJ's own file when given.

    Parameters
    ----------
    tracks : sequence of DJTrack
        CrateMap's tracks, their cues and beat grids. A track already in
        ``merge_into`` (same location) gains CrateMap's cues and, when it has
        none, its beat grid; its own cues, grid, rating and attributes stay.
    playlists : sequence of DJPlaylist
        Written under the :data:`FOLDER` folder (``path`` below it); every
        location must be one of ``tracks`` or of ``merge_into``.
    merge_into : path, bytes or binary file, optional
        The DJ's exported collection.

    Returns
    -------
    bytes
        UTF-8 XML with its declaration.

    Raises
    ------
    ParameterError
        If a playlist names a track neither collection holds, or ``merge_into`` is not rekordbox XML.
    """
    root = parse(merge_into, root_tag="DJ_PLAYLISTS", program="rekordbox XML") if merge_into is not None else _empty()
    collection = root.find("COLLECTION")
    by_location = {rekordbox_to_path(el.get("Location", "")): el for el in collection.iterfind("TRACK") if el.get("Location")}
    next_id = 1 + max((int(el.get("TrackID", "0")) for el in collection.iterfind("TRACK") if el.get("TrackID", "").isdigit()), default=0)
    for track in tracks:
        el = by_location.get(track.location)
        if el is None:
            el = ET.SubElement(collection, "TRACK", TrackID=str(next_id))
            next_id += 1
            by_location[track.location] = el
            _fill_new(el, track)
        _add_marks(el, track)
    collection.set("Entries", str(len(collection.findall("TRACK"))))
    _put_playlists(root, playlists, {loc: el.get("TrackID") for loc, el in by_location.items()})
    ET.indent(root, space="  ")
    return ET.tostring(root, encoding="UTF-8", xml_declaration=True)


# -- reading ------------------------------------------------------------------


def _track_from(el: ET.Element) -> DJTrack:
    location = el.get("Location", "")
    if not location:
        raise ParameterError(f"track {el.get('TrackID', '?')} ({el.get('Name', '')!r}) has no Location")
    cues = tuple(
        DJCue(
            start_s=number(m.get("Start")),
            name=m.get("Name", ""),
            slot=int(number(m.get("Num"), -1)),
            colour=(int(m.get("Red")), int(m.get("Green")), int(m.get("Blue"))) if m.get("Red") is not None else None,
        )
        for m in el.iterfind("POSITION_MARK")
    )
    tempo = tuple(
        DJTempo(start_s=number(t.get("Inizio")), bpm=number(t.get("Bpm")), beat=int(number(t.get("Battito"), 1)))
        for t in el.iterfind("TEMPO")
    )
    return DJTrack(
        location=rekordbox_to_path(location),
        name=el.get("Name", ""),
        artist=el.get("Artist", ""),
        duration_s=number(el.get("TotalTime")),
        bpm=number(el.get("AverageBpm")),
        key=el.get("Tonality", ""),
        cues=cues,
        tempo=tempo,
        rating=round(number(el.get("Rating")) / 51),
    )


def _walk(node: ET.Element, path: tuple[str, ...], by_id: dict[str, str], out: list[DJPlaylist]) -> None:
    for child in node.iterfind("NODE"):
        name = child.get("Name", "")
        if child.get("Type") == "1":
            keys = [t.get("Key", "") for t in child.iterfind("TRACK")]
            out.append(DJPlaylist(path=(*path, name), locations=tuple(by_id[k] for k in keys if k in by_id)))
        else:
            _walk(child, (*path, name), by_id, out)


# -- writing ------------------------------------------------------------------


def _empty() -> ET.Element:
    root = ET.Element("DJ_PLAYLISTS", Version="1.0.0")
    ET.SubElement(root, "PRODUCT", Name="CrateMap", Version="1", Company="CrateMap")
    ET.SubElement(root, "COLLECTION", Entries="0")
    playlists = ET.SubElement(root, "PLAYLISTS")
    ET.SubElement(playlists, "NODE", Type="0", Name="ROOT", Count="0")
    return root


def _fill_new(el: ET.Element, track: DJTrack) -> None:
    el.set("Name", track.name or Path(track.location.replace("\\", "/")).name)
    el.set("Artist", track.artist)
    el.set("TotalTime", str(int(round(track.duration_s))))
    el.set("AverageBpm", f"{track.bpm:.2f}")
    el.set("Tonality", track.key)
    el.set("Rating", str(51 * max(0, min(5, track.rating))))
    el.set("Location", path_to_rekordbox(track.location))


def _add_marks(el: ET.Element, track: DJTrack) -> None:
    """CrateMap's grid (where the track has none) and cues (hot cues in free slots only; ours replaced)."""
    if track.tempo and el.find("TEMPO") is None:
        for t in track.tempo:
            ET.SubElement(el, "TEMPO", Inizio=f"{t.start_s:.3f}", Bpm=f"{t.bpm:.2f}", Metro="4/4", Battito=str(t.beat))
    for old in [m for m in el.iterfind("POSITION_MARK") if m.get("Name", "").startswith(CUE_PREFIX)]:
        el.remove(old)  # a previous export's: replaced, never duplicated
    taken = {int(number(m.get("Num"), -1)) for m in el.iterfind("POSITION_MARK")}
    for cue in track.cues:
        slot = hot_slot(cue.slot, taken, where=track.location, program="rekordbox")
        if slot is None:
            continue  # the DJ's own hot cues fill every slot: theirs stay
        mark = ET.SubElement(el, "POSITION_MARK", Name=CUE_PREFIX + cue.name, Type="0", Start=f"{cue.start_s:.3f}", Num=str(slot))
        if slot >= 0 and cue.colour is not None:
            mark.set("Red", str(cue.colour[0]))
            mark.set("Green", str(cue.colour[1]))
            mark.set("Blue", str(cue.colour[2]))


def _put_playlists(root: ET.Element, playlists: Iterable[DJPlaylist], ids: dict[str, str]) -> None:
    top = root.find("PLAYLISTS/NODE")
    for old in [n for n in top.iterfind("NODE") if n.get("Name") == FOLDER and n.get("Type") == "0"]:
        top.remove(old)
    playlists = list(playlists)
    if playlists:
        folder = ET.SubElement(top, "NODE", Type="0", Name=FOLDER, Count="0")
        for playlist in playlists:
            _put_one(folder, playlist, ids)
        for node in folder.iter("NODE"):
            if node.get("Type") == "0":
                node.set("Count", str(len(node.findall("NODE"))))
    top.set("Count", str(len(top.findall("NODE"))))


def _put_one(folder: ET.Element, playlist: DJPlaylist, ids: dict[str, str]) -> None:
    if not playlist.path:
        raise ParameterError("a playlist needs a name")
    node = folder
    for name in playlist.path[:-1]:
        found = next((n for n in node.iterfind("NODE") if n.get("Name") == name and n.get("Type") == "0"), None)
        node = found if found is not None else ET.SubElement(node, "NODE", Type="0", Name=name, Count="0")
    missing = [loc for loc in playlist.locations if loc not in ids]
    if missing:
        raise ParameterError(f"playlist {'/'.join(playlist.path)} names tracks in neither collection: {missing[:3]}")
    entry = ET.SubElement(node, "NODE", Name=playlist.path[-1], Type="1", KeyType="0", Entries=str(len(playlist.locations)))
    for loc in playlist.locations:
        ET.SubElement(entry, "TRACK", Key=ids[loc])
