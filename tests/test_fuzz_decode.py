"""Fuzzing the decoder: real demo audio as WAV, bytes mutated, never an unhandled exception or a hang.

The normal run tries a fixed, derandomized set of 200 mutations; the long run
(``pytest -m fuzz_long``) tries 3,000 more with the same checks.
"""

from __future__ import annotations

import io
import time
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from engine.audio.decode import decode_file
from engine.errors import DECODE_REASONS, DecodeError

SR = 22_050
CLIP_S = 1.0
NORMAL_EXAMPLES = 200
LONG_EXAMPLES = 3_000
DEADLINE_MS = 5_000  # per example: a hang guard (a decode takes a few ms)


def _demo_wavs() -> dict[str, bytes]:
    """One second of a real demo track, written as 16-bit and as float WAV."""
    from conftest import DEMO_DIR

    y, sr = sf.read(DEMO_DIR / "tt1.ogg", frames=int(60 * 44_100), dtype="float32", always_2d=True)
    y = y[int(30 * sr) : int((30 + CLIP_S) * sr)]
    out = {}
    for subtype in ("PCM_16", "FLOAT"):
        buf = io.BytesIO()
        sf.write(buf, y, sr, format="WAV", subtype=subtype)
        out[subtype] = buf.getvalue()
    return out


BASES = _demo_wavs()

#: A mutation: the base file, byte edits (position -> value; half of them in the header), and an optional cut.
mutations = st.tuples(
    st.sampled_from(sorted(BASES)),
    st.lists(
        st.tuples(st.one_of(st.integers(0, 63), st.integers(0, 2**31)), st.integers(0, 255)),
        min_size=1,
        max_size=12,
    ),
    st.one_of(st.none(), st.floats(0.0, 1.0)),
)


def _mutate(base: bytes, edits, cut) -> bytes:
    data = bytearray(base)
    for pos, value in edits:
        data[pos % len(data)] = value
    if cut is not None:
        data = data[: int(cut * len(data))]
    return bytes(data)


def check_one(path: Path, data: bytes) -> str:
    """Decode ``data`` written at ``path``; return ``"ok"`` or the error's reason. Anything else fails."""
    path.write_bytes(data)
    t0 = time.perf_counter()
    try:
        audio = decode_file(path, sample_rate=SR)
    except DecodeError as exc:
        assert exc.reason in DECODE_REASONS
        return exc.reason
    finally:
        assert time.perf_counter() - t0 < DEADLINE_MS / 1000
    assert audio.y.dtype == np.float32 and audio.y.ndim == 1
    assert np.isfinite(audio.y).all()
    return "ok"


def _fuzz(tmp_path: Path, n: int, seen: dict[str, int]):
    @settings(
        max_examples=n,
        derandomize=True,
        deadline=DEADLINE_MS,
        database=None,
        suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    )
    @given(mutations)
    def run(m):
        base, edits, cut = m
        outcome = check_one(tmp_path / "fuzzed.wav", _mutate(BASES[base], edits, cut))
        seen[outcome] = seen.get(outcome, 0) + 1

    run()


def test_mutated_demo_wavs_never_crash_the_decoder(tmp_path):
    seen: dict[str, int] = {}
    _fuzz(tmp_path, NORMAL_EXAMPLES, seen)
    assert sum(seen.values()) >= NORMAL_EXAMPLES
    print(f"fuzz outcomes: {seen}")
    assert "ok" in seen and len(seen) >= 3  # the mutations reach both good results and several named errors


def test_the_unmutated_bases_decode(tmp_path):
    for name, data in BASES.items():
        assert check_one(tmp_path / f"{name}.wav", data) == "ok"


@pytest.mark.fuzz_long
def test_long_fuzz_run(tmp_path, request):
    if "fuzz_long" not in (request.config.getoption("markexpr") or ""):
        pytest.skip("the long fuzz run: pytest -m fuzz_long")
    seen: dict[str, int] = {}
    _fuzz(tmp_path, LONG_EXAMPLES, seen)
    assert sum(seen.values()) >= LONG_EXAMPLES
