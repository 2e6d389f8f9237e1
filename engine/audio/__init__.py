"""Audio in: files to signals, sections and spectrograms.

Takes audio files (anything libsndfile reads). Gives mono float32 signals at the
analysis rate (:mod:`.decode`), the track's identity (sha256 of its bytes), the
section and piece boundaries (:mod:`.segment`), the one STFT every spectrogram is
made with (:mod:`.stft`), and draw-ready spectrograms of one section (:mod:`.spectrogram`).

A function named like its module (``segment.segment``) is
reached through the module: once the module is imported, the package attribute is the module.
"""

from .._lazy import lazy_exports

_EXPORTS = {
    "decode": (
        "file_digest", "decode_file", "SignalFile", "AUDIO_SUFFIXES", "is_audio_name",
    ),
    "segment": (
        "min_track_seconds",
    ),
    "spectrogram": (
        "DRAW_SAMPLE_RATE", "read_section", "clip_to_wav", "clip_to_ogg", "log_frequency_filters",
        "log_spectrogram", "section_spectrogram",
    ),
    "stft": (
        "frame_count", "frame_samples", "spectrum", "power_blocks",
    ),
}
__all__ = [name for names in _EXPORTS.values() for name in names]
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
