"""Audio in: files to signals, sections and spectrograms.

Takes audio files (anything libsndfile reads). Gives mono float32 signals at the
analysis rate (:mod:`.decode`), the track's identity (sha256 of its bytes), the
section and piece boundaries (:mod:`.segment`), and draw-ready spectrograms of one
section (:mod:`.spectrogram`).
"""

from .._lazy import lazy_exports

_EXPORTS = {
    "decode": (
        "file_digest", "decode_file", "SignalFile", "AUDIO_SUFFIXES", "is_audio_name",
    ),
    "segment": (
        "segment", "min_track_seconds",
    ),
    "spectrogram": (
        "DRAW_SAMPLE_RATE", "Clip", "Spectrogram", "read_section", "clip_to_wav",
        "log_frequency_filters", "log_spectrogram", "section_spectrogram",
    ),
}
__all__ = [name for names in _EXPORTS.values() for name in names]
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
