"""Projections: PCA, t-SNE, UMAP, with centroids in the same space as the points."""

from __future__ import annotations

import numpy as np
import pytest

from engine.analysis.cluster import cluster
from engine.config import ClusterConfig
from engine.errors import ParameterError
from engine.analysis.project import project
from test_cluster import blob_table


@pytest.fixture(scope="module")
def small_result():
    table, _ = blob_table(n=90, centers=3, d=6, seed=11, tracks=9)
    return cluster(table, config=ClusterConfig(k=3))


def test_pca_places_centroids_in_the_points_projection(small_result):
    proj = project(small_result, method="pca")
    assert proj.points.shape == (90, 2)
    assert proj.centroids.shape == (3, 2)
    assert proj.centroid_placement == "transform"
    assert len(proj.explained_variance_ratio) == 2
    assert proj.explained_variance_ratio[0] >= proj.explained_variance_ratio[1] > 0
    assert sum(proj.explained_variance_ratio) <= 1.0
    # Linear map: a centroid (member mean) lands on the mean of its members' points.
    for c in range(3):
        np.testing.assert_allclose(proj.centroids[c], proj.points[small_result.labels == c].mean(axis=0), atol=1e-10)
    assert proj.components.shape == (2, 6)
    assert proj.to_dict()["config_digest"] == small_result.config_digest


def test_pca_3d_and_bare_arrays(rng):
    X = rng.normal(size=(50, 4))
    proj = project(X, method="pca", n_components=3)
    assert proj.points.shape == (50, 3) and proj.centroids is None and proj.labels is None
    with pytest.raises(ParameterError, match="n_components must be 2 or 3"):
        project(X, n_components=4)
    with pytest.raises(ParameterError, match="unknown projection"):
        project(X, method="mds")
    with pytest.raises(ParameterError, match="2-D array"):
        project(np.zeros(5))
    X[3, 1] = np.nan
    with pytest.raises(ParameterError, match="NaN"):
        project(X)


def test_tsne_is_seeded_and_centroids_are_member_means(small_result):
    a = project(small_result, method="tsne", perplexity=10)
    b = project(small_result, method="tsne", perplexity=10)
    np.testing.assert_array_equal(a.points, b.points)
    assert a.centroid_placement == "member-mean"
    for c in range(3):
        np.testing.assert_allclose(a.centroids[c], a.points[small_result.labels == c].mean(axis=0))
    # the well-separated blobs stay separated: each point's nearest other point shares its label
    d = np.linalg.norm(a.points[:, None] - a.points[None], axis=2)
    np.fill_diagonal(d, np.inf)
    assert (small_result.labels[d.argmin(axis=1)] == small_result.labels).mean() > 0.95
    with pytest.raises(ParameterError, match="perplexity"):
        project(small_result, method="tsne", perplexity=90)


def test_umap_transforms_centroids(small_result):
    proj = project(small_result, method="umap", n_neighbors=10)
    assert proj.points.shape == (90, 2)
    assert proj.centroid_placement == "transform"
    assert proj.centroids.shape == (3, 2)
    # each centroid lands nearer its own members than any other cluster's
    for c in range(3):
        own = np.linalg.norm(proj.points[small_result.labels == c] - proj.centroids[c], axis=1).mean()
        other = np.linalg.norm(proj.points[small_result.labels != c] - proj.centroids[c], axis=1).mean()
        assert own < other
    again = project(small_result, method="umap", n_neighbors=10)
    np.testing.assert_allclose(again.points, proj.points)
    with pytest.raises(ParameterError, match="n_neighbors"):
        project(small_result, method="umap", n_neighbors=500)
