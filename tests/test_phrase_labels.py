"""Phrase labels on the section rows (engine/describe/sections.py, engine/describe/phrases.section_phrases):
every section carries the label of its phrase, in every section mode, and the store keeps them."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from engine.config import AnalysisConfig, FrameConfig, SegmentConfig
from engine.describe.frames import frame_features
from engine.describe.phrases import PHRASE_LABELS, section_phrases, track_phrases
from engine.describe.sections import sections_from_frames
from engine.records import PHRASE_COLUMNS, Phrases
from tests.structure_support import SR, structured_track


def _truth_at(track, t: float) -> str:
    return next((lab for lab, a, b in track.phrases if a <= t < b), "")


@pytest.fixture(scope="module")
def structured():
    track = structured_track(126.0, first_downbeat_s=0.37)
    return track, frame_features(track.y, sample_rate=SR, config=FrameConfig())


def test_sections_of_phrases_carry_their_phrase_label_right_for_most_of_the_track(structured):
    track, frames = structured
    table = sections_from_frames(frames, "structured", config=AnalysisConfig().replace(segment=SegmentConfig(mode="phrases")))
    meta = table.meta
    assert tuple(meta.columns[-2:]) == PHRASE_COLUMNS and list(table.names) == [n for n in table.names if not n.startswith("phrase")]
    assert set(meta["phrase_label"]) <= set(PHRASE_LABELS)
    conf = meta["phrase_confidence"].to_numpy(np.float64)
    assert np.all((conf >= 0) & (conf <= 1))
    phrases = track_phrases(frames)  # one section per phrase: the phrase's own label and confidence
    assert meta["phrase_label"].tolist() == list(phrases.labels)
    np.testing.assert_allclose(conf, phrases.confidence)
    grid = np.arange(0.0, track.phrases[-1][2], 0.05)  # right for >= 80 % of the duration
    want = np.array([_truth_at(track, t) for t in grid])
    spans = zip(meta["phrase_label"], meta["start_s"], meta["end_s"])
    rows = list(spans)
    got = np.array([next((lab for lab, a, b in rows if a <= t < b), "") for t in grid])
    inside = want != ""
    assert np.mean(got[inside] == want[inside]) >= 0.8


def test_sections_of_8_bars_get_the_label_of_the_phrase_that_covers_them(structured):
    track, frames = structured
    table = sections_from_frames(frames, "structured", config=AnalysisConfig().replace(segment=SegmentConfig(mode="bars", bars=8)))
    meta = table.meta
    want = [_truth_at(track, (a + b) / 2) for a, b in zip(meta["start_s"], meta["end_s"])]  # each 8-bar section lies in one phrase
    right = np.mean(np.array(want) == meta["phrase_label"].to_numpy())
    assert len(meta) >= 10 and right >= 0.75, list(zip(want, meta["phrase_label"]))
    assert meta["phrase_label"].tolist().count("drop") >= 3


def test_sections_of_seconds_get_the_phrase_they_overlap_most():
    phrases = Phrases(
        start_s=np.array([1.0, 31.0, 47.0]), end_s=np.array([31.0, 47.0, 90.0]), start_bar=np.array([0, 16, 24]),
        labels=("intro", "build", "drop"), confidence=np.array([0.9, 0.4, 0.7]),
    )
    labels, conf = section_phrases(phrases, np.array([0.0, 15.0, 30.0, 45.0, 90.0]), np.array([15.0, 30.0, 45.0, 60.0, 105.0]))
    assert labels.tolist() == ["intro", "intro", "build", "drop", ""]  # 30-45: 14 s of build beat 1 s of intro
    np.testing.assert_allclose(conf[:4], [0.9, 0.9, 0.4, 0.7])
    assert np.isnan(conf[4])  # past the last phrase: no label
    empty = Phrases(start_s=np.zeros(0), end_s=np.zeros(0), start_bar=np.zeros(0, np.int64), labels=(), confidence=np.zeros(0))
    assert section_phrases(empty, np.array([0.0]), np.array([15.0]))[0].tolist() == [""]


def test_labels_leave_the_features_and_the_digests_alone(structured):
    _, frames = structured
    config = AnalysisConfig()
    table = sections_from_frames(frames, "structured", config=config)
    assert not any("phrase" in n for n in table.names)
    assert config.section_digest() == "c0d205d85e7fa25f"  # the shipped demo store's
    labels = table.meta["phrase_label"]
    assert (labels != "").mean() > 0.9  # 15-s sections: all but one before the first downbeat at most


def test_the_store_keeps_the_labels_and_adds_them_to_rows_stored_before(tmp_path, structured):
    from engine.records import Track
    from engine.store.core import Store

    _, frames = structured
    store = Store(tmp_path / "store")
    config = AnalysisConfig().replace(segment=SegmentConfig(mode="bars", bars=8))
    frames = dataclasses.replace(frames, track_id="a" * 64)
    store.put_track(Track(track_id=frames.track_id, name="structured", duration_s=frames.duration_s, native_sample_rate=SR, channels=1,
                          format="WAV", n_bytes=0))
    store.put_frames(frames, config=config.frames)
    loaded = store.load_sections(config)
    assert tuple(loaded.meta.columns[-2:]) == PHRASE_COLUMNS
    again = store.get_sections(frames.track_id, config.section_digest())
    assert again.meta["phrase_label"].tolist() == loaded.meta["phrase_label"].tolist()
    # rows stored before labels existed: re-cut from the frames on reading, and written back with them
    old = type(again)(meta=again.meta.drop(columns=list(PHRASE_COLUMNS)), values=again.values, names=again.names, config_digest=again.config_digest)
    store.put_sections(old, config=config)
    assert "phrase_label" not in store.get_sections(frames.track_id, config.section_digest()).meta
    assert store.load_sections(config).meta["phrase_label"].tolist() == loaded.meta["phrase_label"].tolist()
    assert "phrase_label" in store.get_sections(frames.track_id, config.section_digest()).meta


def test_playlists_and_tables_carry_the_labels(structured, tmp_path):
    import pandas as pd

    from engine.analysis.cluster import cluster
    from engine.config import ClusterConfig
    from engine.store.export import cluster_sections, write_m3u, write_table, write_xspf

    _, frames = structured
    table = sections_from_frames(frames, "structured.wav", config=AnalysisConfig().replace(segment=SegmentConfig(mode="bars", bars=8)))
    result = cluster(table, config=ClusterConfig(k=2))
    members = cluster_sections(result, 0)
    want = [f"{lab} {c:.2f}" for lab, c in zip(members["phrase_label"], members["phrase_confidence"])]
    titles = [line.split(",", 1)[1] for line in write_m3u(members, tmp_path / "c.m3u").read_text().splitlines() if line.startswith("#EXTINF")]
    assert [t.rsplit(" · ", 1)[1] for t in titles] == want
    assert "drop" in write_xspf(members, tmp_path / "c.xspf").read_text() or "drop" not in want
    csv = pd.read_csv(write_table(result, tmp_path / "a.csv"))
    assert csv["phrase_label"].tolist() == result.assignments()["phrase_label"].tolist()
    np.testing.assert_allclose(csv["phrase_confidence"], table.meta["phrase_confidence"].to_numpy()[result.data.rows], atol=1e-9)


def test_one_phrase_is_a_drop_with_no_confidence():
    from engine.describe.phrases import label_phrases

    energy = np.random.default_rng(3).standard_normal(12)
    labels, conf = label_phrases(energy, energy, np.array([0]))
    assert labels == ["drop"] and conf.tolist() == [0.0]
    labels, conf = label_phrases(np.r_[np.zeros(8), np.ones(8)], np.zeros(16), np.array([0, 8]))
    assert labels == ["intro", "drop"] and conf.min() > 0.5  # two phrases that differ: confident
