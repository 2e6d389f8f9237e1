"""analyze --from a DJ's collection: rekordbox XML, Traktor NML, M3U; missing files reported, the DJ's data kept."""

from __future__ import annotations

import shutil

import pytest

from engine.cli.main import main
from engine.errors import ParameterError
from engine.records import DJCue, DJPlaylist, DJTrack
from engine.run.collections import collection_inputs, kept_collection, read_collection
from engine.store.core import Store
from engine.store.locations import path_to_rekordbox
from engine.store.rekordbox import write_rekordbox
from engine.store.traktor import write_traktor


@pytest.fixture
def music(tmp_path, demo_dir):
    """Two demo tracks under names a DJ gives files, and one the collection names that is not here."""
    folder = tmp_path / "My Music" / "Sets & Edits"
    folder.mkdir(parents=True)
    here = [folder / "Trip #1 (100% edit).ogg", folder / "Ёлка 東京.ogg"]
    shutil.copy(demo_dir / "tt1.ogg", here[0])
    shutil.copy(demo_dir / "tt2.ogg", here[1])
    gone = str(folder / "gone.mp3")
    tracks = [
        DJTrack(location=str(here[0]), name="Trip", bpm=126.0, key="Am", rating=4, cues=(DJCue(1.5, "my intro"), DJCue(30.0, "drop", slot=0))),
        DJTrack(location=str(here[1]), name="Elka", bpm=0.0),
        DJTrack(location=gone, name="Gone"),
    ]
    playlists = [DJPlaylist(path=("Sets", "Friday"), locations=(str(here[1]), gone, str(here[0])))]
    return tracks, playlists, here, gone


@pytest.mark.parametrize("fmt", ["rekordbox", "traktor", "m3u"])
def test_analyze_from_a_collection_keeps_the_djs_data_and_reports_what_is_missing(fmt, music, tmp_path, capsys):
    tracks, playlists, here, gone = music
    if fmt == "rekordbox":
        path = tmp_path / "collection.xml"
        path.write_bytes(write_rekordbox(tracks, playlists))
    elif fmt == "traktor":
        path = tmp_path / "collection.nml"
        path.write_bytes(write_traktor(tracks, playlists))
    else:  # a relative line, a file:// URI, an absolute path that is not there, comments
        path = here[0].parent.parent / "Friday.m3u8"
        uri = path_to_rekordbox(str(here[0]))  # file://localhost/...%20...%23...%25...
        path.write_text(f"#EXTM3U\n#EXTINF:60,Elka\nSets & Edits/{here[1].name}\n{gone}\n{uri}\n", encoding="utf-8")
    store = tmp_path / "store"
    code = main(["analyze", "--from", str(path), "--out", str(store), "--quiet"])
    out, err = capsys.readouterr()
    assert code == 1, out + err  # partial: one file is not here
    assert "gone.mp3" in err and "[missing]" in err and "not on this machine" in err
    assert "kept its data for 2, 1 not on this machine" in out
    s = Store(store)
    assert len(s.tracks()) == 2
    kept = {k["location"]: k for k in (kept_collection(s, t.track_id) for t in s.tracks())}
    assert set(kept) == {str(p) for p in here}
    first = kept[str(here[0])]
    assert first["program"] == fmt and first["playlists"] == (["Friday"] if fmt == "m3u" else ["CrateMap/Sets/Friday"])
    if fmt != "m3u":
        assert first["bpm"] == pytest.approx(126.0) and first["key"] == "Am" and first["rating"] == 4
        assert list(first["cues"]["name"]) == ["CM my intro", "CM drop"] and list(first["cues"]["slot"]) == [-1, 0]


def test_collections_are_told_apart_and_bad_ones_refused(tmp_path, music):
    tracks, playlists, here, gone = music
    odd = tmp_path / "collection.txt"
    odd.write_bytes(write_traktor(tracks, playlists))  # an NML under another suffix
    assert read_collection(odd).program == "traktor"
    inputs, missing = collection_inputs(read_collection(odd))
    assert [i.name for i in inputs] == [p.name for p in here] and [m.name for m in missing] == ["gone.mp3"]
    (tmp_path / "notes.txt").write_text("hello")
    with pytest.raises(ParameterError, match="not a rekordbox XML"):
        read_collection(tmp_path / "notes.txt")
    with pytest.raises(ParameterError, match="no collection file"):
        read_collection(tmp_path / "none.xml")
    assert main(["analyze", str(here[0]), "--from", str(odd), "--out", str(tmp_path / "s")]) == 2


def test_files_not_on_this_machine_are_found_among_the_uploaded_ones_by_the_tail_of_their_path(tmp_path):
    """A collection made on the DJ's computer, read here beside their uploaded music folder."""
    from engine.records import DJCollection, InputFile
    from engine.run.collections import locate_collection

    def upload(name: str) -> InputFile:
        path = tmp_path / "uploads" / str(abs(hash(name))) / name.rsplit("/", 1)[-1]
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"x")
        return InputFile(str(path), name)

    given = [upload("Music/House/Intro.mp3"), upload("Music/Techno/Intro.mp3"), upload("Music/Techno/Peak Time.MP3"),
             upload("Other/Dup.mp3"), upload("Else/Dup.mp3")]  # fmt: skip
    here = tmp_path / "on this machine.ogg"
    here.write_bytes(b"y")
    collection = DJCollection(
        tracks=tuple(DJTrack(location=loc) for loc in (
            "D:\\Music\\Techno\\Intro.mp3", "/Users/dj/music/house/intro.mp3", "/Users/dj/Music/Techno/peak time.mp3",
            str(here), "/Users/dj/Music/Dup.mp3", "/Users/dj/Music/Gone.mp3",
        )),
        program="rekordbox",
    )  # fmt: skip
    found, missing = locate_collection(collection, given)
    assert found["D:\\Music\\Techno\\Intro.mp3"].path == given[1].path  # two Intro.mp3: the folder decides
    assert found["/Users/dj/music/house/intro.mp3"].path == given[0].path  # letter case ignored, as on Windows and macOS
    assert found["/Users/dj/Music/Techno/peak time.mp3"].path == given[2].path
    assert found[str(here)].path == str(here)  # a file on this machine is read where it is
    assert found["D:\\Music\\Techno\\Intro.mp3"].name == "Intro.mp3"
    assert {(e.name, e.reason) for e in missing} == {("Dup.mp3", "ambiguous"), ("Gone.mp3", "missing")}
    assert "2 of the files given" in next(e.detail for e in missing if e.reason == "ambiguous")
