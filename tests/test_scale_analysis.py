"""At scale: the methods that switch on at ClusterConfig.large_rows (issue #7), against exact answers.

Synthetic libraries of seeded Gaussian blobs: one of 60,000 x 32 (over the
real default threshold of 50,000) and small ones with ``large_rows`` lowered
where a smaller table shows the same switch.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy.linalg import subspace_angles
from sklearn.datasets import make_blobs
from sklearn.metrics import adjusted_rand_score, pairwise_distances
from sklearn.neighbors import NearestNeighbors

from engine.analysis.cluster import LARGE_ROWS, cluster, summarize
from engine.analysis.methods import MINIBATCH_SIZE
from engine.analysis.sweep import choose_k
from engine.config import ClusterConfig, MixConfig
from engine.errors import ParameterError
from engine.mixing.descriptors import DESCRIPTOR_COLUMNS
from engine.mixing.path import _graph, mix_path
from engine.records import MixTable
from engine.analysis.scale import prepare
from engine.analysis.project import project
from engine.records import SectionTable
from engine.analysis.similar import RECALL_TARGET, SectionIndex, nearest_sections
from engine.store.tables import table_from_frame

SECTIONS_PER_TRACK = 20


def blobs(n: int, *, d: int = 32, centers: int = 6, std: float = 1.5, seed: int = 0):
    """A section table of ``n`` seeded blob rows (tracks of 20 sections) and the true blob of each row."""
    X, y = make_blobs(n_samples=n, centers=centers, n_features=d, cluster_std=std, random_state=seed, center_box=(-10, 10))
    frame = pd.DataFrame(X, columns=[f"f{i}" for i in range(d)])
    frame.insert(0, "part", np.arange(n) % SECTIONS_PER_TRACK)
    frame.insert(0, "filename", [f"track{i // SECTIONS_PER_TRACK:05d}.ogg" for i in range(n)])
    return table_from_frame(frame, section_seconds=15.0), y


@pytest.fixture(scope="module")
def big():
    """60,000 x 32: over the default threshold."""
    return blobs(60_000)


@pytest.fixture(scope="module")
def big_prepared(big):
    return prepare(big[0], config=ClusterConfig(dedupe=False))


@pytest.fixture(scope="module")
def small():
    """3,000 x 8, for the tests that lower the threshold."""
    return blobs(3_000, d=8, centers=4, std=1.0, seed=3)


# --------------------------------------------------------------------------- the threshold


def test_the_threshold_is_stated_validated_and_in_the_digest():
    assert LARGE_ROWS == 50_000 and ClusterConfig().large_rows == LARGE_ROWS
    assert ClusterConfig(large_rows=0).digest() != ClusterConfig().digest()
    assert ClusterConfig(large_rows=60_000).digest() != ClusterConfig().digest()
    assert ClusterConfig(scale_sample=500).digest() != ClusterConfig().digest()
    with pytest.raises(ParameterError, match="large_rows"):
        ClusterConfig(large_rows=10)
    with pytest.raises(ParameterError, match="scale_sample"):
        ClusterConfig(scale_sample=5)


# --------------------------------------------------------------------------- clustering


def test_kmeans_switches_to_minibatch_at_the_default_threshold(big):
    table, truth = big
    result = cluster(table, config=ClusterConfig(k=6))
    assert len(result) == 60_000
    assert len(result.scale_notes) == 1
    note = result.scale_notes[0]
    assert "MiniBatchKMeans" in note and f"batch {MINIBATCH_SIZE}" in note and "60,000 rows >= 50,000" in note
    assert result.metrics()["scale_notes"] == [note]
    assert adjusted_rand_score(truth, result.labels) > 0.95
    assert result.sizes == tuple(sorted(result.sizes, reverse=True))
    # summaries stay linear: typical sections are members, closest first
    summ = summarize(result)
    for s in summ:
        assert all(result.labels[r] == s.cluster for r in s.typical)
        assert list(s.typical_distance) == sorted(s.typical_distance)


def test_kmeans_below_the_threshold_is_plain_kmeans(big, small):
    table, truth = big
    exact = cluster(table, config=ClusterConfig(k=6, large_rows=0))
    assert exact.scale_notes == () and "scale_notes" not in exact.metrics()
    assert adjusted_rand_score(truth, exact.labels) > 0.95
    below = cluster(small[0], config=ClusterConfig(k=4))
    assert below.scale_notes == ()
    assert adjusted_rand_score(small[1], below.labels) > 0.95


def test_the_interactive_settings_keep_their_sampled_kmeans(big):
    # ui/controls.py above 5,000 rows: one start, fitted on 5,000 seeded rows, then every row assigned
    table, truth = big
    result = cluster(table, config=ClusterConfig(k=6, n_init=1, fit_sample=5_000))
    assert result.scale_notes == ()
    assert any("fitted on 5000 of 60000 rows" in w for w in result.warnings)
    assert adjusted_rand_score(truth, result.labels) > 0.95


def test_fcm_fits_a_sample_and_gives_every_row_memberships(small):
    table, truth = small
    config = ClusterConfig(method="fcm", k=4, fcm_m=1.5, large_rows=1_000, scale_sample=500)
    result = cluster(table, config=config)
    assert result.memberships.shape == (3_000, 4)
    np.testing.assert_allclose(result.memberships.sum(axis=1), 1.0)
    assert any("fuzzy c-means fitted on 500 of 3,000 rows" in n for n in result.scale_notes)
    assert adjusted_rand_score(truth, result.labels) > 0.95


def test_hdbscan_labels_the_rest_by_the_nearest_sampled_row(small):
    table, truth = small
    config = ClusterConfig(method="hdbscan", min_cluster_size=10, large_rows=1_000, scale_sample=600)
    result = cluster(table, config=config)
    assert any("hdbscan fitted on 600 of 3,000 rows" in n for n in result.scale_notes)
    assert result.labels.shape == (3_000,)
    # the sample is the seeded one; every other row carries the label of its nearest sampled row (noise too)
    sample = np.sort(np.random.default_rng(config.seed).choice(3_000, size=600, replace=False))
    rest = np.setdiff1d(np.arange(3_000), sample)
    X = result.data.X
    nearest = sample[pairwise_distances(X[rest], X[sample]).argmin(axis=1)]
    np.testing.assert_array_equal(result.labels[rest], result.labels[nearest])
    keep = result.labels >= 0
    assert keep.mean() > 0.8
    assert adjusted_rand_score(truth[keep], result.labels[keep]) > 0.9


def test_choose_k_says_how_large_inputs_were_fitted(small):
    sweep = choose_k(small[0], config=ClusterConfig(large_rows=1_000), k_range=(2, 5), n_bootstrap=2)
    assert sweep.suggested_k == 4
    assert any("MiniBatchKMeans" in n for n in sweep.scale_notes)
    assert choose_k(small[0], config=ClusterConfig(), k_range=(2, 3), n_bootstrap=0).scale_notes == ()


def test_choose_k_at_scale_scores_a_seeded_sample(big):
    table, _ = big
    sweep = choose_k(table, config=ClusterConfig(), k_range=(4, 7), n_bootstrap=0)
    assert sweep.suggested_k == 6  # the six blobs
    assert any("seeded sample of 20,000 of 60,000 rows" in n for n in sweep.scale_notes)
    again = choose_k(table, config=ClusterConfig(), k_range=(4, 7), n_bootstrap=0)
    np.testing.assert_array_equal(again.inertia, sweep.inertia)  # the same seeded sample


# --------------------------------------------------------------------------- similar sections


@pytest.mark.parametrize("metric", ["cosine", "euclidean", "correlation"])
def test_approximate_index_recall_and_exact_distances(big_prepared, metric):
    prep = big_prepared
    index = SectionIndex(prep, metric=metric)  # 60,000 rows: over the default threshold
    assert index.index.startswith("faiss IVF-Flat") and "60,000 rows >= 50,000" in index.index
    exact = NearestNeighbors(metric=metric, algorithm="brute").fit(prep.X)
    queries = np.random.default_rng(5).choice(len(prep), size=100, replace=False)
    _, truth = exact.kneighbors(prep.X[queries], n_neighbors=11)
    hits = 0
    for q, want in zip(queries, truth):
        nb = index.query(int(q), k=10)
        assert nb.index == index.index
        assert q not in nb.rows and len(nb) == 10
        hits += len(set(nb.rows.tolist()) & set(want[want != q][:10].tolist()))
        # the distances reported are the exact metric's, closest first
        np.testing.assert_allclose(nb.distances, np.maximum(pairwise_distances(prep.X[[q]], prep.X[nb.rows], metric=metric)[0], 0), atol=1e-10)
        assert np.all(np.diff(nb.distances) >= 0)
    recall = hits / 1000
    assert recall >= RECALL_TARGET, recall


def test_approximate_index_is_deterministic_and_excludes_the_query_track(big_prepared):
    prep = big_prepared
    a = SectionIndex(prep, metric="cosine", seed=7)
    b = SectionIndex(prep, metric="cosine", seed=7)
    assert a.index == b.index
    track = prep.meta["track_id"].to_numpy()
    for q in (0, 12_345, 59_999):
        na, nb = a.query(q, k=25, other_tracks=True), b.query(q, k=25, other_tracks=True)
        np.testing.assert_array_equal(na.rows, nb.rows)
        assert len(na) == 25
        assert not (track[na.rows] == track[q]).any()
        # against exact search with the same exclusion: nearly the same rows
        exact = SectionIndex(prep, metric="cosine", large_rows=0).query(q, k=25, other_tracks=True)
        assert exact.index == "exact"
        assert len(set(na.rows.tolist()) & set(exact.rows.tolist())) >= 0.9 * 25


def test_nearest_sections_builds_the_index_from_the_config_or_takes_a_ready_one(small):
    table, _ = small
    exact = nearest_sections(table, row=3, k=5, config=ClusterConfig())
    approx = nearest_sections(table, row=3, k=5, config=ClusterConfig(large_rows=1_000))
    assert exact.index == "exact" and approx.index.startswith("faiss IVF-Flat")
    np.testing.assert_array_equal(exact.rows, approx.rows)  # 3,000 blob rows: the index finds the same five
    np.testing.assert_allclose(exact.distances, approx.distances, atol=1e-12)
    assert exact.config_digest != approx.config_digest  # the threshold is part of the stamp
    prep = prepare(table, config=ClusterConfig(dedupe=False))
    ready = SectionIndex(prep, metric="euclidean", large_rows=1_000)  # the config's metric
    again = nearest_sections(ready, row=3, k=5)
    np.testing.assert_array_equal(again.rows, approx.rows)
    with pytest.raises(ParameterError, match="searches 'euclidean'"):
        nearest_sections(ready, row=3, metric="cosine")
    manhattan = SectionIndex(prep, metric="manhattan", large_rows=1_000)
    assert manhattan.index.startswith("exact (chunked brute force")


# --------------------------------------------------------------------------- projections


def test_sampled_pca_is_close_to_full_pca():
    # 60,000 x 32 rows driven by four latent factors of falling spread (a clear eigen-gap, as section
    # features have; the blobs' spectrum is nearly flat, so their second axis is not well defined)
    rng = np.random.default_rng(11)
    Z = rng.normal(size=(60_000, 4)) * [6.0, 3.0, 1.5, 1.0]
    X = Z @ rng.normal(size=(4, 32)) + rng.normal(size=(60_000, 32))
    full = project(X, method="pca", large_rows=0)
    sampled = project(X, method="pca")  # bare arrays use LARGE_ROWS
    assert full.sample_note == "" and full.fit_rows == full.n_rows == 60_000
    assert sampled.fit_rows == 20_000 and sampled.n_rows == 60_000
    assert "PCA fitted on 20,000 of 60,000 rows" in sampled.sample_note
    assert sampled.placed.all() and np.isfinite(sampled.points).all()
    np.testing.assert_allclose(sampled.explained_variance_ratio, full.explained_variance_ratio, atol=0.01)
    angles = subspace_angles(full.components.T, sampled.components.T)
    assert np.degrees(angles).max() < 2.0
    # the sampled axes keep (nearly) as much of the full data's spread as the full fit's
    centred = X - X.mean(axis=0)
    kept = ((centred @ sampled.components.T) ** 2).sum() / (centred**2).sum()
    assert kept > sum(full.explained_variance_ratio) - 0.002
    assert sampled.to_dict()["fit_rows"] == 20_000


def test_tsne_places_exactly_its_sample(small):
    table, _ = small
    result = cluster(table, config=ClusterConfig(k=4, large_rows=1_000))
    proj = project(result, method="tsne", perplexity=20, sample_rows=400)
    sample = np.sort(np.random.default_rng(result.seed).choice(3_000, size=400, replace=False))
    assert proj.placed.sum() == 400 and proj.placed[sample].all()
    assert np.isfinite(proj.points[proj.placed]).all() and np.isnan(proj.points[~proj.placed]).all()
    assert proj.fit_rows == 400 and "t-SNE placed 400 of 3,000 rows" in proj.sample_note
    assert np.isfinite(proj.centroids).all()
    for c in range(4):
        members = proj.placed & (result.labels == c)
        np.testing.assert_allclose(proj.centroids[c], proj.points[members].mean(axis=0))
    with pytest.raises(ParameterError, match="perplexity"):
        project(result, method="tsne", perplexity=500, sample_rows=400)


def test_small_projections_are_unchanged(small):
    table, _ = small
    result = cluster(table, config=ClusterConfig(k=4))
    proj = project(result, method="pca")
    assert proj.placed.all() and proj.fit_rows == proj.n_rows == 3_000 and proj.sample_note == ""


@pytest.mark.slow
def test_umap_fits_a_sample_and_places_every_row(small):
    table, _ = small
    result = cluster(table, config=ClusterConfig(k=4, large_rows=1_000))
    proj = project(result, method="umap", sample_rows=600)
    assert proj.placed.all() and np.isfinite(proj.points).all()
    assert proj.fit_rows == 600 and "UMAP fitted on 600 of 3,000 rows" in proj.sample_note
    # the rows placed by transform land beside their own cluster
    d = pairwise_distances(proj.points, proj.centroids)
    assert (d.argmin(axis=1) == result.labels).mean() > 0.9


# --------------------------------------------------------------------------- mix paths


def _mix_table(n: int, seed: int = 0) -> MixTable:
    rng = np.random.default_rng(seed)
    meta = pd.DataFrame(
        {
            "track_id": [f"t{i // 20}" for i in range(n)],
            "name": [f"t{i // 20}.wav" for i in range(n)],
            "section": np.arange(n) % 20,
            "start_s": 0.0,
            "end_s": 15.0,
            "partial": False,
            "selected": True,
        }
    )
    values = rng.normal(size=(40, 6))[rng.integers(0, 40, n)] * 2 + rng.normal(size=(n, 6))
    sections = SectionTable(meta=meta, values=values, names=tuple(f"f{i}" for i in range(6)), config_digest="t")
    desc = meta[["track_id", "name", "section", "start_s", "end_s"]].copy()
    for c in DESCRIPTOR_COLUMNS:
        desc[c] = 0
    desc["bpm"] = rng.choice([120.0, 124.0, 128.0], n)
    desc["camelot"] = [f"{c}A" for c in rng.integers(1, 4, n)]
    desc["energy_level"] = rng.integers(1, 11, n)
    return MixTable(sections=sections, descriptors=desc, tracks={}, config_digest="t")


def test_mix_graph_at_scale_comes_from_the_timbre_index():
    table = _mix_table(2_000)
    X = prepare(table.sections, config=ClusterConfig(dedupe=False)).X
    config = MixConfig(graph_neighbours=5)
    src, dst, cost, note = _graph(table, X, config, large_rows=1_000)
    assert "nearest sections by timbre" in note and "2,000 sections >= 1,000" in note
    assert np.bincount(src, minlength=2_000).max() <= 5
    assert not (src == dst).any()
    track = table.descriptors["track_id"].to_numpy()
    assert not (track[src] == track[dst]).any()  # other_tracks holds
    exact = _graph(table, X, config)
    assert exact[3] == ""
    # most edges of the index graph are edges of the exact graph too
    both = set(zip(src.tolist(), dst.tolist())) & set(zip(exact[0].tolist(), exact[1].tolist()))
    assert len(both) >= 0.5 * len(src)
    # a section three edges away in the index graph is reachable in three steps
    loose = config.replace(require_compatible=False)
    src, dst, _, _ = _graph(table, X, loose, large_rows=1_000)
    walk = [0]
    for _ in range(3):
        walk.append(int(next(d for d in dst[src == walk[-1]] if d not in walk)))
    path = mix_path(table, start=0, end=walk[-1], steps=3, config=loose, large_rows=1_000)
    assert "nearest sections by timbre" in path.note and len(path) == 4
    assert path.rows[0] == 0 and path.rows[-1] == walk[-1]
