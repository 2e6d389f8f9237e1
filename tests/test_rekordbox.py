"""rekordbox XML: what CrateMap writes reads back as written, and a DJ's own collection loses nothing."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import pytest

from engine.errors import ParameterError
from engine.records import DJCue, DJPlaylist, DJTempo, DJTrack
from engine.store.locations import under_root
from engine.store.rekordbox import CUE_PREFIX, FOLDER, read_rekordbox, write_rekordbox

NAMES = ["A B.mp3", "It's \"Live\".flac", "#1 Hit.mp3", "100% Pure.wav", "Drum & Bass.aiff", "Ёлка.ogg", "東京 ナイト.m4a"]
COLOURS = [(40, 226, 20), (48, 90, 255), (230, 40, 40)]


def _tracks(root: str) -> list[DJTrack]:
    out = []
    for i, name in enumerate(NAMES):
        out.append(
            DJTrack(
                location=under_root(root, f"crate {i % 2}/{name}"),
                name=name.rsplit(".", 1)[0],
                artist="Artist & Co",
                duration_s=180.0 + i,
                bpm=120.0 + i * 0.5,
                key=["Am", "F#m", "Db", "C", "Ebm", "G", "Bbm"][i],
                cues=(
                    DJCue(start_s=0.5 + i / 1000, name=f"C{i % 3} · 8A · E7 · 124"),
                    DJCue(start_s=15.123, name="C1 · 9A · E6 · 124"),
                    DJCue(start_s=30.0 + i * 0.001, name="drop", slot=i % 8, colour=COLOURS[i % 3]),
                ),
                tempo=(DJTempo(start_s=0.021 + i / 1000, bpm=120.0 + i * 0.5, beat=1 + i % 4),),
                rating=i % 6,
            )
        )
    return out


def _playlists(tracks: list[DJTrack]) -> list[DJPlaylist]:
    """Two nested crates and a mix path over ``tracks``."""
    return [
        DJPlaylist(path=("Clusters", "Cluster 0"), locations=tuple(t.location for t in tracks[::2])),
        DJPlaylist(path=("Clusters", "Cluster 1"), locations=tuple(t.location for t in tracks[1::2])),
        DJPlaylist(path=("Mix path 1",), locations=(tracks[3].location, tracks[0].location)),
    ]


@pytest.mark.parametrize("root", ["/Users/dj/Music", "D:\\Musik"])
def test_what_is_written_reads_back_as_written(root):
    tracks = _tracks(root)
    playlists = _playlists(tracks)
    back = read_rekordbox(write_rekordbox(tracks, playlists))
    assert back.program == "rekordbox" and len(back.tracks) == len(tracks)
    for want, got in zip(tracks, back.tracks):
        assert (got.location, got.name, got.artist, got.key, got.rating) == (want.location, want.name, want.artist, want.key, want.rating)
        assert got.duration_s == round(want.duration_s) and got.bpm == pytest.approx(want.bpm, abs=0.005)
        assert [(c.name, round(c.start_s, 3), c.slot, c.colour) for c in got.cues] == [
            (CUE_PREFIX + c.name, round(c.start_s, 3), c.slot, c.colour if c.slot >= 0 else None) for c in want.cues
        ]
        assert [(round(t.start_s, 3), t.bpm, t.beat) for t in got.tempo] == [(round(t.start_s, 3), round(t.bpm, 2), t.beat) for t in want.tempo]
    assert [(p.path, p.locations) for p in back.playlists] == [((FOLDER, *p.path), p.locations) for p in playlists]


def test_the_file_has_rekordbox_structure():
    data = write_rekordbox(_tracks("/Users/dj/Music")[:2], [DJPlaylist(path=("P",), locations=(_tracks("/Users/dj/Music")[0].location,))])
    assert data.startswith(b"<?xml") and b"UTF-8" in data[:60]
    root = ET.fromstring(data)
    assert root.tag == "DJ_PLAYLISTS" and root.find("COLLECTION").get("Entries") == "2"
    track = root.find("COLLECTION/TRACK")
    assert {"TrackID", "Name", "Artist", "TotalTime", "AverageBpm", "Tonality", "Location", "Rating"} <= set(track.attrib)
    assert track.get("Location").startswith("file://localhost/Users/dj/Music/crate%200/")
    tempo = track.find("TEMPO")
    assert tempo.get("Metro") == "4/4" and tempo.get("Inizio") == "0.021"
    marks = track.findall("POSITION_MARK")
    assert [m.get("Num") for m in marks] == ["-1", "-1", "0"] and all(m.get("Type") == "0" for m in marks)
    assert "Red" not in marks[0].attrib and marks[2].get("Green") == "226"
    node = root.find("PLAYLISTS/NODE")
    assert node.get("Name") == "ROOT" and node.find("NODE").get("Name") == FOLDER
    playlist = node.find("NODE/NODE")
    assert playlist.get("Type") == "1" and playlist.get("KeyType") == "0" and playlist.find("TRACK").get("Key") == track.get("TrackID")


DJ_OWN = """<?xml version="1.0" encoding="UTF-8"?>
<DJ_PLAYLISTS Version="1.0.0">
  <PRODUCT Name="rekordbox" Version="6.8.5" Company="AlphaTheta"/>
  <COLLECTION Entries="2">
    <TRACK TrackID="17" Name="Mine" Artist="Me" Genre="Techno" Comments="warm-up &amp; peak" Rating="204"
           TotalTime="300" AverageBpm="126.00" Tonality="Am" Location="file://localhost/Users/dj/Music/crate%200/A%20B.mp3">
      <TEMPO Inizio="0.100" Bpm="126.00" Metro="4/4" Battito="1"/>
      <POSITION_MARK Name="my intro" Type="0" Start="0.100" Num="-1"/>
      <POSITION_MARK Name="my drop" Type="0" Start="64.100" Num="0" Red="255" Green="0" Blue="0"/>
    </TRACK>
    <TRACK TrackID="40" Name="Other" Artist="Them" TotalTime="200" AverageBpm="0.00" Location="file://localhost/Users/dj/Music/other.mp3"/>
  </COLLECTION>
  <PLAYLISTS>
    <NODE Type="0" Name="ROOT" Count="1">
      <NODE Type="0" Name="My Sets" Count="1">
        <NODE Name="Friday" Type="1" KeyType="0" Entries="2"><TRACK Key="40"/><TRACK Key="17"/></NODE>
      </NODE>
    </NODE>
  </PLAYLISTS>
</DJ_PLAYLISTS>
"""


def _elements(root: ET.Element) -> list[tuple[str, dict]]:
    return [(el.tag, dict(el.attrib)) for el in root.iter()]


def test_a_djs_own_collection_loses_nothing_and_a_second_export_adds_nothing_twice():
    ours = _tracks("/Users/dj/Music")[:2]  # the first is the DJ's "Mine"
    playlists = [DJPlaylist(path=("Cluster 0",), locations=(ours[0].location, ours[1].location, "/Users/dj/Music/other.mp3"))]
    merged = write_rekordbox(ours, playlists, merge_into=DJ_OWN.encode())
    original = ET.fromstring(DJ_OWN.encode())
    result = ET.fromstring(merged)
    kept = _elements(result)
    for tag, attrs in _elements(original):
        if tag in ("DJ_PLAYLISTS", "COLLECTION") or (tag == "NODE" and attrs.get("Name") == "ROOT"):
            continue  # counts change
        assert any(t == tag and attrs.items() <= a.items() for t, a in kept), f"lost {tag} {attrs}"
    back = read_rekordbox(merged)
    mine = next(t for t in back.tracks if t.name == "Mine")
    assert mine.rating == 4 and [t.start_s for t in mine.tempo] == [0.1]  # the DJ's grid stays; ours is not added
    names = [c.name for c in mine.cues]
    assert names[:2] == ["my intro", "my drop"] and all(n.startswith(CUE_PREFIX) for n in names[2:])
    hot = {c.slot for c in mine.cues if c.slot >= 0}
    assert hot == {0, 1}  # ours moved to a free slot; the DJ's hot cue A stays theirs
    assert [p.path for p in back.playlists] == [("My Sets", "Friday"), (FOLDER, "Cluster 0")]
    assert len(back.tracks) == 3 and result.find("COLLECTION").get("Entries") == "3"
    again = read_rekordbox(write_rekordbox(ours, playlists, merge_into=merged))
    assert again.tracks == back.tracks and again.playlists == back.playlists


def test_bad_input_is_a_parameter_error():
    with pytest.raises(ParameterError, match="rekordbox XML"):
        read_rekordbox(b"<NML VERSION='19'/>")
    with pytest.raises(ParameterError, match="readable"):
        read_rekordbox(b"not xml")
    with pytest.raises(ParameterError, match="neither collection"):
        write_rekordbox(_tracks("/m")[:1], [DJPlaylist(path=("P",), locations=("/elsewhere.mp3",))])
    with pytest.raises(ParameterError, match="slots 0-7"):
        write_rekordbox([DJTrack(location="/m/a.mp3", cues=(DJCue(1.0, "x", slot=8),))])


@pytest.mark.parametrize("root", ["/Users/dj/Music", "D:\\Musik"])
def test_an_independent_reader_reads_back_what_is_written(root, tmp_path):
    """pyrekordbox's XML reader (a third-party library) finds every track, cue, tempo, key and playlist as written."""
    from pathlib import PurePosixPath, PureWindowsPath

    from pyrekordbox.rbxml import RekordboxXml

    tracks = _tracks(root)
    playlists = _playlists(tracks)
    path = tmp_path / "cratemap.xml"
    path.write_bytes(write_rekordbox(tracks, playlists))
    xml = RekordboxXml(str(path))
    assert xml.num_tracks == len(tracks)
    got = xml.get_tracks()
    for want, track in zip(tracks, got):
        # pyrekordbox gives the URI's path without the leading "/" of a POSIX path
        loc = track["Location"]
        read = PureWindowsPath(loc) if root[1:2] == ":" else PurePosixPath("/" + loc.lstrip("/"))
        assert str(read) == want.location
        assert track["Name"] == want.name and track["Artist"] == want.artist and track["Tonality"] == want.key
        assert track["AverageBpm"] == pytest.approx(want.bpm, abs=0.005) and track["TotalTime"] == round(want.duration_s)
        assert [(m.Name, round(m.Start, 3), m.Num) for m in track.marks] == [(CUE_PREFIX + c.name, round(c.start_s, 3), c.slot) for c in want.cues]
        assert [(round(t.Inizio, 3), round(t.Bpm, 2)) for t in track.tempos] == [(round(t.start_s, 3), round(t.bpm, 2)) for t in want.tempo]
    ids = {t["TrackID"]: str(w.location) for t, w in zip(got, tracks)}
    folder = xml.get_playlist(FOLDER)
    for playlist in playlists:
        node = xml.get_playlist(FOLDER, *playlist.path)
        assert [ids[k] for k in node.get_tracks()] == list(playlist.locations)
    assert [n.name for n in folder.get_playlists()] == ["Clusters", "Mix path 1"]
