"""Cluster sections: K-Means, fuzzy c-means, agglomerative and HDBSCAN; choose k; summarise.

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

Cluster ids are canonical: 0 is the largest cluster, then by size
(ties by first appearance), so a result does not depend on the arbitrary
numbering of the underlying library.

Scores. The silhouette uses the requested metric (sampled, seeded, above
``ClusterConfig.silhouette_sample`` rows). Davies-Bouldin,
Calinski-Harabasz and inertia are euclidean by definition; they are computed
in the space the method worked in (the scaled rows, or the unit rows of
spherical K-Means). Noise rows are left out of every score.

Scale. At or above ``ClusterConfig.large_rows`` rows (default
:data:`LARGE_ROWS`, 50,000; 0 switches it off) the methods switch to ones
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

The silhouette is always sampled; the other scores and :func:`summarize`
are linear in the rows.
"""

from __future__ import annotations

import hashlib
import warnings as _warnings
from dataclasses import dataclass

import numpy as np
import pandas as pd
from sklearn.cluster import HDBSCAN, AgglomerativeClustering, KMeans, MiniBatchKMeans
from sklearn.exceptions import ConvergenceWarning
from sklearn.metrics import (
    adjusted_rand_score,
    calinski_harabasz_score,
    davies_bouldin_score,
    pairwise_distances,
    pairwise_distances_argmin,
    silhouette_score,
)

from ..config import LARGE_ROWS, THESIS_FEATURES, ClusterConfig, is_large
from .._threads import limit_threads
from ..errors import EngineError, ParameterError
from .scale import Prepared, prepare, unit_rows
from ..store.tables import TableLike

__all__ = [
    "METHOD_METRICS",
    "AGGLOMERATIVE_MAX_ROWS",
    "LARGE_ROWS",
    "MINIBATCH_SIZE",
    "SCALE_N_INIT",
    "FCM_SCALE_ROWS",
    "HDBSCAN_SCALE_ROWS",
    "CLUSTER_PRESETS",
    "cluster_preset",
    "ClusterResult",
    "data_digest",
    "clustering_digest",
    "ClusterSummary",
    "KSweep",
    "cluster",
    "summarize",
    "choose_k",
    "find_knee",
    "working_space",
    "is_large",
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

#: At or above ``ClusterConfig.large_rows``, :func:`choose_k` scores k on a seeded sample of this many rows.
SWEEP_SAMPLE = 20_000

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


def _thesis_config() -> ClusterConfig:
    return ClusterConfig(
        method="kmeans",
        k=4,
        metric="euclidean",
        scaler="l2-column",
        features=THESIS_FEATURES,
        dedupe=True,
        seed=42,
        n_init=10,
    )


#: Named clustering presets (the CLI's ``--preset``).
CLUSTER_PRESETS = {"default": ClusterConfig, "thesis": _thesis_config}


def cluster_preset(name: str) -> ClusterConfig:
    """Return a named clustering preset.

    ``thesis``: the thesis's 17 features, ``l2-column`` scaling, dedupe,
    K-Means with k=4, seed 42 and n_init 10.

    Raises
    ------
    ParameterError
        If ``name`` is not in :data:`CLUSTER_PRESETS`.
    """
    try:
        return CLUSTER_PRESETS[name]()
    except KeyError:
        raise ParameterError(f"unknown cluster preset {name!r}; choose one of {sorted(CLUSTER_PRESETS)}") from None


# --------------------------------------------------------------------------- records


@dataclass(frozen=True, eq=False)
class ClusterResult:
    """One clustering of prepared sections.

    Labels are canonical (0 = largest cluster); ``-1`` marks HDBSCAN noise.
    """

    labels: np.ndarray  # int64 [shape=(n_rows,)]
    centroids: np.ndarray  # float64 [shape=(k, n_features)], member mean (median for manhattan), scaled units
    centroids_original: np.ndarray  # float64 [shape=(k, n_features)], the same statistic in original units
    sizes: tuple[int, ...]  # members per cluster, by cluster id
    k: int  # clusters found
    k_requested: int  # ClusterConfig.k (hdbscan ignores it)
    method: str
    metric: str  # requested
    metric_used: str  # what was computed; see METHOD_METRICS
    metric_note: str  # a sentence on metric_used
    seed: int
    config: ClusterConfig
    config_digest: str  # the clustering's digest: its settings AND its data (see clustering_digest)
    silhouette: float  # NaN when undefined (fewer than 2 clusters)
    davies_bouldin: float
    calinski_harabasz: float
    inertia: float  # within-cluster sum of squares in the working space
    n_noise: int  # rows labelled -1
    memberships: np.ndarray | None  # float64 [shape=(n_rows, k)], fcm only, rows sum to 1
    fpc: float | None  # fcm: fuzzy partition coefficient, in [1/k, 1]
    boundary: np.ndarray | None  # bool [shape=(n_rows,)], fcm: top-two memberships within fcm_margin
    data: Prepared  # the rows clustered, scaled and in original units
    warnings: tuple[str, ...]
    scale_notes: tuple[str, ...] = ()  # how a large input was handled (see LARGE_ROWS); () below the threshold
    settings_digest: str = ""  # ClusterConfig.digest(): the settings alone
    data_digest: str = ""  # data_digest(data): the section table's digest and the rows clustered

    def __len__(self) -> int:
        return int(self.labels.shape[0])

    @property
    def table_digest(self) -> str:
        """The digest of the section table clustered (the analysis it came from)."""
        return self.data.table_digest

    def metrics(self) -> dict:
        """Scores and sizes as plain Python values (for JSON)."""
        out = {
            "method": self.method,
            "metric": self.metric,
            "metric_used": self.metric_used,
            "k": self.k,
            "n_rows": len(self),
            "n_duplicates_dropped": self.data.n_duplicates,
            "sizes": list(self.sizes),
            "silhouette": _json_float(self.silhouette),
            "davies_bouldin": _json_float(self.davies_bouldin),
            "calinski_harabasz": _json_float(self.calinski_harabasz),
            "inertia": _json_float(self.inertia),
            "n_noise": self.n_noise,
            "config_digest": self.config_digest,
            "settings_digest": self.settings_digest,
            "table_digest": self.table_digest,
        }
        if self.fpc is not None:
            out["fpc"] = _json_float(self.fpc)
            out["n_boundary"] = int(self.boundary.sum())
        if self.scale_notes:
            out["scale_notes"] = list(self.scale_notes)
        return out

    def assignments(self) -> pd.DataFrame:
        """The rows' metadata with a ``cluster`` column (and memberships for fcm)."""
        frame = self.data.meta.copy()
        frame["cluster"] = self.labels
        if self.memberships is not None:
            for j in range(self.memberships.shape[1]):
                frame[f"membership_{j}"] = self.memberships[:, j]
            frame["boundary"] = self.boundary
        return frame


@dataclass(frozen=True, eq=False)
class ClusterSummary:
    """What one cluster holds."""

    cluster: int
    size: int
    share: float  # size / rows clustered
    tracks: tuple[tuple[str, int], ...]  # (track name, members), most members first
    names: tuple[str, ...]  # feature names
    profile: np.ndarray  # float64 [shape=(n_features,)], centroid in original units
    profile_z: np.ndarray  # float64 [shape=(n_features,)], (profile - overall mean) / overall std, original units
    typical: tuple[int, ...]  # row positions (in result.data) closest to the centroid
    typical_distance: tuple[float, ...]
    atypical: tuple[int, ...]  # row positions farthest from the centroid
    atypical_distance: tuple[float, ...]


@dataclass(frozen=True, eq=False)
class KSweep:
    """Scores of one method over a range of k, and a suggested k."""

    ks: np.ndarray  # int64 [shape=(n_k,)]
    inertia: np.ndarray  # float64 [shape=(n_k,)], elbow curve
    silhouette: np.ndarray  # float64 [shape=(n_k,)]
    davies_bouldin: np.ndarray  # float64 [shape=(n_k,)], lower is better
    calinski_harabasz: np.ndarray  # float64 [shape=(n_k,)], higher is better
    stability: np.ndarray  # float64 [shape=(n_k,)], mean bootstrap ARI (NaN when n_bootstrap = 0)
    stability_std: np.ndarray  # float64 [shape=(n_k,)]
    knee: int | None  # k at the elbow of the inertia curve, if one is found
    suggested_k: int
    reason: str
    n_bootstrap: int
    stable_threshold: float
    method: str
    metric_used: str
    config_digest: str  # the settings and the data swept (see clustering_digest)
    scale_notes: tuple[str, ...] = ()  # how the fits of a large input were made (see LARGE_ROWS)

    def to_frame(self) -> pd.DataFrame:
        """One row per k."""
        return pd.DataFrame(
            {
                "k": self.ks,
                "inertia": self.inertia,
                "silhouette": self.silhouette,
                "davies_bouldin": self.davies_bouldin,
                "calinski_harabasz": self.calinski_harabasz,
                "stability": self.stability,
                "stability_std": self.stability_std,
            }
        )

    def to_dict(self) -> dict:
        """Plain Python values (for JSON)."""
        return {
            "rows": [{k: _json_float(v) if isinstance(v, float) else int(v) for k, v in r.items()} for r in self.to_frame().to_dict("records")],
            "knee": self.knee,
            "suggested_k": self.suggested_k,
            "reason": self.reason,
            "n_bootstrap": self.n_bootstrap,
            "method": self.method,
            "metric_used": self.metric_used,
            "config_digest": self.config_digest,
            **({"scale_notes": list(self.scale_notes)} if self.scale_notes else {}),
        }


def _json_float(x) -> float | None:
    x = float(x)
    return x if np.isfinite(x) else None


# --------------------------------------------------------------------------- core


def data_digest(prepared: Prepared) -> str:
    """A 16-hex-digit digest of what a clustering was fitted on, beyond its settings.

    It covers the section table's digest (the analysis settings, or the
    bytes of a loaded file), the feature names, and the track id and section
    number of every row, in order. Different section lengths change the
    table digest; different libraries change the track ids. It reads only
    metadata (a few bytes per row), never the feature values.

    Parameters
    ----------
    prepared : Prepared
        The rows clustered.

    Returns
    -------
    str
    """
    h = hashlib.sha256()
    h.update(f"{prepared.table_digest}\x00{prepared.n_input_rows}\x00".encode())
    h.update("\x1f".join(prepared.names).encode() + b"\x00")
    h.update("\x1f".join(prepared.meta["track_id"].astype(str)).encode() + b"\x00")
    h.update(np.asarray(prepared.meta["section"], dtype=np.int64).tobytes())
    h.update(np.asarray(prepared.rows, dtype=np.int64).tobytes())
    return h.hexdigest()[:16]


def clustering_digest(config: ClusterConfig, prepared: Prepared) -> str:
    """The digest of one clustering: its settings and its data (see :func:`data_digest`).

    This is ``ClusterResult.config_digest``: reviews are keyed on it and
    exports carry it, so judgements and files made on different section
    lengths or libraries never mix.
    """
    text = f"cluster:{config.digest()}:{data_digest(prepared)}"
    return hashlib.sha256(text.encode()).hexdigest()[:16]


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


def _centres(values: np.ndarray, labels: np.ndarray, k: int, metric: str) -> np.ndarray:
    stat = np.median if metric == "manhattan" else np.mean
    if k == 0:
        return np.empty((0, values.shape[1]))
    return np.vstack([stat(values[labels == c], axis=0) for c in range(k)])


def _scores(X, Z, labels, k, metric, config, seed):
    """Silhouette (requested metric), DB, CH and inertia (working space)."""
    keep = labels >= 0
    # no noise: score the rows as they are (copies of 100,000 x 128 rows cost more than the scores)
    Xk, Zk, lk = (X, Z, labels) if keep.all() else (X[keep], Z[keep], labels[keep])
    n = lk.shape[0]
    if k < 2 or n <= k:
        return np.nan, np.nan, np.nan, _inertia(Zk, lk, k)
    try:
        sample = config.silhouette_sample if n > config.silhouette_sample else None
        sil = float(silhouette_score(Xk, lk, metric=metric, sample_size=sample, random_state=seed))
    except ValueError:
        sil = np.nan  # e.g. a sample that happened to hold one cluster only
    db = float(davies_bouldin_score(Zk, lk))
    ch = float(calinski_harabasz_score(Zk, lk))
    return sil, db, ch, _inertia(Zk, lk, k)


def _inertia(Z: np.ndarray, labels: np.ndarray, k: int) -> float:
    total = 0.0
    for c in range(k):
        members = Z[labels == c]
        if len(members):
            total += float(((members - members.mean(axis=0)) ** 2).sum())
    return total


def _check_config(config) -> ClusterConfig:
    config = ClusterConfig() if config is None else config
    if not isinstance(config, ClusterConfig):
        raise ParameterError(f"config must be a ClusterConfig, got {type(config).__name__}")
    return config


def _prepared(data: TableLike | Prepared, config: ClusterConfig) -> Prepared:
    if isinstance(data, Prepared):
        if config.features and data.names != tuple(config.features):
            raise ParameterError(f"the prepared data holds features {list(data.names)}, not the config's {list(config.features)}")
        if data.scaler != config.scaler or data.dedupe != config.dedupe:
            raise ParameterError(
                f"the prepared data was scaled with {data.scaler!r} (dedupe={data.dedupe}), "
                f"but the config asks for {config.scaler!r} (dedupe={config.dedupe})"
            )
        return data
    return prepare(data, config=config)


def cluster(data: TableLike | Prepared, *, config: ClusterConfig | None = None) -> ClusterResult:
    """Cluster sections with the method, metric and k of ``config``.

    Parameters
    ----------
    data : SectionTable or Prepared or path or DataFrame
        The sections; a :class:`~engine.analysis.scale.Prepared` is used as is (it
        must match the config's scaler, dedupe and features), anything else
        goes through :func:`engine.analysis.scale.prepare`.
    config : ClusterConfig, optional
        Default ``ClusterConfig()`` (K-Means, k=4, zscore, seed 42).

    Returns
    -------
    ClusterResult
        Canonical labels [shape=(n_rows,)], centroids, scores and, for fcm,
        memberships [shape=(n_rows, k)] and boundary sections.

    Raises
    ------
    ParameterError
        If the method does not support the metric, ``k`` is not below the
        number of rows, or the data is invalid.

    Examples
    --------
    >>> from engine.analysis.cluster import cluster, cluster_preset
    >>> result = cluster("tests/data/out_dataset_1.csv", config=cluster_preset("thesis"))
    >>> result.sizes
    (331, 327, 81, 66)
    """
    config = _check_config(config)
    metric_used = _resolve_metric(config.method, config.metric, config.linkage)
    prep = _prepared(data, config)
    with limit_threads(prep.X.size):
        return _cluster(prep, config, metric_used)


def _cluster(prep: Prepared, config: ClusterConfig, metric_used: str) -> ClusterResult:
    X = prep.X
    n = X.shape[0]
    if config.method != "hdbscan" and config.k >= n:
        raise ParameterError(f"k={config.k} must be smaller than the number of rows ({n})")
    if config.method == "hdbscan" and config.min_cluster_size > n:
        raise ParameterError(f"min_cluster_size={config.min_cluster_size} is larger than the number of rows ({n})")
    notes = list(prep.warnings)
    scale: list[str] = []
    Z = working_space(X, metric_used)
    if metric_used.startswith("spherical") and not np.all(np.linalg.norm(Z, axis=1) > 0):
        notes.append("some rows are all zero after scaling (or constant, for correlation); they have no direction")
    try:
        raw_labels, memberships = _fit(Z, config.k, config, metric_used, config.seed, notes, scale)
    except EngineError:
        raise
    except (ValueError, MemoryError) as exc:
        raise ParameterError(f"{config.method} failed: {exc}") from exc
    labels, memberships = _canonical(raw_labels, memberships)
    k = int(labels.max() + 1) if (labels >= 0).any() else 0
    if config.method != "hdbscan" and k < config.k:
        notes.append(f"found {k} distinct clusters, fewer than the {config.k} asked for")
    if config.method == "hdbscan" and k < 2:
        notes.append(f"hdbscan found {k} cluster(s); try a smaller min_cluster_size")
    fpc = boundary = None
    if memberships is not None:
        fpc = float((memberships**2).sum() / n)
        top2 = np.sort(memberships, axis=1)[:, -2:]
        boundary = (top2[:, 1] - top2[:, 0]) < config.fcm_margin
        if fpc - 1.0 / memberships.shape[1] < 0.01:
            notes.append(
                f"fuzzy c-means collapsed: memberships are nearly uniform (FPC {fpc:.3f} ~ 1/k), a known failure "
                "in many dimensions; lower fcm_m (e.g. 1.2-1.5) or use fewer features"
            )
    sil, db, ch, inertia = _scores(X, Z, labels, k, config.metric, config, config.seed)
    keep = labels >= 0
    noise = not keep.all()
    return ClusterResult(
        labels=labels,
        centroids=_centres(X[keep] if noise else X, labels[keep], k, config.metric),
        centroids_original=_centres(prep.raw[keep] if noise else prep.raw, labels[keep], k, config.metric),
        sizes=tuple(int((labels == c).sum()) for c in range(k)),
        k=k,
        k_requested=config.k,
        method=config.method,
        metric=config.metric,
        metric_used=metric_used,
        metric_note=_METRIC_NOTES[metric_used],
        seed=config.seed,
        config=config,
        config_digest=clustering_digest(config, prep),
        silhouette=sil,
        davies_bouldin=db,
        calinski_harabasz=ch,
        inertia=inertia,
        n_noise=int((~keep).sum()),
        memberships=memberships,
        fpc=fpc,
        boundary=boundary,
        data=prep,
        warnings=tuple(dict.fromkeys(notes)),
        scale_notes=tuple(dict.fromkeys(scale)),
        settings_digest=config.digest(),
        data_digest=data_digest(prep),
    )


# --------------------------------------------------------------------------- summaries


def summarize(result: ClusterResult, *, n_examples: int = 3) -> tuple[ClusterSummary, ...]:
    """Describe each cluster: size, tracks, centroid profile, typical and atypical sections.

    Parameters
    ----------
    result : ClusterResult
    n_examples : int
        How many typical (closest to the centroid) and atypical (farthest)
        sections to name per cluster. Distances use the requested metric in
        the scaled space.

    Returns
    -------
    tuple of ClusterSummary
        One per cluster, by cluster id.

    Raises
    ------
    ParameterError
        If ``n_examples`` is below 1.
    """
    if not isinstance(result, ClusterResult):
        raise ParameterError(f"expected a ClusterResult, got {type(result).__name__}")
    if n_examples < 1:
        raise ParameterError(f"n_examples must be >= 1, got {n_examples}")
    X, raw = result.data.X, result.data.raw
    mean, std = raw.mean(axis=0), raw.std(axis=0)
    std = np.where(std > 0, std, 1.0)
    names = result.data.meta["name"].astype(str).to_numpy()
    out = []
    for c in range(result.k):
        idx = np.flatnonzero(result.labels == c)
        with np.errstate(invalid="ignore", divide="ignore"):
            d = pairwise_distances(X[idx], result.centroids[c : c + 1], metric=result.metric).ravel()
        d = np.nan_to_num(d, nan=0.0)
        order = np.argsort(d, kind="stable")
        m = min(n_examples, len(idx))
        tracks = pd.Series(names[idx]).value_counts(sort=False)
        tracks = sorted(tracks.items(), key=lambda kv: (-kv[1], kv[0]))
        profile = result.centroids_original[c]
        out.append(
            ClusterSummary(
                cluster=c,
                size=int(len(idx)),
                share=float(len(idx) / len(result.labels)),
                tracks=tuple((str(t), int(v)) for t, v in tracks),
                names=result.data.names,
                profile=profile,
                profile_z=(profile - mean) / std,
                typical=tuple(int(i) for i in idx[order[:m]]),
                typical_distance=tuple(float(v) for v in d[order[:m]]),
                atypical=tuple(int(i) for i in idx[order[::-1][:m]]),
                atypical_distance=tuple(float(v) for v in d[order[::-1][:m]]),
            )
        )
    return tuple(out)


# --------------------------------------------------------------------------- choosing k


def find_knee(ks: np.ndarray, values: np.ndarray) -> int | None:
    """The knee of a decreasing, convex curve (Kneedle, Satopaa et al. 2011).

    Both axes are scaled to [0, 1]; the knee is the k farthest below the
    straight line from the first to the last point.

    Parameters
    ----------
    ks : np.ndarray [shape=(n,)]
        Increasing k.
    values : np.ndarray [shape=(n,)]
        Inertia at each k.

    Returns
    -------
    int or None
        None when there are fewer than 3 points, values are not finite, or
        the curve never falls below that line (no elbow).
    """
    ks = np.asarray(ks, dtype=np.float64)
    v = np.asarray(values, dtype=np.float64)
    if len(ks) < 3 or not np.all(np.isfinite(v)) or v.max() == v.min():
        return None
    x = (ks - ks[0]) / (ks[-1] - ks[0])
    y = (v - v.min()) / (v.max() - v.min())
    line = y[0] + (y[-1] - y[0]) * x
    gap = line - y
    i = int(np.argmax(gap))
    if gap[i] <= 1e-9:
        return None
    return int(ks[i])


def choose_k(
    data: TableLike | Prepared,
    *,
    config: ClusterConfig | None = None,
    k_range: tuple[int, int] = (2, 15),
    n_bootstrap: int = 10,
    stable_threshold: float = 0.75,
) -> KSweep:
    """Score k = k_min..k_max and suggest one.

    For each k: inertia (the elbow, with its knee), silhouette,
    Davies-Bouldin, Calinski-Harabasz, and stability -- the mean adjusted
    Rand index between the clustering of all rows and clusterings of
    ``n_bootstrap`` bootstrap resamples (compared on the resampled rows; the
    same resamples for every k, all drawn from ``config.seed``).

    The suggestion: among the k whose stability reaches ``stable_threshold``
    (all k when ``n_bootstrap`` is 0 or none does), the one with the highest
    silhouette. The reason names the runners-up, the knee and the
    Davies-Bouldin choice so a user can disagree.

    Parameters
    ----------
    data : SectionTable or Prepared or path or DataFrame
    config : ClusterConfig, optional
        Method, metric, scaler and seed; its ``k`` is ignored.
    k_range : (int, int)
        Inclusive; ``2 <= k_min <= k_max < n_rows``.
    n_bootstrap : int
        Resamples per k for stability; 0 skips it.
    stable_threshold : float
        Mean ARI a k needs to count as stable; in (0, 1].

    Returns
    -------
    KSweep

    Raises
    ------
    ParameterError
        For hdbscan (it does not take k), a bad range, or invalid data.
    """
    config = _check_config(config)
    if config.method == "hdbscan":
        raise ParameterError("hdbscan chooses the number of clusters itself; sweep k with kmeans, fcm or agglomerative")
    try:
        k_min, k_max = (int(k_range[0]), int(k_range[1]))
    except (TypeError, ValueError, IndexError) as exc:
        raise ParameterError(f"k_range must be two integers, got {k_range!r}") from exc
    if n_bootstrap < 0:
        raise ParameterError(f"n_bootstrap must be >= 0, got {n_bootstrap}")
    if not 0.0 < stable_threshold <= 1.0:
        raise ParameterError(f"stable_threshold must be in (0, 1], got {stable_threshold}")
    metric_used = _resolve_metric(config.method, config.metric, config.linkage)
    prep = _prepared(data, config)
    n = len(prep)
    if not 2 <= k_min <= k_max < n:
        raise ParameterError(f"k range {k_min}..{k_max} must satisfy 2 <= k_min <= k_max < rows ({n})")
    X = prep.X
    scale: list[str] = []
    fit_config = config
    if is_large(n, config.large_rows) and n > SWEEP_SAMPLE:
        # which k fits is a property of the distribution: a seeded sample answers it at a fraction of the cost,
        # fitted with the same scalable methods (plain K-Means' ten starts on the sample took 4x longer than those)
        X = X[_sample_rows(n, SWEEP_SAMPLE, config.seed)]
        scale.append(f"k scored on a seeded sample of {SWEEP_SAMPLE:,} of {n:,} rows because {n:,} rows >= {config.large_rows:,}")
        n = SWEEP_SAMPLE
        fit_config = config.replace(large_rows=SWEEP_SAMPLE)
    Z = working_space(X, metric_used)
    rng = np.random.default_rng(config.seed)
    boots = [np.sort(rng.integers(0, n, size=n)) for _ in range(n_bootstrap)]
    boot_seeds = rng.integers(0, 2**31 - 1, size=n_bootstrap)
    ks = np.arange(k_min, k_max + 1)
    cols = {name: np.full(len(ks), np.nan) for name in ("inertia", "sil", "db", "ch", "stab", "stab_sd")}
    try:
        with limit_threads(X.size):
            _sweep(X, Z, ks, cols, fit_config, metric_used, boots, boot_seeds, n_bootstrap, scale)
    except EngineError:
        raise
    except (ValueError, MemoryError) as exc:
        raise ParameterError(f"{config.method} failed while sweeping k: {exc}") from exc
    knee = find_knee(ks, cols["inertia"])
    suggested, reason = _suggest(ks, cols, knee, n_bootstrap, stable_threshold)
    return KSweep(
        ks=ks.astype(np.int64),
        inertia=cols["inertia"],
        silhouette=cols["sil"],
        davies_bouldin=cols["db"],
        calinski_harabasz=cols["ch"],
        stability=cols["stab"],
        stability_std=cols["stab_sd"],
        knee=knee,
        suggested_k=suggested,
        reason=reason,
        n_bootstrap=n_bootstrap,
        stable_threshold=float(stable_threshold),
        method=config.method,
        metric_used=metric_used,
        config_digest=clustering_digest(config, prep),
        scale_notes=tuple(dict.fromkeys(scale)),
    )


def _sweep(X, Z, ks, cols, config, metric_used, boots, boot_seeds, n_bootstrap, scale: list[str]) -> None:
    """Fill ``cols`` with the scores of each k (in place); sentences on how a large input was fitted go to ``scale``."""
    for i, k in enumerate(ks):
        notes: list[str] = []
        cfg = config.replace(k=int(k))
        labels, _ = _fit(Z, int(k), cfg, metric_used, config.seed, notes, scale)
        labels, _ = _canonical(labels, None)
        found = int(labels.max() + 1)
        sil, db, ch, inertia = _scores(X, Z, labels, found, config.metric, cfg, config.seed)
        cols["inertia"][i], cols["sil"][i], cols["db"][i], cols["ch"][i] = inertia, sil, db, ch
        if n_bootstrap:
            aris = []
            for idx, s in zip(boots, boot_seeds):
                uniq, first = np.unique(idx, return_index=True)
                if len(uniq) <= k:
                    continue
                boot_labels, _ = _fit(Z[idx], int(k), cfg, metric_used, int(s), [], scale)
                aris.append(adjusted_rand_score(labels[uniq], boot_labels[first]))
            if aris:
                cols["stab"][i], cols["stab_sd"][i] = float(np.mean(aris)), float(np.std(aris))


def _suggest(ks, cols, knee, n_bootstrap, threshold) -> tuple[int, str]:
    sil = cols["sil"]
    if np.all(np.isnan(sil)):
        k = knee if knee is not None else int(ks[0])
        return k, "no silhouette could be computed; falling back to the elbow" if knee else "no score could be computed"
    stable = np.isfinite(cols["stab"]) & (cols["stab"] >= threshold)
    pool = stable if (n_bootstrap and stable.any()) else np.ones(len(ks), bool)
    masked = np.where(pool & np.isfinite(sil), sil, -np.inf)
    i = int(np.argmax(masked))
    k = int(ks[i])
    parts = [f"k={k} has the highest silhouette ({sil[i]:.3f})"]
    if n_bootstrap:
        if stable.any():
            parts[0] += f" among the k that are stable under resampling (mean bootstrap ARI >= {threshold:.2f}; k={k}: {cols['stab'][i]:.2f})"
        else:
            parts.append(f"but no k reached a mean bootstrap ARI of {threshold:.2f}, so stability did not narrow the choice")
    finite = np.where(np.isfinite(sil), sil, -np.inf)
    best = int(np.argmax(finite))
    if best != i:
        parts.append(
            f"k={int(ks[best])} scores a higher silhouette ({sil[best]:.3f}) but is less stable "
            f"(mean ARI {cols['stab'][best]:.2f})"
        )
    else:
        runner = [j for j in np.argsort(-finite, kind="stable") if j != i][:2]
        if runner:
            parts.append("next best silhouette: " + ", ".join(f"k={int(ks[j])} ({sil[j]:.3f})" for j in runner))
    if knee is not None:
        parts.append(f"the inertia elbow is at k={knee}")
    if np.any(np.isfinite(cols["db"])):
        parts.append(f"Davies-Bouldin is lowest at k={int(ks[int(np.nanargmin(cols['db']))])}")
    return k, "; ".join(parts) + "."
