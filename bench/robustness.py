"""How many hostile inputs, fuzz cases and kill tests ran, and whether any lost data.

    .venv/bin/python bench/robustness.py [--fuzz 1000] [--kills 3]

Runs, outside pytest, the same checks as tests/test_hostile.py,
tests/test_fuzz_decode.py and tests/test_kill.py:

* every file of the hostile corpus (tests/hostile.py) decoded, its outcome
  compared with the expected one, its time and peak traced memory measured;
* ``--fuzz`` byte-mutated demo WAVs (seeded numpy mutations), each decoded:
  any exception other than a named DecodeError counts as a crash;
* ``--kills`` runs of ``python -m engine analyze`` SIGKILLed after the first
  finished track, each followed by checks of the store and a resuming rerun;
  and one SIGKILLed review writer, checked with SQLite's integrity_check.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

import numpy as np  # noqa: E402

from engine.config import AnalysisConfig  # noqa: E402
from engine.audio.decode import decode_file  # noqa: E402
from engine.errors import DecodeError  # noqa: E402
from engine.store.core import Store  # noqa: E402


def hostile(folder: Path) -> tuple[int, int]:
    from hostile import SR, build_corpus

    bad = 0
    items = build_corpus(folder)
    print(f"{'hostile file':26s} {'outcome':16s} {'ms':>8s} {'peak MB':>8s}")
    for h, path in items:
        tracemalloc.start()
        t0 = time.perf_counter()
        try:
            audio = decode_file(path, sample_rate=SR)
            outcome = "ok" if np.isfinite(audio.y).all() else "NON-FINITE RESULT"
        except DecodeError as exc:
            outcome = exc.reason
        except Exception as exc:  # what the tests forbid: counted, not raised
            outcome = f"CRASH {type(exc).__name__}"
        ms = 1000 * (time.perf_counter() - t0)
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        ok = outcome in h.expect
        bad += not ok
        print(f"{h.name:26s} {outcome:16s} {ms:8.1f} {peak / 2**20:8.1f}{'' if ok else '   UNEXPECTED'}")
    return len(items), bad


def fuzz(folder: Path, n: int) -> tuple[int, int, dict[str, int]]:
    from test_fuzz_decode import BASES, SR

    rng = np.random.default_rng(20241124)
    names = sorted(BASES)
    seen: dict[str, int] = {}
    crashes = 0
    path = folder / "fuzzed.wav"
    for _ in range(n):
        data = bytearray(BASES[names[rng.integers(len(names))]])
        for _ in range(rng.integers(1, 13)):
            pos = rng.integers(64) if rng.random() < 0.5 else rng.integers(len(data))
            data[pos] = rng.integers(256)
        if rng.random() < 0.3:
            data = data[: rng.integers(len(data) + 1)]
        path.write_bytes(bytes(data))
        try:
            audio = decode_file(path, sample_rate=SR)
            outcome = "ok" if np.isfinite(audio.y).all() else "crash"
        except DecodeError as exc:
            outcome = exc.reason
        except Exception:
            outcome = "crash"
        crashes += outcome == "crash"
        seen[outcome] = seen.get(outcome, 0) + 1
    return n, crashes, seen


def kills(folder: Path, n: int) -> tuple[int, int]:
    import test_kill as tk

    crate = tk.write_crate(folder / "crate")
    lost = 0
    config = AnalysisConfig()
    for i in range(n):
        store_dir = folder / f"store{i}"
        jobs = 1 + i % 2
        finished = tk.kill_after_first_track(crate, store_dir, jobs=jobs)
        store = Store(store_dir)
        intact = all(store.get_frames(t, config.frames.digest()).values.size for t in finished)
        readable = set(store.load_sections(config).meta["track_id"]) >= finished
        rerun = subprocess.run(tk._cli(crate, "--out", store_dir), cwd=ROOT, env=tk._env(), capture_output=True, text=True)
        resumed = f"({len(finished)} already in the store)" in rerun.stdout and rerun.returncode == 0
        ok = intact and readable and resumed
        lost += not ok
        print(f"kill {i + 1} (jobs={jobs}): {len(finished)} finished track(s) kept={intact}, store reads={readable}, rerun resumed={resumed}")
    try:
        tk.test_sigkill_of_a_review_writer_loses_at_most_the_judgement_being_written(folder)
        print("kill review writer: integrity ok, every committed judgement kept")
    except AssertionError as exc:
        lost += 1
        print(f"kill review writer: LOST DATA ({exc})")
    return n + 1, lost


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--fuzz", type=int, default=1000, help="fuzz cases (default 1000)")
    ap.add_argument("--kills", type=int, default=3, help="SIGKILLed analysis runs (default 3)")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="cratemap-robust-") as tmp:
        tmp = Path(tmp)
        (tmp / "h").mkdir()
        (tmp / "f").mkdir()
        (tmp / "k").mkdir()
        t0 = time.perf_counter()
        n_hostile, bad_hostile = hostile(tmp / "h")
        n_fuzz, crashes, seen = fuzz(tmp / "f", args.fuzz)
        n_kills, lost = kills(tmp / "k", args.kills)
        print()
        print(f"hostile inputs  {n_hostile} decoded, {bad_hostile} unexpected outcomes")
        print(f"fuzz cases      {n_fuzz} decoded, {crashes} crashes; outcomes {dict(sorted(seen.items()))}")
        print(f"kill tests      {n_kills} processes SIGKILLed mid-write, {lost} lost data")
        print(f"total           {time.perf_counter() - t0:.0f} s")
    return 0 if not (bad_hostile or crashes or lost) else 1


if __name__ == "__main__":
    raise SystemExit(main())
