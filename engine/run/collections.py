"""A DJ's collection as the input of an analysis: rekordbox XML, Traktor NML, or an M3U/M3U8 playlist.

:func:`read_collection` reads the file (by its suffix, else by its root
element); :func:`locate_collection` finds each track's file, on this
machine or among uploaded files (by the longest tail of its path), and
reports, by name and reason, every track whose file is not found, so a
missing file never stops the run (:func:`collection_inputs` is that as a
list of :class:`~engine.records.InputFile`); :func:`analysed_locations`
ties each found location to its analysed track; :func:`keep_collection` stores what the DJ's program knew of
each analysed track (its playlists, BPM, key and cues) beside CrateMap's
own results, and :func:`kept_collection` reads it back.
"""

from __future__ import annotations

import os
from pathlib import Path, PurePath
from typing import Mapping, Sequence

import pandas as pd

from ..errors import ParameterError
from ..records import BatchResult, DJCollection, DJPlaylist, DJTrack, FileError, InputFile
from ..store.core import Store
from ..store.locations import rekordbox_to_path
from ..store.rekordbox import read_rekordbox
from ..store.traktor import read_traktor

__all__ = [
    "read_collection", "locate_collection", "collection_inputs", "analysed_locations", "keep_collection", "kept_collection",
]

_KEY = "dj-collection"  # the store key of what a collection said of a track


def read_collection(path: str | os.PathLike) -> DJCollection:
    """The tracks and playlists of a rekordbox XML, a Traktor NML or an M3U/M3U8 playlist.

    Raises
    ------
    ParameterError
        If the file is missing or none of these.
    """
    path = Path(path)
    if not path.is_file():
        raise ParameterError(f"no collection file at {path}")
    suffix = path.suffix.lower()
    if suffix in (".m3u", ".m3u8"):
        return _read_m3u(path)
    if suffix == ".nml":
        return read_traktor(path)
    if suffix == ".xml":
        return read_rekordbox(path)
    head = path.read_bytes()[:4096]
    if b"<NML" in head:
        return read_traktor(path)
    if b"<DJ_PLAYLISTS" in head:
        return read_rekordbox(path)
    raise ParameterError(f"{path.name} is not a rekordbox XML, a Traktor NML or an M3U playlist")


def _read_m3u(path: Path) -> DJCollection:
    raw = path.read_bytes()
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:  # an old .m3u in the system's 8-bit code page
        text = raw.decode("latin-1")
    locations = []
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        if line.lower().startswith("file:"):
            locations.append(rekordbox_to_path(line))
        elif PurePath(line).is_absolute() or line[1:3] in (":\\", ":/"):
            locations.append(line)
        else:  # relative to the playlist's folder
            locations.append(str(path.parent / line.replace("\\", "/")))
    tracks = tuple(DJTrack(location=loc) for loc in dict.fromkeys(locations))
    return DJCollection(tracks=tracks, playlists=(DJPlaylist(path=(path.stem,), locations=tuple(locations)),), program="m3u")


def locate_collection(collection: DJCollection, found_in: Sequence[InputFile] = ()) -> tuple[dict[str, InputFile], list[FileError]]:
    """Where each track of the collection can be read: on this machine, else among ``found_in``.

    A track found on neither is a FileError (reason ``missing``); one whose
    path's tail matches several files of ``found_in`` equally well is one too
    (reason ``ambiguous``), so no file is analysed as another.

    Parameters
    ----------
    collection : DJCollection
    found_in : sequence of InputFile
        Files the user gave beside the collection (an uploaded music folder),
        named by their relative paths. A track's file is the one whose name
        shares the longest tail with the track's location, at least the file
        name (letter case ignored, as on Windows and macOS).

    Returns
    -------
    found : dict of str to InputFile
        Location (as in the collection) -> the file to read, in the collection's order, named by the file name.
    missing : list of FileError
        Naming where the collection said each file is.
    """
    tails: dict[str, list[tuple[tuple[str, ...], InputFile]]] = {}
    for item in found_in:
        parts = _parts(item.name)
        if parts:
            tails.setdefault(parts[-1], []).append((parts, item))
    found, missing = {}, []
    for track in collection.tracks:
        parts = _parts(track.location)
        name = PurePath(track.location.replace("\\", "/")).name or track.location
        if os.path.isfile(track.location):
            found[track.location] = InputFile(track.location, name)
            continue
        scored = sorted(((_shared_tail(parts, p), item) for p, item in tails.get(parts[-1] if parts else "", [])), key=lambda x: -x[0])
        if scored and (len(scored) == 1 or scored[0][0] > scored[1][0]):
            found[track.location] = InputFile(scored[0][1].path, name)
        elif scored:
            ties = sum(1 for score, _ in scored if score == scored[0][0])
            missing.append(FileError(name, "ambiguous", f"{ties} of the files given match {track.location} equally well"))
        else:
            where = "on this machine or among the files given" if found_in else "on this machine"
            missing.append(FileError(name, "missing", f"the {collection.program} collection names {track.location}, which is not {where}"))
    return found, missing


def _parts(location: str) -> tuple[str, ...]:
    return tuple(p.casefold() for p in location.replace("\\", "/").split("/") if p and p != ".")


def _shared_tail(a: tuple[str, ...], b: tuple[str, ...]) -> int:
    n = 0
    while n < min(len(a), len(b)) and a[-1 - n] == b[-1 - n]:
        n += 1
    return n


def collection_inputs(collection: DJCollection, found_in: Sequence[InputFile] = ()) -> tuple[list[InputFile], list[FileError]]:
    """The collection's tracks whose files are found (:func:`locate_collection`), and one FileError per track whose file is not.

    Returns
    -------
    inputs : list of InputFile
        In the collection's order, named by the file name.
    missing : list of FileError
        Reason ``missing`` (or ``ambiguous``), naming where the collection said the file is.
    """
    found, missing = locate_collection(collection, found_in)
    return list(found.values()), missing


def analysed_locations(found: Mapping[str, InputFile], result: BatchResult) -> dict[str, str]:
    """Location (as in the collection) -> track id, for each found file the analysis ``result`` holds."""
    by_path = {t.path: t.track_id for t in result.tracks}  # each track records where it was read
    return {loc: by_path[item.path] for loc, item in found.items() if item.path in by_path}


def keep_collection(store: Store, collection: DJCollection, located: dict[str, str]) -> int:
    """Store, per analysed track, what the collection says of it: BPM, key, rating, playlists and cues.

    Parameters
    ----------
    store : Store
    collection : DJCollection
    located : dict of str to str
        Location (as in the collection) -> track id, for the tracks analysed.

    Returns
    -------
    int
        Tracks whose data was kept.
    """
    playlists: dict[str, list[str]] = {}
    for playlist in collection.playlists:
        for loc in playlist.locations:
            playlists.setdefault(loc, []).append("/".join(playlist.path))
    kept = 0
    for track in collection.tracks:
        tid = located.get(track.location)
        if tid is None:
            continue
        cues = pd.DataFrame(
            {"start_s": [c.start_s for c in track.cues], "name": [c.name for c in track.cues], "slot": [c.slot for c in track.cues]}
        ).astype({"start_s": "float64", "name": "string", "slot": "int64"})
        meta = {
            "program": collection.program, "location": track.location, "bpm": track.bpm, "key": track.key,
            "rating": track.rating, "playlists": playlists.get(track.location, []),
        }  # fmt: skip
        store.put_descriptors(tid, _KEY, cues, meta=meta)
        kept += 1
    return kept


def kept_collection(store: Store, track_id: str) -> dict | None:
    """What :func:`keep_collection` stored for a track (``cues`` as a DataFrame, ``playlists`` a list), or None."""
    if not store.has_descriptors(track_id, _KEY):
        return None
    cues, meta = store.get_descriptors(track_id, _KEY)
    return {**meta, "cues": cues}
