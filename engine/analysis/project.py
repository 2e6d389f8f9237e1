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

import warnings as _warnings

import numpy as np
from sklearn.decomposition import PCA
from sklearn.manifold import TSNE

from .._threads import limit_threads
from ..config import LARGE_ROWS, is_large
from ..errors import EngineError, ModelError, ParameterError
from ..records import ClusterResult, Prepared, Projection
from .methods import _sample_rows
from .scale import check_finite

__all__ = ["PROJECTIONS", "LARGE_ROWS", "PCA_SCALE_ROWS", "TSNE_SCALE_ROWS", "UMAP_SCALE_ROWS", "project"]

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
    X, cents, labels, names, default_metric, default_seed, digest, default_large = _inputs(data, centroids)
    cents = _check_rows(X, cents, names, method=method, n_components=n_components)
    metric = metric or default_metric
    seed = int((42 if default_seed is None else default_seed) if seed is None else seed)
    large_rows = default_large if large_rows is None else int(large_rows)
    size = _check_settings(method, n_components=n_components, metric=metric, large_rows=large_rows, sample_rows=sample_rows)
    n = X.shape[0]
    fit = note = None
    if is_large(n, large_rows) and n > size:
        fit = _sample_rows(n, size, seed)
        note = _sample_note(method, size=size, n=n, large_rows=large_rows)
    options = dict(perplexity=perplexity, n_neighbors=n_neighbors, min_dist=min_dist)
    fields = _fit(X, cents, labels, method=method, n_components=n_components, metric=metric, seed=seed, fit=fit, **options)
    return Projection(
        labels=labels, method=method, n_components=n_components, names=tuple(names), seed=seed, config_digest=digest,
        n_rows=n, fit_rows=n if fit is None else len(fit), sample_note=note or "", **fields,
    )


def _check_rows(X: np.ndarray, cents, names, *, method: str, n_components: int) -> np.ndarray | None:
    """Check the method, the rows and the centroids; return the centroids as float64 (None when there are none)."""
    if method not in PROJECTIONS:
        raise ParameterError(f"unknown projection {method!r}; choose one of {list(PROJECTIONS)}")
    if n_components not in (2, 3):
        raise ParameterError(f"n_components must be 2 or 3, got {n_components}")
    check_finite(X, tuple(names) if len(names) == X.shape[1] else tuple(map(str, range(X.shape[1]))))
    n, p = X.shape
    if n < max(3, n_components + 1):
        raise ParameterError(f"need at least {max(3, n_components + 1)} rows to project, got {n}")
    if cents is None:
        return None
    cents = np.asarray(cents, dtype=np.float64)
    if cents.ndim != 2 or cents.shape[1] != p:
        raise ParameterError(f"centroids must have shape (k, {p}), got {cents.shape}")
    return cents if len(cents) else None


def _check_settings(method: str, *, n_components: int, metric: str, large_rows: int, sample_rows: int | None) -> int:
    """Check the metric and the sampling settings; return the sample size used at scale."""
    if metric not in _METRICS:
        raise ParameterError(f"unknown metric {metric!r}; choose one of {list(_METRICS)}")
    if large_rows < 0:
        raise ParameterError(f"large_rows must be >= 0 (0 = never sample), got {large_rows}")
    if sample_rows is not None and int(sample_rows) < max(3, n_components + 1):
        raise ParameterError(f"sample_rows must be at least {max(3, n_components + 1)}, got {sample_rows}")
    return int(sample_rows) if sample_rows is not None else _SCALE_ROWS[method]


def _sample_note(method: str, *, size: int, n: int, large_rows: int) -> str:
    why = f"because {n:,} rows >= {large_rows:,}"
    return {
        "pca": f"PCA fitted on {size:,} of {n:,} rows (a seeded sample), then every row projected, {why}",
        "umap": f"UMAP fitted on {size:,} of {n:,} rows (a seeded sample), the other rows placed by its transform, {why}",
        "tsne": f"t-SNE placed {size:,} of {n:,} rows (a seeded sample; it cannot add the others), {why}",
    }[method]


def _fit(X, cents, labels, *, method: str, n_components: int, metric: str, seed: int, fit, **options) -> dict:
    """The method-specific fields of a :class:`Projection`: fitted on every row, or on rows ``fit`` (sorted positions)."""
    n = X.shape[0]
    F = X if fit is None else X[fit]
    try:
        with limit_threads(X.size):
            if method == "pca":
                fields = _pca(X, F, cents, n_components=n_components, seed=seed, fit=fit)
            elif method == "tsne":
                fields = _tsne(X, F, cents, labels, n_components=n_components, metric=metric, seed=seed, fit=fit,
                               perplexity=options["perplexity"])
            else:
                fields = _umap(X, F, cents, n_components=n_components, metric=metric, seed=seed, fit=fit,
                               n_neighbors=options["n_neighbors"], min_dist=options["min_dist"])
    except EngineError:
        raise
    except (ValueError, FloatingPointError) as exc:
        raise ParameterError(f"{method} projection failed: {exc}") from exc
    out = {"centroids": None, "centroid_placement": "none", "placed": np.ones(n, dtype=bool), "metric": metric,
           "explained_variance_ratio": None, "components": None, **fields}
    out["points"] = np.asarray(out["points"], dtype=np.float64)
    out["centroids"] = None if out["centroids"] is None else np.asarray(out["centroids"], dtype=np.float64)
    return out


def _pca(X, F, cents, *, n_components: int, seed: int, fit) -> dict:
    p = X.shape[1]
    if n_components > min(F.shape[0], p):
        raise ParameterError(f"PCA to {n_components} components needs at least {n_components} features, got {p}")
    model = PCA(n_components=n_components, random_state=seed)
    pts = model.fit_transform(X) if fit is None else model.fit(F).transform(X)
    fields = {
        "points": pts,
        "explained_variance_ratio": tuple(float(v) for v in model.explained_variance_ratio_),
        "components": model.components_.copy(),
        "params": (),
        "metric": "euclidean",  # PCA is linear and euclidean whatever the clustering metric
    }
    if cents is not None:
        fields.update(centroids=model.transform(cents), centroid_placement="transform")
    return fields


def _tsne(X, F, cents, labels, *, n_components: int, metric: str, seed: int, fit, perplexity: float) -> dict:
    n, m = X.shape[0], F.shape[0]
    if not 0 < perplexity < m:
        raise ParameterError(f"perplexity must be in (0, {m}) for {m} rows, got {perplexity}")
    model = TSNE(n_components=n_components, perplexity=perplexity, metric=metric, random_state=seed, init="pca")
    fitted = np.asarray(model.fit_transform(F), dtype=np.float64)
    placed = np.ones(n, dtype=bool)
    if fit is None:
        pts = fitted
    else:  # t-SNE has no transform: only the sample is placed
        pts = np.full((n, n_components), np.nan)
        pts[fit] = fitted
        placed[:] = False
        placed[fit] = True
    fields = {"points": pts, "placed": placed, "params": (("perplexity", float(perplexity)),)}
    if cents is not None and labels is not None:
        members = [placed & (labels == c) for c in range(len(cents))]
        fields["centroids"] = np.vstack([pts[m].mean(axis=0) if m.any() else np.full(n_components, np.nan) for m in members])
        fields["centroid_placement"] = "member-mean"
    return fields


def _umap(X, F, cents, *, n_components: int, metric: str, seed: int, fit, n_neighbors: int, min_dist: float) -> dict:
    n, m = X.shape[0], F.shape[0]
    if not 2 <= n_neighbors < m:
        raise ParameterError(f"n_neighbors must be in 2..{m - 1} for {m} rows, got {n_neighbors}")
    if not 0.0 <= min_dist <= 1.0:
        raise ParameterError(f"min_dist must be in [0, 1], got {min_dist}")
    try:
        import umap  # lazy: slow to import (numba)
    except ImportError as exc:
        raise ModelError("UMAP needs umap-learn (pip install umap-learn)") from exc
    fields = {"params": (("n_neighbors", int(n_neighbors)), ("min_dist", float(min_dist)))}
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
            fields.update(centroids=model.transform(cents), centroid_placement="transform")
    fields["points"] = pts
    return fields
