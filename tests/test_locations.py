"""Track locations as rekordbox and Traktor write them: exact both ways, for any name a DJ gives a file."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from engine.errors import ParameterError
from engine.store.locations import (
    MAC_SYSTEM_VOLUME,
    path_to_rekordbox,
    path_to_traktor,
    rekordbox_to_path,
    traktor_to_path,
    under_root,
)

HARD_NAMES = [
    "A B.mp3", "It's \"Live\".flac", "#1 Hit.mp3", "100% Pure.wav", "Drum & Bass.aiff", "What?.mp3",
    "a+b=c;d,e.mp3", "Café del Mar.mp3", "Ёлка.ogg", "東京 ナイト.m4a", "🎧 mix.mp3", "dj%20name.mp3",
]
# a folder or file name any of the three systems allows: no separators, no NUL, not "." or ".."
NAME = st.text(st.characters(blacklist_categories=("Cs", "Cc"), blacklist_characters="/\\:*?\"<>|"), min_size=1, max_size=24).filter(
    lambda s: s.strip(" .") == s and s not in (".", "..")
)


@pytest.mark.parametrize("name", HARD_NAMES)
@pytest.mark.parametrize("folder", ["/Users/dj/Music", "/Volumes/USB Stick/Sets", "D:\\Music\\Sets", "C:\\"])
def test_rekordbox_locations_invert_exactly(folder, name):
    path = under_root(folder, name)
    location = path_to_rekordbox(path)
    assert location.startswith("file://localhost/") and location.isascii()
    assert not set(location) & set(" #?&\"'<>")  # escaped: the URI means the same in XML, a browser and rekordbox
    assert rekordbox_to_path(location) == path
    # and through XML, as the file is written and read
    element = ET.fromstring(ET.tostring(ET.Element("TRACK", Location=location)))
    assert rekordbox_to_path(element.get("Location")) == path


@pytest.mark.parametrize("name", HARD_NAMES)
@pytest.mark.parametrize("folder", ["/Users/dj/Music", "/Volumes/USB Stick/Sets", "D:\\Music\\Sets"])
def test_traktor_locations_invert_exactly(folder, name):
    path = under_root(folder, name)
    volume, directory, file = path_to_traktor(path)
    assert directory.startswith("/:") and directory.endswith("/:") and file == name
    assert traktor_to_path(volume, directory, file) == path


@settings(max_examples=200, deadline=None)
@given(st.lists(NAME, min_size=1, max_size=4), st.sampled_from(["/Users/dj", "/Volumes/Disk 2", "E:\\", "E:\\Musik"]))
def test_any_name_survives_both_ways(parts, root):
    path = under_root(root, "/".join(parts))
    assert rekordbox_to_path(path_to_rekordbox(path)) == path
    assert traktor_to_path(*path_to_traktor(path)) == path


@pytest.mark.parametrize(
    ("location", "path"),
    [
        ("file://localhost/Users/dj/Music/A%20B.mp3", "/Users/dj/Music/A B.mp3"),  # rekordbox on macOS
        ("file://localhost/C:/Users/DJ/Music/Artist%20-%20Title.mp3", "C:\\Users\\DJ\\Music\\Artist - Title.mp3"),  # on Windows
        ("file:///Users/dj/Music/A%20B.mp3", "/Users/dj/Music/A B.mp3"),  # other tools
        ("file:///D:/Music/x.mp3", "D:\\Music\\x.mp3"),
        ("file://D:/Music/x.mp3", "D:\\Music\\x.mp3"),
        ("file://localhost/Volumes/USB/Caf%C3%A9.mp3", "/Volumes/USB/Café.mp3"),
        ("FILE://localhost/Users/dj/a.mp3", "/Users/dj/a.mp3"),
        ("file://nas/share/Music/a.mp3", "\\\\nas\\share\\Music\\a.mp3"),  # a network share
    ],
)
def test_locations_other_programs_write_are_read(location, path):
    assert rekordbox_to_path(location) == path


def test_traktor_volumes_are_what_traktor_writes():
    assert path_to_traktor("/Users/dj/Music/a.mp3") == (MAC_SYSTEM_VOLUME, "/:Users/:dj/:Music/:", "a.mp3")
    assert path_to_traktor("/Volumes/USB/Sets/a.mp3") == ("USB", "/:Sets/:", "a.mp3")
    assert path_to_traktor("C:\\Music\\a.mp3") == ("C:", "/:Music/:", "a.mp3")
    assert path_to_traktor("/a.mp3") == (MAC_SYSTEM_VOLUME, "/:", "a.mp3")
    assert traktor_to_path("", "/:Users/:dj/:", "a.mp3") == "/Users/dj/a.mp3"  # older NMLs leave VOLUME empty


@pytest.mark.parametrize("bad", ["", "Music/a.mp3", "a.mp3"])
def test_relative_paths_are_refused(bad):
    with pytest.raises(ParameterError):
        path_to_rekordbox(bad)


@pytest.mark.parametrize("bad", ["http://x/a.mp3", "/Users/a.mp3", "C:\\a.mp3"])
def test_only_file_uris_are_rekordbox_locations(bad):
    with pytest.raises(ParameterError, match="file: URI"):
        rekordbox_to_path(bad)


@pytest.mark.parametrize(("volume", "directory", "file"), [("C:", "Music/", "a.mp3"), ("C:", "/:Music/:", "")])
def test_malformed_traktor_locations_are_refused(volume, directory, file):
    with pytest.raises(ParameterError):
        traktor_to_path(volume, directory, file)


def test_an_upload_maps_under_the_root_the_visitor_types():
    assert under_root("D:\\Music", "crate/a b.mp3") == "D:\\Music\\crate\\a b.mp3"
    assert under_root("/Users/me/Music/", "crate/a b.mp3") == "/Users/me/Music/crate/a b.mp3"
    for bad in ("../etc/passwd", "/etc/passwd", ""):
        with pytest.raises(ParameterError):
            under_root("/Users/me/Music", bad)
    with pytest.raises(ParameterError):
        under_root("Music", "a.mp3")
