"""DJ mixing: which sections could be played one after another.

Takes stored sections and their frames. Gives tempo, key and energy per track and
section, cached in the store (:mod:`.descriptors`), pair scores and ranked "mixes
well with" suggestions (:mod:`.suggestions`), paths through a library
(:mod:`.path`), beat-matched transition previews (:mod:`.transition`) and, for DJ
software, beat grids, cues and one crate per cluster (:mod:`.crates`).
"""

from .._lazy import lazy_exports

_EXPORTS = {
    "crates": (
        "CLUSTER_COLOURS", "GRID_TOLERANCE_S", "cluster_rgb", "beat_grid_tempo", "cue_name", "dj_crates",
    ),
    "descriptors": (
        "describe_track", "describe_sections", "describe_store", "frames_needed", "DESCRIPTOR_COLUMNS",
    ),
    "path": (
        "mix_path", "MIX_CANDIDATES",
    ),
    "suggestions": (
        "pair_components", "suggest",
    ),
    "transition": (
        "render_transition", "time_stretch", "to_wav_bytes", "transition_from_store",
    ),
}
__all__ = [name for names in _EXPORTS.values() for name in names]
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
