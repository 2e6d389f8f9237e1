"""Does "similar" survive re-encoding and remakes? Every space on the demo library and transformed copies (not a test).

    .venv/bin/python bench/similarity.py [--seconds 90] [--cache /tmp/cratemap-similarity-bench]

The data
    Every demo track, whole (``original``), and seven transformed copies of
    the ``--seconds`` in its middle (the clip starts on a 15-s section
    boundary of the original, so sections line up): ``mp3_64k`` (LAME at
    64 kbit/s through pedalboard), ``pitch+1`` / ``pitch-1`` (Rubber Band,
    tempo kept), ``tempo+4`` / ``tempo-4`` (Rubber Band, 4 % faster/slower,
    pitch kept), ``eq_tilt`` (+4 dB low shelf at 250 Hz, -6 dB high shelf
    at 3 kHz) and ``gain-9`` (-9 dB). They are made once, deterministically
    (no random step), and cached under ``--cache`` with the engine store that
    holds their sections and musicnn embeddings.

Relevance (what a right answer is)
    A section is a *version* of a query section when it comes from another
    file made from the same source track and the two share at least half a
    section (7.5 s) of the source's timeline (a tempo copy's times are mapped
    back by its rate). For these metrics the other version of a remade piece
    (the two real pairs below) is left out of the ranking: neither right nor
    wrong.

    * **P@1** -- the nearest section from another file is a version; over
      every section (original or copy) that has at least one version.
    * **mAP** -- mean average precision of the whole ranking of sections
      from other files, over the same queries.
    * **lossy P@1** -- P@1 over the ``mp3_64k`` sections alone; one column
      per transformation likewise.
    * **remake P@1** -- the two real pairs of versions of one piece
      (``sixtyfour_`` / ``sixtyfour_revisited``, ``track3`` /
      ``track3_enhanced``): among the 11 originals only, the nearest section
      from another file to each section of those four files is a section of
      the other version (any time: the remakes are re-arranged).

Spaces: the classical features (the app's default space, z-scored; cosine as
the Similar page's default distance, and euclidean); the musicnn section
embeddings (mean of their pieces; raw and z-scored, cosine); the fused space
of :mod:`engine.analysis.spaces` at several classical weights; and
``invariant``: the fused space whitened by the within-group scatter of a
section and its transformed copies (a projection learned from augmentations),
fitted in 3 folds of tracks (the two versions of a piece always in the same
fold) and evaluated only on queries from the fold it was not fitted on.
"""

from __future__ import annotations

import argparse
import math
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.metrics import pairwise_distances

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from engine.analysis.scale import prepare  # noqa: E402
from engine.analysis.spaces import SHRINK, fit_projection, fuse_blocks, load_projection  # noqa: E402
from engine.audio.decode import decode_file  # noqa: E402
from engine.config import AnalysisConfig, ClusterConfig, EmbedConfig  # noqa: E402
from engine.errors import ParameterError  # noqa: E402
from engine.neural.tables import embedding_table  # noqa: E402
from engine.run.embedding import embed_library  # noqa: E402
from engine.run.inputs import collect_inputs  # noqa: E402
from engine.run.pipeline import DEMO_DIR, analyze  # noqa: E402
from engine.store.core import Store  # noqa: E402

SR = 44_100
SECTION_S = 15.0
MIN_OVERLAP_S = 7.5
#: name -> (what it does, source seconds per copy second)
TRANSFORMS = {
    "mp3_64k": ("LAME MP3 at 64 kbit/s", 1.0),
    "pitch+1": ("Rubber Band +1 semitone", 1.0),
    "pitch-1": ("Rubber Band -1 semitone", 1.0),
    "tempo+4": ("Rubber Band 4 % faster", 1.04),
    "tempo-4": ("Rubber Band 4 % slower", 0.96),
    "eq_tilt": ("+4 dB low shelf 250 Hz, -6 dB high shelf 3 kHz", 1.0),
    "gain-9": ("-9 dB", 1.0),
}
#: The two real pairs of versions of one piece in the demo library.
REMAKES = {"sixtyfour_.ogg": "sixtyfour", "sixtyfour_revisited.ogg": "sixtyfour", "track3.opus": "track3", "track3_enhanced.opus": "track3"}
FUSED_WEIGHTS = (0.3, 0.4, 0.5, 0.6, 0.7)
FOLDS = 3


@dataclass(frozen=True)
class Item:
    """One analysed file: where it came from and how its time maps to the source's."""

    path: Path
    source: str  # the demo file it was made from
    kind: str  # "original" or a key of TRANSFORMS
    offset_s: float  # where the copy starts in the source
    rate: float  # source seconds per copy second


def _transform(y: np.ndarray, kind: str) -> np.ndarray:
    import pedalboard

    if kind.startswith("pitch"):
        return pedalboard.time_stretch(y[None, :], SR, 1.0, pitch_shift_in_semitones=float(kind[5:]))[0]
    if kind.startswith("tempo"):
        return pedalboard.time_stretch(y[None, :], SR, TRANSFORMS[kind][1])[0]
    if kind == "eq_tilt":
        board = pedalboard.Pedalboard([pedalboard.LowShelfFilter(250.0, 4.0), pedalboard.HighShelfFilter(3000.0, -6.0)])
        return board(y[None, :], SR)[0]
    if kind == "gain-9":
        return y * np.float32(10 ** (-9 / 20))
    raise ValueError(kind)


def make_copies(cache: Path, seconds: float) -> list[Item]:
    """The originals and their transformed copies (made once, then read from ``cache``)."""
    import soundfile as sf
    from pedalboard.io import AudioFile

    folder = cache / "audio"
    folder.mkdir(parents=True, exist_ok=True)
    items = []
    for inp in collect_inputs([DEMO_DIR])[0]:
        items.append(Item(Path(inp.path), inp.name, "original", 0.0, 1.0))
        y = None
        for kind, (_, rate) in TRANSFORMS.items():
            path = folder / f"{Path(inp.name).stem}__{kind}.{'mp3' if kind.startswith('mp3') else 'flac'}"
            if y is None:
                y = decode_file(inp.path, sample_rate=SR).y
                offset = SECTION_S * math.floor(max(0.0, (len(y) / SR - seconds) / 2) / SECTION_S)
                clip = np.ascontiguousarray(y[int(offset * SR) : int((offset + seconds) * SR)], dtype=np.float32)
            if not path.exists():
                tmp = path.with_name("tmp-" + path.name)
                if kind.startswith("mp3"):
                    with AudioFile(str(tmp), "w", SR, 1, quality="64k") as f:
                        f.write(clip[None, :])
                else:
                    sf.write(tmp, np.clip(_transform(clip, kind), -1.0, 1.0), SR, subtype="PCM_16", format="FLAC")
                tmp.rename(path)
            items.append(Item(path, inp.name, kind, offset, rate))
        print(f"  copies of {inp.name} ready", flush=True)
    return items


def analyse(items: list[Item], cache: Path) -> tuple[pd.DataFrame, np.ndarray, np.ndarray, tuple[str, ...]]:
    """Sections of every file: their info, classical features (z-scored), raw musicnn embeddings, feature names."""
    store = Store(cache / "store")
    analysis = AnalysisConfig()
    batch = analyze([str(i.path) for i in items], store=store, config=analysis, embedding=EmbedConfig(), jobs=1)
    if batch.errors:
        raise SystemExit(f"could not analyse: {batch.errors}")
    sections = batch.sections
    pieces = embed_library(store, [t.track_id for t in batch.tracks], analysis=analysis, config=EmbedConfig())
    emb = embedding_table(pieces, sections, level="sections").table
    by_name = {i.path.name: i for i in items}
    prepared = prepare(sections, config=ClusterConfig(dedupe=False))
    key = pd.MultiIndex.from_arrays([emb.meta["track_id"].astype(str), emb.meta["section"].astype(int)])
    pos = pd.Series(np.arange(len(emb.meta)), index=key)
    want = pd.MultiIndex.from_arrays([prepared.meta["track_id"].astype(str), prepared.meta["section"].astype(int)])
    E = emb.values[pos.reindex(want).to_numpy().astype(int)]
    meta = prepared.meta
    it = [by_name[str(n)] for n in meta["name"]]
    info = pd.DataFrame(
        {
            "file": [i.path.name for i in it],
            "source": [i.source for i in it],
            "kind": [i.kind for i in it],
            "t0": [i.offset_s + i.rate * s for i, s in zip(it, meta["start_s"])],
            "t1": [i.offset_s + i.rate * e for i, e in zip(it, meta["end_s"])],
        }
    )
    info["piece"] = [REMAKES.get(s, s) for s in info["source"]]
    return info, prepared.X, E, prepared.names


def relevance(info: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """``rel[i, j]``: j is a version of i (see the module's docstring); ``skip[i, j]``: j is not ranked for i."""
    src = info["source"].to_numpy()
    f = info["file"].to_numpy()
    t0, t1 = info["t0"].to_numpy(), info["t1"].to_numpy()
    overlap = np.minimum(t1[:, None], t1[None, :]) - np.maximum(t0[:, None], t0[None, :])
    same_file = f[:, None] == f[None, :]
    rel = (src[:, None] == src[None, :]) & (overlap >= MIN_OVERLAP_S) & ~same_file
    piece = info["piece"].to_numpy()
    remake = (piece[:, None] == piece[None, :]) & (src[:, None] != src[None, :])
    return rel, same_file | remake


def scores(D: np.ndarray, info: pd.DataFrame, queries: np.ndarray) -> dict[str, float]:
    """P@1, mAP, per-transformation P@1 over ``queries`` (a bool mask), and remake P@1, from distances ``D``."""
    rel, skip = relevance(info)
    kinds = info["kind"].to_numpy()
    hit1, ap, of_kind = [], [], []
    for i in np.flatnonzero(queries & rel.any(axis=1)):
        cand = np.flatnonzero(~skip[i])
        order = cand[np.lexsort((cand, np.round(D[i, cand], 12)))]
        r = rel[i, order]
        hit1.append(bool(r[0]))
        ranks = np.flatnonzero(r) + 1
        ap.append(float(np.mean(np.arange(1, len(ranks) + 1) / ranks)))
        of_kind.append(kinds[i])
    hit1, of_kind = np.array(hit1), np.array(of_kind)
    out = {"P@1": hit1.mean(), "mAP": float(np.mean(ap)), "n": len(hit1)}
    for kind in ("original", *TRANSFORMS):
        out[kind] = hit1[of_kind == kind].mean() if (of_kind == kind).any() else float("nan")
    out["remake"], out["n_remake"] = remake_p1(D, info, queries)
    return out


def remake_p1(D: np.ndarray, info: pd.DataFrame, queries: np.ndarray) -> tuple[float, int]:
    """Among originals only: is the nearest section from another file one of the other version of the piece?"""
    orig = (info["kind"] == "original").to_numpy()
    f, src, piece = info["file"].to_numpy(), info["source"].to_numpy(), info["piece"].to_numpy()
    hits = []
    for i in np.flatnonzero(queries & orig & info["source"].isin(list(REMAKES)).to_numpy()):
        cand = np.flatnonzero(orig & (f != f[i]))
        j = cand[np.lexsort((cand, np.round(D[i, cand], 12)))][0]
        hits.append(piece[j] == piece[i] and src[j] != src[i])
    return float(np.mean(hits)), len(hits)


def groups_and_rows(info: pd.DataFrame, fit: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Group labels (a source section: the 15-s step of the source timeline a row's centre falls in, shared
    by every copy of it) and the rows of ``fit`` that learn: only those inside the copied clips, so each
    group holds one original section and its seven copies."""
    centre = (info["t0"] + info["t1"]).to_numpy() / 2
    group = (info["source"].astype(str) + ":" + np.floor(centre / SECTION_S).astype(int).astype(str)).to_numpy()
    copies = info[info["kind"] != "original"]
    lo, hi = copies.groupby("source")["t0"].min(), copies.groupby("source")["t1"].max()
    in_clip = (centre >= info["source"].map(lo).to_numpy()) & (centre <= info["source"].map(hi).to_numpy())
    return group, fit & in_clip


def invariant_distances(F: np.ndarray, info: pd.DataFrame, fit: np.ndarray) -> np.ndarray:
    """Cosine distances of ``F @ W``, ``W`` fitted (engine.analysis.spaces.fit_projection) on the ``fit`` rows' groups."""
    group, use = groups_and_rows(info, fit)
    W = fit_projection(F[use], group[use])
    return pairwise_distances(F @ W, metric="cosine")


def save_projection(path: Path, F: np.ndarray, info: pd.DataFrame, names: tuple[str, ...]) -> None:
    """Fit the projection on every track's copies and write the file the engine's invariant space reads."""
    group, use = groups_and_rows(info, np.ones(len(info), bool))
    W = fit_projection(F[use], group[use])
    note = (f"fitted by bench/similarity.py on {info['source'].nunique()} demo tracks: {int(use.sum())} sections in "
            f"{len(set(group[use]))} groups of a section and its copies ({', '.join(TRANSFORMS)}); shrink {SHRINK}")
    path.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(path, W=W.astype(np.float32), classical=np.array(names), embedding=np.array("musicnn"),
                        fused_weight=np.array(0.5), shrink=np.array(SHRINK), note=np.array(note))  # fmt: skip
    print(f"wrote {path}: {note}")


def folds(info: pd.DataFrame) -> list[np.ndarray]:
    """Track folds (bool masks over rows): pieces dealt in sorted order, the two versions of a piece together."""
    pieces = sorted(info["piece"].unique())
    fold_of = {p: k % FOLDS for k, p in enumerate(pieces)}
    f = info["piece"].map(fold_of).to_numpy()
    return [f == k for k in range(FOLDS)]


def invariant_scores(F: np.ndarray, info: pd.DataFrame) -> tuple[dict[str, float], list[list[str]]]:
    """Scores of the invariant space, each fold's queries answered by a projection fitted on the other folds."""
    D = np.zeros((len(info), len(info)))
    parts = []
    for test in folds(info):
        Dk = invariant_distances(F, info, ~test)
        D[test] = Dk[test]
        parts.append(sorted(info.loc[test, "source"].unique()))
    return scores(D, info, np.ones(len(info), bool)), parts


def spaces(C: np.ndarray, E: np.ndarray) -> dict[str, np.ndarray]:
    """Distances of every non-learned space."""
    sd = E.std(axis=0)
    Ez = (E - E.mean(axis=0)) / np.where(sd > 0, sd, 1.0)
    out = {
        "classical z-score, cosine (former default)": pairwise_distances(C, metric="cosine"),
        "classical z-score, euclidean": pairwise_distances(C, metric="euclidean"),
        "musicnn raw, cosine": pairwise_distances(E, metric="cosine"),
        "musicnn z-score, cosine (engine 'musicnn')": pairwise_distances(Ez, metric="cosine"),
    }
    for w in FUSED_WEIGHTS:
        out[f"fused w={w:.1f} (engine 'fused')"] = pairwise_distances(fuse_blocks([C, E], [w, 1 - w]), metric="cosine")
    return out


def print_table(rows: dict[str, dict[str, float]]) -> None:
    cols = ["P@1", "mAP", "mp3_64k", "remake", "original", *[k for k in TRANSFORMS if k != "mp3_64k"]]
    heads = ["P@1", "mAP", "lossy", "remake", "orig", *[k for k in TRANSFORMS if k != "mp3_64k"]]
    print(f"| {'space':46s} | " + " | ".join(f"{h:>7s}" for h in heads) + " |")
    print("|" + "-" * 48 + "|" + "|".join(["-" * 9] * len(heads)) + "|")
    for name, s in rows.items():
        print(f"| {name:46s} | " + " | ".join(f"{s[c]:7.3f}" for c in cols) + " |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=float, default=90.0, help="seconds of each track copied (from its middle)")
    parser.add_argument("--cache", type=Path, default=Path("/tmp/cratemap-similarity-bench"), help="copies and store")
    parser.add_argument("--save", type=Path, default=None, help="fit the invariant projection on every track and write it here")
    args = parser.parse_args()
    t0 = time.perf_counter()
    items = make_copies(args.cache, args.seconds)
    t1 = time.perf_counter()
    info, C, E, names = analyse(items, args.cache)
    t2 = time.perf_counter()
    F = fuse_blocks([C, E], [0.5, 0.5])
    if args.save:
        save_projection(args.save, F, info, names)
        load_projection.cache_clear()
    rows = {name: scores(D, info, np.ones(len(info), bool)) for name, D in spaces(C, E).items()}
    rows["invariant, 3-fold by track (out of fold; default)"], parts = invariant_scores(F, info)
    try:
        shipped = load_projection()
    except ParameterError:
        shipped = None
    if shipped is not None and shipped.classical == tuple(names):  # the engine's file, fitted on every track: its queries were fitted on
        rows["invariant, shipped file (in-sample)"] = scores(pairwise_distances(F @ shipped.W, metric="cosine"), info, np.ones(len(info), bool))
    t3 = time.perf_counter()
    n_files = info["file"].nunique()
    some = next(iter(rows.values()))
    print(f"\n{n_files} files ({len(items) // (len(TRANSFORMS) + 1)} demo tracks + {len(TRANSFORMS)} copies of {args.seconds:g} s of each), "
          f"{len(info)} sections of {SECTION_S:g} s; P@1/mAP over {some['n']} queries, remake P@1 over {some['n_remake']}")
    print("lossy = mp3_64k P@1; orig = P@1 of the originals' sections; the other columns: P@1 of each copy's sections\n")
    print_table(rows)
    print(f"\ninvariant folds (fitted on the other two, queried on this one): {parts}")
    print(f"\ntimings: copies {t1 - t0:.1f} s, analysis + embeddings {t2 - t1:.1f} s, scoring {t3 - t2:.1f} s")


if __name__ == "__main__":
    main()
