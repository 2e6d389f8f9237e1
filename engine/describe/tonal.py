"""The key's own chroma: long-window frames that resolve low notes, and a bass chroma.

The classical ``chroma_0 .. chroma_11`` columns come from the analysis STFT
(2048 samples at 44.1 kHz: 21.5 Hz bins). Below about 350 Hz a semitone is
narrower than a bin, so bass and low chord notes smear over their
neighbours, and a pitch shift moves energy between bins unevenly: measured
on the demo library shifted by -2..+2 semitones (``bench/key.py``), the key
followed the shift in 70 % of tracks from that chroma. So the key reads its
own columns, computed in the same second pass over the audio
(:func:`engine.describe.frames.frame_features`), never decoding again:

* ``tonal_0 .. tonal_11`` -- ``librosa.feature.chroma_stft`` of a window of
  :data:`TONAL_WINDOW_S` (the power of two nearest it: 8192 samples, 5.4 Hz
  bins at 44.1 kHz), with the track's tuning, every quarter window;
* ``bass_0 .. bass_11`` -- the same spectrum through a chroma filterbank of
  equal weight per octave, only between :data:`BASS_FMIN` and
  :data:`BASS_FMAX`: which pitch class the bass plays (what decides between
  a key and its relative, :func:`engine.describe.key.estimate_key`).

Each analysis frame holds the values of the long window centred nearest to
it (the long windows step by a whole number of frames), so the columns live
in the frame table like every other feature, and a section's key is read
from its frames whatever the section mode. They are for the key only: a
default aggregation leaves them out of the section features
(:func:`is_tonal_column`), so the classical feature table is unchanged.

The window was chosen in an exploratory run (30 s from the middle of each
demo track, shifted -2..+2 semitones): 8192 samples followed the shift more
often than 2048 or 16384, and bass-heavy weightings of the whole chroma did
worse, since the bass smears most; so the bass only settles the tonic. That
run's absolute figures are not quoted: its clips gave Rubber Band the wrong
sample rate. ``bench/key.py`` prints the measured table (``docs/mixing.md``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from ..audio.stft import frame_samples, spectrum
from ..config import FrameConfig
from ..errors import ParameterError
from ..records import FrameTable, Key
from .key import bass_profile, estimate_key, tonal_chroma

__all__ = [
    "TONAL_WINDOW_S",
    "TONAL_OVERLAP",
    "BASS_FMIN",
    "BASS_FMAX",
    "tonal_feature_names",
    "is_tonal_column",
    "TonalPlan",
    "tonal_plan",
    "tonal_block",
    "key_columns",
    "key_of",
    "frame_key",
]

#: Seconds of the key's analysis window; the window is the power of two of samples nearest it.
TONAL_WINDOW_S = 0.186
#: Long windows per window length (they step by a quarter window, rounded to whole frames).
TONAL_OVERLAP = 4
#: Hz, the bass chroma's range: from A1 (55 Hz) to E4 (330 Hz), where the bass's fundamental and
#: its second and third harmonics lie.
BASS_FMIN, BASS_FMAX = 55.0, 330.0


def tonal_feature_names(n_chroma: int = 12) -> tuple[str, ...]:
    """``tonal_0 .. tonal_{n-1}, bass_0 .. bass_{n-1}`` (index 0 is C)."""
    return (*(f"tonal_{i}" for i in range(n_chroma)), *(f"bass_{i}" for i in range(n_chroma)))


def is_tonal_column(name: str) -> bool:
    """Is ``name`` one of the key's columns (left out of a default aggregation)?"""
    head, _, tail = name.partition("_")
    return head in ("tonal", "bass") and tail.isdigit()


@dataclass(frozen=True, eq=False)
class TonalPlan:
    """The long window of one FrameConfig and one tuning."""

    n_fft: int  # samples per long window
    step: int  # analysis frames per long-window step
    basis: np.ndarray  # float32 [n_bins, n_chroma], librosa's chroma filterbank, transposed
    bass_basis: np.ndarray  # float32 [n_bins, n_chroma], flat over octaves, only BASS_FMIN..BASS_FMAX


def _window(config: FrameConfig) -> tuple[int, int]:
    n_fft = 1 << max(int(round(math.log2(TONAL_WINDOW_S * config.sample_rate))), 6)
    return n_fft, max(1, int(round(n_fft / TONAL_OVERLAP / config.hop_length)))


# A plan is a pure function of the frozen config and the tuning (rounded to the float it is).
@lru_cache(maxsize=8)
def tonal_plan(config: FrameConfig, tuning: float) -> TonalPlan:
    """The long window and the two filterbanks for a config and a track's tuning.

    Parameters
    ----------
    config : FrameConfig
    tuning : float
        The track's tuning in fractions of a chroma bin (as chroma_stft estimates it).

    Returns
    -------
    TonalPlan
    """
    import librosa

    n_fft, step = _window(config)
    sr = config.sample_rate
    basis = librosa.filters.chroma(sr=sr, n_fft=n_fft, tuning=tuning, n_chroma=config.n_chroma)
    bass = librosa.filters.chroma(sr=sr, n_fft=n_fft, tuning=tuning, n_chroma=config.n_chroma, octwidth=None)
    freq = librosa.fft_frequencies(sr=sr, n_fft=n_fft)
    bass[:, (freq < BASS_FMIN) | (freq > BASS_FMAX)] = 0.0
    return TonalPlan(
        n_fft=n_fft,
        step=step,
        basis=np.ascontiguousarray(basis.T, dtype=np.float32),
        bass_basis=np.ascontiguousarray(bass.T, dtype=np.float32),
    )


def tonal_block(y: np.ndarray, a: int, b: int, plan: TonalPlan, config: FrameConfig, out: np.ndarray) -> None:
    """The tonal and bass chroma of analysis frames ``a .. b-1`` into ``out``.

    Parameters
    ----------
    y : np.ndarray [shape=(n_samples,)] or SignalFile
        The track.
    a, b : int
        Analysis frames ``a <= i < b`` (frame ``i`` centred on sample ``i * hop_length``).
    plan : TonalPlan
    config : FrameConfig
    out : np.ndarray [shape=(b - a, 2 * n_chroma)]
        Filled with ``tonal_*`` then ``bass_*``: frame ``i`` gets long window
        ``j = round(i / step)`` (centred on sample ``j * step * hop_length``;
        at most librosa's last window, ``n_samples // (step * hop_length)``),
        i.e. ``librosa.feature.chroma_stft(S=|librosa.stft(y, n_fft=plan.n_fft,
        hop_length=step * hop_length)|**2, tuning=...)`` column ``j``; the bass
        columns are that power times ``plan.bass_basis``, each frame scaled to a
        maximum of 1 (all zero where the bass range is silent).
    """
    import librosa

    half, hop = plan.step // 2, plan.step * config.hop_length
    nearest = np.minimum((np.arange(a, b) + half) // plan.step, y.shape[0] // hop)  # librosa's last window at most
    j0, j1 = int(nearest[0]), int(nearest[-1]) + 1
    _, seg = frame_samples(y, j0, j1, n_fft=plan.n_fft, hop_length=hop)
    power = np.square(np.abs(spectrum(seg, n_fft=plan.n_fft, hop_length=hop)))
    n = config.n_chroma
    rows = np.empty((j1 - j0, 2 * n), dtype=np.float32)
    rows[:, :n] = librosa.util.normalize(power @ plan.basis, norm=np.inf, axis=1)
    rows[:, n:] = librosa.util.normalize(power @ plan.bass_basis, norm=np.inf, axis=1)
    out[:] = rows[nearest - j0]


def key_columns(frames: FrameTable) -> tuple[np.ndarray, np.ndarray | None, np.ndarray]:
    """The key's evidence in a track's frames.

    Parameters
    ----------
    frames : FrameTable

    Returns
    -------
    chroma : np.ndarray [shape=(n_frames, 12)], float64
        ``tonal_*`` (the long window), or ``chroma_*`` in frames stored before
        the key had its own columns.
    bass : np.ndarray [shape=(n_frames, 12)] or None
        ``bass_*``; None for older frames (their key is decided without it).
    classical : np.ndarray [shape=(n_frames, 12)], float64
        ``chroma_*``, what the clarity is measured on: the short window
        smears a drum's low pitch over neighbouring bins, so kicks and hats
        count as flat (measured: generated drums under 0.005 confidence),
        where the long window resolves a tuned kick as a note.

    Raises
    ------
    ParameterError
        If the frames lack ``chroma_0..11``.
    """
    index = {n: i for i, n in enumerate(frames.names)}
    classical = [index.get(f"chroma_{i}") for i in range(12)]
    if None in classical:
        raise ParameterError("the stored frames lack chroma_0..11; key estimation needs 12 chroma bins")
    tonal = [index.get(f"tonal_{i}") for i in range(12)]
    bass = [index.get(f"bass_{i}") for i in range(12)]
    old = None in tonal or None in bass
    chroma = frames.values[:, classical if old else tonal].astype(np.float64)
    return chroma, None if old else frames.values[:, bass].astype(np.float64), frames.values[:, classical].astype(np.float64)


def key_of(chroma: np.ndarray, bass: np.ndarray | None, classical: np.ndarray, rms: np.ndarray, *, profile: str) -> Key:
    """The key of a stretch of frames from :func:`key_columns`' arrays and the frames' RMS.

    The profile is the level-weighted tonal evidence of ``chroma``
    (:func:`engine.describe.key.tonal_chroma`), the clarity that of ``classical``,
    and the bass's share (:func:`engine.describe.key.bass_profile`) settles the tonic.
    """
    tonal, _ = tonal_chroma(chroma, rms)
    _, clarity = tonal_chroma(classical, rms)
    low = None if bass is None else bass_profile(bass, rms)
    return estimate_key(tonal, profile=profile, clarity=clarity, bass=low)


def frame_key(frames: FrameTable, *, profile: str = "krumhansl", start: int = 0, stop: int | None = None) -> Key:
    """The key of frames ``start .. stop-1`` of a track (what the analysis gives a section or a track).

    Parameters
    ----------
    frames : FrameTable
        With ``rmse`` and the key's columns (:func:`key_columns`).
    profile : str
        One of :data:`engine.describe.key.PROFILES`.
    start, stop : int
        The frames; default the whole track.

    Returns
    -------
    Key

    Raises
    ------
    ParameterError
        For missing columns, an empty span or an unknown profile.
    """
    if "rmse" not in frames.names:
        raise ParameterError("the stored frames lack 'rmse'; analyse again with the default frame settings")
    span = slice(start, stop)
    chroma, bass, classical = key_columns(frames)
    rms = frames.values[span, frames.names.index("rmse")].astype(np.float64)
    return key_of(chroma[span], None if bass is None else bass[span], classical[span], rms, profile=profile)
