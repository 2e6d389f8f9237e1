"""Loading tables, scaling, dedupe and the correlation report."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.preprocessing import normalize

from engine.config import THESIS_FEATURES, ClusterConfig
from engine.errors import ParameterError
from engine.analysis.scale import correlation_report, default_features, prepare
from engine.records import SectionTable
from engine.store.tables import load_table, parse_section, table_from_frame


@pytest.fixture(scope="module")
def thesis_table(data_dir) -> SectionTable:
    return load_table(data_dir / "out_dataset_1.csv")


def _frame(values: np.ndarray, *, tracks: int = 3) -> pd.DataFrame:
    n, d = values.shape
    frame = pd.DataFrame(values, columns=[f"f{i}" for i in range(d)])
    frame.insert(0, "part", [f"part_{i // tracks}" for i in range(n)])
    frame.insert(0, "filename", [f"t{i % tracks}.wav" for i in range(n)])
    return frame


def test_thesis_csv_is_read_with_semicolons_and_bookkeeping_dropped(thesis_table):
    t = thesis_table
    assert len(t) == 824
    assert t.values.shape == (824, 27)  # 7 spectral + 20 MFCC
    for dropped in ("grupo", "label", "rank", "ratio", "parts_per_song", "rmse_norm", "spectral_centroid_norm"):
        assert dropped not in t.names
    assert not any(n.lower().startswith("unnamed") for n in t.names)
    assert set(THESIS_FEATURES) <= set(t.names)
    assert {"grupo", "label"} <= set(t.meta.columns)
    assert t.meta.loc[0, "name"] == "Death on the Balcony - Tempt Of Fate.wav"
    assert t.meta.loc[0, "section"] == 5  # "part_5"
    assert np.isnan(t.meta["start_s"]).all()  # no times in the thesis table
    assert t.meta["track_id"].nunique() == 53
    assert t.config_digest.startswith("file:")


def test_comma_csv_gives_the_same_table(tmp_path, thesis_table, data_dir):
    frame = pd.read_csv(data_dir / "out_dataset_1.csv", sep=";")
    path = tmp_path / "features.csv"
    frame.to_csv(path, sep=",", index=False)
    t = load_table(path, section_seconds=15.0)
    assert t.names == thesis_table.names
    np.testing.assert_array_equal(t.values, thesis_table.values)
    assert t.meta.loc[0, "start_s"] == 75.0 and t.meta.loc[0, "end_s"] == 90.0


def test_parse_section_and_bad_inputs(tmp_path):
    assert parse_section("part_12") == 12
    assert parse_section(3) == 3
    assert parse_section("7") == 7
    with pytest.raises(ParameterError, match="section number"):
        parse_section("intro")
    with pytest.raises(ParameterError, match="filename"):
        table_from_frame(pd.DataFrame({"a": [1.0], "b": [2.0]}))
    with pytest.raises(ParameterError, match="no such table"):
        load_table(tmp_path / "missing.csv")
    bad = tmp_path / "plain.txt"
    bad.write_text("just words\n")
    with pytest.raises(ParameterError, match="does not look like a table"):
        load_table(bad)


def test_scalers_do_what_they_say(rng):
    raw = rng.normal(loc=[0.0, 5.0, -3.0], scale=[1.0, 10.0, 0.1], size=(200, 3))
    table = table_from_frame(_frame(raw))
    z = prepare(table, config=ClusterConfig(scaler="zscore")).X
    np.testing.assert_allclose(z.mean(axis=0), 0.0, atol=1e-12)
    np.testing.assert_allclose(z.std(axis=0), 1.0, atol=1e-12)
    m = prepare(table, config=ClusterConfig(scaler="minmax")).X
    np.testing.assert_allclose(m.min(axis=0), 0.0)
    np.testing.assert_allclose(m.max(axis=0), 1.0)
    r = prepare(table, config=ClusterConfig(scaler="robust")).X
    np.testing.assert_allclose(np.median(r, axis=0), 0.0, atol=1e-12)
    l2 = prepare(table, config=ClusterConfig(scaler="l2-column")).X
    np.testing.assert_allclose(np.linalg.norm(l2, axis=0), 1.0)
    np.testing.assert_allclose(l2, normalize(raw, axis=0))


def test_dedupe_after_scaling_like_the_thesis(thesis_table):
    config = ClusterConfig(features=THESIS_FEATURES, scaler="l2-column", dedupe=True)
    prep = prepare(thesis_table, config=config)
    assert len(prep) == 805 and prep.n_duplicates == 19
    assert prep.raw.shape == (805, 17)
    # rows point back at the table, and meta follows them
    np.testing.assert_array_equal(prep.raw, thesis_table.values[prep.rows][:, [thesis_table.names.index(n) for n in THESIS_FEATURES]])
    assert (prep.meta["name"].to_numpy() == thesis_table.meta["name"].to_numpy()[prep.rows]).all()
    assert not pd.DataFrame(prep.X).duplicated().any()
    assert len(prepare(thesis_table, config=config.replace(dedupe=False))) == 824


def test_nan_and_constant_columns(rng):
    raw = rng.normal(size=(30, 3))
    raw[4, 1] = np.nan
    raw[9, 1] = np.inf
    with pytest.raises(ParameterError, match=r"NaN or infinite values: f1 \(2 rows\); first at row 4"):
        prepare(table_from_frame(_frame(raw)))
    raw = rng.normal(size=(30, 3))
    raw[:, 2] = 7.0
    for scaler in ("zscore", "minmax", "robust"):
        prep = prepare(table_from_frame(_frame(raw)), config=ClusterConfig(scaler=scaler))
        assert prep.constant == ("f2",)
        assert np.all(prep.X[:, 2] == 0.0)
        assert any("constant" in w for w in prep.warnings)


def test_feature_selection_and_defaults(thesis_table):
    names = ("rmse", "chroma_stft", "chroma_0", "chroma_11", "mfcc1", "mfcc_delta1", "mfcc_delta20", "spectral_contrast3")
    assert default_features(names) == ("rmse", "chroma_stft", "mfcc1", "spectral_contrast3")
    assert prepare(thesis_table).names == thesis_table.names  # CSV tables: all numeric features
    with pytest.raises(ParameterError, match="not in the table"):
        prepare(thesis_table, config=ClusterConfig(features=("rmse", "tempo")))
    with pytest.raises(ParameterError, match="at least 2"):
        prepare(table_from_frame(_frame(np.ones((1, 2)), tracks=1)))


def test_correlation_report_names_the_redundant_columns(thesis_table):
    report = correlation_report(thesis_table)
    pairs = {(a, b) for a, b, _ in report.pairs}
    assert ("spectral_bandwidth", "rolloff") in pairs
    assert ("spectral_centroid", "rolloff") in pairs
    assert ("amplitude_envelope", "chroma_stft") in pairs
    assert all(abs(r) > 0.9 for _, _, r in report.pairs)
    # dropping the suggested columns clears every pair
    assert all(a in report.suggested_drop or b in report.suggested_drop for a, b, _ in report.pairs)
    assert set(report.suggested_drop) == {"rolloff", "chroma_stft"}
    # a stricter threshold can only find fewer pairs
    assert len(correlation_report(thesis_table, threshold=0.93).pairs) < len(report.pairs)
    assert report.to_frame().shape == (len(report.pairs), 3)
    with pytest.raises(ParameterError, match="threshold"):
        correlation_report(thesis_table, threshold=1.5)
