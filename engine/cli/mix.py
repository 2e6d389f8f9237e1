"""The DJ-mixing subcommands of ``python -m engine``: mix, transition, path, describe.

``engine/cli/main.py`` calls :func:`register`. Each handler returns an exit code
and raises :class:`~engine.errors.EngineError` for the CLI to print as one
line. Descriptors (tempo, key, energy) are computed from the stored frames
on first use and cached in the store.

Examples::

    python -m engine mix STORE --track tt1 --section 1 --k 10 [--json]
    python -m engine transition STORE --from tt1:1 --to tt2:2 --bars 8 -o preview.wav
    python -m engine path STORE --from tt1:0 --to tt4:3 --steps 5 [-o path.xspf]
    python -m engine describe STORE [-o descriptors.csv]
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from ..config import MixConfig
from ..describe.key import CLEAR_KEY
from ..describe.phrases import phrase_text
from ..errors import ParameterError

__all__ = ["register", "mix_config_from_args", "parse_section_ref"]


def _add_store(p: argparse.ArgumentParser) -> None:
    p.add_argument("store", type=Path, metavar="STORE", help="a store folder written by `analyze`")


def _add_mix_options(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("mixing")
    g.add_argument("--tempo-tolerance", type=float, default=None, help="largest relative BPM difference (default 0.06)")
    g.add_argument("--bpm-range", default=None, metavar="MIN-MAX", help="plausible tempo range (default 85-180)")
    g.add_argument("--key-profile", choices=("krumhansl", "temperley", "edma"), default=None, help="key profile (default krumhansl)")
    g.add_argument("--weights", default=None, metavar="T,B,K,E", help="weights of timbre, tempo, key, energy (default 0.4,0.25,0.2,0.15)")
    g.add_argument("--energy", choices=("any", "up", "down", "same"), default=None, help="preferred energy step (default any)")
    g.add_argument("--same-track", action="store_true", help="also suggest sections of the query's own track")


def mix_config_from_args(args: argparse.Namespace) -> MixConfig:
    """A :class:`MixConfig` from the command-line options.

    Raises
    ------
    ParameterError
        If a value is malformed or invalid.
    """
    changes: dict = {}
    if args.tempo_tolerance is not None:
        changes["tempo_tolerance"] = args.tempo_tolerance
    if args.bpm_range:
        lo, sep, hi = args.bpm_range.partition("-")
        try:
            changes["bpm_min"], changes["bpm_max"] = float(lo), float(hi)
        except ValueError:
            raise ParameterError(f"--bpm-range wants MIN-MAX, e.g. 85-180, got {args.bpm_range!r}") from None
    if args.key_profile:
        changes["key_profile"] = args.key_profile
    if args.weights:
        try:
            w = [float(x) for x in args.weights.split(",")]
        except ValueError:
            raise ParameterError(f"--weights wants four numbers T,B,K,E, got {args.weights!r}") from None
        if len(w) != 4:
            raise ParameterError(f"--weights wants four numbers T,B,K,E, got {args.weights!r}")
        changes.update(weight_timbre=w[0], weight_tempo=w[1], weight_key=w[2], weight_energy=w[3])
    if args.energy:
        changes["energy_direction"] = args.energy
    if getattr(args, "same_track", False):
        changes["other_tracks"] = False
    return MixConfig(**changes)


def parse_section_ref(text: str) -> tuple[str, int]:
    """``"NAME:I"`` -> ``(NAME, I)`` (the last colon splits, so names may hold colons).

    Raises
    ------
    ParameterError
        If there is no ``:I`` part or I is not a number.
    """
    name, sep, index = str(text).rpartition(":")
    if not sep or not name:
        raise ParameterError(f"a section is NAME:INDEX, e.g. tt1.ogg:2; got {text!r}")
    try:
        return name, int(index)
    except ValueError:
        raise ParameterError(f"a section index must be a number, got {index!r} in {text!r}") from None


def _open(args: argparse.Namespace, config: MixConfig):
    from ..mixing.descriptors import describe_store
    from ..store.core import Store

    from ..store.urls import env_storage_options

    if "://" not in str(args.store) and not Path(args.store).is_dir():
        raise ParameterError(f"no store at {args.store}")
    store = Store(args.store, storage_options=env_storage_options(), create=False)
    return store, describe_store(store, config=config)


def _row(table, ref: str) -> int:
    from ..analysis.similar import find_section

    name, index = parse_section_ref(ref)
    return find_section(table.sections.meta, track=name, section=index)


def _with_paths(store, frame):
    paths = {t.track_id: t.path for t in store.tracks()}
    out = frame.copy()
    out["path"] = [paths.get(t, "") for t in out["track_id"]]
    out.attrs.update(frame.attrs)
    return out


def _phrase(d) -> str:
    """`` [drop 0.82]`` for a section (a dict or row) whose phrase label is known, else ``""``."""
    text = phrase_text(d.get("phrase_label"), d.get("phrase_confidence"))
    return f" [{text}]" if text else ""


def _row_info(table, row: int) -> dict:
    """A section's descriptors and its phrase label, as :func:`_describe_line` reads them."""
    meta = table.sections.meta.iloc[row]
    return {**table.descriptors.iloc[row].to_dict(), **{c: meta[c] for c in ("phrase_label", "phrase_confidence") if c in meta}}


def _describe_line(d: dict) -> str:
    note = f", {d['tempo_note']}" if d.get("tempo_note") else ""
    return (
        f"{d['name']} section {int(d['section'])}{_phrase(d)} ({d['start_s']:.1f}-{d['end_s']:.1f} s): "
        f"{d['bpm']:.1f} BPM (confidence {d['bpm_confidence']:.2f}{note}), "
        + (f"{d['key']} = {d['camelot']} (confidence {d['key_confidence']:.3f})" if d.get("key_clear", True)
           else f"no clear key (best guess {d['key']} = {d['camelot']}, confidence {d['key_confidence']:.3f})")
        + f", energy {int(d['energy_level'])}/10"
    )


def _cmd_mix(args: argparse.Namespace) -> int:
    from ..mixing.suggestions import suggest

    config = mix_config_from_args(args)
    _, table = _open(args, config)
    sug = suggest(table, track=args.track, section=args.section, k=args.k, config=config, only_compatible=args.compatible)
    if args.json:
        cols = ["name", "section", "start_s", "end_s", "phrase_label", "phrase_confidence", "bpm", "camelot", "key", "energy_level",
                "score", "s_timbre", "s_tempo", "s_key", "s_energy", "timbre_distance", "tempo_change_pct", "tempo_factor",
                "key_relation", "energy_step", "compatible", "reason"]  # fmt: skip
        print(
            json.dumps(
                {
                    "query": sug.query_info,
                    "config": config.to_dict(),
                    "config_digest": sug.config_digest,
                    "suggestions": json.loads(sug.frame[cols].to_json(orient="records")),
                },
                indent=1,
                default=str,
            )
        )
        return 0
    print(f"query        {_describe_line(sug.query_info)}")
    print(f"config       {sug.config_digest}")
    for i, row in sug.frame.iterrows():
        flag = "ok" if row["compatible"] else "--"
        print(f"{i + 1:>3}  {row['score']:.3f} {flag}  {row['name']} section {int(row['section'])}{_phrase(row)}: {row['reason']}")
    return 0


def _cmd_transition(args: argparse.Namespace) -> int:
    from ..mixing.transition import to_wav_bytes, transition_from_store

    config = mix_config_from_args(args)
    if args.bars is not None:
        config = config.replace(crossfade_bars=args.bars)
    if args.lead_bars is not None or args.tail_bars is not None:
        config = config.replace(
            lead_bars=config.lead_bars if args.lead_bars is None else args.lead_bars,
            tail_bars=config.tail_bars if args.tail_bars is None else args.tail_bars,
        )
    store, table = _open(args, config)
    a, b = _row(table, args.from_), _row(table, args.to)
    tr = transition_from_store(store, table, row_a=a, row_b=b, config=config, stretcher=args.stretcher)
    out = Path(args.output)
    try:
        out.write_bytes(to_wav_bytes(tr.audio, sample_rate=tr.sample_rate))
    except OSError as exc:
        raise ParameterError(f"cannot write {str(out)!r}: {exc.strerror or exc}") from exc
    print(f"from         {_describe_line(_row_info(table, a))}")
    print(f"to           {_describe_line(_row_info(table, b))}")
    factor = {2.0: " at double time", 0.5: " at half time"}.get(tr.tempo_factor, "")
    print(f"stretch      B x{tr.stretch:.4f}{factor} to {tr.bpm:.2f} BPM ({tr.stretcher}), B level {tr.gain_b_db:+.1f} dB")
    print(f"crossfade    {config.crossfade_bars} bars, {tr.crossfade_start_s:.2f}-{tr.crossfade_end_s:.2f} s (equal power)")
    print(f"wrote        {out} ({tr.duration_s:.2f} s, {tr.sample_rate} Hz)")
    return 0


def _cmd_path(args: argparse.Namespace) -> int:
    from ..store.export import write_playlist
    from ..mixing.path import mix_path

    config = mix_config_from_args(args)
    if args.any_step:
        config = config.replace(require_compatible=False)
    if args.graph_neighbours is not None:
        config = config.replace(graph_neighbours=args.graph_neighbours)
    store, table = _open(args, config)
    path = mix_path(table, start=_row(table, args.from_), end=_row(table, args.to), steps=args.steps, config=config)
    if args.output:
        write_playlist(_with_paths(store, path.frame), args.output, format=args.format, title="CrateMap mix path")
    if args.json:
        cols = ["name", "section", "start_s", "end_s", "phrase_label", "phrase_confidence", "bpm", "camelot", "key", "energy_level",
                "score", "reason"]  # fmt: skip
        print(json.dumps({"config_digest": path.config_digest, "cost": path.cost, "sections": json.loads(path.frame[cols].to_json(orient="records"))}, indent=1))
        return 0
    print(f"path         {len(path) - 1} steps, cost {path.cost:.3f}, config {path.config_digest}")
    for i, row in path.frame.iterrows():
        head = f"{i:>3}  {row['name']} section {int(row['section'])}{_phrase(row)} ({row['bpm']:.1f} BPM, {row['camelot']}, energy {int(row['energy_level'])})"
        print(head if i == 0 else f"{head}  <- {row['score']:.3f}: {row['reason']}")
    if args.output:
        print(f"wrote        {args.output}")
    return 0


def _cmd_describe(args: argparse.Namespace) -> int:
    from ..store.export import write_table

    config = mix_config_from_args(args)
    store, table = _open(args, config)
    if args.output:
        write_table(table.to_frame(), args.output, config_digest=table.config_digest)
        print(f"wrote        {args.output} ({len(table)} sections with tempo, key, energy and features)")
        return 0
    if args.json:
        tracks = [
            {"name": table.descriptors.loc[table.descriptors["track_id"] == t.track_id, "name"].iloc[0], "bpm": t.bpm,
             "bpm_confidence": t.bpm_confidence, "tempo_note": t.tempo_note, "key": t.key, "camelot": t.camelot,
             "energy": t.energy, "n_beats": int(len(t.beats_s))}
            for t in table.tracks.values()
        ]  # fmt: skip
        print(json.dumps({"config_digest": table.config_digest, "tracks": tracks}, indent=1))
        return 0
    print(f"config       {table.config_digest}")
    for t in table.tracks.values():
        name = table.descriptors.loc[table.descriptors["track_id"] == t.track_id, "name"].iloc[0]
        note = f" ({t.tempo_note})" if t.tempo_note else ""
        key = f"{t.camelot:>3} {t.key:<10}" if t.key_confidence >= CLEAR_KEY else f"no clear key (best guess {t.camelot} {t.key})"
        print(f"{name[:40]:<40} {t.bpm:6.1f} BPM{note}  {key}  energy {t.energy:4.1f}")
    return 0


def register(sub) -> None:
    """Add the mix, transition, path and describe subcommands to ``sub``."""
    p = sub.add_parser("mix", help="a section's BPM, key and energy, and what mixes well with it")
    _add_store(p)
    p.add_argument("--track", required=True, help="track name, id, or a unique part of a name")
    p.add_argument("--section", type=int, required=True, help="section number (from 0)")
    p.add_argument("--k", type=int, default=10, help="suggestions (default 10)")
    p.add_argument("--compatible", action="store_true", help="only tempo- and key-compatible sections")
    p.add_argument("--json", action="store_true", help="print JSON")
    _add_mix_options(p)
    p.set_defaults(func=_cmd_mix)

    p = sub.add_parser("transition", help="render a beat-matched transition preview (WAV)")
    _add_store(p)
    p.add_argument("--from", dest="from_", required=True, metavar="NAME:I", help="the section mixed out of")
    p.add_argument("--to", required=True, metavar="NAME:J", help="the section mixed into")
    p.add_argument("--bars", type=int, default=None, help="crossfade bars of 4 beats (default 8)")
    p.add_argument("--lead-bars", type=int, default=None, help="bars of A alone before the crossfade (default 4)")
    p.add_argument("--tail-bars", type=int, default=None, help="bars of B alone after it (default 4)")
    p.add_argument("--stretcher", choices=("rubberband", "phase-vocoder"), default="rubberband", help="time stretcher (default rubberband)")
    p.add_argument("-o", "--output", required=True, help="WAV file to write")
    _add_mix_options(p)
    p.set_defaults(func=_cmd_transition)

    p = sub.add_parser("path", help="a chain of compatible sections from one section to another")
    _add_store(p)
    p.add_argument("--from", dest="from_", required=True, metavar="NAME:I")
    p.add_argument("--to", required=True, metavar="NAME:J")
    p.add_argument("--steps", type=int, default=5, help="transitions in the chain (default 5)")
    p.add_argument("--graph-neighbours", type=int, default=None, help="edges kept per section (default 15)")
    p.add_argument("--any-step", action="store_true", help="allow steps that are not tempo- and key-compatible")
    p.add_argument("-o", "--output", default=None, help="write the chain as a playlist (.xspf or .m3u)")
    p.add_argument("--format", choices=("xspf", "m3u"), default=None, help="playlist format (default: from the suffix)")
    p.add_argument("--json", action="store_true", help="print JSON")
    _add_mix_options(p)
    p.set_defaults(func=_cmd_path)

    p = sub.add_parser("describe", help="tempo, key and energy of every track (and section, with -o)")
    _add_store(p)
    p.add_argument("-o", "--output", default=None, help="write every section's descriptors and features (.csv or .parquet)")
    p.add_argument("--json", action="store_true", help="print JSON")
    _add_mix_options(p)
    p.set_defaults(func=_cmd_describe)
