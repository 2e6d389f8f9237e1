"""Prepare a section table for modelling: choose features, scale, dedupe.

Scalers (``ClusterConfig.scaler``):

* ``zscore`` (default) -- each column to mean 0, standard deviation 1.
* ``minmax`` -- each column to [0, 1].
* ``robust`` -- each column centred on its median and divided by its IQR.
* ``l2-column`` -- each column divided by its L2 norm
  (``sklearn.preprocessing.normalize(X, axis=0)``), what the thesis did. It
  keeps column means, so columns whose values hover around zero (MFCC 7, 9,
  11, 13 in the thesis data) get a large *relative* spread and dominate
  every distance; see :mod:`engine.analysis.explain`.

A constant column scales to zeros under every scaler (sklearn leaves a zero
scale at 1) and is reported in the warnings.

The thesis dropped identical rows *after* scaling (``drop_duplicates``);
``ClusterConfig.dedupe`` does the same, keeping the first occurrence, and the
scaler is fitted on all rows first, as in the thesis.
"""

from __future__ import annotations

import re
import warnings as _warnings

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.preprocessing import MinMaxScaler, RobustScaler, StandardScaler, normalize

from ..config import ClusterConfig
from ..errors import ParameterError
from ..records import CorrelationReport, Prepared, SectionTable
from ..store.tables import TableLike, load_table

__all__ = [
    "unit_rows",
    "SCALERS",
    "DEFAULT_EXCLUDED",
    "ColumnL2Scaler",
    "make_scaler",
    "default_features",
    "resolve_features",
    "check_finite",
    "prepare",
    "correlation_report",
]

#: The scalers ``ClusterConfig.scaler`` accepts.
SCALERS: tuple[str, ...] = ("zscore", "minmax", "robust", "l2-column")

#: Column-name patterns left out of the default modelling set: the 12
#: per-bin chroma columns (they follow each track's key, not its sound) and
#: the MFCC deltas (near zero once a section is aggregated by its median).
#: Name them in ``ClusterConfig.features`` to use them.
DEFAULT_EXCLUDED: tuple[str, ...] = (r"chroma_\d+", r"mfcc_delta\d+")


class ColumnL2Scaler(TransformerMixin, BaseEstimator):
    """Divide each column by its L2 norm (the thesis's scaling).

    Zero-norm columns are left unchanged, as
    :func:`sklearn.preprocessing.normalize` does.
    """

    def fit(self, X, y=None):  # noqa: D102 - scikit-learn protocol
        X = np.asarray(X, dtype=np.float64)
        norms = np.sqrt(np.einsum("ij,ij->j", X, X))
        norms[norms == 0.0] = 1.0
        self.norms_ = norms
        self.n_features_in_ = X.shape[1]
        return self

    def transform(self, X):  # noqa: D102
        return np.asarray(X, dtype=np.float64) / self.norms_

    def inverse_transform(self, X):  # noqa: D102
        return np.asarray(X, dtype=np.float64) * self.norms_


def make_scaler(name: str) -> TransformerMixin:
    """Return an unfitted scikit-learn transformer for a scaler name.

    Parameters
    ----------
    name : str
        One of :data:`SCALERS`.

    Returns
    -------
    sklearn transformer
        ``StandardScaler``, ``MinMaxScaler``, ``RobustScaler`` or :class:`ColumnL2Scaler`.

    Raises
    ------
    ParameterError
        If ``name`` is unknown.
    """
    if name == "zscore":
        return StandardScaler()
    if name == "minmax":
        return MinMaxScaler()
    if name == "robust":
        return RobustScaler()
    if name == "l2-column":
        return ColumnL2Scaler()
    raise ParameterError(f"unknown scaler {name!r}; choose one of {list(SCALERS)}")


def default_features(names: tuple[str, ...] | list[str]) -> tuple[str, ...]:
    """The default modelling set: every column but those matching :data:`DEFAULT_EXCLUDED`.

    Parameters
    ----------
    names : sequence of str
        A table's feature names.

    Returns
    -------
    tuple of str
        For a CSV of features computed elsewhere: all of them. For an engine
        store: amplitude envelope, RMS, ZCR, spectral centroid, bandwidth,
        rolloff, flatness, mean chroma, spectral contrast, onset strength and
        MFCC 1-20 (no per-bin chroma, no deltas).
    """
    pattern = re.compile("|".join(f"(?:{p})" for p in DEFAULT_EXCLUDED))
    return tuple(n for n in names if not pattern.fullmatch(n))


def resolve_features(table: SectionTable, features: tuple[str, ...] = ()) -> tuple[str, ...]:
    """Check requested features against a table; ``()`` means :func:`default_features`.

    Parameters
    ----------
    table : SectionTable
    features : tuple of str
        Requested column names, in the order wanted.

    Returns
    -------
    tuple of str

    Raises
    ------
    ParameterError
        If a name is missing from the table, repeated, or nothing is left.
    """
    chosen = tuple(features) if features else default_features(table.names)
    missing = [f for f in chosen if f not in table.names]
    if missing:
        raise ParameterError(f"features not in the table: {missing}; it has {list(table.names)}")
    if len(set(chosen)) != len(chosen):
        raise ParameterError(f"features repeated: {[f for f in chosen if chosen.count(f) > 1]}")
    if not chosen:
        raise ParameterError("no features to model with")
    return chosen


def check_finite(values: np.ndarray, names: tuple[str, ...]) -> None:
    """Raise a clear error naming the columns that hold NaN or infinity.

    Parameters
    ----------
    values : np.ndarray [shape=(n_rows, n_features)]
    names : tuple of str
        One per column.

    Raises
    ------
    ParameterError
        If any value is NaN or infinite.
    """
    bad = ~np.isfinite(values)
    if bad.any():
        cols = [f"{names[j]} ({int(bad[:, j].sum())} rows)" for j in np.flatnonzero(bad.any(axis=0))]
        first = int(np.flatnonzero(bad.any(axis=1))[0])
        raise ParameterError(
            f"features hold NaN or infinite values: {', '.join(cols)}; first at row {first}. "
            "Drop those rows or columns first."
        )


def prepare(table: TableLike, *, config: ClusterConfig | None = None) -> Prepared:
    """Choose features, scale them and (optionally) drop duplicate rows.

    Parameters
    ----------
    table : SectionTable or path or DataFrame
        Anything :func:`engine.store.tables.load_table` accepts.
    config : ClusterConfig, optional
        Uses ``features``, ``scaler`` and ``dedupe``. Default ``ClusterConfig()``.

    Returns
    -------
    Prepared
        ``X`` [shape=(n_rows, n_features)] scaled; ``n_rows`` is the table's
        row count minus dropped duplicates.

    Raises
    ------
    ParameterError
        If features are missing, values are not finite, or fewer than two rows remain.
    """
    config = ClusterConfig() if config is None else config
    if not isinstance(config, ClusterConfig):
        raise ParameterError(f"config must be a ClusterConfig, got {type(config).__name__}")
    table = load_table(table)
    names = resolve_features(table, config.features)
    cols = [table.names.index(n) for n in names]
    raw = np.ascontiguousarray(table.values[:, cols], dtype=np.float64)
    check_finite(raw, names)
    if raw.shape[0] < 2:
        raise ParameterError(f"need at least 2 sections to model, got {raw.shape[0]}")
    warnings: list[str] = []
    spread = np.ptp(raw, axis=0)
    constant = tuple(n for n, s in zip(names, spread) if s == 0.0)
    if constant:
        warnings.append(f"constant columns carry no information and scale to zero: {list(constant)}")
    try:
        X = make_scaler(config.scaler).fit_transform(raw)
    except ParameterError:
        raise
    except ValueError as exc:
        raise ParameterError(f"scaling with {config.scaler!r} failed: {exc}") from exc
    X = np.ascontiguousarray(X, dtype=np.float64)
    rows = np.arange(raw.shape[0], dtype=np.int64)
    n_dup = 0
    if config.dedupe:
        dup = pd.DataFrame(X).duplicated(keep="first").to_numpy()
        n_dup = int(dup.sum())
        if n_dup:
            keep = ~dup
            X, raw, rows = X[keep], raw[keep], rows[keep]
            warnings.append(f"dropped {n_dup} duplicate rows after scaling")
        if X.shape[0] < 2:
            raise ParameterError("fewer than 2 distinct rows remain after dropping duplicates")
    meta = table.meta.iloc[rows].reset_index(drop=True)
    return Prepared(
        X=X,
        raw=raw,
        names=names,
        meta=meta,
        rows=rows,
        scaler=config.scaler,
        dedupe=config.dedupe,
        n_duplicates=n_dup,
        n_input_rows=len(table),
        constant=constant,
        table_digest=table.config_digest,
        warnings=tuple(warnings),
    )


def correlation_report(table: TableLike, *, features: tuple[str, ...] = (), threshold: float = 0.9) -> CorrelationReport:
    """List highly correlated feature pairs, so a user sees why some were dropped.

    Correlation is unaffected by per-column scaling, so this is computed on
    the original units. On the thesis table it shows the spectral centroid,
    bandwidth and rolloff moving together (|r| > 0.9), which is why the thesis
    kept only the centroid.

    Parameters
    ----------
    table : SectionTable or path or DataFrame
    features : tuple of str
        Columns to examine; ``()`` examines every feature of the table.
    threshold : float
        Report pairs with ``|r| > threshold``; in (0, 1).

    Returns
    -------
    CorrelationReport

    Raises
    ------
    ParameterError
        If the threshold is outside (0, 1), features are missing or values are not finite.
    """
    if not 0.0 < threshold < 1.0:
        raise ParameterError(f"threshold must be in (0, 1), got {threshold}")
    table = load_table(table)
    names = tuple(features) if features else table.names
    names = resolve_features(table, names)
    values = table.values[:, [table.names.index(n) for n in names]].astype(np.float64)
    check_finite(values, names)
    if values.shape[0] < 3:
        raise ParameterError(f"need at least 3 rows for correlations, got {values.shape[0]}")
    with np.errstate(invalid="ignore", divide="ignore"):
        r = np.corrcoef(values, rowvar=False)
    r = np.atleast_2d(r)
    const = np.ptp(values, axis=0) == 0
    r[const, :] = np.nan
    r[:, const] = np.nan
    iu = np.triu_indices(len(names), k=1)
    pairs = [(names[i], names[j], float(r[i, j])) for i, j in zip(*iu) if np.isfinite(r[i, j]) and abs(r[i, j]) > threshold]
    pairs.sort(key=lambda p: (-abs(p[2]), p[0], p[1]))
    # Greedy: repeatedly drop the column in most remaining pairs (ties: the
    # higher mean |r| to the others, then the later column).
    drop: list[str] = []
    remaining = list(pairs)
    with np.errstate(invalid="ignore"), _warnings.catch_warnings():
        _warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN columns (constant features)
        mean_abs = dict(zip(names, np.nanmean(np.abs(np.where(np.eye(len(names), dtype=bool), np.nan, r)), axis=0)))
    while remaining:
        count: dict[str, int] = {}
        for a, b, _ in remaining:
            count[a] = count.get(a, 0) + 1
            count[b] = count.get(b, 0) + 1
        worst = max(count, key=lambda n: (count[n], mean_abs.get(n, 0.0), names.index(n)))
        drop.append(worst)
        remaining = [p for p in remaining if worst not in p[:2]]
    return CorrelationReport(names=names, matrix=r, threshold=float(threshold), pairs=tuple(pairs), suggested_drop=tuple(drop))


def unit_rows(X: np.ndarray, *, center: bool = False) -> np.ndarray:
    """Rows scaled to unit L2 length, so euclidean distance between them follows cosine distance.

    The one row normalisation behind spherical K-Means, cosine and correlation
    neighbours, and the timbre distance of DJ suggestions.

    Parameters
    ----------
    X : np.ndarray [shape=(n_rows, n_features)]
        Scaled features.
    center : bool
        Subtract each row's mean first (then distances follow correlation distance).

    Returns
    -------
    np.ndarray [shape=(n_rows, n_features)]
        A new array; an all-zero row stays zero.
    """
    X = np.asarray(X)
    return normalize(X - X.mean(axis=1, keepdims=True) if center else X, norm="l2", axis=1)
