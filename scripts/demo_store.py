"""Rebuild ``demo/.store``: the demo library's analysis at the default settings, shipped with the app.

A fresh server (``make run``, Streamlit Community Cloud) seeds its store
from it (:func:`engine.store.seed.seed_store`), so every view of the demo,
the neural ones included, is ready on the first visit without analysing
28 minutes of audio or running the network. It holds the section rows,
musicnn embeddings and DJ descriptors at the default settings, and the
track records; not the frame tables (50 MB), so another section length
decodes the demo once as for any library.

Run it (``make demo-store``) after a change that alters stored results;
``tests/test_demo_store.py`` fails while the shipped files differ from what
the engine computes.

Usage: python scripts/demo_store.py [--jobs N]
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DEMO = ROOT / "demo"
TARGET = DEMO / ".store"
KEEP = ("cratemap-store.json", "tracks", "names", "sections", "pieces", "descriptors")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--jobs", type=int, default=2)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="cratemap-demo-store-") as tmp:
        store = Path(tmp) / "store"
        run = [sys.executable, "-m", "engine"]
        subprocess.run([*run, "analyze", str(DEMO), "--out", str(store), "--embedding", "musicnn", "--jobs", str(args.jobs), "--quiet"], check=True, cwd=ROOT)
        subprocess.run([*run, "describe", str(store)], check=True, cwd=ROOT, stdout=subprocess.DEVNULL)
        if TARGET.exists():
            shutil.rmtree(TARGET)
        TARGET.mkdir()
        for name in KEEP:
            src = store / name
            if src.is_dir():
                shutil.copytree(src, TARGET / name)
            elif src.is_file():
                shutil.copy2(src, TARGET / name)
    for record in (TARGET / "tracks").glob("*.json"):  # where this machine had the files means nothing elsewhere
        data = json.loads(record.read_text())
        data["path"] = ""
        record.write_text(json.dumps(data, indent=1, sort_keys=True) + "\n")
    size = sum(p.stat().st_size for p in TARGET.rglob("*") if p.is_file())
    print(f"wrote {TARGET.relative_to(ROOT)}: {sum(1 for p in TARGET.rglob('*') if p.is_file())} files, {size / 2**20:.2f} MB")


if __name__ == "__main__":
    main()
