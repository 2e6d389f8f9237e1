"""The ``python -m engine`` command line.

Exit codes: 0 success; 1 some inputs failed (the rest were written) or an
engine error; 2 a usage error.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import Sequence

from ..config import AggregateConfig, AnalysisConfig, DecodeConfig, preset
from ..errors import EngineError, ParameterError

__all__ = ["main", "build_parser", "default_store_dir", "store_options"]

EXIT_OK, EXIT_PARTIAL, EXIT_USAGE = 0, 1, 2


def default_store_dir() -> Path:
    """``$CRATEMAP_STORE``, or ``.cratemap/store`` under the current folder."""
    return Path(os.environ.get("CRATEMAP_STORE", ".cratemap/store"))


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m engine",
        description="CrateMap: describe, cluster and mix sections of songs.",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser("analyze", help="decode files and store their features (default: the demo library)")
    p.add_argument("sources", nargs="*", metavar="FOLDER_OR_FILE", help="folders, files or fsspec URLs such as s3://bucket/crate/ (default: the bundled demo library)")
    p.add_argument("--from", dest="collection", default=None, metavar="COLLECTION",
                   help="analyse the files a rekordbox XML, Traktor NML or M3U/M3U8 names (their playlists, BPM, key and cues are kept)")
    p.add_argument("--out", default=None, metavar="STORE", help="store folder or fsspec URL, e.g. s3://bucket/crate (default: $CRATEMAP_STORE or .cratemap/store)")
    _add_store_options(p)
    p.add_argument("--preset", choices=("default", "thesis"), default="default", help="feature preset (default: default)")
    p.add_argument("--section-seconds", type=float, default=None, help="section length, 1-60 s (default 15)")
    p.add_argument("--bars", type=int, default=None, metavar="N",
                   help="cut sections of N bars from the first downbeat (1-64) instead of seconds")
    p.add_argument("--phrases", action="store_true", help="cut one section per phrase (where the music changes, on bar lines)")
    p.add_argument("--aggregate", choices=("median", "mean"), default=None, help="how frames become a section value")
    p.add_argument("--with-std", action="store_true", help="add a standard-deviation column per feature")
    p.add_argument("--select", choices=("all", "energy", "thesis"), default=None, help="representative-section rule")
    p.add_argument("--max-file-mb", type=float, default=None, help="refuse files larger than this (default 500)")
    p.add_argument("--jobs", type=int, default=1, help="worker processes on this machine (default 1)")
    p.add_argument(
        "--frames",
        action="store_true",
        help="make sure every track's frame tables are stored (a store seeded with section rows only, like the demo's, decodes once)",
    )
    dist = p.add_mutually_exclusive_group()
    dist.add_argument("--scheduler", default=None, metavar="ADDRESS", help="run each file as a task on this Dask scheduler (e.g. tcp://10.0.0.5:8786)")
    dist.add_argument("--dask-workers", type=int, default=None, metavar="N", help="start a Dask LocalCluster of N worker processes here")
    p.add_argument(
        "--embedding",
        choices=("musicnn", "musicnn-mtt", "msd-vgg", "vggish", "none"),
        default="none",
        help="also store CNN embeddings of every piece (default: none)",
    )
    p.add_argument("--device", choices=("auto", "cpu", "cuda"), default="auto", help="where the network runs (auto: CUDA when there is one)")
    p.add_argument("--vggish-weights", default="", help="VGGish state-dict file (else $CRATEMAP_VGGISH_WEIGHTS, the torch hub cache)")
    p.add_argument("--allow-download", action="store_true", help="let VGGish weights be downloaded (hash-checked)")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=_cmd_analyze)

    p = sub.add_parser("info", help="print what a store holds")
    p.add_argument("store", nargs="?", default=None, help="store folder or fsspec URL (default: $CRATEMAP_STORE or .cratemap/store)")
    _add_store_options(p)
    p.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(func=_cmd_info)

    for module in _extra_command_modules():
        module.register(sub)
    return parser


def _add_store_options(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--store-options",
        default=None,
        metavar="JSON",
        help='fsspec options for store (and input) URLs, e.g. \'{"client_kwargs": {"endpoint_url": "http://minio:9000"}}\' (else $CRATEMAP_STORE_OPTIONS)',
    )


def store_options(text: str | None) -> dict:
    """fsspec storage options from ``--store-options`` or ``$CRATEMAP_STORE_OPTIONS`` (a JSON object).

    Raises
    ------
    ParameterError
        If the text is not a JSON object.
    """
    from ..store.urls import env_storage_options, parse_storage_options

    return env_storage_options() if text is None else parse_storage_options(text, what="--store-options")


def _extra_command_modules():
    """Modules that add their own subcommands (each has ``register(subparsers)``)."""
    import importlib

    mods = []
    for name in ("engine.cli.analysis", "engine.cli.mix"):
        try:
            mods.append(importlib.import_module(name))
        except ModuleNotFoundError as exc:
            if exc.name != name:
                raise
    return mods


def _analysis_config(args: argparse.Namespace) -> AnalysisConfig:
    config = preset(args.preset)
    if args.section_seconds is not None:
        config = config.replace(segment=config.segment.replace(section_seconds=args.section_seconds))
    if getattr(args, "bars", None) is not None:
        if args.section_seconds is not None:
            raise ParameterError("give either --section-seconds or --bars, not both")
        config = config.replace(segment=config.segment.replace(mode="bars", bars=args.bars))
    if getattr(args, "phrases", False):
        if args.section_seconds is not None or getattr(args, "bars", None) is not None:
            raise ParameterError("give one of --section-seconds, --bars and --phrases")
        config = config.replace(segment=config.segment.replace(mode="phrases"))
    if args.aggregate is not None or args.with_std:
        agg: AggregateConfig = config.aggregate
        config = config.replace(
            aggregate=agg.replace(statistic=args.aggregate or agg.statistic, with_std=args.with_std or agg.with_std)
        )
    if args.select is not None:
        config = config.replace(select=config.select.replace(rule=args.select))
    if args.max_file_mb is not None:
        config = config.replace(decode=DecodeConfig(max_file_bytes=int(args.max_file_mb * 2**20)))
    return config


def _cmd_analyze(args: argparse.Namespace) -> int:
    from ..run.inputs import collect_inputs
    from ..run.pipeline import DEMO_DIR
    from ..store.core import Store

    config = _analysis_config(args)
    options = store_options(args.store_options)
    collection, found, missing = None, {}, []
    if args.collection:
        if args.sources:
            raise ParameterError("give either folders and files or --from COLLECTION, not both")
        found, missing, collection = _collection_inputs(args.collection)
        inputs, skipped = list(found.values()), []
    else:
        sources = args.sources or [DEMO_DIR]
        inputs, skipped = collect_inputs(sources, storage_options=options)
        if not inputs:
            raise ParameterError(f"no audio files found in {', '.join(map(str, sources))}")
    store = Store(args.out or default_store_dir(), storage_options=options)
    if (args.scheduler or args.dask_workers) and args.embedding != "none":
        raise ParameterError("--embedding runs on this machine; analyse on the cluster first, then embed without --scheduler/--dask-workers")
    embed_config = _embed_config(args)
    bar = _Bar(quiet=args.quiet)
    bar.start(len(inputs), "file")
    # on CPU each file is embedded in its analysis task (one decode, --jobs workers); on a GPU the
    # network stays in this process, fed in batches of 64 while the next track decodes (embed_library)
    in_tasks = embed_config if embed_config is not None and _on_cpu(embed_config) else None
    result, cluster_line = _analyse(args, inputs, store, config, progress=bar, embedding=in_tasks)
    bar.close()
    embed_errors: list[str] = []
    if embed_config is not None and result.tracks:
        embed_errors = _embed(args, store, result, config, embed_config, bar=bar)
    _print_analysis(args, store, config, result, skipped=skipped, cluster_line=cluster_line)
    for err in embed_errors:
        print(f"error        {err} [embedding]", file=sys.stderr)
    if collection is not None:
        _keep_collection(store, collection, found, result, missing)
    return EXIT_PARTIAL if result.errors or embed_errors or missing else EXIT_OK


def _collection_inputs(path: str):
    """The files a DJ collection names that are here (location -> InputFile), those that are not (FileErrors), and the collection."""
    from ..run.collections import locate_collection, read_collection

    collection = read_collection(path)
    found, missing = locate_collection(collection)
    if not found and not missing:
        raise ParameterError(f"{path} names no tracks")
    return found, missing, collection


def _keep_collection(store, collection, found, result, missing) -> None:
    """Store what the collection knew of each analysed track; report the files it names that are not here."""
    from ..run.collections import analysed_locations, keep_collection

    kept = keep_collection(store, collection, analysed_locations(found, result))
    print(f"collection   {collection.program}: {len(collection.tracks)} tracks, {len(collection.playlists)} playlists; "
          f"kept its data for {kept}, {len(missing)} not on this machine")
    for err in missing:
        print(f"error        {err.name}: {err.detail} [{err.reason}]", file=sys.stderr)


class _Bar:
    """A tqdm progress bar on stderr (none with ``--quiet``), fed :class:`~engine.records.Progress` reports."""

    def __init__(self, *, quiet: bool) -> None:
        self.quiet = quiet
        self.bar = None

    def start(self, total: int, unit: str, desc: str | None = None) -> None:
        if not self.quiet:
            from tqdm import tqdm

            self.bar = tqdm(total=total, unit=unit, file=sys.stderr, dynamic_ncols=True, desc=desc)

    def __call__(self, p) -> None:
        if self.bar is None:
            return
        rt = f"{p.realtime_factor:.0f}x RT" if p.status == "analysed" else p.status
        self.bar.set_postfix_str(f"{p.name[-40:]} ({rt})")
        self.bar.update(1)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar = None


def _embed_config(args: argparse.Namespace):
    """The EmbedConfig of ``--embedding`` (None for ``none``), its weights loaded now: missing
    weights fail here, before any analysis, naming where we looked."""
    if args.embedding == "none":
        return None
    from ..config import EmbedConfig
    from ..neural.embed import load_model

    embed_config = EmbedConfig(model=args.embedding, weights_path=args.vggish_weights, allow_download=args.allow_download, device=args.device)
    load_model(embed_config)
    return embed_config


def _on_cpu(embed_config) -> bool:
    from ..neural.embed import resolve_device

    return resolve_device(embed_config.device).type == "cpu"


def _analyse(args: argparse.Namespace, inputs, store, config: AnalysisConfig, *, progress: _Bar, embedding=None):
    """Analyse here (``--jobs``; with ``--embedding`` each file is embedded in the same task, from the same
    decode) or on Dask (``--scheduler``/``--dask-workers``); the result and the cluster's line (or None)."""
    from ..run.pipeline import analyze

    if not (args.scheduler or args.dask_workers is not None):
        return analyze(inputs, store=store, config=config, jobs=args.jobs, progress=progress, frames=args.frames, embedding=embedding), None
    from ..run.distributed import cluster_summary, dask_client

    with dask_client(scheduler=args.scheduler, workers=args.dask_workers) as client:
        cluster_line = cluster_summary(client)
        return analyze(inputs, store=store, config=config, client=client, progress=progress, frames=args.frames), cluster_line


def _embed(args: argparse.Namespace, store, result, config: AnalysisConfig, embed_config, *, bar: _Bar) -> list[str]:
    """Embed the analysed tracks and print the line on it; returns one ``"name: why"`` per track that failed."""
    from ..run.embedding import embed_library

    errors: list[str] = []
    bar.start(len(result.tracks), "track", desc=args.embedding)

    def on_embed(p) -> None:
        if p.status == "error":
            errors.append(f"{p.name}: {p.detail}")
        bar(p)

    pieces = embed_library(store, [t.track_id for t in result.tracks], analysis=config, config=embed_config, progress=on_embed)
    bar.close()
    print(f"embeddings   {len(pieces)} pieces from {args.embedding} ({pieces.weights})")
    return errors


def _print_analysis(args: argparse.Namespace, store, config: AnalysisConfig, result, *, skipped: list[str], cluster_line: str | None) -> None:
    """The report on an analysis: store, settings, counts and speed on stdout; each failed file on stderr."""
    n_sections = len(result.sections) if result.sections is not None else 0
    n_selected = int(result.sections.meta["selected"].sum()) if result.sections is not None else 0
    decoded_s = sum(t.duration_s for t in result.tracks if t.track_id not in set(result.from_store))
    speed = f"{decoded_s / result.wall_s:.0f}x real time" if decoded_s and result.wall_s > 0 else "all from the store"
    print(f"store        {store.url}")
    if cluster_line:
        print(f"dask         {cluster_line}")
    cut = {"bars": f"{config.segment.bars}-bar sections", "phrases": "one section per phrase"}.get(
        config.segment.mode, f"{config.segment.section_seconds:g}-s sections")  # fmt: skip
    print(f"config       {config.digest()} (preset {args.preset}, {cut})")
    print(f"tracks       {len(result.tracks)} ({len(result.from_store)} already in the store)")
    print(f"sections     {n_sections} ({n_selected} representative, rule {config.select.rule})")
    print(f"audio        {result.seconds_of_audio:.1f} s ({result.seconds_of_audio / 60:.1f} min)")
    print(f"wall time    {result.wall_s:.2f} s ({speed})")
    for dup, orig in result.duplicates:
        print(f"duplicate    {dup} is the same file as {orig}")
    if skipped:
        print(f"skipped      {len(skipped)} file(s) not named as audio: {', '.join(skipped[:5])}{' ...' if len(skipped) > 5 else ''}")
    for err in result.errors:
        print(f"error        {err.name}: {err.detail} [{err.reason}]", file=sys.stderr)


def _cmd_info(args: argparse.Namespace) -> int:
    from ..store.core import Store

    root = str(args.store or default_store_dir())
    if "://" not in root and not Path(root).is_dir():
        raise ParameterError(f"no store at {root}")
    info = Store(root, storage_options=store_options(args.store_options), create=False).info()
    if args.json:
        print(json.dumps(info, indent=1))
        return EXIT_OK
    print(f"store        {info['root']}")
    print(f"tracks       {info['tracks']} ({info['seconds_of_audio'] / 60:.1f} min of audio)")
    print(f"size         {info['bytes'] / 2**20:.1f} MB")
    print(f"last config  {info['last_config_digest']}")
    for kind in ("frames", "sections", "pieces"):
        for digest, n in info[kind].items():
            print(f"{kind:<12} {digest}: {n} track(s)")
    for name, others in info["duplicates"].items():
        print(f"duplicate    {name} also seen as {', '.join(others)}")
    return EXIT_OK


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI; returns the exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.func(args))
    except ParameterError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except EngineError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_PARTIAL
    except BrokenPipeError:  # output piped into `head` and friends
        sys.stderr.close()
        return EXIT_OK
    except KeyboardInterrupt:
        print("interrupted: every finished track is in the store; run again to resume", file=sys.stderr)
        return 130
