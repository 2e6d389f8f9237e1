"""Seeding a store with results computed elsewhere: the demo library's shipped analysis.

A store is a folder of files named by content and settings digests, so two
stores merge by copying the files one lacks: a file of the same name holds
the same result. :func:`seed_store` does that from a read-only source (the
repository's ``demo/.store``, which holds the demo's section rows, CNN
embeddings and DJ descriptors at the default settings, without the large
frame tables), so a fresh server answers the demo at once instead of
analysing it; other settings are analysed from the audio as usual.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

from ..errors import StoreError

__all__ = ["seed_store"]


def seed_store(store_dir: str | os.PathLike, source: str | os.PathLike) -> int:
    """Copy every result file of ``source`` that ``store_dir`` lacks; return how many were copied.

    Files the store already has are never overwritten; each copy is written
    to a temporary name and renamed, so a reader never sees half a file. The
    source's ``cratemap-store.json`` (the store's own record) is likewise copied only into a store that has none.

    Raises
    ------
    StoreError
        If the source is not a folder, or the store cannot be written.
    """
    src, dst = Path(source), Path(store_dir)
    if not src.is_dir():
        raise StoreError(f"no store to seed from at {src}")
    copied = 0
    try:
        for dirpath, dirnames, files in os.walk(src):
            dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
            rel = Path(dirpath).relative_to(src)
            for name in sorted(files):
                if name.startswith("."):
                    continue
                target = dst / rel / name
                if target.exists():
                    continue
                target.parent.mkdir(parents=True, exist_ok=True)
                fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=".seed-")
                os.close(fd)
                try:
                    shutil.copyfile(Path(dirpath) / name, tmp)
                    os.replace(tmp, target)
                    copied += 1
                finally:
                    Path(tmp).unlink(missing_ok=True)
    except OSError as exc:
        raise StoreError(f"cannot seed the store ({exc.strerror or exc})") from None
    return copied
