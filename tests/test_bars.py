"""Downbeats and steady beats (engine/describe/bars.py) on generated tracks with a known bar and phrase structure."""

from __future__ import annotations

import numpy as np
import pytest

from engine.audio.segment import segment
from engine.config import AnalysisConfig, FrameConfig, SegmentConfig, digest_of
from engine.describe.bars import steady_beats, track_bars
from engine.describe.sections import sections_from_frames
from engine.errors import ParameterError
from engine.describe.frames import frame_features
from engine.mixing.crates import beat_grid_tempo
from engine.mixing.descriptors import describe_track
from tests.mix_support import kicks
from tests.structure_support import SR, f_measure, structured_track


@pytest.mark.parametrize(("bpm", "first", "tonic"), [(126.0, 0.37, 9), (122.5, 0.05, 5), (140.0, 1.1, 0)])
def test_downbeats_of_a_structured_track(bpm, first, tonic):
    """Intro 16 bars, build 8 (riser and fill), drop 16, breakdown 16 (no drums), drop 16, outro 16."""
    track = structured_track(bpm, tonic=tonic, first_downbeat_s=first)
    d = describe_track(frame_features(track.y, sample_rate=SR, config=FrameConfig()))
    beats = np.arange(first, track.downbeats_s[-1] + 4 * 60.0 / bpm - 1e-9, 60.0 / bpm)
    assert f_measure(d.beats_s, beats) >= 0.95  # the breakdown's beats too
    assert f_measure(d.downbeats_s, track.downbeats_s) >= 0.9
    assert d.bar_confidence > 0.5
    assert set(np.unique(d.beat_positions)) == {1, 2, 3, 4} and np.all(np.diff(d.beat_positions) % 4 == 1)


def test_drums_with_nothing_that_marks_a_bar_have_a_low_bar_confidence():
    d = describe_track(frame_features(kicks(126.0, 60.0, hats=0.3), sample_rate=SR, config=FrameConfig()))
    assert d.bar_confidence < 0.3


def test_a_slip_is_mended_and_a_tempo_change_is_left_alone():
    period = 60.0 / 120.0
    truth = 0.25 + period * np.arange(200)
    tracked = truth.copy()
    tracked[80:120] += period / 2  # lost the beat for 40 beats, found it again on the off-beat
    tracked = np.sort(np.append(tracked, truth[80] + 0.01))  # and counted one beat too many
    mended = steady_beats(tracked, 120.0)
    assert len(mended) == len(truth) and np.max(np.abs(mended - truth)) < 0.02
    changing = np.concatenate([0.25 + 0.5 * np.arange(100), 50.25 + 0.4 * np.arange(100)])  # 120 then 150 BPM
    assert np.array_equal(steady_beats(changing, 120.0), changing)


def test_bar_positions_follow_the_change_of_harmony():
    """Chroma that changes every 4 beats, starting at beat 2: beats 2, 6, 10, ... are downbeats."""
    rate, period = 100.0, 0.5
    beats = 1.0 + period * np.arange(64)
    n = int((beats[-1] + 1.0) * rate)
    chroma = np.full((n, 12), 0.2)
    for bar, start in enumerate(beats[2::4]):
        a = int(start * rate)
        chroma[a : a + int(4 * period * rate), [0, 3, 7, 10][bar % 4]] = 1.0
    bars = track_bars(beats, frame_rate=rate, chroma=chroma, timbre=np.zeros((n, 12)), rms=np.ones(n))
    assert np.array_equal(bars.downbeats_s, beats[2::4]) and bars.confidence > 0.5
    assert beat_grid_tempo(bars.beats_s, 120.0, positions=bars.positions)[0].beat == 3  # the first beat is beat 3 of its bar


def test_sections_of_bars_start_on_downbeats_and_keep_a_long_enough_rest():
    downbeats = 0.5 + 2.0 * np.arange(20)  # 120 BPM, 20 bars from 0.5 s; the track ends at 41 s
    seg = segment(41 * 1000, 1000, config=SegmentConfig(mode="bars", bars=8), downbeats_s=downbeats)
    assert seg.start_s.tolist() == [0.5, 16.5, 32.5] and seg.end_s.tolist() == [16.5, 32.5, 41.0]
    assert seg.partial.tolist() == [False, False, True]  # 4.25 bars left: over half of 8
    short = segment(41 * 1000, 1000, config=SegmentConfig(mode="bars", bars=16), downbeats_s=downbeats)
    assert short.start_s.tolist() == [0.5] and short.end_s.tolist() == [32.5]  # 4.25 of 16 bars is dropped
    with pytest.raises(ParameterError, match="downbeats"):
        segment(41 * 1000, 1000, config=SegmentConfig(mode="bars"))


def test_the_bar_count_leaves_the_digests_of_other_modes_as_they_were():
    """A field added later must not make every stored analysis stale."""
    from engine.config import _digest_fields

    assert "bars" not in _digest_fields(SegmentConfig()) and "bars" in _digest_fields(SegmentConfig(mode="bars", bars=16))
    assert digest_of(SegmentConfig(mode="bars")) != digest_of(SegmentConfig())
    assert digest_of(SegmentConfig(mode="bars", bars=8)) != digest_of(SegmentConfig(mode="bars", bars=16))
    assert AnalysisConfig().section_digest() == "c0d205d85e7fa25f"  # the shipped demo store's, from before the field


def test_a_structured_track_cut_into_8_bars_starts_every_section_on_a_phrase_bar():
    track = structured_track(126.0, first_downbeat_s=0.37)
    frames = frame_features(track.y, sample_rate=SR, config=FrameConfig())
    table = sections_from_frames(frames, "structured", config=AnalysisConfig().replace(segment=SegmentConfig(mode="bars", bars=8)))
    starts = table.meta["start_s"].to_numpy()
    want = track.downbeats_s[::8][: len(starts)]
    assert len(starts) == len(track.downbeats_s) // 8
    assert np.max(np.abs(starts - want)) < 0.07  # every phrase of this track is a multiple of 8 bars


@pytest.mark.parametrize(("bpm", "first", "tonic"), [(126.0, 0.37, 9), (122.5, 0.05, 5), (140.0, 1.1, 0), (128.0, 0.8, 2)])
def test_phrases_of_a_structured_track_fall_on_its_boundaries_and_are_labelled(bpm, first, tonic):
    from engine.describe.phrases import track_phrases

    track = structured_track(bpm, tonic=tonic, first_downbeat_s=first)
    phrases = track_phrases(frame_features(track.y, sample_rate=SR, config=FrameConfig()))
    truth = np.array([start for _, start, _ in track.phrases])
    beat = 60.0 / bpm
    found = phrases.start_s
    hits = sum(bool(np.any(np.abs(found - t) <= beat)) for t in truth)
    assert hits >= 0.9 * len(truth)  # boundaries within one beat
    assert len(found) <= len(truth) + 1  # and not many more than there are
    grid = np.arange(0.0, track.phrases[-1][2], 0.05)  # labels compared every 50 ms
    want = np.array([next((lab for lab, a, b in track.phrases if a <= t < b), "") for t in grid])
    got = np.array([next((lab for lab, a, b in zip(phrases.labels, phrases.start_s, phrases.end_s) if a <= t < b), "") for t in grid])
    inside = want != ""
    assert np.mean(got[inside] == want[inside]) >= 0.8
    assert phrases.labels.count("drop") == 2 and phrases.labels[0] == "intro" and phrases.labels[-1] == "outro"


def test_sections_of_phrases_follow_the_phrases_and_need_them():
    seg = segment(100 * 1000, 1000, config=SegmentConfig(mode="phrases"), phrases_s=(np.array([0.5, 30.5, 46.5]), np.array([30.5, 46.5, 100.0])))
    assert seg.start_s.tolist() == [0.5, 30.5, 46.5] and seg.end_s.tolist() == [30.5, 46.5, 100.0] and not seg.partial.any()
    with pytest.raises(ParameterError, match="phrases"):
        segment(100 * 1000, 1000, config=SegmentConfig(mode="phrases"))
    track = structured_track(126.0, first_downbeat_s=0.37)
    frames = frame_features(track.y, sample_rate=SR, config=FrameConfig())
    table = sections_from_frames(frames, "structured", config=AnalysisConfig().replace(segment=SegmentConfig(mode="phrases")))
    truth = np.array([start for _, start, _ in track.phrases])
    assert len(table) == len(truth) and np.max(np.abs(table.meta["start_s"].to_numpy() - truth)) < 60.0 / 126.0
