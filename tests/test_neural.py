"""Embeddings as tables (pieces or sections) and Grad-CAM per cluster, on short generated tracks."""

from __future__ import annotations

import numpy as np
import pytest
import soundfile as sf

from engine.analysis.cluster import cluster
from engine.config import AnalysisConfig, ClusterConfig, EmbedConfig
from engine.errors import ParameterError
from engine.neural.tables import cluster_gradcam, embedding_table, piece_inputs, piece_seconds
from engine.run.embedding import embed_library
from engine.run.pipeline import analyze
from engine.store.core import Store


@pytest.fixture(scope="module")
def library(tmp_path_factory):
    root = tmp_path_factory.mktemp("neural")
    sr = 16_000
    paths = []
    for i, (f0, noise) in enumerate([(110, 0.02), (880, 0.2), (220, 0.05)]):
        t = np.arange(int(33 * sr)) / sr
        y = 0.3 * np.sin(2 * np.pi * f0 * t) + noise * np.random.default_rng(i).standard_normal(t.size)
        p = root / f"t{i}.wav"
        sf.write(p, y.astype(np.float32), sr)
        paths.append(p)
    store = Store(root / "store")
    analysis = AnalysisConfig()
    result = analyze(paths, store=store, config=analysis)
    ids = [t.track_id for t in result.tracks]
    pieces = embed_library(store, ids, analysis=analysis, config=EmbedConfig())
    return store, analysis, result, pieces


def test_piece_level_keeps_the_pieces_inside_the_sections(library):
    _, _, result, pieces = library
    sections = result.sections
    et = embedding_table(pieces, sections, level="pieces")
    assert len(et) == int((pieces.meta["section"] >= 0).sum())
    assert et.table.values.shape == (len(et), pieces.values.shape[1])
    assert et.tags is not None and et.tags.shape == (len(et), len(et.tag_names))
    meta = et.table.meta
    assert {"piece", "name", "section", "start_s", "end_s"} <= set(meta.columns)
    # every piece's centre lies inside its section
    secs = sections.meta.set_index(["track_id", "section"])
    centre = (meta["start_s"] + meta["end_s"]) / 2
    lo = secs.loc[list(zip(meta["track_id"], meta["section"])), "start_s"].to_numpy()
    hi = secs.loc[list(zip(meta["track_id"], meta["section"])), "end_s"].to_numpy()
    assert np.all((centre >= lo) & (centre < hi))


def test_section_level_is_the_mean_of_its_pieces(library):
    _, _, result, pieces = library
    et = embedding_table(pieces, result.sections, level="sections")
    assert len(et) == len(result.sections)
    first = result.sections.meta.iloc[0]
    mask = (pieces.meta["track_id"] == first["track_id"]) & (pieces.meta["section"] == first["section"])
    np.testing.assert_allclose(et.table.values[0], pieces.values[mask.to_numpy()].mean(axis=0), rtol=1e-5)
    with pytest.raises(ParameterError, match="level"):
        embedding_table(pieces, result.sections, level="bars")


def test_a_clustering_of_embeddings_separates_the_tones(library):
    _, _, result, pieces = library
    et = embedding_table(pieces, result.sections, level="pieces")
    res = cluster(et.table, config=ClusterConfig(k=3, metric="cosine"))
    by_track = et.table.meta.assign(c=res.labels).groupby("track_id")["c"].agg(lambda s: s.mode().iloc[0])
    assert by_track.nunique() == 3


def test_piece_inputs_and_gradcam(library):
    store, _, result, pieces = library
    et = embedding_table(pieces, result.sections, level="pieces")
    tid = et.table.meta["track_id"].iloc[0]
    path = store.track(tid).path
    starts = et.table.meta.loc[et.table.meta["track_id"] == tid, "start_s"].to_numpy()[:2]
    x = piece_inputs(path, starts, config=EmbedConfig())
    assert x.shape == (2, 187, 96)
    with pytest.raises(ParameterError, match="not where"):
        piece_inputs(path, np.array([1.2345]), config=EmbedConfig())
    labels = np.array([i % 2 for i in range(len(et))])
    paths = {t: store.track(t).path for t in et.table.meta["track_id"].unique()}
    maps = cluster_gradcam(et.table.meta, labels, et.table.values, paths=paths, config=EmbedConfig(), max_per_cluster=2)
    assert sorted(maps) == [0, 1]
    for hm in maps.values():
        assert hm.heat.shape == (187, 96) and 0.0 <= hm.heat.min() and hm.heat.max() <= 1.0
        assert len(hm.members) == 2
    assert piece_seconds("musicnn") == pytest.approx(2.992)


def test_readme_says_how_sections_pool_their_pieces():
    """The README's account matches embedding_table: a section is the mean of its pieces (the test above)."""
    from conftest import ROOT

    line = next(x for x in (ROOT / "README.md").read_text(encoding="utf-8").splitlines() if "**CNN embeddings**" in x)
    assert "mean and max" not in line
    assert "pooled to sections by their mean" in line
