"""Reading one section of a file, log-frequency spectrograms, and the one STFT they are made with."""

from __future__ import annotations

import io
from pathlib import Path

import librosa
import numpy as np
import pytest
import soundfile as sf

from engine.audio.decode import decode_file
from engine.errors import DecodeError, ParameterError
from engine.audio.spectrogram import clip_to_ogg, clip_to_wav, log_frequency_filters, log_spectrogram, read_section, section_spectrogram
from engine.audio.stft import frame_count, frame_samples, power_blocks, spectrum


def test_read_section_matches_a_full_decode(demo_files):
    path = next(p for p in demo_files if p.name == "tt1.ogg")
    clip = read_section(path, start_s=15.0, end_s=30.0)
    full = decode_file(path, sample_rate=clip.sample_rate).y
    ref = full[15 * clip.sample_rate : 30 * clip.sample_rate]
    assert clip.y.shape == ref.shape
    np.testing.assert_allclose(clip.y, ref, atol=1e-6)
    assert clip.end_s == pytest.approx(30.0)


def test_read_section_resamples_keeps_channels_and_clips_the_end(tmp_path):
    sr = 8000
    t = np.arange(sr * 3) / sr
    stereo = np.stack([np.sin(2 * np.pi * 440 * t), 0.5 * np.sin(2 * np.pi * 220 * t)], axis=1).astype(np.float32)
    path = tmp_path / "two.wav"
    sf.write(path, stereo, sr)
    clip = read_section(path, start_s=2.0, end_s=10.0, mono=False)
    assert clip.y.shape == (sr, 2) and clip.end_s == pytest.approx(3.0)
    mono = read_section(path, start_s=0.0, end_s=1.0, sample_rate=16000)
    assert mono.y.shape == (16000,) and mono.sample_rate == 16000
    wav = clip_to_wav(clip)
    back, rate = sf.read(io.BytesIO(wav))
    assert rate == sr and back.shape == (sr, 2)


def test_a_clip_as_ogg_is_a_tenth_of_the_wav_and_sounds_the_same(demo_files):
    clip = read_section(demo_files[0], start_s=30.0, end_s=45.0, mono=False)
    ogg, wav = clip_to_ogg(clip), clip_to_wav(clip)
    assert ogg[:4] == b"OggS" and len(ogg) < len(wav) / 5
    back, rate = sf.read(io.BytesIO(ogg), always_2d=True)
    want = clip.y if clip.y.ndim == 2 else clip.y[:, None]
    assert rate == clip.sample_rate and back.shape == want.shape
    # a lossy code: the same loudness and the same spectrum envelope, within a few percent
    assert np.sqrt(np.mean(back**2)) == pytest.approx(np.sqrt(np.mean(want**2)), rel=0.05)
    spec = lambda y: np.abs(np.fft.rfft(y[:, 0]))[: len(y) // 4]  # noqa: E731 (below ~5 kHz at 44.1 kHz)
    assert np.corrcoef(spec(back), spec(want))[0, 1] > 0.95


@pytest.mark.parametrize("mono", [False, True])
def test_the_longest_section_encodes_as_ogg(demo_files, mono):
    """A 60-s section (the longest the app cuts; 90 s here) in one libsndfile write crashed the process;
    clip_to_ogg writes it in blocks. Run in a child, so that a crash is a failure, not the end of the suite."""
    import subprocess
    import sys

    code = (
        "import sys; from engine.audio.spectrogram import read_section, clip_to_ogg\n"
        f"clip = read_section({str(demo_files[0])!r}, start_s=0.0, end_s=90.0, mono={mono})\n"
        "ogg = clip_to_ogg(clip); import io, soundfile as sf\n"
        "back, rate = sf.read(io.BytesIO(ogg), always_2d=True)\n"
        "print(back.shape[0] == clip.y.shape[0], back.shape[1])\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300, cwd=Path(__file__).resolve().parents[1])
    assert done.returncode == 0, f"encoding a 90-s clip failed ({done.returncode}): {done.stderr[-2000:]}"
    assert done.stdout.split() == ["True", "1" if mono else "2"]


def test_read_section_errors_are_sentences(tmp_path):
    with pytest.raises(DecodeError, match="no longer where"):
        read_section(tmp_path / "gone.wav", start_s=0, end_s=1)
    bad = tmp_path / "bad.wav"
    bad.write_bytes(b"not audio at all" * 10)
    with pytest.raises(DecodeError, match="cannot read the section"):
        read_section(bad, start_s=0, end_s=1)
    with pytest.raises(ParameterError, match="start < end"):
        read_section(bad, start_s=3, end_s=1)
    short = tmp_path / "short.wav"
    sf.write(short, np.ones(800, np.float32) * 0.1, 8000)
    with pytest.raises(DecodeError, match="ends before"):
        read_section(short, start_s=5, end_s=6)


def test_filters_rows_sum_to_one_and_centres_are_log_spaced():
    w, f = log_frequency_filters(sample_rate=22050, n_fft=2048, fmin=32.7, bins_per_octave=12)
    assert w.shape == (len(f), 1025)
    np.testing.assert_allclose(w.sum(axis=1), 1.0, rtol=1e-6)
    np.testing.assert_allclose(f[12] / f[0], 2.0)


def test_a_tone_lights_its_own_band():
    sr = 22050
    t = np.arange(sr * 2) / sr
    spec = log_spectrogram(np.sin(2 * np.pi * 1000 * t).astype(np.float32), sample_rate=sr, bins_per_octave=24)
    loudest = spec.freqs_hz[int(np.argmax(spec.db.mean(axis=1)))]
    assert abs(np.log2(loudest / 1000)) < 1 / 24
    assert spec.db.max() == 0.0 and spec.db.min() >= -spec.top_db
    assert spec.db.shape == (len(spec.freqs_hz), len(spec.times_s))
    with pytest.raises(ParameterError, match="mono"):
        log_spectrogram(np.zeros((10, 2)), sample_rate=sr)


def test_section_spectrogram_of_a_demo_track(demo_files):
    path = next(p for p in demo_files if p.suffix == ".opus")
    spec = section_spectrogram(path, start_s=30, end_s=45, hop_length=1024)
    assert spec.times_s[-1] == pytest.approx(15.0, abs=0.1)
    assert np.isfinite(spec.db).all()


# --------------------------------------------------------------------------
# The one STFT (engine.audio.stft)
# --------------------------------------------------------------------------


@pytest.mark.parametrize(("n_fft", "hop", "block"), [(2048, 512, 7), (512, 256, 4096), (1024, 441, 3)])
def test_blocked_stft_equals_librosa_on_the_whole_signal(rng, n_fft, hop, block):
    """Every block's power equals librosa.stft's of the whole centred signal, bit for bit."""
    y = (0.3 * rng.standard_normal(20 * hop + 123)).astype(np.float32)
    whole = np.abs(librosa.stft(y, n_fft=n_fft, hop_length=hop, center=True, pad_mode="constant")) ** 2
    assert whole.shape[1] == frame_count(y.size, hop_length=hop)
    got = np.concatenate([p for _, p in power_blocks(y, n_fft=n_fft, hop_length=hop, block=block)])
    np.testing.assert_array_equal(got, whole.T)
    starts = [a for a, _ in power_blocks(y, n_fft=n_fft, hop_length=hop, block=block)]
    assert starts == list(range(0, whole.shape[1], block))


def test_frame_samples_pad_with_zeros_or_edges():
    y = np.arange(1.0, 11.0, dtype=np.float32)  # 10 samples
    lo, seg = frame_samples(y, 0, 2, n_fft=4, hop_length=3)  # frames centred on 0 and 3
    assert lo == -2 and seg.tolist() == [0, 0, 1, 2, 3, 4, 5]
    lo, seg = frame_samples(y, 3, 4, n_fft=4, hop_length=3, edge=True)  # centred on 9: past the end
    assert lo == 7 and seg.tolist() == [8, 9, 10, 10]
    assert spectrum(np.zeros(8, np.float32), n_fft=4, hop_length=2).shape == (3, 3)
    with pytest.raises(ParameterError, match="block"):
        next(power_blocks(y, n_fft=4, hop_length=2, block=0))
