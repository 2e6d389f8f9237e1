"""Records of a run over a batch of files: what failed and why, and what was analysed.

Frozen dataclasses holding arrays and tuples (shapes documented per field);
they import nothing from the engine's stages.
"""

from __future__ import annotations

from dataclasses import dataclass, field


__all__ = ["FileError", "BatchResult"]


@dataclass(frozen=True)
class FileError:
    """A file that could not be analysed, and why."""

    name: str  # display name
    reason: str  # one of errors.DECODE_REASONS (or "error" for anything else)
    detail: str  # a sentence for a person


@dataclass(frozen=True, eq=False)
class BatchResult:
    """What analysing a batch of files produced."""

    tracks: tuple[Track, ...]  # distinct tracks read (first name wins)
    errors: tuple[FileError, ...]  # files that failed, with reasons
    duplicates: tuple[tuple[str, str], ...]  # (duplicate name, name of the track it repeats)
    sections: SectionTable | None = None
    seconds_of_audio: float = 0.0
    wall_s: float = 0.0
    from_store: tuple[str, ...] = field(default=())  # track ids answered by the store without decoding
