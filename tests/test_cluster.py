"""Clustering methods and metrics, choosing k, summaries."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.datasets import make_blobs
from sklearn.metrics import adjusted_rand_score

from engine.analysis.cluster import cluster, summarize
from engine.analysis.sweep import choose_k, find_knee
from engine.config import ClusterConfig
from engine.errors import ParameterError
from engine.analysis.scale import prepare
from engine.store.tables import table_from_frame


def blob_table(n: int = 240, centers: int = 4, d: int = 5, std: float = 0.6, seed: int = 7, tracks: int = 12):
    X, y = make_blobs(n_samples=n, centers=centers, n_features=d, cluster_std=std, random_state=seed, center_box=(-10, 10))
    frame = pd.DataFrame(X, columns=[f"f{i}" for i in range(d)])
    frame.insert(0, "part", [i // tracks for i in range(n)])
    frame.insert(0, "filename", [f"track{i % tracks:02d}.ogg" for i in range(n)])
    return table_from_frame(frame, section_seconds=15.0), y


@pytest.fixture(scope="module")
def blobs():
    return blob_table()


@pytest.mark.parametrize(
    "method, metric",
    [
        ("kmeans", "euclidean"),
        ("kmeans", "cosine"),
        ("fcm", "euclidean"),
        ("agglomerative", "euclidean"),
        ("agglomerative", "manhattan"),
        ("agglomerative", "cosine"),
        ("agglomerative", "correlation"),
    ],
)
def test_methods_recover_well_separated_blobs(blobs, method, metric):
    table, truth = blobs
    config = ClusterConfig(method=method, metric=metric, k=4, linkage="average", fcm_m=1.5)
    result = cluster(table, config=config)
    assert result.k == 4
    assert result.labels.shape == (240,)
    if metric in ("euclidean", "manhattan"):
        assert adjusted_rand_score(truth, result.labels) > 0.95
    assert result.sizes == tuple(sorted(result.sizes, reverse=True))  # canonical: largest first
    assert sum(result.sizes) == 240
    assert result.centroids.shape == result.centroids_original.shape == (4, 5)
    assert -1 <= result.silhouette <= 1
    assert result.settings_digest == config.digest()
    assert result.config_digest != config.digest()  # it covers the data too


def test_metric_used_is_recorded_honestly(blobs):
    table, _ = blobs
    assert cluster(table, config=ClusterConfig(metric="cosine")).metric_used == "spherical-cosine"
    assert cluster(table, config=ClusterConfig(metric="correlation")).metric_used == "spherical-correlation"
    assert cluster(table, config=ClusterConfig(method="agglomerative", metric="cosine")).metric_used == "cosine"
    with pytest.raises(ParameterError, match="kmeans does not support the 'manhattan' metric"):
        cluster(table, config=ClusterConfig(metric="manhattan"))
    with pytest.raises(ParameterError, match="fcm does not support"):
        cluster(table, config=ClusterConfig(method="fcm", metric="manhattan"))
    with pytest.raises(ParameterError, match="ward linkage needs the euclidean"):
        cluster(table, config=ClusterConfig(method="agglomerative", linkage="ward", metric="cosine"))


def test_spherical_kmeans_clusters_by_direction_not_length(rng):
    # Three directions, each row scaled by a random length: cosine groups by direction.
    dirs = np.array([[1.0, 0.1, 0.0], [0.0, 1.0, 0.1], [0.1, 0.0, 1.0]])
    which = np.repeat(np.arange(3), 40)
    lengths = rng.uniform(0.2, 10.0, size=120)
    X = dirs[which] * lengths[:, None] + rng.normal(scale=0.02, size=(120, 3))
    frame = pd.DataFrame(X, columns=["a", "b", "c"])
    frame.insert(0, "part", np.arange(120))
    frame.insert(0, "filename", "x.wav")
    table = table_from_frame(frame)
    # minmax keeps every value positive, so the directions survive scaling
    cos = cluster(table, config=ClusterConfig(k=3, metric="cosine", scaler="minmax"))
    euc = cluster(table, config=ClusterConfig(k=3, metric="euclidean", scaler="minmax"))
    assert adjusted_rand_score(which, cos.labels) > 0.95
    assert adjusted_rand_score(which, euc.labels) < adjusted_rand_score(which, cos.labels)


def test_fuzzy_cmeans_memberships_and_boundary(blobs):
    table, truth = blobs
    config = ClusterConfig(method="fcm", k=4, fcm_m=1.5, fcm_margin=0.2)
    result = cluster(table, config=config)
    u = result.memberships
    assert u.shape == (240, 4)
    np.testing.assert_allclose(u.sum(axis=1), 1.0)
    assert 0.25 <= result.fpc <= 1.0
    assert result.fpc > 0.8  # well separated: crisp memberships
    top2 = np.sort(u, axis=1)[:, -2:]
    np.testing.assert_array_equal(result.boundary, (top2[:, 1] - top2[:, 0]) < 0.2)
    np.testing.assert_array_equal(result.labels, u.argmax(axis=1))  # columns follow the canonical ids
    assert adjusted_rand_score(truth, result.labels) > 0.95
    frame = result.assignments()
    assert {"cluster", "membership_0", "membership_3", "boundary"} <= set(frame.columns)


def test_fcm_collapse_is_flagged(rng):
    # Structureless noise in many dimensions with a high fuzziness: all memberships ~ 1/k.
    frame = pd.DataFrame(rng.normal(size=(150, 40)), columns=[f"f{i}" for i in range(40)])
    frame.insert(0, "part", np.arange(150))
    frame.insert(0, "filename", "noise.wav")
    result = cluster(table_from_frame(frame), config=ClusterConfig(method="fcm", k=4, fcm_m=2.5))
    assert any("collapsed" in w for w in result.warnings)
    assert result.boundary.all()


def test_hdbscan_finds_the_number_of_clusters(blobs, rng):
    table, truth = blobs
    result = cluster(table, config=ClusterConfig(method="hdbscan", k=9, min_cluster_size=10))
    assert result.k == 4  # k=9 ignored
    keep = result.labels >= 0
    assert keep.mean() > 0.8
    assert adjusted_rand_score(truth[keep], result.labels[keep]) > 0.95
    assert result.n_noise == int((~keep).sum())
    assert sum(result.sizes) + result.n_noise == 240


def test_bad_k_and_bad_input(blobs, rng):
    table, _ = blobs
    small = table_from_frame(pd.DataFrame({"filename": ["a"] * 5, "part": range(5), "x": rng.normal(size=5), "y": rng.normal(size=5)}))
    with pytest.raises(ParameterError, match=r"k=5 must be smaller than the number of rows \(5\)"):
        cluster(small, config=ClusterConfig(k=5))
    with pytest.raises(ParameterError, match="k must be in 2..100"):
        ClusterConfig(k=1)
    with pytest.raises(ParameterError, match="config must be a ClusterConfig"):
        cluster(table, config={"k": 3})
    prep = prepare(table, config=ClusterConfig(scaler="minmax"))
    with pytest.raises(ParameterError, match="scaled with 'minmax'"):
        cluster(prep, config=ClusterConfig(scaler="zscore"))


def test_same_input_and_config_give_identical_results(blobs):
    table, _ = blobs
    for config in (ClusterConfig(k=5, n_init=3), ClusterConfig(method="fcm", k=3, n_init=2, fcm_m=1.6)):
        a, b = cluster(table, config=config), cluster(table, config=config)
        np.testing.assert_array_equal(a.labels, b.labels)
        np.testing.assert_array_equal(a.centroids, b.centroids)
        assert a.silhouette == b.silhouette
        if a.memberships is not None:
            np.testing.assert_array_equal(a.memberships, b.memberships)


def test_fit_sample_assigns_every_row(rng):
    table, truth = blob_table(n=600, seed=3)
    result = cluster(table, config=ClusterConfig(k=4, fit_sample=150))
    assert result.labels.shape == (600,) and (result.labels >= 0).all()
    assert adjusted_rand_score(truth, result.labels) > 0.95
    assert any("fitted on 150 of 600 rows" in w for w in result.warnings)


def test_summaries(blobs):
    table, _ = blobs
    result = cluster(table, config=ClusterConfig(k=4))
    summaries = summarize(result, n_examples=3)
    assert [s.cluster for s in summaries] == [0, 1, 2, 3]
    for s in summaries:
        members = np.flatnonzero(result.labels == s.cluster)
        assert s.size == len(members)
        assert sum(c for _, c in s.tracks) == s.size
        assert [c for _, c in s.tracks] == sorted((c for _, c in s.tracks), reverse=True)
        np.testing.assert_allclose(s.profile, result.data.raw[members].mean(axis=0))
        assert set(s.typical) <= set(members) and set(s.atypical) <= set(members)
        assert max(s.typical_distance) <= min(s.atypical_distance)
        d = np.linalg.norm(result.data.X[members] - result.centroids[s.cluster], axis=1)
        assert s.typical[0] == members[np.argmin(d)]
        assert s.atypical[0] == members[np.argmax(d)]
    with pytest.raises(ParameterError, match="n_examples"):
        summarize(result, n_examples=0)


def test_find_knee():
    ks = np.arange(2, 11)
    elbow = np.array([100.0, 40.0, 12.0, 10.0, 9.0, 8.0, 7.0, 6.0, 5.0])
    assert find_knee(ks, elbow) == 4
    assert find_knee(ks, np.linspace(10, 1, len(ks))) is None  # a straight line has no elbow
    assert find_knee(ks[:2], elbow[:2]) is None


def test_choose_k_finds_the_blobs(blobs):
    table, _ = blobs
    sweep = choose_k(table, config=ClusterConfig(n_init=2), k_range=(2, 7), n_bootstrap=3)
    frame = sweep.to_frame()
    assert list(frame["k"]) == [2, 3, 4, 5, 6, 7]
    assert sweep.suggested_k == 4
    assert sweep.knee == 4
    assert int(frame.loc[frame["silhouette"].idxmax(), "k"]) == 4
    assert int(frame.loc[frame["davies_bouldin"].idxmin(), "k"]) == 4
    assert frame.loc[frame["k"] == 4, "stability"].item() > 0.95
    assert np.all(np.diff(sweep.inertia) < 0)
    assert "k=4" in sweep.reason
    again = choose_k(table, config=ClusterConfig(n_init=2), k_range=(2, 7), n_bootstrap=3)
    np.testing.assert_array_equal(again.stability, sweep.stability)


def test_choose_k_refuses_what_it_cannot_do(blobs):
    table, _ = blobs
    with pytest.raises(ParameterError, match="hdbscan chooses the number of clusters itself"):
        choose_k(table, config=ClusterConfig(method="hdbscan"))
    with pytest.raises(ParameterError, match="k range 2..400"):
        choose_k(table, k_range=(2, 400))
    with pytest.raises(ParameterError, match="n_bootstrap"):
        choose_k(table, n_bootstrap=-1)
