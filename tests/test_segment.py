"""Sections and pieces: fixed cutting with the remainder rule, and the thesis's exact cut."""

from __future__ import annotations

import math

import numpy as np
import pytest

from engine.config import SegmentConfig
from engine.errors import ParameterError
from engine.audio.segment import min_track_seconds, segment

SR = 44_100


def test_fixed_sections_are_contiguous_and_exact():
    seg = segment(SR * 60, SR, config=SegmentConfig())
    assert seg.n_sections == 4
    assert np.allclose(seg.start_s, [0, 15, 30, 45]) and np.allclose(seg.end_s, [15, 30, 45, 60])
    assert not seg.partial.any()
    assert np.array_equal(seg.section, np.arange(4))


@pytest.mark.parametrize(
    "seconds,expected_sections,last_partial",
    [(67.4, 4, False), (67.5, 5, True), (74.0, 5, True), (15.0, 1, False), (14.9, 0, False)],
)
def test_remainder_rule(seconds, expected_sections, last_partial):
    n = int(round(seconds * SR))
    seg = segment(n, SR, config=SegmentConfig())
    assert seg.n_sections == expected_sections
    if expected_sections:
        assert bool(seg.partial[-1]) is last_partial
        assert seg.end_s[-1] <= n / SR + 1e-12
        if last_partial:
            assert seg.end_s[-1] == pytest.approx(n / SR)


def test_remainder_fraction_is_configurable():
    n = int(70 * SR)  # 4 sections + 10 s
    assert segment(n, SR, config=SegmentConfig(min_last_fraction=0.7)).n_sections == 4
    assert segment(n, SR, config=SegmentConfig(min_last_fraction=0.6)).n_sections == 5


def test_pieces_fill_each_section_and_carry_section_ids():
    seg = segment(SR * 31, SR, config=SegmentConfig(section_seconds=10, piece_seconds=3))
    assert seg.n_sections == 3  # 1 s remainder is dropped
    assert len(seg.piece) == 9
    assert np.array_equal(seg.piece_section, np.repeat([0, 1, 2], 3))
    assert np.array_equal(seg.piece, np.tile([0, 1, 2], 3))
    for s, start, end in zip(seg.piece_section, seg.piece_start_s, seg.piece_end_s):
        assert seg.start_s[s] <= start < end <= seg.end_s[s]
    assert np.allclose(seg.piece_end_s - seg.piece_start_s, 3.0)


@pytest.mark.parametrize("duration", [184.9, 213.0, 61.45, 299.1, 30.2])
def test_thesis_mode_reproduces_the_thesis_cut(duration):
    n = int(duration * SR)
    y_len = n
    steps = math.ceil(y_len / SR) // 15 - 1  # the thesis's code, verbatim in spirit
    size = y_len // steps
    seg = segment(n, SR, config=SegmentConfig(mode="thesis"))
    assert seg.n_sections == steps
    starts = (seg.start_s * SR).round().astype(int)
    ends = (seg.end_s * SR).round().astype(int)
    assert np.array_equal(starts, np.arange(steps) * size)
    assert np.array_equal(ends, (np.arange(steps) + 1) * size)
    assert (seg.end_s - seg.start_s).min() >= 15.0 - 1e-9 or steps == 1


def test_thesis_mode_needs_about_two_sections():
    assert segment(int(29 * SR), SR, config=SegmentConfig(mode="thesis")).n_sections == 0
    assert segment(int(30 * SR), SR, config=SegmentConfig(mode="thesis")).n_sections == 1
    assert min_track_seconds(SegmentConfig(mode="thesis")) > 29


@pytest.mark.parametrize("bad", [0.5, 61, -1])
def test_section_length_is_validated(bad):
    with pytest.raises(ParameterError, match="section_seconds"):
        SegmentConfig(section_seconds=bad)


def test_bad_lengths_raise():
    with pytest.raises(ParameterError, match="n_samples"):
        segment(-1, SR, config=SegmentConfig())


def test_module_examples_show_what_the_thesis_cut_does():
    """The module docstring's examples run: its account of thesis section lengths is checked, not just stated."""
    import doctest

    import engine.audio.segment

    assert "slightly longer than 15 s" not in engine.audio.segment.__doc__
    outcome = doctest.testmod(engine.audio.segment, verbose=False, report=False)
    assert outcome.attempted >= 3 and outcome.failed == 0


@pytest.mark.parametrize("duration", [29.5, 44.0, 45.5, 59.9, 75.0, 240.0, 600.0])
def test_thesis_sections_are_as_long_as_the_docstring_says(duration):
    seg = segment(int(duration * SR), SR, config=SegmentConfig(mode="thesis"))
    steps = seg.n_sections
    length = float(seg.end_s[0] - seg.start_s[0])
    # duration / steps: always over 15 s, under 15 * (steps + 2) / steps (45 s for one section)
    assert 15.0 < length < 15.0 * (steps + 2) / steps
    assert length == pytest.approx(duration / steps, abs=1e-3)
