"""Explain a clustering with a random-forest surrogate and SHAP values.

A seeded random forest learns to predict the cluster labels from the
features (in original units -- trees are unaffected by per-column scaling).
Its held-out accuracy, the *fidelity*, says how far to trust it: SHAP values
explain the forest, and the forest stands in for the clustering only as well
as it predicts it. Fidelity is measured on whole songs the forest never saw:
sections of one song sound alike, so a forest tested on random sections of
songs it was trained on recognises the song rather than its cluster and
scores near 1.0 whatever the clustering. Versions of one piece count as one
song (:mod:`engine.analysis.songs`). SHAP's ``TreeExplainer`` then gives, per section
and per cluster, how much each feature pushed the forest towards that
cluster; its additivity check stays on (base value + SHAP values must equal
the forest's probability), so a mismatch is an error, not a silent skew.

Importances depend on the scaler. A tree does not care how a column is
scaled, but the *clusters* do: the scaler decides which columns dominate the
distances, hence the clusters, hence what separates them. Under
``l2-column`` (the thesis) each column keeps its mean, so columns that hover
around zero -- MFCC 7, 9, 11 in the thesis data -- get a large relative
spread and dominate; the thesis's "mfcc7/9/11 matter most" was largely that
artefact. (On the thesis table those three hold ~60% of the surrogate's
importance under ``l2-column`` against ~40% under ``zscore``, and ``minmax``
ranks the amplitude envelope first.) The result's ``note`` says this, with
the variance shares of the data at hand.

Large inputs are subsampled (seeded, stratified by cluster) to
``max_rows`` so an explanation stays interactive; ``n_used`` and ``cap``
record it.
"""

from __future__ import annotations

from typing import Mapping

import numpy as np
from sklearn.ensemble import RandomForestClassifier
from sklearn.model_selection import GroupShuffleSplit, train_test_split

from ..errors import EngineError, ModelError, ParameterError
from ..records import ClusterResult, Explanation
from .songs import song_groups

__all__ = ["explain", "DEFAULT_MAX_ROWS"]

#: Rows used (training and SHAP) unless told otherwise: ~1-2 s on a laptop core.
DEFAULT_MAX_ROWS = 1000


def _note(result: ClusterResult, fidelity: float, baseline: float) -> str:
    parts = [
        f"These importances explain a random forest that predicts the clusters of songs it never saw with accuracy "
        f"{fidelity:.2f} (always guessing the largest cluster scores {baseline:.2f}); trust them only as far as that.",
        f"They say what separates these clusters, and the clusters depend on the features and on the scaler "
        f"({result.data.scaler!r}): a different scaler gives different clusters and different importances.",
    ]
    X = result.data.X
    var = X.var(axis=0)
    if var.sum() > 0:
        share = var / var.sum()
        top = np.argsort(-share, kind="stable")[:3]
        dominant = ", ".join(f"{result.data.names[i]} ({share[i]:.0%})" for i in top)
        parts.append(f"After scaling, the largest shares of variance are {dominant}.")
    if result.data.scaler == "l2-column":
        parts.append(
            "Under l2-column each column is divided by its L2 norm but keeps its mean, so columns whose values "
            "hover around zero (e.g. MFCC 7, 9, 11) get a large relative spread and dominate the distances, so "
            "they dominate the clusters and this explanation -- a scaling artefact; the thesis's 'mfcc7/9/11 matter "
            "most' came largely from it. Compare the ranking under zscore or minmax before reading meaning into it."
        )
    return " ".join(parts)


def _split(idx: np.ndarray, labels: np.ndarray, *, seed: int, **size) -> tuple[np.ndarray, np.ndarray]:
    """A seeded split, stratified by cluster when every cluster can be (else plain)."""
    try:
        return train_test_split(idx, random_state=seed, stratify=labels, **size)
    except ValueError:  # a cluster too small to be in both parts
        try:
            return train_test_split(idx, random_state=seed, **size)
        except ValueError as exc:
            raise ParameterError(f"too few sections to hold some out for the surrogate: {exc}") from exc


def _song_split(groups: np.ndarray, *, test_fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """A seeded split holding out ``test_fraction`` of the songs whole (at least one song each side)."""
    n_songs = len(np.unique(groups))
    if n_songs < 2:
        raise ParameterError(
            f"need sections of at least 2 songs to measure the surrogate on a song it never saw, got {n_songs}"
        )
    n_test = min(max(1, int(round(test_fraction * n_songs))), n_songs - 1)
    splitter = GroupShuffleSplit(n_splits=1, test_size=n_test, random_state=seed)
    tr, te = next(splitter.split(np.zeros((len(groups), 1)), groups=groups))
    return np.sort(tr), np.sort(te)


def explain(
    result: ClusterResult,
    *,
    groups: Mapping[str, str] | None = None,
    max_rows: int = DEFAULT_MAX_ROWS,
    n_estimators: int = 100,
    max_depth: int | None = 12,
    test_fraction: float = 0.25,
    seed: int | None = None,
) -> Explanation:
    """Train a surrogate forest on the cluster labels and compute SHAP values.

    Parameters
    ----------
    result : ClusterResult
        The clustering to explain; HDBSCAN noise rows are left out.
    groups : mapping of str to str, optional
        ``track_id`` to song, for tracks that are versions of one piece
        (:func:`engine.analysis.songs.version_groups`); a track it does not name is a
        song of its own. Fidelity is measured on songs held out whole.
    max_rows : int
        Cap on the rows used (seeded subsample, stratified by cluster); at least 50.
    n_estimators, max_depth : int
        The forest's size.
    test_fraction : float
        Share of the songs held out whole (rounded, at least one) to measure fidelity;
        in (0, 0.5]: a forest trained on the other songs predicts their clusters. The
        forest SHAP explains is then trained the same way on every row used.
    seed : int, optional
        Default: the clustering's seed.

    Returns
    -------
    Explanation
        ``shap_values`` [shape=(n_used, n_features, n_clusters)].

    Raises
    ------
    ParameterError
        If the clustering has fewer than 2 clusters, its rows come from fewer
        than 2 songs, or settings are out of range.
    ModelError
        If shap is not installed, or SHAP's values do not add up to the
        forest's probabilities (its additivity check).
    """
    _check_options(result, max_rows=max_rows, n_estimators=n_estimators, test_fraction=test_fraction)
    seed = result.seed if seed is None else int(seed)
    rows, labels, clusters = _rows_used(result, max_rows=max_rows, seed=seed)
    X = result.data.raw[rows]
    songs = song_groups(result.data.meta.iloc[rows], groups)
    tr, te = _song_split(songs, test_fraction=test_fraction, seed=seed)
    fidelity, forest = _forests(X, labels, tr, te, n_estimators=n_estimators, max_depth=max_depth, seed=seed)
    baseline = float(np.bincount(labels).max() / len(labels))
    full, full_base, predicted = _shap_values(forest, X, clusters)
    importance, global_imp = _importances(full, labels, clusters)
    return Explanation(
        names=result.data.names,
        clusters=clusters,
        rows=rows.astype(np.int64),
        labels=labels.astype(np.int64),
        shap_values=full,
        base_values=full_base,
        data=X,
        predicted=predicted,
        importance=importance,
        global_importance=global_imp,
        fidelity=fidelity,
        baseline=baseline,
        n_train=int(len(tr)),
        n_test=int(len(te)),
        n_songs=int(len(np.unique(songs))),
        n_test_songs=int(len(np.unique(songs[te]))),
        n_used=int(len(rows)),
        cap=int(max_rows),
        n_estimators=int(n_estimators),
        seed=seed,
        scaler=result.data.scaler,
        note=_note(result, fidelity, baseline),
        config_digest=result.config_digest,
    )


def _rows_used(result: ClusterResult, *, max_rows: int, seed: int) -> tuple[np.ndarray, np.ndarray, tuple[int, ...]]:
    """The rows explained (no noise; a seeded sample stratified by cluster above ``max_rows``), their labels, the clusters."""
    rows = np.flatnonzero(result.labels >= 0)
    labels = result.labels[rows]
    clusters = tuple(int(c) for c in np.unique(labels))
    if len(clusters) < 2:
        raise ParameterError("need at least 2 clusters to explain what separates them")
    if len(rows) > max_rows:
        rows = np.sort(_split(rows, labels, train_size=max_rows, seed=seed)[0])
        labels = result.labels[rows]
    return rows, labels, clusters


def _forests(X, labels, tr, te, *, n_estimators: int, max_depth: int | None, seed: int) -> tuple[float, RandomForestClassifier]:
    """The fidelity on held-out songs ``te`` of a forest trained on ``tr``, and the forest trained on every row."""
    try:
        # fidelity: a forest that never saw the held-out songs predicts their clusters
        probe = RandomForestClassifier(n_estimators=n_estimators, max_depth=max_depth, random_state=seed, n_jobs=1)
        probe.fit(X[tr], labels[tr])
        fidelity = float((probe.predict(X[te]) == labels[te]).mean())
        # the forest explained: the same recipe on every song, so it knows every cluster (the fidelity above is
        # an estimate, if anything a low one, of how well this forest predicts clusters of unheard songs)
        forest = RandomForestClassifier(n_estimators=n_estimators, max_depth=max_depth, random_state=seed, n_jobs=1)
        forest.fit(X, labels)
    except ValueError as exc:
        raise ParameterError(f"the surrogate forest could not be trained: {exc}") from exc
    return fidelity, forest


def _shap_values(forest: RandomForestClassifier, X: np.ndarray, clusters: tuple[int, ...]):
    """SHAP values [shape=(n_rows, n_features, n_clusters)], base values and the forest's probabilities, by cluster."""
    try:
        import shap
    except ImportError as exc:
        raise ModelError("SHAP explanations need shap (pip install shap)") from exc
    try:
        explainer = shap.TreeExplainer(forest)
        # check_additivity stays on: shap then checks that base + sum of values equals the forest's output
        # on every row (it raises when not), which is what the waterfall shows.
        values = np.asarray(explainer.shap_values(X, check_additivity=True), dtype=np.float64)
    except EngineError:
        raise
    except Exception as exc:  # shap raises assorted types
        raise ModelError(f"SHAP failed on the surrogate forest: {exc}") from exc
    base = np.atleast_1d(np.asarray(explainer.expected_value, dtype=np.float64))
    # The forest only knows the clusters it saw in training; map its classes to ours.
    seen = tuple(int(c) for c in forest.classes_)
    if values.ndim == 2:  # a single output (cannot happen with >= 2 classes, kept defensive)
        values = values[:, :, None]
    n = X.shape[0]
    full = np.zeros((n, X.shape[1], len(clusters)))
    full_base = np.zeros(len(clusters))
    for j, c in enumerate(seen):
        full[:, :, clusters.index(c)] = values[:, :, j]
        full_base[clusters.index(c)] = base[j]
    proba = forest.predict_proba(X)
    predicted = np.zeros((n, len(clusters)))
    for j, c in enumerate(seen):
        predicted[:, clusters.index(c)] = proba[:, j]
    return full, full_base, predicted


def _check_options(result, *, max_rows: int, n_estimators: int, test_fraction: float) -> None:
    if not isinstance(result, ClusterResult):
        raise ParameterError(f"expected a ClusterResult, got {type(result).__name__}")
    if max_rows < 50:
        raise ParameterError(f"max_rows must be >= 50, got {max_rows}")
    if n_estimators < 1:
        raise ParameterError(f"n_estimators must be >= 1, got {n_estimators}")
    if not 0.0 < test_fraction <= 0.5:
        raise ParameterError(f"test_fraction must be in (0, 0.5], got {test_fraction}")


def _importances(full: np.ndarray, labels: np.ndarray, clusters: tuple[int, ...]) -> tuple[np.ndarray, np.ndarray]:
    """Mean |SHAP| per cluster over its sections [shape=(n_clusters, n_features)], and for each section's own cluster."""
    own = np.array([clusters.index(int(c)) for c in labels])
    importance = np.vstack(
        [np.abs(full[labels == c, :, j]).mean(axis=0) if (labels == c).any() else np.zeros(full.shape[1]) for j, c in enumerate(clusters)]
    )
    return importance, np.abs(full[np.arange(len(labels)), :, own]).mean(axis=0)
