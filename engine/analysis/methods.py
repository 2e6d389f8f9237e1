"""The clustering methods: K-Means, fuzzy c-means, agglomerative and HDBSCAN, fitted on working rows.

What each method supports, honestly (``ClusterResult.metric_used`` records it):

=============  =========================================================
method         metrics
=============  =========================================================
kmeans         ``euclidean`` (native); ``cosine`` as *spherical* K-Means
               (euclidean K-Means on L2-normalised rows, since
               ``|a - b|^2 = 2 - 2 cos(a, b)`` for unit rows);
               ``correlation`` likewise on row-centred, L2-normalised rows.
               ``manhattan`` is refused: K-Means minimises squared
               euclidean distances; use ``agglomerative``.
fcm            as kmeans (scikit-fuzzy's update is a weighted mean, which
               is only right for euclidean distances).
agglomerative  all four (``correlation`` through a precomputed matrix);
               ``ward`` linkage needs ``euclidean``.
hdbscan        all four (scikit-learn's; ``correlation`` precomputed). It
               chooses the number of clusters itself; ``k`` is ignored and
               rows it leaves out get the label ``-1`` (noise).
=============  =========================================================

Scale. At or above ``ClusterConfig.large_rows`` rows (default
:data:`engine.config.LARGE_ROWS`, 50,000; 0 switches it off) the methods switch to ones
whose cost grows about linearly, and ``ClusterResult.scale_notes`` says in a
sentence what was done (below the threshold every result is exactly as
before, and ``scale_notes`` is empty):

* kmeans -- scikit-learn's ``MiniBatchKMeans`` (batches of
  :data:`MINIBATCH_SIZE` rows, the best of at most :data:`SCALE_N_INIT`
  seeded starts); a config that sets ``fit_sample`` keeps its sampled fit
  instead, which is already bounded;
* fcm -- fitted on :data:`FCM_SCALE_ROWS` seeded rows (at most
  :data:`SCALE_N_INIT` starts), memberships then computed for every row;
* hdbscan -- fitted on :data:`HDBSCAN_SCALE_ROWS` seeded rows (brute force:
  a sample x sample matrix); every other row takes the label of its nearest
  sampled row, so noise stays noise. ``ClusterConfig.scale_sample``
  overrides either sample size;
* agglomerative -- refused above :data:`AGGLOMERATIVE_MAX_ROWS` as before.

:func:`engine.analysis.cluster.cluster` calls them and scores the result;
:func:`engine.analysis.sweep.choose_k` calls them once per k and resample.
"""

from __future__ import annotations

import warnings as _warnings

import numpy as np
import pandas as pd
from sklearn.cluster import HDBSCAN, AgglomerativeClustering, KMeans, MiniBatchKMeans
from sklearn.exceptions import ConvergenceWarning
from sklearn.metrics import pairwise_distances, pairwise_distances_argmin

from ..config import ClusterConfig, is_large
from ..errors import ParameterError
from .scale import unit_rows

__all__ = [
    "METHOD_METRICS",
    "AGGLOMERATIVE_MAX_ROWS",
    "MINIBATCH_SIZE",
    "SCALE_N_INIT",
    "FCM_SCALE_ROWS",
    "HDBSCAN_SCALE_ROWS",
    "working_space",
]

#: For each method, the metrics it supports and what is really computed.
METHOD_METRICS: dict[str, dict[str, str]] = {
    "kmeans": {"euclidean": "euclidean", "cosine": "spherical-cosine", "correlation": "spherical-correlation"},
    "fcm": {"euclidean": "euclidean", "cosine": "spherical-cosine", "correlation": "spherical-correlation"},
    "agglomerative": {m: m for m in ("euclidean", "cosine", "manhattan", "correlation")},
    "hdbscan": {m: m for m in ("euclidean", "cosine", "manhattan", "correlation")},
}

_METRIC_NOTES = {
    "euclidean": "euclidean distances on the scaled features",
    "cosine": "cosine distances on the scaled features",
    "manhattan": "manhattan (L1) distances on the scaled features",
    "correlation": "correlation distances (1 - Pearson r between rows) on the scaled features",
    "spherical-cosine": "spherical K-Means: euclidean on L2-normalised rows, equivalent to cosine distance",
    "spherical-correlation": "euclidean on row-centred, L2-normalised rows, equivalent to correlation distance",
}

#: Agglomerative clustering keeps an n x n distance structure; refuse larger inputs.
AGGLOMERATIVE_MAX_ROWS = 20_000

#: At or above ``ClusterConfig.large_rows`` rows (default :data:`LARGE_ROWS`):
#: rows per mini-batch of MiniBatchKMeans,
MINIBATCH_SIZE = 4096
#: the most seeded starts of MiniBatchKMeans and fuzzy c-means,
SCALE_N_INIT = 3
#: rows fuzzy c-means is fitted on (``ClusterConfig.scale_sample`` overrides),
FCM_SCALE_ROWS = 20_000
#: and rows HDBSCAN is fitted on (it holds a sample x sample distance matrix:
#: 10,000 rows is 0.8 GB and about 6 s at 128 features on two cores).
HDBSCAN_SCALE_ROWS = 10_000

_FCM_ERROR = 1e-5  # stop when the membership matrix changes less than this (Frobenius)
_FCM_MAXITER = 300


def working_space(X: np.ndarray, metric_used: str) -> np.ndarray:
    """The rows a method really works on for a given ``metric_used``.

    Parameters
    ----------
    X : np.ndarray [shape=(n_rows, n_features)]
        Scaled features.
    metric_used : str
        A value of :data:`METHOD_METRICS`.

    Returns
    -------
    np.ndarray [shape=(n_rows, n_features)]
        ``X`` itself, or its L2-normalised (row-centred first for
        correlation) rows for the spherical variants. All-zero rows stay zero.
    """
    if metric_used == "spherical-cosine":
        return unit_rows(X)
    if metric_used == "spherical-correlation":
        return unit_rows(X, center=True)
    return X


def _resolve_metric(method: str, metric: str, linkage: str) -> str:
    supported = METHOD_METRICS[method]
    if metric not in supported:
        raise ParameterError(
            f"{method} does not support the {metric!r} metric (it minimises squared euclidean distances); "
            f"use one of {sorted(supported)}, or method='agglomerative' for {metric!r}"
        )
    if method == "agglomerative" and linkage == "ward" and metric != "euclidean":
        raise ParameterError(f"ward linkage needs the euclidean metric, got {metric!r}; use average or complete linkage")
    return supported[metric]


def _sample_rows(n: int, size: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return np.sort(rng.choice(n, size=size, replace=False))


def _fcm_memberships(Z: np.ndarray, centers: np.ndarray, m: float) -> np.ndarray:
    """Memberships [shape=(n_rows, k)] of rows to fixed centres (the fcm update)."""
    d = pairwise_distances(Z, centers, metric="euclidean")
    d = np.fmax(d, np.finfo(np.float64).eps)
    inv = d ** (-2.0 / (m - 1.0))
    return inv / inv.sum(axis=1, keepdims=True)


def _fit_fcm(Z: np.ndarray, k: int, config: ClusterConfig, seed: int, n_init: int) -> tuple[np.ndarray, np.ndarray, int]:
    try:
        import skfuzzy
    except ImportError as exc:  # pragma: no cover - a declared dependency
        raise ParameterError("fuzzy c-means needs scikit-fuzzy (pip install scikit-fuzzy)") from exc
    rng = np.random.default_rng(seed)
    best = None
    for _ in range(n_init):
        # Our own seeded start: skfuzzy's seed= would reseed numpy's global state.
        u0 = rng.random((k, Z.shape[0]))
        u0 /= u0.sum(axis=0, keepdims=True)
        try:
            centers, u, _, _, jm, n_iter, _ = skfuzzy.cluster.cmeans(
                Z.T, k, config.fcm_m, error=_FCM_ERROR, maxiter=_FCM_MAXITER, init=u0
            )
        except Exception as exc:
            raise ParameterError(f"fuzzy c-means failed: {exc}") from exc
        if best is None or jm[-1] < best[0]:
            best = (float(jm[-1]), centers, int(n_iter))
    return best[1], _fcm_memberships(Z, best[1], config.fcm_m), best[2]


def _fit(Z: np.ndarray, k: int, config: ClusterConfig, metric_used: str, seed: int, notes: list[str], scale: list[str]):
    """Fit one method on working rows ``Z``; return raw labels and fcm memberships.

    Sentences saying how a large input was handled go to ``scale``; other notes to ``notes``.
    """
    n = Z.shape[0]
    method = config.method
    subsample = config.fit_sample and n > config.fit_sample and method in ("kmeans", "fcm")
    fit_rows = _sample_rows(n, config.fit_sample, seed) if subsample else None
    # A config that sets fit_sample keeps it at every size: its fit is already bounded.
    large = is_large(n, config.large_rows) and not subsample
    why = f"because {n:,} rows >= {config.large_rows:,}"
    with _warnings.catch_warnings(record=True) as caught:
        _warnings.simplefilter("always")
        memberships = None
        if method == "kmeans" and large:
            n_init = min(config.n_init, SCALE_N_INIT)
            model = MiniBatchKMeans(n_clusters=k, batch_size=MINIBATCH_SIZE, n_init=n_init, random_state=seed)
            labels = model.fit(Z).labels_
            scale.append(f"MiniBatchKMeans (batch {MINIBATCH_SIZE}, best of {n_init} seeded starts) instead of K-Means {why}")
        elif method == "kmeans":
            model = KMeans(n_clusters=k, n_init=config.n_init, random_state=seed)
            model.fit(Z if fit_rows is None else Z[fit_rows])
            labels = model.labels_ if fit_rows is None else model.predict(Z)
        elif method == "fcm":
            n_init = config.n_init
            if large:
                n_init = min(config.n_init, SCALE_N_INIT)
                size = config.scale_sample or FCM_SCALE_ROWS
                if n > size:
                    fit_rows = _sample_rows(n, size, seed)
                used = n if fit_rows is None else size
                scale.append(
                    f"fuzzy c-means fitted on {used:,} of {n:,} rows (seeded, best of {n_init} starts), "
                    f"then memberships computed for every row, {why}"
                )
            centers, _, _ = _fit_fcm(Z if fit_rows is None else Z[fit_rows], k, config, seed, n_init)
            memberships = _fcm_memberships(Z, centers, config.fcm_m)
            labels = memberships.argmax(axis=1)
        elif method == "agglomerative":
            if n > AGGLOMERATIVE_MAX_ROWS:
                raise ParameterError(
                    f"agglomerative clustering keeps an n x n structure; {n} rows is over {AGGLOMERATIVE_MAX_ROWS}. "
                    "Use kmeans or hdbscan"
                )
            if metric_used == "correlation":
                D = pairwise_distances(Z, metric="correlation")
                model = AgglomerativeClustering(n_clusters=k, metric="precomputed", linkage=config.linkage)
                labels = model.fit_predict(np.nan_to_num(D, nan=1.0))
            else:
                model = AgglomerativeClustering(n_clusters=k, metric=metric_used, linkage=config.linkage)
                labels = model.fit_predict(Z)
        elif method == "hdbscan":
            size = config.scale_sample or HDBSCAN_SCALE_ROWS
            if large and n > size:
                labels = _hdbscan_sampled(Z, config, metric_used, _sample_rows(n, size, seed))
                scale.append(
                    f"hdbscan fitted on {size:,} of {n:,} rows (seeded; min_cluster_size counts sampled rows), "
                    f"every other row given the label of its nearest sampled row (noise stays noise), {why}"
                )
            else:
                labels = _hdbscan(Z, config, metric_used)
        else:  # pragma: no cover - ClusterConfig validates
            raise ParameterError(f"unknown clustering method {method!r}")
    for w in caught:
        if issubclass(w.category, (ConvergenceWarning, RuntimeWarning, UserWarning)) and not issubclass(
            w.category, (DeprecationWarning, FutureWarning)
        ):
            notes.append(f"{method}: {w.message}")
    if subsample:
        notes.append(f"{method} fitted on {config.fit_sample} of {n} rows (seeded), then every row assigned")
    return np.asarray(labels, dtype=np.int64), memberships


def _hdbscan(Z: np.ndarray, config: ClusterConfig, metric_used: str, **options) -> np.ndarray:
    if metric_used == "correlation":
        D = np.nan_to_num(pairwise_distances(Z, metric="correlation"), nan=1.0)
        model = HDBSCAN(min_cluster_size=config.min_cluster_size, metric="precomputed", copy=True)
        return model.fit_predict(D)
    model = HDBSCAN(min_cluster_size=config.min_cluster_size, metric=metric_used, copy=True, **options)
    return model.fit_predict(Z)


def _hdbscan_sampled(Z: np.ndarray, config: ClusterConfig, metric_used: str, fit_rows: np.ndarray) -> np.ndarray:
    """HDBSCAN on ``Z[fit_rows]``; every other row takes the label of its nearest sampled row."""
    # brute force: at 128 features scikit-learn's tree-based HDBSCAN is ~5x slower on 10,000 rows
    sample_labels = _hdbscan(Z[fit_rows], config, metric_used, algorithm="brute")
    labels = np.empty(Z.shape[0], dtype=np.int64)
    labels[fit_rows] = sample_labels
    rest = np.ones(Z.shape[0], bool)
    rest[fit_rows] = False
    if rest.any():
        with np.errstate(invalid="ignore", divide="ignore"):
            nearest = pairwise_distances_argmin(Z[rest], Z[fit_rows], metric=metric_used)
        labels[rest] = sample_labels[nearest]
    return labels


def _canonical(labels: np.ndarray, memberships: np.ndarray | None):
    """Renumber clusters by size, largest first (ties: first appearance)."""
    ids = [c for c in pd.unique(labels) if c >= 0]
    sizes = {c: int((labels == c).sum()) for c in ids}
    first = {c: i for i, c in enumerate(ids)}
    order = sorted(ids, key=lambda c: (-sizes[c], first[c]))
    mapping = {old: new for new, old in enumerate(order)}
    lut = np.full(int(labels.max(initial=-1)) + 2, -1, dtype=np.int64)  # lut[-1] stays -1 for noise
    for old, new in mapping.items():
        lut[old] = new
    out = lut[labels] if len(labels) else labels.astype(np.int64)
    if memberships is not None:
        # fcm: keep every column (a cluster may have no argmax member); empty ones go last.
        empty = [c for c in range(memberships.shape[1]) if c not in mapping]
        memberships = memberships[:, order + empty]
    return out, memberships
