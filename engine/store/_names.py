"""The names a track was seen under, kept as one small file per name.

Layout: ``names/<track_id>/<name digest>.json``, each holding
``{"name": ..., "seen": <unix time>}``. Each name is its own file, written
once and never rewritten, so writers that add names to one track at the same
time (worker processes, machines, app sessions) can never lose one another's
update, on a local folder or an object store alike. Stores of an older
layout kept the names in the track record's ``names`` list; they are read
too.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any, Iterable, Mapping


def name_file(name: str) -> str:
    """The file name (in ``names/<track_id>/``) of one name: the first 24 hex digits of its sha256."""
    return f"{hashlib.sha256(name.encode()).hexdigest()[:24]}.json"


def name_body(name: str, seen: float) -> bytes:
    """The bytes of a name file: the name, and when it was first seen (unix seconds)."""
    return json.dumps({"name": name, "seen": seen}).encode()


def name_entry(data: bytes | None) -> tuple[float, str] | None:
    """``(first seen, name)`` from a name file's bytes; None for a missing or damaged one (the name
    is lost, never the track)."""
    try:
        d = json.loads(data) if data is not None else None
        return float(d["seen"]), str(d["name"])
    except (ValueError, TypeError, KeyError):
        return None


def ordered_names(record: Mapping[str, Any] | None, found: Iterable[tuple[float, str]]) -> list[str]:
    """A track's names: the record's display name, names of older stores (kept in the record), then by first seen."""
    seen = [record["name"]] if record and "name" in record else []
    seen += list(record.get("names", [])) if record else []
    seen += [n for _, n in sorted(found)]
    return list(dict.fromkeys(seen))
