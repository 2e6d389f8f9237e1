"""Classical description: what a signal sounds like, frame by frame and section by section.

Takes a decoded signal. Gives frame-level features (:mod:`.frames`, with the
hand-written kernels that beat librosa in :mod:`._kernels`), their aggregation into
section rows (:mod:`.aggregation`, :mod:`.sections`), tempo, beats and energy (:mod:`.rhythm`), downbeats
(:mod:`.bars`), phrases and their labels (:mod:`.phrases`), key and
Camelot code (:mod:`.key`), and the representative sections of each track
(:mod:`.representative`).
"""

from .._lazy import lazy_exports

_EXPORTS = {
    "aggregation": (
        "section_frame_bounds", "aggregate",
    ),
    "bars": (
        "track_bars", "BEATS_PER_BAR", "TIMBRE_COLUMNS",
    ),
    "frames": (
        "frame_feature_names", "frame_features",
    ),
    "key": (
        "PROFILES", "estimate_key", "section_chroma", "tonal_chroma", "CLEAR_KEY", "camelot", "key_name", "parse_camelot",
        "camelot_relation", "camelot_relation_index", "CAMELOT_RELATIONS", "COMPATIBLE_RELATIONS",
        "RELATION_WORDS", "PITCH_NAMES",
    ),
    "tonal": (
        "TONAL_WINDOW_S", "TONAL_OVERLAP", "BASS_FMIN", "BASS_FMAX", "tonal_feature_names", "is_tonal_column",
        "TonalPlan", "tonal_plan", "tonal_block", "key_columns", "key_of", "frame_key",
    ),
    "phrases": (
        "PHRASE_LABELS", "MIN_PHRASE_BARS", "track_phrases", "bar_features", "phrase_bounds", "label_phrases", "section_phrases", "phrase_text",
    ),
    "representative": (
        "select_sections", "thesis_ratio",
    ),
    "rhythm": (
        "estimate_tempo", "beat_grid", "align_to_beats", "accent_beats", "onset_times", "energy_of",
        "energy_curve", "LOUDNESS_FLOOR_DB", "LOUDNESS_CEIL_DB", "ONSET_RATE_CEIL", "ALTERNATIVE_RATIOS",
    ),
    "sections": (
        "sections_from_frames", "segment_frames", "frame_phrases",
    ),
}
__all__ = [name for names in _EXPORTS.values() for name in names]
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
