"""Decoding: every format libsndfile reads, mono mixing, resampling, and every named failure."""

from __future__ import annotations

import hashlib

import numpy as np
import pytest
import soundfile as sf

from engine.config import DecodeConfig
from engine.audio.decode import decode_file, file_digest
from engine.errors import DecodeError, ParameterError

SR = 22_050


def tone(seconds: float = 2.0, sr: int = SR, freq: float = 440.0, channels: int = 1) -> np.ndarray:
    t = np.arange(int(seconds * sr)) / sr
    y = 0.5 * np.sin(2 * np.pi * freq * t)
    return np.stack([y * (1 - 0.3 * c) for c in range(channels)], axis=1) if channels > 1 else y


def dominant_freq(y: np.ndarray, sr: int) -> float:
    spec = np.abs(np.fft.rfft(y * np.hanning(len(y))))
    return float(np.argmax(spec) * sr / len(y))


@pytest.mark.parametrize(
    "fmt,subtype,suffix",
    [
        ("WAV", "PCM_U8", ".wav"),
        ("WAV", "PCM_16", ".wav"),
        ("WAV", "PCM_24", ".wav"),
        ("WAV", "PCM_32", ".wav"),
        ("WAV", "FLOAT", ".wav"),
        ("WAV", "DOUBLE", ".wav"),
        ("FLAC", "PCM_16", ".flac"),
        ("FLAC", "PCM_24", ".flac"),
        ("OGG", "VORBIS", ".ogg"),
        ("OGG", "OPUS", ".opus"),
        ("MP3", "MPEG_LAYER_III", ".mp3"),
        ("AIFF", "PCM_16", ".aiff"),
    ],
)
def test_every_format_decodes_to_mono_at_the_analysis_rate(tmp_path, fmt, subtype, suffix):
    sr_in = 48_000 if subtype == "OPUS" else SR
    path = tmp_path / f"tone{suffix}"
    sf.write(path, tone(sr=sr_in, channels=2), sr_in, format=fmt, subtype=subtype)
    audio = decode_file(path, sample_rate=16_000)
    assert audio.sample_rate == 16_000
    assert audio.y.dtype == np.float32 and audio.y.ndim == 1
    assert audio.track.channels == 2
    assert abs(audio.track.duration_s - 2.0) < 0.1  # codecs may pad a little
    assert abs(dominant_freq(audio.y, 16_000) - 440.0) < 5.0
    # the mix is the mean of the two channels (1.0 and 0.7 of the tone): RMS near 0.85 * 0.5 / sqrt(2)
    middle = audio.y[len(audio.y) // 4 : 3 * len(audio.y) // 4]
    assert np.sqrt(np.mean(middle**2)) == pytest.approx(0.85 * 0.5 / np.sqrt(2), rel=0.1)
    assert audio.track.track_id == hashlib.sha256(path.read_bytes()).hexdigest()


def test_resampling_keeps_length_and_content(tmp_path):
    path = tmp_path / "a.wav"
    sf.write(path, tone(seconds=3.0, sr=48_000, freq=1000.0), 48_000, subtype="FLOAT")
    audio = decode_file(path, sample_rate=44_100)
    assert abs(len(audio.y) - 3 * 44_100) <= 1
    assert abs(dominant_freq(audio.y, 44_100) - 1000.0) < 2.0


def test_demo_track_decodes(demo_files):
    audio = decode_file(demo_files[0])
    assert audio.sample_rate == 44_100
    assert audio.track.duration_s > 60
    assert np.isfinite(audio.y).all() and np.abs(audio.y).max() <= 1.5
    assert audio.track.name == demo_files[0].name


def test_same_bytes_same_id_renamed(tmp_path):
    a, b = tmp_path / "a.wav", tmp_path / "renamed.wav"
    sf.write(a, tone(), SR)
    b.write_bytes(a.read_bytes())
    assert file_digest(a) == file_digest(b)
    c = tmp_path / "c.wav"
    sf.write(c, tone(freq=441.0), SR)
    assert file_digest(c) != file_digest(a)


def _expect(path, reason, match, **kw):
    with pytest.raises(DecodeError, match=match) as info:
        decode_file(path, **kw)
    assert info.value.reason == reason
    assert info.value.name == kw.get("name", path.name)


def test_text_file_named_wav(tmp_path):
    p = tmp_path / "notes.wav"
    p.write_text("these are my notes, not audio\n" * 20)
    _expect(p, "not-audio", r"notes\.wav: not an audio file")


def test_truncated_wav(tmp_path):
    p = tmp_path / "cut.wav"
    sf.write(p, tone(seconds=3.0), SR, subtype="PCM_16")
    data = p.read_bytes()
    p.write_bytes(data[: len(data) // 2])
    _expect(p, "truncated", "header promises")


def test_header_declaring_gigabytes(tmp_path):
    p = tmp_path / "liar.wav"
    sf.write(p, tone(seconds=1.0), SR, subtype="PCM_16")
    data = bytearray(p.read_bytes())
    pos = data.find(b"data")
    data[pos + 4 : pos + 8] = (3_000_000_000).to_bytes(4, "little")
    p.write_bytes(bytes(data))
    _expect(p, "truncated", "header promises")


def test_empty_file(tmp_path):
    p = tmp_path / "empty.wav"
    p.write_bytes(b"")
    _expect(p, "empty", "empty")


def test_header_only_has_no_samples(tmp_path):
    p = tmp_path / "header.wav"
    sf.write(p, np.zeros(0), SR, subtype="PCM_16")
    _expect(p, "empty", "no audio samples")


def test_silent_file(tmp_path):
    p = tmp_path / "silence.wav"
    sf.write(p, np.zeros(SR * 3), SR, subtype="PCM_16")
    _expect(p, "silent", "digital silence")


def test_too_short(tmp_path):
    p = tmp_path / "blip.wav"
    sf.write(p, tone(seconds=0.5), SR)
    _expect(p, "too-short", "shorter than one section", min_seconds=15.0)
    assert decode_file(p).track.duration_s == pytest.approx(0.5, abs=1e-3)


def test_non_finite_samples(tmp_path):
    p = tmp_path / "nan.wav"
    y = tone(seconds=1.0)
    y[100:200] = np.nan
    y[300] = np.inf
    sf.write(p, y, SR, subtype="FLOAT")
    _expect(p, "non-finite", "NaN or infinite")


@pytest.mark.parametrize("rate", [4_000, 384_000])
def test_sample_rate_out_of_range(tmp_path, rate):
    p = tmp_path / f"sr{rate}.wav"
    sf.write(p, tone(seconds=0.5, sr=rate), rate, subtype="PCM_16")
    _expect(p, "bad-sample-rate", f"{rate} Hz is outside")


@pytest.mark.parametrize("rate", [8_000, 192_000])
def test_sample_rate_limits_are_accepted(tmp_path, rate):
    p = tmp_path / f"sr{rate}.wav"
    sf.write(p, tone(seconds=1.0, sr=rate, freq=1000.0), rate, subtype="PCM_16")
    audio = decode_file(p, sample_rate=16_000)
    assert abs(dominant_freq(audio.y, 16_000) - 1000.0) < 3.0


def test_size_limit(tmp_path):
    p = tmp_path / "big.wav"
    sf.write(p, tone(seconds=2.0), SR, subtype="PCM_16")
    _expect(p, "too-large", "over the 0 MB limit", config=DecodeConfig(max_file_bytes=1000))


def test_missing_file(tmp_path):
    _expect(tmp_path / "nope.wav", "missing", "does not exist")


def test_custom_display_name_is_used(tmp_path):
    p = tmp_path / "x.wav"
    p.write_bytes(b"junk" * 100)
    _expect(p, "not-audio", r"^crate/side A/x\.wav:", name="crate/side A/x.wav")


def test_bad_target_rate_is_a_parameter_error(tmp_path):
    with pytest.raises(ParameterError, match="outside"):
        decode_file(tmp_path / "x.wav", sample_rate=1_000)


def test_other_rates_from_the_same_decode_equal_their_own_decode(demo_files):
    """also_at: one decode, resampled per rate, gives each rate's samples exactly as decoding for it."""
    path = demo_files[0]
    both = decode_file(path, sample_rate=22_050, also_at=(16_000, 44_100))
    assert set(both.also) == {16_000, 44_100}
    for rate in (22_050, 16_000, 44_100):
        alone = decode_file(path, sample_rate=rate)
        got = both.y if rate == 22_050 else both.also[rate]
        assert got.dtype == np.float32 and np.array_equal(got, alone.y), rate
    with pytest.raises(ParameterError):
        decode_file(path, sample_rate=22_050, also_at=(100,))
