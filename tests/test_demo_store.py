"""The demo's shipped analysis (``demo/.store``) is what the engine computes now, and a fresh store seeded
with it answers the demo without decoding a file.

``scripts/demo_store.py`` (``make demo-store``) writes it; these tests fail when a change to the engine
alters a stored result and the shipped files were not rebuilt.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest

from engine.config import AnalysisConfig, EmbedConfig, MixConfig
from engine.mixing.descriptors import describe_store
from engine.run.embedding import embed_library
from engine.run.inputs import collect_inputs
from engine.run.pipeline import DEMO_DIR, analyze, open_library
from engine.store.core import Store
from engine.store.seed import seed_store

SHIPPED = DEMO_DIR / ".store"
#: Two short demo tracks, rebuilt here from their audio and compared with the shipped files.
CHECKED = ("tt3.ogg", "track3.opus")


def _result_files(root: Path, track_id: str) -> list[str]:
    return sorted(str(p.relative_to(root)) for p in root.rglob(f"{track_id}.parquet") if p.parts[len(root.parts)] != "frames")


def _same_table(a: Path, b: Path, *, rtol: float, atol: float) -> None:
    ta, tb = pq.read_table(a).to_pandas(), pq.read_table(b).to_pandas()
    assert list(ta.columns) == list(tb.columns) and len(ta) == len(tb), a.name
    for col in ta.columns:
        x, y = ta[col].to_numpy(), tb[col].to_numpy()
        if np.issubdtype(x.dtype, np.number):
            np.testing.assert_allclose(x.astype(float), y.astype(float), rtol=rtol, atol=atol, err_msg=f"{a.parent.name}/{a.name}: {col}")
        elif x.dtype == object and len(x) and isinstance(x[0], np.ndarray):  # a vector per row (embeddings)
            np.testing.assert_allclose(np.stack(x).astype(float), np.stack(y).astype(float), rtol=rtol, atol=atol, err_msg=f"{a.name}: {col}")
        else:
            assert x.tolist() == y.tolist(), f"{a.parent.name}/{a.name}: {col}"


def test_the_demo_inputs_skip_the_shipped_store():
    inputs, skipped = collect_inputs([DEMO_DIR])
    assert len(inputs) == 11 and not any(".store" in i.path for i in inputs)
    assert not any(".store" in s for s in skipped)


def test_the_shipped_results_are_what_the_engine_computes_now(tmp_path):
    inputs = [i for i in collect_inputs([DEMO_DIR])[0] if i.name in CHECKED]
    assert len(inputs) == len(CHECKED)
    fresh = Store(tmp_path / "fresh")
    result = analyze(inputs, store=fresh, config=AnalysisConfig(), jobs=1)
    assert not result.errors
    ids = [t.track_id for t in result.tracks]
    embed_library(fresh, ids, analysis=AnalysisConfig(), config=EmbedConfig())
    describe_store(fresh, analysis=AnalysisConfig(), config=MixConfig(), track_ids=ids)
    for tid in ids:
        shipped = _result_files(SHIPPED, tid)
        # sections, pieces and descriptors, each under the digest of the same settings
        assert [f.split("/")[0] for f in shipped] == ["descriptors", "descriptors", "pieces", "sections"], shipped
        assert shipped == _result_files(tmp_path / "fresh", tid), "the settings' digests changed: run `make demo-store`"
        for rel in shipped:
            # float32 results: summation order may differ with memory alignment (SIMD heads), ~1e-5 relative;
            # the network's own tolerance to its TensorFlow reference is 1e-4
            _same_table(SHIPPED / rel, tmp_path / "fresh" / rel, rtol=1e-4, atol=1e-5)


def test_a_fresh_store_seeded_with_it_answers_the_demo_without_decoding(tmp_path):
    root = tmp_path / "store"
    copied = seed_store(root, SHIPPED)
    assert copied == sum(1 for p in SHIPPED.rglob("*") if p.is_file())
    assert seed_store(root, SHIPPED) == 0  # nothing twice, nothing overwritten
    statuses = []
    result = analyze(collect_inputs([DEMO_DIR])[0], store=Store(root), config=AnalysisConfig(), jobs=1, progress=lambda p: statuses.append(p.status))
    assert statuses == ["cached"] * 11 and len(result.from_store) == 11 and not result.errors
    assert not (root / "frames").exists()  # nothing was decoded
    opened = open_library(Store(root), config=AnalysisConfig())  # a store of results only opens as a library too
    assert sorted(t.track_id for t in opened.tracks) == sorted(t.track_id for t in result.tracks)
    assert len(result.sections) == len(Store(SHIPPED).load_sections(AnalysisConfig(), track_ids=[t.track_id for t in result.tracks]))
    # another section length is not in the shipped results: the demo is decoded for it, as any library
    other = AnalysisConfig().replace(segment=AnalysisConfig().segment.replace(section_seconds=20.0))
    statuses.clear()
    tt3 = [i for i in collect_inputs([DEMO_DIR])[0] if i.name == "tt3.ogg"]
    analyze(tt3, store=Store(root), config=other, jobs=1, progress=lambda p: statuses.append(p.status))
    assert statuses == ["analysed"] and (root / "frames").is_dir()


def test_seeding_never_overwrites_and_says_when_there_is_nothing_to_seed(tmp_path):
    from engine.errors import StoreError

    root = tmp_path / "store"
    (root / "tracks").mkdir(parents=True)
    some = next((SHIPPED / "tracks").glob("*.json"))
    (root / "tracks" / some.name).write_text("{}")
    seed_store(root, SHIPPED)
    assert (root / "tracks" / some.name).read_text() == "{}"
    with pytest.raises(StoreError):
        seed_store(root, tmp_path / "missing")


def test_frames_true_decodes_a_seeded_track_once_and_then_any_setting_is_cut_from_its_frames(tmp_path):
    from engine.mixing.descriptors import frames_needed

    root = tmp_path / "store"
    seed_store(root, SHIPPED)
    store = Store(root)
    tt3 = [i for i in collect_inputs([DEMO_DIR])[0] if i.name == "tt3.ogg"]
    tid = analyze(tt3, store=store, config=AnalysisConfig(), jobs=1).tracks[0].track_id
    # the shipped descriptors answer the default key profile; another profile needs the frames
    assert frames_needed(store, [tid], analysis=AnalysisConfig(), config=MixConfig()) == []
    assert frames_needed(store, [tid], analysis=AnalysisConfig(), config=MixConfig(key_profile="temperley")) == [tid]
    statuses = []
    seeded = analyze(tt3, store=store, config=AnalysisConfig(), jobs=1, frames=True, progress=lambda p: statuses.append(p.status))
    assert statuses == ["analysed"] and store.has_frames(tid, AnalysisConfig().frames.digest())
    # decoding again gave the shipped section rows
    np.testing.assert_allclose(seeded.sections.values, Store(SHIPPED).load_sections(AnalysisConfig(), track_ids=[tid]).values, rtol=1e-5, atol=1e-6)
    assert frames_needed(store, [tid], analysis=AnalysisConfig(), config=MixConfig(key_profile="temperley")) == []
    statuses.clear()
    analyze(tt3, store=store, config=AnalysisConfig(), jobs=1, frames=True, progress=lambda p: statuses.append(p.status))
    other = AnalysisConfig().replace(segment=AnalysisConfig().segment.replace(section_seconds=20.0))
    analyze(tt3, store=store, config=other, jobs=1, progress=lambda p: statuses.append(p.status))
    assert statuses == ["cached", "cached"]  # once decoded, neither asks for the audio again
    temperley = describe_store(store, analysis=AnalysisConfig(), config=MixConfig(key_profile="temperley"), track_ids=[tid])
    assert len(temperley.descriptors) == len(seeded.sections.meta)
