"""The demo library on a fresh server: ready at once from its shipped analysis, completed in the background.

``demo/.store`` holds the demo's section rows, musicnn embeddings and DJ
descriptors at the default settings (1.2 MB), not its frame tables (50 MB).
So the first visitor of a fresh server (``make run``, Community Cloud) sees
every view of the demo at once, and meanwhile one background thread per
process decodes the demo into the frame tables (about half a minute on two
cores, at a lower CPU priority, one file at a time). Another section length
or a key profile other than the default is then cut from the frames without
decoding. A session that asks for one while the thread runs waits for it
(:func:`wait_for_frames`) rather than decoding the same files beside it.

In public mode the thread takes a slot of the server's analysis queue, like
any visitor's analysis.
"""

from __future__ import annotations

import atexit
import contextlib
import logging
import os
import threading
from dataclasses import dataclass, field

import streamlit as st

from engine.config import AnalysisConfig
from engine.errors import EngineError
from engine.run.inputs import collect_inputs
from engine.run.pipeline import DEMO_DIR, analyze
from engine.run.queue import AnalysisQueue
from engine.store.core import Store
from engine.store.seed import seed_store

from . import deploy

log = logging.getLogger("cratemap.demo")

#: The most a session waits for the background thread before it decodes for itself.
WAIT_CEILING_S = 900.0


@dataclass
class Completion:
    """The background thread that stores the demo's frame tables: set ``done`` when it ends."""

    done: threading.Event = field(default_factory=threading.Event)
    stop: threading.Event = field(default_factory=threading.Event)  # set at exit: the thread stops after its file
    error: str = ""  # why it failed ("" when it did not)
    files: int = 0  # files it decoded


class _Stopped(Exception):
    """The process is exiting: the thread stops between two files (a thread left inside native code
    while the interpreter shuts down can abort the process)."""


def prepare(root: str) -> Completion | None:
    """Seed the store at ``root`` with the demo's shipped analysis and start completing its frames
    (each once per process and store). None when the store could not be seeded."""
    if _seed(root) is None:
        return None
    return _complete(root, deploy.queue() if deploy.is_public() else None)


@st.cache_resource(show_spinner=False)
def _seed(root: str) -> int | None:
    """Copy ``demo/.store`` into the store; the files copied, or None on a read-only or full disk
    (the demo is then analysed from its audio, as any library)."""
    try:
        return seed_store(root, DEMO_DIR / ".store")
    except EngineError as exc:
        log.warning("could not seed the store with the demo's analysis: %s", exc)
        return None


_STARTED: dict[str, Completion] = {}  # store root -> its completion, once per process
_LOCK = threading.Lock()


def _complete(root: str, queue: AnalysisQueue | None) -> Completion:
    with _LOCK:
        if not _STARTED:
            atexit.register(_stop_all)
        if root not in _STARTED:
            _STARTED[root] = Completion()
            thread = threading.Thread(target=_run, args=(root, queue, _STARTED[root]), name="cratemap-demo-frames", daemon=True)
            thread.start()
        return _STARTED[root]


def _stop_all() -> None:
    """At exit: ask every running thread to stop after its current file, and wait for it (a minute at most)."""
    with _LOCK:
        running = list(_STARTED.values())
    for completion in running:
        completion.stop.set()
    for completion in running:
        completion.done.wait(60.0)


def _run(root: str, queue: AnalysisQueue | None, completion: Completion) -> None:
    """The thread: analyse the demo with ``frames=True`` (only the files whose frames are missing are decoded)."""
    with contextlib.suppress(OSError, AttributeError):  # Linux: a thread has its own nice value
        os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), 10)
    try:
        inputs, _ = collect_inputs([DEMO_DIR])
        with queue.turn("demo-frames") if queue is not None else contextlib.nullcontext():
            result = analyze(inputs, store=Store(root), config=AnalysisConfig(), jobs=1, frames=True, progress=lambda _: _check(completion))
        completion.files = len(result.tracks)
        if result.errors:
            completion.error = "; ".join(f"{e.name}: {e.detail}" for e in result.errors)
    except _Stopped:
        pass
    except Exception as exc:  # noqa: BLE001 -- a thread must not die silently: sessions then decode for themselves
        completion.error = f"{type(exc).__name__}: {exc}"
    finally:
        if completion.error:
            log.warning("the demo's frame tables were not all stored: %s", completion.error)
        completion.done.set()


def _check(completion: Completion) -> None:
    if completion.stop.is_set():
        raise _Stopped


def running(root: str) -> Completion | None:
    """The completion of the demo at ``root`` while it runs, else None (never started there, or ended)."""
    with _LOCK:
        completion = _STARTED.get(root)
    return None if completion is None or completion.done.is_set() else completion


def cut_from_frames(config: AnalysisConfig) -> bool:
    """Does the demo under ``config`` need the frame tables the background thread stores (the same
    frame settings as the shipped analysis, other section settings)?"""
    shipped = AnalysisConfig()
    return config.frames == shipped.frames and config.section_digest() != shipped.section_digest()


def wait_for_frames(root: str) -> None:
    """Wait (with a spinner) while the demo's frames are being stored at ``root``; at once otherwise."""
    completion = running(root)
    if completion is None:
        return
    with st.spinner("Finishing the demo's analysis in the background (about half a minute on a fresh server)…"):
        completion.done.wait(WAIT_CEILING_S)
