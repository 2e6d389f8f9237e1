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
accuracy with the majority baseline.
"""

from __future__ import annotations

from dataclasses import dataclass

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
from .scale import make_scaler, prepare
from ..store.tables import TableLike, parse_section

__all__ = [
    "SectionLabels",
    "Comparison",
    "KnnReport",
    "pieces_to_sections",
    "compare_labels",
    "knn_evaluate",
]


# --------------------------------------------------------------------------- pieces -> sections


@dataclass(frozen=True, eq=False)
class SectionLabels:
    """One label per section, the mode of its pieces' labels."""

    frame: pd.DataFrame  # [shape=(n_sections, ...)]: the key columns, ``name``, ``section``, ``label``, ``n_pieces``, ``tied``
    keys: tuple[str, ...]  # the key columns of the piece table
    n_ties: int  # sections whose top label was tied
    tie_rule: str  # how ties were broken

    def __len__(self) -> int:
        return len(self.frame)

    def labels_for(self, meta: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
        """Labels aligned to a table's rows by ``name`` and ``section``.

        Parameters
        ----------
        meta : pandas.DataFrame
            With ``name`` and ``section`` columns (a SectionTable's or a clustering's meta).

        Returns
        -------
        labels : np.ndarray [shape=(n_rows,)]
            The section label, or -1 where the table row has no pieces.
        found : np.ndarray [shape=(n_rows,)], bool
        """
        lookup = self.frame.set_index(["name", "section"])["label"]
        idx = pd.MultiIndex.from_arrays([meta["name"].astype(str), meta["section"].astype(np.int64)])
        got = lookup.reindex(idx)
        found = got.notna().to_numpy()
        return got.fillna(-1).to_numpy(np.int64), found


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


@dataclass(frozen=True, eq=False)
class Comparison:
    """Two labelings of the same sections, compared."""

    names: tuple[str, str]
    n: int  # sections compared
    contingency: pd.DataFrame  # rows: labels of a, columns: labels of b, cells: sections
    mapping: tuple[tuple[int, int], ...]  # (a label, b label) pairs matched by the Hungarian method
    agreement: float  # share of sections whose a label maps to their b label
    raw_agreement: float  # share with equal raw ids: meaningless, kept to show why alignment matters
    ari: float  # adjusted Rand index (0 = chance, 1 = identical partitions)
    nmi: float  # normalised mutual information (arithmetic mean normalisation)

    def to_dict(self) -> dict:
        """Scores and mapping as plain values."""
        return {
            "names": list(self.names),
            "n": self.n,
            "mapping": [list(p) for p in self.mapping],
            "agreement": self.agreement,
            "raw_agreement": self.raw_agreement,
            "ari": self.ari,
            "nmi": self.nmi,
        }


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


@dataclass(frozen=True, eq=False)
class KnnReport:
    """Song-grouped cross-validation of a KNN classifier on section labels."""

    accuracy: float  # over every labelled section, each predicted by a model that never saw its song
    majority_baseline: float  # share of the most common label: what always guessing it scores
    fold_majority_baseline: float  # guessing each training fold's majority (can be far below the above)
    k: int
    metric: str
    scaler: str
    cv: str  # "leave-one-song-out" or "group-k-fold(n)"
    n_splits: int
    n_sections: int
    n_groups: int
    classes: tuple  # label values
    fold_accuracy: np.ndarray  # float64 [shape=(n_splits,)]
    predictions: np.ndarray  # [shape=(n_sections,)], the out-of-fold prediction per labelled section
    labels: np.ndarray  # [shape=(n_sections,)]
    confusion: pd.DataFrame  # true labels (rows) x predicted (columns)
    names: tuple[str, ...]  # features
    config_digest: str

    def to_dict(self) -> dict:
        """Scores as plain values."""
        return {
            "accuracy": self.accuracy,
            "majority_baseline": self.majority_baseline,
            "fold_majority_baseline": self.fold_majority_baseline,
            "k": self.k,
            "metric": self.metric,
            "scaler": self.scaler,
            "cv": self.cv,
            "n_splits": self.n_splits,
            "n_sections": self.n_sections,
            "n_groups": self.n_groups,
            "config_digest": self.config_digest,
        }


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
    if n_splits is None:
        splitter, cv_name = LeaveOneGroupOut(), "leave-one-song-out"
    else:
        if not 2 <= n_splits <= n_groups:
            raise ParameterError(f"n_splits must be in 2..{n_groups} (songs), got {n_splits}")
        splitter, cv_name = GroupKFold(n_splits=n_splits), f"group-k-fold({n_splits})"
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
