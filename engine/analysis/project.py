"""Project sections to 2-D (or 3-D) for plotting: PCA, t-SNE, UMAP.

Cluster centroids are placed *in the same projection* as the points (the
thesis fitted a second PCA on its four centroids, which put them in a space
of their own):

* PCA -- the fitted PCA transforms the centroids (exact: a linear map of a
  member mean is the mean of the members' projections).
* UMAP -- the fitted reducer's ``transform`` places them.
* t-SNE -- has no transform; a centroid is put at the mean position of its
  members (``centroid_placement`` says so).

PCA is linear and euclidean whatever the clustering metric; t-SNE and UMAP
use the clustering's metric unless told otherwise.

Scale. At or above ``large_rows`` rows (default: the clustering's
``ClusterConfig.large_rows``, else :data:`LARGE_ROWS`, 50,000; 0 = never)
each method is fitted on a seeded sample and ``Projection.sample_note`` says
so in a sentence (below it every row is fitted, exactly as before, and the
note is ``""``):

* PCA -- fitted on :data:`PCA_SCALE_ROWS` rows, then every row projected;
* UMAP -- fitted on :data:`UMAP_SCALE_ROWS` rows, the others placed by its
  ``transform``;
* t-SNE -- run on :data:`TSNE_SCALE_ROWS` rows only: it has no transform,
  so the other rows are not placed (their points are NaN and
  ``Projection.placed`` is False for them), and centroids are the mean
  positions of their placed members.

``sample_rows`` overrides the sample size.
"""

from __future__ import annotations

import dataclasses
import warnings as _warnings
from dataclasses import dataclass

import numpy as np
from sklearn.decomposition import PCA
from sklearn.manifold import TSNE

from .._threads import limit_threads
from .cluster import ClusterResult, _sample_rows
from ..config import LARGE_ROWS, is_large
from ..errors import EngineError, ModelError, ParameterError
from .scale import Prepared, check_finite

__all__ = ["PROJECTIONS", "LARGE_ROWS", "PCA_SCALE_ROWS", "TSNE_SCALE_ROWS", "UMAP_SCALE_ROWS", "Projection", "project"]

#: The projection methods.
PROJECTIONS: tuple[str, ...] = ("pca", "tsne", "umap")

#: At or above ``large_rows`` rows: rows PCA is fitted on,
PCA_SCALE_ROWS = 20_000
#: rows t-SNE places (measured on two cores at 128 features: 5,000 rows ~30 s, 10,000 ~120 s),
TSNE_SCALE_ROWS = 5_000
#: and rows UMAP is fitted on before ``transform`` places the rest.
UMAP_SCALE_ROWS = 10_000

_SCALE_ROWS = {"pca": PCA_SCALE_ROWS, "tsne": TSNE_SCALE_ROWS, "umap": UMAP_SCALE_ROWS}

_METRICS = ("euclidean", "cosine", "manhattan", "correlation")


@dataclass(frozen=True, eq=False)
class Projection:
    """Points (and centroids) in a low-dimensional projection."""

    points: np.ndarray  # float64 [shape=(n_rows, n_components)]
    centroids: np.ndarray | None  # float64 [shape=(k, n_components)], same projection
    labels: np.ndarray | None  # int64 [shape=(n_rows,)], cluster ids when projecting a clustering
    method: str  # "pca" | "tsne" | "umap"
    n_components: int
    explained_variance_ratio: tuple[float, ...] | None  # PCA only, one per component
    components: np.ndarray | None  # float64 [shape=(n_components, n_features)], PCA loadings
    names: tuple[str, ...]  # input feature names ("" when unknown)
    metric: str  # metric of the neighbourhoods (PCA: "euclidean")
    params: tuple[tuple[str, float | int | str], ...]  # method settings, e.g. (("perplexity", 30.0),)
    seed: int
    centroid_placement: str  # "transform" | "member-mean" | "none"
    config_digest: str  # of the clustering (or "" for bare arrays)
    placed: np.ndarray  # bool [shape=(n_rows,)], rows with a position (all but at scale with t-SNE: only its sample)
    n_rows: int  # rows projected
    fit_rows: int  # rows the method was fitted on (n_rows unless sampled)
    sample_note: str = ""  # a sentence on the sample at scale; "" when every row was fitted

    def to_dict(self) -> dict:
        """Method, settings and explained variance as plain values (not the points)."""
        return {
            "method": self.method,
            "n_components": self.n_components,
            "explained_variance_ratio": list(self.explained_variance_ratio) if self.explained_variance_ratio else None,
            "metric": self.metric,
            "params": dict(self.params),
            "seed": self.seed,
            "centroid_placement": self.centroid_placement,
            "config_digest": self.config_digest,
            "n_rows": self.n_rows,
            "fit_rows": self.fit_rows,
            "sample_note": self.sample_note,
        }


def _inputs(data, centroids):
    if isinstance(data, ClusterResult):
        X = data.data.X
        cents = data.centroids if centroids is None else centroids
        return X, cents, data.labels, data.data.names, data.metric, data.seed, data.config_digest, data.config.large_rows
    if isinstance(data, Prepared):
        return data.X, centroids, None, data.names, "euclidean", None, "", LARGE_ROWS
    try:
        X = np.asarray(data, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise ParameterError(f"cannot project {type(data).__name__}: {exc}") from exc
    if X.ndim != 2:
        raise ParameterError(f"expected a 2-D array [n_rows, n_features], got shape {X.shape}")
    return X, centroids, None, ("",) * X.shape[1], "euclidean", None, "", LARGE_ROWS


def project(
    data: ClusterResult | Prepared | np.ndarray,
    *,
    method: str = "pca",
    n_components: int = 2,
    centroids: np.ndarray | None = None,
    metric: str | None = None,
    perplexity: float = 30.0,
    n_neighbors: int = 15,
    min_dist: float = 0.1,
    seed: int | None = None,
    large_rows: int | None = None,
    sample_rows: int | None = None,
) -> Projection:
    """Project rows (and their cluster centroids) to ``n_components`` dimensions.

    Parameters
    ----------
    data : ClusterResult or Prepared or np.ndarray [shape=(n_rows, n_features)]
        A clustering (its scaled rows and centroids are projected), prepared
        rows, or any feature/embedding matrix.
    method : {"pca", "tsne", "umap"}
    n_components : int
        2 or 3.
    centroids : np.ndarray [shape=(k, n_features)], optional
        Centroids to place; default: the clustering's.
    metric : str, optional
        t-SNE/UMAP neighbourhood metric; default: the clustering's metric
        (euclidean for arrays). Ignored by PCA.
    perplexity : float
        t-SNE; must be below the number of rows.
    n_neighbors, min_dist : int, float
        UMAP.
    seed : int, optional
        Seed of t-SNE, UMAP and of every sample; default: the clustering's
        seed (42 for arrays).
    large_rows : int, optional
        At or above this many rows fit on a seeded sample (0 = never);
        default: the clustering's ``ClusterConfig.large_rows``, else
        :data:`LARGE_ROWS`.
    sample_rows : int, optional
        Rows in that sample; default :data:`PCA_SCALE_ROWS`,
        :data:`TSNE_SCALE_ROWS` or :data:`UMAP_SCALE_ROWS`.

    Returns
    -------
    Projection
        ``points`` [shape=(n_rows, n_components)] (NaN where ``placed`` is
        False); ``explained_variance_ratio`` for PCA; ``fit_rows`` and
        ``sample_note`` say what was sampled.

    Raises
    ------
    ParameterError
        For an unknown method or metric, or settings the data cannot take.
    ModelError
        If umap-learn is not installed.
    """
    if method not in PROJECTIONS:
        raise ParameterError(f"unknown projection {method!r}; choose one of {list(PROJECTIONS)}")
    if n_components not in (2, 3):
        raise ParameterError(f"n_components must be 2 or 3, got {n_components}")
    X, cents, labels, names, default_metric, default_seed, digest, default_large = _inputs(data, centroids)
    check_finite(X, tuple(names) if len(names) == X.shape[1] else tuple(map(str, range(X.shape[1]))))
    n, p = X.shape
    if n < max(3, n_components + 1):
        raise ParameterError(f"need at least {max(3, n_components + 1)} rows to project, got {n}")
    if cents is not None:
        cents = np.asarray(cents, dtype=np.float64)
        if cents.ndim != 2 or cents.shape[1] != p:
            raise ParameterError(f"centroids must have shape (k, {p}), got {cents.shape}")
        if len(cents) == 0:
            cents = None
    metric = metric or default_metric
    if metric not in _METRICS:
        raise ParameterError(f"unknown metric {metric!r}; choose one of {list(_METRICS)}")
    if seed is None:
        seed = 42 if default_seed is None else default_seed
    seed = int(seed)
    large_rows = default_large if large_rows is None else int(large_rows)
    if large_rows < 0:
        raise ParameterError(f"large_rows must be >= 0 (0 = never sample), got {large_rows}")
    if sample_rows is not None and int(sample_rows) < max(3, n_components + 1):
        raise ParameterError(f"sample_rows must be at least {max(3, n_components + 1)}, got {sample_rows}")
    size = int(sample_rows) if sample_rows is not None else _SCALE_ROWS[method]
    fit = None
    if is_large(n, large_rows) and n > size:
        fit = _sample_rows(n, size, seed)
    try:
        with limit_threads(X.size):
            proj = _project(X, cents, labels, names, method, n_components, metric, perplexity, n_neighbors, min_dist, seed, digest, fit)
    except EngineError:
        raise
    except (ValueError, FloatingPointError) as exc:
        raise ParameterError(f"{method} projection failed: {exc}") from exc
    if fit is None:
        return proj
    why = f"because {n:,} rows >= {large_rows:,}"
    note = {
        "pca": f"PCA fitted on {size:,} of {n:,} rows (a seeded sample), then every row projected, {why}",
        "umap": f"UMAP fitted on {size:,} of {n:,} rows (a seeded sample), the other rows placed by its transform, {why}",
        "tsne": f"t-SNE placed {size:,} of {n:,} rows (a seeded sample; it cannot add the others), {why}",
    }[method]
    return dataclasses.replace(proj, fit_rows=size, sample_note=note)


def _project(X, cents, labels, names, method, n_components, metric, perplexity, n_neighbors, min_dist, seed, digest, fit) -> Projection:
    """Fit ``method`` on every row, or on rows ``fit`` (sorted positions) when sampling."""
    n, p = X.shape
    F = X if fit is None else X[fit]
    m = F.shape[0]
    placed = np.ones(n, dtype=bool)
    evr = components = None
    placement = "none"
    out_c = None
    if method == "pca":
        if n_components > min(m, p):
            raise ParameterError(f"PCA to {n_components} components needs at least {n_components} features, got {p}")
        model = PCA(n_components=n_components, random_state=seed)
        pts = model.fit_transform(X) if fit is None else model.fit(F).transform(X)
        evr = tuple(float(v) for v in model.explained_variance_ratio_)
        components = model.components_.copy()
        if cents is not None:
            out_c, placement = model.transform(cents), "transform"
        params: tuple = ()
        metric = "euclidean"
    elif method == "tsne":
        if not 0 < perplexity < m:
            raise ParameterError(f"perplexity must be in (0, {m}) for {m} rows, got {perplexity}")
        model = TSNE(n_components=n_components, perplexity=perplexity, metric=metric, random_state=seed, init="pca")
        fitted = np.asarray(model.fit_transform(F), dtype=np.float64)
        if fit is None:
            pts = fitted
        else:  # t-SNE has no transform: only the sample is placed
            pts = np.full((n, n_components), np.nan)
            pts[fit] = fitted
            placed[:] = False
            placed[fit] = True
        if cents is not None and labels is not None:
            out_c = np.vstack(
                [
                    pts[placed & (labels == c)].mean(axis=0) if (placed & (labels == c)).any() else np.full(n_components, np.nan)
                    for c in range(len(cents))
                ]
            )
            placement = "member-mean"
        params = (("perplexity", float(perplexity)),)
    else:
        if not 2 <= n_neighbors < m:
            raise ParameterError(f"n_neighbors must be in 2..{m - 1} for {m} rows, got {n_neighbors}")
        if not 0.0 <= min_dist <= 1.0:
            raise ParameterError(f"min_dist must be in [0, 1], got {min_dist}")
        try:
            import umap  # lazy: slow to import (numba)
        except ImportError as exc:
            raise ModelError("UMAP needs umap-learn (pip install umap-learn)") from exc
        with _warnings.catch_warnings():
            _warnings.simplefilter("ignore")
            model = umap.UMAP(
                n_components=n_components,
                n_neighbors=n_neighbors,
                min_dist=min_dist,
                metric=metric,
                random_state=seed,
                n_jobs=1,  # a fixed random_state forces one thread anyway
            )
            fitted = model.fit_transform(F)
            if fit is None:
                pts = fitted
            else:  # the sample keeps its fitted positions; transform places the rest
                pts = np.empty((n, n_components))
                pts[fit] = fitted
                rest = np.ones(n, dtype=bool)
                rest[fit] = False
                pts[rest] = model.transform(X[rest])
            if cents is not None:
                out_c, placement = model.transform(cents), "transform"
        params = (("n_neighbors", int(n_neighbors)), ("min_dist", float(min_dist)))
    return Projection(
        points=np.asarray(pts, dtype=np.float64),
        centroids=None if out_c is None else np.asarray(out_c, dtype=np.float64),
        labels=labels,
        method=method,
        n_components=n_components,
        explained_variance_ratio=evr,
        components=components,
        names=tuple(names),
        metric=metric,
        params=params,
        seed=seed,
        centroid_placement=placement,
        config_digest=digest,
        placed=placed,
        n_rows=n,
        fit_rows=m,
    )
