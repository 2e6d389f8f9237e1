"""Analysis of a section table: scale, cluster, project, explain, find, compare.

Takes a section table (rows are sections, columns are features). Gives the
scaled matrix (:mod:`.scale`), hard and soft clusterings (:mod:`.cluster`, each
method fitted in :mod:`.methods`) and the choice of k (:mod:`.sweep`), 2-D/3-D
maps (:mod:`.project`), a random-forest surrogate with SHAP values
(:mod:`.explain`), nearest sections (:mod:`.similar`) in one of several spaces (:mod:`.spaces`), comparisons of clusterings
and song-held-out KNN, on any labels or on reviewers' (:mod:`.compare`, :mod:`.songs`).
Its records live in :mod:`engine.records`.

Names defined in more than one module (``LARGE_ROWS``) are
reached through their module.

A function named like its module (``cluster.cluster``, ``explain.explain``, ``project.project``) is
reached through the module: once the module is imported, the package attribute is the module.
"""

from .._lazy import lazy_exports

_EXPORTS = {
    "cluster": (
        "CLUSTER_PRESETS", "cluster_preset", "data_digest", "clustering_digest", "summarize",
        "is_large",
    ),
    "compare": (
        "pieces_to_sections", "compare_labels", "knn_evaluate", "knn_evaluate_reviews",
    ),
    "explain": (
        "DEFAULT_MAX_ROWS",
    ),
    "methods": (
        "METHOD_METRICS", "AGGLOMERATIVE_MAX_ROWS", "MINIBATCH_SIZE", "SCALE_N_INIT", "FCM_SCALE_ROWS",
        "HDBSCAN_SCALE_ROWS", "working_space",
    ),
    "project": (
        "PROJECTIONS", "PCA_SCALE_ROWS", "TSNE_SCALE_ROWS", "UMAP_SCALE_ROWS",
    ),
    "scale": (
        "unit_rows", "SCALERS", "DEFAULT_EXCLUDED", "ColumnL2Scaler", "make_scaler", "default_features",
        "resolve_features", "check_finite", "prepare", "correlation_report",
    ),
    "similar": (
        "METRICS", "RECALL_TARGET", "CALIBRATION_QUERIES", "SectionIndex", "find_track", "find_section",
        "nearest_sections", "candidate_rows",
    ),
    "spaces": (
        "SPACES", "EMBEDDING_SPACES", "PROJECTION_FILE", "SHRINK", "InvariantProjection", "fuse_blocks", "fit_projection",
        "load_projection", "align_embeddings", "space_prepared",
    ),
    "songs": (
        "MANIFEST_NAME", "read_manifest", "version_groups", "song_groups",
    ),
    "sweep": (
        "SWEEP_SAMPLE", "choose_k", "find_knee",
    ),
}
__all__ = [name for names in _EXPORTS.values() for name in names]
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
