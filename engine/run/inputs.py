"""The files of a batch: folders, files and fsspec URLs expanded into :class:`~engine.records.InputFile` items.

A folder or URL prefix is listed here, on the driver; each file is read by
whoever analyses it (a worker process, a Dask worker, or this process), and
a URL's object is fetched to a temporary file only there
(:func:`local_copy`), so workers on many machines can read one library.
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from pathlib import Path
from typing import Iterator, Mapping, Sequence

from ..audio.decode import is_audio_name
from ..errors import DecodeError, ParameterError
from ..records import InputFile
from ..store.urls import is_remote_url

__all__ = ["collect_inputs", "local_copy"]


def collect_inputs(
    sources: Sequence[str | os.PathLike], *, storage_options: Mapping[str, object] | None = None
) -> tuple[list[InputFile], list[str]]:
    """Expand folders and files into :class:`InputFile` items.

    A folder contributes every file below it whose name ends in an audio
    suffix, named by its path relative to that folder; a file given
    explicitly is always tried, whatever its name. A source may also be an
    fsspec URL (``s3://bucket/crate/``, a prefix or one object): it is listed
    here and each file is fetched by whoever analyses it (a Dask worker, or
    this process), so workers on many machines can read one library.

    Parameters
    ----------
    sources : sequence of path-like or URL
        Folders and files.
    storage_options : mapping, optional
        fsspec options for URL sources (credentials, an endpoint).

    Returns
    -------
    inputs : list of InputFile
        In a stable (sorted) order.
    skipped : list of str
        Files inside folders that were not tried (not audio by name).

    Raises
    ------
    ParameterError
        If a source does not exist or its URL cannot be listed.
    """
    inputs: list[InputFile] = []
    skipped: list[str] = []
    for src in sources:
        if isinstance(src, str) and is_remote_url(src):
            found, left = _collect_url(src, storage_options or {})
            inputs += found
            skipped += left
            continue
        p = Path(src)
        if p.is_dir():
            for f in sorted(p.rglob("*")):
                rel = f.relative_to(p).as_posix()
                if not f.is_file() or any(part.startswith(".") for part in rel.split("/")):
                    continue  # hidden files and hidden folders (.git, .AppleDouble, the demo's .store) are not music
                (inputs.append(InputFile(str(f.resolve()), rel)) if is_audio_name(f.name) else skipped.append(rel))
        elif p.exists():
            inputs.append(InputFile(str(p.resolve()), p.name))
        else:
            raise ParameterError(f"no such file or folder: {src}")
    return inputs, skipped


def _collect_url(url: str, options: Mapping[str, object]) -> tuple[list[InputFile], list[str]]:
    """List an fsspec URL: a prefix's audio files (relative names) or one object."""
    import fsspec

    try:
        fs, root = fsspec.core.url_to_fs(url, **options)
        protocol = url.split("://", 1)[0]
        encoded = json.dumps(dict(options), sort_keys=True) if options else ""
        if fs.isdir(root):
            root = root.rstrip("/")
            found, skipped = [], []
            for key in sorted(fs.find(root)):
                rel = key[len(root) + 1 :]
                if not rel or any(part.startswith(".") for part in rel.split("/")):
                    continue
                if is_audio_name(rel):
                    found.append(InputFile(f"{protocol}://{key}", rel, encoded))
                else:
                    skipped.append(rel)
            return found, skipped
        if fs.isfile(root):
            return [InputFile(url, root.rsplit("/", 1)[-1], encoded)], []
    except (ImportError, ValueError, OSError) as exc:
        raise ParameterError(f"cannot list {url} ({exc})") from exc
    raise ParameterError(f"no such file or folder: {url}")


@contextlib.contextmanager
def local_copy(path: str, options: str = "") -> Iterator[str]:
    """A local path to read ``path`` from: the path itself, or a URL's object fetched to a temporary file.

    Parameters
    ----------
    path : str
        A local path, or an fsspec URL (:attr:`InputFile.path`).
    options : str
        The URL's fsspec storage options as JSON (:attr:`InputFile.options`).

    Yields
    ------
    str
        A local file path, valid until the context exits (a fetched copy is then removed).

    Raises
    ------
    DecodeError
        With reason ``"missing"`` when the URL's object does not exist or cannot be fetched.
    """
    if not is_remote_url(path):
        yield path
        return
    import fsspec

    suffix = Path(path.rsplit("/", 1)[-1]).suffix
    with tempfile.TemporaryDirectory(prefix="cratemap-fetch-") as tmp:
        local = os.path.join(tmp, f"input{suffix}")
        try:
            fs, remote = fsspec.core.url_to_fs(path, **(json.loads(options) if options else {}))
            fs.get_file(remote, local)
        except FileNotFoundError as exc:
            raise DecodeError(path, "missing", "the object does not exist") from exc
        except (ImportError, ValueError, OSError) as exc:
            raise DecodeError(path, "missing", f"cannot fetch it ({exc})") from exc
        yield local
