"""CrateMap's one family of errors.

Every error the engine raises on purpose is an :class:`EngineError`. Errors
from other libraries are wrapped (``raise ... from exc``) so that callers --
the CLI, the app -- can catch one type and show a sentence, never a traceback.
"""

from __future__ import annotations

__all__ = [
    "EngineError",
    "ParameterError",
    "DecodeError",
    "StoreError",
    "ModelError",
    "DECODE_REASONS",
]


class EngineError(Exception):
    """Base class of every error CrateMap raises on purpose."""


class ParameterError(EngineError, ValueError):
    """A setting or argument is invalid; the message names the bad value."""


class StoreError(EngineError):
    """The result store cannot be read or written."""


class ModelError(EngineError):
    """A model or its weights cannot be loaded."""


#: The reasons a file can fail to decode, as machine-readable codes.
DECODE_REASONS = (
    "not-audio",  # not a format libsndfile reads, or unreadable
    "truncated",  # the header promises more data than the file holds
    "empty",  # zero bytes, or zero samples
    "too-short",  # shorter than one section
    "silent",  # digital silence throughout
    "non-finite",  # NaN or inf samples
    "bad-sample-rate",  # outside 8-192 kHz
    "too-large",  # over the configured size limit
    "too-long",  # longer than the configured duration limit
    "bad-channels",  # zero channels, or more than the engine accepts
    "missing",  # the path does not exist or is not a file
)


class DecodeError(EngineError):
    """A file could not be turned into audio.

    Parameters
    ----------
    name : str
        The file's display name (the relative path the user gave).
    reason : str
        One of :data:`DECODE_REASONS`.
    detail : str
        A sentence for a person.
    """

    def __init__(self, name: str, reason: str, detail: str) -> None:
        if reason not in DECODE_REASONS:
            raise ValueError(f"unknown decode reason {reason!r}")
        self.name = name
        self.reason = reason
        self.detail = detail
        super().__init__(f"{name}: {detail} [{reason}]")
