"""Analyse a batch of files into a store: hash, dedupe, decode, describe, aggregate.

The flow per file is ``hash -> (store has frames? skip : decode -> frame
features -> store) -> sections from frames``; with an embedding the same
decode also gives the network's 16 kHz signal, whose pieces are embedded
and stored in the same task. One bad file becomes a
:class:`~engine.records.FileError` and never stops the others; every track
that finished is in the store even if the batch is interrupted.

:func:`analyze` runs the files in one of three ways, each its own function
between one shared start (``_Batch``: clean the store, record the settings)
and one shared end (``_batch_result``: the section table and the result):

* here, one file after another (``_analyse_here``), or in a local process
  pool (``_analyse_in_pool``); local files are first hashed and deduplicated
  here (``_hash_here``);
* as tasks (``_analyse_as_tasks``): each file is hashed where it is read, on
  a Dask worker or, for URLs without a cluster, here one after another.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import time
from concurrent.futures import ProcessPoolExecutor, as_completed
from pathlib import Path
from typing import Callable, Iterable, Iterator, Mapping

import numpy as np
from threadpoolctl import threadpool_limits

from ..audio.decode import SignalFile, decode_file, file_digest
from ..audio.segment import min_track_seconds
from ..config import AnalysisConfig, EmbedConfig
from ..describe.frames import frame_features
from ..describe.sections import frame_phrases, sections_from_frames
from ..errors import DecodeError, EngineError, ParameterError, StoreError
from ..records import BatchResult, FileError, InputFile, Progress, SectionTable, Track
from ..store.core import Store
from ..store.urls import is_remote_url
from ._pool import pool_context
from .inputs import local_copy

__all__ = ["analyze", "open_library", "DEMO_DIR"]

log = logging.getLogger("cratemap.pipeline")

#: The bundled demo library.
DEMO_DIR = Path(__file__).resolve().parents[2] / "demo"


@dataclasses.dataclass(frozen=True)
class _Plan:
    """What one :func:`analyze` call does per file (sent to every worker): the analysis settings,
    whether frame tables must be stored, and the CNN embedding to store beside them (if any)."""

    config: AnalysisConfig
    frames: bool = False
    embedding: EmbedConfig | None = None
    pieces_key: str = ""  # the store key of the embedding's pieces ("" without one)


def _analyse_one(path: str, name: str, track_id: str, plan: _Plan, store: Store, source: str = ""):
    """Decode and describe one file into the store (and embed it, when the plan says). Runs in a worker process or inline.

    BLAS runs on one thread here, always: parallelism is across files, and
    results must not depend on ``jobs`` (threaded BLAS sums in another order).
    ``source``, when given, is recorded as the track's path instead of
    ``path`` (a URL whose object was fetched to ``path``).

    Returns the Track, or a FileError.
    """
    with threadpool_limits(1):
        try:
            stored = store.track(track_id) if plan.embedding is not None else None
            if stored is not None and store.has_frames(track_id, plan.config.frames.digest()):
                _embed_only(path, name, track_id, plan, store)  # the classical analysis is stored: one 16 kHz decode
                track = dataclasses.replace(stored, path=source or path)
                store.put_track(track, names=[name])
                return track
            return _analyse_one_unlimited(path, name, track_id, plan, store, source)
        except DecodeError as exc:
            return FileError(exc.name, exc.reason, exc.detail)
        except EngineError as exc:
            return FileError(name, "error", str(exc))
        except MemoryError:
            return FileError(name, "error", "ran out of memory while analysing this file")


def _analyse_one_unlimited(path: str, name: str, track_id: str, plan: _Plan, store: Store, source: str):
    config, embedding = plan.config, plan.embedding
    audio = decode_file(
        path,
        sample_rate=config.frames.sample_rate,
        config=config.decode,
        name=name,
        min_seconds=min_track_seconds(config.segment),
        track_id=track_id,
        spill=True,  # a long track waits in a temporary file, not in memory (DecodeConfig.hold_seconds)
        also_at=(embedding.sample_rate,) if embedding is not None else (),  # one decode for both passes
    )
    try:
        frames = frame_features(audio.y, sample_rate=audio.sample_rate, config=config.frames, track_id=track_id)
    finally:
        if isinstance(audio.y, SignalFile):
            audio.y.close()
    decoded = audio.track
    if embedding is not None:
        _embed_into(store, audio.also[embedding.sample_rate], track_id, plan, name)
    del audio  # the signal is the largest thing held: free it before the store copies the frames
    store.put_frames(frames, config=config.frames)
    # the sections too, here in the worker: the driver then only reads small files
    table = sections_from_frames(frames, name, config=config)
    if len(table):
        store.put_sections(table, config=config)
    track = dataclasses.replace(decoded, path=source) if source else decoded
    store.put_track(track)  # last: a track record means its frames are complete
    return track


def _embed_only(path: str, name: str, track_id: str, plan: _Plan, store: Store) -> None:
    """Decode at the network's rate only and store the pieces (the track's frames are stored already)."""
    audio = decode_file(path, sample_rate=plan.embedding.sample_rate, config=plan.config.decode, name=name, track_id=track_id)
    _embed_into(store, audio.y, track_id, plan, name)


def _embed_into(store: Store, y16: np.ndarray, track_id: str, plan: _Plan, name: str) -> None:
    """Embed one track's 16 kHz samples and store its pieces. A failure here costs only the
    embedding: the classical analysis is kept, and :func:`engine.run.embedding.embed_library`
    tries the track again and reports why it fails."""
    from ..neural.embed import embed

    try:
        store.put_pieces(embed(y16, sample_rate=plan.embedding.sample_rate, config=plan.embedding, track_id=track_id), key=plan.pieces_key, config=plan.embedding)
    except EngineError as exc:
        log.warning("could not embed %s with %s: %s", name, plan.embedding.model, exc)


def _hash_and_analyse(path: str, name: str, plan: _Plan, store: Store, options: str = ""):
    """One task: hash the file, answer from the store when it can, else analyse it.

    Hashing runs on the worker, beside the decoding, so the driver never reads
    the library's bytes; a URL's object is fetched here to a temporary file
    (and recorded under its URL). Returns ``(status, track_id, Track or
    FileError)`` with status ``"analysed"``, ``"cached"`` or ``"error"``.
    """
    try:
        with local_copy(path, options) as local:
            tid = file_digest(local)
            stored = _stored(store, tid, plan)
            if stored is not None:
                return "cached", tid, stored
            result = _analyse_one(local, name, tid, plan, store, source=path if local != path else "")
    except DecodeError as exc:
        return "error", "", FileError(name, exc.reason, exc.detail)
    return ("error" if isinstance(result, FileError) else "analysed"), tid, result


def _stored(store: Store, track_id: str, plan: _Plan) -> Track | None:
    """The stored Track when the store can answer ``plan`` without the audio, else None.

    It can when it holds the track's frames under the plan's settings (any
    section settings are cut from them) or, unless ``plan.frames`` asks for
    frames, the section rows themselves (a store seeded with results only,
    like the demo's: other settings then decode once); and, when the plan
    embeds, the track's pieces.
    """
    stored = store.track(track_id)
    if stored is None:
        return None
    if plan.embedding is not None and not store.has_pieces(track_id, plan.pieces_key):
        return None
    if store.has_frames(track_id, plan.config.frames.digest()):
        return stored
    if not plan.frames and store.has_sections(track_id, plan.config.section_digest()):
        return stored
    return None


def _timed_analyse_one(path: str, name: str, track_id: str, plan: _Plan, store: Store):
    """:func:`_analyse_one` and the seconds it took, measured where it runs (in the worker).

    Measured here, not by whoever waits for the result: with several
    workers, the time since the pool started is not this file's time.
    """
    t0 = time.perf_counter()
    result = _analyse_one(path, name, track_id, plan, store)
    return result, time.perf_counter() - t0


def _warm_up_kernels(config: AnalysisConfig) -> None:
    """Compile (or load) the numba kernels once here, before worker processes start.

    Workers that all compile the same cached numba function at once can leave
    mismatched cache files behind (numba#10128), which crash a later process;
    with the cache written here first, workers only read it.
    """
    sr = config.frames.sample_rate
    t = np.arange(sr, dtype=np.float32) / sr
    with threadpool_limits(1):
        frames = frame_features(0.1 * np.sin(2 * np.pi * 440.0 * t), sample_rate=sr, config=config.frames)
        frame_phrases(frames)  # every section's phrase label: librosa's beat tracker, numba-cached too


def _start_worker(plan: _Plan) -> None:
    """A pool worker's start: the numba kernels, and with an embedding the network loaded on one thread
    (parallelism is across files, as for the features)."""
    _warm_up_kernels(plan.config)
    if plan.embedding is not None:
        import torch

        from ..neural.embed import load_model

        os.environ["OMP_NUM_THREADS"] = "1"  # embed() then leaves torch's thread count alone
        torch.set_num_threads(1)
        load_model(plan.embedding)


def analyze(
    inputs: Iterable[InputFile | str | os.PathLike],
    *,
    store: Store,
    config: AnalysisConfig = AnalysisConfig(),
    jobs: int = 1,
    client=None,
    progress: Callable[[Progress], None] | None = None,
    frames: bool = False,
    embedding: EmbedConfig | None = None,
) -> BatchResult:
    """Analyse files into ``store`` and return the library's section table.

    Parameters
    ----------
    inputs : iterable of InputFile or path-like
        Files to analyse (see :func:`engine.run.inputs.collect_inputs` for folders).
    store : Store
        Where results are kept; tracks already there under the same frame
        settings are not decoded again.
    config : AnalysisConfig
        Every setting.
    jobs : int
        Worker processes on this machine (1 = inline). Each uses one BLAS thread.
    client : distributed.Client, optional
        Run each file as a task on this Dask cluster instead (``jobs`` is then
        ignored; see :mod:`engine.run.distributed`). Every worker must be able to
        read the input paths and reach ``store`` (a shared folder or an
        object-store URL). A worker that dies loses only the file it was on:
        Dask runs that task again elsewhere.
    progress : callable, optional
        Called with a :class:`Progress` after each file.
    frames : bool
        Make sure the store holds every track's frame tables, from which any
        section settings and the DJ descriptors are computed: a track whose
        section rows alone are stored (a seeded store, like the demo's) is
        decoded once. By default the section rows answer.
    embedding : EmbedConfig, optional
        Also store the CNN embeddings of every track's pieces, in the same
        task as its features: one decode serves both (the analysis rate and
        the network's 16 kHz come from the same blocks), files run in
        parallel over ``jobs`` workers (each network on one thread; inline,
        on every core), and a track whose features are stored is decoded
        at 16 kHz only. :func:`engine.run.embedding.embed_library` then reads
        the pieces without running the network.

    Returns
    -------
    BatchResult
        Distinct tracks read, per-file errors, duplicates, the section table
        of the tracks read (None when none could be read), seconds of audio
        and wall time.

    Raises
    ------
    ParameterError
        If ``jobs`` < 1, or an embedding is asked of a Dask ``client``.
    ModelError
        If the embedding's weights are missing (before any file is read).
    """
    if jobs < 1:
        raise ParameterError(f"jobs must be >= 1, got {jobs}")
    if embedding is not None and client is not None:
        raise ParameterError("embeddings run on this machine: analyse on the cluster first, then embed without a client")
    plan = _plan(config, frames=frames, embedding=embedding)
    items = [i if isinstance(i, InputFile) else InputFile(str(Path(i).resolve()), Path(i).name) for i in inputs]
    batch = _Batch(store, plan, total=len(items), progress=progress)
    if client is not None or any(is_remote_url(item.path) for item in items):
        _analyse_as_tasks(batch, items, client)
    else:
        todo = _hash_here(batch, items)
        if jobs == 1 or len(todo) <= 1:
            _analyse_here(batch, todo)
        else:
            _analyse_in_pool(batch, todo, jobs)
    return _batch_result(batch)


def _plan(config: AnalysisConfig, *, frames: bool, embedding: EmbedConfig | None) -> _Plan:
    """The per-file plan; with an embedding, its network is loaded here first (missing weights fail
    now, naming where they were looked for) and its pieces' store key found."""
    if embedding is None or embedding.model == "none":
        return _Plan(config, frames=frames)
    from ..neural.embed import load_model
    from ..store.core import pieces_key

    net = load_model(embedding)
    return _Plan(config, frames=frames, embedding=embedding, pieces_key=pieces_key(embedding.cache_digest(), net.weights_sha256))


class _Batch:
    """What one :func:`analyze` call has found so far, and its progress reports (mutable; private to this module).

    Built first, before any file: the store's leftovers of killed writers go
    and the analysis settings are recorded at once, so a run killed mid-way
    leaves a store that opens.
    """

    def __init__(
        self, store: Store, plan: _Plan, *, total: int, progress: Callable[[Progress], None] | None
    ) -> None:
        self.store, self.plan, self.config, self.total, self.progress = store, plan, plan.config, total, progress
        self.t0 = time.perf_counter()
        self.done = 0
        self.errors: list[FileError] = []
        self.duplicates: list[tuple[str, str]] = []
        self.first_name: dict[str, str] = {}  # track id -> the name it was first seen under, in input order
        self.cached: list[str] = []
        self.tracks: dict[str, Track] = {}
        store.clean_partial()  # temporary files of writers killed over an hour ago
        store.record_analysis(plan.config)  # now, not only at the end: a run killed mid-way leaves a store that opens

    def report(self, name: str, status: str, audio_s: float, file_wall: float, detail: str = "") -> None:
        """Count one finished file and tell the progress callback."""
        self.done += 1
        if self.progress is not None:
            elapsed = time.perf_counter() - self.t0
            self.progress(Progress(self.done, self.total, name, status, audio_s, file_wall, elapsed, detail))

    def from_store(self, item: InputFile, track_id: str, stored: Track) -> None:
        """Keep a track the store already held, under this name and where the file is now.

        Embedding and playback read the path; ``put_track`` writes only what
        changed, so reopening a library rewrites nothing.
        """
        stored = dataclasses.replace(stored, path=item.path)
        self.store.put_track(stored, names=[item.name])
        self.tracks[track_id] = stored
        self.cached.append(track_id)

    def settle(self, item: InputFile, track_id: str, result: Track | FileError, file_wall: float) -> None:
        """Keep the outcome of analysing one file here or in the local pool, and report it."""
        if isinstance(result, FileError):
            self.errors.append(result)
            self.report(item.name, "error", 0.0, file_wall, result.detail)
        else:
            self.tracks[track_id] = result
            self.report(item.name, "analysed", result.duration_s, file_wall)


def _hash_here(batch: _Batch, items: list[InputFile]) -> list[tuple[InputFile, str]]:
    """Hash each local file here, in input order: report duplicates and what the store holds; return what is left to analyse."""
    todo: list[tuple[InputFile, str]] = []
    for item in items:
        t_file = time.perf_counter()
        try:
            tid = file_digest(item.path)
        except DecodeError as exc:
            batch.errors.append(FileError(item.name, exc.reason, exc.detail))
            batch.report(item.name, "error", 0.0, time.perf_counter() - t_file, exc.detail)
            continue
        if tid in batch.first_name:
            batch.duplicates.append((item.name, batch.first_name[tid]))
            batch.report(item.name, "duplicate", 0.0, time.perf_counter() - t_file, f"same audio as {batch.first_name[tid]}")
            continue
        batch.first_name[tid] = item.name
        stored = _stored(batch.store, tid, batch.plan)
        if stored is not None:
            batch.from_store(item, tid, stored)
            batch.report(item.name, "cached", stored.duration_s, time.perf_counter() - t_file)
        else:
            todo.append((item, tid))
    return todo


def _analyse_here(batch: _Batch, todo: list[tuple[InputFile, str]]) -> None:
    """Analyse hashed files one after another in this process."""
    for item, tid in todo:
        batch.settle(item, tid, *_timed_analyse_one(item.path, item.name, tid, batch.plan, batch.store))


def _analyse_in_pool(batch: _Batch, todo: list[tuple[InputFile, str]], jobs: int) -> None:
    """Analyse hashed files in a pool of ``jobs`` local worker processes (one BLAS thread each)."""
    config = batch.config
    _warm_up_kernels(config)  # compile (and cache) here first: workers then only read numba's cache
    workers = min(jobs, len(todo))
    # each worker loads the kernels from numba's cache before its first file, so no file's time includes it
    context = pool_context(preload=__name__)
    with ProcessPoolExecutor(workers, mp_context=context, initializer=_start_worker, initargs=(batch.plan,)) as pool:
        started = time.perf_counter()
        futures = {pool.submit(_timed_analyse_one, item.path, item.name, tid, batch.plan, batch.store): (item, tid) for item, tid in todo}
        for fut in as_completed(futures):
            item, tid = futures[fut]
            try:
                result, work_s = fut.result()
            except Exception as exc:  # a worker that died (killed, crashed): report the file, keep going
                result = FileError(item.name, "error", f"the worker analysing this file failed ({type(exc).__name__})")
                work_s = time.perf_counter() - started  # unknown: at most this long
            batch.settle(item, tid, result, work_s)


def _analyse_as_tasks(batch: _Batch, items: list[InputFile], client) -> None:
    """Each file a task that hashes it where it is read: on the Dask ``client``'s workers, or here (no client).

    Progress is reported as tasks finish; duplicates are sorted out in input
    order afterwards, whichever task finished first.
    """
    from .distributed import run_tasks  # imports Dask only when run_tasks runs

    tasks = [(item.path, item.name, batch.plan, batch.store, item.options) for item in items]
    if client is not None:
        runs = run_tasks(client, _hash_and_analyse, tasks, warm_up=(_warm_up_kernels, batch.config))
    else:
        runs = _run_inline(tasks)
    outcomes = _report_tasks(batch, items, runs)
    for i, item in enumerate(items):
        status, tid, result = outcomes[i]
        if status == "error":
            batch.errors.append(result)
        elif tid in batch.first_name:
            batch.duplicates.append((item.name, batch.first_name[tid]))
        else:
            batch.first_name[tid] = item.name
            if status == "cached":
                batch.from_store(item, tid, result)
            else:
                batch.tracks[tid] = result


def _report_tasks(batch: _Batch, items: list[InputFile], runs: Iterable[tuple[int, object, float]]) -> dict[int, tuple[str, str, object]]:
    """Report each task as it finishes; return every outcome ``(status, track id, Track or FileError)`` by input index."""
    from .distributed import task_failure

    outcomes: dict[int, tuple[str, str, object]] = {}
    seen: dict[str, str] = {}  # track id -> the name first finished under (for the progress line only)
    for i, outcome, file_wall in runs:
        item = items[i]
        if isinstance(outcome, BaseException):  # the task itself failed (or killed every worker it ran on)
            outcome = ("error", "", FileError(item.name, "error", task_failure(outcome)))
        status, tid, result = outcome
        outcomes[i] = (status, tid, result)
        if status == "error":
            batch.report(item.name, "error", 0.0, file_wall, result.detail)
        elif tid in seen:
            batch.report(item.name, "duplicate", 0.0, file_wall, f"same audio as {seen[tid]}")
        else:
            seen[tid] = item.name
            batch.report(item.name, status, result.duration_s, file_wall)
    return outcomes


def _batch_result(batch: _Batch) -> BatchResult:
    """The batch's section table (under this batch's names) and the :class:`BatchResult`; records the analysis."""
    ok_ids = [tid for tid in batch.first_name if tid in batch.tracks]
    sections = None
    errors = list(batch.errors)
    if ok_ids:
        # a cached track may be too short for a longer section length
        sections, ok_ids, too_short = _sections_of(batch.store, batch.config, ok_ids, batch.first_name)
        errors += too_short
        if sections is not None:  # show this batch's names, even for tracks first stored under another
            sections = dataclasses.replace(sections, meta=sections.meta.assign(name=sections.meta["track_id"].map(batch.first_name)))
    batch.store.record_analysis(batch.config)
    ok = tuple(batch.tracks[t] for t in ok_ids)
    return BatchResult(
        tracks=ok,
        errors=tuple(errors),
        duplicates=tuple(batch.duplicates),
        sections=sections,
        seconds_of_audio=float(sum(t.duration_s for t in ok)),
        wall_s=time.perf_counter() - batch.t0,
        from_store=tuple(batch.cached),
    )


def _sections_of(
    store: Store, config: AnalysisConfig, ids: list[str], names: Mapping[str, str]
) -> tuple[SectionTable | None, list[str], list[FileError]]:
    """The section table of ``ids`` (None when none has a row), the ids with rows, and an error for each other.

    A track without rows is ``too-short`` only when it really is; a track
    whose stored files cannot be read is reported with the store's own words.
    """
    errors: list[FileError] = []
    failed: set[str] = set()
    try:
        sections = store.load_sections(config, track_ids=ids, allow_empty=True)
    except StoreError:  # find which tracks fail, and why; read the others
        readable = []
        for t in ids:
            try:
                store.load_sections(config, track_ids=[t], allow_empty=True)
                readable.append(t)
            except StoreError as exc:
                failed.add(t)
                errors.append(FileError(names[t], "error", f"its stored analysis cannot be read: {exc}"))
        sections = store.load_sections(config, track_ids=readable, allow_empty=True) if readable else None
    if sections is not None and len(sections) == 0:
        sections = None
    with_rows = set(sections.meta["track_id"]) if sections is not None else set()
    errors += [FileError(names[t], "too-short", "shorter than one section at these settings") for t in ids if t not in with_rows and t not in failed]
    return sections, [t for t in ids if t in with_rows], errors


def _run_inline(tasks: list[tuple]) -> Iterator[tuple[int, object, float]]:
    """:func:`engine.run.distributed.run_tasks` without a cluster: one task after another, here."""
    for i, args in enumerate(tasks):
        t0 = time.perf_counter()
        yield i, _hash_and_analyse(*args), time.perf_counter() - t0


def open_library(store: Store, *, config: AnalysisConfig | None = None) -> BatchResult:
    """Everything an existing store holds, as an analysis result, without reading any audio.

    Parameters
    ----------
    store : Store
        A store written by :func:`analyze` (here or on a cluster).
    config : AnalysisConfig, optional
        Section settings; default: those of the store's last analysis. Sections
        missing for them are aggregated from the stored frames.

    Returns
    -------
    BatchResult
        Every track with frames under ``config``, or its section rows
        (all marked ``from_store``); tracks too short for one section are listed as errors.

    Raises
    ------
    StoreError
        If the store holds no analysis, or no tracks for ``config``.
    """
    t0 = time.perf_counter()
    if config is None:
        config = store.last_config()
        if config is None:
            raise StoreError(f"{store.url} holds no analysis yet; run `python -m engine analyze` first")
    by_id = {t.track_id: t for t in store.tracks()}
    framed = store.frame_track_ids(config.frames.digest())
    cut = set(framed) | set(store.section_track_ids(config.section_digest()))  # a store of results only (the demo's) has no frames
    ids = [tid for tid in (*framed, *sorted(cut - set(framed))) if tid in by_id]
    if not ids:
        raise StoreError(f"{store.url} holds no tracks analysed with these decoding and STFT settings")
    sections, ok_ids, errors = _sections_of(store, config, ids, {t: by_id[t].name for t in ids})
    if sections is None:
        raise StoreError(f"{store.url} holds no sections for these settings")
    ok = tuple(by_id[t] for t in ok_ids)
    return BatchResult(
        tracks=ok,
        errors=tuple(errors),
        duplicates=(),
        sections=sections,
        seconds_of_audio=float(sum(t.duration_s for t in ok)),
        wall_s=time.perf_counter() - t0,
        from_store=tuple(t.track_id for t in ok),
    )
