"""A DJ's collection as the input of an analysis: rekordbox XML, Traktor NML, or an M3U/M3U8 playlist.

:func:`read_collection` reads the file (by its suffix, else by its root
element); :func:`collection_inputs` turns its tracks into
:class:`~engine.records.InputFile` items and reports, by name and reason,
every track whose file is not on this machine, so a missing file never
stops the run; :func:`keep_collection` stores what the DJ's program knew of
each analysed track (its playlists, BPM, key and cues) beside CrateMap's
own results, and :func:`kept_collection` reads it back.
"""

from __future__ import annotations

import os
from pathlib import Path, PurePath

import pandas as pd

from ..errors import ParameterError
from ..records import DJCollection, DJPlaylist, DJTrack, FileError, InputFile
from ..store.core import Store
from ..store.locations import rekordbox_to_path
from ..store.rekordbox import read_rekordbox
from ..store.traktor import read_traktor

__all__ = ["read_collection", "collection_inputs", "keep_collection", "kept_collection"]

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


def collection_inputs(collection: DJCollection) -> tuple[list[InputFile], list[FileError]]:
    """The collection's tracks whose files are on this machine, and one FileError per track whose file is not.

    Returns
    -------
    inputs : list of InputFile
        In the collection's order, named by the file name.
    missing : list of FileError
        Reason ``missing``, naming where the collection said the file is.
    """
    inputs, missing = [], []
    for track in collection.tracks:
        name = PurePath(track.location.replace("\\", "/")).name or track.location
        if os.path.isfile(track.location):
            inputs.append(InputFile(track.location, name))
        else:
            missing.append(FileError(name, "missing", f"the {collection.program} collection names {track.location}, which is not on this machine"))
    return inputs, missing


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
