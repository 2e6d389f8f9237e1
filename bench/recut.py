"""Moving the section-length slider: re-cut stored frames vs a full re-analysis.

Analyses the demo library into a fresh store with 15-s sections (the full
analysis, decode included), then asks for 10-s sections from the warm store
(aggregation from stored frames only), and prints both times side by side,
their ratio, and the store's size per hour of audio.

Usage: python bench/recut.py
"""

from __future__ import annotations

import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from engine.config import AnalysisConfig, SegmentConfig  # noqa: E402
from engine.run.inputs import collect_inputs  # noqa: E402
from engine.run.pipeline import DEMO_DIR, analyze  # noqa: E402
from engine.store.core import Store  # noqa: E402


def main() -> None:
    inputs, _ = collect_inputs([DEMO_DIR])
    base = AnalysisConfig()
    with tempfile.TemporaryDirectory() as tmp:
        store = Store(Path(tmp) / "store")
        t0 = time.perf_counter()
        full = analyze(inputs, store=store, config=base)
        full_s = time.perf_counter() - t0
        recut_times = []
        for seconds in (10.0, 12.0, 7.5):  # each a new section length: nothing cached for it yet
            config = base.replace(segment=SegmentConfig(section_seconds=seconds))
            t0 = time.perf_counter()
            result = analyze(inputs, store=store, config=config)
            recut_times.append(time.perf_counter() - t0)
            assert len(result.from_store) == len(full.tracks), "the re-cut decoded audio"
        frames_bytes = sum(p.stat().st_size for p in (store.root / "frames").rglob("*.parquet"))
        total_bytes = sum(p.stat().st_size for p in store.root.rglob("*") if p.is_file())
    hours = full.seconds_of_audio / 3600
    recut = statistics.median(recut_times)
    print(f"demo library: {len(full.tracks)} tracks, {full.seconds_of_audio / 60:.1f} min of audio")
    print(f"full analysis (decode + features, 15-s sections): {full_s:6.2f} s")
    print(f"re-cut from the warm store (median of 10, 12, 7.5 s): {recut:6.2f} s   (aim: under 2 s)")
    print(f"ratio full / re-cut: {full_s / recut:.1f}x")
    print(f"store size: {total_bytes / 2**20:.1f} MB ({frames_bytes / 2**20 / hours:.0f} MB of frames per hour of audio)")


if __name__ == "__main__":
    main()
