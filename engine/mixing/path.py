"""Mix paths: a chain of compatible transitions from one section to another.

:func:`mix_path` finds a chain of exactly ``steps`` compatible transitions on a
graph that keeps each section's ``graph_neighbours`` best-scoring successors
(scores from :func:`~engine.mixing.suggestions.pair_components`), edge cost
``1.05 - score``. The graph is built in blocks of queries whose size keeps
memory bounded; at or above :data:`~engine.config.LARGE_ROWS` sections
(50,000) each section's successors are chosen among its :data:`MIX_CANDIDATES`
nearest sections by timbre, from an approximate index
(:func:`engine.analysis.similar.candidate_rows`), instead of among every
section: a graph of all pairs is quadratic in time. ``MixPath.note`` says so.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..analysis.scale import unit_rows
from ..config import LARGE_ROWS, MixConfig, is_large
from ..errors import ParameterError
from ..records import MixPath, MixTable
from ..records.mixing import DESCRIPTOR_META_COLUMNS as _META
from .descriptors import _check_row
from .suggestions import _components, _reasons, _row_codes, _timbre_vectors, _with_phrases, pair_components

__all__ = ["mix_path", "MIX_CANDIDATES"]

#: Values per (query x section) array while the mix graph is built: bounds its memory
#: (about 15 such arrays live at once: 2,000,000 values is ~250 MB) whatever the library size.
_GRAPH_BLOCK_VALUES = 2_000_000
#: At or above the threshold, candidate successors per section from the timbre index (at least).
MIX_CANDIDATES = 200
#: Seed of that index (MixConfig has no random step of its own; CrateMap's usual seed).
_INDEX_SEED = 42

_Edges = tuple[np.ndarray, np.ndarray, np.ndarray]  # src, dst (int64), cost (float64)


def _edge_scores(parts: dict[str, np.ndarray], allowed: np.ndarray, same_track: np.ndarray, config: MixConfig) -> np.ndarray:
    """Pair scores where an edge is allowed (not to itself, other tracks, compatible, as ``config`` says), else -inf."""
    if config.other_tracks:
        allowed = allowed & ~same_track
    if config.require_compatible:
        allowed = allowed & parts["compatible"]
    return np.where(allowed, parts["score"], -np.inf)


def _top_edges(q: np.ndarray, score: np.ndarray, kk: int, cand: np.ndarray | None = None) -> _Edges:
    """Each query's ``kk`` best-scoring finite edges; ``score`` columns are rows, or rows ``cand``."""
    if kk <= 0:
        return np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0, np.float64)
    top = np.argpartition(-score, kk - 1, axis=1)[:, :kk]
    top_score = np.take_along_axis(score, top, axis=1).ravel()
    good = np.isfinite(top_score)
    dst = top if cand is None else np.take_along_axis(cand, top, axis=1)
    return np.repeat(q, kk)[good], dst.ravel()[good], 1.05 - top_score[good]


def _joined(edges: list[_Edges]) -> _Edges:
    if not edges:
        return np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0, np.float64)
    src, dst, cost = zip(*edges)
    return np.concatenate(src).astype(np.int64), np.concatenate(dst).astype(np.int64), np.concatenate(cost).astype(np.float64)


def _graph(table: MixTable, X: np.ndarray, config: MixConfig, block: int = 256, large_rows: int = LARGE_ROWS) -> tuple[np.ndarray, np.ndarray, np.ndarray, str]:
    """Edges (src, dst, cost): each section's ``graph_neighbours`` best-scoring allowed successors, and a note."""
    desc = table.descriptors
    n = len(desc)
    if is_large(n, large_rows):
        return _candidate_graph(table, X, config, large_rows)
    block = max(1, min(block, _GRAPH_BLOCK_VALUES // max(n, 1)))
    codes = _row_codes(desc)
    tid = pd.factorize(desc["track_id"])[0]
    kk = min(config.graph_neighbours, n - 1)
    edges = []
    for lo in range(0, n, block):
        q = np.arange(lo, min(lo + block, n))
        parts = _components(codes, X, q, None, config)
        allowed = np.ones((len(q), n), bool)
        allowed[np.arange(len(q)), q] = False
        edges.append(_top_edges(q, _edge_scores(parts, allowed, tid[None, :] == tid[q, None], config), kk))
    return (*_joined(edges), "")


def _candidate_graph(table: MixTable, X: np.ndarray, config: MixConfig, large_rows: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, str]:
    """:func:`_graph` over each section's nearest sections by timbre only (an approximate index), for large tables."""
    from ..analysis.similar import candidate_rows

    desc = table.descriptors
    n = len(desc)
    m = min(n - 1, max(MIX_CANDIDATES, 10 * config.graph_neighbours))
    cand_all, index = candidate_rows(X, k=m, metric="cosine", seed=_INDEX_SEED)
    codes = _row_codes(desc)
    unit = unit_rows(X)
    tid = pd.factorize(desc["track_id"])[0]  # integer codes: compared m times per section
    kk = min(config.graph_neighbours, m)
    block = max(1, _GRAPH_BLOCK_VALUES // (m * max(1, X.shape[1])))
    edges = []
    for lo in range(0, n, block):
        q = np.arange(lo, min(lo + block, n))
        cand = cand_all[q]
        missing = cand < 0
        cand = np.where(missing, q[:, None], cand)  # padding points at the row itself, then is masked out
        parts = _components(codes, X, q, cand, config, unit=unit)
        allowed = ~missing & (cand != q[:, None])
        edges.append(_top_edges(q, _edge_scores(parts, allowed, tid[cand] == tid[q, None], config), kk, cand))
    note = (
        f"each section's {kk} best successors were chosen among its {m} nearest sections by timbre, "
        f"not among all {n:,}, because {n:,} sections >= {large_rows:,}; the neighbours came from {index}"
    )
    return (*_joined(edges), note)


def _walk(n: int, src: np.ndarray, dst: np.ndarray, cost: np.ndarray, a: int, b: int, steps: int, banned: np.ndarray) -> tuple[list[int], float] | None:
    """Cheapest walk of exactly ``steps`` edges from a to b avoiding ``banned`` nodes in between."""
    best = np.full(n, np.inf)
    best[a] = 0.0
    preds = []
    for s in range(steps):
        cand = best[src] + cost
        ok = np.isfinite(cand) & ((s == steps - 1) | ~banned[dst])
        if s == steps - 1:
            ok &= dst == b
        else:
            ok &= dst != b
        new = np.full(n, np.inf)
        pred = np.full(n, -1, dtype=np.int64)
        if ok.any():
            cs, cd, cc = src[ok], dst[ok], cand[ok]
            order = np.lexsort((cs, cc, cd))
            cd_sorted = cd[order]
            first = np.ones(len(order), bool)
            first[1:] = cd_sorted[1:] != cd_sorted[:-1]
            sel = order[first]
            new[cd[sel]] = cc[sel]
            pred[cd[sel]] = cs[sel]
        preds.append(pred)
        best = new
    if not np.isfinite(best[b]):
        return None
    path = [b]
    for pred in reversed(preds):
        path.append(int(pred[path[-1]]))
    return path[::-1], float(best[b])


def _simple_walk(n: int, src, dst, cost, a: int, b: int, steps: int) -> tuple[list[int], float] | None:
    """:func:`_walk`, retried with any section it repeats banned from the middle (at most 20 tries)."""
    banned = np.zeros(n, bool)
    banned[[a, b]] = True
    for _ in range(20):
        found = _walk(n, src, dst, cost, a, b, steps, banned)
        if found is None:
            return None
        path = found[0]
        repeats = [node for i, node in enumerate(path) if node in path[:i]]
        if not repeats:
            return found
        banned[repeats[0]] = True
    return None


def mix_path(
    table: MixTable,
    *,
    start: int,
    end: int,
    steps: int = 5,
    config: MixConfig = MixConfig(),
    timbre: np.ndarray | None = None,
    large_rows: int = LARGE_ROWS,
) -> MixPath:
    """A chain of ``steps`` transitions from section ``start`` to section ``end``.

    The cheapest walk of exactly ``steps`` edges on the neighbour graph (see
    the module docstring), found by dynamic programming over the step count.
    A walk that visits a section twice is retried with that section banned
    from the middle of the chain (a heuristic: cheapest *simple* paths of a
    fixed length are NP-hard in general).

    Parameters
    ----------
    table : MixTable
    start, end : int
        Rows of the first and last section.
    steps : int
        Transitions (the chain holds ``steps + 1`` sections), 1..50.
    config : MixConfig
        Weights, tolerance, ``graph_neighbours``, ``require_compatible``, ``other_tracks``.
    timbre : np.ndarray [shape=(n_sections, dim)], optional
        Timbre vectors; default the z-scored section features.
    large_rows : int
        At or above this many sections each section's successors are
        chosen among its nearest sections by timbre (an approximate index)
        instead of among all sections; 0 = never. Default :data:`LARGE_ROWS`.

    Returns
    -------
    MixPath
        ``note`` says when the graph was built from the index.

    Raises
    ------
    ParameterError
        For rows out of range, ``steps`` out of 1..50, or when no chain of
        that many compatible steps exists (the message says which lengths do).
    """
    start, end = _check_row(table, start), _check_row(table, end)
    if not 1 <= steps <= 50:
        raise ParameterError(f"steps must be in 1..50, got {steps}")
    if start == end:
        raise ParameterError("a mix path needs two different sections")
    n = len(table)
    X = _timbre_vectors(table, timbre)
    src, dst, cost, note = _graph(table, X, config, large_rows=large_rows)
    found = _simple_walk(n, src, dst, cost, start, end, steps)
    if found is None:
        feasible = [s for s in range(1, 13) if _simple_walk(n, src, dst, cost, start, end, s) is not None]
        hint = f"chains exist with {feasible} steps" if feasible else "no chain of up to 12 steps exists"
        raise ParameterError(
            f"no chain of exactly {steps} {'compatible ' if config.require_compatible else ''}steps without repeats; {hint}"
            " (try another step count, a wider tempo tolerance or more graph neighbours)"
        )
    path, total = found
    rows = np.asarray(path, dtype=np.int64)
    digest = f"{table.config_digest}-{config.digest()}"
    return MixPath(rows=rows, frame=_with_phrases(_path_frame(table.descriptors, X, rows, config, digest), table, rows), cost=float(total), config_digest=digest, note=note)


def _path_frame(desc: pd.DataFrame, X: np.ndarray, rows: np.ndarray, config: MixConfig, digest: str) -> pd.DataFrame:
    """The sections of a chain in order, with the score and reason of the step into each (none into the first)."""
    frame = desc.iloc[rows][[*_META, "bpm", "camelot", "key", "energy_level", "first_beat_s"]].reset_index(drop=True)
    parts = pair_components(desc, X, rows[:-1], config=config)
    steps = np.arange(len(rows) - 1)
    frame["score"] = [np.nan, *(float(s) for s in parts["score"][steps, rows[1:]])]
    frame["reason"] = ["", *_reasons(desc, parts, steps, rows[:-1], rows[1:])]
    frame["row"] = rows
    frame.attrs["config_digest"] = digest
    return frame
