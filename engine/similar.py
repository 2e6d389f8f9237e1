"""Find the sections most similar to a given section.

Exact search with scikit-learn's brute-force ``NearestNeighbors``: at
library scale (tens of thousands of sections) one query is a single pass
over the scaled table, well under a second. :class:`SectionIndex` is the
seam where a later approximate index can be swapped in.

Rows are scaled with the config's scaler and features but never
deduplicated, so every section can be asked about.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from sklearn.neighbors import NearestNeighbors

from .config import ClusterConfig
from .errors import ParameterError
from .prepare import Prepared, prepare
from .table import TableLike

__all__ = ["METRICS", "Neighbours", "SectionIndex", "find_track", "find_section", "nearest_sections"]

#: Metrics the search supports.
METRICS: tuple[str, ...] = ("cosine", "euclidean", "manhattan", "correlation")


@dataclass(frozen=True, eq=False)
class Neighbours:
    """The nearest sections to one query section, closest first."""

    query: int  # row position of the query in the searched rows
    query_name: str
    query_section: int
    rows: np.ndarray  # int64 [shape=(n_found,)], row positions of the neighbours
    distances: np.ndarray  # float64 [shape=(n_found,)], ascending
    meta: pd.DataFrame  # [shape=(n_found, n_meta + 1)], the neighbours' metadata and a ``distance`` column
    metric: str
    scaler: str
    other_tracks: bool  # were the query's own track's sections excluded?
    names: tuple[str, ...]  # features compared
    config_digest: str

    def __len__(self) -> int:
        return int(self.rows.shape[0])


def find_track(meta: pd.DataFrame, track: str) -> np.ndarray:
    """Rows of one track: by exact name, by track id, or by a unique part of a name.

    Parameters
    ----------
    meta : pandas.DataFrame
        Section metadata with a ``name`` (and ``track_id``) column.
    track : str

    Returns
    -------
    np.ndarray [shape=(n_rows,)], bool
        Which rows belong to the track.

    Raises
    ------
    ParameterError
        If no track or several tracks match.
    """
    if not track:
        raise ParameterError("give a track name")
    names = meta["name"].astype(str)
    mask = (names == track).to_numpy()
    if not mask.any() and "track_id" in meta.columns:
        mask = (meta["track_id"].astype(str) == track).to_numpy()
    if not mask.any():
        hits = sorted(set(names[names.str.lower().str.contains(track.lower(), regex=False)]))
        if len(hits) > 1:
            raise ParameterError(f"{track!r} matches {len(hits)} tracks: {hits[:5]}; give more of the name")
        if not hits:
            raise ParameterError(f"no track named {track!r}; e.g. {sorted(set(names))[:3]}")
        mask = (names == hits[0]).to_numpy()
    return mask


def find_section(meta: pd.DataFrame, *, track: str, section: int) -> int:
    """Row position of a track's section (the track matched as in :func:`find_track`).

    Parameters
    ----------
    meta : pandas.DataFrame
        Section metadata with ``name``, ``section`` (and ``track_id``) columns.
    track : str
    section : int

    Returns
    -------
    int

    Raises
    ------
    ParameterError
        If no track or several tracks match, or the track has no such section.
    """
    mask = find_track(meta, track)
    rows = np.flatnonzero(mask & (meta["section"].to_numpy() == int(section)))
    if len(rows) == 0:
        have = sorted(int(s) for s in meta.loc[mask, "section"])
        raise ParameterError(f"track {str(meta['name'][mask].iloc[0])!r} has no section {section}; it has {have}")
    return int(rows[0])


class SectionIndex:
    """Exact nearest-neighbour search over prepared rows.

    Parameters
    ----------
    prepared : Prepared
        Scaled rows and their metadata.
    metric : str
        One of :data:`METRICS`.

    Raises
    ------
    ParameterError
        For an unknown metric.
    """

    def __init__(self, prepared: Prepared, *, metric: str = "cosine", config_digest: str = "") -> None:
        if metric not in METRICS:
            raise ParameterError(f"unknown metric {metric!r}; choose one of {list(METRICS)}")
        self.prepared = prepared
        self.metric = metric
        self.config_digest = config_digest
        self._nn = NearestNeighbors(metric=metric, algorithm="brute").fit(prepared.X)
        self._track = prepared.meta["track_id" if "track_id" in prepared.meta.columns else "name"].astype(str).to_numpy()

    def query(self, row: int, *, k: int = 10, other_tracks: bool = False) -> Neighbours:
        """The ``k`` nearest rows to ``row`` (never ``row`` itself).

        Parameters
        ----------
        row : int
            Row position of the query.
        k : int
            Neighbours wanted (fewer come back when fewer rows qualify).
        other_tracks : bool
            Leave out every section of the query's own track.

        Returns
        -------
        Neighbours

        Raises
        ------
        ParameterError
            If ``row`` or ``k`` is out of range.
        """
        n = len(self.prepared)
        if not 0 <= row < n:
            raise ParameterError(f"row {row} is out of range 0..{n - 1}")
        if k < 1:
            raise ParameterError(f"k must be >= 1, got {k}")
        same = self._track == self._track[row]
        extra = int(same.sum()) if other_tracks else 1
        want = min(n, k + extra)
        dist, idx = self._nn.kneighbors(self.prepared.X[row : row + 1], n_neighbors=want)
        dist, idx = dist[0], idx[0]
        # Stable order: by distance, then by row, so ties do not depend on the library.
        order = np.lexsort((idx, np.round(dist, 12)))
        dist, idx = dist[order], idx[order]
        keep = idx != row
        if other_tracks:
            keep &= ~same[idx]
        dist, idx = dist[keep][:k], idx[keep][:k]
        meta = self.prepared.meta.iloc[idx].reset_index(drop=True)
        meta["distance"] = dist
        qmeta = self.prepared.meta.iloc[row]
        return Neighbours(
            query=int(row),
            query_name=str(qmeta["name"]),
            query_section=int(qmeta["section"]),
            rows=idx.astype(np.int64),
            distances=np.maximum(dist.astype(np.float64), 0.0),
            meta=meta,
            metric=self.metric,
            scaler=self.prepared.scaler,
            other_tracks=bool(other_tracks),
            names=self.prepared.names,
            config_digest=self.config_digest,
        )


def nearest_sections(
    data: TableLike | Prepared,
    *,
    row: int | None = None,
    track: str | None = None,
    section: int | None = None,
    k: int = 10,
    metric: str | None = None,
    other_tracks: bool = False,
    config: ClusterConfig | None = None,
) -> Neighbours:
    """The ``k`` sections nearest to one section.

    Parameters
    ----------
    data : SectionTable or Prepared or path or DataFrame
    row : int, optional
        The query's row position; or give ``track`` and ``section``.
    track : str, optional
        A track name, id, or a unique part of a name (see :func:`find_section`).
    section : int, optional
    k : int
        Neighbours wanted.
    metric : str, optional
        One of :data:`METRICS`; default ``config.metric``.
    other_tracks : bool
        Exclude the query's own track.
    config : ClusterConfig, optional
        Scaler and features (dedupe is ignored: every row stays searchable).

    Returns
    -------
    Neighbours
        Closest first; ``meta`` carries a ``distance`` column.

    Raises
    ------
    ParameterError
        If the query is not found or settings are invalid.
    """
    config = ClusterConfig() if config is None else config
    if isinstance(data, Prepared):
        prepared = data
    else:
        prepared = prepare(data, config=config.replace(dedupe=False))
    if row is None:
        if track is None or section is None:
            raise ParameterError("give either row, or both track and section")
        row = find_section(prepared.meta, track=track, section=section)
    metric = metric or config.metric
    if metric not in METRICS:
        raise ParameterError(f"unknown metric {metric!r}; choose one of {list(METRICS)}")
    used = config.replace(dedupe=False, metric=metric)
    index = SectionIndex(prepared, metric=metric, config_digest=used.digest())
    return index.query(int(row), k=k, other_tracks=other_tracks)
