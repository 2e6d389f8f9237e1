"""Analyse a batch of files into a store: hash, dedupe, decode, describe, aggregate.

The flow per file is ``hash -> (store has frames? skip : decode -> frame
features -> store) -> sections from frames``. One bad file becomes a
:class:`~engine.records.FileError` and never stops the others; every track
that finished is in the store even if the batch is interrupted.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterable, Mapping, Sequence

import numpy as np
import pandas as pd
from threadpoolctl import threadpool_limits

from ._pool import pool_context
from ..config import AnalysisConfig, EmbedConfig
from ..audio.decode import SignalFile, decode_file, file_digest, is_audio_name
from ..errors import DecodeError, EngineError, ParameterError, StoreError
from ..describe.features import frame_features
from ..describe.sections import sections_from_frames
from ..records import BatchResult, FileError, FrameTable, PieceTable, SectionTable, Track
from ..audio.segment import min_track_seconds, segment
from ..store.core import Store, is_remote_url, pieces_key

__all__ = [
    "InputFile",
    "Progress",
    "collect_inputs",
    "analyze",
    "open_library",
    "embed_library",
    "DEMO_DIR",
]

#: The bundled demo library.
DEMO_DIR = Path(__file__).resolve().parents[2] / "demo"


@dataclass(frozen=True)
class InputFile:
    """A file to analyse and the name to show for it."""

    path: str  # where to read it: a local path, or an fsspec URL (s3://bucket/crate/a.ogg)
    name: str  # display name: the relative path the user gave
    options: str = ""  # a URL's fsspec storage options, as JSON ("" for none or a local path)

    @property
    def is_url(self) -> bool:
        """Is :attr:`path` a (non-local) fsspec URL?"""
        return is_remote_url(self.path)


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
                if not f.is_file() or f.name.startswith("."):
                    continue
                rel = f.relative_to(p).as_posix()
                (inputs.append(InputFile(str(f.resolve()), rel)) if is_audio_name(f.name) else skipped.append(rel))
        elif p.exists():
            inputs.append(InputFile(str(p.resolve()), p.name))
        else:
            raise ParameterError(f"no such file or folder: {src}")
    return inputs, skipped


def _collect_url(url: str, options: Mapping[str, object]) -> tuple[list[InputFile], list[str]]:
    """List an fsspec URL: a prefix's audio files (relative names) or one object."""
    import json

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
                if not rel or rel.rsplit("/", 1)[-1].startswith("."):
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
def _local_copy(item_path: str, options: str):
    """A local path to read ``item_path`` from: the path itself, or a URL's object fetched to a temporary file."""
    if not is_remote_url(item_path):
        yield item_path
        return
    import json

    import fsspec

    suffix = Path(item_path.rsplit("/", 1)[-1]).suffix
    with tempfile.TemporaryDirectory(prefix="cratemap-fetch-") as tmp:
        local = os.path.join(tmp, f"input{suffix}")
        try:
            fs, remote = fsspec.core.url_to_fs(item_path, **(json.loads(options) if options else {}))
            fs.get_file(remote, local)
        except FileNotFoundError as exc:
            raise DecodeError(item_path, "missing", "the object does not exist") from exc
        except (ImportError, ValueError, OSError) as exc:
            raise DecodeError(item_path, "missing", f"cannot fetch it ({exc})") from exc
        yield local


def _analyse_one(path: str, name: str, track_id: str, config: AnalysisConfig, store: Store, source: str = ""):
    """Decode and describe one file into the store. Runs in a worker process or inline.

    BLAS runs on one thread here, always: parallelism is across files, and
    results must not depend on ``jobs`` (threaded BLAS sums in another order).
    ``source``, when given, is recorded as the track's path instead of
    ``path`` (a URL whose object was fetched to ``path``).

    Returns the Track, or a FileError.
    """
    with threadpool_limits(1):
        return _analyse_one_unlimited(path, name, track_id, config, store, source)


def _analyse_one_unlimited(path: str, name: str, track_id: str, config: AnalysisConfig, store: Store, source: str):
    try:
        audio = decode_file(
            path,
            sample_rate=config.frames.sample_rate,
            config=config.decode,
            name=name,
            min_seconds=min_track_seconds(config.segment),
            track_id=track_id,
            spill=True,  # a long track waits in a temporary file, not in memory (DecodeConfig.hold_seconds)
        )
        try:
            frames = frame_features(audio.y, sample_rate=audio.sample_rate, config=config.frames, track_id=track_id)
        finally:
            if isinstance(audio.y, SignalFile):
                audio.y.close()
        decoded = audio.track
        del audio  # the signal is the largest thing held: free it before the store copies the frames
        store.put_frames(frames, config=config.frames)
        # the sections too, here in the worker: the driver then only reads small files
        table = sections_from_frames(frames, name, config=config)
        if len(table):
            store.put_sections(table, config=config)
        track = dataclasses.replace(decoded, path=source) if source else decoded
        store.put_track(track)  # last: a track record means its frames are complete
        return track
    except DecodeError as exc:
        return FileError(exc.name, exc.reason, exc.detail)
    except EngineError as exc:
        return FileError(name, "error", str(exc))
    except MemoryError:
        return FileError(name, "error", "ran out of memory while analysing this file")


def _hash_and_analyse(path: str, name: str, config: AnalysisConfig, store: Store, options: str = ""):
    """One task: hash the file, answer from the store when it can, else analyse it.

    Hashing runs on the worker, beside the decoding, so the driver never reads
    the library's bytes; a URL's object is fetched here to a temporary file
    (and recorded under its URL). Returns ``(status, track_id, Track or
    FileError)`` with status ``"analysed"``, ``"cached"`` or ``"error"``.
    """
    try:
        with _local_copy(path, options) as local:
            tid = file_digest(local)
            stored = _stored(store, tid, config)
            if stored is not None:
                return "cached", tid, stored
            result = _analyse_one(local, name, tid, config, store, source=path if local != path else "")
    except DecodeError as exc:
        return "error", "", FileError(name, exc.reason, exc.detail)
    return ("error" if isinstance(result, FileError) else "analysed"), tid, result


def _stored(store: Store, track_id: str, config: AnalysisConfig) -> Track | None:
    """The stored Track when the store already holds its frames under ``config``, else None."""
    stored = store.track(track_id)
    return stored if stored is not None and store.has_frames(track_id, config.frames.digest()) else None


def _timed_analyse_one(path: str, name: str, track_id: str, config: AnalysisConfig, store: Store):
    """:func:`_analyse_one` and the seconds it took, measured where it runs (in the worker).

    Measured here, not by whoever waits for the result: with several
    workers, the time since the pool started is not this file's time.
    """
    t0 = time.perf_counter()
    result = _analyse_one(path, name, track_id, config, store)
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
        frame_features(0.1 * np.sin(2 * np.pi * 440.0 * t), sample_rate=sr, config=config.frames)


def analyze(
    inputs: Iterable[InputFile | str | os.PathLike],
    *,
    store: Store,
    config: AnalysisConfig = AnalysisConfig(),
    jobs: int = 1,
    client=None,
    progress: Callable[[Progress], None] | None = None,
) -> BatchResult:
    """Analyse files into ``store`` and return the library's section table.

    Parameters
    ----------
    inputs : iterable of InputFile or path-like
        Files to analyse (see :func:`collect_inputs` for folders).
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

    Returns
    -------
    BatchResult
        Distinct tracks read, per-file errors, duplicates, the section table
        of the tracks read (None when none could be read), seconds of audio
        and wall time.

    Raises
    ------
    ParameterError
        If ``jobs`` < 1.
    """
    if jobs < 1:
        raise ParameterError(f"jobs must be >= 1, got {jobs}")
    items = [i if isinstance(i, InputFile) else InputFile(str(Path(i).resolve()), Path(i).name) for i in inputs]
    t0 = time.perf_counter()
    total = len(items)
    done = 0
    errors: list[FileError] = []
    duplicates: list[tuple[str, str]] = []
    first_name: dict[str, str] = {}
    todo: list[tuple[InputFile, str]] = []
    cached: list[str] = []
    tracks: dict[str, Track] = {}
    store.clean_partial()  # temporary files of writers killed over an hour ago
    store.record_analysis(config)  # now, not only at the end: a run killed mid-way leaves a store that opens

    def report(name: str, status: str, audio_s: float, file_wall: float, detail: str = "") -> None:
        nonlocal done
        done += 1
        if progress is not None:
            progress(Progress(done, total, name, status, audio_s, file_wall, time.perf_counter() - t0, detail))

    def remember(item: InputFile, stored: Track) -> Track:
        # remember this name too, and where the file is now (embedding and playback read it);
        # put_track writes only what changed, so reopening a library rewrites nothing
        stored = dataclasses.replace(stored, path=item.path)
        store.put_track(stored, names=[item.name])
        return stored

    def answer_from_store(item: InputFile, tid: str, stored: Track, file_wall: float) -> None:
        tracks[tid] = remember(item, stored)
        cached.append(tid)
        report(item.name, "cached", stored.duration_s, file_wall)

    def settle(item: InputFile, tid: str, result, file_wall: float) -> None:
        if isinstance(result, FileError):
            errors.append(result)
            report(item.name, "error", 0.0, file_wall, result.detail)
        else:
            tracks[tid] = result
            report(item.name, "analysed", result.duration_s, file_wall)

    if client is not None or any(item.is_url for item in items):
        # Each file is a task that hashes it where it is read (a Dask worker, or here for URLs without
        # a cluster); the driver sorts out duplicates in input order afterwards.
        from .distributed import run_tasks, task_failure  # imports Dask only when run_tasks runs

        tasks = [(item.path, item.name, config, store, item.options) for item in items]
        if client is not None:
            runs = run_tasks(client, _hash_and_analyse, tasks, warm_up=(_warm_up_kernels, config))
        else:
            runs = _run_inline(tasks)
        outcomes: dict[int, tuple[str, str, object]] = {}
        seen: dict[str, str] = {}  # track id -> the name first finished under (for the progress line only)
        for i, outcome, file_wall in runs:
            item = items[i]
            if isinstance(outcome, BaseException):  # the task itself failed (or killed every worker it ran on)
                outcome = ("error", "", FileError(item.name, "error", task_failure(outcome)))
            status, tid, result = outcome
            outcomes[i] = (status, tid, result)
            if status == "error":
                report(item.name, "error", 0.0, file_wall, result.detail)
            elif tid in seen:
                report(item.name, "duplicate", 0.0, file_wall, f"same audio as {seen[tid]}")
            else:
                seen[tid] = item.name
                report(item.name, status, result.duration_s, file_wall)
        # what the batch holds is settled in input order, whichever task finished first
        for i, item in enumerate(items):
            status, tid, result = outcomes[i]
            if status == "error":
                errors.append(result)
            elif tid in first_name:
                duplicates.append((item.name, first_name[tid]))
            else:
                first_name[tid] = item.name
                if status == "cached":
                    tracks[tid] = remember(item, result)
                    cached.append(tid)
                else:
                    tracks[tid] = result
    else:
        for item in items:
            t_file = time.perf_counter()
            try:
                tid = file_digest(item.path)
            except DecodeError as exc:
                errors.append(FileError(item.name, exc.reason, exc.detail))
                report(item.name, "error", 0.0, time.perf_counter() - t_file, exc.detail)
                continue
            if tid in first_name:
                duplicates.append((item.name, first_name[tid]))
                report(item.name, "duplicate", 0.0, time.perf_counter() - t_file, f"same audio as {first_name[tid]}")
                continue
            first_name[tid] = item.name
            stored = _stored(store, tid, config)
            if stored is not None:
                answer_from_store(item, tid, stored, time.perf_counter() - t_file)
            else:
                todo.append((item, tid))

        if jobs == 1 or len(todo) <= 1:
            for item, tid in todo:
                settle(item, tid, *_timed_analyse_one(item.path, item.name, tid, config, store))
        else:
            _warm_up_kernels(config)  # compile (and cache) here first: workers then only read numba's cache
            workers = min(jobs, len(todo))
            # each worker loads the kernels from numba's cache before its first file, so no file's time includes it
            with ProcessPoolExecutor(workers, mp_context=pool_context(preload=__name__), initializer=_warm_up_kernels, initargs=(config,)) as pool:
                started = time.perf_counter()
                futures = {pool.submit(_timed_analyse_one, item.path, item.name, tid, config, store): (item, tid) for item, tid in todo}
                for fut in as_completed(futures):
                    item, tid = futures[fut]
                    try:
                        result, work_s = fut.result()
                    except Exception as exc:  # a worker that died (killed, crashed): report the file, keep going
                        result = FileError(item.name, "error", f"the worker analysing this file failed ({type(exc).__name__})")
                        work_s = time.perf_counter() - started  # unknown: at most this long
                    settle(item, tid, result, work_s)

    ok_ids = [tid for tid in first_name if tid in tracks]
    sections = None
    if ok_ids:
        # a cached track may be too short for a longer section length
        sections, ok_ids, too_short = _sections_of(store, config, ok_ids, first_name)
        errors += too_short
        if sections is not None:  # show this batch's names, even for tracks first stored under another
            sections.meta["name"] = sections.meta["track_id"].map(first_name)
    store.record_analysis(config)
    ok = tuple(tracks[t] for t in ok_ids)
    return BatchResult(
        tracks=ok,
        errors=tuple(errors),
        duplicates=tuple(duplicates),
        sections=sections,
        seconds_of_audio=float(sum(t.duration_s for t in ok)),
        wall_s=time.perf_counter() - t0,
        from_store=tuple(cached),
    )


def _sections_of(store: Store, config: AnalysisConfig, ids: list[str], names: Mapping[str, str]):
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


def _run_inline(tasks):
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
        Every track with frames under ``config`` (all marked ``from_store``);
        tracks too short for one section are listed as errors.

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
    ids = [tid for tid in store.frame_track_ids(config.frames.digest()) if tid in by_id]
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


def embed_library(
    store: Store,
    track_ids: Sequence[str],
    *,
    analysis: AnalysisConfig,
    config: EmbedConfig = EmbedConfig(),
    paths: Mapping[str, str] | None = None,
    progress: Callable[[Progress], None] | None = None,
) -> PieceTable:
    """CNN embeddings of every piece of the given tracks, cached in the store.

    Embeddings are stored per track under ``(track_id,
    EmbedConfig.cache_digest(), weights sha256)``, independent of the section
    length, the batch size, the device and where the weights file lies; each piece is then
    given the section of ``analysis`` that contains its centre (``-1`` when
    none does), so the same stored vectors serve any section length.

    Parameters
    ----------
    store : Store
        Holds the tracks (their file paths are read for tracks not yet embedded).
    track_ids : sequence of str
        Tracks to embed, in the order wanted.
    analysis : AnalysisConfig
        Decides the sections the pieces are assigned to.
    config : EmbedConfig
        Model, layer, device and the VGGish weights policy.
    paths : mapping of str to str, optional
        Where each track's file is now (track_id -> path), when it may have
        moved since the store recorded it; default: the recorded path.
    progress : callable, optional
        Called with a :class:`Progress` after each track; a track whose audio
        cannot be read is reported with status ``"error"`` and left out.

    Returns
    -------
    PieceTable
        Possibly empty (zero rows) when no track could be embedded.

    Raises
    ------
    ParameterError
        For ``model="none"``.
    ModelError
        When the model's weights are missing (never runs random weights).
    """
    from ..neural.embed import embed, load_model, piece_sections

    if config.model == "none":
        raise ParameterError("embedding model 'none' computes no embeddings")
    net = load_model(config)  # fails early, naming where it looked, when weights are missing
    # keyed on what decides the vectors (model, layer, rate, the weights' bytes), never on batch size or device
    key = pieces_key(config.cache_digest(), net.weights_sha256)
    t0 = time.perf_counter()
    metas, values, tags = [], [], []
    tag_names: tuple[str, ...] = tuple(net.tag_names)
    for i, tid in enumerate(track_ids, start=1):
        t_file = time.perf_counter()
        track = store.track(tid)
        name = track.name if track else tid[:12]
        status = "cached"
        try:
            if track is None:
                raise DecodeError(name, "missing", "this track is not in the store")
            if not store.has_pieces(tid, key):
                status = "analysed"
                path = (paths or {}).get(tid, track.path)
                audio = decode_file(path, sample_rate=config.sample_rate, config=analysis.decode, name=name, track_id=tid)
                store.put_pieces(embed(audio.y, sample_rate=audio.sample_rate, config=config, track_id=tid), key=key, config=config)
            got = store.get_pieces(tid, key)
        except (DecodeError, EngineError) as exc:
            detail = exc.detail if isinstance(exc, DecodeError) else str(exc)
            if progress is not None:
                progress(Progress(i, len(track_ids), name, "error", 0.0, time.perf_counter() - t_file, time.perf_counter() - t0, detail))
            continue
        n_samples = int(round(track.duration_s * analysis.frames.sample_rate))
        seg = segment(n_samples, analysis.frames.sample_rate, config=analysis.segment, track_id=tid)
        section = piece_sections(got["start_s"], got["end_s"], seg.start_s, seg.end_s)
        metas.append(
            pd.DataFrame(
                {
                    "track_id": tid,
                    "name": name,
                    "section": section,
                    "piece": np.arange(section.shape[0], dtype=np.int64),
                    "start_s": got["start_s"],
                    "end_s": got["end_s"],
                }
            )
        )
        values.append(got["embeddings"])
        if got["tags"] is not None:
            tags.append(got["tags"])
        if progress is not None:
            progress(Progress(i, len(track_ids), name, status, track.duration_s, time.perf_counter() - t_file, time.perf_counter() - t0))
    dim = values[0].shape[1] if values else 0
    return PieceTable(
        meta=pd.concat(metas, ignore_index=True) if metas else pd.DataFrame(columns=["track_id", "name", "section", "piece", "start_s", "end_s"]),
        values=np.vstack(values) if values else np.zeros((0, dim), np.float32),
        tags=np.vstack(tags) if tags and len(tags) == len(values) else None,
        tag_names=tag_names if tags else (),
        model=config.model,
        weights=f"{Path(net.weights_file).name} sha256:{net.weights_sha256}",
        config_digest=config.digest(),
    )
