"""Records of the analysis stage: prepared rows, clusterings, maps, explanations, neighbours, comparisons.

Frozen dataclasses holding arrays and tuples (shapes documented per field);
they import nothing from the engine's stages (only the shared error family,
for the few methods that check their argument).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from ..errors import ParameterError

if TYPE_CHECKING:  # annotations only: the config is shared, not a stage
    from ..config import ClusterConfig

__all__ = [
    "Prepared",
    "CorrelationReport",
    "ClusterResult",
    "ClusterSummary",
    "KSweep",
    "Projection",
    "Neighbours",
    "SectionLabels",
    "Comparison",
    "KnnReport",
    "SectionExplanation",
    "Explanation",
]


@dataclass(frozen=True, eq=False)
class Prepared:
    """Scaled modelling data and where each row came from.

    ``X`` and ``raw`` hold the same rows in the same order: scaled, and in
    the table's original units.
    """

    X: np.ndarray  # float64 [shape=(n_rows, n_features)], scaled
    raw: np.ndarray  # float64 [shape=(n_rows, n_features)], original units
    names: tuple[str, ...]  # feature names, one per column
    meta: pd.DataFrame  # [shape=(n_rows, n_meta)], the rows' metadata, index 0..n_rows-1
    rows: np.ndarray  # int64 [shape=(n_rows,)], positions of the rows in the input table
    scaler: str  # scaler name
    dedupe: bool  # whether duplicate rows were dropped
    n_duplicates: int  # rows dropped as duplicates
    n_input_rows: int  # rows in the input table
    constant: tuple[str, ...]  # columns constant over the input rows
    table_digest: str  # the input table's config digest
    warnings: tuple[str, ...]

    def __len__(self) -> int:
        return int(self.X.shape[0])

    @property
    def key(self) -> tuple:
        """What decides this data: (features, scaler, dedupe, table digest)."""
        return (self.names, self.scaler, self.dedupe, self.table_digest)


@dataclass(frozen=True, eq=False)
class CorrelationReport:
    """Feature pairs whose Pearson correlation exceeds a threshold in absolute value."""

    names: tuple[str, ...]  # features examined
    matrix: np.ndarray  # float64 [shape=(n_features, n_features)], Pearson r (NaN for constant columns)
    threshold: float
    pairs: tuple[tuple[str, str, float], ...]  # (a, b, r) with |r| > threshold, strongest first
    suggested_drop: tuple[str, ...]  # a greedy choice of columns whose removal clears every pair

    def to_frame(self) -> pd.DataFrame:
        """The pairs as a DataFrame with columns ``a``, ``b``, ``r``."""
        return pd.DataFrame(list(self.pairs), columns=["a", "b", "r"])


def _json_float(x) -> float | None:
    x = float(x)
    return x if np.isfinite(x) else None


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


@dataclass(frozen=True, eq=False)
class Neighbours:
    """The nearest sections to one query section, closest first."""

    query: int  # row position of the query in the searched rows
    query_name: str
    query_section: int
    rows: np.ndarray  # int64 [shape=(n_found,)], row positions of the neighbours
    distances: np.ndarray  # float64 [shape=(n_found,)], ascending
    meta: pd.DataFrame  # [shape=(n_found, n_meta + 1)], the neighbours' metadata and a ``distance`` column
    metric: str
    scaler: str
    other_tracks: bool  # were the query's own track's sections excluded?
    names: tuple[str, ...]  # features compared
    config_digest: str
    index: str = "exact"  # which index answered: "exact", or the approximate index and its settings

    def __len__(self) -> int:
        return int(self.rows.shape[0])


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


@dataclass(frozen=True)
class SectionExplanation:
    """One section's SHAP values towards one cluster (a waterfall plot's input)."""

    row: int  # position in the clustering's rows
    cluster: int  # the cluster explained (by default the section's own)
    base_value: float  # the forest's mean probability of that cluster
    predicted: float  # the forest's probability of that cluster for this section (base + sum of values)
    values: tuple[float, ...]  # SHAP value per feature; base + sum = predicted probability
    data: tuple[float, ...]  # feature values, original units
    names: tuple[str, ...]


@dataclass(frozen=True, eq=False)
class Explanation:
    """SHAP values of a surrogate forest trained on cluster labels."""

    names: tuple[str, ...]  # features
    clusters: tuple[int, ...]  # cluster ids, one per SHAP output
    rows: np.ndarray  # int64 [shape=(n_used,)], positions (in the clustering's rows) explained
    labels: np.ndarray  # int64 [shape=(n_used,)], their clusters
    shap_values: np.ndarray  # float64 [shape=(n_used, n_features, n_clusters)]
    base_values: np.ndarray  # float64 [shape=(n_clusters,)]
    data: np.ndarray  # float64 [shape=(n_used, n_features)], original units (beeswarm colours)
    predicted: np.ndarray  # float64 [shape=(n_used, n_clusters)], the forest's probabilities (= base + sum of SHAP)
    importance: np.ndarray  # float64 [shape=(n_clusters, n_features)], mean |SHAP| over each cluster's sections
    global_importance: np.ndarray  # float64 [shape=(n_features,)], mean |SHAP| for each section's own cluster
    fidelity: float  # accuracy of the forest on the cluster labels of held-out songs
    baseline: float  # share of the largest cluster (what always guessing it scores)
    n_train: int  # sections the fidelity forest was trained on (the explained forest: all n_used)
    n_test: int  # sections of held-out songs (fidelity is measured on them)
    n_songs: int  # songs among the rows used (versions of one piece are one song)
    n_test_songs: int  # songs held out whole
    n_used: int
    cap: int  # max_rows
    n_estimators: int
    seed: int
    scaler: str
    note: str  # how to read these importances, for this data and scaler
    config_digest: str

    def ranking(self, cluster: int | None = None) -> tuple[tuple[str, float], ...]:
        """Features by importance, highest first (overall, or for one cluster)."""
        imp = self.global_importance if cluster is None else self.importance[self._col(cluster)]
        order = np.argsort(-imp, kind="stable")
        return tuple((self.names[i], float(imp[i])) for i in order)

    def beeswarm(self, cluster: int) -> tuple[np.ndarray, np.ndarray]:
        """SHAP values [shape=(n_used, n_features)] towards ``cluster`` and the feature values."""
        return self.shap_values[:, :, self._col(cluster)], self.data

    def section(self, row: int, *, cluster: int | None = None) -> SectionExplanation:
        """Waterfall input for one explained row (a position in the clustering's rows).

        Raises
        ------
        ParameterError
            If the row was not explained (subsampled out) or the cluster is unknown.
        """
        hits = np.flatnonzero(self.rows == row)
        if len(hits) == 0:
            raise ParameterError(f"row {row} was not explained (only {self.n_used} sampled rows were)")
        i = int(hits[0])
        c = int(self.labels[i]) if cluster is None else int(cluster)
        j = self._col(c)
        return SectionExplanation(
            row=int(row),
            cluster=c,
            base_value=float(self.base_values[j]),
            predicted=float(self.predicted[i, j]),
            values=tuple(float(v) for v in self.shap_values[i, :, j]),
            data=tuple(float(v) for v in self.data[i]),
            names=self.names,
        )

    def _col(self, cluster: int) -> int:
        if cluster not in self.clusters:
            raise ParameterError(f"no cluster {cluster}; clusters are {list(self.clusters)}")
        return self.clusters.index(cluster)
