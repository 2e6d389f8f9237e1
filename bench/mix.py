"""Tempo + key + energy from stored frames: seconds of audio per second of compute.

Analyses the demo library into a fresh store (decode + frame features, not
timed here), then times, side by side:

* the first ``describe_store`` (every track's and section's tempo, beats,
  key and energy computed from the stored frames and written to the store),
  repeated on fresh descriptor folders, the median reported;
* the same call answered from the store's cache;
* one "mixes well with" query and one 5-step mix path over the library;
* one transition preview (decode of two tracks + Rubber Band stretch + crossfade).

Usage: python bench/mix.py
"""

from __future__ import annotations

import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from engine.config import MixConfig  # noqa: E402
from engine.mixing.descriptors import describe_store  # noqa: E402
from engine.mixing.path import mix_path  # noqa: E402
from engine.mixing.suggestions import suggest  # noqa: E402
from engine.run.inputs import collect_inputs  # noqa: E402
from engine.run.pipeline import DEMO_DIR, analyze  # noqa: E402
from engine.store.core import Store  # noqa: E402
from engine.mixing.transition import transition_from_store  # noqa: E402


def _timed(fn, repeat: int = 1):
    times, out = [], None
    for _ in range(repeat):
        t0 = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t0)
    return out, statistics.median(times)


def main() -> None:
    inputs, _ = collect_inputs([DEMO_DIR])
    with tempfile.TemporaryDirectory() as tmp:
        store = Store(Path(tmp) / "store")
        result = analyze(inputs, store=store)
        audio_s = sum(t.duration_s for t in result.tracks)
        describe_store(store, config=MixConfig(bpm_min=80.0, bpm_max=170.0))  # warm-up: imports and numba compilation

        def fresh():
            shutil.rmtree(store.root / "descriptors", ignore_errors=True)
            return describe_store(store)

        table, fresh_s = _timed(fresh, repeat=3)
        _, cached_s = _timed(lambda: describe_store(store), repeat=3)
        row = int(table.descriptors.index[table.descriptors["name"] == "sixtyfour_.ogg"][3])
        _, suggest_s = _timed(lambda: suggest(table, row=row, k=10), repeat=3)
        end = int(table.descriptors.index[table.descriptors["name"] == "sixtyfour_revisited.ogg"][5])
        loose = MixConfig(require_compatible=False)  # the demo has few key-compatible bridges; time the search itself
        _, path_s = _timed(lambda: mix_path(table, start=row, end=end, steps=5, config=loose), repeat=3)
        tr, preview_s = _timed(lambda: transition_from_store(store, table, row_a=row, row_b=end), repeat=1)

    print(f"demo library        {len(result.tracks)} tracks, {len(table)} sections, {audio_s:.1f} s of audio")
    print(f"tempo+key+energy    {fresh_s:7.3f} s   {audio_s / fresh_s:8.0f}x real time (from stored frames, median of 3)")
    print(f"  from the cache    {cached_s:7.3f} s   {audio_s / cached_s:8.0f}x real time   ({fresh_s / cached_s:.0f}x faster)")
    print(f"suggest (k=10)      {suggest_s * 1000:7.1f} ms over {len(table)} sections")
    print(f"mix path (5 steps)  {path_s * 1000:7.1f} ms (graph of every section, compatibility not required)")
    print(f"transition preview  {preview_s:7.3f} s for {tr.duration_s:.1f} s of audio ({tr.stretcher}, decode of two tracks included)")


if __name__ == "__main__":
    main()
