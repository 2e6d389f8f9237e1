"""Load a section table from a CSV, a Parquet file, a DataFrame or a store.

Every analysis module (cluster, project, explain, similar, compare, export)
works on one in-memory form, :class:`engine.records.SectionTable`. This
module turns the inputs a user may bring into that form:

* a store directory written by the engine -- read with
  ``engine.store.core.open_store(path).load_sections()`` (imported lazily);
* a CSV (``;``, ``,`` or tab separated, detected from the header line) or a
  Parquet file with a ``filename`` column, a ``part`` column (``part_3`` or
  ``3``) and numeric feature columns -- features computed elsewhere, or the
  thesis's own tables;
* a :class:`pandas.DataFrame` with those columns.

For tables from elsewhere the audio is not at hand, so ``track_id`` is the
sha256 of the file *name* (not of its bytes), and section times are only
known when the table has ``start_s``/``end_s`` columns or the caller gives
``section_seconds``; otherwise they are NaN (playlist export then refuses,
naming the fix).
"""

from __future__ import annotations

import hashlib
import re
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ..errors import EngineError, ParameterError, StoreError
from ..records import SectionTable

__all__ = [
    "TableLike",
    "LABEL_COLUMNS",
    "DROPPED_COLUMNS",
    "load_table",
    "table_from_frame",
    "parse_section",
]

#: What the analysis functions accept as a table.
TableLike = SectionTable | str | Path | pd.DataFrame

#: Meta columns every table carries, in order.

#: Label-like columns kept in ``meta`` (never used as features). ``grupo`` is
#: the thesis author's a-priori song group; ``label`` is the thesis's song index.
LABEL_COLUMNS: tuple[str, ...] = ("grupo", "group", "genre", "class", "label")

#: Bookkeeping columns of the thesis tables that are dropped (derived from the
#: features or from the selection rule, not features themselves).
DROPPED_COLUMNS: tuple[str, ...] = ("rank", "ratio", "parts_per_song", "index", "unnamed")

_NAME_COLUMNS = ("filename", "name", "file", "track")
_SECTION_COLUMNS = ("part", "section")
_DROPPED_SUFFIXES = ("_norm",)
_TABLE_SUFFIXES = (".csv", ".tsv", ".txt", ".parquet", ".pq")


def parse_section(value: Any) -> int:
    """Return the section number of ``part_3``, ``"3"``, ``3`` or ``3.0``.

    Parameters
    ----------
    value : str or int or float
        A ``part`` cell.

    Returns
    -------
    int
        The section index (from 0).

    Raises
    ------
    ParameterError
        If the value holds no non-negative integer.
    """
    if isinstance(value, (int, np.integer)) and value >= 0:
        return int(value)
    if isinstance(value, (float, np.floating)) and np.isfinite(value) and float(value).is_integer() and value >= 0:
        return int(value)
    match = re.fullmatch(r"\s*(?:[A-Za-z_ -]*?)(\d+)\s*", str(value))
    if match is None:
        raise ParameterError(f"cannot read a section number from {value!r} (expected e.g. 'part_3' or 3)")
    return int(match.group(1))


def _is_dropped(column: str) -> bool:
    low = column.strip().lower()
    if low == "" or low.startswith("unnamed"):
        return True
    return low in DROPPED_COLUMNS or low.endswith(_DROPPED_SUFFIXES)


def _sniff_separator(path: Path) -> str:
    try:
        with path.open("r", encoding="utf-8-sig", errors="replace") as fh:
            header = fh.readline()
    except OSError as exc:
        raise ParameterError(f"cannot read table {str(path)!r}: {exc}") from exc
    counts = {sep: header.count(sep) for sep in (";", ",", "\t")}
    sep = max(counts, key=lambda s: counts[s])
    if counts[sep] == 0:
        raise ParameterError(f"{str(path)!r} does not look like a table: no ';', ',' or tab in its header line")
    return sep


def table_from_frame(frame: pd.DataFrame, *, section_seconds: float | None = None, digest: str = "") -> SectionTable:
    """Turn a DataFrame with ``filename``, ``part`` and numeric columns into a table.

    Parameters
    ----------
    frame : pandas.DataFrame [shape=(n_sections, n_columns)]
        One row per section. Needs a name column (``filename``, ``name``,
        ``file`` or ``track``) and a section column (``part`` or ``section``).
        Numeric columns become features, except index-like and bookkeeping
        columns (:data:`DROPPED_COLUMNS`, ``*_norm``, unnamed) and label
        columns (:data:`LABEL_COLUMNS`), which are kept in ``meta``.
    section_seconds : float, optional
        Length of a section; when given (and the frame has no ``start_s``),
        section ``i`` spans ``[i * section_seconds, (i + 1) * section_seconds)``.
    digest : str
        Provenance stamp for ``config_digest``; defaults to a digest of the
        frame's contents.

    Returns
    -------
    SectionTable
        ``meta`` has :data:`~engine.records.SECTION_META_COLUMNS` plus any label columns.

    Raises
    ------
    ParameterError
        If a needed column is missing, no feature column is left, or section
        numbers cannot be read.
    """
    if not isinstance(frame, pd.DataFrame):
        raise ParameterError(f"expected a pandas DataFrame, got {type(frame).__name__}")
    lower = {str(c).strip().lower(): c for c in frame.columns}
    name_col = next((lower[c] for c in _NAME_COLUMNS if c in lower), None)
    section_col = next((lower[c] for c in _SECTION_COLUMNS if c in lower), None)
    if name_col is None or section_col is None:
        raise ParameterError(
            "a section table needs a 'filename' and a 'part' column; "
            f"found columns {[str(c) for c in frame.columns][:12]}"
        )
    if len(frame) == 0:
        raise ParameterError("the table has no rows")
    names = frame[name_col].astype(str).to_numpy()
    sections = np.array([parse_section(v) for v in frame[section_col].to_numpy()], dtype=np.int64)

    reserved = {name_col, section_col}
    for c in ("track_id", "start_s", "end_s", "partial", "selected", "path"):
        if c in lower:
            reserved.add(lower[c])
    labels = [lower[c] for c in LABEL_COLUMNS if c in lower and lower[c] not in reserved]
    features = _feature_columns(frame, skip={*reserved, *labels})
    start, end = _section_times(frame, lower, sections, section_seconds)
    meta = pd.DataFrame(
        {
            "track_id": _track_ids(frame, lower, names),
            "name": names,
            "section": sections,
            "start_s": start,
            "end_s": end,
            "partial": frame[lower["partial"]].to_numpy(bool) if "partial" in lower else np.zeros(len(frame), bool),
            "selected": frame[lower["selected"]].to_numpy(bool) if "selected" in lower else np.ones(len(frame), bool),
        }
    )
    if "path" in lower:
        meta["path"] = frame[lower["path"]].astype(str).to_numpy()
    for col in labels:
        meta[str(col)] = frame[col].to_numpy()
    values = frame[features].to_numpy(np.float64)
    if not digest:
        h = hashlib.sha256()
        h.update(np.ascontiguousarray(values).tobytes())
        h.update("\x00".join(map(str, features)).encode())
        h.update("\x00".join(names).encode())
        digest = "table:" + h.hexdigest()[:16]
    return SectionTable(meta=meta, values=values, names=tuple(str(f) for f in features), config_digest=digest)


def _feature_columns(frame: pd.DataFrame, *, skip: set) -> list:
    """The numeric, non-boolean columns that are features: not in ``skip``, not bookkeeping (:func:`_is_dropped`)."""
    features = []
    for col in frame.columns:
        if col in skip or _is_dropped(str(col)):
            continue
        if pd.api.types.is_bool_dtype(frame[col]) or not pd.api.types.is_numeric_dtype(frame[col]):
            continue
        features.append(col)
    if not features:
        raise ParameterError("the table has no numeric feature columns")
    return features


def _section_times(
    frame: pd.DataFrame, lower: dict, sections: np.ndarray, section_seconds: float | None
) -> tuple[np.ndarray, np.ndarray]:
    """Start and end seconds of each row: its ``start_s``/``end_s`` columns, or from ``section_seconds``, else NaN."""
    if "start_s" in lower and "end_s" in lower:
        return frame[lower["start_s"]].to_numpy(np.float64), frame[lower["end_s"]].to_numpy(np.float64)
    if section_seconds is not None:
        if not section_seconds > 0:
            raise ParameterError(f"section_seconds must be positive, got {section_seconds}")
        start = sections * float(section_seconds)
        return start, start + float(section_seconds)
    return np.full(len(frame), np.nan), np.full(len(frame), np.nan)


def _track_ids(frame: pd.DataFrame, lower: dict, names: np.ndarray) -> np.ndarray:
    """Each row's ``track_id`` column, or (no audio at hand) the sha256 of its track's name."""
    if "track_id" in lower:
        return frame[lower["track_id"]].astype(str).to_numpy()
    cache: dict[str, str] = {}
    return np.array([cache.setdefault(n, hashlib.sha256(n.encode()).hexdigest()) for n in names], dtype=object)


def _load_file(path: Path, *, section_seconds: float | None) -> SectionTable:
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise ParameterError(f"cannot read table {str(path)!r}: {exc}") from exc
    digest = "file:" + hashlib.sha256(raw).hexdigest()[:16]
    try:
        if path.suffix.lower() in (".parquet", ".pq"):
            frame = pd.read_parquet(path)
        else:
            frame = pd.read_csv(path, sep=_sniff_separator(path), encoding="utf-8-sig")
    except EngineError:
        raise
    except Exception as exc:  # pandas/pyarrow raise many types
        raise ParameterError(f"cannot parse table {str(path)!r}: {exc}") from exc
    return table_from_frame(frame, section_seconds=section_seconds, digest=digest)


def _load_store(path: Path | str, *, selected_only: bool) -> SectionTable:
    try:
        from . import core as store  # lazy: the store is optional for CSV users
        from .urls import env_storage_options
    except ImportError as exc:
        raise StoreError(f"{str(path)!r} is a directory but the store module is unavailable: {exc}") from exc
    try:
        opened = store.Store(path, storage_options=env_storage_options(), create=False)
        table = opened.load_sections()
    except EngineError:
        raise
    except Exception as exc:
        raise StoreError(f"cannot load sections from store {str(path)!r}: {exc}") from exc
    if table is None or len(table) == 0:
        raise StoreError(f"the store {str(path)!r} holds no analysed sections yet")
    if "path" not in table.meta.columns and hasattr(opened, "track"):
        # Where each file was read from, when it is still there (playlists point at it).
        where = {}
        for tid in pd.unique(table.meta["track_id"]):
            track = opened.track(tid)
            p = getattr(track, "path", "") if track is not None else ""
            where[tid] = p if p and Path(p).is_file() else ""
        meta = table.meta.copy()
        meta["path"] = meta["track_id"].map(where).fillna("")
        table = SectionTable(meta=meta, values=table.values, names=table.names, config_digest=table.config_digest)
    if selected_only and "selected" in table.meta.columns:
        table = table.selected()
        if len(table) == 0:
            raise StoreError(f"no section of store {str(path)!r} is selected as representative")
    return table


def load_table(
    source: TableLike,
    *,
    section_seconds: float | None = None,
    selected_only: bool = True,
) -> SectionTable:
    """Load sections and their features from wherever the user keeps them.

    Parameters
    ----------
    source : str or Path or pandas.DataFrame or SectionTable
        A store directory, a CSV/TSV/Parquet file, a DataFrame (see
        :func:`table_from_frame`), or a table (returned unchanged).
    section_seconds : float, optional
        For files without ``start_s``/``end_s``: the section length used to
        derive section times.
    selected_only : bool
        For stores: keep only the sections selected as representative.

    Returns
    -------
    SectionTable
        ``values`` [shape=(n_sections, n_features)], ``meta`` with
        :data:`~engine.records.SECTION_META_COLUMNS` (plus label columns such as ``grupo``).

    Raises
    ------
    ParameterError
        If the file is missing, unreadable or lacks the needed columns.
    StoreError
        If a store directory cannot be read.
    """
    if isinstance(source, SectionTable):
        return source
    if isinstance(source, pd.DataFrame):
        return table_from_frame(source, section_seconds=section_seconds)
    if not isinstance(source, (str, Path)):
        raise ParameterError(f"cannot load a table from {type(source).__name__}")
    if isinstance(source, str) and "://" in source and not source.lower().endswith(_TABLE_SUFFIXES):
        return _load_store(source, selected_only=selected_only)  # a store at an fsspec URL
    path = Path(source)
    if path.is_dir():
        return _load_store(path, selected_only=selected_only)
    if not path.exists():
        raise ParameterError(f"no such table or store: {str(path)!r}")
    if path.suffix.lower() not in _TABLE_SUFFIXES:
        raise ParameterError(f"{str(path)!r}: expected a store directory or a {'/'.join(_TABLE_SUFFIXES)} file")
    return _load_file(path, section_seconds=section_seconds)
