"""Comparing clusterings and the song-grouped KNN evaluation."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from engine.analysis.cluster import cluster, cluster_preset
from engine.analysis.compare import compare_labels, knn_evaluate, pieces_to_sections
from engine.config import THESIS_FEATURES, ClusterConfig
from engine.errors import ParameterError
from engine.store.tables import load_table, table_from_frame


def test_mode_with_deterministic_ties():
    pieces = pd.DataFrame(
        {
            "filename": ["a"] * 5 + ["b"] * 4 + ["c"] * 3,
            "part": ["part_0"] * 5 + ["part_2"] * 4 + ["part_1"] * 3,
            "cluster": [1, 1, 0, 2, 1] + [3, 2, 2, 3] + [2, 0, 1],
        }
    )
    sl = pieces_to_sections(pieces)
    got = dict(zip(sl.frame["name"], sl.frame["label"]))
    assert got == {"a": 1, "b": 2, "c": 0}  # ties go to the smallest label
    assert sl.n_ties == 2
    assert list(sl.frame["tied"]) == [False, True, True]
    assert list(sl.frame["section"]) == [0, 2, 1]
    assert list(sl.frame["n_pieces"]) == [5, 4, 3]
    # shuffling the pieces changes nothing
    again = pieces_to_sections(pieces.sample(frac=1.0, random_state=3))
    pd.testing.assert_frame_equal(again.frame, sl.frame)
    with pytest.raises(ParameterError, match="lacks columns"):
        pieces_to_sections(pieces, label="vggish")


def test_alignment_before_agreement():
    a = np.array([0, 0, 0, 1, 1, 2, 2, 2, 2])
    b = (a + 1) % 3  # the same partition, renamed
    c = compare_labels(a, b, names=("x", "y"))
    assert c.agreement == 1.0 and c.raw_agreement == 0.0
    assert c.ari == pytest.approx(1.0) and c.nmi == pytest.approx(1.0)
    assert set(c.mapping) == {(0, 1), (1, 2), (2, 0)}
    assert int(c.contingency.to_numpy().sum()) == 9
    # one section moved: agreement drops by exactly one in nine
    b2 = b.copy()
    b2[0] = 2
    assert compare_labels(a, b2).agreement == pytest.approx(8 / 9)
    # more clusters on one side: unmatched ones count as disagreement
    d = compare_labels(np.array([0, 0, 1, 1, 2, 2]), np.array([0, 0, 1, 1, 1, 1]))
    assert d.agreement == pytest.approx(4 / 6)
    with pytest.raises(ParameterError, match="equal length"):
        compare_labels([0, 1], [0, 1, 1])


def test_thesis_classical_vs_neural(data_dir):
    pieces = pd.read_csv(data_dir / "thesis_vggish_pieces.tsv.gz", sep="\t")
    sections = pieces_to_sections(pieces)
    assert len(sections) == 805
    assert sections.n_ties == 29
    result = cluster(data_dir / "out_dataset_1.csv", config=cluster_preset("thesis"))
    neural, found = sections.labels_for(result.data.meta)
    assert found.all()
    c = compare_labels(result.labels, neural, names=("classical", "vggish"))
    assert c.ari == pytest.approx(0.11, abs=0.01)
    assert c.agreement > c.raw_agreement  # alignment matters
    assert c.contingency.shape == (4, 4)


def test_knn_grouped_by_song_on_the_thesis_groups(data_dir):
    table = load_table(data_dir / "out_dataset_1.csv")
    report = knn_evaluate(table, labels="grupo", k=1, config=ClusterConfig(features=THESIS_FEATURES, scaler="zscore"))
    assert report.cv == "leave-one-song-out" and report.n_splits == 53
    assert report.majority_baseline == pytest.approx(249 / 824)
    assert report.accuracy == pytest.approx(0.39, abs=0.02)
    assert report.accuracy > report.majority_baseline
    assert int(report.confusion.to_numpy().sum()) == 824
    five = knn_evaluate(table, labels="grupo", k=1, n_splits=5, config=ClusterConfig(features=THESIS_FEATURES))
    assert five.n_splits == 5 and 0.3 < five.accuracy < 0.5


def test_grouping_stops_song_recognition(rng):
    # Each song is a tight blob; labels are random per song. Recognising the
    # song is easy, predicting the label of an unseen song is not.
    songs, per = 30, 10
    centres = rng.normal(scale=10.0, size=(songs, 4))
    song = np.repeat(np.arange(songs), per)
    X = centres[song] + rng.normal(scale=0.1, size=(songs * per, 4))
    label = rng.integers(0, 2, size=songs)[song]
    frame = pd.DataFrame(X, columns=list("abcd"))
    frame.insert(0, "part", np.tile(np.arange(per), songs))
    frame.insert(0, "filename", [f"s{s}.wav" for s in song])
    frame["grupo"] = label
    table = table_from_frame(frame)
    grouped = knn_evaluate(table, k=1)
    # leaking split: groups = each section on its own
    leaky = knn_evaluate(table, k=1, groups=np.arange(len(frame)).astype(str), n_splits=10)
    assert leaky.accuracy > 0.95
    assert grouped.accuracy < 0.8


def test_knn_leaves_out_unlabelled_sections_and_checks_inputs(rng):
    frame = pd.DataFrame({"filename": [f"s{i // 5}" for i in range(40)], "part": np.arange(40) % 5, "x": rng.normal(size=40), "y": rng.normal(size=40)})
    table = table_from_frame(frame)
    labels = np.array(["calm", "party"] * 20, dtype=object)
    labels[:10] = None
    report = knn_evaluate(table, labels=labels, k=3, n_splits=4)
    assert report.n_sections == 30
    assert set(report.classes) == {"calm", "party"}
    with pytest.raises(ParameterError, match="no label column 'grupo'"):
        knn_evaluate(table)
    with pytest.raises(ParameterError, match="at least 2 label values"):
        knn_evaluate(table, labels=np.array(["x"] * 40, dtype=object))
    with pytest.raises(ParameterError, match="n_splits"):
        knn_evaluate(table, labels=labels, n_splits=100)
