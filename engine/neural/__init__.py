"""CNN description: musicnn and VGGish embeddings, tags and Grad-CAM.

Takes decoded signals. Gives the networks and their bundled weights
(:mod:`.musicnn`, :mod:`.vggish`), embeddings per piece pooled to sections
(:mod:`.embed`), stored embeddings as tables for the analysis stage
(:mod:`.tables`), plain-word tags per cluster (:mod:`.tags`, numpy only) and
Grad-CAM heat maps (:mod:`.gradcam`). torch loads only when a network runs.

Names defined in more than one module (``SAMPLE_RATE``, ``build``, ``load``) are
reached through their module.

A function named like its module (``embed.embed``, ``gradcam.gradcam``) is
reached through the module: once the module is imported, the package attribute is the module.
"""

from .._lazy import lazy_exports

_EXPORTS = {
    "embed": (
        "MUSICNN_MODELS", "EmbeddingModel", "load_model", "resolve_device", "batch_size_for",
        "model_inputs", "embed_prepared", "embed_inputs", "pool", "pool_to_sections", "piece_sections",
    ),
    "gradcam": (
        "MAX_PER_CLUSTER", "sample_members", "cluster_centroids", "heatmaps_of_samples",
        "cluster_heatmaps",
    ),
    "musicnn": (
        "N_FFT", "HOP_LENGTH", "N_MELS", "PATCH_FRAMES", "PATCH_SECONDS", "BN_EPS", "MODELS",
        "WEIGHTS_DIR", "ModelSpec", "LoadedModel", "Musicnn", "MusicnnVGG", "mel_filterbank", "log_mel",
        "patch_starts", "patches",
    ),
    "runtime": (
        "onnx_runner", "INFERENCE_ENV",
    ),
    "tables": (
        "LEVELS", "embedding_table", "piece_inputs", "cluster_gradcam", "piece_seconds",
    ),
    "tags": (
        "cluster_tags", "describe_clusters",
    ),
    "vggish": (
        "EXAMPLE_SECONDS", "NUM_FRAMES", "NUM_BANDS", "EMBEDDING_SIZE", "ENV_WEIGHTS", "ENV_PCA",
        "WEIGHTS_URL", "PCA_URL", "WeightsFile", "LoadedVGGish", "PCAParams", "hub_checkpoint_dir",
        "find_weights", "find_pca", "load_pca", "examples", "postprocess", "cam_layer",
    ),
}
__all__ = [name for names in _EXPORTS.values() for name in names]
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
