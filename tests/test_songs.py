"""What counts as one song: versions named in a library's MANIFEST.tsv are one song, other tracks their own."""

from __future__ import annotations

import hashlib

import pandas as pd
import pytest

from engine.errors import ParameterError
from engine.analysis.songs import read_manifest, song_groups, version_groups


def _track_id(path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_the_demo_manifest_names_its_two_version_pairs(demo_dir):
    groups = read_manifest(demo_dir / "MANIFEST.tsv")
    assert groups == {
        "sixtyfour_.ogg": "nexuiz:sixtyfour",
        "sixtyfour_revisited.ogg": "nexuiz:sixtyfour",
        "track3.opus": "wz2100:track3",
        "track3_enhanced.opus": "wz2100:track3",
    }


def test_demo_versions_are_one_song_and_the_rest_their_own(demo_files):
    ids = {p.name: _track_id(p) for p in demo_files}
    versions = version_groups({ids[p.name]: str(p) for p in demo_files})
    assert versions[ids["track3.opus"]] == versions[ids["track3_enhanced.opus"]]
    assert versions[ids["sixtyfour_.ogg"]] == versions[ids["sixtyfour_revisited.ogg"]]
    assert versions[ids["track3.opus"]] != versions[ids["sixtyfour_.ogg"]]
    assert len(versions) == 4
    meta = pd.DataFrame({"track_id": [ids[n] for n in ("track3.opus", "track3_enhanced.opus", "tt1.ogg", "tt1.ogg", "tt2.ogg")]})
    songs = song_groups(meta, versions)
    assert songs[0] == songs[1] and songs[2] == songs[3]
    assert len(set(songs)) == 3
    assert len(set(song_groups(meta))) == 4  # with no mapping, every track is its own song


def test_folders_without_a_manifest_and_unknown_paths_name_no_versions(tmp_path):
    (tmp_path / "a.wav").write_bytes(b"x")
    assert version_groups({"t1": str(tmp_path / "a.wav"), "t2": ""}) == {}


def test_a_malformed_manifest_is_a_parameter_error(tmp_path):
    (tmp_path / "MANIFEST.tsv").write_text("file\tgroup\na.wav\tx\n", encoding="utf-8")
    with pytest.raises(ParameterError, match="version_group"):
        version_groups({"t1": str(tmp_path / "a.wav")})
    with pytest.raises(ParameterError, match="track_id"):
        song_groups(pd.DataFrame({"name": ["a"]}))
