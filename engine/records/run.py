"""Records of a run over a batch of files: the files asked for, progress, what failed and why, and what was analysed.

Frozen dataclasses holding arrays and tuples (shapes documented per field);
they import nothing from the engine's stages.
"""

from __future__ import annotations

from dataclasses import dataclass, field


__all__ = ["InputFile", "Progress", "FileError", "BatchResult"]


@dataclass(frozen=True)
class InputFile:
    """A file to analyse and the name to show for it."""

    path: str  # where to read it: a local path, or an fsspec URL (s3://bucket/crate/a.ogg)
    name: str  # display name: the relative path the user gave
    options: str = ""  # a URL's fsspec storage options, as JSON ("" for none or a local path)


@dataclass(frozen=True)
class Progress:
    """One finished file, reported to a progress callback."""

    done: int  # files finished so far (this one included)
    total: int  # files in the batch
    name: str  # display name of this file
    status: str  # "analysed" | "cached" | "duplicate" | "error"
    audio_s: float  # seconds of audio in this file (0 on error)
    file_wall_s: float  # seconds of work on this file, measured where it ran (a worker process, or here)
    elapsed_s: float  # seconds since the batch started
    detail: str = ""  # the error sentence, when status == "error"

    @property
    def realtime_factor(self) -> float:
        """Seconds of audio per second of work on this file (inf for cached files)."""
        return self.audio_s / self.file_wall_s if self.file_wall_s > 0 else float("inf")


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
