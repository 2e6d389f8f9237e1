"""Find the sections most similar to a given section.

Below ``ClusterConfig.large_rows`` rows (default :data:`LARGE_ROWS`, 50,000)
the search is exact: scikit-learn's brute-force ``NearestNeighbors``, one
pass over the scaled table per query.

At or above it, :class:`SectionIndex` builds an approximate index that
answers a query without a pass over every row: faiss's IVF-Flat (the rows
split into ``nlist`` ~ sqrt(n) cells by a seeded k-means trained on a
seeded sample of 40 rows per cell; a query scans the ``nprobe`` nearest
cells). Measured on two cores at 100,000 x 128 (see bench/scale_synthetic.py):
sqrt(n) cells build in about 1 s and 4 sqrt(n) in about 6 s (training grows
with the square of the cells), HNSW (32 links) in 11 s and pynndescent in
60 s, all answering a query in well under a millisecond at recall >= 0.95.
sqrt(n) cells keep the build linear in n. ``nprobe`` is
chosen when the index is built: the smallest of 8, 16, 32, ... whose
recall@10 against exact search, on :data:`CALIBRATION_QUERIES` seeded query
rows, reaches 0.98, a margin over :data:`RECALL_TARGET` (0.95). The metrics map onto it exactly:

* ``cosine`` -- inner product of L2-normalised rows;
* ``correlation`` -- inner product of row-centred, L2-normalised rows;
* ``euclidean`` -- L2;
* ``manhattan`` -- faiss has no IVF for L1; exact brute force (chunked).

The candidates the index returns are re-ranked by the exact metric in
float64, so every distance reported is the one scikit-learn computes; only
which rows come back can differ (rarely) from exact search.
``Neighbours.index`` records which index answered.

Rows are scaled with the config's scaler and features but never
deduplicated, so every section can be asked about. ``ClusterConfig.space``
picks the space searched (:mod:`.spaces`): the classical features, the
sections' musicnn embeddings, or both fused; the last two need the
embeddings, given as ``embeddings``.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.metrics import pairwise_distances
from sklearn.neighbors import NearestNeighbors

from ..config import LARGE_ROWS, ClusterConfig, is_large
from ..errors import ModelError, ParameterError
from ..records import Neighbours, Prepared, SectionTable
from ..store.tables import TableLike
from .methods import working_space
from .scale import prepare
from .spaces import space_prepared

__all__ = [
    "METRICS",
    "LARGE_ROWS",
    "RECALL_TARGET",
    "CALIBRATION_QUERIES",
    "SectionIndex",
    "find_track",
    "find_section",
    "nearest_sections",
    "candidate_rows",
]

#: Metrics the search supports.
METRICS: tuple[str, ...] = ("cosine", "euclidean", "manhattan", "correlation")

#: The approximate index's recall@10 against exact search that ``nprobe`` is chosen to reach.
RECALL_TARGET = 0.95
#: Seeded query rows the recall is measured on when the index is built.
CALIBRATION_QUERIES = 100
#: The recall ``nprobe`` is raised to on those queries: a margin over :data:`RECALL_TARGET`
#: for the sampling error of 100 queries (about +-0.02).
_CALIBRATION_GOAL = 0.98
#: The fewest cells a query scans: up to about 16 a query costs its fixed overhead (~5 ms at
#: 100,000-200,000 x 128), and one cell alone misses neighbours across its border (recall 0.93-0.98).
_MIN_NPROBE = 8
#: Candidates fetched per query (at least; 4 x the rows wanted when more), re-ranked exactly.
_CANDIDATES = 64
#: Rows the IVF cells are trained on: this many per cell (faiss warns below 39).
_TRAIN_PER_CELL = 40


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
    """Nearest-neighbour search over prepared rows: exact, or approximate at scale.

    Parameters
    ----------
    prepared : Prepared
        Scaled rows and their metadata.
    metric : str
        One of :data:`METRICS`.
    config_digest : str
        Stamped on every answer.
    large_rows : int
        At or above this many rows build the approximate index (0 = always
        exact); default :data:`LARGE_ROWS`.
    seed : int
        Seeds the training sample, the cells' k-means and the calibration queries.

    Attributes
    ----------
    index : str
        Which index answers: ``"exact"``, or e.g. ``"faiss IVF-Flat (nlist
        316, nprobe 8; recall@10 1.00 on 100 seeded queries), re-ranked by
        exact cosine distance, because 100,000 rows >= 50,000"``.
    recall : float or None
        The recall@10 measured when the approximate index was built.

    Raises
    ------
    ParameterError
        For an unknown metric.
    ModelError
        If the approximate index is needed and faiss is not installed.
    """

    def __init__(
        self, prepared: Prepared, *, metric: str = "cosine", config_digest: str = "", large_rows: int = LARGE_ROWS, seed: int = 42
    ) -> None:
        if metric not in METRICS:
            raise ParameterError(f"unknown metric {metric!r}; choose one of {list(METRICS)}")
        if large_rows < 0:
            raise ParameterError(f"large_rows must be >= 0 (0 = always exact), got {large_rows}")
        self.prepared = prepared
        self.metric = metric
        self.config_digest = config_digest
        self.recall: float | None = None
        self._track = prepared.meta["track_id" if "track_id" in prepared.meta.columns else "name"].astype(str).to_numpy()
        n = len(prepared)
        self._ivf = None
        if is_large(n, large_rows) and metric != "manhattan":
            self._ivf = _IVF(prepared.X, metric=metric, seed=seed)
            self.recall = self._ivf.recall
            self.index = (
                f"faiss IVF-Flat (nlist {self._ivf.nlist}, nprobe {self._ivf.nprobe}; recall@10 {self._ivf.recall:.2f} "
                f"on {self._ivf.n_calibration} seeded queries), re-ranked by exact {metric} distance, "
                f"because {n:,} rows >= {large_rows:,}"
            )
        else:
            self._nn = NearestNeighbors(metric=metric, algorithm="brute").fit(prepared.X)
            self.index = "exact"
            if is_large(n, large_rows):
                self.index = f"exact (chunked brute force: faiss has no approximate index for {metric} distances)"

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
        if self._ivf is None:
            dist, idx = self._nn.kneighbors(self.prepared.X[row : row + 1], n_neighbors=want)
            dist, idx = dist[0], idx[0]
        else:
            dist, idx = self._approximate(row, k, want, same if other_tracks else None)
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
            index=self.index,
        )

    def _approximate(self, row: int, k: int, want: int, same: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
        """Candidates from the IVF index, re-ranked by the exact metric; widened until ``k`` qualify."""
        ivf = self._ivf
        n = len(self.prepared)
        fetch, nprobe = min(n, max(_CANDIDATES, 4 * want)), ivf.nprobe
        while True:
            cand = ivf.search(row, fetch, nprobe)
            ok = cand != row
            if same is not None:
                ok &= ~same[cand]
            exhaustive = len(cand) >= n or (fetch >= n and nprobe >= ivf.nlist)
            if int(ok.sum()) >= k or exhaustive:
                break
            if len(cand) < fetch:  # the probed cells ran out of rows: probe more
                nprobe = min(ivf.nlist, 2 * nprobe)
            fetch = min(n, 4 * fetch)
        X = self.prepared.X
        dist = pairwise_distances(X[row : row + 1], X[cand], metric=self.metric)[0]
        return dist, cand


class _IVF:
    """A faiss IVF-Flat index of scaled rows, ``nprobe`` calibrated to :data:`RECALL_TARGET`."""

    def __init__(self, X: np.ndarray, *, metric: str, seed: int) -> None:
        try:
            import faiss  # lazy: only large libraries need it
        except ImportError as exc:
            raise ModelError(
                f"similar-section search over {X.shape[0]:,} rows uses an approximate index that needs faiss "
                "(pip install faiss-cpu)"
            ) from exc
        self._faiss = faiss
        n, d = X.shape
        # cosine and correlation: inner products of the unit rows spherical K-Means works on
        spherical = metric in ("cosine", "correlation")
        V = working_space(X, f"spherical-{metric}") if spherical else X
        kind = faiss.METRIC_INNER_PRODUCT if spherical else faiss.METRIC_L2
        self.vectors = np.ascontiguousarray(V, dtype=np.float32)
        self.nlist = int(max(1, min(round(np.sqrt(n)), n // _TRAIN_PER_CELL)))
        quantizer = faiss.IndexFlatIP(d) if kind == faiss.METRIC_INNER_PRODUCT else faiss.IndexFlatL2(d)
        index = faiss.IndexIVFFlat(quantizer, d, self.nlist, kind)
        index.cp.seed = int(seed)
        index.cp.spherical = kind == faiss.METRIC_INNER_PRODUCT
        rng = np.random.default_rng(seed)
        train = np.sort(rng.choice(n, size=min(n, _TRAIN_PER_CELL * self.nlist), replace=False))
        try:
            index.train(self.vectors[train])
            index.add(self.vectors)
        except RuntimeError as exc:
            raise ModelError(f"faiss could not build the index: {exc}") from exc
        self._quantizer = quantizer  # the index does not own it: keep it alive as long as the index
        self.index = index
        self.nprobe, self.recall, self.n_calibration = self._calibrate(X, metric, rng)

    def search(self, row: int, fetch: int, nprobe: int) -> np.ndarray:
        """Row positions of up to ``fetch`` candidates for row ``row`` (nearest first)."""
        params = self._faiss.SearchParametersIVF(nprobe=int(nprobe))
        _, idx = self.index.search(self.vectors[row : row + 1], int(fetch), params=params)
        idx = idx[0]
        return idx[idx >= 0].astype(np.int64)

    def _calibrate(self, X: np.ndarray, metric: str, rng: np.random.Generator) -> tuple[int, float, int]:
        """The smallest ``nprobe`` (8 x a power of two) whose recall@10 reaches :data:`_CALIBRATION_GOAL`.

        A query re-ranks its candidates exactly, so its recall@10 is the share
        of the true 10 nearest rows among the candidates; that is what is measured.
        """
        n = X.shape[0]
        queries = np.sort(rng.choice(n, size=min(n, CALIBRATION_QUERIES), replace=False))
        k = min(10, n - 1)
        exact = pairwise_distances(X[queries], X, metric=metric)  # [n_queries, n]: 80 MB at 100 x 100,000
        exact[np.arange(len(queries)), queries] = np.inf
        truth = np.argpartition(exact, k - 1, axis=1)[:, :k]
        del exact
        nprobe = min(self.nlist, _MIN_NPROBE)
        while True:
            params = self._faiss.SearchParametersIVF(nprobe=nprobe)
            _, pool = self.index.search(self.vectors[queries], _CANDIDATES + 1, params=params)
            recall = float(np.mean([np.isin(t, p).sum() / k for t, p in zip(truth, pool)]))
            if recall >= _CALIBRATION_GOAL or nprobe >= self.nlist:
                return nprobe, recall, len(queries)
            nprobe = min(self.nlist, 2 * nprobe)


def nearest_sections(
    data: TableLike | Prepared | SectionIndex,
    *,
    row: int | None = None,
    track: str | None = None,
    section: int | None = None,
    k: int = 10,
    metric: str | None = None,
    other_tracks: bool = False,
    config: ClusterConfig | None = None,
    embeddings: SectionTable | None = None,
) -> Neighbours:
    """The ``k`` sections nearest to one section.

    Parameters
    ----------
    data : SectionTable or Prepared or SectionIndex or path or DataFrame
        The sections; a ready :class:`SectionIndex` is queried as it is (its
        metric wins, and ``config`` is not used), so an approximate index is
        built once for many queries.
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
        Scaler and features (dedupe is ignored: every row stays searchable);
        ``space`` the space searched (see :mod:`.spaces`); ``large_rows``
        decides when the approximate index is used, ``seed`` seeds it.
    embeddings : SectionTable, optional
        Section-level musicnn embeddings (e.g. from
        :func:`engine.run.embedding.section_embeddings`), for the ``musicnn``
        and ``fused`` spaces.

    Returns
    -------
    Neighbours
        Closest first; ``meta`` carries a ``distance`` column; ``index`` says
        which index answered.

    Raises
    ------
    ParameterError
        If the query is not found or settings are invalid, or the space
        needs embeddings that are not given.
    ModelError
        If the approximate index is needed and faiss is not installed.
    """
    if isinstance(data, SectionIndex):
        if metric is not None and metric != data.metric:
            raise ParameterError(f"the index searches {data.metric!r} distances, not {metric!r}; build one for {metric!r}")
        index = data
    else:
        index = None
        config = ClusterConfig() if config is None else config
        if isinstance(data, Prepared):
            prepared = data
        elif config.space == "classical":
            prepared = prepare(data, config=config.replace(dedupe=False))
        else:
            prepared = space_prepared(data, config=config, embeddings=embeddings)
    meta = index.prepared.meta if index is not None else prepared.meta
    if row is None:
        if track is None or section is None:
            raise ParameterError("give either row, or both track and section")
        row = find_section(meta, track=track, section=section)
    if index is None:
        metric = metric or config.metric
        if metric not in METRICS:
            raise ParameterError(f"unknown metric {metric!r}; choose one of {list(METRICS)}")
        used = config.replace(dedupe=False, metric=metric)
        index = SectionIndex(prepared, metric=metric, config_digest=used.digest(), large_rows=config.large_rows, seed=config.seed)
    return index.query(int(row), k=k, other_tracks=other_tracks)


def candidate_rows(X: np.ndarray, *, k: int, metric: str = "cosine", seed: int = 42) -> tuple[np.ndarray, str]:
    """For every row, about ``k`` rows among its nearest, from one approximate index (for graphs over many rows).

    Parameters
    ----------
    X : np.ndarray [shape=(n_rows, n_features)]
        Rows to search (e.g. scaled features or embeddings).
    k : int
        Candidates wanted per row.
    metric : str
        ``cosine``, ``euclidean`` or ``correlation`` (faiss has no index for manhattan).
    seed : int
        Seeds the index (see :class:`SectionIndex`).

    Returns
    -------
    rows : np.ndarray [shape=(n_rows, k)], int64
        Candidate rows, nearest first; never the row itself; ``-1`` pads a
        row with fewer candidates.
    index : str
        Which index answered, in words.

    Raises
    ------
    ParameterError
        For a bad ``k`` or metric, or fewer than 2 rows.
    ModelError
        If faiss is not installed.
    """
    X = np.asarray(X, dtype=np.float64)
    if X.ndim != 2 or X.shape[0] < 2:
        raise ParameterError(f"need a 2-D array of at least 2 rows, got shape {X.shape}")
    if metric not in ("cosine", "euclidean", "correlation"):
        raise ParameterError(f"candidate_rows supports cosine, euclidean and correlation, not {metric!r}")
    n = X.shape[0]
    if not 1 <= k < n:
        raise ParameterError(f"k must be in 1..{n - 1}, got {k}")
    ivf = _IVF(X, metric=metric, seed=seed)
    params = ivf._faiss.SearchParametersIVF(nprobe=int(ivf.nprobe))
    _, idx = ivf.index.search(ivf.vectors, k + 1, params=params)
    idx = idx.astype(np.int64)
    idx[idx == np.arange(n)[:, None]] = -1
    # drop the row itself (usually first) and keep k, nearest first, -1 last
    order = np.argsort(idx < 0, axis=1, kind="stable")
    idx = np.take_along_axis(idx, order, axis=1)[:, :k]
    text = (
        f"faiss IVF-Flat (nlist {ivf.nlist}, nprobe {ivf.nprobe}; recall@10 {ivf.recall:.2f} on "
        f"{ivf.n_calibration} seeded queries), {metric} distance"
    )
    return idx, text
