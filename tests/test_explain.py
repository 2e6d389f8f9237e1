"""SHAP explanations of a clustering through a surrogate forest."""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd
import pytest

from engine.analysis.cluster import cluster, cluster_preset
from engine.config import ClusterConfig
from engine.errors import ParameterError
from engine.analysis.explain import explain
from engine.store.tables import load_table, table_from_frame


def _one_informative_feature(rng, n=300):
    """Clusters differ only in feature ``signal``; the others are noise."""
    which = rng.integers(0, 3, size=n)
    frame = pd.DataFrame(
        {
            "noise_a": rng.normal(size=n),
            "signal": which * 6.0 + rng.normal(scale=0.3, size=n),
            "noise_b": rng.normal(size=n),
            "noise_c": rng.normal(size=n),
        }
    )
    frame.insert(0, "part", np.arange(n) % 10)
    frame.insert(0, "filename", [f"t{i // 10}.wav" for i in range(n)])
    return table_from_frame(frame), which


@pytest.fixture(scope="module")
def informative():
    table, which = _one_informative_feature(np.random.default_rng(5))
    # cluster on the signal only, explain with every feature present in the data
    result = cluster(table, config=ClusterConfig(k=3, features=("noise_a", "signal", "noise_b", "noise_c"), scaler="minmax"))
    return result, which


def test_surrogate_is_faithful_and_finds_the_signal(informative):
    result, _ = informative
    ex = explain(result, n_estimators=50)
    assert ex.fidelity > 0.9
    assert ex.baseline < 0.5
    assert ex.ranking()[0][0] == "signal"
    for c in ex.clusters:
        assert ex.ranking(c)[0][0] == "signal"
    assert ex.shap_values.shape == (300, 4, 3)
    assert ex.importance.shape == (3, 4)
    # the rankings the app shows read the mean |SHAP| overall and per cluster, highest first
    assert [v for _, v in ex.ranking()] == sorted(ex.global_importance.tolist(), reverse=True)
    for j, c in enumerate(ex.clusters):
        assert [v for _, v in ex.ranking(c)] == sorted(ex.importance[j].tolist(), reverse=True)
    with pytest.raises(ParameterError, match="no cluster 7"):
        ex.ranking(7)


def test_shap_values_add_up_to_the_forest_probability(informative):
    result, _ = informative
    ex = explain(result, n_estimators=30)
    total = ex.base_values[None, :] + ex.shap_values.sum(axis=1)
    np.testing.assert_allclose(total, ex.predicted, atol=1e-6)
    one = ex.section(int(ex.rows[7]))
    assert one.cluster == int(ex.labels[7])
    assert one.base_value + sum(one.values) == pytest.approx(one.predicted, abs=1e-6)
    assert one.names == ex.names and len(one.data) == 4
    values, data = ex.beeswarm(1)
    assert values.shape == data.shape == (300, 4)


def test_cap_subsamples_and_is_reproducible(informative):
    result, _ = informative
    a = explain(result, max_rows=100, n_estimators=20)
    b = explain(result, max_rows=100, n_estimators=20)
    assert a.n_used == 100 and a.cap == 100
    assert len(np.unique(a.rows)) == 100 and np.all(np.diff(a.rows) > 0)
    assert set(np.unique(a.labels)) == {0, 1, 2}  # stratified
    np.testing.assert_array_equal(a.shap_values, b.shap_values)
    assert a.fidelity == b.fidelity
    missing = int(np.setdiff1d(np.arange(300), a.rows)[0])
    with pytest.raises(ParameterError, match="was not explained"):
        a.section(missing)
    with pytest.raises(ParameterError, match="max_rows"):
        explain(result, max_rows=10)


def test_note_explains_the_scaler_dependence(data_dir):
    table = load_table(data_dir / "out_dataset_1.csv")
    thesis = cluster(table, config=cluster_preset("thesis"))
    zscore = cluster(table, config=cluster_preset("thesis").replace(scaler="zscore"))
    ex_l2 = explain(thesis, n_estimators=40)
    ex_z = explain(zscore, n_estimators=40)
    assert "l2-column" in ex_l2.note and "artefact" in ex_l2.note
    assert "artefact" not in ex_z.note and "zscore" in ex_z.note
    assert f"{ex_l2.fidelity:.2f}" in ex_l2.note

    def share(ex, names=("mfcc7", "mfcc9", "mfcc11")):
        g = ex.global_importance / ex.global_importance.sum()
        return sum(g[ex.names.index(n)] for n in names)

    # Under l2-column the near-zero-mean MFCCs carry far more of the importance.
    assert {n for n, _ in ex_l2.ranking()[:3]} == {"mfcc7", "mfcc9", "mfcc11"}
    assert share(ex_l2) > share(ex_z) + 0.1


def test_explain_needs_two_clusters(informative):
    result, _ = informative
    with pytest.raises(ParameterError, match="ClusterResult"):
        explain(result.data)
    with pytest.raises(ParameterError, match="test_fraction"):
        explain(result, test_fraction=0.9)


def _fingerprinted(rng, *, n_songs=40, per_track=6, versions=1, n_clusters=4):
    """Sections of one song (and of its versions) sound alike; songs differ at random; clusters are drawn per song.

    The features say which song a section is from, not which cluster it is in, so a surrogate
    that has heard the song's other sections (or another version of it) "predicts" the cluster,
    and one tested on songs it never heard can only guess.
    """
    rows, names, parts, labels, song = [], [], [], [], []
    for s in range(n_songs):
        print_ = rng.normal(size=5) * 3.0
        label = int(rng.integers(0, n_clusters))
        for v in range(versions):
            for p in range(per_track):
                rows.append(print_ + rng.normal(scale=0.05, size=5))
                names.append(f"song{s:02d}_v{v}.wav")
                parts.append(p)
                labels.append(label)
                song.append(f"song{s:02d}")
    frame = pd.DataFrame(np.asarray(rows), columns=[f"f{i}" for i in range(5)])
    frame.insert(0, "part", parts)
    frame.insert(0, "filename", names)
    table = table_from_frame(frame)
    result = cluster(table, config=ClusterConfig(k=n_clusters, scaler="zscore", dedupe=False))
    # the clustering's labels replaced by the per-song draw (a clustering that follows songs, not features)
    result = dataclasses.replace(result, labels=np.asarray(labels, dtype=np.int64)[result.data.rows])
    versions_of = dict(zip(table.meta["track_id"], song))
    return result, versions_of


def test_fidelity_is_measured_on_songs_the_forest_never_heard():
    result, _ = _fingerprinted(np.random.default_rng(11))
    ex = explain(result, n_estimators=40)
    # Holding out random sections lets the forest recognise the song (fidelity ~1.0);
    # holding out whole songs leaves it guessing among 4 clusters.
    assert ex.fidelity < 0.6
    assert ex.n_train + ex.n_test == ex.n_used


def test_versions_of_one_song_are_held_out_together():
    result, versions_of = _fingerprinted(np.random.default_rng(12), n_songs=24, versions=2)
    leaky = explain(result, n_estimators=40)
    assert leaky.fidelity > 0.7  # most held-out tracks had their other version in training
    honest = explain(result, n_estimators=40, groups=versions_of)
    assert honest.n_songs == 24 and leaky.n_songs == 48
    assert honest.fidelity < 0.6 and honest.fidelity < leaky.fidelity - 0.3
    with pytest.raises(ParameterError, match="at least 2 songs"):
        explain(result, n_estimators=10, groups={t: "one" for t in versions_of})


def test_shap_additivity_is_checked(informative, monkeypatch):
    import shap

    seen = []
    original = shap.TreeExplainer.shap_values

    def spy(self, X, *args, **kwargs):
        seen.append(kwargs.get("check_additivity", True))
        return original(self, X, *args, **kwargs)

    monkeypatch.setattr(shap.TreeExplainer, "shap_values", spy)
    result, _ = informative
    explain(result, n_estimators=20)
    assert seen and all(seen)
