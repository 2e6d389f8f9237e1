"""What a visitor of a public deployment may add to their library: quotas per upload and in total.

:func:`admit` takes the files of one upload (name, bytes, seconds of audio)
and what the visitor already holds, and says which files fit. Files are taken
in the order given while they fit; each one refused gets a sentence that says
which limit it meets, in the visitor's words (MB and minutes), never a
server path. Seconds of audio are read from the file's header
(:func:`audio_seconds`) before anything is decoded; a file whose header does
not say counts as 0 s here and is still held to
``DecodeConfig.max_seconds`` when it is decoded.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from typing import BinaryIO, Sequence

import soundfile as sf

from ..config import Quotas

__all__ = ["Usage", "Candidate", "Admission", "admit", "audio_seconds"]


@dataclass(frozen=True)
class Usage:
    """What a visitor holds: files, bytes and seconds of audio."""

    files: int = 0
    bytes: int = 0
    seconds: float = 0.0

    def plus(self, other: "Usage") -> "Usage":
        return Usage(self.files + other.files, self.bytes + other.bytes, self.seconds + other.seconds)


@dataclass(frozen=True)
class Candidate:
    """One uploaded file, before it is kept."""

    name: str  # the name the visitor gave (shown back to them)
    bytes: int
    seconds: float  # of audio, from the header; 0 when the header does not say


@dataclass(frozen=True)
class Admission:
    """Which files of an upload fit the quotas, and why the others do not."""

    accepted: tuple[Candidate, ...]
    refused: tuple[tuple[str, str], ...]  # (name, sentence)

    @property
    def usage(self) -> Usage:
        """What the accepted files add."""
        return Usage(len(self.accepted), sum(c.bytes for c in self.accepted), sum(c.seconds for c in self.accepted))


def _mb(n: int) -> str:
    return f"{n / 2**20:,.0f} MB"


def _minutes(s: float) -> str:
    return f"{s / 60:,.0f} minutes"


def admit(files: Sequence[Candidate], held: Usage, quotas: Quotas, *, disk_room: int | None = None) -> Admission:
    """Take the files of one upload in order while they fit the quotas.

    Parameters
    ----------
    files : sequence of Candidate
        The upload, in the order to consider.
    held : Usage
        What the visitor already holds (files of earlier uploads they keep).
    quotas : Quotas
    disk_room : int, optional
        Bytes the server can still keep for visitors (its disk budget less
        what it holds); files beyond it are refused with a sentence saying the
        server is full, not that the visitor is over their quota.

    Returns
    -------
    Admission
    """
    accepted: list[Candidate] = []
    refused: list[tuple[str, str]] = []
    upload = Usage()
    for c in files:
        after_upload = upload.plus(Usage(1, c.bytes, c.seconds))
        room = None if disk_room is None else disk_room - upload.bytes
        reason = _refusal(c, after_upload, held.plus(after_upload), quotas, room)
        if reason is None:
            accepted.append(c)
            upload = after_upload
        else:
            refused.append((c.name, f"{c.name} was not added: {reason}."))
    return Admission(tuple(accepted), tuple(refused))


def _refusal(c: Candidate, upload: Usage, total: Usage, quotas: Quotas, room: int | None) -> str | None:
    """Why ``c`` cannot join an upload that would then be ``upload`` (and the visitor's library ``total``),
    or None when it fits; the first limit broken, in the order a visitor can act on."""
    upload_s, total_s = quotas.upload_minutes * 60, quotas.total_minutes * 60
    rules = (
        (c.bytes > quotas.upload_bytes, f"it is {_mb(c.bytes)}, more than the {_mb(quotas.upload_bytes)} one upload may hold"),
        (c.seconds > upload_s, f"it is {_minutes(c.seconds)} long, more than the {_minutes(upload_s)} one upload may hold"),
        (upload.files > quotas.upload_files, f"one upload may hold {quotas.upload_files} files"),
        (upload.bytes > quotas.upload_bytes, f"one upload may hold {_mb(quotas.upload_bytes)}"),
        (upload.seconds > upload_s, f"one upload may hold {_minutes(upload_s)} of audio"),
        (total.files > quotas.total_files, f"your library may hold {quotas.total_files} files at once; remove some to add more"),
        (total.bytes > quotas.total_bytes, f"your library may hold {_mb(quotas.total_bytes)} at once; remove some to add more"),
        (total.seconds > total_s, f"your library may hold {_minutes(total_s)} of audio at once; remove some to add more"),
        (room is not None and c.bytes > room, "the server's disk for visitors' music is full right now; try again later or upload less"),
    )
    return next((why for broken, why in rules if broken), None)


def audio_seconds(source: str | BinaryIO | bytes | memoryview) -> float:
    """Seconds of audio a file's header declares (0.0 when it cannot be read or does not say).

    Only the header is read; nothing is decoded.
    """
    if isinstance(source, (bytes, bytearray, memoryview)):
        source = io.BytesIO(bytes(source) if isinstance(source, memoryview) else source)
    try:
        info = sf.info(source)
    except Exception:  # not a format libsndfile reads, or a broken header: the decoder will say why
        return 0.0
    finally:
        if hasattr(source, "seek"):
            try:
                source.seek(0)
            except Exception:
                pass
    frames, rate = getattr(info, "frames", 0), getattr(info, "samplerate", 0)
    if not rate or frames <= 0 or frames >= 2**62:  # unknown length (a stream) reads as a huge count
        return 0.0
    return float(frames) / float(rate)
