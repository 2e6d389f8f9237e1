"""Tempo, beats and energy (engine/describe/rhythm.py) on generated patterns and the demo library."""

from __future__ import annotations

import librosa
import numpy as np
import pytest

from engine.config import FrameConfig
from engine.errors import ParameterError
from engine.describe.frames import frame_features
from engine.mixing.descriptors import describe_store
from engine.describe.rhythm import beat_grid, energy_of, estimate_tempo
from engine.store.core import Store
from tests.mix_support import FRAME_RATE, SR, clicks, demo_store, envelopes, kicks

# Known tempi across the dance range, off the onset-lag grid on purpose.
BPMS = (85.0, 90.37, 97.3, 104.6, 112.0, 118.8, 123.45, 128.6, 133.2, 140.0, 143.6, 150.9, 158.2, 165.0, 172.7, 179.5)


def _tempo(y, **kw):
    o, rms = envelopes(y)
    return estimate_tempo(o, frame_rate=FRAME_RATE, accent=rms, **kw)


@pytest.mark.parametrize("make", [clicks, kicks], ids=["clicks", "kicks"])
def test_tempo_within_half_a_bpm_across_85_to_180(make):
    errors = np.array([_tempo(make(bpm)).bpm - bpm for bpm in BPMS])
    assert np.all(np.abs(errors) <= 0.5), dict(zip(BPMS, np.round(errors, 3)))
    # librosa's own estimate is quantised to the lag grid: ours must beat it on average.
    lag_grid = [float(librosa.feature.tempo(onset_envelope=envelopes(make(b))[0], sr=SR, hop_length=512)[0]) for b in BPMS[:4]]
    assert np.mean(np.abs(errors[:4])) < np.mean(np.abs(np.array(lag_grid) - np.array(BPMS[:4])))


def test_tempo_from_stored_frames_matches():
    y = kicks(126.3, 15.0)
    frames = frame_features(y, sample_rate=SR, config=FrameConfig())
    o = frames.values[:, frames.names.index("onset_strength")]
    rms = frames.values[:, frames.names.index("rmse")]
    t = estimate_tempo(o, frame_rate=SR / frames.hop_length, accent=rms)
    assert abs(t.bpm - 126.3) <= 0.5
    assert t.confidence > 0.5


def test_octaves_fold_into_the_range_and_are_noted():
    slow = _tempo(clicks(70.0, 20.0))
    assert abs(slow.bpm - 140.0) <= 0.5 and slow.octave == 2.0
    assert slow.note.startswith("folded ×2 from 70.0 BPM into 85–180 BPM; or 70.0 BPM (×½, strength")
    assert slow.alternative_strength == pytest.approx(1.0, abs=1e-3) and slow.strength < 0.9  # the slower pulse is the strongest: the range moved it
    fast = _tempo(clicks(210.0, 15.0))
    assert abs(fast.bpm - 105.0) <= 0.5 and fast.octave == 0.5 and fast.note.startswith("folded ×½ from 210.0 BPM")
    inside = _tempo(kicks(120.0))
    assert inside.octave == 1.0 and inside.note.startswith("or ") and "folded" not in inside.note
    assert inside.strength == pytest.approx(1.0, abs=1e-3) and 0 < inside.alternative_strength < 0.9  # the tempo itself is the strongest reading


def test_a_3_to_2_relation_is_named_as_such_never_as_half_time():
    """Kicks at 130.7 BPM under a busier pulse at 196.1 BPM (2:3): the note names 2:3, not an octave."""
    n = len(kicks(130.7, 30.0))
    t = _tempo(kicks(130.7, 30.0) + 0.8 * clicks(196.1, 30.0)[:n])
    assert abs(t.bpm - 130.7) <= 0.5 and abs(t.raw_bpm - 196.1) <= 0.5
    assert t.octave == 1.0 and "half" not in t.note and "½" not in t.note
    assert "×2/3 of it" in t.note and "196.1 BPM (×3/2" in t.note


@pytest.mark.parametrize("bpm", [80.0, 100.0, 126.0, 174.0])
def test_every_note_names_an_alternative_in_a_simple_ratio(bpm):
    t = _tempo(kicks(bpm, 20.0))
    ratio = t.alternative_bpm / t.bpm
    assert any(abs(ratio - r) < 1e-9 for r in (2.0, 0.5, 1.5, 2.0 / 3.0))
    assert f"or {t.alternative_bpm:.1f} BPM" in t.note and f"strength {t.alternative_strength:.2f} against {t.strength:.2f}" in t.note


def test_beat_grid_lands_on_the_kicks_not_the_hats():
    phase = 0.237
    for bpm in (95.0, 124.0, 150.0):
        t = _tempo(kicks(bpm, 15.0, phase=phase, hats=0.3))
        period = 60.0 / bpm
        off = (t.first_beat_s - phase + period / 2) % period - period / 2
        assert abs(off) < 0.020, (bpm, off)  # the onset envelope peaks a little after the attack
        grid = beat_grid(t, start_s=0.0, end_s=15.0)
        assert np.allclose(np.diff(grid), t.period_s) and grid[0] < t.period_s and abs(t.bpm - bpm) <= 0.5


def test_noise_has_low_confidence(rng):
    o = np.abs(rng.standard_normal(int(15 * FRAME_RATE)))
    assert estimate_tempo(o, frame_rate=FRAME_RATE).confidence < 0.2


def test_tempo_rejects_short_or_bad_input():
    with pytest.raises(ParameterError, match="at least 4 s"):
        estimate_tempo(np.ones(100), frame_rate=FRAME_RATE)
    with pytest.raises(ParameterError, match="NaN"):
        estimate_tempo(np.full(1000, np.nan), frame_rate=FRAME_RATE)
    with pytest.raises(ParameterError, match="bpm_min"):
        estimate_tempo(np.ones(1000), frame_rate=FRAME_RATE, bpm_min=150, bpm_max=100)


def test_energy_is_absolute_and_monotonic():
    loud = np.full(100, 0.4)
    busy = energy_of(loud, 120, 15.0)
    assert busy.level == 10 and busy.energy == pytest.approx(10.0)  # -8 dBFS and 8 onsets/s: the top of both terms
    assert energy_of(loud * 0.5, 120, 15.0).energy < busy.energy  # 6 dB quieter
    assert energy_of(loud, 30, 15.0).energy < busy.energy  # fewer onsets
    quiet = energy_of(np.full(100, 1e-4), 0, 15.0)
    assert quiet.level == 1 and quiet.loudness_db == pytest.approx(-80.0)
    # Absolute: the same section scores the same whatever else is in the library.
    assert energy_of(loud * 0.5, 60, 15.0) == energy_of(loud * 0.5, 60, 15.0)


def test_demo_tempo_is_stable_across_sections():
    table = describe_store(Store(demo_store()))
    d = table.descriptors
    for name in ("JDruid-Trip_on_the_Funny_Boat.ogg", "tt1.ogg", "tt2.ogg", "tt4.ogg"):
        bpm = d.loc[d["name"] == name, "bpm"].to_numpy()
        track = table.tracks[d.loc[d["name"] == name, "track_id"].iloc[0]].bpm
        assert len(bpm) >= 4
        assert np.all(np.abs(bpm / track - 1) < 0.01), (name, track, bpm)
    funny = d.loc[d["name"].str.startswith("JDruid"), "bpm"].to_numpy()
    assert np.ptp(funny) < 0.5  # one tempo, to half a BPM, over 12 sections
