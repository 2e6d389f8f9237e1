"""Private libraries for the visitors of a public deployment, within a disk budget.

Each visitor has a *space*: a folder named by a key derived from who they
are (a signed-in identity, or a random id for one browser session), holding
their uploads and their own store. Nothing in one space is reachable from
another: the app opens a visitor's library only under their own key, and a
key cannot be guessed from an identity without the server's secret.

Decisions, written where they are made:

* a space keeps a small manifest (``space.json``): whether its visitor was
  signed in, when it was last used, and every upload it holds (the name the
  visitor gave, bytes and seconds of audio) -- what the quotas count;
* a visitor without login keeps their space for ``grace_s`` after their last
  action (:meth:`VisitorSpaces.sweep` removes it after that);
* beyond the disk budget, spaces are evicted least recently used first,
  signed-in ones too (their uploads can be uploaded again), but never the
  spaces in use right now, and never a visitor's reviews, which live in the
  review database, not here;
* no path of a space is ever shown: the app speaks of files by the names the
  visitor gave.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import shutil
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from ..errors import StoreError
from .quotas import Usage

__all__ = ["VisitorSpaces", "VisitorSpace", "SpaceFile", "visitor_key"]

_MANIFEST = "space.json"
_LOCK = threading.Lock()  # manifests are rewritten whole; one writer at a time in this process


def visitor_key(identity: str, *, signed_in: bool, secret: bytes) -> str:
    """The folder name of a visitor's space: an HMAC of their identity, so it names no one and cannot be guessed."""
    mac = hmac.new(secret, identity.encode("utf-8"), hashlib.sha256).hexdigest()[:32]
    return ("u-" if signed_in else "a-") + mac


@dataclass(frozen=True)
class SpaceFile:
    """One uploaded file a space holds."""

    path: str  # on the server (never shown)
    name: str  # the name the visitor gave
    bytes: int
    seconds: float


@dataclass
class VisitorSpace:
    """One visitor's folder: ``uploads/`` and ``store/``, and the manifest."""

    root: Path
    key: str
    signed_in: bool
    files: list[SpaceFile] = field(default_factory=list)
    last_used: float = 0.0

    @property
    def uploads(self) -> Path:
        return self.root / "uploads"

    @property
    def store(self) -> Path:
        return self.root / "store"

    def usage(self) -> Usage:
        """What the visitor holds, as the quotas count it."""
        return Usage(len(self.files), sum(f.bytes for f in self.files), sum(f.seconds for f in self.files))

    def add(self, files: list[SpaceFile]) -> None:
        """Record uploads kept in this space (a file already held by path is replaced)."""
        paths = {f.path for f in files}
        self.files = [f for f in self.files if f.path not in paths] + list(files)
        self._save()

    def forget(self, paths: set[str] | None = None) -> None:
        """Remove uploads (all when ``paths`` is None) from the disk and the manifest."""
        keep = []
        for f in self.files:
            if paths is None or f.path in paths:
                Path(f.path).unlink(missing_ok=True)
            else:
                keep.append(f)
        self.files = keep
        self._save()

    def _save(self) -> None:
        data = {
            "signed_in": self.signed_in,
            "last_used": self.last_used,
            "files": [f.__dict__ for f in self.files],
        }
        with _LOCK:
            self.root.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=self.root, prefix=".space-")
            try:
                with os.fdopen(fd, "w") as fh:
                    json.dump(data, fh)
                os.replace(tmp, self.root / _MANIFEST)
            except BaseException:
                Path(tmp).unlink(missing_ok=True)
                raise


def _load(root: Path, key: str) -> VisitorSpace | None:
    try:
        data = json.loads((root / _MANIFEST).read_text())
    except (OSError, ValueError):
        return None
    try:
        files = [SpaceFile(**f) for f in data.get("files", [])]
        return VisitorSpace(root=root, key=key, signed_in=bool(data.get("signed_in")), files=files, last_used=float(data.get("last_used", 0)))
    except (TypeError, ValueError):
        return None


def _size(path: Path) -> int:
    total = 0
    for dirpath, _, names in os.walk(path):
        for n in names:
            try:
                total += os.lstat(os.path.join(dirpath, n)).st_size
            except OSError:
                pass
    return total


class VisitorSpaces:
    """Every visitor's space under one folder, within a disk budget.

    Parameters
    ----------
    root : path
        The folder of all spaces (created when missing).
    budget_bytes : int
        Bytes all spaces together may hold.
    grace_s : float
        How long a space of a visitor without login is kept after their last action.
    clock : callable, optional
        Wall-clock seconds (``time.time``); tests move it on.
    """

    def __init__(self, root: str | os.PathLike, *, budget_bytes: int, grace_s: float, clock: Callable[[], float] = time.time) -> None:
        self.root = Path(root)
        self.budget_bytes = int(budget_bytes)
        self.grace_s = float(grace_s)
        self.clock = clock
        try:
            self.root.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise StoreError(f"cannot create the visitors' folder ({exc.strerror or exc})") from None

    def open(self, key: str, *, signed_in: bool) -> VisitorSpace:
        """The space of ``key`` (created empty when new), marked as used now."""
        if not key or "/" in key or key.startswith("."):
            raise StoreError("not a visitor key")
        root = self.root / key
        space = _load(root, key) or VisitorSpace(root=root, key=key, signed_in=signed_in)
        space.signed_in = space.signed_in or signed_in
        space.files = [f for f in space.files if Path(f.path).is_file()]  # evicted or removed meanwhile
        space.last_used = self.clock()
        space._save()
        return space

    def spaces(self) -> list[VisitorSpace]:
        """Every space on disk (a folder with no readable manifest counts as unused since the epoch)."""
        out = []
        for child in sorted(self.root.iterdir()) if self.root.is_dir() else []:
            if child.is_dir() and not child.name.startswith("."):
                out.append(_load(child, child.name) or VisitorSpace(root=child, key=child.name, signed_in=False))
        return out

    def used_bytes(self) -> int:
        return _size(self.root)

    def room(self) -> int:
        """Bytes still free in the budget (0 when full)."""
        return max(0, self.budget_bytes - self.used_bytes())

    def sweep(self, *, active: set[str] = frozenset(), active_s: float = 600.0) -> list[str]:
        """Remove expired spaces, then the least recently used ones while over budget; return the keys removed.

        A space is in use (never removed) when its key is in ``active`` or it
        was used within the last ``active_s`` seconds. A space of a visitor
        without login expires ``grace_s`` after its last use.
        """
        now = self.clock()
        removed: list[str] = []

        def in_use(s: VisitorSpace) -> bool:
            return s.key in active or now - s.last_used < active_s

        spaces = self.spaces()
        for s in spaces:
            if not s.signed_in and now - s.last_used > self.grace_s and not in_use(s):
                shutil.rmtree(s.root, ignore_errors=True)
                removed.append(s.key)
        spaces = [s for s in spaces if s.key not in removed]
        sizes = {s.key: _size(s.root) for s in spaces}
        total = sum(sizes.values())
        for s in sorted(spaces, key=lambda s: s.last_used):
            if total <= self.budget_bytes:
                break
            if in_use(s):
                continue
            shutil.rmtree(s.root, ignore_errors=True)
            removed.append(s.key)
            total -= sizes[s.key]
        return removed
