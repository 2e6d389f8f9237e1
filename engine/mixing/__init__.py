"""DJ mixing: which sections could be played one after another.

Takes stored sections and their frames. Gives tempo, key and energy per section,
ranked "mixes well with" suggestions and paths through a library (:mod:`.mix`),
and beat-matched transition previews (:mod:`.transition`).
"""

from .._lazy import lazy_exports

_EXPORTS = {
    "mix": (
        "TrackDescriptors", "MixTable", "Suggestions", "MixPath", "describe_track", "describe_sections",
        "describe_store", "pair_components", "suggest", "mix_path", "DESCRIPTOR_COLUMNS",
        "MIX_CANDIDATES",
    ),
    "transition": (
        "Transition", "render_transition", "time_stretch", "to_wav_bytes", "transition_from_store",
    ),
}
__all__ = [name for names in _EXPORTS.values() for name in names]
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
