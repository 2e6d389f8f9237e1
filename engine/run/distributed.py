"""Per-track analysis on a Dask distributed cluster.

One file is one task: the worker hashes it, answers from the store when the
track is there, else decodes and describes it and writes its frames, sections
and track record to the store under ``(track_id, config digest)`` keys
(:mod:`engine.store.core`). Nothing else travels back but the small Track record,
so the driver stays light whatever the library's size.

What a crash costs, written where it is decided:

* a worker process that dies (killed, out of memory, a crash in a decoder)
  loses only the file it was on: the scheduler runs that task again on a
  live worker, and the dead worker's nanny starts a new one. After
  ``distributed.scheduler.allowed-failures`` deaths (3 by default) the file
  is reported as failed by name and the batch goes on;
* a task that raises (a bug, not bad audio: bad audio comes back as a
  FileError) is tried :data:`TASK_RETRIES` more times;
* writes are atomic and keyed by content, so a rerun after any of this skips
  every finished track and the store never holds a duplicate.

Dask is imported only here, and only when asked for: the plain local path
(:func:`engine.run.pipeline.analyze` without a client) needs no Dask at all.
"""

from __future__ import annotations

import contextlib
import logging
import time
import uuid
from typing import Any, Callable, Iterator, Sequence

from ..errors import EngineError, ParameterError

__all__ = ["TASK_RETRIES", "dask_client", "run_tasks", "task_failure", "cluster_summary"]

#: Extra tries for a task that raised (worker deaths are retried by the scheduler, see above).
TASK_RETRIES = 1
#: The Dask setting that makes nannies start workers with a tiny malloc trim threshold (see dask_client).
_TRIM_SETTING = "distributed.nanny.pre-spawn-environ.MALLOC_TRIM_THRESHOLD_"
#: Seconds to wait for a scheduler to answer before giving up.
CONNECT_TIMEOUT_S = 30


def _import_distributed():
    try:
        import distributed
    except ImportError as exc:
        raise ParameterError("distributed analysis needs Dask: pip install 'distributed' (then --scheduler or --dask-workers)") from exc
    return distributed


@contextlib.contextmanager
def dask_client(*, scheduler: str | None = None, workers: int | None = None, memory_limit: str | int = "auto") -> Iterator[Any]:
    """A Dask client: connected to a running scheduler, or over a new LocalCluster.

    Parameters
    ----------
    scheduler : str, optional
        The scheduler's address, e.g. ``tcp://10.0.0.5:8786``.
    workers : int, optional
        Start a LocalCluster of this many worker processes (one thread each:
        one file per process at a time, BLAS on one thread) on this machine.
    memory_limit : str or int
        LocalCluster: memory per worker (Dask's ``"auto"`` shares the machine's).

    Yields
    ------
    distributed.Client

    Raises
    ------
    ParameterError
        If neither or both are given, ``workers`` < 1, or Dask is not installed.
    EngineError
        If the scheduler cannot be reached.
    """
    if (scheduler is None) == (workers is None):
        raise ParameterError("give either a scheduler address or a number of local workers")
    distributed = _import_distributed()
    if workers is not None:
        if workers < 1:
            raise ParameterError(f"the number of Dask workers must be >= 1, got {workers}")
        import dask

        # Dask starts workers with MALLOC_TRIM_THRESHOLD_=65536 (memory back to the OS at once); for
        # per-track arrays of tens of MB that made every allocation a fresh mmap: analysis ran 20-30%
        # slower than the plain path (bench/scale.py). glibc's own adaptive threshold instead.
        with dask.config.set({_TRIM_SETTING: None}):
            cluster = distributed.LocalCluster(
                n_workers=int(workers),
                threads_per_worker=1,
                processes=True,
                memory_limit=memory_limit,
                dashboard_address=None,
                silence_logs=logging.ERROR,
            )
        try:
            with distributed.Client(cluster) as client:
                yield client
        finally:
            cluster.close()
        return
    try:
        client = distributed.Client(scheduler, timeout=CONNECT_TIMEOUT_S)
    except (OSError, TimeoutError, ValueError) as exc:
        raise EngineError(f"cannot reach the Dask scheduler at {scheduler} ({exc})") from exc
    with client:
        yield client


def cluster_summary(client) -> str:
    """One line on the cluster: workers, threads, memory."""
    info = client.scheduler_info()
    workers = info.get("workers", {})
    threads = sum(int(w.get("nthreads", 0)) for w in workers.values())
    memory = sum(int(w.get("memory_limit", 0) or 0) for w in workers.values())
    return f"{len(workers)} workers, {threads} threads, {memory / 2**30:.1f} GiB at {client.scheduler.address}"


def run_tasks(
    client,
    fn: Callable[..., Any],
    tasks: Sequence[tuple],
    *,
    warm_up: tuple[Callable[..., Any], Any] | None = None,
    retries: int = TASK_RETRIES,
) -> Iterator[tuple[int, Any, float]]:
    """Run ``fn(*args)`` for every ``args`` in ``tasks`` on the cluster, yielding results as they finish.

    Parameters
    ----------
    client : distributed.Client
    fn : callable
        Importable on the workers (a module-level function).
    tasks : sequence of tuple
        Positional arguments of each call.
    warm_up : (callable, argument), optional
        Run on every worker before any task, first on one worker per machine,
        then on the others together: numba kernels compiled by many processes
        at once can corrupt a machine's shared cache (numba#10128); compiled
        once per machine first, every later worker there only loads it.
    retries : int
        Extra tries of a task that raised.

    Yields
    ------
    (index, result, seconds) : tuple
        ``index`` into ``tasks``; ``result`` is what ``fn`` returned or, when
        the task failed for good, the exception; ``seconds`` since submission.
    """
    distributed = _import_distributed()
    if warm_up is not None:
        warm_fn, arg = warm_up
        by_host: dict[str, list[str]] = {}
        for address, w in sorted(client.scheduler_info()["workers"].items()):
            by_host.setdefault(str(w.get("host", address)), []).append(address)
        # first one worker per machine (they write each machine's cache), then all the others at once (they read it)
        firsts = [addrs[0] for addrs in by_host.values()]
        rest = [a for addrs in by_host.values() for a in addrs[1:]]
        for group in (firsts, rest):
            if group:
                client.run(warm_fn, arg, workers=group)
    batch = uuid.uuid4().hex[:8]
    started = time.perf_counter()
    futures = [
        client.submit(fn, *args, key=f"cratemap-{batch}-{i}", pure=False, retries=retries) for i, args in enumerate(tasks)
    ]
    index = {f.key: i for i, f in enumerate(futures)}
    for fut in distributed.as_completed(futures):
        try:
            result = fut.result()
        except Exception as exc:  # KilledWorker, or what the task raised after its retries
            result = exc
        fut.release()
        yield index[fut.key], result, time.perf_counter() - started


def task_failure(exc: BaseException) -> str:
    """A sentence for a person on why a task failed for good."""
    if type(exc).__name__ == "KilledWorker":
        return "every worker that tried this file died (it may crash the decoder or need more memory than a worker has)"
    return f"the task failed after {TASK_RETRIES + 1} tries ({type(exc).__name__}: {exc})"
