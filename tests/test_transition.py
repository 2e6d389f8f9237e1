"""The beat-matched transition preview (engine/mixing/transition.py)."""

from __future__ import annotations

import io

import librosa
import numpy as np
import pytest
import soundfile as sf

from engine.errors import ParameterError
from engine.describe.rhythm import estimate_tempo
from engine.mixing.transition import render_transition, time_stretch, to_wav_bytes
from tests.mix_support import FRAME_RATE, SR, envelopes, kicks

BPM_A, BPM_B = 124.0, 130.0


def _tempo(y):
    o, rms = envelopes(y)
    return estimate_tempo(o, frame_rate=FRAME_RATE, accent=rms)


@pytest.fixture(scope="module")
def pair():
    a = kicks(BPM_A, 30.0, phase=0.13, hats=0.1, seed=1)
    b = kicks(BPM_B, 30.0, phase=0.31, pitch=70.0, hats=0.1, seed=2)  # another kick, another tempo and phase
    return a, b, _tempo(a), _tempo(b)


def _render(pair, **kw):
    a, b, ta, tb = pair
    opts = dict(crossfade_bars=4, lead_bars=2, tail_bars=4)
    opts.update(kw)
    return render_transition(
        a, b, sample_rate=SR, bpm_a=ta.bpm, first_beat_a=ta.first_beat_s, bpm_b=tb.bpm, first_beat_b=tb.first_beat_s, **opts
    )


def _tracked_offsets(tr, lo: float, hi: float) -> np.ndarray:
    """Beat-tracker beats in [lo, hi) of the rendered audio, as signed offsets (s) from A's grid."""
    o = librosa.onset.onset_strength(y=tr.audio, sr=SR, hop_length=128)
    _, beats = librosa.beat.beat_track(onset_envelope=o, sr=SR, hop_length=128, bpm=tr.bpm, units="time")
    beats = beats[(beats >= lo) & (beats < hi)]
    period = 60.0 / tr.bpm
    return (beats - tr.beats_s[0] + period / 2) % period - period / 2


@pytest.mark.parametrize("stretcher", ["rubberband", "phase-vocoder"])
def test_length_no_clipping_and_beats_on_a_grid(pair, stretcher):
    tr = _render(pair, stretcher=stretcher)
    assert tr.stretcher == stretcher
    expected = (2 + 4 + 4) * 4 * 60.0 / tr.bpm
    assert abs(tr.duration_s - expected) < 1.0 / SR + 1e-9
    assert tr.bpm == pytest.approx(BPM_A, abs=0.5) and tr.stretch == pytest.approx(BPM_A / BPM_B, abs=0.005)
    assert np.max(np.abs(tr.audio)) <= 0.98 + 1e-6
    assert tr.crossfade_start_s == pytest.approx(2 * 4 * 60 / tr.bpm, abs=1e-3)
    # The beat tracker's offset from A's grid while A plays alone is its own latency; once B
    # plays alone (stretched), its tracked beats must sit at the same place within 20 ms.
    lead = _tracked_offsets(tr, 0.5, tr.crossfade_start_s)
    tail = _tracked_offsets(tr, tr.crossfade_end_s + 0.3, tr.duration_s - 0.3)
    assert len(lead) >= 5 and len(tail) >= 10
    assert np.ptp(lead) < 0.012  # the tracker is steady on A
    period = 60.0 / tr.bpm
    errors = (tail - np.median(lead) + period / 2) % period - period / 2  # phase differences
    assert np.max(np.abs(errors)) < 0.020, np.round(errors * 1000, 1)
    # And B's tempo after stretching is A's.
    assert _tempo(tr.audio[int(tr.crossfade_end_s * SR) :]).bpm == pytest.approx(tr.bpm, abs=0.5)


def test_loud_inputs_are_limited_not_clipped(pair):
    a, b, ta, tb = pair
    tr = render_transition(
        a * 4.0, b * 4.0, sample_rate=SR, bpm_a=ta.bpm, first_beat_a=ta.first_beat_s, bpm_b=tb.bpm, first_beat_b=tb.first_beat_s,
        crossfade_bars=2, lead_bars=1, tail_bars=1, stretcher="phase-vocoder",
    )  # fmt: skip
    assert np.max(np.abs(tr.audio)) == pytest.approx(0.98, abs=1e-4)


def test_equal_power_crossfade_keeps_the_level(pair):
    # Two uncorrelated noises at one level: the crossfade keeps the summed power steady.
    rng = np.random.default_rng(0)
    a = (0.1 * rng.standard_normal(SR * 20)).astype(np.float32)
    b = (0.1 * rng.standard_normal(SR * 20)).astype(np.float32)
    tr = render_transition(a, b, sample_rate=SR, bpm_a=120, first_beat_a=0.0, bpm_b=120, first_beat_b=0.0, crossfade_bars=4, lead_bars=1, tail_bars=1)
    rms = [np.sqrt(np.mean(tr.audio[i : i + SR // 2] ** 2)) for i in range(0, len(tr.audio) - SR // 2, SR // 2)]
    assert np.ptp(20 * np.log10(rms)) < 1.5


def test_wav_bytes_round_trip(pair):
    tr = _render(pair, crossfade_bars=1, lead_bars=1, tail_bars=1, stretcher="phase-vocoder")
    y, sr = sf.read(io.BytesIO(to_wav_bytes(tr.audio, sample_rate=tr.sample_rate)))
    assert sr == SR and len(y) == len(tr.audio)
    assert np.max(np.abs(y - tr.audio)) < 1e-4


def test_errors(pair):
    a, b, ta, tb = pair
    with pytest.raises(ParameterError, match="use fewer bars"):
        render_transition(a[: SR * 5], b, sample_rate=SR, bpm_a=ta.bpm, first_beat_a=0.1, bpm_b=tb.bpm, first_beat_b=0.1, crossfade_bars=8)
    with pytest.raises(ParameterError, match="crossfade_bars"):
        _render(pair, crossfade_bars=0)
    with pytest.raises(ParameterError, match="stretch rate"):
        time_stretch(a, sample_rate=SR, rate=3.0)


@pytest.mark.parametrize("bpm_a, bars", [(124.0, (2, 2, 1)), (124.0, (1, 3, 1))])
def test_bar_lengths_rounded_apart_still_render(pair, bpm_a, bars):
    # At 124 BPM, round(lead + crossfade) samples is one less than round(lead) + round(crossfade):
    # the crossfade passes A's span by a sample, and A's fade-out stops at its end.
    a, b, _, _ = pair
    lead, crossfade, tail = bars
    tr = render_transition(
        a, b, sample_rate=SR, bpm_a=bpm_a, first_beat_a=0.2, bpm_b=BPM_B, first_beat_b=0.3,
        crossfade_bars=crossfade, lead_bars=lead, tail_bars=tail, stretcher="phase-vocoder",
    )  # fmt: skip
    bar = 4 * 60.0 / bpm_a
    assert len(tr.audio) == round((lead + crossfade + tail) * bar * SR)
    assert int(round(tr.crossfade_end_s * SR)) == round(lead * bar * SR) + round(crossfade * bar * SR)
    assert np.all(np.isfinite(tr.audio)) and np.max(np.abs(tr.audio)) <= 0.98 + 1e-6


def test_b_near_the_end_of_its_track_enters_whole_bars_earlier():
    """A suggested section in the last seconds of its track: B enters earlier by whole bars of B, so the
    crossfade and the tail fit, instead of the preview failing with "use fewer bars"."""
    import pandas as pd

    from engine.config import MixConfig
    from engine.mixing.transition import _start_of_b

    config = MixConfig()
    bar = 4 * 60.0 / 120.0
    span = (config.crossfade_bars + config.tail_bars) * bar
    late = pd.Series({"bpm": 120.0, "first_beat_s": 55.0})
    start = _start_of_b(late, 61.5, bpm_a=120.0, config=config)
    assert start + span <= 61.5 and start + span + bar > 61.5  # as late as fits
    assert (55.0 - start) / bar == pytest.approx(round((55.0 - start) / bar))  # on B's bar grid
    early = pd.Series({"bpm": 120.0, "first_beat_s": 3.0})
    assert _start_of_b(early, 61.5, bpm_a=120.0, config=config) == 3.0
    # B matched at double time (60 -> 120 BPM): its bars in the source last twice as long
    slow = pd.Series({"bpm": 60.0, "first_beat_s": 30.0})
    start = _start_of_b(slow, 61.5, bpm_a=120.0, config=config)
    assert start + (config.crossfade_bars + config.tail_bars) * 4 * 60.0 / 120.0 <= 61.5
