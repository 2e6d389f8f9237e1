"""The analysis subcommands of ``python -m engine``: cluster, similar, export.

``engine/cli/main.py`` calls :func:`register`; each handler returns an exit code
and raises :class:`~engine.errors.EngineError` for the CLI to print as one
line (ParameterError: exit 2, other engine errors: exit 1).

Examples::

    python -m engine cluster tests/data/out_dataset_1.csv --preset thesis --json
    python -m engine cluster STORE --method fcm --k 5 --scaler robust --sweep 2-10
    python -m engine similar STORE --track "Vibe Ace" --section 3 --k 10 --other-tracks
    python -m engine similar STORE --track tt1 --section 1 --space classical
    python -m engine export STORE --what cluster:2 --format xspf -o cluster2.xspf
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np
import pandas as pd

from ..config import ClusterConfig
from ..describe.phrases import phrase_text
from ..errors import ParameterError

__all__ = ["register", "cluster_config_from_args"]

_METHODS = ("kmeans", "fcm", "agglomerative", "hdbscan")
_METRICS = ("euclidean", "cosine", "manhattan", "correlation")
_SCALERS = ("zscore", "minmax", "robust", "l2-column")
_SPACES = ("classical", "musicnn", "fused", "invariant")
_FORMATS = ("xspf", "m3u", "csv", "parquet", "projector", "rekordbox", "traktor")


def _add_source(p: argparse.ArgumentParser) -> None:
    p.add_argument("source", metavar="TABLE_OR_STORE", help="a store folder, or a CSV/Parquet with filename, part and feature columns")
    p.add_argument("--section-seconds", type=float, default=None, help="for tables without start_s/end_s: section length, to derive times")


def _add_cluster_options(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("clustering")
    g.add_argument("--preset", choices=("default", "thesis"), default="default", help="thesis: its 17 features, l2-column, dedupe, K-Means k=4, seed 42")
    g.add_argument("--method", choices=_METHODS, default=None, help="default kmeans")
    g.add_argument("--k", type=int, default=None, help="clusters (default 4; hdbscan ignores it)")
    g.add_argument("--metric", choices=_METRICS, default=None, help="default euclidean")
    g.add_argument("--scaler", choices=_SCALERS, default=None, help="default zscore")
    g.add_argument("--features", default=None, metavar="LIST", help="comma-separated feature columns (default: the modelling set)")
    g.add_argument("--dedupe", action=argparse.BooleanOptionalAction, default=None, help="drop identical rows after scaling")
    g.add_argument("--seed", type=int, default=None, help="feeds every random step (default 42)")
    g.add_argument("--n-init", type=int, default=None, help="K-Means/fcm restarts (default 10)")
    g.add_argument("--linkage", choices=("ward", "average", "complete", "single"), default=None, help="agglomerative linkage")
    g.add_argument("--fcm-m", type=float, default=None, help="fuzzy c-means fuzziness (> 1)")
    g.add_argument("--min-cluster-size", type=int, default=None, help="hdbscan")


def cluster_config_from_args(args: argparse.Namespace) -> ClusterConfig:
    """A :class:`ClusterConfig` from a preset and the options given on the command line.

    Raises
    ------
    ParameterError
        If a value is invalid.
    """
    from ..analysis.cluster import cluster_preset

    config = cluster_preset(args.preset)
    changes = {
        "method": args.method,
        "k": args.k,
        "metric": args.metric,
        "scaler": args.scaler,
        "dedupe": args.dedupe,
        "seed": args.seed,
        "n_init": args.n_init,
        "linkage": args.linkage,
        "fcm_m": args.fcm_m,
        "min_cluster_size": args.min_cluster_size,
    }
    if args.features is not None:
        changes["features"] = tuple(f.strip() for f in args.features.split(",") if f.strip())
    changes = {k: v for k, v in changes.items() if v is not None}
    return config.replace(**changes) if changes else config


def _parse_range(text: str) -> tuple[int, int]:
    try:
        lo, _, hi = text.partition("-")
        k_min, k_max = int(lo), int(hi or lo)
    except ValueError:
        raise ParameterError(f"--sweep wants a range like 2-15, got {text!r}") from None
    return k_min, k_max


def register(subparsers) -> None:
    """Add the ``cluster``, ``similar`` and ``export`` subcommands.

    Parameters
    ----------
    subparsers : argparse._SubParsersAction
        From ``parser.add_subparsers()``.
    """
    p = subparsers.add_parser("cluster", help="cluster sections of a store or a feature table")
    _add_source(p)
    _add_cluster_options(p)
    p.add_argument("--sweep", default=None, metavar="K1-K2", help="also score k = K1..K2 and suggest one")
    p.add_argument("--bootstrap", type=int, default=10, help="resamples per k for the sweep's stability (default 10; 0 skips)")
    p.add_argument("--json", action="store_true", help="print metrics, sizes and PCA explained variance as JSON")
    p.set_defaults(func=_cmd_cluster)

    p = subparsers.add_parser("similar", help="the sections most like one section")
    _add_source(p)
    p.add_argument("--track", required=True, help="track name (or a unique part of it, or its id)")
    p.add_argument("--section", type=int, required=True, help="section number (from 0)")
    p.add_argument("--k", type=int, default=10, help="neighbours (default 10)")
    p.add_argument("--metric", choices=_METRICS, default="cosine", help="default cosine")
    p.add_argument("--other-tracks", action="store_true", help="leave out the query's own track")
    p.add_argument("--scaler", choices=_SCALERS, default="zscore", help="default zscore")
    p.add_argument("--features", default=None, metavar="LIST", help="comma-separated feature columns")
    _add_space_options(p)
    p.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(func=_cmd_similar)

    p = subparsers.add_parser("export", help="write a playlist, projector TSVs or a table of sections")
    _add_source(p)
    _add_cluster_options(p)
    p.add_argument(
        "--what",
        default="features",
        help="cluster:N | assignments | features | track:NAME | similar:TRACK@SECTION (default features)",
    )
    p.add_argument("--format", choices=_FORMATS, default=None, help="default: from the output suffix")
    p.add_argument("-o", "--out", required=True, type=Path, help="output file (projector: the vectors TSV)")
    p.add_argument("--base-dir", type=Path, default=None, help="playlists: folder the track names are relative to")
    p.add_argument("--neighbours", type=int, default=10, help="similar: neighbours (default 10; metric from --metric, default cosine)")
    p.add_argument("--other-tracks", action="store_true", help="similar: leave out the query's own track")
    p.add_argument("--merge", type=Path, default=None, metavar="FILE", help="rekordbox/traktor: the DJ's own collection (XML or NML), kept whole and added to")
    _add_space_options(p)
    p.set_defaults(func=_cmd_export)


def _add_space_options(p: argparse.ArgumentParser) -> None:
    """``--space``, ``--fused-weight`` and ``--embed``: which space "similar" compares in (``similar``, ``export --what similar:``)."""
    p.add_argument(
        "--space", choices=("auto", *_SPACES), default="auto",
        help="similar: what is compared: classical features, musicnn embeddings, both fused, or fused and made invariant "
        "to re-encoding and small shifts (auto, the default: invariant when the store holds every track's musicnn "
        "embeddings, else classical; see engine/analysis/spaces.py)",
    )  # fmt: skip
    p.add_argument("--fused-weight", type=float, default=0.5, help="fused space: the classical features' share (default 0.5)")
    p.add_argument("--embed", action="store_true", help="musicnn/fused: embed tracks not embedded yet (runs the network)")


# --------------------------------------------------------------------------- handlers


def _load(args):
    from ..store.tables import load_table

    return load_table(args.source, section_seconds=args.section_seconds)


def _cmd_cluster(args: argparse.Namespace) -> int:
    from ..analysis.cluster import cluster, summarize
    from ..analysis.project import project
    from ..analysis.sweep import choose_k

    config = cluster_config_from_args(args)
    table = _load(args)
    result = cluster(table, config=config)
    pca = project(result, method="pca") if len(result) >= 3 and result.data.X.shape[1] >= 2 else None
    sweep = None
    if args.sweep:
        k_min, k_max = _parse_range(args.sweep)
        sweep = choose_k(result.data, config=config, k_range=(k_min, k_max), n_bootstrap=args.bootstrap)
    if args.json:
        out = result.metrics()
        out["pca_explained_variance_ratio"] = list(pca.explained_variance_ratio) if pca else None
        out["features"] = list(result.data.names)
        out["scaler"] = result.data.scaler
        out["warnings"] = list(result.warnings)
        out["config"] = config.to_dict()
        if sweep is not None:
            out["sweep"] = sweep.to_dict()
        print(json.dumps(out, indent=1))
        return 0
    m = result.metrics()
    print(f"config       {result.config_digest} ({config.method}, metric {result.metric_used}, scaler {config.scaler})")
    print(f"rows         {m['n_rows']} ({m['n_duplicates_dropped']} duplicates dropped), {len(result.data.names)} features")
    print(f"clusters     {result.k}: sizes {' / '.join(map(str, result.sizes))}" + (f", noise {result.n_noise}" if result.n_noise else ""))
    print(f"silhouette   {_fmt(result.silhouette)}   Davies-Bouldin {_fmt(result.davies_bouldin)}   Calinski-Harabasz {_fmt(result.calinski_harabasz, 1)}")
    if result.fpc is not None:
        print(f"fuzzy        FPC {result.fpc:.3f}, {int(result.boundary.sum())} boundary sections")
    if pca is not None:
        print(f"PCA          explained variance {', '.join(f'{v:.4f}' for v in pca.explained_variance_ratio)}")
        if pca.sample_note:
            print(f"PCA          {pca.sample_note}")
    for note in result.scale_notes:
        print(f"scale        {note}")
    for s in summarize(result, n_examples=1):
        top = ", ".join(f"{n} ({c})" for n, c in s.tracks[:2])
        print(f"cluster {s.cluster:<4} {s.size} sections; most from {top}")
    for w in result.warnings:
        print(f"warning      {w}", file=sys.stderr)
    if sweep is not None:
        print(sweep.to_frame().to_string(index=False, float_format=lambda v: f"{v:.3f}"))
        print(f"suggested k  {sweep.suggested_k}: {sweep.reason}")
    return 0


def _fmt(x: float, digits: int = 4) -> str:
    return "n/a" if not np.isfinite(x) else f"{x:.{digits}f}"


def _cmd_similar(args: argparse.Namespace) -> int:
    from ..analysis.similar import nearest_sections

    config = ClusterConfig(scaler=args.scaler, metric=args.metric, fused_weight=args.fused_weight)
    if args.features:
        config = config.replace(features=tuple(f.strip() for f in args.features.split(",") if f.strip()))
    table = _load(args)
    space, embeddings, why = _similar_space(args, table)
    config = config.replace(space=space)
    nb = nearest_sections(
        table, track=args.track, section=args.section, k=args.k, metric=args.metric, other_tracks=args.other_tracks,
        config=config, embeddings=embeddings,
    )  # fmt: skip
    if args.json:
        cols = [c for c in ("name", "section", "start_s", "end_s", "phrase_label", "phrase_confidence", "distance") if c in nb.meta.columns]
        print(
            json.dumps(
                {
                    "query": {"name": nb.query_name, "section": nb.query_section},
                    "space": space,
                    "space_reason": why,
                    "metric": nb.metric,
                    "scaler": nb.scaler,
                    "other_tracks": nb.other_tracks,
                    "config_digest": nb.config_digest,
                    **({"index": nb.index} if nb.index != "exact" else {}),
                    "neighbours": json.loads(nb.meta[cols].to_json(orient="records")),
                },
                indent=1,
            )
        )
        return 0
    print(f"query        {nb.query_name} section {nb.query_section} ({nb.metric}, {nb.scaler}, config {nb.config_digest})")
    print(f"space        {space}: {why}")
    if nb.index != "exact":
        print(f"index        {nb.index}")
    for i, row in nb.meta.iterrows():
        phrase = phrase_text(row.get("phrase_label"), row.get("phrase_confidence"))
        print(f"{i + 1:>3}  {row['distance']:.4f}  {row['name']}  section {int(row['section'])}" + (f"  [{phrase}]" if phrase else ""))
    return 0


def _similar_space(args: argparse.Namespace, table) -> tuple[str, object, str]:
    """(space, section embeddings or None, why in words) for ``similar``: ``--space auto`` is fused when it can be."""
    from ..config import EmbedConfig
    from ..errors import EngineError
    from ..run.embedding import section_embeddings
    from ..store.core import Store

    if args.space == "classical":
        return "classical", None, "classical features, as asked"
    is_store = "://" in args.source or Path(args.source).is_dir()
    if not is_store:
        if args.space == "auto":
            return "classical", None, "classical features (a feature table has no embeddings; musicnn and fused need a store)"
        raise ParameterError(f"--space {args.space} needs the sections' musicnn embeddings: give a store, not a table")
    store = Store(args.source, create=False)
    analysis = store.last_config()
    try:
        if analysis is None:
            raise ParameterError("the store records no analysis settings")
        embeddings = section_embeddings(store, table, analysis=analysis, config=EmbedConfig(), compute=args.embed)
    except EngineError as exc:
        if args.space != "auto":
            raise
        return "classical", None, f"classical features (the invariant space needs musicnn embeddings: {exc})"
    space = "invariant" if args.space == "auto" else args.space
    what = {
        "fused": f"classical features and musicnn embeddings fused ({args.fused_weight:g} classical)",
        "musicnn": "musicnn embeddings",
        "invariant": "classical features and musicnn embeddings fused, projected to shrink what re-encoding and small shifts change",
    }
    return space, embeddings, what[space] + (" (auto: the store holds every track's embeddings)" if args.space == "auto" else ", as asked")


def _selection(args, table):
    """Rows to export: (frame of meta (and cluster), scaled values, original values, names, digest)."""
    what = args.what.strip()
    kind, _, arg = what.partition(":")
    kind = kind.lower()
    if kind in ("features", "all"):
        return table.meta.copy(), table.values, table.values, table.names, table.config_digest
    if kind == "track":
        from ..analysis.similar import find_track

        mask = find_track(table.meta, arg)
        return table.meta[mask].reset_index(drop=True), table.values[mask], table.values[mask], table.names, table.config_digest
    if kind == "similar":
        from ..analysis.scale import prepare
        from ..analysis.similar import nearest_sections

        track, sep, section = arg.rpartition("@")
        if not sep or not track:
            raise ParameterError(f"--what similar wants TRACK@SECTION, got {arg!r}")
        try:
            sec = int(section)
        except ValueError:
            raise ParameterError(f"--what similar: section must be a number, got {section!r}") from None
        config = cluster_config_from_args(args).replace(dedupe=False, metric=args.metric or "cosine")
        prep = prepare(table, config=config)  # the exported vectors: the scaled classical features, row for row
        space, embeddings, _ = _similar_space(args, table)  # the neighbours: in the same space as `similar`
        config = config.replace(space=space, fused_weight=args.fused_weight)
        nb = nearest_sections(table, track=track, section=sec, k=args.neighbours, other_tracks=args.other_tracks, config=config, embeddings=embeddings)
        return nb.meta, prep.X[nb.rows], prep.raw[nb.rows], prep.names, nb.config_digest
    if kind in ("cluster", "assignments", "clusters"):
        from ..analysis.cluster import cluster
        from ..store.export import cluster_sections

        result = cluster(table, config=cluster_config_from_args(args))
        if kind != "cluster":
            return result.assignments(), result.data.X, result.data.raw, result.data.names, result.config_digest
        try:
            c = int(arg)
        except ValueError:
            raise ParameterError(f"--what cluster:N wants a cluster number, got {arg!r}") from None
        members = cluster_sections(result, c)
        rows = members["row"].to_numpy()
        return members, result.data.X[rows], result.data.raw[rows], result.data.names, result.config_digest
    raise ParameterError(f"--what must be cluster:N, assignments, features, track:NAME or similar:TRACK@SECTION, got {what!r}")


def _cmd_export(args: argparse.Namespace) -> int:
    from ..store.export import write_playlist, write_projector, write_table

    fmt = args.format or args.out.suffix.lstrip(".").lower()
    fmt = {"m3u8": "m3u", "pq": "parquet", "tsv": "projector", "nml": "traktor"}.get(fmt, fmt)
    if fmt not in _FORMATS:
        raise ParameterError(f"cannot tell the format from {args.out.name!r}; give --format {'|'.join(_FORMATS)}")
    if fmt in ("rekordbox", "traktor"):
        return _export_dj(args, fmt)
    table = _load(args)
    frame, scaled, raw, names, digest = _selection(args, table)
    if fmt in ("xspf", "m3u"):
        out = write_playlist(frame, args.out, format=fmt, config_digest=digest, table_digest=table.config_digest, title=f"CrateMap {args.what}", base_dir=args.base_dir)
        print(f"wrote {out} ({len(frame)} sections, config {digest})")
    elif fmt == "projector":
        vec, meta = write_projector(scaled, args.out, meta=frame, config_digest=digest, table_digest=table.config_digest)
        print(f"wrote {vec} and {meta} ({len(frame)} vectors, config {digest})")
    else:
        full = pd.concat([frame.reset_index(drop=True), pd.DataFrame(raw, columns=list(names))], axis=1)
        full = full.loc[:, ~full.columns.duplicated()]
        out = write_table(full, args.out, format=fmt, config_digest=digest, table_digest=table.config_digest)
        print(f"wrote {out} ({len(full)} rows, config {digest})")
    return 0


def _export_dj(args: argparse.Namespace, fmt: str) -> int:
    """A rekordbox XML or Traktor NML of the store: every track with its beat grid and cues, one crate per cluster."""
    from ..mixing.crates import dj_crates
    from ..store.core import Store
    from ..store.rekordbox import FOLDER, write_rekordbox
    from ..store.traktor import write_traktor

    if "://" not in args.source and not Path(args.source).is_dir():
        raise ParameterError(f"--format {fmt} exports a store; no store folder at {args.source}")
    store = Store(args.source, create=False)
    tracks, crates = dj_crates(store, cluster_config=cluster_config_from_args(args))
    write = write_rekordbox if fmt == "rekordbox" else write_traktor
    data = write(tracks, crates, merge_into=args.merge)
    args.out.write_bytes(data)
    cues = sum(len(t.cues) for t in tracks)
    print(f"wrote {args.out} ({len(tracks)} tracks, {cues} cues, {len(crates)} crates in the {FOLDER} folder"
          + (f", merged into {args.merge.name}" if args.merge else "") + ")")
    return 0
