"""Playlists, Embedding Projector TSVs, CSV and Parquet; every export carries the digest."""

from __future__ import annotations

import urllib.parse
import xml.etree.ElementTree as ET

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest

from engine.analysis.cluster import cluster
from engine.config import ClusterConfig
from engine.errors import ParameterError
from engine.store.export import DIGEST_KEY, cluster_sections, write_m3u, write_playlist, write_projector, write_table, write_xspf
from engine.analysis.similar import nearest_sections
from engine.store.tables import load_table
from test_cluster import blob_table

NS = {"x": "http://xspf.org/ns/0/", "vlc": "http://www.videolan.org/vlc/playlist/ns/0/"}


@pytest.fixture(scope="module")
def result():
    table, _ = blob_table(n=60, centers=3, d=4, seed=2, tracks=6)
    return cluster(table, config=ClusterConfig(k=3))


def test_xspf_plays_only_each_section(result, tmp_path):
    members = cluster_sections(result, 1)
    path = write_xspf(members, tmp_path / "c1.xspf", title="cluster 1")
    root = ET.parse(path).getroot()
    assert root.tag == "{http://xspf.org/ns/0/}playlist"
    assert root.find("x:meta", NS).text == result.config_digest
    assert result.config_digest in root.find("x:annotation", NS).text
    tracks = root.findall("x:trackList/x:track", NS)
    assert len(tracks) == result.sizes[1]
    for track, (_, row) in zip(tracks, members.iterrows()):
        ext = track.find("x:extension", NS)
        assert ext.get("application") == "http://www.videolan.org/vlc/playlist/0"
        options = [o.text for o in ext.findall("vlc:option", NS)]
        assert options == [f"start-time={float(row['start_s'])!r}", f"stop-time={float(row['end_s'])!r}"]
        assert urllib.parse.unquote(track.find("x:location", NS).text) == row["name"]
        assert track.find("x:duration", NS).text == "15000"
    # typical sections first
    d = np.linalg.norm(result.data.X[members["row"]] - result.centroids[1], axis=1)
    assert np.all(np.diff(d) >= 0)


def test_locations_with_base_dir_and_odd_names(tmp_path):
    sections = pd.DataFrame({"name": ["a b&c's #1.ogg"], "section": [2], "start_s": [30.0], "end_s": [45.0]})
    path = write_xspf(sections, tmp_path / "x.xspf", config_digest="abc123", base_dir=tmp_path / "music")
    loc = ET.parse(path).getroot().find("x:trackList/x:track/x:location", NS).text
    assert loc.startswith("file:///") and "%20" in loc and "%23" in loc
    assert urllib.parse.unquote(loc) == "file://" + str((tmp_path / "music" / "a b&c's #1.ogg").resolve())


def test_m3u_has_vlc_options(result, tmp_path):
    members = cluster_sections(result, 0)
    path = write_playlist(members, tmp_path / "c0.m3u")
    lines = path.read_text().splitlines()
    assert lines[0] == "#EXTM3U"
    assert f"#CRATEMAP:config-digest={result.config_digest}" in lines
    first = members.iloc[0]
    i = lines.index(f"#EXTVLCOPT:start-time={float(first['start_s'])!r}")
    assert lines[i + 1] == f"#EXTVLCOPT:stop-time={float(first['end_s'])!r}"
    assert lines[i + 2] == first["name"]
    assert sum(line.startswith("#EXTINF:15,") for line in lines) == len(members)


def test_playlists_refuse_unknown_times_and_missing_digest(data_dir, tmp_path):
    table = load_table(data_dir / "out_dataset_1.csv")
    with pytest.raises(ParameterError, match="section times are unknown"):
        write_m3u(table, tmp_path / "t.m3u")
    sections = pd.DataFrame({"name": ["a.ogg"], "section": [0], "start_s": [0.0], "end_s": [15.0]})
    with pytest.raises(ParameterError, match="config digest"):
        write_xspf(sections, tmp_path / "a.xspf")
    with pytest.raises(ParameterError, match="unknown playlist format"):
        write_playlist(sections, tmp_path / "a.pls", config_digest="d")


def test_neighbour_list_playlist(data_dir, tmp_path):
    table = load_table(data_dir / "out_dataset_1.csv", section_seconds=15.0)
    nb = nearest_sections(table, track="tempt of fate", section=5, k=4)
    path = write_xspf(nb, tmp_path / "nb.xspf")
    root = ET.parse(path).getroot()
    assert root.find("x:meta", NS).text == nb.config_digest
    assert len(root.findall("x:trackList/x:track", NS)) == 4


def test_projector_tsvs(result, tmp_path):
    vec, meta = write_projector(result, tmp_path / "vectors.tsv")
    values = np.loadtxt(vec, delimiter="\t")
    assert values.shape == result.data.X.shape
    np.testing.assert_allclose(values, result.data.X, rtol=1e-6)
    frame = pd.read_csv(meta, sep="\t")
    assert len(frame) == len(values)
    assert (frame["config_digest"] == result.config_digest).all()
    assert (frame["cluster"].to_numpy() == result.labels).all()
    # any embedding table
    emb = np.arange(12.0).reshape(4, 3)
    with pytest.raises(ParameterError, match="config digest"):
        write_projector(emb, tmp_path / "e.tsv")
    v2, m2 = write_projector(emb, tmp_path / "e.tsv", meta=pd.DataFrame({"name": list("abcd")}), config_digest="feedbeef")
    assert m2.name == "e_metadata.tsv"
    assert pd.read_csv(m2, sep="\t")["config_digest"].eq("feedbeef").all()
    with pytest.raises(ParameterError, match="disagree"):
        write_projector(emb, tmp_path / "f.tsv", meta=pd.DataFrame({"name": list("abc")}), config_digest="d")


def test_csv_and_parquet_round_trip(result, tmp_path):
    csv = write_table(result, tmp_path / "assign.csv")
    back = pd.read_csv(csv)
    assert (back["cluster"].to_numpy() == result.labels).all()
    assert back["config_digest"].eq(result.config_digest).all()
    assert back["table_digest"].eq(result.data.table_digest).all()
    np.testing.assert_allclose(back[list(result.data.names)].to_numpy(), result.data.raw)
    pqt = write_table(result, tmp_path / "assign.parquet")
    table = pq.read_table(pqt)
    assert table.schema.metadata[DIGEST_KEY.encode()].decode() == result.config_digest
    assert table.num_rows == len(result)
    with pytest.raises(ParameterError, match="unknown table format"):
        write_table(result, tmp_path / "a.xlsx")


def test_every_export_names_the_section_table_it_came_from(result, tmp_path):
    """Playlists, projector files, CSV and Parquet of a clustering all carry its section table's digest."""
    from engine.store.export import TABLE_DIGEST_KEY
    source = result.data.table_digest
    assert source and source != result.config_digest
    members = cluster_sections(result, 0)
    root = ET.parse(write_xspf(members, tmp_path / "c.xspf")).getroot()
    metas = {m.get("rel"): m.text for m in root.findall("x:meta", NS)}
    assert metas["urn:cratemap:config-digest"] == result.config_digest
    assert metas["urn:cratemap:table-digest"] == source
    assert source in root.find("x:annotation", NS).text
    lines = write_m3u(members, tmp_path / "c.m3u").read_text().splitlines()
    assert f"#CRATEMAP:table-digest={source}" in lines
    _, meta = write_projector(result, tmp_path / "v.tsv")
    assert pd.read_csv(meta, sep="\t")["table_digest"].eq(source).all()
    _, meta = write_projector(result.data.X, tmp_path / "w.tsv", meta=result.data.meta, config_digest="d", table_digest="t1")
    assert pd.read_csv(meta, sep="\t")["table_digest"].eq("t1").all()
    pqt = pq.read_table(write_table(result, tmp_path / "a.parquet"))
    assert pqt.schema.metadata[TABLE_DIGEST_KEY.encode()].decode() == source
    assert set(pqt.column("table_digest").to_pylist()) == {source}
