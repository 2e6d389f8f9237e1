"""Traktor NML: what CrateMap writes reads back as written, has Traktor's structure, and merges without loss."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import pytest
from test_rekordbox import _elements, _playlists, _tracks

from engine.errors import ParameterError
from engine.records import DJPlaylist
from engine.store.rekordbox import CUE_PREFIX, FOLDER
from engine.store.traktor import TRAKTOR_KEYS, read_traktor, write_traktor


@pytest.mark.parametrize("root", ["/Users/dj/Music", "/Volumes/USB Stick/Sets", "D:\\Musik"])
def test_what_is_written_reads_back_as_written(root):
    tracks = _tracks(root)
    playlists = _playlists(tracks)
    back = read_traktor(write_traktor(tracks, playlists))
    assert back.program == "traktor" and len(back.tracks) == len(tracks)
    for want, got in zip(tracks, back.tracks):
        assert (got.location, got.name, got.artist, got.key, got.rating) == (want.location, want.name, want.artist, want.key, want.rating)
        assert got.duration_s == pytest.approx(want.duration_s, abs=1e-6) and got.bpm == pytest.approx(want.bpm, abs=1e-6)
        assert [(c.name, round(c.start_s, 3), c.slot) for c in got.cues] == [(CUE_PREFIX + c.name, round(c.start_s, 3), c.slot) for c in want.cues]
        assert [(round(t.start_s, 3), round(t.bpm, 6)) for t in got.tempo] == [(round(t.start_s, 3), round(t.bpm, 6)) for t in want.tempo]
    assert [(p.path, p.locations) for p in back.playlists] == [((FOLDER, *p.path), p.locations) for p in playlists]


def test_the_file_has_traktors_structure():
    tracks = _tracks("/Users/dj/Music")[:2]
    root = ET.fromstring(write_traktor(tracks, [DJPlaylist(path=("P",), locations=(tracks[0].location,))]))
    assert root.tag == "NML" and root.get("VERSION") == "19" and root.find("HEAD").get("PROGRAM") == "Traktor"
    assert root.find("COLLECTION").get("ENTRIES") == "2"
    entry = root.find("COLLECTION/ENTRY")
    loc = entry.find("LOCATION")
    assert (loc.get("VOLUME"), loc.get("DIR"), loc.get("FILE")) == ("Macintosh HD", "/:Users/:dj/:Music/:crate 0/:", "A B.mp3")
    assert entry.find("INFO").get("PLAYTIME") == "180" and entry.find("TEMPO").get("BPM") == "120.000000"
    assert entry.find("MUSICAL_KEY").get("VALUE") == str(TRAKTOR_KEYS.index("Am")) == "21"
    cues = entry.findall("CUE_V2")
    assert [c.get("TYPE") for c in cues] == ["4", "0", "0", "0"] and cues[0].find("GRID").get("BPM") == "120.000000"
    assert cues[0].get("START") == "21.000"  # milliseconds
    assert [c.get("HOTCUE") for c in cues[1:]] == ["-1", "-1", "0"] and cues[2].get("START") == "15123.000"
    top = root.find("PLAYLISTS/NODE")
    assert (top.get("TYPE"), top.get("NAME")) == ("FOLDER", "$ROOT")
    folder = top.find("SUBNODES/NODE")
    assert (folder.get("TYPE"), folder.get("NAME")) == ("FOLDER", FOLDER)
    playlist = folder.find("SUBNODES/NODE")
    assert playlist.get("TYPE") == "PLAYLIST" and playlist.find("PLAYLIST").get("TYPE") == "LIST"
    key = playlist.find("PLAYLIST/ENTRY/PRIMARYKEY")
    assert key.get("TYPE") == "TRACK" and key.get("KEY") == "Macintosh HD/:Users/:dj/:Music/:crate 0/:A B.mp3"


DJ_OWN = """<?xml version="1.0" encoding="UTF-8" standalone="no" ?>
<NML VERSION="19"><HEAD COMPANY="www.native-instruments.com" PROGRAM="Traktor"></HEAD>
<MUSICFOLDERS></MUSICFOLDERS>
<COLLECTION ENTRIES="2">
<ENTRY MODIFIED_DATE="2026/11/30" TITLE="Mine" ARTIST="Me"><LOCATION DIR="/:Users/:dj/:Music/:crate 0/:" FILE="A B.mp3" VOLUME="Macintosh HD" VOLUMEID="Macintosh HD"></LOCATION>
<INFO BITRATE="320000" GENRE="Techno" PLAYTIME="300" PLAYTIME_FLOAT="300.1" RANKING="204"></INFO><TEMPO BPM="126.000000" BPM_QUALITY="100.000000"></TEMPO>
<MUSICAL_KEY VALUE="21"></MUSICAL_KEY>
<CUE_V2 NAME="AutoGrid" DISPL_ORDER="0" TYPE="4" START="100.0" LEN="0.000000" REPEATS="-1" HOTCUE="0"><GRID BPM="126.000000"></GRID></CUE_V2>
<CUE_V2 NAME="my drop" DISPL_ORDER="0" TYPE="0" START="64100.0" LEN="0.000000" REPEATS="-1" HOTCUE="1"></CUE_V2>
</ENTRY>
<ENTRY TITLE="Other" ARTIST="Them"><LOCATION DIR="/:Users/:dj/:Music/:" FILE="other.mp3" VOLUME="Macintosh HD" VOLUMEID="Macintosh HD"></LOCATION></ENTRY>
</COLLECTION>
<SETS ENTRIES="0"></SETS>
<PLAYLISTS><NODE TYPE="FOLDER" NAME="$ROOT"><SUBNODES COUNT="1">
<NODE TYPE="PLAYLIST" NAME="Friday"><PLAYLIST ENTRIES="1" TYPE="LIST" UUID="abc"><ENTRY><PRIMARYKEY TYPE="TRACK" KEY="Macintosh HD/:Users/:dj/:Music/:other.mp3"></PRIMARYKEY></ENTRY></PLAYLIST></NODE>
</SUBNODES></NODE></PLAYLISTS>
</NML>
"""


def test_a_djs_own_collection_loses_nothing_and_a_second_export_adds_nothing_twice():
    ours = _tracks("/Users/dj/Music")[:2]  # the first is the DJ's "Mine"
    playlists = [DJPlaylist(path=("Cluster 0",), locations=(ours[0].location, "/Users/dj/Music/other.mp3"))]
    merged = write_traktor(ours, playlists, merge_into=DJ_OWN.encode())
    kept = _elements(ET.fromstring(merged))
    for tag, attrs in _elements(ET.fromstring(DJ_OWN.encode())):
        if tag in ("NML", "COLLECTION", "SUBNODES"):
            continue  # counts change
        assert any(t == tag and attrs.items() <= a.items() for t, a in kept), f"lost {tag} {attrs}"
    back = read_traktor(merged)
    mine = next(t for t in back.tracks if t.name == "Mine")
    assert mine.rating == 4 and [t.start_s for t in mine.tempo] == [0.1]  # the DJ's grid marker; ours not added
    # the DJ's grid marker holds hot cue slot 0 and their drop slot 1: ours takes slot 2
    assert [c.name for c in mine.cues][0] == "my drop" and {c.slot for c in mine.cues if c.slot >= 0} == {1, 2}
    assert [p.path for p in back.playlists] == [("Friday",), (FOLDER, "Cluster 0")]
    again = read_traktor(write_traktor(ours, playlists, merge_into=merged))
    assert again.tracks == back.tracks and again.playlists == back.playlists


def test_bad_input_is_a_parameter_error():
    with pytest.raises(ParameterError, match="Traktor NML"):
        read_traktor(b"<DJ_PLAYLISTS/>")
    with pytest.raises(ParameterError, match="neither collection"):
        write_traktor(_tracks("/m")[:1], [DJPlaylist(path=("P",), locations=("/elsewhere.mp3",))])
