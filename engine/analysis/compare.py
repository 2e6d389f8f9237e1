"""Compare clusterings, and test labels with a song-grouped KNN classifier.

The thesis compared its classical and neural clusterings by raw label
equality, which means nothing: cluster ids are arbitrary. Here:

* :func:`pieces_to_sections` lifts piece-level labels (e.g. one per 1-s
  piece) to section level by the mode, breaking ties towards the smallest
  label and reporting how many sections tied;
* :func:`compare_labels` builds the contingency table, aligns cluster ids
  with the Hungarian method before computing an agreement percentage, and
  reports the adjusted Rand index and normalised mutual information, which
  need no alignment.

:func:`knn_evaluate` checks whether features predict labels (the author's
a-priori song groups, or expert labels from the app) with folds grouped by
song: the thesis let sections of one song sit in both train and test, which
rewards recognising the song rather than its group. The report compares the
accuracy with the majority baseline. :func:`knn_evaluate_reviews` runs it on
the labels reviewers gave (read from a :class:`~engine.store.reviews.ReviewStore`),
holding versions of one piece out together (:mod:`engine.analysis.songs`).
"""

from __future__ import annotations

from typing import Mapping

import numpy as np
import pandas as pd
from scipy.optimize import linear_sum_assignment
from sklearn.metrics import adjusted_rand_score, normalized_mutual_info_score
from sklearn.model_selection import GroupKFold, LeaveOneGroupOut
from sklearn.neighbors import KNeighborsClassifier
from sklearn.pipeline import make_pipeline

from .._threads import limit_threads
from ..config import ClusterConfig
from ..errors import ParameterError
from ..records import Comparison, KnnReport, SectionLabels, SectionTable
from ..store.reviews import ReviewStore
from ..store.tables import TableLike, parse_section
from .scale import make_scaler, prepare
from .songs import song_groups

__all__ = [
    "pieces_to_sections",
    "compare_labels",
    "knn_evaluate",
    "knn_evaluate_reviews",
]


# --------------------------------------------------------------------------- pieces -> sections


def pieces_to_sections(
    pieces: pd.DataFrame, *, keys: tuple[str, ...] = ("filename", "part"), label: str = "cluster"
) -> SectionLabels:
    """Label each section by the most common label of its pieces.

    Parameters
    ----------
    pieces : pandas.DataFrame [shape=(n_pieces, ...)]
        One row per piece with the ``keys`` columns and an integer ``label`` column.
    keys : tuple of str
        Columns naming a section: a track name column then a section column
        (``part_3`` or 3).
    label : str
        The piece label column.

    Returns
    -------
    SectionLabels
        Ties go to the smallest label; ``n_ties`` counts them and the
        ``tied`` column marks them.

    Raises
    ------
    ParameterError
        If columns are missing or labels are not integers.
    """
    missing = [c for c in (*keys, label) if c not in pieces.columns]
    if missing:
        raise ParameterError(f"piece table lacks columns {missing}; it has {list(pieces.columns)[:10]}")
    if len(keys) != 2:
        raise ParameterError(f"keys must name a track column and a section column, got {keys!r}")
    if len(pieces) == 0:
        raise ParameterError("the piece table is empty")
    if not pd.api.types.is_integer_dtype(pieces[label]):
        raise ParameterError(f"piece labels in {label!r} must be integers, got {pieces[label].dtype}")
    counts = pieces.groupby([*keys, label], sort=True).size().rename("count").reset_index()
    counts = counts.sort_values([*keys, "count", label], ascending=[True, True, False, True], kind="stable")
    top = counts.groupby(list(keys), sort=True).head(2)
    first = top.groupby(list(keys), sort=True).nth(0).set_index(list(keys))
    second = top.groupby(list(keys), sort=True).nth(1).set_index(list(keys))["count"]
    tied = second.reindex(first.index).to_numpy() == first["count"].to_numpy()
    n_pieces = pieces.groupby(list(keys), sort=True).size().reindex(first.index).to_numpy()
    frame = first.reset_index().rename(columns={label: "label"})[list(keys) + ["label"]]
    frame["name"] = frame[keys[0]].astype(str)
    frame["section"] = [parse_section(v) for v in frame[keys[1]]]
    frame["n_pieces"] = n_pieces
    frame["tied"] = tied
    frame["label"] = frame["label"].astype(np.int64)
    return SectionLabels(frame=frame.reset_index(drop=True), keys=tuple(keys), n_ties=int(tied.sum()), tie_rule="smallest label")


# --------------------------------------------------------------------------- two clusterings


def compare_labels(a, b, *, names: tuple[str, str] = ("a", "b")) -> Comparison:
    """Contingency table, Hungarian-aligned agreement, ARI and NMI of two labelings.

    Parameters
    ----------
    a, b : array-like [shape=(n,)]
        Integer labels of the same sections, in the same order (noise, -1,
        counts as a label of its own).
    names : (str, str)
        What to call them in the table.

    Returns
    -------
    Comparison

    Raises
    ------
    ParameterError
        If the lengths differ or there are no rows.
    """
    a = np.asarray(a)
    b = np.asarray(b)
    if a.ndim != 1 or b.ndim != 1 or a.shape != b.shape:
        raise ParameterError(f"labelings must be 1-D and of equal length, got {a.shape} and {b.shape}")
    if a.size == 0:
        raise ParameterError("nothing to compare: no rows")
    table = pd.crosstab(pd.Series(a, name=names[0]), pd.Series(b, name=names[1]))
    C = table.to_numpy()
    ri, ci = linear_sum_assignment(-C)
    mapping = tuple((int(table.index[i]), int(table.columns[j])) for i, j in zip(ri, ci))
    agreement = float(C[ri, ci].sum() / a.size)
    return Comparison(
        names=(str(names[0]), str(names[1])),
        n=int(a.size),
        contingency=table,
        mapping=mapping,
        agreement=agreement,
        raw_agreement=float((a == b).mean()),
        ari=float(adjusted_rand_score(a, b)),
        nmi=float(normalized_mutual_info_score(a, b)),
    )


# --------------------------------------------------------------------------- KNN with labels


def _column_or_array(meta: pd.DataFrame, value, what: str) -> np.ndarray:
    if isinstance(value, str):
        if value not in meta.columns:
            raise ParameterError(f"no {what} column {value!r}; meta has {list(meta.columns)}")
        return meta[value].to_numpy()
    arr = np.asarray(value, dtype=object)
    if arr.shape != (len(meta),):
        raise ParameterError(f"{what} must have one value per section ({len(meta)}), got shape {arr.shape}")
    return arr


def _cross_validate(X, y, g, splitter, k, metric, scaler, pred, base) -> list[float]:
    """Fill out-of-fold predictions ``pred`` and fold-majority guesses ``base``; return fold accuracies."""
    fold_acc = []
    for train, test in splitter.split(X, y, g):
        if len(train) < k:
            raise ParameterError(f"a training fold has {len(train)} sections, fewer than k={k}")
        model = make_pipeline(make_scaler(scaler), KNeighborsClassifier(n_neighbors=k, metric=metric, algorithm="brute"))
        model.fit(X[train], y[train])
        pred[test] = model.predict(X[test])
        vals, cnt = np.unique(y[train].astype(str), return_counts=True)
        majority = vals[np.argmax(cnt)]
        base[test] = [next(v for v in y[train] if str(v) == majority)] * len(test)
        fold_acc.append(float((pred[test] == y[test]).mean()))
    return fold_acc


def _labelled(prep, labels, groups) -> tuple[np.ndarray, np.ndarray, np.ndarray, tuple, int]:
    """The labelled rows (original units), their labels and songs, the label values and the number of songs."""
    y = _column_or_array(prep.meta, labels, "label")
    g = _column_or_array(prep.meta, groups, "group")
    have = ~pd.isna(pd.Series(y)).to_numpy()
    X, y, g = prep.raw[have], y[have], g[have].astype(str)
    classes = tuple(sorted(pd.unique(y).tolist(), key=str))
    n_groups = len(set(g))
    if len(classes) < 2:
        raise ParameterError(f"need at least 2 label values, got {list(classes)}")
    if n_groups < 2:
        raise ParameterError("need sections of at least 2 songs to hold songs out")
    return X, y, g, classes, n_groups


def _splitter(n_splits: int | None, n_groups: int):
    """Leave-one-song-out, or ``n_splits`` song-grouped folds; and its name."""
    if n_splits is None:
        return LeaveOneGroupOut(), "leave-one-song-out"
    if not 2 <= n_splits <= n_groups:
        raise ParameterError(f"n_splits must be in 2..{n_groups} (songs), got {n_splits}")
    return GroupKFold(n_splits=n_splits), f"group-k-fold({n_splits})"


def knn_evaluate(
    data: TableLike,
    *,
    labels="grupo",
    groups="name",
    k: int = 1,
    n_splits: int | None = None,
    metric: str = "euclidean",
    config: ClusterConfig | None = None,
) -> KnnReport:
    """Cross-validate a KNN classifier on section labels, never splitting a song.

    The scaler is fitted on the training folds only. With ``n_splits=None``
    every song is held out once (leave-one-song-out); otherwise
    ``GroupKFold(n_splits)``. On the thesis table (its 17 features,
    ``zscore``, 1-NN, leave-one-song-out) this gives about 0.39 against a
    0.30 majority baseline.

    Parameters
    ----------
    data : SectionTable or path or DataFrame
    labels : str or array-like [shape=(n_sections,)]
        A meta column (``grupo`` in the thesis table) or one label per
        section; missing labels (None/NaN) leave the section out.
    groups : str or array-like [shape=(n_sections,)]
        What a song is: a meta column (default ``name``) or one id per section.
    k : int
        Neighbours.
    n_splits : int, optional
        Folds; None = one per song.
    metric : str
        KNN metric: euclidean, cosine, manhattan or correlation.
    config : ClusterConfig, optional
        Features, scaler and dedupe (the scaler is refitted per fold).

    Returns
    -------
    KnnReport

    Raises
    ------
    ParameterError
        If labels or groups are missing, fewer than 2 songs or classes
        remain, or settings are out of range.
    """
    config = ClusterConfig() if config is None else config
    if k < 1:
        raise ParameterError(f"k must be >= 1, got {k}")
    if metric not in ("euclidean", "cosine", "manhattan", "correlation"):
        raise ParameterError(f"unknown metric {metric!r}")
    prep = prepare(data, config=config)
    X, y, g, classes, n_groups = _labelled(prep, labels, groups)
    splitter, cv_name = _splitter(n_splits, n_groups)
    pred = np.empty(len(y), dtype=object)
    base = np.empty(len(y), dtype=object)
    with limit_threads(X.size):
        fold_acc = _cross_validate(X, y, g, splitter, k, metric, config.scaler, pred, base)
    y_str = y.astype(str)
    counts = pd.Series(y_str).value_counts()
    confusion = pd.crosstab(pd.Series(y, name="true"), pd.Series(pred, name="predicted"))
    return KnnReport(
        accuracy=float((pred == y).mean()),
        majority_baseline=float(counts.iloc[0] / len(y)),
        fold_majority_baseline=float((base == y).mean()),
        k=int(k),
        metric=metric,
        scaler=config.scaler,
        cv=cv_name,
        n_splits=len(fold_acc),
        n_sections=int(len(y)),
        n_groups=n_groups,
        classes=classes,
        fold_accuracy=np.asarray(fold_acc),
        predictions=pred,
        labels=y,
        confusion=confusion,
        names=prep.names,
        config_digest=config.digest(),
    )


def knn_evaluate_reviews(
    table: SectionTable,
    reviews: ReviewStore,
    *,
    config_digest: str,
    section_digest: str | None = None,
    versions: Mapping[str, str] | None = None,
    k: int = 1,
    config: ClusterConfig | None = None,
) -> KnnReport:
    """Test whether the features predict the labels reviewers gave, never splitting a song.

    A KNN classifier (:func:`knn_evaluate`, one song held out at a time)
    learns the labels of :meth:`engine.store.reviews.ReviewStore.labels_for`.

    Parameters
    ----------
    table : SectionTable
        The sections judged (its ``meta`` has ``track_id`` and ``section``).
    reviews : ReviewStore
        Where the judgements are kept.
    config_digest : str
        Only judgements of this clustering count.
    section_digest : str, optional
        Only judgements made under this analysis count.
    versions : mapping of str to str, optional
        ``track_id`` to song for versions of one piece
        (:func:`engine.analysis.songs.version_groups`); they are held out together.
        Other tracks are songs of their own.
    k : int
        Neighbours.
    config : ClusterConfig, optional
        Features and scaler (refitted per fold); pass ``dedupe=False`` so
        every row keeps its label.

    Returns
    -------
    KnnReport

    Raises
    ------
    ParameterError
        When no section has a label a reviewer gave, the labels have only
        one value, or the labelled sections come from only one song (each
        with a message saying so); or as :func:`knn_evaluate`.
    StoreError
        If the database cannot be read.
    """
    meta = table.meta
    labels = reviews.labels_for(meta, config_digest=config_digest, section_digest=section_digest)
    have = np.array([v is not None for v in labels], dtype=bool)
    if not have.any():
        raise ParameterError(
            "no section has a label a reviewer gave yet: a label counts when a reviewer typed one, or said "
            "'wrong' and named the right cluster ('right' only agrees with the clustering)"
        )
    values = sorted(set(labels[have].tolist()))
    if len(values) < 2:
        raise ParameterError(
            f"reviewers gave only one label ({values[0]!r}, on {int(have.sum())} sections); "
            "the test needs at least 2 different labels"
        )
    songs = song_groups(meta, versions)
    n_songs = len(set(songs[have].tolist()))
    if n_songs < 2:
        raise ParameterError(
            f"the {int(have.sum())} labelled sections come from only {n_songs} song; label sections of at least "
            "2 songs, so that each can be tested on a song the classifier never saw"
        )
    return knn_evaluate(table, labels=labels, groups=songs, k=k, config=config)
