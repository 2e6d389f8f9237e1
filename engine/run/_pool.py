"""Worker processes that are safe to start from a threaded server (Streamlit's).

:func:`pool_context` gives a ``multiprocessing`` context for a process pool
that never forks the calling process (a fork copies the locks other threads
hold, and a worker can wait on one forever) and whose workers never re-run
the caller's main script (Streamlit installs each page as ``__main__``).
"""

from __future__ import annotations

import contextlib
import multiprocessing
import multiprocessing.context
import sys
import threading
import types

__all__ = ["pool_context"]

_MAIN_LOCK = threading.Lock()


@contextlib.contextmanager
def _main_hidden():
    """While a worker is launched, show multiprocessing a ``__main__`` with no file to re-run.

    A spawned (or fork-server) worker normally re-runs the parent's main
    script so that functions defined there can be unpickled. These pools
    run only functions of engine modules, and under Streamlit the "main script"
    is the page itself (Streamlit installs each page as ``__main__``): a
    worker would re-run the whole app. The real module is put back at once,
    unless something else replaced ``__main__`` meanwhile.
    """
    with _MAIN_LOCK:
        real = sys.modules.get("__main__")
        stand_in = types.ModuleType("__main__")
        sys.modules["__main__"] = stand_in
        try:
            yield
        finally:
            if sys.modules.get("__main__") is stand_in:
                if real is None:
                    del sys.modules["__main__"]
                else:
                    sys.modules["__main__"] = real


class _HidesMain:
    """Mixin for a ``multiprocessing`` Process class: launch the worker with ``__main__`` hidden
    (see :func:`_main_hidden`). Process classes stay module-level: workers unpickle them by name."""

    @classmethod
    def _Popen(cls, process_obj):
        with _main_hidden():
            return super()._Popen(process_obj)


class _SpawnProcess(_HidesMain, multiprocessing.context.SpawnProcess):
    pass


class _SpawnContext(multiprocessing.context.SpawnContext):
    Process = _SpawnProcess


if hasattr(multiprocessing.context, "ForkServerContext"):  # POSIX

    class _ForkServerProcess(_HidesMain, multiprocessing.context.ForkServerProcess):
        pass

    class _ForkServerContext(multiprocessing.context.ForkServerContext):
        Process = _ForkServerProcess


def pool_context(*, preload: str) -> multiprocessing.context.BaseContext:
    """How worker processes start: never by forking this (possibly threaded) process.

    The app runs the pipeline inside Streamlit's threaded server; a fork
    copies whatever locks its other threads hold at that instant (logging,
    allocators, BLAS pools), and a worker can then wait on one forever.
    ``forkserver`` forks each worker from a small single-threaded server
    started once per process, which has imported this module already (so a
    worker costs a fork, not an import of numpy, librosa and numba);
    ``spawn`` is the fallback where forkserver does not exist (Windows).
    Either way workers never re-run the caller's main script (see
    :func:`_main_hidden`).

    Parameters
    ----------
    preload : str
        The module whose functions the workers run: the fork server imports
        it (and so numpy, librosa and numba) once, before forking any worker.

    Returns
    -------
    multiprocessing.context.BaseContext
        For ``concurrent.futures.ProcessPoolExecutor(mp_context=...)``.
    """
    if "forkserver" in multiprocessing.get_all_start_methods():
        multiprocessing.get_context("forkserver").set_forkserver_preload([preload])
        return _ForkServerContext()
    return _SpawnContext()
