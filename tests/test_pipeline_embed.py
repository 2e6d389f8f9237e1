"""CNN embeddings through the pipeline: stored per piece, pooled to any section length, never recomputed."""

from __future__ import annotations

import shutil

import numpy as np
import pytest

import engine.run.embedding as embedding
from engine.config import AnalysisConfig, EmbedConfig, SegmentConfig
from engine.errors import ModelError
from engine.run.embedding import embed_library
from engine.run.inputs import collect_inputs
from engine.run.pipeline import analyze
from engine.store.core import Store


@pytest.fixture(scope="module")
def library(tmp_path_factory, demo_dir):
    folder = tmp_path_factory.mktemp("lib")
    for name in ("tt1.ogg", "tt4.ogg"):
        shutil.copy(demo_dir / name, folder / name)
    store = Store(tmp_path_factory.mktemp("store"))
    result = analyze(collect_inputs([folder])[0], store=store)
    ids = [t.track_id for t in result.tracks]
    pieces = embed_library(store, ids, analysis=AnalysisConfig())
    return folder, store, ids, pieces


def test_pieces_carry_their_section_and_the_weights_that_ran(library):
    _, _, ids, pieces = library
    assert pieces.model == "musicnn" and "MSD_musicnn" in pieces.weights and "sha256:" in pieces.weights
    per_track = pieces.meta.groupby("track_id").size()
    assert per_track[ids[0]] == int(60 // 2.992)  # tt1: 60 s of 3-s patches
    assert pieces.values.shape == (len(pieces), 200) and np.isfinite(pieces.values).all()
    assert pieces.tags.shape == (len(pieces), 50) and len(pieces.tag_names) == 50
    tt1 = pieces.meta[pieces.meta.track_id == ids[0]]
    centre = (tt1.start_s + tt1.end_s) / 2
    assert np.array_equal(tt1.section.to_numpy(), np.minimum(centre // 15, 3).astype(int).to_numpy())
    assert (tt1.section.value_counts() == 5).all()  # a 15-s section holds five 3-s patches


def test_cached_embeddings_decode_nothing_and_follow_a_new_section_length(library, monkeypatch):
    _, store, ids, first = library

    def boom(*a, **k):
        raise AssertionError("decoded although the store holds the embeddings")

    monkeypatch.setattr(embedding, "decode_file", boom)
    again = embed_library(store, ids, analysis=AnalysisConfig())
    assert np.array_equal(again.values, first.values)
    ten = embed_library(store, ids, analysis=AnalysisConfig(segment=SegmentConfig(section_seconds=10)))
    assert np.array_equal(ten.values, first.values)
    assert ten.meta[ten.meta.track_id == ids[0]].section.max() == 5


def test_a_track_whose_file_vanished_is_reported_and_the_rest_embedded(tmp_path, demo_dir):
    folder = tmp_path / "lib"
    folder.mkdir()
    for name in ("tt2.ogg", "tt3.ogg"):
        shutil.copy(demo_dir / name, folder / name)
    store = Store(tmp_path / "store")
    result = analyze(collect_inputs([folder])[0], store=store)
    (folder / "tt3.ogg").unlink()
    seen = []
    pieces = embed_library(store, [t.track_id for t in result.tracks], analysis=AnalysisConfig(), progress=seen.append)
    assert set(pieces.meta.name) == {"tt2.ogg"}
    errors = [p for p in seen if p.status == "error"]
    assert len(errors) == 1 and errors[0].name == "tt3.ogg" and "does not exist" in errors[0].detail


def test_missing_vggish_weights_stop_before_any_work(library, tmp_path, monkeypatch):
    _, store, ids, _ = library
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "empty-hub"))
    monkeypatch.delenv("CRATEMAP_VGGISH_WEIGHTS", raising=False)
    with pytest.raises(ModelError, match="VGGish weights not found"):
        embed_library(store, ids, analysis=AnalysisConfig(), config=EmbedConfig(model="vggish"))


def test_a_moved_file_is_read_from_its_new_place(tmp_path, demo_dir):
    old, new = tmp_path / "old", tmp_path / "new"
    old.mkdir()
    shutil.copy(demo_dir / "tt2.ogg", old / "tt2.ogg")
    store = Store(tmp_path / "store")
    tid = analyze(collect_inputs([old])[0], store=store).tracks[0].track_id
    old.rename(new)
    # an explicit mapping wins over the recorded path
    pieces = embed_library(store, [tid], analysis=AnalysisConfig(), paths={tid: str(new / "tt2.ogg")})
    assert len(pieces) == 20
    # and re-analysing from the new place records it, so no mapping is needed next time
    analyze(collect_inputs([new])[0], store=store)
    assert store.track(tid).path == str((new / "tt2.ogg").resolve())


def test_run_time_settings_reuse_the_stored_embeddings(library, monkeypatch):
    """Batch size and device do not change a vector, so they must not re-embed the library."""
    _, store, ids, first = library

    def boom(*a, **k):
        raise AssertionError("decoded although only run-time settings changed")

    monkeypatch.setattr(embedding, "decode_file", boom)
    again = embed_library(store, ids, analysis=AnalysisConfig(), config=EmbedConfig(batch_size=7, device="cpu"))
    assert np.array_equal(again.values, first.values)
    assert EmbedConfig(batch_size=7, device="cpu", weights_path="/elsewhere").cache_digest() == EmbedConfig().cache_digest()
    assert EmbedConfig(layer="mean_pool").cache_digest() != EmbedConfig().cache_digest()


def test_analyse_with_an_embedding_decodes_once_and_stores_the_same_pieces(library, tmp_path):
    """analyze(embedding=...) embeds each file in its own task from the same decode, in parallel:
    the pieces equal those of the separate pass, and embed_library then only reads them."""
    folder, _, ids, separate = library
    store = Store(tmp_path / "store")
    statuses = []
    result = analyze(collect_inputs([folder])[0], store=store, jobs=2, embedding=EmbedConfig(), progress=lambda p: statuses.append(p.status))
    assert statuses == ["analysed", "analysed"] and not result.errors
    seen = []
    together = embed_library(store, ids, analysis=AnalysisConfig(), progress=lambda p: seen.append(p.status))
    assert seen == ["cached", "cached"]  # the network did not run again
    assert together.meta.equals(separate.meta)
    np.testing.assert_allclose(together.values, separate.values, rtol=1e-5, atol=1e-6)  # one thread per worker, or every core inline
    np.testing.assert_allclose(together.tags, separate.tags, rtol=1e-5, atol=1e-6)
    again = []
    analyze(collect_inputs([folder])[0], store=store, jobs=2, embedding=EmbedConfig(), progress=lambda p: again.append(p.status))
    assert again == ["cached", "cached"]


def test_an_embedding_over_analysed_tracks_reuses_their_frames(library, tmp_path, demo_dir):
    folder, _, ids, separate = library
    store = Store(tmp_path / "store")
    analyze(collect_inputs([folder])[0], store=store)
    frames = sorted((tmp_path / "store" / "frames").rglob("*.parquet"))
    stamps = [p.stat().st_mtime_ns for p in frames]
    statuses = []
    analyze(collect_inputs([folder])[0], store=store, embedding=EmbedConfig(), progress=lambda p: statuses.append(p.status))
    assert statuses == ["analysed", "analysed"]  # embedded ...
    assert [p.stat().st_mtime_ns for p in sorted((tmp_path / "store" / "frames").rglob("*.parquet"))] == stamps  # ... not re-described
    pieces = embed_library(store, ids, analysis=AnalysisConfig())
    np.testing.assert_allclose(pieces.values, separate.values, rtol=1e-5, atol=1e-6)


def test_an_embedding_cannot_go_to_a_dask_client(tmp_path, demo_dir):
    from engine.errors import ParameterError

    with pytest.raises(ParameterError, match="on this machine"):
        analyze([demo_dir / "tt1.ogg"], store=Store(tmp_path / "s"), client=object(), embedding=EmbedConfig())
