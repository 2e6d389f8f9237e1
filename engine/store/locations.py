"""File locations as DJ software writes them: rekordbox's ``file://`` URIs and Traktor's VOLUME/DIR/FILE.

Both programs name a track by where it lies on the DJ's own machine, so the
same file is written one way on macOS and another on Windows:

* rekordbox XML, ``TRACK Location``: a ``file://localhost/`` URI whose path
  is percent-encoded UTF-8 (``file://localhost/Users/me/Music/A%20B.mp3``,
  ``file://localhost/D:/Music/A%20B.mp3``); older files and other tools write
  ``file:///`` or ``file://`` and a bare drive;
* Traktor NML, ``<LOCATION VOLUME= DIR= FILE=>``: the volume (``Macintosh HD``
  for a Mac's system disk, the disk's name for ``/Volumes/NAME``, ``C:`` on
  Windows), every folder of the path prefixed with ``/:`` and ``DIR`` ending in
  ``/:`` (``DIR="/:Users/:me/:Music/:"``), the file name as it is.

Paths are handled as text in the convention of the machine that wrote them
(``PureWindowsPath`` for a drive letter, ``PurePosixPath`` otherwise), never
resolved against this machine: a collection from a DJ's laptop is read on a
server that has none of their folders. Every function here inverts its
partner exactly (``tests/test_locations.py``): spaces, quotes, ``#``, ``%``,
``&``, ``?`` and letters of any script survive.
"""

from __future__ import annotations

import re
import urllib.parse
from pathlib import PurePath, PurePosixPath, PureWindowsPath

from ..errors import ParameterError

__all__ = [
    "MAC_SYSTEM_VOLUME",
    "path_to_rekordbox",
    "rekordbox_to_path",
    "path_to_traktor",
    "traktor_to_path",
    "native_path",
    "under_root",
]

#: The VOLUME Traktor writes for a Mac's system disk (paths not under /Volumes).
MAC_SYSTEM_VOLUME = "Macintosh HD"

_DRIVE = re.compile(r"^[A-Za-z]:")
# Kept as they are in the URI path: what rekordbox itself leaves unescaped (letters, digits, "/", ":", "-._~").
_SAFE = "/:-._~"


def native_path(path: str | PurePath) -> PurePath:
    """``path`` as a pure path of the system that wrote it: Windows when it starts with a drive letter
    or a UNC ``\\\\server``, else POSIX.

    Raises
    ------
    ParameterError
        If ``path`` is empty or not absolute (a DJ program's location always is).
    """
    text = str(path)
    if not text:
        raise ParameterError("an empty path has no location")
    native: PurePath = PureWindowsPath(text) if _DRIVE.match(text) or text.startswith("\\\\") else PurePosixPath(text)
    if not native.is_absolute():
        raise ParameterError(f"{text!r} is not an absolute path; DJ software locates tracks by absolute paths")
    return native


def path_to_rekordbox(path: str | PurePath) -> str:
    """The ``Location`` rekordbox writes for an absolute path.

    >>> path_to_rekordbox("/Users/me/Music/A & B #1.mp3")
    'file://localhost/Users/me/Music/A%20%26%20B%20%231.mp3'
    >>> path_to_rekordbox("D:\\\\Music\\\\Café.mp3")
    'file://localhost/D:/Music/Caf%C3%A9.mp3'
    """
    native = native_path(path)
    posix = native.as_posix()
    if isinstance(native, PureWindowsPath) and posix.startswith("//"):  # UNC: file://server/share/...
        return "file:" + urllib.parse.quote(posix, safe=_SAFE)
    return "file://localhost/" + urllib.parse.quote(posix.lstrip("/"), safe=_SAFE)


def rekordbox_to_path(location: str) -> str:
    """The absolute path a rekordbox ``Location`` names, in the writer's own convention.

    Accepts ``file://localhost/``, ``file:///`` and ``file://`` followed by a
    drive letter, and UNC ``file://server/share/``; percent-escapes are decoded as UTF-8.

    >>> rekordbox_to_path("file://localhost/Users/me/Music/A%20%26%20B%20%231.mp3")
    '/Users/me/Music/A & B #1.mp3'
    >>> rekordbox_to_path("file://localhost/D:/Music/Caf%C3%A9.mp3")
    'D:\\\\Music\\\\Café.mp3'

    Raises
    ------
    ParameterError
        If ``location`` is not a ``file:`` URI.
    """
    text = location.strip()
    if not text.lower().startswith("file:"):
        raise ParameterError(f"{location!r} is not a file: URI")
    rest = text[len("file:"):]
    if rest.lower().startswith("//localhost/"):
        rest = rest[len("//localhost"):]
    elif rest.startswith("///"):
        rest = rest[2:]
    elif rest.startswith("//") and _DRIVE.match(rest[2:]):  # file://D:/...
        rest = "/" + rest[2:]
    elif rest.startswith("//"):  # file://server/share/... (a network share)
        return str(PureWindowsPath(urllib.parse.unquote(rest, encoding="utf-8", errors="strict")))
    path = urllib.parse.unquote(rest, encoding="utf-8", errors="strict")
    if _DRIVE.match(path.lstrip("/")):
        return str(PureWindowsPath(path.lstrip("/")))
    return str(PurePosixPath(path))


def path_to_traktor(path: str | PurePath) -> tuple[str, str, str]:
    """``(VOLUME, DIR, FILE)`` of Traktor's ``LOCATION`` for an absolute path.

    >>> path_to_traktor("/Users/me/Music/a.mp3")
    ('Macintosh HD', '/:Users/:me/:Music/:', 'a.mp3')
    >>> path_to_traktor("/Volumes/USB/Sets/a.mp3")
    ('USB', '/:Sets/:', 'a.mp3')
    >>> path_to_traktor("C:\\\\Music\\\\a.mp3")
    ('C:', '/:Music/:', 'a.mp3')
    """
    native = native_path(path)
    if isinstance(native, PureWindowsPath):
        volume, folders = native.drive, native.parts[1:-1]
    elif len(native.parts) > 3 and native.parts[1] == "Volumes":
        volume, folders = native.parts[2], native.parts[3:-1]
    else:
        volume, folders = MAC_SYSTEM_VOLUME, native.parts[1:-1]
    return volume, "".join(f"/:{f}" for f in folders) + "/:", native.name


def traktor_to_path(volume: str, directory: str, file: str) -> str:
    """The absolute path of Traktor's ``LOCATION`` (the inverse of :func:`path_to_traktor`).

    Raises
    ------
    ParameterError
        If ``directory`` is not in Traktor's ``/:a/:b/:`` form or ``file`` is empty.
    """
    if not file or not directory.startswith("/:"):
        raise ParameterError(f"not a Traktor location: VOLUME={volume!r} DIR={directory!r} FILE={file!r}")
    folders = [f for f in directory[2:].split("/:") if f]
    if _DRIVE.match(volume):
        return str(PureWindowsPath(volume + "\\", *folders, file))
    if volume in ("", MAC_SYSTEM_VOLUME):
        return str(PurePosixPath("/", *folders, file))
    return str(PurePosixPath("/Volumes", volume, *folders, file))


def under_root(root: str, relative: str) -> str:
    """``relative`` (a POSIX path under the user's music folder, as an upload names it) under ``root``
    (the folder as the user's own machine names it, e.g. ``D:\\Music`` or ``/Users/me/Music``).

    >>> under_root("D:\\\\Music", "crate/a b.mp3")
    'D:\\\\Music\\\\crate\\\\a b.mp3'

    Raises
    ------
    ParameterError
        If ``root`` is not absolute, or ``relative`` is absolute or climbs out of it.
    """
    base = native_path(root)
    parts = PurePosixPath(relative.replace("\\", "/")).parts
    if not parts or PurePosixPath(relative).is_absolute() or ".." in parts:
        raise ParameterError(f"{relative!r} is not a path inside the music folder")
    return str(base.joinpath(*parts))
