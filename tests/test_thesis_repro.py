"""The thesis's numbers, reproduced through the Python API and the real command line."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from conftest import CEILING_S
from engine.analysis.cluster import cluster, cluster_preset
from engine.analysis.sweep import choose_k
from engine.config import THESIS_FEATURES
from engine.analysis.project import project

ROOT = Path(__file__).resolve().parents[1]
SIZES = [331, 327, 81, 66]


def test_thesis_preset_is_the_thesis_recipe():
    config = cluster_preset("thesis")
    assert config.features == THESIS_FEATURES and len(config.features) == 17
    assert (config.scaler, config.dedupe, config.method, config.k, config.seed, config.n_init) == ("l2-column", True, "kmeans", 4, 42, 10)


def test_thesis_numbers_via_python(data_dir):
    result = cluster(data_dir / "out_dataset_1.csv", config=cluster_preset("thesis"))
    assert len(result) == 805 and result.data.n_duplicates == 19
    assert round(result.silhouette, 4) == 0.1783
    assert list(result.sizes) == SIZES
    pca = project(result, method="pca")
    assert [round(v, 4) for v in pca.explained_variance_ratio] == [0.4894, 0.1287]
    # the same run twice is the same run
    again = cluster(data_dir / "out_dataset_1.csv", config=cluster_preset("thesis"))
    np.testing.assert_array_equal(again.labels, result.labels)


def test_thesis_silhouette_by_k(data_dir):
    sweep = choose_k(data_dir / "out_dataset_1.csv", config=cluster_preset("thesis"), k_range=(2, 4), n_bootstrap=0)
    assert [round(v, 3) for v in sweep.silhouette] == [0.224, 0.210, 0.178]
    assert np.isnan(sweep.stability).all()


def test_thesis_numbers_via_the_command_line(data_dir):
    proc = subprocess.run(
        [sys.executable, "-m", "engine", "cluster", str(data_dir / "out_dataset_1.csv"), "--preset", "thesis", "--json"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=CEILING_S,
    )
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout)
    assert round(out["silhouette"], 4) == 0.1783
    assert [round(v, 4) for v in out["pca_explained_variance_ratio"]] == [0.4894, 0.1287]
    assert out["sizes"] == SIZES
    assert out["n_rows"] == 805
    # the settings alone give the settings digest; the clustering's digest also covers its data
    assert out["settings_digest"] == cluster_preset("thesis").digest()
    assert out["config_digest"] != out["settings_digest"] and len(out["config_digest"]) == len(out["settings_digest"])


@pytest.mark.parametrize("args, code, message", [(["--metric", "manhattan"], 2, "does not support the 'manhattan'"), (["--k", "900"], 2, "k must be in 2..100")])
def test_command_line_errors_are_one_line(data_dir, args, code, message):
    proc = subprocess.run(
        [sys.executable, "-m", "engine", "cluster", str(data_dir / "out_dataset_1.csv"), *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=CEILING_S,
    )
    assert proc.returncode == code
    assert message in proc.stderr
    assert "Traceback" not in proc.stderr and len(proc.stderr.strip().splitlines()) == 1
