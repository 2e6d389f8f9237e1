"""Classical description: what a signal sounds like, frame by frame and section by section.

Takes a decoded signal. Gives frame-level features and their aggregation into
section rows (:mod:`.features`, :mod:`.sections`), tempo, beats and energy (:mod:`.rhythm`), key and
Camelot code (:mod:`.key`), and the representative sections of each track
(:mod:`.representative`).
"""

from .._lazy import lazy_exports

_EXPORTS = {
    "features": (
        "frame_feature_names", "frame_features", "section_frame_bounds", "aggregate",
        "section_features",
    ),
    "key": (
        "PROFILES", "Key", "estimate_key", "section_chroma", "camelot", "key_name", "parse_camelot",
        "camelot_relation", "PITCH_NAMES",
    ),
    "representative": (
        "select_sections", "select_table", "thesis_ratio",
    ),
    "rhythm": (
        "Tempo", "Energy", "estimate_tempo", "beat_grid", "align_to_beats", "accent_beats",
        "onset_envelope", "onset_times", "energy_of", "energy_curve", "LOUDNESS_FLOOR_DB",
        "LOUDNESS_CEIL_DB", "ONSET_RATE_CEIL",
    ),
    "sections": (
        "sections_from_frames",
    ),
}
__all__ = [name for names in _EXPORTS.values() for name in names]
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
