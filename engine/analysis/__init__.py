"""Analysis of a section table: scale, cluster, project, explain, find, compare.

Takes a section table (rows are sections, columns are features). Gives the
scaled matrix (:mod:`.scale`), hard and soft clusterings and the choice of k
(:mod:`.cluster`), 2-D/3-D maps (:mod:`.project`), a random-forest surrogate with
SHAP values (:mod:`.explain`), nearest sections (:mod:`.similar`), comparisons of
clusterings and song-held-out KNN (:mod:`.compare`, :mod:`.songs`).

Names defined in more than one module (``SAMPLE_RATE``, ``build``, ``load``) are
reached through their module.
"""

from .._lazy import lazy_exports

_EXPORTS = {
    "cluster": (
        "METHOD_METRICS", "AGGLOMERATIVE_MAX_ROWS", "MINIBATCH_SIZE", "SCALE_N_INIT", "FCM_SCALE_ROWS",
        "HDBSCAN_SCALE_ROWS", "CLUSTER_PRESETS", "cluster_preset", "ClusterResult", "data_digest",
        "clustering_digest", "ClusterSummary", "KSweep", "cluster", "summarize", "choose_k",
        "find_knee", "working_space", "is_large",
    ),
    "compare": (
        "SectionLabels", "Comparison", "KnnReport", "pieces_to_sections", "compare_labels",
        "knn_evaluate",
    ),
    "explain": (
        "Explanation", "SectionExplanation", "explain", "DEFAULT_MAX_ROWS",
    ),
    "project": (
        "PROJECTIONS", "PCA_SCALE_ROWS", "TSNE_SCALE_ROWS", "UMAP_SCALE_ROWS", "Projection", "project",
    ),
    "scale": (
        "unit_rows", "SCALERS", "DEFAULT_EXCLUDED", "ColumnL2Scaler", "Prepared", "CorrelationReport",
        "make_scaler", "default_features", "resolve_features", "check_finite", "prepare",
        "correlation_report",
    ),
    "similar": (
        "METRICS", "RECALL_TARGET", "CALIBRATION_QUERIES", "Neighbours", "SectionIndex", "find_track",
        "find_section", "nearest_sections", "candidate_rows",
    ),
    "songs": (
        "MANIFEST_NAME", "read_manifest", "version_groups", "song_groups",
    ),
}
__all__ = [name for names in _EXPORTS.values() for name in names]
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
