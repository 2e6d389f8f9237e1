"""Does the analysis stay interactive at 100,000 sections? Cluster + one similar-section query + PCA, by size.

Data: synthetic libraries grown from real sections. The thesis table
(``tests/data/out_dataset.csv``: 1,414 real sections x 27 features) is
z-scored; each synthetic row is a seeded draw of a real row plus a little
jitter (0.1 sd), widened to ``dim`` columns by one fixed seeded random linear
map, plus noise (0.2 sd) -- so the rows keep the real sections' structure
(intrinsic dimension 27) at the width of a CNN embedding. Tracks of 20
sections each.

Measured, for each size, in one fresh process per size (so the peak memory
is that size's own):

* ``cluster`` -- :func:`engine.analysis.cluster.cluster` with the default config
  (K-Means, k=4, n_init=10, zscore; the data prepared inside): from 50,000
  rows (``LARGE_ROWS``) it runs as MiniBatchKMeans;
* ``index`` -- preparing the rows and building :class:`engine.analysis.similar.SectionIndex`
  (cosine, the app's default): from 50,000 rows a faiss IVF-Flat index;
* ``query`` -- one similar-section query (10 neighbours, other tracks only),
  and the mean of 100 more (``query100``), whose recall@10 against exact
  search is reported (not timed);
* ``pca`` -- :func:`engine.analysis.project.project` of the clustering to 2-D: from
  50,000 rows fitted on a 20,000-row seeded sample.

Peak memory is the process's ``ru_maxrss`` (its whole high-water mark:
Python, the libraries, the data and the work), read in the child process
after the run -- chosen over tracemalloc, which sees only allocations made
through Python's allocator hooks (numpy's are, BLAS and OpenMP workspaces and
faiss's are not). At the largest size the same is measured with the switch
off (``large_rows=0``: K-Means with 10 starts, exact search, full PCA) as
the baseline, side by side.

Aim (issue #7): cluster + index + query + PCA under 10 s and under 4 GB at
100,000 x 128, growth close to linear (a log-log slope near 1).

Usage::

    python bench/scale_synthetic.py [--sizes 10000 30000 100000] [--dim 128] [--seed 0]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

#: The aim at 100,000 x 128: seconds (cluster + index + query + PCA) and peak GB.
AIM_S = 10.0
AIM_GB = 4.0
AIM_N = 100_000  # rows the aim is stated for; also where the switch-off baseline runs
#: 10k/30k/100k as the issue asks, plus 50k and 200k so the growth above the threshold has three points.
DEFAULT_SIZES = (10_000, 30_000, 50_000, 100_000, 200_000)
SECTIONS_PER_TRACK = 20
STEPS = ("cluster", "index", "query", "pca")


def synthetic_table(n: int, *, dim: int = 128, seed: int = 0):
    """A section table of ``n`` rows x ``dim`` features grown from the thesis's real sections (see the module docstring)."""
    import pandas as pd

    from engine.store.tables import load_table, table_from_frame

    real = load_table(ROOT / "tests" / "data" / "out_dataset.csv").values
    real = (real - real.mean(axis=0)) / real.std(axis=0)
    rng = np.random.default_rng(seed)
    widen = rng.normal(size=(real.shape[1], dim)) / np.sqrt(real.shape[1])  # fixed: drawn first from the seed
    base = real[rng.integers(0, len(real), size=n)] + 0.1 * rng.normal(size=(n, real.shape[1]))
    values = base @ widen + 0.2 * rng.normal(size=(n, dim))
    frame = pd.DataFrame(values, columns=[f"d{i:03d}" for i in range(dim)])
    frame.insert(0, "part", np.arange(n) % SECTIONS_PER_TRACK)
    frame.insert(0, "filename", [f"synthetic{i // SECTIONS_PER_TRACK:05d}.wav" for i in range(n)])
    return table_from_frame(frame, section_seconds=15.0)


def measure_one(n: int, *, dim: int, seed: int, large_rows: int | None) -> dict:
    """Time the four steps on one synthetic library in this process; peak memory is this process's."""
    from engine.analysis.cluster import cluster
    from engine.config import ClusterConfig
    from engine.analysis.scale import prepare
    from engine.analysis.project import project
    from engine.analysis.similar import SectionIndex

    table = synthetic_table(n, dim=dim, seed=seed)
    rss_data = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e6
    config = ClusterConfig() if large_rows is None else ClusterConfig(large_rows=large_rows)
    out: dict = {"n": n, "dim": dim, "large_rows": config.large_rows}

    t0 = time.perf_counter()
    result = cluster(table, config=config)
    out["cluster"] = time.perf_counter() - t0
    out["cluster_note"] = "; ".join(result.scale_notes) or "K-Means (exact)"

    t0 = time.perf_counter()
    used = config.replace(dedupe=False, metric="cosine")
    index = SectionIndex(prepare(table, config=used), metric="cosine", config_digest=used.digest(), large_rows=config.large_rows, seed=config.seed)
    out["index"] = time.perf_counter() - t0
    out["index_note"] = index.index

    rows = np.random.default_rng(seed + 1).choice(n, size=101, replace=False)
    t0 = time.perf_counter()
    index.query(int(rows[0]), k=10, other_tracks=True)
    out["query"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    for r in rows[1:]:
        index.query(int(r), k=10, other_tracks=True)
    out["query100"] = (time.perf_counter() - t0) / 100

    t0 = time.perf_counter()
    proj = project(result, method="pca")
    out["pca"] = time.perf_counter() - t0
    out["pca_note"] = proj.sample_note or "PCA on every row"

    out["total"] = sum(out[s] for s in STEPS)
    out["recall10"] = _recall(index, rows[1:]) if index.index != "exact" else 1.0
    out["rss_data_gb"] = rss_data
    out["peak_gb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e6  # kB on Linux
    out["silhouette"] = float(result.silhouette)
    return out


def _recall(index, rows) -> float:
    """recall@10 (other tracks only) of ``index`` against exact search, on ``rows`` (not timed)."""
    from engine.analysis.similar import SectionIndex

    exact = SectionIndex(index.prepared, metric=index.metric, large_rows=0)
    hits = 0
    for r in rows:
        got = index.query(int(r), k=10, other_tracks=True).rows
        want = exact.query(int(r), k=10, other_tracks=True).rows
        hits += len(set(got.tolist()) & set(want.tolist()))
    return hits / (10 * len(rows))


def _child(n: int, dim: int, seed: int, large_rows: int | None) -> dict:
    cmd = [sys.executable, str(Path(__file__).resolve()), "--one", str(n), "--dim", str(dim), "--seed", str(seed)]
    if large_rows is not None:
        cmd += ["--large-rows", str(large_rows)]
    done = subprocess.run(cmd, capture_output=True, text=True, check=False, cwd=ROOT)
    if done.returncode != 0:
        raise RuntimeError(f"the run at {n} rows failed:\n{done.stderr[-2000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def run_synthetic(sizes=DEFAULT_SIZES, dim=128, seed=0) -> list[dict]:
    """Measure cluster, index build, one query and PCA at each size (one process each), plus the baseline at the largest.

    Parameters
    ----------
    sizes : sequence of int
        Library sizes (rows); :data:`AIM_N` (else the largest) is also measured with ``large_rows=0``.
    dim : int
        Features per row.
    seed : int
        Seeds the synthetic library and the query rows.

    Returns
    -------
    list of dict
        One per run: ``n``, ``large_rows``, seconds for ``cluster``, ``index``,
        ``query`` (first), ``query100`` (mean of 100 more), ``pca`` and
        ``total``; ``peak_gb``; the notes saying which method ran. The
        baseline run comes last with ``baseline: True``.
    """
    runs = []
    for n in sorted(sizes):
        run = _child(int(n), dim, seed, None)
        run["baseline"] = False
        runs.append(run)
    base = _child(int(AIM_N if AIM_N in sizes else max(sizes)), dim, seed, 0)
    base["baseline"] = True
    runs.append(base)
    return runs


def _slope(ns, ts) -> float:
    return float(np.polyfit(np.log(ns), np.log(np.maximum(ts, 1e-6)), 1)[0])


def report(runs: list[dict]) -> str:
    """The table, growth exponents, the aim and the baseline ratios, as text."""
    lines = []
    head = f"{'rows':>8} {'switch':>8} {'cluster s':>10} {'index s':>8} {'query ms':>9} {'q100 ms':>8} {'pca s':>7} {'total s':>8} {'peak GB':>8}"
    lines += [head, "-" * len(head)]
    for r in runs:
        switch = "off" if r["baseline"] else f"{r['large_rows']:,}"
        lines.append(
            f"{r['n']:>8,} {switch:>8} {r['cluster']:>10.2f} {r['index']:>8.2f} {r['query'] * 1000:>9.1f} "
            f"{r['query100'] * 1000:>8.2f} {r['pca']:>7.2f} {r['total']:>8.2f} {r['peak_gb']:>8.2f}"
        )
    scaled = [r for r in runs if not r["baseline"]]
    ns = [r["n"] for r in scaled]
    lines.append("")
    if len(ns) >= 2:
        parts = ", ".join(f"{s} {_slope(ns, [r[s] for r in scaled]):.2f}" for s in (*STEPS, "total"))
        lines.append(f"growth exponent (slope of log time on log rows, {ns[0]:,}..{ns[-1]:,}): {parts}")
        for label, part in (
            ("below the threshold only", [r for r in scaled if r["n"] < r["large_rows"]]),
            ("at or above it only", [r for r in scaled if r["n"] >= r["large_rows"]]),
        ):
            if len(part) >= 2:
                pn = [r["n"] for r in part]
                slopes = ", ".join(f"{s} {_slope(pn, [r[s] for r in part]):.2f}" for s in (*STEPS, "total"))
                lines.append(f"  {label} ({pn[0]:,}..{pn[-1]:,}): {slopes}")
    big = next((r for r in scaled if r["n"] == AIM_N), scaled[-1])
    held_s, held_gb = big["total"] < AIM_S, big["peak_gb"] < AIM_GB
    lines.append(
        f"aim at {big['n']:,} x {big['dim']}: total {big['total']:.2f} s (< {AIM_S:.0f} s: {'held' if held_s else 'MISSED'}), "
        f"peak {big['peak_gb']:.2f} GB (< {AIM_GB:.0f} GB: {'held' if held_gb else 'MISSED'})"
    )
    base = next((r for r in runs if r["baseline"]), None)
    if base is not None:
        lines.append(f"baseline at {base['n']:,} with the switch off (large_rows=0), baseline / scalable:")
        for s in (*STEPS, "query100", "total"):
            lines.append(f"  {s:<9} {base[s]:>8.3f} s / {big[s]:>8.3f} s = {base[s] / max(big[s], 1e-9):6.2f}x")
        lines.append(f"  peak      {base['peak_gb']:>8.2f} GB / {big['peak_gb']:>6.2f} GB")
        gain = base["query100"] - big["query100"]
        if gain > 0:
            lines.append(f"  the index build pays for itself after ~{(big['index'] - base['index']) / gain:.0f} queries")
    lines.append("")
    lines.append(f"methods at {big['n']:,}: cluster: {big['cluster_note']}")
    lines.append(f"  index: {big['index_note']}; recall@10 on 100 other queries (other tracks only) {big['recall10']:.3f}")
    lines.append(f"  pca: {big['pca_note']}")
    return "\n".join(lines)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=list(DEFAULT_SIZES))
    parser.add_argument("--dim", type=int, default=128)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--one", type=int, help=argparse.SUPPRESS)  # child process: one size, JSON out
    parser.add_argument("--large-rows", type=int, default=None, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.one:
        print(json.dumps(measure_one(args.one, dim=args.dim, seed=args.seed, large_rows=args.large_rows)))
        return 0
    import faiss

    print(f"cores: {os.cpu_count()}  numpy {np.__version__}  faiss {faiss.__version__}  sizes {args.sizes} x {args.dim}")
    runs = run_synthetic(sizes=tuple(args.sizes), dim=args.dim, seed=args.seed)
    print(report(runs))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
