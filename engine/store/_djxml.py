"""What the rekordbox XML and Traktor NML modules share: parsing a DJ program's file, numbers, cue slots."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

from ..errors import ParameterError

#: Hot cue slots, A-H, in both programs.
HOT_CUE_SLOTS = 8


def parse(source, *, root_tag: str, program: str) -> ET.Element:
    """The root of a DJ program's XML file (path, bytes or binary file), checked to be ``root_tag`` with a COLLECTION.

    Raises
    ------
    ParameterError
        If the file cannot be read or parsed, or is another program's.
    """
    try:
        if isinstance(source, (bytes, bytearray)):
            root = ET.fromstring(bytes(source))
        else:
            root = ET.parse(str(source) if isinstance(source, (str, Path)) else source).getroot()
    except (ET.ParseError, OSError) as exc:
        raise ParameterError(f"not a readable {program} file ({exc})") from exc
    if root.tag != root_tag or root.find("COLLECTION") is None:
        raise ParameterError(f"not a {program} file: no {root_tag}/COLLECTION")
    return root


def number(text: str | None, default: float = 0.0) -> float:
    """An attribute's number, or ``default`` when it is missing or not a number."""
    try:
        return float(text) if text not in (None, "") else default
    except ValueError:
        return default


def hot_slot(wanted: int, taken: set[int], *, where: str, program: str) -> int | None:
    """The slot a hot cue gets: ``wanted`` when free, else the first free one, else None (the DJ's
    own cues fill every slot and stay); -1 (a memory cue) as it is. Marks the slot taken.

    Raises
    ------
    ParameterError
        If ``wanted`` is beyond the program's slots.
    """
    if wanted < 0:
        return wanted
    if wanted >= HOT_CUE_SLOTS:
        raise ParameterError(f"hot cue slot {wanted} of {where}: {program} has slots 0-{HOT_CUE_SLOTS - 1}")
    if wanted in taken:
        free = [s for s in range(HOT_CUE_SLOTS) if s not in taken]
        if not free:
            return None
        wanted = free[0]
    taken.add(wanted)
    return wanted
