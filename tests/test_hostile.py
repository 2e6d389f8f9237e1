"""Broken and hostile audio: each file gets its named error or a correct result, in bounded time and memory."""

from __future__ import annotations

import re
import tracemalloc

import numpy as np
import pytest

from engine.config import AnalysisConfig
from engine.audio.decode import decode_file
from engine.errors import DecodeError
from engine.run.inputs import collect_inputs
from engine.run.pipeline import analyze
from engine.store.core import Store
from conftest import CEILING_S
from hostile import CORPUS, SR, TWO_HOURS_S, build_corpus



@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    return {h.name: (h, p) for h, p in build_corpus(tmp_path_factory.mktemp("hostile"))}


@pytest.mark.timeout(CEILING_S)  # a hang guard, not a speed target (speed lives in bench/robustness.py)
@pytest.mark.parametrize("name", [h.name for h in CORPUS])
def test_each_hostile_file_gets_its_named_error_or_a_correct_result(corpus, name):
    h, path = corpus[name]
    if "ok" in h.expect:
        try:
            audio = decode_file(path, sample_rate=SR)
        except DecodeError as exc:  # only where the corpus names another acceptable outcome
            assert exc.reason in h.expect - {"ok"}, f"{name}: {exc}"
            assert re.match(rf"^{re.escape(name)}: .*\[{exc.reason}\]$", str(exc))
        else:
            assert audio.y.dtype == np.float32 and audio.y.ndim == 1
            assert np.isfinite(audio.y).all() and np.any(audio.y)
            lo, hi = h.seconds
            assert lo <= audio.track.duration_s <= hi
    else:
        (reason,) = h.expect
        with pytest.raises(DecodeError, match=rf"^{re.escape(name)}: .*\[{reason}\]$") as info:
            decode_file(path, sample_rate=SR)
        assert info.value.reason == reason


def test_two_hours_of_silence_is_refused_without_holding_two_hours_of_audio(corpus):
    _, path = corpus["two_hours_silent.wav"]
    held_if_kept = TWO_HOURS_S * SR * 4  # float32 bytes of the decoded signal: 635 MB
    tracemalloc.start()
    try:
        with pytest.raises(DecodeError, match="digital silence"):
            decode_file(path, sample_rate=SR)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 64 * 2**20 < held_if_kept / 8


def test_silence_after_sound_is_kept_as_samples(tmp_path):
    """The zero-run shortcut must not lose the silent part of a file that also has sound."""
    import soundfile as sf

    y = np.zeros(SR * 30, np.float32)
    y[: SR] = 0.5 * np.sin(2 * np.pi * 440 * np.arange(SR) / SR)
    sf.write(tmp_path / "mostly_silent.wav", y, SR, subtype="FLOAT")
    audio = decode_file(tmp_path / "mostly_silent.wav", sample_rate=SR)
    assert audio.y.size == y.size
    np.testing.assert_array_equal(audio.y, y)


def test_a_batch_of_hostile_files_is_reported_file_by_file(corpus, tmp_path):
    folder = next(iter(corpus.values()))[1].parent
    inputs, _ = collect_inputs([folder])
    assert len(inputs) == len(CORPUS)
    result = analyze(inputs, store=Store(tmp_path / "store"), config=AnalysisConfig())
    reasons = {e.name: e.reason for e in result.errors}
    assert not result.tracks  # every readable one is shorter than a 15 s section
    for h in CORPUS:
        want = {"too-short" if r == "ok" else r for r in h.expect}
        assert reasons.get(h.name) in want, h.name
