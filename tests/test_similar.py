"""Nearest sections."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from engine.config import ClusterConfig
from engine.errors import ParameterError
from engine.analysis.similar import find_section, nearest_sections
from engine.store.tables import load_table, table_from_frame


@pytest.fixture()
def tiny():
    # Track A: sections 0-2; track B: sections 0-2. Values chosen so that the
    # nearest neighbours are known by hand.
    frame = pd.DataFrame(
        {
            "filename": ["A.wav"] * 3 + ["B.wav"] * 3,
            "part": ["part_0", "part_1", "part_2"] * 2,
            "x": [0.0, 0.1, 5.0, 0.3, 9.0, 5.2],
            "y": [0.0, 0.0, 5.0, 0.0, 9.0, 5.1],
        }
    )
    return table_from_frame(frame, section_seconds=10.0)


def test_nearest_by_hand(tiny):
    nb = nearest_sections(tiny, track="A.wav", section=0, k=3, metric="euclidean", config=ClusterConfig(scaler="minmax"))
    assert list(zip(nb.meta["name"], nb.meta["section"])) == [("A.wav", 1), ("B.wav", 0), ("A.wav", 2)]
    assert np.all(np.diff(nb.distances) >= 0)
    assert 0 not in nb.rows  # never the query itself
    assert nb.query_name == "A.wav" and nb.query_section == 0
    assert "distance" in nb.meta.columns


def test_other_tracks_excludes_the_query_track(tiny):
    nb = nearest_sections(tiny, row=0, k=10, metric="euclidean", other_tracks=True, config=ClusterConfig(scaler="minmax"))
    assert set(nb.meta["name"]) == {"B.wav"}
    assert len(nb) == 3  # fewer than k: only three sections qualify
    assert list(nb.meta["section"]) == [0, 2, 1]


def test_metric_changes_the_answer(rng):
    # Same direction, different lengths vs. nearby but another direction.
    frame = pd.DataFrame({"filename": ["q", "long", "near"], "part": [0, 0, 0], "a": [1.0, 10.0, 1.0], "b": [1.0, 10.0, 0.0]})
    frame = pd.concat([frame, pd.DataFrame({"filename": ["pad"] * 3, "part": [1, 2, 3], "a": [3.0, 4.0, 6.0], "b": [0.5, 3.5, 1.0]})])
    table = table_from_frame(frame)
    raw = ClusterConfig(scaler="l2-column")  # keeps directions (all columns positive)
    by_cos = nearest_sections(table, row=0, k=1, metric="cosine", config=raw)
    by_euc = nearest_sections(table, row=0, k=1, metric="euclidean", config=raw)
    assert by_cos.meta["name"][0] == "long"
    assert by_euc.meta["name"][0] == "near"
    assert by_cos.distances[0] == pytest.approx(0.0, abs=1e-9)


def test_thesis_neighbours_and_lookup(data_dir):
    table = load_table(data_dir / "out_dataset_1.csv")
    nb = nearest_sections(table, track="tempt of fate", section=5, k=5, metric="cosine")
    assert len(nb) == 5 and nb.query_name == "Death on the Balcony - Tempt Of Fate.wav"
    other = nearest_sections(table, track="tempt of fate", section=5, k=5, metric="cosine", other_tracks=True)
    assert not (other.meta["name"] == nb.query_name).any()
    assert other.distances[0] >= nb.distances[0]
    with pytest.raises(ParameterError, match="matches .* tracks"):
        find_section(table.meta, track="Full Intention", section=0)
    with pytest.raises(ParameterError, match="has no section 0"):
        find_section(table.meta, track="tempt of fate", section=0)
    with pytest.raises(ParameterError, match="no track named"):
        find_section(table.meta, track="not a song", section=1)
    with pytest.raises(ParameterError, match="unknown metric"):
        nearest_sections(table, row=0, metric="hamming")
    with pytest.raises(ParameterError, match="out of range"):
        nearest_sections(table, row=10_000)
