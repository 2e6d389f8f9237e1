"""Frame features and their aggregation: equal to librosa's own functions, stable under storage."""

from __future__ import annotations

from pathlib import Path

import librosa
import numpy as np
import pytest
import soundfile as sf
import soxr

from engine.config import AggregateConfig, FrameConfig
from engine.errors import ParameterError
from engine.describe.aggregation import aggregate, section_frame_bounds
from engine.describe.frames import frame_feature_names, frame_features
from engine.describe.tonal import BASS_FMAX, BASS_FMIN, TONAL_OVERLAP, TONAL_WINDOW_S, is_tonal_column, tonal_feature_names
from engine.records import FrameTable

SR = 44_100
CFG = FrameConfig()


def load(path: Path, seconds: float | None = None, sr: int = SR) -> np.ndarray:
    """Mono float32 at ``sr`` from the first ``seconds`` of a file (soundfile + soxr)."""
    with sf.SoundFile(path) as f:
        frames = -1 if seconds is None else int(seconds * f.samplerate)
        y = f.read(frames=frames, dtype="float32", always_2d=True).mean(axis=1)
        native = f.samplerate
    if native != sr:
        y = soxr.resample(y, native, sr, quality="HQ")
    return np.ascontiguousarray(y, dtype=np.float32)


def librosa_frames(y: np.ndarray, sr: int, cfg: FrameConfig) -> dict[str, np.ndarray]:
    """Every frame feature from librosa's own per-feature functions on the whole signal."""
    n_fft, hop = cfg.n_fft, cfg.hop_length
    kw = dict(y=y, sr=sr, n_fft=n_fft, hop_length=hop)
    out = {}
    framed = librosa.util.frame(np.pad(y, n_fft // 2), frame_length=n_fft, hop_length=hop)
    out["amplitude_envelope"] = np.abs(framed).max(axis=0)
    out["rmse"] = librosa.feature.rms(y=y, frame_length=n_fft, hop_length=hop, center=True, pad_mode="constant")[0]
    out["zero_crossing_rate"] = librosa.feature.zero_crossing_rate(y, frame_length=n_fft, hop_length=hop, center=True)[0]
    out["spectral_centroid"] = librosa.feature.spectral_centroid(**kw)[0]
    out["spectral_bandwidth"] = librosa.feature.spectral_bandwidth(**kw)[0]
    out["rolloff"] = librosa.feature.spectral_rolloff(**kw, roll_percent=cfg.rolloff_percent)[0]
    out["spectral_flatness"] = librosa.feature.spectral_flatness(y=y, n_fft=n_fft, hop_length=hop)[0]
    chroma = librosa.feature.chroma_stft(**kw, n_chroma=cfg.n_chroma)
    out["chroma_stft"] = chroma.mean(axis=0)
    out.update({f"chroma_{i}": chroma[i] for i in range(cfg.n_chroma)})
    contrast = librosa.feature.spectral_contrast(**kw, fmin=cfg.contrast_fmin, n_bands=cfg.n_contrast_bands)
    out.update({f"spectral_contrast{i + 1}": row for i, row in enumerate(contrast)})
    out["onset_strength"] = librosa.onset.onset_strength(**kw, n_mels=cfg.n_mels)
    mfcc = librosa.feature.mfcc(**kw, n_mfcc=cfg.n_mfcc, n_mels=cfg.n_mels)
    delta = librosa.feature.delta(mfcc)
    out.update({f"mfcc{i + 1}": row for i, row in enumerate(mfcc)})
    out.update({f"mfcc_delta{i + 1}": row for i, row in enumerate(delta)})
    out.update(librosa_tonal(y, sr, cfg))
    return out


def librosa_tonal(y: np.ndarray, sr: int, cfg: FrameConfig) -> dict[str, np.ndarray]:
    """The key's columns from librosa: chroma_stft of the long window, and the bass filterbank's chroma.

    Each analysis frame holds the long window centred nearest it; the tuning is
    chroma_stft's own estimate on the analysis STFT (what the chroma columns use).
    """
    tuning = librosa.estimate_tuning(S=np.abs(librosa.stft(y, n_fft=cfg.n_fft, hop_length=cfg.hop_length)) ** 2, sr=sr)
    n_fft = 1 << round(np.log2(TONAL_WINDOW_S * sr))
    step = max(1, round(n_fft / TONAL_OVERLAP / cfg.hop_length))
    power = np.abs(librosa.stft(y, n_fft=n_fft, hop_length=step * cfg.hop_length)) ** 2
    tonal = librosa.feature.chroma_stft(S=power, sr=sr, n_fft=n_fft, tuning=tuning, n_chroma=cfg.n_chroma)
    bass_fb = librosa.filters.chroma(sr=sr, n_fft=n_fft, tuning=tuning, n_chroma=cfg.n_chroma, octwidth=None)
    freq = librosa.fft_frequencies(sr=sr, n_fft=n_fft)
    bass_fb[:, (freq < BASS_FMIN) | (freq > BASS_FMAX)] = 0.0
    bass = librosa.util.normalize(bass_fb @ power, norm=np.inf, axis=0)
    n_frames = 1 + y.size // cfg.hop_length
    nearest = np.minimum((np.arange(n_frames) + step // 2) // step, power.shape[1] - 1)
    out = {f"tonal_{i}": tonal[i, nearest] for i in range(cfg.n_chroma)}
    out.update({f"bass_{i}": bass[i, nearest] for i in range(cfg.n_chroma)})
    return out


def assert_columns_close(ours: np.ndarray, ref: np.ndarray, names, rtol: float = 1e-4) -> None:
    """Per column: relative to each value, or to the column's largest magnitude if it crosses zero."""
    bad = []
    for j, name in enumerate(names):
        r, o = np.asarray(ref[:, j], np.float64), np.asarray(ours[:, j], np.float64)
        one_sign = (r >= 0).all() or (r <= 0).all()
        scale = np.abs(r) if one_sign else np.full_like(r, np.abs(r).max())
        err = np.abs(o - r) / np.maximum(scale, 1e-12)
        if not (err <= rtol).all():
            bad.append(f"{name}: worst relative error {err.max():.2e}")
    assert not bad, "; ".join(bad)


# --------------------------------------------------------------------------
# Real audio
# --------------------------------------------------------------------------


@pytest.fixture(scope="module")
def clips(demo_dir) -> dict[str, np.ndarray]:
    """A 60-s mono loop and a 48-kHz Opus track cropped to 90 s (resampled)."""
    return {
        "tt1": load(demo_dir / "tt1.ogg"),
        "track3-90s": load(demo_dir / "track3.opus", seconds=90.0),
    }


@pytest.fixture(scope="module")
def computed(clips) -> dict[str, tuple[FrameTable, dict[str, np.ndarray]]]:
    return {
        name: (frame_features(y, sample_rate=SR, config=CFG, track_id=name), librosa_frames(y, SR, CFG))
        for name, y in clips.items()
    }


def test_frame_table_layout(clips, computed):
    y = clips["tt1"]
    frames, _ = computed["tt1"]
    names = frame_feature_names(CFG)
    assert frames.names == names
    assert len(names) == len(set(names)) == 8 + 12 + 7 + 1 + 2 * CFG.n_mfcc + 2 * 12
    assert names[-24:] == tonal_feature_names(12) and all(map(is_tonal_column, names[-24:]))
    assert names[:4] == ("amplitude_envelope", "rmse", "zero_crossing_rate", "spectral_centroid")
    assert frames.values.dtype == np.float32
    assert frames.values.shape == (1 + y.size // CFG.hop_length, len(names))
    assert np.isfinite(frames.values).all()
    np.testing.assert_allclose(frames.times_s[:3], [0.0, 512 / SR, 1024 / SR])
    assert frames.n_samples == y.size and frames.duration_s == pytest.approx(y.size / SR)
    assert frames.frame_digest == CFG.digest() and frames.track_id == "tt1"
    assert (frames.sample_rate, frames.hop_length) == (SR, CFG.hop_length)


@pytest.mark.parametrize("clip", ["tt1", "track3-90s"])
def test_frames_equal_librosa(clip, computed):
    frames, ref = computed[clip]
    ref_matrix = np.stack([ref[n] for n in frames.names], axis=1)
    assert ref_matrix.shape == frames.values.shape
    # frame by frame, relative to each column's largest magnitude
    scale = np.abs(ref_matrix).max(axis=0)
    err = np.abs(frames.values - ref_matrix) / np.maximum(scale, 1e-12)
    worst = err.max(axis=0)
    assert (worst <= 1e-4).all(), {n: f"{w:.1e}" for n, w in zip(frames.names, worst) if w > 1e-4}


@pytest.mark.parametrize("clip", ["tt1", "track3-90s"])
@pytest.mark.parametrize("statistic", ["median", "mean"])
def test_sections_equal_librosa(clip, statistic, computed):
    frames, ref = computed[clip]
    duration = frames.duration_s
    # consecutive 15-s sections, and two more off the hop grid that overlap them
    whole = np.arange(0.0, duration - 1.0, 15.0)
    start = np.r_[whole, 3.3, 40.01]
    end = np.r_[np.minimum(whole + 15.0, duration), 11.1, 47.5]
    values, names = aggregate(frames, start, end, config=AggregateConfig(statistic=statistic))
    assert names == tuple(n for n in frames.names if not is_tonal_column(n))  # the key's columns stay out
    lo, hi = section_frame_bounds(frames, start, end)
    stat = np.median if statistic == "median" else np.mean
    expected = np.array(
        [
            [(np.mean if n == "zero_crossing_rate" else stat)(ref[n][a:b].astype(np.float64)) for n in names]
            for a, b in zip(lo, hi)
        ]
    )
    assert_columns_close(values, expected, names)


def test_nondefault_config_equals_librosa(demo_dir):
    """Another rate, a hop that does not divide n_fft, fewer mels/MFCCs/bands, another rolloff."""
    sr = 22_050
    cfg = FrameConfig(
        sample_rate=sr, n_fft=1024, hop_length=441, n_mels=64, n_mfcc=13,
        n_contrast_bands=5, contrast_fmin=150.0, rolloff_percent=0.9,
    )
    y = load(demo_dir / "Kevin_MacLeod_-_Vibe_Ace.hq.ogg", seconds=12.0, sr=sr)
    frames = frame_features(y, sample_rate=sr, config=cfg)
    ref = librosa_frames(y, sr, cfg)
    assert frames.names == frame_feature_names(cfg)
    assert "mfcc13" in frames.names and "mfcc14" not in frames.names and "spectral_contrast6" in frames.names
    ref_matrix = np.stack([ref[n] for n in frames.names], axis=1)
    assert ref_matrix.shape == frames.values.shape == (1 + y.size // 441, len(frames.names))
    start, end = np.array([0.0, 2.5, 7.0]), np.array([5.0, 9.0, 12.0])
    values, names = aggregate(frames, start, end, config=AggregateConfig(statistic="median"))
    lo, hi = section_frame_bounds(frames, start, end)
    expected = np.array(
        [[(np.mean if n == "zero_crossing_rate" else np.median)(ref_matrix[a:b, j]) for j, n in enumerate(names)] for a, b in zip(lo, hi)]
    )
    assert_columns_close(values, expected, names)


@pytest.mark.parametrize("seconds", [15.0, 10.0, 7.0])
def test_reaggregating_stored_frames_equals_direct(seconds, clips, computed):
    """Issue 9: sections re-aggregated from stored (float32) frames == computed from audio directly."""
    y = clips["tt1"]
    frames, _ = computed["tt1"]
    # what the store keeps: little-endian float32 bytes, read back into a new table
    stored = np.frombuffer(frames.values.astype("<f4").tobytes(), dtype="<f4").reshape(frames.values.shape)
    restored = FrameTable(
        frames.track_id, frames.names, stored, frames.times_s.copy(), frames.sample_rate,
        frames.hop_length, frames.duration_s, frames.n_samples, frames.frame_digest,
    )
    start = np.arange(0.0, frames.duration_s, seconds)  # 7 s does not divide 60 s: a short last section
    end = np.minimum(start + seconds, frames.duration_s)
    for cfg in (AggregateConfig(), AggregateConfig(statistic="mean", with_std=True, zcr="sum")):
        again, names = aggregate(restored, start, end, config=cfg)
        direct, direct_names = aggregate(frame_features(y, sample_rate=SR, config=CFG), start, end, config=cfg)
        assert names == direct_names
        np.testing.assert_allclose(again, direct, rtol=1e-6, atol=1e-9)
        # and the vectorised aggregation equals a plain loop over sections
        lo, hi = section_frame_bounds(restored, start, end)
        stat = np.median if cfg.statistic == "median" else np.mean
        kept = [j for j, name in enumerate(restored.names) if not is_tonal_column(name)]
        n = len(kept)
        assert list(names[:n]) == [restored.names[j] for j in kept]
        for i, (a, b) in enumerate(zip(lo, hi)):
            block = stored[a:b][:, kept].astype(np.float64)
            row = stat(block, axis=0)
            z = list(names).index("zero_crossing_rate")
            row[z] = block[:, z].sum() if cfg.zcr == "sum" else block[:, z].mean()
            np.testing.assert_allclose(again[i, :n], row, rtol=1e-10, atol=1e-9)
            if cfg.with_std:
                np.testing.assert_allclose(again[i, n:], block.std(axis=0), rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("clip", ["tt1", "track3-90s"])
def test_tuning_estimate_equals_librosa(clip, clips, monkeypatch):
    """The hand-written tuning estimate (piptrack peaks gathered block by block) is librosa's, exactly.

    chroma_stft estimates its tuning as ``estimate_tuning(S=|stft|**2, sr=sr,
    bins_per_octave=n_chroma)``; ours is computed from each block's peaks and
    handed to librosa's chroma filterbank.
    """
    import engine.describe.frames as frames_module

    y = clips[clip]
    used = set()
    basis = frames_module._chroma_basis

    def recording(config, tuning):
        used.add(tuning)
        return basis(config, tuning)

    monkeypatch.setattr(frames_module, "_chroma_basis", recording)
    frame_features(y, sample_rate=SR, config=CFG)
    power = np.abs(librosa.stft(y, n_fft=CFG.n_fft, hop_length=CFG.hop_length)) ** 2
    assert used == {librosa.estimate_tuning(S=power, sr=SR, bins_per_octave=CFG.n_chroma)}


# --------------------------------------------------------------------------
# Generated signals and edge cases
# --------------------------------------------------------------------------


def _column(frames: FrameTable, name: str) -> np.ndarray:
    return frames.values[:, frames.names.index(name)]


def test_pure_sine():
    t = np.arange(3 * SR) / SR
    y = (0.5 * np.sin(2 * np.pi * 1000.0 * t)).astype(np.float32)
    frames = frame_features(y, sample_rate=SR, config=CFG)
    inner = slice(8, -8)  # frames away from the zero padding at either end
    centroid = _column(frames, "spectral_centroid")[inner]
    assert np.median(centroid) == pytest.approx(1000.0, rel=0.01)
    assert np.median(_column(frames, "spectral_bandwidth")[inner]) < 100.0
    assert np.median(_column(frames, "spectral_flatness")[inner]) < 1e-3
    assert np.median(_column(frames, "rolloff")[inner]) == pytest.approx(1000.0, abs=2 * SR / CFG.n_fft)
    assert np.median(_column(frames, "rmse")[inner]) == pytest.approx(0.5 / np.sqrt(2), rel=1e-3)
    assert np.median(_column(frames, "amplitude_envelope")[inner]) == pytest.approx(0.5, rel=1e-3)
    # two crossings per period: 2000 per second
    assert np.median(_column(frames, "zero_crossing_rate")[inner]) == pytest.approx(2000.0 / SR, rel=0.02)
    # 1000 Hz is nearest to B (987.8 Hz); the tuning estimate absorbs the offset
    chroma = frames.values[inner, frames.names.index("chroma_0") : frames.names.index("chroma_11") + 1]
    assert np.bincount(chroma.argmax(axis=1), minlength=12).argmax() == 11


def test_white_noise_is_flat(rng):
    y = (0.1 * rng.standard_normal(3 * SR)).astype(np.float32)
    frames = frame_features(y, sample_rate=SR, config=CFG)
    inner = slice(8, -8)
    assert np.median(_column(frames, "spectral_flatness")[inner]) > 0.3
    assert np.median(_column(frames, "spectral_centroid")[inner]) == pytest.approx(SR / 4, rel=0.05)
    assert np.median(_column(frames, "zero_crossing_rate")[inner]) == pytest.approx(0.5, abs=0.03)


def test_silence_gives_finite_values():
    frames = frame_features(np.zeros(2 * SR, np.float32), sample_rate=SR, config=CFG)
    assert np.isfinite(frames.values).all()
    assert (_column(frames, "rmse") == 0).all() and (_column(frames, "spectral_centroid") == 0).all()
    np.testing.assert_allclose(_column(frames, "spectral_flatness"), 1.0, rtol=1e-5)


@pytest.fixture(scope="module")
def noise_frames() -> FrameTable:
    y = (0.1 * np.random.default_rng(7).standard_normal(4 * SR)).astype(np.float32)
    return frame_features(y, sample_rate=SR, config=CFG)


def test_frame_bounds_use_frame_centres(noise_frames):
    hop = CFG.hop_length
    # [10 hops, 20 hops) holds centres 10..19; shifting the start by one sample drops frame 10
    start = np.array([10 * hop / SR, (10 * hop + 1) / SR, 0.0])
    end = np.array([20 * hop / SR, 20 * hop / SR, 1 / SR])
    lo, hi = section_frame_bounds(noise_frames, start, end)
    assert lo.tolist() == [10, 11, 0] and hi.tolist() == [20, 20, 1]


def classical(frames: FrameTable) -> tuple[list[int], tuple[str, ...]]:
    """The columns a default aggregation keeps (all but the key's own), and their names."""
    kept = [j for j, name in enumerate(frames.names) if not is_tonal_column(name)]
    return kept, tuple(frames.names[j] for j in kept)


def test_section_with_exactly_one_frame(noise_frames):
    hop = CFG.hop_length
    start, end = np.array([30 * hop / SR]), np.array([30.5 * hop / SR])
    cfg = AggregateConfig(with_std=True)
    values, names = aggregate(noise_frames, start, end, config=cfg)
    kept, _ = classical(noise_frames)
    n = len(kept)
    np.testing.assert_array_equal(values[0, :n], noise_frames.values[30, kept].astype(np.float64))
    np.testing.assert_array_equal(values[0, n:], 0.0)


def test_with_std_columns(noise_frames):
    start, end = np.array([0.0, 1.0]), np.array([1.0, 3.5])
    values, names = aggregate(noise_frames, start, end, config=AggregateConfig(statistic="mean", with_std=True))
    kept, kept_names = classical(noise_frames)
    n = len(kept)
    assert names[:n] == kept_names and names[n:] == tuple(f"{f}_std" for f in kept_names)
    lo, hi = section_frame_bounds(noise_frames, start, end)
    for i, (a, b) in enumerate(zip(lo, hi)):
        block = noise_frames.values[a:b, kept].astype(np.float64)
        np.testing.assert_allclose(values[i, n:], block.std(axis=0), rtol=1e-9, atol=1e-12)
        np.testing.assert_allclose(values[i, :n], block.mean(axis=0), rtol=1e-9, atol=1e-12)
    assert (values[:, n:] > 0).all()


def test_feature_selection_keeps_order(noise_frames):
    start, end = np.array([0.0]), np.array([2.0])
    full, full_names = aggregate(noise_frames, start, end, config=AggregateConfig())
    pick = ("mfcc3", "rmse", "chroma_5")
    values, names = aggregate(noise_frames, start, end, config=AggregateConfig(features=pick, with_std=True))
    assert names == (*pick, "mfcc3_std", "rmse_std", "chroma_5_std")
    np.testing.assert_array_equal(values[:, :3], full[:, [full_names.index(f) for f in pick]])


def test_feature_selection_errors(noise_frames):
    start, end = np.array([0.0]), np.array([2.0])
    with pytest.raises(ParameterError, match="'mfcc99'"):
        aggregate(noise_frames, start, end, config=AggregateConfig(features=("rmse", "mfcc99")))
    with pytest.raises(ParameterError, match="twice.*'rmse'"):
        aggregate(noise_frames, start, end, config=AggregateConfig(features=("rmse", "rmse")))


def test_zcr_sum_is_mean_times_frame_count(noise_frames):
    start, end = np.array([0.0, 0.5, 1.7]), np.array([1.0, 3.9, 1.8])
    summed, names = aggregate(noise_frames, start, end, config=AggregateConfig(zcr="sum"))
    mean, _ = aggregate(noise_frames, start, end, config=AggregateConfig(statistic="mean"))
    z = names.index("zero_crossing_rate")
    lo, hi = section_frame_bounds(noise_frames, start, end)
    np.testing.assert_allclose(summed[:, z], mean[:, z] * (hi - lo), rtol=1e-12)
    assert (summed[:, z] > mean[:, z]).all()
    # zcr="sum" leaves the other columns alone
    default, _ = aggregate(noise_frames, start, end, config=AggregateConfig())
    others = [j for j in range(len(names)) if j != z]
    np.testing.assert_array_equal(summed[:, others], default[:, others])


def test_no_sections_gives_an_empty_table(noise_frames):
    values, names = aggregate(noise_frames, np.zeros(0), np.zeros(0), config=AggregateConfig(with_std=True))
    assert values.shape == (0, 2 * len(classical(noise_frames)[0])) and len(names) == values.shape[1]


def test_invalid_sections(noise_frames):
    cfg = AggregateConfig()
    with pytest.raises(ParameterError, match="no frame"):
        aggregate(noise_frames, np.array([100.0]), np.array([110.0]), config=cfg)
    with pytest.raises(ParameterError, match="start < end"):
        aggregate(noise_frames, np.array([2.0]), np.array([1.0]), config=cfg)
    with pytest.raises(ParameterError, match="2 section starts but 1 ends"):
        aggregate(noise_frames, np.array([0.0, 1.0]), np.array([1.0]), config=cfg)
    with pytest.raises(ParameterError, match="finite"):
        section_frame_bounds(noise_frames, np.array([np.nan]), np.array([1.0]))


def test_invalid_audio():
    y = np.zeros(SR, np.float32)
    with pytest.raises(ParameterError, match="22050 Hz"):
        frame_features(y, sample_rate=22_050, config=CFG)
    with pytest.raises(ParameterError, match="1-D"):
        frame_features(np.zeros((2, SR), np.float32), sample_rate=SR, config=CFG)
    with pytest.raises(ParameterError, match="NaN"):
        frame_features(np.r_[y, np.float32(np.nan)], sample_rate=SR, config=CFG)
    with pytest.raises(ParameterError, match="too short"):
        frame_features(y[:1000], sample_rate=SR, config=CFG)
    with pytest.raises(ParameterError, match="floating"):
        frame_features(np.zeros(SR, np.int16), sample_rate=SR, config=CFG)


def test_compiled_kernels_match_their_python_source(rng):
    """numba must not change the arithmetic (no fused multiply-adds, float32 stays float32)."""
    from engine.describe._kernels import kernels as compiled_kernels, moments, pitch_candidates, rolloff_bins

    kernels = compiled_kernels()
    mag = (rng.random((7, 300)) ** 4).astype(np.float32)  # 7 rows: the 4-row path and the remainder
    compiled, python = np.empty(7, np.int64), np.empty(7, np.int64)
    kernels.rolloff(mag, np.float32(0.85), compiled, np.empty_like(mag))
    rolloff_bins(mag, np.float32(0.85), python, np.empty_like(mag))
    np.testing.assert_array_equal(compiled, python)
    running = np.cumsum(mag, axis=1)  # librosa's way
    np.testing.assert_array_equal(compiled, np.argmax(running >= np.float32(0.85) * running[:, -1:], axis=1))

    power = np.square(mag)
    out = [(np.empty(7 * 300, np.float32), np.empty(7 * 300, np.float32)) for _ in range(2)]
    n1 = kernels.pitch_candidates(power, power.max(axis=1), 5, 200, SR, 2048, *out[0])
    n2 = pitch_candidates(power, power.max(axis=1), 5, 200, SR, 2048, *out[1])
    assert n1 == n2 > 20
    np.testing.assert_array_equal(out[0][0][:n1], out[1][0][:n2])
    np.testing.assert_array_equal(out[0][1][:n1], out[1][1][:n2])

    freq = np.linspace(0.0, SR / 2, 300)
    sums = [np.empty((7, 3)), np.empty((7, 3))]
    kernels.moments(mag, freq, sums[0])
    moments(mag, freq, sums[1])
    np.testing.assert_allclose(sums[0], sums[1], rtol=1e-13)  # fastmath may reorder the float64 sums only


def test_contrast_bands_beyond_nyquist_are_refused():
    cfg = FrameConfig(sample_rate=8_000, n_contrast_bands=6, contrast_fmin=200.0)
    with pytest.raises(ParameterError, match="Nyquist"):
        frame_features(np.zeros(8_000, np.float32), sample_rate=8_000, config=cfg)
