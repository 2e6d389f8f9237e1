"""Choosing k: score a range of k (elbow, silhouette, Davies-Bouldin, Calinski-Harabasz, stability) and suggest one.

Each k is fitted with the method of :mod:`.methods` and scored as
:func:`engine.analysis.cluster.cluster` scores a clustering. Stability is the
mean adjusted Rand index against bootstrap resamples; the knee of the inertia
curve is found by Kneedle (:func:`find_knee`). At or above
``ClusterConfig.large_rows`` rows k is scored on a seeded sample of
:data:`SWEEP_SAMPLE` rows.
"""

from __future__ import annotations

import numpy as np
from sklearn.metrics import adjusted_rand_score

from .._threads import limit_threads
from ..config import ClusterConfig, is_large
from ..errors import EngineError, ParameterError
from ..records import KSweep, Prepared
from ..store.tables import TableLike
from .cluster import _check_config, _prepared, _scores, clustering_digest
from .methods import _canonical, _fit, _resolve_metric, _sample_rows, working_space

__all__ = ["SWEEP_SAMPLE", "choose_k", "find_knee"]

#: At or above ``ClusterConfig.large_rows``, :func:`choose_k` scores k on a seeded sample of this many rows.
SWEEP_SAMPLE = 20_000


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
    config, k_min, k_max = _check_sweep(config, k_range, n_bootstrap, stable_threshold)
    metric_used = _resolve_metric(config.method, config.metric, config.linkage)
    prep = _prepared(data, config)
    n = len(prep)
    if not 2 <= k_min <= k_max < n:
        raise ParameterError(f"k range {k_min}..{k_max} must satisfy 2 <= k_min <= k_max < rows ({n})")
    X, fit_config, scale = _sweep_rows(prep, config)
    ks = np.arange(k_min, k_max + 1)
    try:
        with limit_threads(X.size):
            cols = _sweep(X, ks, fit_config, metric_used, n_bootstrap, scale)
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


def _check_sweep(config, k_range, n_bootstrap: int, stable_threshold: float) -> tuple[ClusterConfig, int, int]:
    """The config (default filled in) and the k range, checked."""
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
    return config, k_min, k_max


def _sweep_rows(prep: Prepared, config: ClusterConfig) -> tuple[np.ndarray, ClusterConfig, list[str]]:
    """The rows k is scored on, the config they are fitted with, and a sentence when a large input was sampled."""
    n = len(prep)
    if not (is_large(n, config.large_rows) and n > SWEEP_SAMPLE):
        return prep.X, config, []
    # which k fits is a property of the distribution: a seeded sample answers it at a fraction of the cost,
    # fitted with the same scalable methods (plain K-Means' ten starts on the sample took 4x longer than those)
    note = f"k scored on a seeded sample of {SWEEP_SAMPLE:,} of {n:,} rows because {n:,} rows >= {config.large_rows:,}"
    return prep.X[_sample_rows(n, SWEEP_SAMPLE, config.seed)], config.replace(large_rows=SWEEP_SAMPLE), [note]


def _sweep(X, ks, config, metric_used, n_bootstrap, scale: list[str]) -> dict[str, np.ndarray]:
    """The scores of each k, by score name; sentences on how a large input was fitted go to ``scale``."""
    n = X.shape[0]
    Z = working_space(X, metric_used)
    rng = np.random.default_rng(config.seed)
    boots = [np.sort(rng.integers(0, n, size=n)) for _ in range(n_bootstrap)]
    boot_seeds = rng.integers(0, 2**31 - 1, size=n_bootstrap)
    cols = {name: np.full(len(ks), np.nan) for name in ("inertia", "sil", "db", "ch", "stab", "stab_sd")}
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
    return cols


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
