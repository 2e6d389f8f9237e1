"""How fast the classical view redraws when k or the method changes (the app's "feels live" aim).

Runs the Classical features page headlessly (streamlit's AppTest) on the demo
library, changes k and the method several times, and prints the median full
page rerun beside the median of the engine calls behind it (clustering +
projection) timed in the same process, so the UI overhead is visible.

Usage: python bench/app.py
"""

from __future__ import annotations

import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))
os.environ.setdefault("CRATEMAP_DATA", tempfile.mkdtemp(prefix="cratemap-bench-app-"))

from app_support import run_page  # noqa: E402

from engine.analysis.cluster import cluster  # noqa: E402
from engine.config import AnalysisConfig, ClusterConfig  # noqa: E402
from engine.analysis.project import project  # noqa: E402
from engine.store.core import Store  # noqa: E402


def main() -> None:
    at = run_page("pages/2_Classical_features.py")  # analyses the demo library once
    page_times = []
    for k in (5, 6, 3, 7, 4, 8):
        at.slider(key="_w_k").set_value(k)
        t0 = time.perf_counter()
        at.run()
        page_times.append(time.perf_counter() - t0)
    method_times = []
    for method in ("agglomerative", "kmeans", "hdbscan", "kmeans"):
        at.selectbox(key="_w_method").set_value(method)
        t0 = time.perf_counter()
        at.run()
        method_times.append(time.perf_counter() - t0)

    table = Store(Path(os.environ["CRATEMAP_DATA"]) / "store").load_sections(AnalysisConfig())
    engine_times = []
    for k in (5, 6, 3, 7, 4, 8):
        t0 = time.perf_counter()
        project(cluster(table, config=ClusterConfig(k=k)), method="pca")
        engine_times.append(time.perf_counter() - t0)
    print(f"demo library: {len(table)} sections")
    print(f"page rerun after changing k      : median {statistics.median(page_times) * 1000:6.0f} ms")
    print(f"page rerun after changing method : median {statistics.median(method_times) * 1000:6.0f} ms")
    print(f"engine only (K-Means + PCA)      : median {statistics.median(engine_times) * 1000:6.0f} ms")
    print(f"page / engine ratio              : {statistics.median(page_times) / statistics.median(engine_times):.1f}x")


if __name__ == "__main__":
    main()
