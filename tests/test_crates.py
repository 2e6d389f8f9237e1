"""CrateMap's clusters as DJ software keeps them: beat grids, cues, hot cues and crates from the demo."""

from __future__ import annotations

import re
import shutil

import numpy as np
import pytest

from engine.config import AnalysisConfig, ClusterConfig, MixConfig
from engine.mixing.crates import GRID_TOLERANCE_S, beat_grid_tempo, cluster_rgb, dj_crates
from engine.mixing.descriptors import describe_store
from engine.run.inputs import collect_inputs
from engine.run.pipeline import analyze
from engine.store.core import Store
from engine.store.rekordbox import CUE_PREFIX, read_rekordbox, write_rekordbox

CUE = re.compile(r"^C\d+ · (?:(?:intro|build|drop|breakdown|outro) [01]\.\d\d · )?\d{1,2}[AB] · E\d{1,2} · \d{2,3}$")
HOT = re.compile(r"^Cluster (\d+)(?: · (?:intro|build|drop|breakdown|outro) [01]\.\d\d)?$")


def _grid(tempo, end_s: float) -> np.ndarray:
    """Every beat a grid of stretches puts down, up to ``end_s``."""
    beats = []
    for i, t in enumerate(tempo):
        stop = tempo[i + 1].start_s if i + 1 < len(tempo) else end_s
        beats.append(np.arange(t.start_s, stop - 1e-9, 60.0 / t.bpm))
    return np.concatenate(beats) if beats else np.zeros(0)


@pytest.fixture(scope="module")
def demo_store(tmp_path_factory, demo_dir):
    folder = tmp_path_factory.mktemp("crate")
    for name in ("tt1.ogg", "tt2.ogg", "sixtyfour_.ogg", "track3.opus"):
        shutil.copy(demo_dir / name, folder / name)
    store = Store(tmp_path_factory.mktemp("store"))
    result = analyze(collect_inputs([folder])[0], store=store, jobs=1)
    assert not result.errors
    return store


def test_a_steady_grid_is_one_stretch_and_a_drifting_one_is_reanchored():
    period = 60.0 / 124.0
    steady = 0.2 + period * np.arange(400)
    assert beat_grid_tempo(steady, 124.0) == beat_grid_tempo(steady, 124.0)[:1]
    rng = np.random.default_rng(7)
    drifting = 0.2 + np.cumsum(period * (1 + 0.004 * rng.standard_normal(400)))  # a live drummer
    drifting[200:] += 0.1  # and an edit that moves every later beat
    tempo = beat_grid_tempo(drifting, 124.0)
    assert len(tempo) > 1 and all(1 <= t.beat <= 4 for t in tempo)
    grid = _grid(tempo, drifting[-1] + period)
    assert np.abs(grid[np.abs(grid[:, None] - drifting[None, :]).argmin(axis=0)] - drifting).max() <= GRID_TOLERANCE_S + 1e-9
    assert beat_grid_tempo(np.zeros(0), 124.0) == () and beat_grid_tempo(steady, 0.0) == ()


def test_the_written_grid_keeps_within_20_ms_of_every_detected_beat(demo_store):
    tracks, _ = dj_crates(demo_store, cluster_config=ClusterConfig(k=3))
    table = describe_store(demo_store, analysis=AnalysisConfig(), config=MixConfig())
    for track in tracks:
        tid = next(t for t in table.tracks if demo_store.track(t).path == track.location)
        detected = table.tracks[tid].beats_s
        grid = _grid(track.tempo, track.duration_s)
        nearest = np.abs(grid[None, :] - detected[:, None]).min(axis=1)
        assert nearest.max() <= 0.020, f"{track.name}: a detected beat {nearest.max() * 1000:.0f} ms from the grid"
        assert track.tempo[0].start_s == pytest.approx(detected[0])
        # every anchor carries its beat's place in the bar, so the grid's bar one is a detected downbeat
        positions = table.tracks[tid].beat_positions
        for anchor in track.tempo:
            assert anchor.beat == positions[int(np.argmin(np.abs(detected - anchor.start_s)))]
        bar_one = track.tempo[0].start_s + ((5 - track.tempo[0].beat) % 4) * 60.0 / track.tempo[0].bpm
        assert np.min(np.abs(table.tracks[tid].downbeats_s - bar_one)) <= 0.020


def test_cues_name_every_section_and_hot_cues_the_typical_ones(demo_store):
    tracks, crates = dj_crates(demo_store, cluster_config=ClusterConfig(k=3))
    sections = demo_store.load_sections(AnalysisConfig())
    assert sum(sum(1 for c in t.cues if c.slot < 0) for t in tracks) == len(sections)  # no duplicate rows in the demo
    for track in tracks:
        memory = [c for c in track.cues if c.slot < 0]
        hot = [c for c in track.cues if c.slot >= 0]
        assert all(CUE.match(c.name) for c in memory), [c.name for c in memory][:3]
        assert [c.start_s for c in memory] == sorted(c.start_s for c in memory)
        assert 1 <= len(hot) <= 8 and sorted(c.slot for c in hot) == list(range(len(hot)))
        for c in hot:
            cluster_id = int(HOT.match(c.name).group(1))
            assert c.colour == cluster_rgb(cluster_id)
            assert any(m.start_s == c.start_s and m.name.startswith(f"C{cluster_id} ") for m in memory)
    assert [p.path for p in crates] == [("Clusters", f"Cluster {c}") for c in range(len(crates))]
    assert set().union(*(p.locations for p in crates)) == {t.location for t in tracks}


def test_crates_go_into_rekordbox_and_come_back(demo_store):
    tracks, crates = dj_crates(demo_store, cluster_config=ClusterConfig(k=3))
    back = read_rekordbox(write_rekordbox(tracks, crates))
    assert [t.location for t in back.tracks] == [t.location for t in tracks]
    for want, got in zip(tracks, back.tracks):
        assert [round(c.start_s, 3) for c in got.cues] == [round(c.start_s, 3) for c in want.cues]
        assert [c.name for c in got.cues] == [CUE_PREFIX + c.name for c in want.cues]
        assert got.key == want.key and re.fullmatch(r"[A-G][#b]?m?", got.key)
        assert got.bpm == pytest.approx(want.bpm, abs=0.005)
    assert [p.locations for p in back.playlists] == [p.locations for p in crates]


def test_the_cli_exports_a_store_to_rekordbox_and_merges_into_a_djs_file(demo_store, tmp_path, capsys):
    from engine.cli.main import main

    out = tmp_path / "cratemap.xml"
    assert main(["export", str(demo_store.url), "--format", "rekordbox", "-o", str(out), "--k", "3"]) == 0
    first = read_rekordbox(out.read_bytes())
    assert len(first.tracks) == 4 and "4 tracks" in capsys.readouterr().out
    assert {t.name for t in first.tracks} == {"tt1", "tt2", "sixtyfour_", "track3"}
    merged = tmp_path / "merged.xml"
    assert main(["export", str(demo_store.url), "--format", "rekordbox", "-o", str(merged), "--k", "3", "--merge", str(out)]) == 0
    again = read_rekordbox(merged.read_bytes())
    assert again.tracks == first.tracks and again.playlists == first.playlists  # exporting onto itself changes nothing
    assert main(["export", str(tmp_path / "none"), "--format", "rekordbox", "-o", str(tmp_path / "x.xml")]) == 2


def test_the_cli_exports_a_store_to_traktor(demo_store, tmp_path):
    from engine.cli.main import main
    from engine.store.traktor import read_traktor

    out = tmp_path / "collection.nml"
    assert main(["export", str(demo_store.url), "-o", str(out), "--k", "3"]) == 0  # the format from the suffix
    back = read_traktor(out.read_bytes())
    tracks, crates = dj_crates(demo_store, cluster_config=ClusterConfig(k=3))
    assert [t.location for t in back.tracks] == [t.location for t in tracks]
    assert [p.locations for p in back.playlists] == [p.locations for p in crates]
    for want, got in zip(tracks, back.tracks):
        assert [round(c.start_s, 3) for c in got.cues] == [round(c.start_s, 3) for c in want.cues]
        assert [round(t.start_s, 3) for t in got.tempo] == [round(t.start_s, 3) for t in want.tempo]


def test_every_cue_carries_its_sections_phrase_label_in_rekordbox_and_traktor(demo_store, tmp_path):
    """Memory cues name the section's phrase label and confidence ("drop 0.82"), hot cues too; pyrekordbox
    reads them back from the XML, and Traktor's CUE_V2 NAMEs hold the same."""
    from pyrekordbox.rbxml import RekordboxXml

    from engine.describe.phrases import phrase_text
    from engine.store.traktor import read_traktor, write_traktor

    tracks, crates = dj_crates(demo_store, cluster_config=ClusterConfig(k=3))
    sections = demo_store.load_sections(AnalysisConfig())
    by_start = {}
    for tid, start, label, conf in sections.meta[["track_id", "start_s", "phrase_label", "phrase_confidence"]].itertuples(index=False):
        by_start[(demo_store.track(tid).path, round(float(start), 3))] = phrase_text(label, conf)
    assert sum(bool(v) for v in by_start.values()) >= 0.8 * len(by_start)  # the demo's sections mostly have a label
    path = tmp_path / "cratemap.xml"
    path.write_bytes(write_rekordbox(tracks, crates))
    read = RekordboxXml(str(path))
    nml = read_traktor(write_traktor(tracks, crates))
    for want, got, traktor in zip(tracks, read.get_tracks(), nml.tracks):
        for cue, mark in zip(want.cues, got.marks):
            phrase = by_start[(want.location, round(cue.start_s, 3))]
            assert mark.Name == CUE_PREFIX + cue.name and round(mark.Start, 3) == round(cue.start_s, 3)
            assert (f" · {phrase}" in mark.Name) if phrase else not re.search(r"(intro|build|drop|breakdown|outro) ", mark.Name)
        named = {(round(c.start_s, 3), c.name) for c in traktor.cues if c.name.startswith(CUE_PREFIX) and "grid" not in c.name}
        assert named == {(round(c.start_s, 3), CUE_PREFIX + c.name) for c in want.cues}
    labels = " ".join(m.Name for t in read.get_tracks() for m in t.marks)
    assert re.search(r"(intro|build|drop|breakdown|outro) [01]\.\d\d", labels)


@pytest.mark.parametrize("root", ["", "D:\\Music"])
def test_the_apps_export_buttons_build_both_files_with_the_playlist_on_screen(demo_store, root, tmp_path):
    """ui.dj's file builder (what a click on "Export to rekordbox / Traktor" runs): locally each track where
    this machine reads it; in public mode under the music folder the visitor typed, by its uploaded name.
    The saved similar-section results of this analysis are playlists too."""
    import pandas as pd

    from engine.store.locations import under_root
    from engine.store.saved import SavedResults
    from engine.store.traktor import read_traktor, write_traktor
    from ui.dj import _Job
    from ui.library import Library

    tracks = demo_store.tracks()
    names = tuple(f"crate/{t.name}" for t in tracks)
    library = Library(str(demo_store.url), tuple(t.track_id for t in tracks), names, tuple(t.path for t in tracks))
    rows = pd.DataFrame({"track_id": [tracks[2].track_id, tracks[0].track_id, tracks[2].track_id]})
    saved = SavedResults(tmp_path / "reviews.sqlite")
    kept = pd.DataFrame({"track_id": [tracks[3].track_id, tracks[1].track_id, "not-in-this-library"], "name": ["a", "b", "c"],
                         "section": [0, 2, 1], "start_s": [0.0, 30.0, 15.0], "end_s": [15.0, 45.0, 30.0]})  # fmt: skip
    saved.save(kept, title="warm-up", section_digest=AnalysisConfig().section_digest())
    saved.save(kept.iloc[:1], title="warm-up", section_digest=AnalysisConfig().section_digest())  # the same title again
    saved.save(kept, title="another analysis", section_digest="other")
    job = _Job(library, AnalysisConfig(), ClusterConfig(k=3), tuple(dict.fromkeys(rows["track_id"])), ("Similar sections", "near x"), root, saved, None)
    for fmt, write, read in (("rekordbox", write_rekordbox, read_rekordbox), ("traktor", write_traktor, read_traktor)):
        back = read(job.runner(fmt, write)())
        want = [under_root(root, n) for n in names] if root else [t.path for t in tracks]
        assert sorted(t.location for t in back.tracks) == sorted(want)
        extra = [p for p in back.playlists if p.path[-2:] == ("Similar sections", "near x")]
        assert len(extra) == 1 and extra[0].locations == (want[2], want[0])
        assert sum(1 for p in back.playlists if p.path[-2] == "Clusters") == 3
        kept_lists = {p.path[-1]: p.locations for p in back.playlists if p.path[-2] == "Saved similar sections"}
        assert kept_lists == {"warm-up": (want[3], want[1]), "warm-up (2)": (want[3],)}


def test_an_export_merges_into_the_djs_own_collection_and_keeps_their_locations(demo_store, tmp_path):
    """A library read from the DJ's collection: each track keeps the location their program gave it, and their
    own cues and playlists stay in the file CrateMap gives back."""
    from engine.records import DJCollection, DJCue, DJPlaylist, DJTrack
    from engine.run.collections import keep_collection
    from engine.store.locations import path_to_rekordbox
    from engine.store.saved import SavedResults
    from ui.dj import _Job
    from ui.library import Library

    tracks = demo_store.tracks()
    theirs = "/Users/dj/Music/crate 0/first one.ogg"
    own = DJCollection(
        tracks=(DJTrack(location=theirs, cues=(DJCue(name="my drop", start_s=64.1, slot=0),)),),
        playlists=(DJPlaylist(path=("My Sets", "Friday"), locations=(theirs,)),),
        program="rekordbox",
    )
    own_file = f"""<?xml version="1.0" encoding="UTF-8"?>
<DJ_PLAYLISTS Version="1.0.0"><PRODUCT Name="rekordbox" Version="6.8.5" Company="AlphaTheta"/>
  <COLLECTION Entries="1">
    <TRACK TrackID="17" Name="Mine" Rating="204" Location="{path_to_rekordbox(theirs)}">
      <POSITION_MARK Name="my drop" Type="0" Start="64.100" Num="0"/>
    </TRACK>
  </COLLECTION>
  <PLAYLISTS><NODE Type="0" Name="ROOT" Count="1"><NODE Type="0" Name="My Sets" Count="1">
    <NODE Name="Friday" Type="1" KeyType="0" Entries="1"><TRACK Key="17"/></NODE></NODE></NODE></PLAYLISTS>
</DJ_PLAYLISTS>""".encode()  # as the DJ's program writes it
    keep_collection(demo_store, own, {theirs: tracks[0].track_id})
    library = Library(str(demo_store.url), tuple(t.track_id for t in tracks), tuple(t.name for t in tracks), tuple(t.path for t in tracks))
    job = _Job(library, AnalysisConfig(), ClusterConfig(k=3), (), ("x", "y"), "", SavedResults(tmp_path / "r.sqlite"),
               {"program": "rekordbox", "data": own_file})  # fmt: skip
    back = read_rekordbox(job.runner("rekordbox", write_rekordbox)())
    locations = {t.location for t in back.tracks}
    assert theirs in locations and tracks[0].path not in locations  # the DJ's own location, not this machine's copy
    first = next(t for t in back.tracks if t.location == theirs)
    assert any(c.name == "my drop" and c.slot == 0 for c in first.cues)  # their hot cue kept
    assert any(c.name.startswith(CUE_PREFIX) for c in first.cues)  # CrateMap's cues added
    assert first.rating == 4 and ("My Sets", "Friday") in {p.path for p in back.playlists}  # their rating and playlist
    assert len(back.tracks) == len(tracks)
