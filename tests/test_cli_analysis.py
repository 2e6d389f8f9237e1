"""The cluster, similar and export subcommands, in process (engine.cli.main.main)."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET

import pandas as pd
import pytest

from engine.cli.main import main

NS = {"x": "http://xspf.org/ns/0/", "vlc": "http://www.videolan.org/vlc/playlist/ns/0/"}


@pytest.fixture(scope="module")
def store(tmp_path_factory, demo_dir):
    root = tmp_path_factory.mktemp("store")
    files = [str(demo_dir / n) for n in ("tt1.ogg", "tt2.ogg", "tt3.ogg")]
    assert main(["analyze", *files, "--out", str(root), "--quiet"]) == 0
    return root


def test_cluster_json_with_sweep(data_dir, capsys):
    code = main(["cluster", str(data_dir / "out_dataset_1.csv"), "--preset", "thesis", "--sweep", "2-4", "--bootstrap", "2", "--json"])
    assert code == 0
    out = json.loads(capsys.readouterr().out)
    assert [r["k"] for r in out["sweep"]["rows"]] == [2, 3, 4]
    assert out["sweep"]["suggested_k"] in (2, 3, 4) and out["sweep"]["reason"]
    assert out["features"][:2] == ["amplitude_envelope", "rmse"]


def test_cluster_options_override_the_preset(data_dir, capsys):
    code = main(["cluster", str(data_dir / "out_dataset_1.csv"), "--preset", "thesis", "--method", "agglomerative", "--metric", "cosine", "--k", "3", "--json"])
    assert code == 0
    out = json.loads(capsys.readouterr().out)
    assert out["method"] == "agglomerative" and out["metric_used"] == "cosine" and out["k"] == 3
    assert out["config"]["scaler"] == "l2-column"


def test_features_from_elsewhere_with_commas(tmp_path, capsys, rng):
    frame = pd.DataFrame(rng.normal(size=(40, 3)), columns=["bpm_like", "energy", "brightness"])
    frame.insert(0, "part", [f"part_{i % 8}" for i in range(40)])
    frame.insert(0, "filename", [f"song{i // 8}.flac" for i in range(40)])
    path = tmp_path / "mine.csv"
    frame.to_csv(path, index=False)
    assert main(["cluster", str(path), "--features", "energy,brightness", "--k", "3", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["features"] == ["energy", "brightness"] and sum(out["sizes"]) == 40
    assert main(["cluster", str(path), "--features", "tempo"]) == 2
    assert "not in the table" in capsys.readouterr().err


def test_store_cluster_similar_export(store, tmp_path, capsys):
    assert main(["cluster", str(store), "--k", "3", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["n_rows"] == 12 and sum(out["sizes"]) == 12
    assert not any(f.startswith("chroma_") and f != "chroma_stft" for f in out["features"])  # default modelling set

    assert main(["similar", str(store), "--track", "tt1", "--section", "1", "--k", "3", "--other-tracks", "--json"]) == 0
    nb = json.loads(capsys.readouterr().out)
    assert nb["query"] == {"name": "tt1.ogg", "section": 1}
    assert len(nb["neighbours"]) == 3 and all(n["name"] != "tt1.ogg" for n in nb["neighbours"])
    d = [n["distance"] for n in nb["neighbours"]]
    assert d == sorted(d)
    labels = [n["phrase_label"] for n in nb["neighbours"]]  # each section's phrase label, listed beside it
    assert set(labels) <= {"intro", "build", "drop", "breakdown", "outro", ""} and any(labels)
    assert main(["similar", str(store), "--track", "tt1", "--section", "1", "--k", "3", "--other-tracks"]) == 0
    listed = [line for line in capsys.readouterr().out.splitlines() if line[:3].strip().isdigit()]  # the ranked rows
    assert len(listed) == 3
    for line, n in zip(listed, nb["neighbours"]):
        assert line.endswith(f"section {n['section']}" + (f"  [{n['phrase_label']} {n['phrase_confidence']:.2f}]" if n["phrase_label"] else ""))

    xspf = tmp_path / "c0.xspf"
    assert main(["export", str(store), "--what", "cluster:0", "--k", "3", "--format", "xspf", "-o", str(xspf)]) == 0
    root = ET.parse(xspf).getroot()
    tracks = root.findall("x:trackList/x:track", NS)
    assert len(tracks) == out["sizes"][0]
    assert all(t.find("x:location", NS).text.startswith("file:///") for t in tracks)
    options = [o.text for o in tracks[0].findall("x:extension/vlc:option", NS)]
    assert options[0].startswith("start-time=") and options[1].startswith("stop-time=")
    capsys.readouterr()

    m3u = tmp_path / "n.m3u"
    assert main(["export", str(store), "--what", "similar:tt2@0", "--neighbours", "2", "-o", str(m3u)]) == 0
    assert sum(line.startswith("#EXTVLCOPT:start-time=") for line in m3u.read_text().splitlines()) == 2
    # the exported neighbours come from the same space as `similar`: auto is classical without embeddings
    again = tmp_path / "n-classical.m3u"
    assert main(["export", str(store), "--what", "similar:tt2@0", "--neighbours", "2", "--space", "classical", "-o", str(again)]) == 0
    assert again.read_text() == m3u.read_text()
    capsys.readouterr()
    assert main(["export", str(store), "--what", "similar:tt2@0", "--space", "invariant", "-o", str(tmp_path / "x.m3u")]) == 2
    assert "musicnn" in capsys.readouterr().err

    vec = tmp_path / "proj.tsv"
    assert main(["export", str(store), "--what", "assignments", "--k", "3", "--format", "projector", "-o", str(vec)]) == 0
    meta = pd.read_csv(tmp_path / "proj_metadata.tsv", sep="\t")
    assert len(meta) == 12 and "cluster" in meta.columns and meta["config_digest"].nunique() == 1

    pq_path = tmp_path / "feat.parquet"
    assert main(["export", str(store), "--what", "track:tt3", "-o", str(pq_path)]) == 0
    frame = pd.read_parquet(pq_path)
    assert set(frame["name"]) == {"tt3.ogg"} and "mfcc1" in frame.columns and frame["config_digest"].nunique() == 1


def test_export_usage_errors(data_dir, tmp_path, capsys):
    csv = str(data_dir / "out_dataset_1.csv")
    assert main(["export", csv, "--what", "cluster:9", "-o", str(tmp_path / "x.m3u"), "--section-seconds", "15"]) == 2
    assert "no cluster 9" in capsys.readouterr().err
    assert main(["export", csv, "--what", "cluster:1", "-o", str(tmp_path / "x.xspf")]) == 2
    assert "--section-seconds" in capsys.readouterr().err
    assert main(["export", csv, "--what", "bogus", "-o", str(tmp_path / "x.csv")]) == 2
    assert main(["export", csv, "-o", str(tmp_path / "x.doc")]) == 2
