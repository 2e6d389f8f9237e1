"""Config digests: the stable hex strings that key the store's caches and stamp every export.

:func:`digest_of` hashes a config dataclass's fields as canonical JSON, with
:data:`ENGINE_DATA_VERSION`; :mod:`engine.config` builds its frozen configs on it.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import numbers
from typing import Any

from .errors import ParameterError

__all__ = ["ENGINE_DATA_VERSION", "digest_of"]

#: Bump when a code change alters stored results for an unchanged config.
ENGINE_DATA_VERSION = 1

def digest_of(obj: Any) -> str:
    """Return a 16-hex-digit sha256 digest of a config dataclass (or nested ones).

    Parameters
    ----------
    obj : dataclass instance
        Any of this module's configs.

    Returns
    -------
    str
        Stable across processes and Python versions: it hashes canonical JSON.
    """
    payload = {"v": ENGINE_DATA_VERSION, "type": type(obj).__name__, "fields": _digest_fields(obj)}
    text = json.dumps(payload, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def _digest_fields(obj: Any) -> Any:
    """``dataclasses.asdict(obj)`` less the ``_LATER_FIELDS`` (added after stores were written) at their defaults:
    an added field changes the digests of only the configs that use it, not every stored analysis."""
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        later = getattr(type(obj), "_LATER_FIELDS", ())
        return {
            f.name: _digest_fields(getattr(obj, f.name))
            for f in dataclasses.fields(obj)
            if not (f.name in later and getattr(obj, f.name) == f.default)
        }
    if isinstance(obj, (list, tuple)):
        return type(obj)(_digest_fields(v) for v in obj)
    if isinstance(obj, dict):
        return {k: _digest_fields(v) for k, v in obj.items()}
    return obj


def _normalise_number(value: Any, kind: str, name: str) -> Any:
    """``value`` as the plain Python type its field declares (``"int"`` or ``"float"``).

    Equal numbers must digest equally: ``15`` and ``15.0`` (or ``numpy.int64(4)``
    and ``4``) compare equal but serialise differently, so each is turned into
    the field's own type before anything is checked or hashed.
    """
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        return value  # not a number (or a bool): left to the class's own checks
    if kind == "float":
        return float(value)
    if isinstance(value, numbers.Integral):
        return int(value)
    if float(value).is_integer():
        return int(value)
    raise ParameterError(f"{name} must be a whole number, got {value!r}")
