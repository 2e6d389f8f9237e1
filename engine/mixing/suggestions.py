"""Pair scores and "mixes well with": which sections could follow one section.

Compatibility (:func:`pair_components`)
    * tempo: the candidate's BPM, also at half or double time, within
      ``tempo_tolerance`` (default 6 %) of the query's;
    * key: the Camelot rules of :mod:`engine.describe.key` -- same code, +-1
      on the same letter, or the same number across A/B
      (:data:`~engine.describe.key.COMPATIBLE_RELATIONS`); a section with
      *no clear key* (``key_clear`` false: drums, noise, a stretch that fits
      two keys alike) sets no key constraint: the pair's relation is
      ``"unclear"``, it counts as key-compatible and scores 0.85 (as +-1);
    * energy: the step between 1-10 levels, scored against the preferred
      direction.

Score
    The weighted mean of four parts in [0, 1]: timbre ``1 - min(cosine
    distance, 1)`` on z-scored section features (or given embeddings), tempo
    ``1 - |dev| / (2 tol)``, key (same 1, +-1 or relative 0.85, +-2 0.4,
    clash 0, unclear 0.85) and energy. :func:`suggest` ranks every other section by it.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..analysis.scale import unit_rows
from ..config import ClusterConfig, MixConfig
from ..describe.key import CAMELOT_RELATIONS, COMPATIBLE_RELATIONS, RELATION_WORDS, camelot_relation_index, parse_camelot
from ..errors import ParameterError
from ..records import MixTable, Suggestions
from ..records.mixing import DESCRIPTOR_COLUMNS, DESCRIPTOR_META_COLUMNS as _META
from .descriptors import _check_row

__all__ = ["pair_components", "suggest"]

#: Score of each Camelot relation (:data:`~engine.describe.key.CAMELOT_RELATIONS`).
_KEY_SCORES = {"same": 1.0, "+1": 0.85, "-1": 0.85, "relative": 0.85, "+2": 0.4, "-2": 0.4, "clash": 0.0}
_REL_NAMES = np.array(CAMELOT_RELATIONS, dtype=object)
_REL_SCORES = np.array([_KEY_SCORES[r] for r in CAMELOT_RELATIONS], dtype=np.float64)
_REL_OK = np.isin(_REL_NAMES, COMPATIBLE_RELATIONS)
#: Key score of a pair where either section has no clear key: as a compatible neighbour, never as the same key.
_UNCLEAR_KEY_SCORE = 0.85
#: Tempo factors a candidate may be played at: its own tempo, double or half time.
_TEMPO_FACTORS = np.array([1.0, 2.0, 0.5])


def _timbre_vectors(table: MixTable, timbre: np.ndarray | None) -> np.ndarray:
    """Given timbre vectors checked against the table, or its z-scored section features."""
    if timbre is not None:
        X = np.asarray(timbre, dtype=np.float64)
        if X.ndim != 2 or X.shape[0] != len(table):
            raise ParameterError(f"timbre vectors must have one row per section ({len(table)}), got shape {X.shape}")
        return X
    from ..analysis.scale import prepare

    return prepare(table.sections, config=ClusterConfig(scaler="zscore", dedupe=False)).X


def _cosine_distances(Q: np.ndarray, X: np.ndarray) -> np.ndarray:
    from sklearn.metrics.pairwise import cosine_distances

    return np.maximum(cosine_distances(Q, X), 0.0)


def pair_components(
    desc: pd.DataFrame,
    X: np.ndarray,
    queries: np.ndarray,
    *,
    config: MixConfig = MixConfig(),
) -> dict[str, np.ndarray]:
    """Score parts for every (query, candidate) pair.

    Parameters
    ----------
    desc : pandas.DataFrame
        Section descriptors (:attr:`MixTable.descriptors`).
    X : np.ndarray [shape=(n_sections, n_dims)]
        Timbre vectors.
    queries : np.ndarray [shape=(n_queries,)]
        Rows of the query sections.
    config : MixConfig

    Returns
    -------
    dict of np.ndarray [shape=(n_queries, n_sections)]
        ``timbre_distance``, ``tempo_dev`` (relative BPM change, candidate at
        ``tempo_factor`` x its BPM, against the query), ``tempo_factor``
        (1, 2 or 0.5), ``key_relation`` (str), ``energy_step``; the parts
        ``s_timbre``, ``s_tempo``, ``s_key``, ``s_energy`` in [0, 1];
        ``tempo_ok``, ``key_ok``, ``compatible`` (bool) and ``score``.
    """
    q = np.asarray(queries, dtype=np.int64)
    return _components(_row_codes(desc), X, q, None, config)


def _row_codes(desc: pd.DataFrame) -> dict[str, np.ndarray]:
    """Per-row arrays the scores need: BPM, Camelot number and letter, energy level (each code parsed once)."""
    camelot = desc["camelot"].astype(str).to_numpy()
    uniq, inverse = np.unique(camelot, return_inverse=True)
    codes = [parse_camelot(c) for c in uniq]
    return {
        "bpm": desc["bpm"].to_numpy(np.float64),
        "num": np.array([c[0] for c in codes], dtype=np.int64)[inverse],
        "letter": np.array([c[1] for c in codes])[inverse],
        "level": desc["energy_level"].to_numpy(np.int64),
        "clear": desc["key_clear"].to_numpy(bool) if "key_clear" in desc else np.ones(len(desc), dtype=bool),
    }


def _components(
    codes: dict[str, np.ndarray], X: np.ndarray, q: np.ndarray, cand: np.ndarray | None, config: MixConfig, unit: np.ndarray | None = None
) -> dict[str, np.ndarray]:
    """:func:`pair_components` of queries ``q`` against every row (``cand`` None) or rows ``cand`` [shape=(n_q, m)]."""

    def of(values: np.ndarray) -> np.ndarray:  # candidate values: [1, n] broadcast, or [n_q, m]
        return values[None, :] if cand is None else values[cand]

    bpm = codes["bpm"]
    devs = (of(bpm)[None] * _TEMPO_FACTORS[:, None, None]) / bpm[q][None, :, None] - 1.0  # [3, nq, n or m]
    pick = np.argmin(np.abs(devs), axis=0)
    dev = np.take_along_axis(devs, pick[None], axis=0)[0]
    tol = config.tempo_tolerance
    s_tempo = np.clip(1.0 - np.abs(dev) / (2 * tol), 0.0, 1.0)
    num, letter = codes["num"], codes["letter"]
    rel_code = camelot_relation_index(num[q, None], letter[q, None], of(num), of(letter))
    level = codes["level"]
    step = of(level) - level[q, None]
    target = {"any": 0, "up": 1, "down": -1, "same": 0}[config.energy_direction]
    slack = 1 if config.energy_direction == "any" else 0
    s_energy = np.clip(1.0 - np.maximum(np.abs(step - target) - slack, 0) / 3.0, 0.0, 1.0)
    if cand is None:
        dist = _cosine_distances(X[q], X)
    else:  # the same cosine distance, row by row: [nq, m]
        unit = unit_rows(X) if unit is None else unit
        dist = np.maximum(1.0 - np.einsum("ij,ikj->ik", unit[q], unit[cand]), 0.0)
    s_timbre = np.clip(1.0 - dist, 0.0, 1.0)
    clear = codes["clear"][q, None] & of(codes["clear"])
    s_key = np.where(clear, _REL_SCORES[rel_code], _UNCLEAR_KEY_SCORE)
    w = np.array([config.weight_timbre, config.weight_tempo, config.weight_key, config.weight_energy])
    score = (w[0] * s_timbre + w[1] * s_tempo + w[2] * s_key + w[3] * s_energy) / w.sum()
    tempo_ok = np.abs(dev) <= tol + 1e-12
    key_ok = _REL_OK[rel_code] | ~clear
    return {
        "timbre_distance": dist,
        "tempo_dev": dev,
        "tempo_factor": _TEMPO_FACTORS[pick],
        "key_relation": np.where(clear, _REL_NAMES[rel_code], "unclear"),
        "energy_step": step,
        "s_timbre": s_timbre,
        "s_tempo": s_tempo,
        "s_key": s_key,
        "s_energy": s_energy,
        "tempo_ok": tempo_ok,
        "key_ok": key_ok,
        "compatible": tempo_ok & key_ok,
        "score": score,
    }


def _reason(qd: pd.Series, cd: pd.Series, dev: float, factor: float, rel: str, dist: float) -> str:
    """One step in words: keys and their relation, tempi and the change, energy levels, timbre distance."""
    when = {2.0: "played at double time, ", 0.5: "played at half time, "}.get(float(factor), "")
    return (
        f"{qd['camelot']} → {cd['camelot']} ({RELATION_WORDS[rel]}), "
        f"{qd['bpm']:.0f} → {cd['bpm']:.0f} BPM ({when}{dev * 100:+.1f}%), "
        f"energy {int(qd['energy_level'])} → {int(cd['energy_level'])}, "
        f"timbre distance {dist:.2f}"
    )


def _reasons(desc: pd.DataFrame, parts: dict[str, np.ndarray], queries, sources, targets) -> list[str]:
    """:func:`_reason` of each step ``sources[i] -> targets[i]``, scored in row ``queries[i]`` of ``parts``."""
    return [
        _reason(
            desc.iloc[a], desc.iloc[b], parts["tempo_dev"][i, b], parts["tempo_factor"][i, b],
            parts["key_relation"][i, b], parts["timbre_distance"][i, b],
        )
        for i, a, b in zip(queries, sources, targets)
    ]  # fmt: skip


def _find_row(table: MixTable, row: int | None, track: str | None, section: int | None) -> int:
    from ..analysis.similar import find_section

    if row is None:
        if track is None or section is None:
            raise ParameterError("give either row, or both track and section")
        return find_section(table.sections.meta, track=track, section=int(section))
    return _check_row(table, row)


def _phrases(table: MixTable, rows: np.ndarray) -> dict[str, np.ndarray]:
    """The phrase label ("" when unknown) and its confidence (NaN when unknown) of section-table ``rows``."""
    meta, rows = table.sections.meta, np.asarray(rows, dtype=np.int64)
    label = meta["phrase_label"].fillna("").to_numpy(object)[rows] if "phrase_label" in meta else np.full(len(rows), "", object)
    conf = meta["phrase_confidence"].to_numpy(np.float64)[rows] if "phrase_confidence" in meta else np.full(len(rows), np.nan)
    return {"phrase_label": label, "phrase_confidence": conf}


def _with_phrases(frame: pd.DataFrame, table: MixTable, rows: np.ndarray) -> pd.DataFrame:
    """``frame`` (one row per ``rows``) with the phrase columns after the section metadata."""
    for i, (name, values) in enumerate(_phrases(table, rows).items()):
        frame.insert(len(_META) + i, name, values)
    return frame


def _query_info(table: MixTable, row: int) -> dict:
    d = table.descriptors.iloc[row]
    info = {c: (d[c].item() if hasattr(d[c], "item") else d[c]) for c in (*_META, *DESCRIPTOR_COLUMNS)}
    info.update({name: v[0].item() if hasattr(v[0], "item") else v[0] for name, v in _phrases(table, np.array([row])).items()})
    return info


def suggest(
    table: MixTable,
    *,
    row: int | None = None,
    track: str | None = None,
    section: int | None = None,
    k: int = 10,
    config: MixConfig = MixConfig(),
    timbre: np.ndarray | None = None,
    only_compatible: bool = False,
) -> Suggestions:
    """Rank sections for mixing after one section ("mixes well with").

    Parameters
    ----------
    table : MixTable
        From :func:`~engine.mixing.descriptors.describe_store`.
    row : int, optional
        The query's row; or give ``track`` and ``section``.
    track : str, optional
        A track name, id or unique part of a name.
    section : int, optional
    k : int
        Suggestions wanted.
    config : MixConfig
        Weights, tolerance, energy direction, ``other_tracks``.
    timbre : np.ndarray [shape=(n_sections, dim)], optional
        Timbre vectors (e.g. CNN embeddings per section); default: the
        z-scored section features.
    only_compatible : bool
        Keep only tempo- and key-compatible sections.

    Returns
    -------
    Suggestions
        ``frame`` columns: the section metadata, ``phrase_label`` and ``phrase_confidence``
        (:mod:`engine.describe.phrases`; "" and NaN when unknown), ``bpm``, ``camelot``, ``key``,
        ``energy_level``, ``score``, ``s_timbre``, ``s_tempo``, ``s_key``,
        ``s_energy``, ``timbre_distance``, ``tempo_change_pct``,
        ``tempo_factor``, ``key_relation``, ``energy_step``, ``tempo_ok``,
        ``key_ok``, ``compatible``, ``row``, ``reason``.

    Raises
    ------
    ParameterError
        If the query is not found or ``k`` < 1.
    """
    if k < 1:
        raise ParameterError(f"k must be >= 1, got {k}")
    q = _find_row(table, row, track, section)
    all_parts = pair_components(table.descriptors, _timbre_vectors(table, timbre), np.array([q]), config=config)
    order = _ranked(table.descriptors, {name: v[0] for name, v in all_parts.items()}, q, k, config=config, only_compatible=only_compatible)
    digest = f"{table.config_digest}-{config.digest()}"
    frame = _with_phrases(_suggestion_frame(table.descriptors, all_parts, q, order, digest), table, order)
    return Suggestions(query=q, query_info=_query_info(table, q), frame=frame, config_digest=digest)


def _ranked(desc: pd.DataFrame, parts: dict[str, np.ndarray], q: int, k: int, *, config: MixConfig, only_compatible: bool) -> np.ndarray:
    """Rows of the ``k`` best candidates for query ``q``, best first (ties by row)."""
    keep = np.ones(len(desc), bool)
    keep[q] = False
    if config.other_tracks:
        keep &= desc["track_id"].to_numpy() != desc["track_id"].iloc[q]
    if only_compatible:
        keep &= parts["compatible"]
    idx = np.flatnonzero(keep)
    return idx[np.lexsort((idx, -np.round(parts["score"][idx], 12)))][:k]


def _suggestion_frame(desc: pd.DataFrame, all_parts: dict[str, np.ndarray], q: int, order: np.ndarray, digest: str) -> pd.DataFrame:
    """The rows ``order`` with their score, its parts and the reason (see :func:`suggest`)."""
    parts = {name: v[0] for name, v in all_parts.items()}
    out = desc.iloc[order][[*_META, "bpm", "camelot", "key", "energy_level"]].reset_index(drop=True)
    for name in ("score", "s_timbre", "s_tempo", "s_key", "s_energy", "timbre_distance"):
        out[name] = parts[name][order].astype(np.float64)
    out["tempo_change_pct"] = parts["tempo_dev"][order] * 100.0
    for name in ("tempo_factor", "key_relation", "energy_step", "tempo_ok", "key_ok", "compatible"):
        out[name] = parts[name][order]
    out["row"] = order
    out["reason"] = _reasons(desc, all_parts, np.zeros(len(order), np.int64), np.full(len(order), q), order)
    out.attrs["config_digest"] = digest
    return out
