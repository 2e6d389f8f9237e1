"""The library a session works on: the demo or an upload, analysed into the store with live progress.

Caching decisions, written where they are made:

* uploads are written once under the data folder, content-addressed
  (``uploads/<sha256>/<safe file name>``), so the same file uploaded twice
  (or by two sessions) is one file, and a track's path stays valid for
  playback after the session ends;
* the analysis of a library is kept in the session per (files, analysis
  settings); a new session calls :func:`engine.run.pipeline.analyze` again, which
  hashes the files and finds every track in the store -- nothing is decoded
  again unless the decoding or STFT settings change;
* everything downstream (sections, clusterings, projections, ...) is cached
  in :mod:`ui.compute`, keyed on the :class:`Library` (track ids, names,
  paths) and the frozen configs, never on arrays.

In public mode (:mod:`ui.deploy`) a visitor's library is their private
space instead: uploads are kept there within the quotas, analysed into the
space's own store (so no shared cache can tell one visitor that another holds
a file), one analysis at a time per slot of the server-wide queue; the demo
library stays shared, and other stores open only by the names the operator
gave them.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import os
import re
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Sequence

import streamlit as st

from engine.config import AnalysisConfig, preset
from engine.audio.decode import file_digest, is_audio_name
from engine.errors import EngineError
from engine.records import BatchResult, InputFile, Progress
from engine.run.inputs import collect_inputs
from engine.run.pipeline import DEMO_DIR, analyze, open_library
from engine.run.queue import Cancelled
from engine.run.quotas import Candidate, admit, audio_seconds
from engine.run.visitors import SpaceFile
from engine.store.core import Store
from engine.store.urls import env_storage_options

from . import demo, deploy, state

log = logging.getLogger("cratemap.library")

_UPLOAD_CHUNK = 1 << 20  # bytes per write when saving an upload
_MAX_PART = 120  # characters kept of one path component
_MAX_PART_BYTES = 200  # UTF-8 bytes kept of one component (file systems allow 255)


def data_dir() -> Path:
    """Where the app keeps its store, uploads and reviews: ``$CRATEMAP_DATA`` or ``.cratemap`` beside the app."""
    return Path(os.environ.get("CRATEMAP_DATA", Path(__file__).resolve().parents[1] / ".cratemap"))


def store_root() -> str:
    return str(data_dir() / "store")


def review_db_path() -> Path:
    return data_dir() / "reviews.sqlite"


def jobs() -> int:
    """Worker processes for analysis: ``$CRATEMAP_JOBS`` or up to 2 (Community Cloud has 2 cores).

    In public mode each analysis runs in the server's own process (1): the
    queue's slots, not worker pools, share the cores among visitors, and no
    worker process adds its memory.
    """
    if deploy.is_public():
        return 1
    try:
        n = int(os.environ.get("CRATEMAP_JOBS", "0"))
    except ValueError:
        n = 0
    if n >= 1:
        return n
    try:
        cpus = len(os.sched_getaffinity(0))
    except AttributeError:
        cpus = os.cpu_count() or 1
    return max(1, min(2, cpus))


# --------------------------------------------------------------------------- names and uploads


def safe_relative_path(name: str) -> str:
    """A relative POSIX path that is safe to show and to join under a folder.

    Backslashes become slashes; control characters, empty, ``.`` and ``..``
    components and leading slashes (absolute paths, drive letters' colons)
    are dropped or replaced; each component is trimmed to 120 characters and
    200 UTF-8 bytes, keeping its extension (so ``.wav`` still says audio).

    >>> safe_relative_path("../../etc/passwd")
    'etc/passwd'
    >>> safe_relative_path("/abs/a.wav")
    'abs/a.wav'
    """
    text = str(name).replace("\\", "/")
    text = "".join(ch for ch in text if ch.isprintable())
    parts = []
    for part in text.split("/"):
        part = re.sub(r'[<>:"|?*]', "_", part.strip()).rstrip(" .")
        if part and part not in (".", ".."):
            parts.append(_trim(part))
    return "/".join(parts) or "upload"


def _trim(part: str) -> str:
    """``part`` cut to the component limits, its extension (up to 16 characters) kept."""
    stem, dot, ext = part.rpartition(".")
    if not dot or not stem or len(ext) > 16:
        stem, ext = part, ""
    else:
        ext = "." + ext
    stem = stem[: _MAX_PART - len(ext)]
    while stem and len((stem + ext).encode("utf-8")) > _MAX_PART_BYTES:
        stem = stem[:-1]
    return (stem.rstrip(" .") + ext) if stem.rstrip(" .") else (ext or "upload")


@dataclass(frozen=True)
class SavedUpload:
    """Where an upload was written and what it is called."""

    path: str  # on disk, under the data folder
    name: str  # display name: the (cleaned) relative path the user gave


def save_upload(name: str, data: bytes | memoryview, *, root: Path | None = None) -> SavedUpload:
    """Write one uploaded file under ``<data>/uploads/<sha256>/`` (atomically, once).

    Parameters
    ----------
    name : str
        The name the browser sent (for folder uploads, the path inside the folder).
    data : bytes
        The file's contents.
    root : Path, optional
        The uploads folder (default ``data_dir() / "uploads"``).

    Returns
    -------
    SavedUpload
    """
    display = safe_relative_path(name)
    digest = hashlib.sha256(data).hexdigest()
    folder = (root or data_dir() / "uploads") / digest
    target = folder / display.rsplit("/", 1)[-1]
    if not target.exists():
        folder.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=folder, prefix=".part-")
        try:
            with os.fdopen(fd, "wb") as fh:
                view = memoryview(data)
                for i in range(0, len(view), _UPLOAD_CHUNK):
                    fh.write(view[i : i + _UPLOAD_CHUNK])
            os.replace(tmp, target)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
    return SavedUpload(path=str(target), name=display)


@dataclass(frozen=True)
class Uploaded:
    """What became of one upload."""

    saved: list[tuple[str, str]]  # (path, display name) of each file kept
    skipped: list[str]  # names not tried: not audio by their names
    refused: list[str]  # public mode: a sentence for each file over a quota


def save_uploads(files: Sequence, *, folder_upload: bool) -> Uploaded:
    """Save uploaded files (in public mode, into the visitor's space and within the quotas).

    In a folder upload, hidden files are ignored and files whose names are
    not audio (cover art, cue sheets) are skipped and listed; files chosen
    one by one are always tried, so a broken one is reported by name.
    """
    tried, skipped = [], []
    for f in files:
        display = safe_relative_path(f.name)
        base = display.rsplit("/", 1)[-1]
        if folder_upload and base.startswith("."):
            continue
        if folder_upload and not is_audio_name(base):
            skipped.append(display)
            continue
        tried.append(f)
    if not deploy.is_public():
        saved = [save_upload(f.name, f.getbuffer()) for f in tried]
        return Uploaded([(u.path, u.name) for u in saved], skipped, [])
    space = deploy.space()
    kept = {f.name for f in space.files}
    fresh = [f for f in tried if safe_relative_path(f.name) not in kept]  # the same name again replaces nothing
    candidates = [Candidate(safe_relative_path(f.name), int(f.size), audio_seconds(f.getbuffer())) for f in fresh]
    admission = admit(candidates, space.usage(), deploy.config().quotas, disk_room=deploy.spaces().room())
    accepted = {c.name: c for c in admission.accepted}
    records = []
    for f in fresh:
        c = accepted.get(safe_relative_path(f.name))
        if c is None:
            continue
        up = save_upload(f.name, f.getbuffer(), root=space.uploads)
        records.append(SpaceFile(path=up.path, name=up.name, bytes=c.bytes, seconds=c.seconds))
    space.add(records)
    return Uploaded([(f.path, f.name) for f in space.files], skipped, [sentence for _, sentence in admission.refused])


def forget_uploads() -> None:
    """Public mode: remove every upload of this visitor from the server."""
    deploy.space().forget()
    for key in ("upload_ids", "upload_inputs", "upload_skipped", "upload_refused", "_analysed"):
        st.session_state.pop(key, None)


# --------------------------------------------------------------------------- settings -> config


def analysis_config() -> AnalysisConfig:
    """The analysis settings of this session (preset, section length, representative rule)."""
    base = preset(state.get("preset"))
    segment = base.segment
    if segment.mode == "fixed" and state.get("section_unit") == "bars":
        segment = segment.replace(mode="bars", bars=int(state.get("section_bars")))
    elif segment.mode == "fixed" and state.get("section_unit") == "phrases":
        segment = segment.replace(mode="phrases")
    elif segment.mode == "fixed":
        segment = segment.replace(section_seconds=float(state.get("section_seconds")))
    select = base.select.replace(rule=state.get("select_rule"))
    return base.replace(segment=segment, select=select)


# --------------------------------------------------------------------------- the library


@dataclass(frozen=True)
class Library:
    """The analysed tracks of a session: hashable, so cached calls key on it.

    One entry per distinct track (by content), in display-name order.
    """

    store_root: str  # the store folder
    track_ids: tuple[str, ...]  # sha256 of each file's bytes
    names: tuple[str, ...]  # display names, one per track id
    paths: tuple[str, ...]  # where each track can be read, one per track id

    def __len__(self) -> int:
        return len(self.track_ids)

    def store(self) -> Store:
        """The store this library lives in (fsspec options for a URL from ``$CRATEMAP_STORE_OPTIONS``)."""
        return open_store_at(self.store_root)

    def path_of(self, track_id: str) -> str:
        return self.paths[self.track_ids.index(track_id)]

    def name_of(self, track_id: str) -> str:
        return self.names[self.track_ids.index(track_id)]


@dataclass(frozen=True, eq=False)
class Analysed:
    """A library and what its analysis reported."""

    library: Library | None  # None when no file could be analysed
    result: BatchResult
    skipped: tuple[str, ...]  # files not tried (not audio by name)
    label: str  # "the demo library" / "your upload"
    config: AnalysisConfig
    missing: tuple = ()  # FileErrors: a DJ collection's tracks whose files were not found


def current_inputs() -> tuple[list[InputFile], list[str], str]:
    """The files of the session's library, the names skipped, and what to call it."""
    if state.get("source") == "collection" and not deploy.is_public():
        from . import collection

        return collection.inputs()
    if state.get("source") != "demo":
        if deploy.is_public():  # everything in the visitor's own space, this visit's uploads and earlier ones
            pairs = [(f.path, f.name) for f in deploy.space().files]
            return [InputFile(p, n) for p, n in pairs], list(st.session_state.get("upload_skipped", [])), "your library"
        pairs = st.session_state.get("upload_inputs", [])
        return [InputFile(p, n) for p, n in pairs], list(st.session_state.get("upload_skipped", [])), "your upload"
    inputs, _ = collect_inputs([DEMO_DIR])  # its licence texts and manifest are not worth listing as skipped
    return inputs, [], "the demo library"


def open_store_at(url: str) -> Store:
    """The store at a folder or fsspec URL.

    A URL's options (credentials, endpoint) are those the operator gave a
    store of that URL in the secrets, else ``$CRATEMAP_STORE_OPTIONS`` (local mode only).
    """
    for named in deploy.config().stores:
        if named.url == url:
            return Store(url, storage_options=named.storage_options() if "://" in url else None, create=False)
    if deploy.is_public() and url != store_root() and not url.startswith(str(data_dir() / "visitors")):
        raise EngineError("this store is not one the operator named")
    return Store(url, storage_options=env_storage_options() if "://" in url else None, create=False)


def resolve_store(choice: str) -> str:
    """The store a visitor's choice means: in public mode only an operator's store name; locally any folder or URL too.

    Raises
    ------
    EngineError
        In public mode, for anything but a name the operator gave (the message repeats no path).
    """
    named = deploy.config().store_named(choice)
    if named is not None:
        return named.url
    if deploy.is_public():
        raise EngineError("there is no store by that name here; choose one of the stores listed")
    return choice


@st.cache_data(ttl=60, max_entries=8, show_spinner=False)
def store_info(url: str) -> dict:
    """What the store at ``url`` holds (tracks, minutes, bytes...), re-read at most once a minute."""
    return open_store_at(url).info()


def library_store_root() -> str:
    """Where the session's own uploads are analysed: the visitor's space in public mode, the app's store locally."""
    return str(deploy.space().store) if deploy.is_public() else store_root()


def _library_from(result: BatchResult, inputs: Iterable[InputFile], *, root: str | None = None) -> Library | None:
    if result.sections is None or not len(result.sections):
        return None
    inputs = list(inputs)
    seen = [i.name for i in inputs]
    path_by_name = {i.name: i.path for i in inputs if seen.count(i.name) == 1}
    path_by_id = {t.track_id: t.path for t in result.tracks if t.path and Path(t.path).is_file()}
    meta = result.sections.meta
    first = meta.drop_duplicates("track_id")
    pairs = sorted(zip(first["name"].astype(str), first["track_id"].astype(str)))
    return Library(
        store_root=root or store_root(),
        track_ids=tuple(t for _, t in pairs),
        names=tuple(n for n, _ in pairs),
        # the name the user gave points at the file; when two inputs share a name, the track record decides
        paths=tuple(path_by_name.get(n) or path_by_id.get(t, "") for n, t in pairs),
    )


def ensure_analysed(*, show_summary: bool = False) -> Analysed | None:
    """Analyse the session's library under its settings (once per session and settings).

    Shows live progress per file (``st.status`` with a progress bar: the file
    name and how many times faster than real time it went). Tracks the store
    already holds are read from it, not decoded.

    Returns
    -------
    Analysed or None
        None when the session has no files yet (an upload source with nothing uploaded).
    """
    if state.get("source") == "store":
        return _open_existing(str(state.get("store_url")).strip())
    inputs, skipped, label = current_inputs()
    if not inputs:
        return None
    config = analysis_config()
    root = store_root() if state.get("source") == "demo" else library_store_root()
    key = (tuple((i.path, i.name) for i in inputs), config.digest(), root)
    held = st.session_state.get("_analysed")
    if held is not None and held[0] == key:
        return held[1]
    if state.get("source") == "demo" and demo.prepare(root) is not None and demo.cut_from_frames(config):
        demo.wait_for_frames(root)  # these settings are cut from the frames the background thread is storing
    try:
        store = Store(root)
    except EngineError as exc:
        st.error(deploy.said(exc))
        st.stop()
    waits = deploy.is_public() and not _all_stored(inputs, store, config)
    with st.status(f"Analysing {label}: {len(inputs)} files", expanded=True) as status, queue_turn(status, needed=waits):
        bar = st.progress(0.0, text="Decoding and measuring each file; the first results appear in a few seconds...")
        counts = {"analysed": 0, "cached": 0, "duplicate": 0, "error": 0}

        def on_progress(p: Progress) -> None:
            counts[p.status] = counts.get(p.status, 0) + 1
            if p.status == "analysed":
                how = f"{p.realtime_factor:.0f}x real time"
            elif p.status == "cached":
                how = "from the store"
            elif p.status == "duplicate":
                how = "duplicate"
            else:
                how = "could not be read"
            bar.progress(p.done / max(p.total, 1), text=f"{p.done}/{p.total}  {p.name}  ({how})")

        try:
            result = analyze(inputs, store=store, config=config, jobs=jobs(), progress=on_progress)
        except EngineError as exc:
            status.update(label="Analysis failed", state="error")
            st.error(deploy.said(exc))
            st.stop()
        missing = ()
        if state.get("source") == "collection" and not deploy.is_public():
            from . import collection

            collection.keep(store, result)
            missing = collection.missing()
        done = f"{len(result.tracks)} tracks ready in {result.wall_s:.1f} s"
        if counts["cached"]:
            done += f" ({counts['cached']} answered by the store)"
        if result.errors:
            done += f"; {len(result.errors)} could not be read"
        status.update(label=done, state="error" if not result.tracks else "complete", expanded=False)
    analysed = Analysed(
        library=_library_from(result, inputs, root=root),
        result=result,
        skipped=tuple(skipped),
        label=label,
        config=config,
        missing=missing,
    )
    st.session_state["_analysed"] = (key, analysed)
    return analysed


def _open_existing(choice: str) -> Analysed | None:
    """The library of an existing store (a name the operator gave, or locally a folder or URL), read without any audio.

    None until a store is chosen.
    """
    if not choice:
        return None
    config = analysis_config()
    key = ("store", choice, config.digest())
    held = st.session_state.get("_analysed")
    if held is not None and held[0] == key:
        return held[1]
    named = deploy.config().store_named(choice)
    label = f"the store {choice}" if named is not None else f"the store at {choice}"
    with st.spinner(f"Reading {label}..."):
        try:
            store = open_store_at(resolve_store(choice))
            result = open_library(store, config=config)
        except EngineError as exc:
            if deploy.is_public():
                log.warning("a visitor could not open a store: %s", exc)
                st.error(f"Cannot open {label}: {deploy.said(exc) if named is None else 'it cannot be read right now'}.")
            else:
                st.error(f"Cannot open {label}: {exc}")
            st.stop()
    analysed = Analysed(
        library=_library_from(result, [], root=store.url),
        result=result,
        skipped=(),
        label=label,
        config=config,
    )
    st.session_state["_analysed"] = (key, analysed)
    return analysed


def ensure_frames(library: Library, analysis: AnalysisConfig, track_ids: Sequence[str]) -> None:
    """Store the frame tables of ``track_ids`` (analysing the files with ``frames=True``), for what is
    computed from frames: DJ descriptors under settings the store holds none for.

    The demo's wait for the background thread that stores them; a track
    whose audio this library cannot read (a store opened without its files)
    is left as it is, and the caller's engine call says what is missing.
    """
    demo.wait_for_frames(library.store_root)
    store = library.store()
    digest = analysis.frames.digest()
    todo = [InputFile(library.path_of(t), library.name_of(t)) for t in track_ids if library.path_of(t) and not store.has_frames(t, digest)]
    if not todo:
        return
    with st.status(f"Decoding {len(todo)} files once more, for their frame tables", expanded=False) as status, queue_turn(status):
        try:
            analyze(todo, store=store, config=analysis, jobs=jobs(), frames=True)
        except EngineError as exc:
            status.update(label="Decoding failed", state="error")
            st.error(deploy.said(exc))
            st.stop()
        status.update(label=f"{len(todo)} files' frame tables stored", state="complete")


def _all_stored(inputs: list[InputFile], store: Store, config: AnalysisConfig) -> bool:
    """Does the store hold every input's frames already (so analysing is reading, and takes no queue slot)?"""
    try:
        return all(store.has_frames(file_digest(i.path), config.frames.digest()) for i in inputs)
    except (OSError, EngineError):
        return False


@contextlib.contextmanager
def queue_turn(status, *, needed: bool = True):
    """In public mode, wait for a slot of the server's analysis queue, showing this visitor their place.

    A visitor who leaves while waiting (their browser closes: Streamlit no
    longer counts the session active, or stops its script) gives up their place.
    """
    if not deploy.is_public() or not needed:
        yield
        return
    note = st.empty()

    def show(place: int) -> None:
        note.info(f"The server is analysing other visitors' music. You are number {place} in the queue; your analysis starts by itself.")
        status.update(label=f"Waiting for the server: number {place} in the queue")

    try:
        with deploy.queue().turn(deploy.visitor().key, on_wait=show, cancelled=deploy.session_gone):
            note.empty()
            yield
    except Cancelled:
        log.info("a visitor left the analysis queue before their turn")
        st.stop()


def require_library() -> Analysed:
    """The analysed library, or a sentence and a stop when there is none to show."""
    analysed = ensure_analysed()
    if analysed is None:
        st.info("No library yet: open **Library** to upload a folder, or switch back to the demo library.")
        st.page_link("pages/1_Library.py", label="Open the Library", icon=":material/library_music:")
        st.stop()
    if analysed.library is None:
        st.error(
            f"None of the {len(analysed.result.errors)} files in {analysed.label} could be analysed; "
            "the Library page lists why."
        )
        st.page_link("pages/1_Library.py", label="Open the Library", icon=":material/library_music:")
        st.stop()
    return analysed
