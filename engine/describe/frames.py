"""Frame-level classical features of a track: one row per STFT frame, one column per feature.

:func:`frame_features` turns one decoded track into a :class:`FrameTable`:
one row per STFT frame (``n_frames = 1 + n_samples // hop_length``, frame
``i`` centred on sample ``i * hop_length``), one float32 column per feature
(names from :func:`frame_feature_names`). This is the expensive part of the
classical description and is stored per track; :mod:`.aggregation` turns the
stored frames into section rows.

Every spectral feature comes from ONE short-time Fourier transform per track
(:mod:`engine.audio.stft`, i.e. ``librosa.stft``), computed block by block,
in two passes so that memory does not grow with the track (see
:func:`_compute`). Its magnitude feeds centroid, bandwidth, rolloff,
flatness and contrast; its power feeds chroma and one mel filterbank, whose
dB values feed both the MFCCs and the onset strength. Envelope, RMS and
zero-crossing rate are computed from the signal with block reductions.

Each block's spectrum goes to librosa's own feature functions
(``chroma_stft``, ``melspectrogram``, ``power_to_db``, ``mfcc``,
``onset_strength``, ``delta``) except where a hand-written kernel was at
least 1.5x faster than librosa's functions on one shared spectrogram, over
the whole chain, in ``bench/features.py``: the time-domain features (13x),
centroid and bandwidth (258x), rolloff (10x), flatness (2.4x), contrast
(2.5x) and chroma's tuning estimate (25x); see :mod:`._kernels`. Every
column equals librosa 0.11's per-feature function on the same audio (see
:func:`frame_features` for the exact correspondence; the tests check it).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view
from threadpoolctl import threadpool_limits

from ..audio.decode import SignalFile
from ..audio.stft import frame_count, frame_samples, spectrum
from ..config import FrameConfig
from ..errors import ParameterError
from ..records import FrameTable
from ._kernels import TUNING_FMAX, TUNING_FMIN, TuningVotes, contrast_bands, contrast_block, kernels
from .tonal import tonal_block, tonal_feature_names, tonal_plan

__all__ = ["frame_feature_names", "frame_features"]

# Constants of the librosa functions we reproduce (their defaults in 0.11).
_AMIN = 1e-10  # power floor of power_to_db and spectral_flatness
_TOP_DB = 80.0  # power_to_db dynamic range, applied over the whole track
_ZC_THRESHOLD = 1e-10  # zero_crossings: |y| <= this counts as zero
_DELTA_WIDTH = 9  # feature.delta Savitzky-Golay window (frames)
_ONSET_LAG = 1  # onset_strength lag (frames)

#: Frames per STFT block. Each block costs a few librosa calls with a fixed
#: cost (chroma_stft and melspectrogram build their filterbanks every call),
#: which made 128-frame blocks 25-35 % slower than 512; 512..2048 are within
#: 3 % of each other. At n_fft=2048 a block's buffers are ~2 MB each
#: (librosa's float64 temporaries ~8 MB).
_FRAME_BLOCK = 512

#: Frames per block of the MFCC deltas (bounds their temporaries).
_DELTA_BLOCK = 1 << 14

#: Frames per block when the contrast peaks and valleys go to dB (bounds temporaries).
_DB_BLOCK = 1 << 14

_TIME_FEATURES = ("amplitude_envelope", "rmse", "zero_crossing_rate")
_SPECTRAL_SHAPE = ("spectral_centroid", "spectral_bandwidth", "rolloff", "spectral_flatness")


def frame_feature_names(config: FrameConfig) -> tuple[str, ...]:
    """Names of the frame-level feature columns, in :class:`FrameTable` order.

    Parameters
    ----------
    config : FrameConfig
        Sets how many chroma, contrast and MFCC columns there are.

    Returns
    -------
    tuple of str
        ``amplitude_envelope, rmse, zero_crossing_rate, spectral_centroid,
        spectral_bandwidth, rolloff, spectral_flatness, chroma_stft,
        chroma_0 .. chroma_{n_chroma-1}`` (``chroma_0`` is C),
        ``spectral_contrast1 .. spectral_contrast{n_contrast_bands+1}``,
        ``onset_strength, mfcc1 .. mfcc{n_mfcc}, mfcc_delta1 .. mfcc_delta{n_mfcc}``,
        then the key's own columns ``tonal_0 .. tonal_{n_chroma-1}, bass_0 ..
        bass_{n_chroma-1}`` (:mod:`.tonal`).
    """
    return (
        *_TIME_FEATURES,
        *_SPECTRAL_SHAPE,
        "chroma_stft",
        *(f"chroma_{i}" for i in range(config.n_chroma)),
        *(f"spectral_contrast{i}" for i in range(1, config.n_contrast_bands + 2)),
        "onset_strength",
        *(f"mfcc{i}" for i in range(1, config.n_mfcc + 1)),
        *(f"mfcc_delta{i}" for i in range(1, config.n_mfcc + 1)),
        *tonal_feature_names(config.n_chroma),
    )


# --------------------------------------------------------------------------
# Per-config constants and per-track buffers
# --------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class _Plan:
    """Everything about a FrameConfig that does not depend on the audio."""

    names: tuple[str, ...]
    col: dict  # name -> column index
    freq: np.ndarray  # float64 [n_bins], bin centre frequencies
    contrast_bands: tuple  # ((bin_lo, bin_hi, q), ...), librosa's band edges and quantile counts
    contrast_covers_all: bool  # do the bands together hold every bin?
    tuning_bins: tuple  # (lo, hi): piptrack's bins fmin <= f < fmax
    min_samples: int
    mel_basis: np.ndarray  # float32 [n_bins, n_mels], librosa.filters.mel transposed (built once, not per block)


# Cached: a plan is a pure function of the (frozen, hashable) config, costs a
# few milliseconds to build, and a run uses one or two configs.
@lru_cache(maxsize=8)
def _plan(config: FrameConfig) -> _Plan:
    import librosa  # imported here: only frame extraction needs it

    sr, n_fft = config.sample_rate, config.n_fft
    names = frame_feature_names(config)
    freq = librosa.fft_frequencies(sr=sr, n_fft=n_fft)

    bands = contrast_bands(freq, sr, config.contrast_fmin, config.n_contrast_bands)
    covered = np.zeros(freq.size, dtype=bool)
    for lo, hi, _ in bands:
        covered[lo:hi] = True

    t_bins = np.flatnonzero((freq >= TUNING_FMIN) & (freq < min(TUNING_FMAX, sr / 2)))
    return _Plan(
        names=names,
        col={n: i for i, n in enumerate(names)},
        freq=freq,
        contrast_bands=bands,
        contrast_covers_all=bool(covered.all()),
        tuning_bins=(int(t_bins[0]), int(t_bins[-1]) + 1) if t_bins.size else (1, 1),
        min_samples=max(n_fft, (_DELTA_WIDTH - 1) * config.hop_length),
        mel_basis=np.ascontiguousarray(librosa.filters.mel(sr=sr, n_fft=n_fft, n_mels=config.n_mels).T),
    )


class _Scratch:
    """Buffers reused by every block of one track (fresh arrays per block would cost page faults)."""

    def __init__(self, plan: _Plan, config: FrameConfig, block: int) -> None:
        n_bins = config.n_fft // 2 + 1
        size = (block - 1) * config.hop_length + config.n_fft
        n_tuning = max(plan.tuning_bins[1] - plan.tuning_bins[0], 0)
        self.block = block
        self.seg = np.empty(size, dtype=np.float32)
        self.edge_seg = np.empty(size, dtype=np.float32)
        self.change = np.empty(size, dtype=bool)
        self.mag = np.empty((block, n_bins), dtype=np.float32)
        self.power = np.empty((block, n_bins), dtype=np.float32)
        self.work = np.empty((block, n_bins), dtype=np.float32)
        self.moments = np.empty((block, 3), dtype=np.float64)
        self.rolloff = np.empty(block, dtype=np.int64)
        self.pitches = np.empty(block * n_tuning, dtype=np.float32)
        self.pitch_mags = np.empty(block * n_tuning, dtype=np.float32)


# --------------------------------------------------------------------------
# Frame features
# --------------------------------------------------------------------------


def _check_audio(y: np.ndarray, sample_rate: int, config: FrameConfig, min_samples: int) -> np.ndarray:
    """Validate ``y`` and return it as contiguous float32 (a :class:`~engine.audio.decode.SignalFile` as it is)."""
    if sample_rate != config.sample_rate:
        raise ParameterError(f"audio at {sample_rate} Hz, but the frame settings expect {config.sample_rate} Hz")
    if isinstance(y, SignalFile):  # float32, mono, checked finite block by block as it was decoded
        if y.size < min_samples:
            raise ParameterError(f"audio of {y.size} samples is too short for frame features (needs at least {min_samples})")
        return y
    y = np.asarray(y)
    if y.ndim != 1:
        raise ParameterError(f"audio must be mono, 1-D; got shape {y.shape}")
    if not np.issubdtype(y.dtype, np.floating):
        raise ParameterError(f"audio must be floating point, got dtype {y.dtype}")
    if y.shape[0] < min_samples:
        raise ParameterError(
            f"audio of {y.shape[0]} samples is too short for frame features (needs at least {min_samples})"
        )
    y = np.ascontiguousarray(y, dtype=np.float32)
    if not (np.isfinite(y.min()) and np.isfinite(y.max())):  # min/max propagate NaN; no n-sized temporary
        raise ParameterError("audio holds NaN or infinite samples")
    return y


def frame_features(y: np.ndarray, *, sample_rate: int, config: FrameConfig, track_id: str = "") -> FrameTable:
    """Compute every frame-level feature of one track.

    Parameters
    ----------
    y : np.ndarray [shape=(n_samples,)] or SignalFile
        Mono audio at ``config.sample_rate``; cast to float32 (the analysis
        precision) if it is another floating type. A long track decoded with
        ``decode_file(spill=True)`` comes as a :class:`~engine.audio.decode.SignalFile`
        and is read block by block from it, never held whole.
    sample_rate : int
        Rate of ``y`` in Hz; must equal ``config.sample_rate``.
    config : FrameConfig
        STFT and feature settings.
    track_id : str
        Written into the table.

    Returns
    -------
    FrameTable
        ``values`` float32 [shape=(1 + n_samples // hop_length, n_features)],
        columns :func:`frame_feature_names`. With ``sr``, ``n_fft``, ``hop``
        from ``config`` and ``y`` as float32, the columns equal librosa 0.11's::

            amplitude_envelope   max |y| over the n_fft samples centred on the frame
                                 (zero padded at the edges, like center=True)
            rmse                 feature.rms(y=y, frame_length=n_fft, hop_length=hop, pad_mode="constant")
            zero_crossing_rate   feature.zero_crossing_rate(y, frame_length=n_fft, hop_length=hop)
            spectral_centroid    feature.spectral_centroid(y=y, sr=sr, n_fft=n_fft, hop_length=hop)
            spectral_bandwidth   feature.spectral_bandwidth(...same...)
            rolloff              feature.spectral_rolloff(..., roll_percent=config.rolloff_percent)
            spectral_flatness    feature.spectral_flatness(...)
            chroma_0..           feature.chroma_stft(..., n_chroma=config.n_chroma)  (tuning estimated)
            chroma_stft          the mean of the chroma columns
            spectral_contrast*   feature.spectral_contrast(..., fmin=contrast_fmin, n_bands=n_contrast_bands)
            onset_strength       onset.onset_strength(y=y, sr=sr, n_fft=n_fft, hop_length=hop, n_mels=n_mels)
            mfcc*                feature.mfcc(y=y, sr=sr, n_fft=n_fft, hop_length=hop, n_mels=n_mels, n_mfcc=n_mfcc)
            mfcc_delta*          feature.delta(mfcc)
            tonal_*, bass_*      the key's long-window chroma (see engine.describe.tonal.tonal_block)

        The dB floors (``top_db=80``) of the MFCCs and of spectral contrast
        are relative to the whole track's maximum, as in librosa.

    Raises
    ------
    ParameterError
        If ``sample_rate`` differs from ``config.sample_rate``, ``y`` is not
        1-D floating point, holds NaN/inf, or is shorter than
        ``max(n_fft, 8 * hop_length)`` samples (the delta window needs 9 frames).
    """
    if not isinstance(config, FrameConfig):
        raise ParameterError(f"config must be a FrameConfig, got {type(config).__name__}")
    plan = _plan(config)
    y = _check_audio(y, sample_rate, config, plan.min_samples)
    n, hop = y.shape[0], config.hop_length
    n_frames = frame_count(n, hop_length=hop)
    values = np.empty((n_frames, len(plan.names)), dtype=np.float32)
    _compute(y, plan, config, values)

    return FrameTable(
        track_id=track_id,
        names=plan.names,
        values=values,
        times_s=np.arange(n_frames, dtype=np.float64) * hop / sample_rate,
        sample_rate=int(sample_rate),
        hop_length=int(hop),
        duration_s=n / sample_rate,
        n_samples=int(n),
        frame_digest=config.digest(),
    )


def _compute(y: np.ndarray, plan: _Plan, config: FrameConfig, values: np.ndarray) -> None:
    """Fill ``values`` [n_frames, n_features] block by block, in two passes over one STFT.

    Four results need the whole track before any frame's value is final: the
    dB floors of the MFCCs/onsets and of spectral contrast (80 dB below the
    track's maximum), chroma's tuning (estimated from the whole track's
    spectral peaks) and the deltas (9 frames wide). So:

    1. :func:`_first_pass` computes the time-domain features, the spectral
       shape and contrast, and gathers the track-wide quantities (largest mel
       power, contrast peaks and valleys, tuning candidates);
    2. contrast gets its dB floor (:func:`_contrast_db`);
    3. :func:`_second_pass` computes the STFT of every block again for chroma
       (now with the track's tuning) and the mel dB spectrogram, hence the
       MFCCs and the onset strength (each block hands its last mel row on),
       and the key's long-window chroma of the block (:mod:`.tonal`);
    4. :func:`_deltas` differentiates the stored MFCCs in blocks with 4
       frames of context either side.

    Besides ``y`` and ``values``, only the contrast peaks and valleys (float64,
    2 x n_bands per frame) and the tuning candidates (5 bytes per spectral
    peak) grow with the track. Holding the power spectrogram for chroma
    instead of computing it twice (4 bytes x (n_fft/2 + 1) per frame: 1.3 GB
    for an hour at 44.1 kHz) took about 30 % less CPU time, but a long track
    could exhaust a worker's memory.
    """
    # One BLAS thread: the products here are per block (512 frames), too small
    # to share, and waking a second thread for each made this 2-3x slower.
    with threadpool_limits(1, user_api="blas"):
        scratch = _Scratch(plan, config, min(_FRAME_BLOCK, values.shape[0]))
        peak, valley, mel_max, tuning = _first_pass(y, plan, config, values, scratch)
        _contrast_db(peak, valley, values[:, plan.col["spectral_contrast1"] :][:, : peak.shape[1]])
        del peak, valley
        _second_pass(y, plan, config, values, scratch, tuning, _db(mel_max))
        _deltas(values, plan.col, config.n_mfcc)


def _blocks(n_frames: int, block: int):
    """``(a, b)`` for each block of frames ``a .. b-1``."""
    for a in range(0, n_frames, block):
        yield a, min(a + block, n_frames)


def _first_pass(
    y: np.ndarray, plan: _Plan, config: FrameConfig, values: np.ndarray, scratch: _Scratch
) -> tuple[np.ndarray, np.ndarray, np.float32, float]:
    """Time-domain features and spectral shape into ``values``; what needs the whole track, returned.

    Returns
    -------
    peak, valley : np.ndarray [shape=(n_frames, n_bands), dtype=float64]
        Spectral contrast's band peaks and valleys (magnitudes, before dB).
    mel_max : np.float32
        The largest mel power of the track.
    tuning : float
        chroma_stft's tuning estimate, in fractions of a chroma bin.
    """
    n_frames = values.shape[0]
    n_bands = len(plan.contrast_bands)
    peak = np.empty((n_frames, n_bands), dtype=np.float64)
    valley = np.empty((n_frames, n_bands), dtype=np.float64)
    mel_max = np.float32(0.0)
    votes = TuningVotes(config.n_chroma)
    kern = kernels()
    for a, b in _blocks(n_frames, scratch.block):
        rows = values[a:b]
        _, seg = frame_samples(y, a, b, n_fft=config.n_fft, hop_length=config.hop_length, out=scratch.seg)
        _time_block(y, seg, a, rows, config, plan.col, scratch)
        mag, power = _spectra(seg, config, scratch)
        _centroid_bandwidth(mag, plan, rows, kern, scratch)
        _rolloff(mag, plan, config, rows, kern, scratch)
        rows[:, plan.col["spectral_flatness"]] = _flatness(power, scratch)
        frame_max = contrast_block(mag, plan.contrast_bands, plan.contrast_covers_all, peak[a:b], valley[a:b])
        mel_max = max(mel_max, _mel_power(power, plan).max())
        _tuning_candidates(power, frame_max, plan, config, votes, kern, scratch)
    return peak, valley, mel_max, votes.estimate()


def _second_pass(
    y: np.ndarray, plan: _Plan, config: FrameConfig, values: np.ndarray, scratch: _Scratch, tuning: float, mel_top: np.float32
) -> None:
    """Chroma, MFCCs and onset strength into ``values``, from the STFT computed once more.

    ``mel_top`` is the track's largest mel power in dB (the 80-dB floor's reference).
    """
    lag = _ONSET_LAG
    # onset_strength: the mean positive dB rise of frame i over frame i - lag lands
    # on frame i - lag + shift (librosa centres it: lag + n_fft // (2 hop) frames later).
    shift = lag + config.n_fft // (2 * config.hop_length)
    values[: min(shift, values.shape[0]), plan.col["onset_strength"]] = 0.0
    db_rows = np.empty((scratch.block + lag, config.n_mels), dtype=np.float32)  # the previous block's last rows first
    chroma_basis = _chroma_basis(config, tuning)
    tonal, t0 = tonal_plan(config, tuning), plan.col["tonal_0"]
    for a, b in _blocks(values.shape[0], scratch.block):
        rows = values[a:b]
        _, seg = frame_samples(y, a, b, n_fft=config.n_fft, hop_length=config.hop_length, out=scratch.seg)
        _, power = _spectra(seg, config, scratch)
        _chroma(power, chroma_basis, plan, config, rows)
        tonal_block(y, a, b, tonal, config, rows[:, t0 : t0 + 2 * config.n_chroma])
        mel_db = db_rows[lag : lag + (b - a)]
        mel_db[:] = _floored_db(_mel_power(power, plan), mel_top)
        _mfcc(mel_db, plan, config, rows)
        _onset(db_rows, a, b, shift, values[:, plan.col["onset_strength"]])
        db_rows[:lag] = db_rows[b - a : b - a + lag].copy()


# --------------------------------------------------------------------------
# The feature families, one block of frames at a time (bench/features.py
# times each of these functions)
# --------------------------------------------------------------------------


def _spectra(seg: np.ndarray, config: FrameConfig, scratch: _Scratch) -> tuple[np.ndarray, np.ndarray]:
    """``(mag, power)``, float32 [n_frames, n_bins]: librosa's S (power=1) and S**2 (power=2)."""
    spec = spectrum(seg, n_fft=config.n_fft, hop_length=config.hop_length)
    mag = np.abs(spec, out=scratch.mag[: spec.shape[0]])
    return mag, np.square(mag, out=scratch.power[: spec.shape[0]])


def _time_block(y: np.ndarray, seg: np.ndarray, a: int, rows: np.ndarray, config: FrameConfig, col: dict, scratch: _Scratch) -> None:
    """Envelope, RMS and zero-crossing rate of frames ``a ..`` (their samples ``seg``) into ``rows``.

    Works on blocks of g = gcd(n_fft, hop) samples: a frame spans
    ``n_fft / g`` consecutive blocks and starts every ``hop / g`` blocks.
    """
    n_fft, hop = config.n_fft, config.hop_length
    g = math.gcd(n_fft, hop)
    per_frame, stride = n_fft // g, hop // g
    nb = rows.shape[0]
    blocks = seg.reshape(-1, g)
    peak_abs = np.maximum(blocks.max(axis=1), -blocks.min(axis=1))
    rows[:, col["amplitude_envelope"]] = sliding_window_view(peak_abs, per_frame)[::stride].max(axis=1)
    # squares in float32 as librosa's rms, summed in float64
    energy = np.square(blocks).sum(axis=1, dtype=np.float64)
    energy = sliding_window_view(energy, per_frame)[::stride].sum(axis=1)
    rows[:, col["rmse"]] = np.sqrt(energy / n_fft)
    # zero crossings: sign changes between neighbours inside each frame,
    # on the edge-padded signal; |y| <= 1e-10 counts as +0 (librosa).
    zc_seg = seg
    lo = a * hop - n_fft // 2
    if lo < 0 or lo + seg.shape[0] > y.shape[0]:  # padded: repeat the edge samples instead of zeros
        _, zc_seg = frame_samples(y, a, a + nb, n_fft=n_fft, hop_length=hop, edge=True, out=scratch.edge_seg)
    negative = zc_seg < -np.float32(_ZC_THRESHOLD)
    change = scratch.change[: seg.shape[0]]
    np.not_equal(negative[1:], negative[:-1], out=change[:-1])
    change[-1] = False
    counts = sliding_window_view(change.reshape(-1, g).sum(axis=1), per_frame)[::stride].sum(axis=1)
    counts -= change[np.arange(nb) * hop + n_fft - 1]  # a frame's last sample has no neighbour inside it
    rows[:, col["zero_crossing_rate"]] = counts / n_fft


def _centroid_bandwidth(mag: np.ndarray, plan: _Plan, rows: np.ndarray, kern, scratch: _Scratch) -> None:
    """Centroid and bandwidth from the moments sum_f S f^k, k = 0, 1, 2 (float64)."""
    mom = scratch.moments[: mag.shape[0]]
    kern.moments(mag, plan.freq, mom)
    total = np.where(mom[:, 0] < np.finfo(np.float32).tiny, 1.0, mom[:, 0])
    centroid = mom[:, 1] / total
    spread = (mom[:, 2] - 2.0 * centroid * mom[:, 1] + centroid**2 * mom[:, 0]) / total
    rows[:, plan.col["spectral_centroid"]] = centroid
    rows[:, plan.col["spectral_bandwidth"]] = np.sqrt(np.maximum(spread, 0.0))


def _rolloff(mag: np.ndarray, plan: _Plan, config: FrameConfig, rows: np.ndarray, kern, scratch: _Scratch) -> None:
    """Rolloff: the first bin whose float32 running sum reaches the fraction of the total."""
    nb = mag.shape[0]
    kern.rolloff(mag, np.float32(config.rolloff_percent), scratch.rolloff[:nb], scratch.work[:nb])
    rows[:, plan.col["rolloff"]] = plan.freq[scratch.rolloff[:nb]]


def _flatness(power: np.ndarray, scratch: _Scratch) -> np.ndarray:
    """Flatness: geometric over arithmetic mean of the power floored at amin.

    The logs' mean is a float32 pairwise sum, as accurate as librosa's float32
    mean; the arithmetic mean is taken in float64.
    """
    floored = np.maximum(power, np.float32(_AMIN), out=scratch.work[: power.shape[0]])
    arithmetic = floored.mean(axis=1, dtype=np.float64)
    return np.exp(np.log(floored, out=floored).mean(axis=1)) / arithmetic


def _mel_power(power: np.ndarray, plan: _Plan) -> np.ndarray:
    """``librosa.feature.melspectrogram(S=power)`` of the block: float32 [n_frames, n_mels].

    That function is librosa's mel filterbank times the power spectrogram; its
    filterbank is built once per config here (:func:`_plan`), since building it
    per block cost five times the product itself.
    """
    return power @ plan.mel_basis


def _tuning_candidates(
    power: np.ndarray, frame_max: np.ndarray, plan: _Plan, config: FrameConfig, votes: TuningVotes, kern, scratch: _Scratch
) -> None:
    """Candidate peaks for chroma's tuning estimate (max(S**2) == max(S)**2: squaring is monotonic)."""
    found = kern.pitch_candidates(
        power, np.square(frame_max), *plan.tuning_bins, config.sample_rate, config.n_fft, scratch.pitches, scratch.pitch_mags
    )
    votes.add(scratch.pitches[:found], scratch.pitch_mags[:found])


def _chroma_basis(config: FrameConfig, tuning: float) -> np.ndarray:
    """librosa's chroma filterbank for the track's tuning, transposed: float32 [n_bins, n_chroma] (once per track)."""
    import librosa

    basis = librosa.filters.chroma(sr=config.sample_rate, n_fft=config.n_fft, tuning=tuning, n_chroma=config.n_chroma)
    return np.ascontiguousarray(basis.T.astype(np.float32))


def _chroma(power: np.ndarray, basis: np.ndarray, plan: _Plan, config: FrameConfig, rows: np.ndarray) -> None:
    """``librosa.feature.chroma_stft(S=power, tuning=...)`` of the block, and its mean.

    That function is librosa's chroma filterbank times the power spectrogram,
    each frame scaled to a maximum of 1 (``librosa.util.normalize``, inf norm);
    the filterbank is built once per track (:func:`_chroma_basis`).
    """
    import librosa

    chroma = librosa.util.normalize(power @ basis, norm=np.inf, axis=1)
    k0 = plan.col["chroma_0"]
    rows[:, k0 : k0 + config.n_chroma] = chroma
    rows[:, plan.col["chroma_stft"]] = chroma.mean(axis=1, dtype=np.float64)


def _mfcc(mel_db: np.ndarray, plan: _Plan, config: FrameConfig, rows: np.ndarray) -> None:
    """``librosa.feature.mfcc`` of the block's mel dB rows (floored relative to the whole track)."""
    import librosa

    m0 = plan.col["mfcc1"]
    rows[:, m0 : m0 + config.n_mfcc] = librosa.feature.mfcc(S=mel_db.T, n_mfcc=config.n_mfcc).T


def _onset(db_rows: np.ndarray, a: int, b: int, shift: int, out: np.ndarray) -> None:
    """``librosa.onset.onset_strength`` of the block's mel dB rows into the track's onset column ``out``.

    ``db_rows`` holds the previous block's last ``lag`` rows, then frames
    ``a .. b-1``: the mean positive rise of frame ``i`` over frame ``i - lag``
    lands on frame ``i - lag + shift`` (librosa centres it).
    """
    import librosa

    lag = _ONSET_LAG
    first = max(a, lag)  # the first frame of this block that has a frame lag before it
    rows = db_rows[first - a : lag + b - a]  # frames first - lag .. b - 1
    rise = librosa.onset.onset_strength(S=rows.T, lag=lag, max_size=1, detrend=False, center=False)[lag:]
    dst = first - lag + shift
    take = min(rise.shape[0], out.shape[0] - dst)
    if take > 0:
        out[dst : dst + take] = rise[:take]


def _deltas(values: np.ndarray, col: dict, n_mfcc: int) -> None:
    """``librosa.feature.delta`` of the MFCC columns into the delta columns, block by block.

    A Savitzky-Golay derivative (9 frames, order 1, ``mode="interp"``): each
    block is filtered with 4 frames of context either side (more at the end,
    so a slice always holds 9 frames), and only frames whose whole window lay
    inside the slice -- or whose slice edge is the track's edge, where
    ``interp`` fits the track's first or last 9 frames -- are kept, so every
    value equals the whole-track filter's.
    """
    import librosa

    n = values.shape[0]
    half = _DELTA_WIDTH // 2
    m0, d0 = col["mfcc1"], col["mfcc_delta1"]
    for a in range(0, n, _DELTA_BLOCK):
        b = min(a + _DELTA_BLOCK, n)
        lo, hi = max(min(a - half, n - _DELTA_WIDTH), 0), min(b + half, n)
        d = librosa.feature.delta(values[lo:hi, m0 : m0 + n_mfcc], width=_DELTA_WIDTH, order=1, axis=0, mode="interp")
        values[a:b, d0 : d0 + n_mfcc] = d[a - lo : b - lo]


def _contrast_db(peak: np.ndarray, valley: np.ndarray, out: np.ndarray) -> None:
    """``power_to_db(peak) - power_to_db(valley)`` into ``out``, each floored 80 dB below its track maximum.

    As ``librosa.feature.spectral_contrast`` does over the whole track; in
    blocks of rows, so that the temporaries stay small.
    """
    peak_top, valley_top = _db(peak.max()), _db(valley.max())
    for a in range(0, peak.shape[0], _DB_BLOCK):
        b = min(a + _DB_BLOCK, peak.shape[0])
        out[a:b] = _floored_db(peak[a:b], peak_top) - _floored_db(valley[a:b], valley_top)


def _db(power: np.floating) -> np.floating:
    """``librosa.power_to_db(power)`` of one value, in its own dtype (the top of a dB floor)."""
    import librosa

    return librosa.power_to_db(np.asarray(power), top_db=None)[()]


def _floored_db(power: np.ndarray, top: np.floating) -> np.ndarray:
    """``librosa.power_to_db(power, top_db=80)`` with the floor 80 dB below ``top``, not below ``power``'s own maximum.

    dB is monotonic in power, so for a block of a longer array,
    ``max(db, top - 80)`` with ``top`` the dB of the whole array's maximum
    equals the whole array's ``power_to_db`` row for row.
    """
    import librosa

    db = librosa.power_to_db(power, top_db=None)
    return np.maximum(db, top - _TOP_DB, out=db)
