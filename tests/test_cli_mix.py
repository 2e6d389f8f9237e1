"""The mix, transition, path and describe subcommands, in process (engine.cli.main.main)."""

from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET

import pandas as pd
import pytest
import soundfile as sf

from engine.cli.main import main
from tests.mix_support import demo_store


@pytest.fixture(autouse=True)
def _store_built_quietly(capsys):
    demo_store()  # the first call analyses (and prints); keep that out of the outputs checked
    capsys.readouterr()


def test_mix_json(capsys):
    assert main(["mix", str(demo_store()), "--track", "tt2", "--section", "1", "--k", "4", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    q = out["query"]
    assert q["name"] == "tt2.ogg" and q["section"] == 1
    assert 155 < q["bpm"] < 165 and q["camelot"][-1] in "AB" and 1 <= q["energy_level"] <= 10
    s = out["suggestions"]
    assert len(s) == 4 and all(x["name"] != "tt2.ogg" for x in s)
    assert [x["score"] for x in s] == sorted((x["score"] for x in s), reverse=True)
    assert all("BPM" in x["reason"] and "→" in x["reason"] for x in s)


def test_mix_text_and_weights(capsys):
    assert main(["mix", str(demo_store()), "--track", "JDruid", "--section", "2", "--k", "3", "--weights", "0,1,0,0", "--same-track"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("query        JDruid-Trip_on_the_Funny_Boat.ogg section 2")
    assert "JDruid-Trip_on_the_Funny_Boat.ogg section" in out.splitlines()[2]  # tempo only: its own sections first


def test_mix_and_path_name_each_sections_phrase_label(capsys, tmp_path):
    """Every section listed carries its phrase label and confidence, as the store's section rows hold them."""
    from engine.describe.phrases import phrase_text
    from engine.store.core import Store

    meta = Store(demo_store()).load_sections().meta
    label = {(n, int(s)): phrase_text(a, b) for n, s, a, b in meta[["name", "section", "phrase_label", "phrase_confidence"]].itertuples(index=False)}
    assert sum(bool(v) for v in label.values()) >= 0.8 * len(label)
    assert main(["mix", str(demo_store()), "--track", "tt2", "--section", "1", "--k", "4", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert phrase_text(out["query"]["phrase_label"], out["query"]["phrase_confidence"]) == label[("tt2.ogg", 1)]
    for x in out["suggestions"]:
        assert phrase_text(x["phrase_label"], x["phrase_confidence"]) == label[(x["name"], x["section"])]
    assert main(["mix", str(demo_store()), "--track", "tt2", "--section", "1", "--k", "4"]) == 0
    lines = capsys.readouterr().out.splitlines()
    want = label[("tt2.ogg", 1)]
    assert lines[0].startswith(f"query        tt2.ogg section 1{f' [{want}]' if want else ''} (")
    for line, x in zip(lines[2:], out["suggestions"]):
        want = label[(x["name"], x["section"])]
        assert f"{x['name']} section {x['section']}{f' [{want}]' if want else ''}: " in line
    assert main(["path", str(demo_store()), "--from", "tt1.ogg:0", "--to", "tt4.ogg:3", "--steps", "3"]) == 0
    steps = capsys.readouterr().out.splitlines()[1:]
    assert all(re.search(r"section \d+( \[(intro|build|drop|breakdown|outro) [01]\.\d\d\])? \(", line) for line in steps)
    assert any("[" in line for line in steps)


def test_transition_writes_a_wav(tmp_path, capsys):
    out = tmp_path / "preview.wav"
    code = main(["transition", str(demo_store()), "--from", "tt1.ogg:1", "--to", "tt4.ogg:2", "--bars", "2", "--lead-bars", "1", "--tail-bars", "1", "-o", str(out)])
    assert code == 0
    y, sr = sf.read(out)
    text = capsys.readouterr().out
    bpm = float(text.split(" to ")[1].split(" BPM")[0])
    assert sr == 44_100 and abs(len(y) / sr - 4 * 4 * 60 / bpm) < 1e-3
    assert abs(y).max() <= 0.99
    assert "equal power" in text


def test_path_and_playlist(tmp_path, capsys):
    out = tmp_path / "path.xspf"
    assert main(["path", str(demo_store()), "--from", "tt1.ogg:0", "--to", "tt4.ogg:3", "--steps", "3", "-o", str(out), "--json"]) == 0
    res = json.loads(capsys.readouterr().out)
    names = [(s["name"], s["section"]) for s in res["sections"]]
    assert len(names) == 4 and names[0] == ("tt1.ogg", 0) and names[-1] == ("tt4.ogg", 3)
    tracks = ET.parse(out).getroot().findall(".//{http://xspf.org/ns/0/}track")
    assert len(tracks) == 4 and tracks[0].find("{http://xspf.org/ns/0/}location").text.startswith("file://")


def test_describe_exports_with_features(tmp_path, capsys):
    out = tmp_path / "d.csv"
    assert main(["describe", str(demo_store()), "-o", str(out)]) == 0
    frame = pd.read_csv(out)
    assert {"bpm", "camelot", "energy_level", "rmse", "mfcc1", "config_digest"} <= set(frame.columns)
    assert len(frame) == 25
    capsys.readouterr()
    assert main(["describe", str(demo_store()), "--json"]) == 0
    tracks = json.loads(capsys.readouterr().out)["tracks"]
    assert len(tracks) == 4


def test_usage_errors(capsys, tmp_path):
    assert main(["mix", str(demo_store()), "--track", "nope", "--section", "0"]) == 2
    assert "no track named" in capsys.readouterr().err
    assert main(["transition", str(demo_store()), "--from", "tt1.ogg", "--to", "tt2.ogg:0", "-o", str(tmp_path / "x.wav")]) == 2
    assert "NAME:INDEX" in capsys.readouterr().err
    assert main(["path", str(demo_store()), "--from", "tt1.ogg:0", "--to", "JDruid:3", "--steps", "2"]) == 2
    assert "no chain" in capsys.readouterr().err
    assert main(["mix", str(tmp_path / "missing"), "--track", "x", "--section", "0"]) == 2
