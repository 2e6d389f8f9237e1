"""Cluster sections with one method, metric and k; score and summarise the result.

The methods and what each supports are in :mod:`.methods`; choosing k is in
:mod:`.sweep`. This module prepares the rows, fits, renumbers the clusters,
scores them and builds the :class:`~engine.records.ClusterResult`, whose
``config_digest`` (:func:`clustering_digest`) covers both the settings and
the data.

Cluster ids are canonical: 0 is the largest cluster, then by size
(ties by first appearance), so a result does not depend on the arbitrary
numbering of the underlying library.

Scores. The silhouette uses the requested metric (sampled, seeded, above
``ClusterConfig.silhouette_sample`` rows). Davies-Bouldin,
Calinski-Harabasz and inertia are euclidean by definition; they are computed
in the space the method worked in (the scaled rows, or the unit rows of
spherical K-Means). Noise rows are left out of every score.

The silhouette is always sampled; the other scores and :func:`summarize`
are linear in the rows.
"""

from __future__ import annotations

import hashlib

import numpy as np
import pandas as pd
from sklearn.metrics import calinski_harabasz_score, davies_bouldin_score, pairwise_distances, silhouette_score

from .._threads import limit_threads
from ..config import LARGE_ROWS, THESIS_FEATURES, ClusterConfig, is_large
from ..errors import EngineError, ParameterError
from ..records import ClusterResult, ClusterSummary, Prepared
from ..store.tables import TableLike
from .methods import _METRIC_NOTES, _canonical, _fit, _resolve_metric, working_space
from .scale import prepare

__all__ = [
    "LARGE_ROWS",
    "CLUSTER_PRESETS",
    "cluster_preset",
    "data_digest",
    "clustering_digest",
    "cluster",
    "summarize",
    "is_large",
]


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
