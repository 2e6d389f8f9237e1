"""Running the pipeline over a batch of files, locally or on Dask.

Takes files (or a folder, or an fsspec URL: :mod:`.inputs`, or a DJ's rekordbox,
Traktor or M3U collection: :mod:`.collections`) and a store. Gives the
store filled: hash -> decode -> describe -> store per file, here, in a local process
pool (:mod:`.pipeline`) or on a Dask cluster (:mod:`.distributed`), with progress,
and each file that failed named with its reason; then CNN embeddings of the
stored tracks (:mod:`.embedding`). For a public deployment: visitors' private
spaces within a disk budget (:mod:`.visitors`), upload quotas (:mod:`.quotas`)
and a server-wide queue of analyses (:mod:`.queue`).
"""

from .._lazy import lazy_exports

_EXPORTS = {
    "collections": (
        "read_collection", "locate_collection", "collection_inputs", "analysed_locations", "keep_collection", "kept_collection",
    ),
    "distributed": (
        "TASK_RETRIES", "dask_client", "run_tasks", "task_failure", "cluster_summary",
    ),
    "embedding": (
        "embed_library", "missing_embeddings", "section_embeddings",
    ),
    "inputs": (
        "collect_inputs", "local_copy",
    ),
    "pipeline": (
        "analyze", "open_library", "DEMO_DIR",
    ),
    "queue": (
        "AnalysisQueue", "Cancelled",
    ),
    "quotas": (
        "Usage", "Candidate", "Admission", "admit", "audio_seconds",
    ),
    "visitors": (
        "VisitorSpaces", "VisitorSpace", "SpaceFile", "visitor_key",
    ),
}
__all__ = [name for names in _EXPORTS.values() for name in names]
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
