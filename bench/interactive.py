"""How fast does re-clustering feel? Median times of cluster() + PCA, as the app's sliders call them.

Two workloads:

* 20,000 rows x 128 dimensions (a library of CNN embeddings; synthetic,
  seeded: a mixture of 20 anisotropic Gaussians), K-Means k = 4, 8, 12;
* the thesis's 1,414 sections x its 17 features (real data), K-Means k = 4, 8, 12.

Each is timed for the default ``n_init=10`` and for the interactive
settings recommended while a slider moves (``n_init=1``; for the large
table also ``fit_sample=5000``: fit on 5,000 seeded rows, assign every row);
release the slider and re-run with the defaults for the result you keep.
The data is prepared (scaled) once, as the app caches it; every timing
includes K-Means, the canonical relabelling, silhouette (sampled above
``silhouette_sample`` rows), Davies-Bouldin, Calinski-Harabasz and a 2-D PCA.

Aim: under 300 ms for the first workload, under 50 ms for the second.

Usage::

    python bench/interactive.py [--repeats 7]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from engine.analysis.cluster import cluster  # noqa: E402
from engine.config import THESIS_FEATURES, ClusterConfig  # noqa: E402
from engine.analysis.scale import prepare  # noqa: E402
from engine.analysis.project import project  # noqa: E402
from engine.store.tables import load_table, table_from_frame  # noqa: E402

AIMS_MS = {"20000x128": 300.0, "1414x17": 50.0}


def _embeddings(n: int = 20_000, d: int = 128, components: int = 20, seed: int = 0):
    import pandas as pd

    rng = np.random.default_rng(seed)
    centres = rng.normal(scale=3.0, size=(components, d))
    which = rng.integers(0, components, size=n)
    scales = rng.uniform(0.5, 2.0, size=(components, d))
    values = centres[which] + rng.normal(size=(n, d)) * scales[which]
    frame = pd.DataFrame(values, columns=[f"e{i}" for i in range(d)])
    frame.insert(0, "part", np.arange(n) % 20)
    frame.insert(0, "filename", [f"track{i // 20:04d}.ogg" for i in range(n)])
    return table_from_frame(frame, section_seconds=15.0)


def _time(prepared, config: ClusterConfig, repeats: int) -> tuple[float, float]:
    times = []
    for _ in range(repeats + 1):  # the first run warms caches and is dropped
        t0 = time.perf_counter()
        result = cluster(prepared, config=config)
        project(result, method="pca")
        times.append(time.perf_counter() - t0)
    times = times[1:]
    return statistics.median(times) * 1000, min(times) * 1000


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=7)
    args = parser.parse_args(argv)
    print(f"cores: {os.cpu_count()}  numpy {np.__version__}")
    workloads = [
        ("20000x128", _embeddings(), (), [("default n_init=10", {}), ("interactive n_init=1, fit_sample=5000", {"n_init": 1, "fit_sample": 5000})]),
        (
            "1414x17",
            load_table(ROOT / "tests" / "data" / "out_dataset.csv"),
            THESIS_FEATURES,
            [("default n_init=10", {}), ("interactive n_init=1", {"n_init": 1})],
        ),
    ]
    print(f"{'workload':<10} {'settings':<40} {'k':>3} {'median ms':>10} {'min ms':>8}  aim")
    worst: dict[str, float] = {}
    for name, table, features, settings in workloads:
        base = ClusterConfig(features=features, scaler="zscore", seed=42)
        prepared = prepare(table, config=base)
        for label, changes in settings:
            for k in (4, 8, 12):
                med, best = _time(prepared, base.replace(k=k, **changes), args.repeats)
                aim = AIMS_MS[name]
                if "interactive" in label:
                    worst[name] = max(worst.get(name, 0.0), med)
                print(f"{name:<10} {label:<40} {k:>3} {med:>10.1f} {best:>8.1f}  {'ok' if med < aim else 'OVER'} (<{aim:.0f})")
    for name, med in worst.items():
        print(f"interactive worst median {name}: {med:.1f} ms (aim < {AIMS_MS[name]:.0f} ms)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
