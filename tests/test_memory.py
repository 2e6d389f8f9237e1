"""Memory that does not grow with a track's length, and the duration limit (issue 14).

Peaks are traced with :mod:`tracemalloc` (numpy reports its arrays to it), so
they count what the code allocates, not what other processes do, and hold on
a slow or busy machine. Every signal is generated and seeded.
"""

from __future__ import annotations

import tracemalloc

import numpy as np
import pytest
import scipy.signal
import soundfile as sf
from hostile import wav_header
from test_features import librosa_frames

import engine.audio.decode as decode
import engine.describe.frames as features
from engine.config import DecodeConfig, FrameConfig
from engine.audio.decode import decode_file
from engine.errors import DecodeError
from engine.describe.frames import frame_features
from engine.describe.rhythm import estimate_tempo

SR = 44_100
CFG = FrameConfig()
HOP = CFG.hop_length
RATE = SR / HOP  # frames per second


def music(seconds: float, *, seed: int = 0, sr: int = SR) -> np.ndarray:
    """Mono float32: detuned chords (+30 cents), a kick on every beat at 126 BPM, hi-hat noise."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * sr)) / sr
    y = np.zeros(t.size)
    for note in (60, 64, 67, 71):
        y += 0.08 * np.sin(2 * np.pi * 440.0 * 2 ** ((note + 0.3 - 69) / 12) * t)
    beat = t % (60.0 / 126.0)
    y += 0.5 * np.exp(-18.0 * beat) * np.sin(2 * np.pi * 55.0 * beat)
    y += 0.05 * np.exp(-60.0 * ((beat + 0.238) % (60.0 / 126.0))) * rng.standard_normal(t.size)
    return y.astype(np.float32)


def traced_peak(func, *args, **kwargs) -> tuple[int, object]:
    """``(peak bytes allocated while func ran, its result)``."""
    tracemalloc.start()
    try:
        result = func(*args, **kwargs)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return peak, result


# --------------------------------------------------------------------------
# Frame features
# --------------------------------------------------------------------------


def test_frame_feature_memory_does_not_grow_with_the_track():
    """The working memory (all but the returned table) grows far slower than the audio.

    Holding the power spectrogram, it grew by ~5 kB per frame (2.4x the
    audio's own 2 kB); what may still grow is the contrast peaks and valleys
    (112 B per frame) and chroma's tuning candidates (5 B per spectral peak).
    """
    long = music(240.0)
    frame_features(long[: 5 * SR], sample_rate=SR, config=CFG)  # plans, filters and kernels: cached before tracing
    working = {}
    for seconds in (60, 240):
        y = long[: seconds * SR]
        peak, frames = traced_peak(frame_features, y, sample_rate=SR, config=CFG)
        working[seconds] = (peak - frames.values.nbytes - frames.times_s.nbytes, y.nbytes)
    (w_short, y_short), (w_long, y_long) = working[60], working[240]
    assert w_long - w_short < 0.25 * (y_long - y_short), (w_short, w_long)


def test_blocked_frames_equal_the_whole_track(monkeypatch):
    """Block edges change nothing: every column equals librosa's whole-track functions.

    The signal spans five full blocks of 128 frames and a last block of three
    (shorter than the 9-frame delta window; the deltas, in blocks of 16,384
    frames otherwise, use blocks of 128 here so that they meet the same edges).
    A quiet stretch comes first and the loudest sound last, so a dB floor
    taken from any block but the last (80 dB below its own maximum, not the
    track's) would be wrong, and the chords are tuned 30 cents sharp, so a
    wrong tuning estimate moves chroma.
    """
    n_frames = 5 * 128 + 3
    y = music((n_frames - 1) * HOP / SR + 1e-3, seed=3)[: (n_frames - 1) * HOP + 100]
    y[: 2 * SR] *= 1e-4  # quiet: its mel dB lie near the floor set by the loud end
    y[2 * SR : 3 * SR] = 0.0  # silence across a block edge (frames 172-258)
    y[-SR // 2 :] *= 1.8  # the loudest frames are in the last blocks
    monkeypatch.setattr(features, "_DELTA_BLOCK", 128)
    monkeypatch.setattr(features, "_FRAME_BLOCK", 128)  # the STFT blocks this signal is built around
    frames = frame_features(y, sample_rate=SR, config=CFG)
    assert frames.values.shape[0] == n_frames
    ref = librosa_frames(y, SR, CFG)
    ref_matrix = np.stack([ref[n] for n in frames.names], axis=1)
    # Tolerance from test_features.test_frames_equal_librosa: 1e-4 of each
    # column's largest magnitude, frame by frame (float32 arithmetic in
    # another order than librosa's; the blocks add none of their own).
    scale = np.abs(ref_matrix).max(axis=0)
    worst = (np.abs(frames.values - ref_matrix) / np.maximum(scale, 1e-12)).max(axis=0)
    assert (worst <= 1e-4).all(), {n: f"{w:.1e}" for n, w in zip(frames.names, worst) if w > 1e-4}

    # The deltas in blocks equal one Savitzky-Golay filter over the stored
    # MFCCs exactly: the same float32 inputs, the same windows (tolerance 0).
    names = list(frames.names)
    m0, d0 = names.index("mfcc1"), names.index("mfcc_delta1")
    mfcc = frames.values[:, m0 : m0 + CFG.n_mfcc]
    whole = scipy.signal.savgol_filter(mfcc, 9, polyorder=1, deriv=1, axis=0, mode="interp")
    np.testing.assert_array_equal(frames.values[:, d0 : d0 + CFG.n_mfcc], whole.astype(np.float32))


# --------------------------------------------------------------------------
# Rhythm
# --------------------------------------------------------------------------


def _envelope(seconds: float, bpm: float = 172.0) -> np.ndarray:
    t = np.arange(int(seconds * RATE)) / RATE
    return np.exp(-40.0 * (t % (60.0 / bpm))) + 0.1 * np.random.default_rng(5).random(t.size)


def test_beat_phase_memory_does_not_grow_with_the_track():
    """The phases x frames matrix (~4.3 kB per frame at 172 BPM) is summed in blocks.

    What still grows is the envelope's zero-padded spectrum (~250 B per frame).
    """
    estimate_tempo(_envelope(30.0), frame_rate=RATE)
    peaks = {}
    for seconds in (120, 480):
        o = _envelope(seconds)
        peaks[seconds] = (traced_peak(estimate_tempo, o, frame_rate=RATE)[0], o.size)
    (p_short, n_short), (p_long, n_long) = peaks[120], peaks[480]
    assert (p_long - p_short) / (n_long - n_short) < 1024, (p_short, p_long)


def test_blocked_beat_phase_equals_the_whole_matrix():
    """The first beat equals the one-matrix score's (4 blocks of frames and a part)."""
    o = _envelope(50.0, bpm=128.0)
    tempo = estimate_tempo(o, frame_rate=RATE)
    # The reference: rhythm._first_beat's score as one phases x frames product.
    period = 60.0 / tempo.bpm
    t = np.arange(o.size) / RATE
    x = np.maximum(o - np.median(o), 0.0)
    phases = np.arange(0.0, period, 0.002)
    d = (t[None, :] - phases[:, None] + period / 2) % period - period / 2
    score = np.exp(-0.5 * (d / 0.010) ** 2) @ x
    i = int(np.argmax(score))
    a, b, c = score[i - 1], score[i], score[(i + 1) % len(score)]
    first = float(phases[i] + 0.5 * (a - c) / (a - 2 * b + c) * 0.002) % period
    # Summing in blocks only reorders float64 additions (~1e-16 relative).
    assert tempo.first_beat_s == pytest.approx(first, abs=1e-9)


# --------------------------------------------------------------------------
# Decoding
# --------------------------------------------------------------------------


def _sparse_wav(path, seconds: int, sample_rate: int = 8_000) -> None:
    """A mono 16-bit WAV of ``seconds`` of silence, written sparse (the zeros are a hole)."""
    n = sample_rate * seconds * 2
    with open(path, "wb") as fh:
        fh.write(wav_header(channels=1, sample_rate=sample_rate, data_bytes=n))
        fh.truncate(44 + n)


def test_a_file_over_the_duration_limit_is_refused_from_its_header(tmp_path):
    path = tmp_path / "three_hours.wav"
    _sparse_wav(path, 3 * 60 * 60)  # 173 MB, all a hole: under the size limit
    assert DecodeConfig().max_seconds == 2 * 60 * 60

    def refuse():
        with pytest.raises(DecodeError, match=r"the header says 3:00:00 of audio, over the 2:00:00 limit \[too-long\]$"):
            decode_file(path, sample_rate=SR, track_id="x" * 64)

    peak, _ = traced_peak(refuse)
    assert peak < 8 * 2**20  # refused before decoding: nothing of three hours was held


def test_the_duration_limit_is_a_setting(tmp_path):
    path = tmp_path / "ten_seconds.wav"
    sf.write(path, music(10.0, sr=22_050), 22_050, subtype="PCM_16")
    with pytest.raises(DecodeError, match=r"0:10 of audio, over the 0:05 limit \[too-long\]") as info:
        decode_file(path, sample_rate=SR, config=DecodeConfig(max_seconds=5.0))
    assert info.value.reason == "too-long"
    assert decode_file(path, sample_rate=SR, config=DecodeConfig(max_seconds=10.0)).track.duration_s == pytest.approx(10.0)


@pytest.mark.parametrize("declared", [0, 22_050])  # no frame count (a stream), or one second where there are twenty
def test_without_a_true_frame_count_the_limit_holds_while_decoding(tmp_path, monkeypatch, declared):
    path = tmp_path / "twenty_seconds.wav"
    sf.write(path, music(20.0, sr=22_050), 22_050, subtype="PCM_16")
    expected = decode_file(path, sample_rate=SR).y
    monkeypatch.setattr(decode, "_declared_frames", lambda snd: declared)
    # the output, sized from the header, grows as blocks arrive: to the same samples
    np.testing.assert_array_equal(decode_file(path, sample_rate=SR).y, expected)
    with pytest.raises(DecodeError, match=r"more than 0:\d\d of audio was decoded, over the 0:05 limit \[too-long\]"):
        decode_file(path, sample_rate=SR, config=DecodeConfig(max_seconds=5.0))


@pytest.mark.parametrize("native_sr", [SR, 8_000])
def test_decoding_holds_one_copy_of_the_signal(tmp_path, native_sr):
    """Parts concatenated at the end held the signal twice; now it is filled in place."""
    path = tmp_path / "four_minutes.wav"
    with sf.SoundFile(path, "w", samplerate=native_sr, channels=2, subtype="PCM_16") as f:
        for k in range(8):  # 30 s at a time
            y = music(30.0, seed=k, sr=native_sr)
            f.write(np.stack([y, 0.9 * y], axis=1))
    peak, audio = traced_peak(decode_file, path, sample_rate=SR, track_id="x" * 64)
    assert audio.y.size == pytest.approx(240 * SR, abs=2)
    # one copy (42 MB) plus the blocks in flight (a 2**18-frame block, mixed and resampled)
    assert peak < audio.y.nbytes + 16 * 2**20, (peak, audio.y.nbytes)


# --------------------------------------------------------------------------
# The pipeline never holds a long track's signal (decode_file(spill=True))
# --------------------------------------------------------------------------


def _stereo_wav(path, seconds: float, *, seed: int, silence_s: float = 0.0) -> np.ndarray:
    y = music(seconds, seed=seed)
    y[: int(silence_s * SR)] = 0.0  # leading digital silence: counted, then written as zeros
    sf.write(path, np.stack([y, 0.5 * y], axis=1), SR, subtype="PCM_16")
    return y


def test_a_spilled_signal_reads_back_sample_for_sample(tmp_path):
    path = tmp_path / "long.wav"
    _stereo_wav(path, 40.0, seed=5, silence_s=7.0)
    held = decode_file(path, sample_rate=22_050)
    with decode_file(path, sample_rate=22_050, spill=True, config=DecodeConfig(hold_seconds=10)).y as spilled:
        assert isinstance(spilled, decode.SignalFile) and isinstance(held.y, np.ndarray)
        assert spilled.shape == held.y.shape and len(spilled) == held.y.size
        np.testing.assert_array_equal(np.asarray(spilled), held.y)
        np.testing.assert_array_equal(spilled[12_345:67_890], held.y[12_345:67_890])
        assert spilled[-1] == held.y[-1] and spilled[0] == held.y[0] == 0.0
        assert spilled[held.y.size + 5 : held.y.size + 9].size == 0
        with pytest.raises(IndexError):
            spilled[held.y.size]
    # under the threshold, or without spill, the caller gets an array as before
    assert isinstance(decode_file(path, sample_rate=22_050, spill=True, config=DecodeConfig(hold_seconds=60)).y, np.ndarray)


def test_frame_features_of_a_spilled_signal_equal_the_held_ones(tmp_path):
    path = tmp_path / "long.wav"
    _stereo_wav(path, 35.0, seed=6, silence_s=2.0)
    held = decode_file(path, sample_rate=SR)
    with decode_file(path, sample_rate=SR, spill=True, config=DecodeConfig(hold_seconds=5)).y as spilled:
        a = frame_features(held.y, sample_rate=SR, config=CFG)
        b = frame_features(spilled, sample_rate=SR, config=CFG)
    # the same samples through the same blocks: identical, bit for bit
    np.testing.assert_array_equal(a.values, b.values)
    assert a.n_samples == b.n_samples and a.duration_s == b.duration_s


def test_decoding_with_spill_holds_no_copy_of_the_signal(tmp_path):
    peaks = {}
    for seconds in (60.0, 240.0):
        path = tmp_path / f"{seconds:.0f}.wav"
        _stereo_wav(path, seconds, seed=7)
        peaks[seconds], audio = traced_peak(decode_file, path, sample_rate=SR, spill=True, config=DecodeConfig(hold_seconds=30))
        with audio.y:
            assert isinstance(audio.y, decode.SignalFile) and audio.y.size == int(seconds * SR)
    grown = 180.0 * SR * 4  # the 4-minute signal is 32 MB larger than the 1-minute one
    # what decoding holds is its blocks (2**18 frames), the same at any length
    assert peaks[240.0] - peaks[60.0] < grown / 16, peaks
    held_peak, _ = traced_peak(decode_file, tmp_path / "240.wav", sample_rate=SR)
    assert held_peak > 240.0 * SR * 4  # the measure sees a held signal, so the bound above means something


def test_analysing_a_track_over_the_hold_threshold_gives_the_same_sections(tmp_path):
    from engine.config import AnalysisConfig
    from engine.records import InputFile
    from engine.run.pipeline import analyze
    from engine.store.core import Store

    path = tmp_path / "long.wav"
    _stereo_wav(path, 50.0, seed=8)
    inputs = [InputFile(str(path), "long.wav")]
    held = analyze(inputs, store=Store(tmp_path / "held"), config=AnalysisConfig())
    spilled = analyze(inputs, store=Store(tmp_path / "spilled"), config=AnalysisConfig(decode=DecodeConfig(hold_seconds=10)))
    assert not held.errors and not spilled.errors
    np.testing.assert_array_equal(held.sections.values, spilled.sections.values)


def test_frames_written_in_row_groups_read_back_unchanged(tmp_path, monkeypatch):
    import engine.store.core as store_module
    from engine.store.core import Store

    monkeypatch.setattr(store_module, "_FRAME_GROUP_ROWS", 37)  # many groups from a short signal
    frames = frame_features(music(12.0, seed=9), sample_rate=SR, config=CFG, track_id="t" * 64)
    store = Store(tmp_path / "store")
    store.put_frames(frames, config=CFG)
    back = store.get_frames(frames.track_id, frames.frame_digest)
    assert back.names == frames.names
    np.testing.assert_array_equal(back.values, frames.values)
    np.testing.assert_array_equal(back.times_s, frames.times_s)
    assert (back.n_samples, back.duration_s, back.hop_length) == (frames.n_samples, frames.duration_s, frames.hop_length)
    import pyarrow.parquet as pq

    assert pq.ParquetFile(store._frames_path(frames.track_id, frames.frame_digest)).num_row_groups == -(-frames.values.shape[0] // 37)
