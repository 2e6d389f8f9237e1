"""Descriptors in the store, "mixes well with" suggestions and mix paths (engine/mixing/descriptors.py, suggestions.py, path.py)."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET

import numpy as np
import pandas as pd
import pytest

from engine.config import AnalysisConfig, MixConfig, SegmentConfig
from engine.describe.key import camelot_relation
from engine.errors import ParameterError
from engine.store.export import write_xspf
from engine.mixing.descriptors import DESCRIPTOR_COLUMNS, describe_store
from engine.mixing.path import mix_path
from engine.mixing.suggestions import pair_components, suggest
from engine.records import MixTable, SectionTable
from engine.store.core import Store
from tests.mix_support import demo_store


def _table(rows: list[tuple[str, float, str, int]], timbre: np.ndarray | None = None) -> MixTable:
    """A hand-made MixTable: one section per row, (track, bpm, camelot, energy level)."""
    n = len(rows)
    meta = pd.DataFrame(
        {
            "track_id": [r[0] for r in rows],
            "name": [f"{r[0]}.wav" for r in rows],
            "section": [sum(1 for q in rows[:i] if q[0] == r[0]) for i, r in enumerate(rows)],
            "start_s": 0.0,
            "end_s": 15.0,
            "partial": False,
            "selected": True,
        }
    )
    meta["start_s"] = meta["section"] * 15.0
    meta["end_s"] = meta["start_s"] + 15.0
    values = timbre if timbre is not None else np.ones((n, 2)) + np.arange(n)[:, None] * [0.0, 0.01]
    sections = SectionTable(meta=meta, values=np.asarray(values, float), names=("a", "b"), config_digest="test")
    desc = meta[["track_id", "name", "section", "start_s", "end_s"]].copy()
    for c in DESCRIPTOR_COLUMNS:
        desc[c] = 0.0
    desc["bpm"] = [r[1] for r in rows]
    desc["camelot"] = [r[2] for r in rows]
    desc["energy_level"] = [r[3] for r in rows]
    desc["key"] = desc["camelot"]
    desc["key_clear"] = True
    return MixTable(sections=sections, descriptors=desc, tracks={}, config_digest="test")


def test_pair_components_rules():
    t = _table([("q", 124.0, "8A", 6), ("a", 126.0, "9A", 7), ("b", 62.5, "8B", 6), ("c", 140.0, "8A", 6), ("d", 124.0, "3B", 9)])
    p = {k: v[0] for k, v in pair_components(t.descriptors, t.sections.values, np.array([0])).items()}
    assert p["tempo_dev"][1] == pytest.approx(126 / 124 - 1) and p["tempo_factor"][1] == 1.0
    assert p["tempo_factor"][2] == 2.0 and p["tempo_dev"][2] == pytest.approx(125 / 124 - 1)  # half time, played double
    assert bool(p["tempo_ok"][2]) and not bool(p["tempo_ok"][3])  # +12.9 % is outside 6 %
    assert list(p["key_relation"][:5]) == ["same", "+1", "relative", "same", "clash"]
    assert list(p["key_relation"]) == [camelot_relation("8A", c) for c in t.descriptors["camelot"]]  # the describe stage's rule
    assert list(p["compatible"]) == [True, True, True, False, False]
    assert list(p["energy_step"]) == [0, 1, 0, 0, 3]
    assert np.all((p["score"] >= 0) & (p["score"] <= 1))


def test_a_section_with_no_clear_key_sets_no_key_constraint():
    """Drums or a stretch that fits two keys alike: its best-guess key neither clashes nor matches."""
    t = _table([("q", 124.0, "8A", 6), ("a", 124.0, "3B", 6), ("b", 124.0, "3B", 6), ("c", 124.0, "8A", 6)])
    t.descriptors.loc[1, "key_clear"] = False
    p = {k: v[0] for k, v in pair_components(t.descriptors, t.sections.values, np.array([0])).items()}
    assert list(p["key_relation"]) == ["same", "unclear", "clash", "same"]
    assert list(p["key_ok"]) == [True, True, False, True]
    assert p["s_key"][1] == pytest.approx(0.85) and p["s_key"][2] == 0.0 and p["s_key"][3] == 1.0
    found = suggest(t, row=0, k=3).frame.set_index("track_id")
    assert "(no clear key)" in found.loc["a", "reason"] and "(key clash)" in found.loc["b", "reason"]
    t.descriptors.loc[0, "key_clear"] = False  # the query itself unclear: no pair is constrained
    p = {k: v[0] for k, v in pair_components(t.descriptors, t.sections.values, np.array([0])).items()}
    assert list(p["key_relation"]) == ["unclear"] * 4 and p["key_ok"].all()


def test_weights_change_the_ranking():
    # Candidate "a" sounds alike but clashes in key; "b" differs in timbre but is in key and tempo.
    timbre = np.array([[1.0, 0.0, 0.0], [1.0, 0.05, 0.0], [0.0, 0.0, 1.0]])
    t = _table([("q", 128.0, "8A", 6), ("a", 128.0, "3B", 6), ("b", 128.0, "8A", 6)], timbre=timbre)
    by_timbre = suggest(t, row=0, k=2, config=MixConfig(weight_timbre=1, weight_tempo=0, weight_key=0, weight_energy=0))
    by_key = suggest(t, row=0, k=2, config=MixConfig(weight_timbre=0.1, weight_tempo=0.2, weight_key=1, weight_energy=0))
    assert list(by_timbre.frame["track_id"]) == ["a", "b"]
    assert list(by_key.frame["track_id"]) == ["b", "a"]
    assert list(suggest(t, row=0, k=5, only_compatible=True).frame["track_id"]) == ["b"]


def test_mix_path_on_a_chain():
    # Compatible steps only along 8A -> 9A -> 10A -> 11A; 8A -> 11A directly is a clash.
    t = _table([("a", 124.0, "8A", 5), ("b", 125.0, "9A", 6), ("c", 126.0, "10A", 6), ("d", 127.0, "11A", 7), ("e", 150.0, "9A", 6)])
    path = mix_path(t, start=0, end=3, steps=3)
    assert list(path.rows) == [0, 1, 2, 3]
    assert path.frame["reason"].iloc[1].startswith("8A → 9A")
    assert np.all(path.frame["score"].iloc[1:] > 0)
    with pytest.raises(ParameterError, match=r"chains exist with \[3\] steps"):
        mix_path(t, start=0, end=3, steps=2)
    # Without the compatibility rule the direct step is allowed.
    assert len(mix_path(t, start=0, end=3, steps=1, config=MixConfig(require_compatible=False))) == 2
    with pytest.raises(ParameterError, match="steps must be"):
        mix_path(t, start=0, end=3, steps=0)


@pytest.fixture(scope="module")
def demo():
    store = Store(demo_store())
    return store, describe_store(store)


def test_descriptors_are_cached_in_the_store(demo):
    store, table = demo
    folders = sorted(p.name for p in (store.root / "descriptors").iterdir())
    assert any(f.startswith("track-") for f in folders) and any(f.startswith("sections-") for f in folders)
    again = describe_store(store)  # from the cache
    pd.testing.assert_frame_equal(again.descriptors, table.descriptors)
    assert set(table.descriptors.columns) >= set(DESCRIPTOR_COLUMNS)
    d = table.descriptors
    assert d["energy_level"].between(1, 10).all() and d["bpm"].between(85, 180).all()
    assert d["camelot"].str.fullmatch(r"(1[0-2]|[1-9])[AB]").all()
    # Beats in every section's own time span.
    assert ((d["first_beat_s"] >= d["start_s"]) & (d["first_beat_s"] < d["start_s"] + 60.0 / d["bpm"] + 1e-6)).all()
    for t in table.tracks.values():
        assert len(t.beats_s) > 50 and np.all(np.diff(t.beats_s) > 0)
        assert len(t.curve_energy) > 10 and np.all((t.curve_energy >= 1) & (t.curve_energy <= 10))


def test_new_section_length_reuses_track_descriptors(demo):
    store, _ = demo
    cfg = AnalysisConfig(segment=SegmentConfig(section_seconds=10.0))
    short = describe_store(store, analysis=cfg)
    assert len(short) > len(describe_store(store))
    folders = [p.name for p in (store.root / "descriptors").iterdir()]
    assert sum(f.startswith("track-") for f in folders) == 1  # analysis-independent: one set
    assert sum(f.startswith("sections-") for f in folders) == 2


def test_suggestions_on_the_demo(demo, tmp_path):
    _, table = demo
    sug = suggest(table, track="tt1", section=1, k=8)
    f = sug.frame
    assert len(f) == 8 and (f["name"] != "tt1.ogg").all()  # other tracks by default
    assert np.all(np.diff(f["score"].to_numpy()) <= 1e-12)
    pattern = r"\d{1,2}[AB] → \d{1,2}[AB] \(.+\), \d+ → \d+ BPM \(.*[+-]\d+\.\d%\), energy \d+ → \d+, timbre distance \d\.\d\d"
    assert all(re.fullmatch(pattern, r) for r in f["reason"]), f["reason"].iloc[0]
    # The 160-BPM loops suggest each other before the 131-BPM track.
    assert f["compatible"].iloc[0] and f["name"].iloc[0] in ("tt2.ogg", "tt4.ogg")
    out = write_xspf(f, tmp_path / "s.xspf")
    assert len(ET.parse(out).getroot().findall(".//{http://xspf.org/ns/0/}track")) == 8


def test_a_track_shorter_than_four_seconds_still_gets_descriptors():
    from engine.config import FrameConfig
    from engine.describe.frames import frame_features
    from engine.mixing.descriptors import describe_track
    from tests.mix_support import SR, kicks

    t = describe_track(frame_features(kicks(128.0, 2.5), sample_rate=SR, config=FrameConfig()))
    assert t.bpm_confidence == 0.0 and 85 <= t.bpm <= 180  # said to be unreliable, never a crash
    assert np.all(t.beats_s < 2.5) and 1 <= t.energy <= 10
