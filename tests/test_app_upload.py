"""Uploading files and folders through the uploader: analysed, broken files listed by name, names made safe."""

from __future__ import annotations

from pathlib import Path

from app_support import data_dir, page_errors, run_page, wav_bytes


def _library_page():
    return run_page("pages/1_Library.py")


def test_uploaded_files_are_analysed_and_a_broken_one_is_listed():
    at = _library_page()
    at.radio(key="_w_source").set_value("files").run()
    at.file_uploader[0].set_value(
        [
            ("groove.wav", wav_bytes(40, seed=1), "audio/wav"),
            ("broken.wav", b"RIFF this is not really a wave file" * 20, "audio/wav"),
        ]
    ).run()
    assert at.exception == []
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["Tracks"] == "1" and metrics["Could not be read"] == "1"
    errors = at.dataframe[0].value
    assert errors["file"].tolist() == ["broken.wav"]
    assert errors["reason"].iloc[0] == "not-audio"
    tracks = at.dataframe[-1].value
    assert tracks["track"].tolist() == ["groove.wav"]
    # the other views now work on the upload
    at.switch_page("pages/2_Classical_features.py").run()
    assert at.exception == []
    assert any("could not be analysed" in e.value or "needs at least 3 sections" in e.value for e in at.error) or at.metric


def test_folder_upload_keeps_relative_names_skips_non_audio_and_writes_safely():
    at = _library_page()
    at.radio(key="_w_source").set_value("folder").run()
    at.file_uploader[0].set_value(
        [
            ("crate/a/one.wav", wav_bytes(35, seed=2), "audio/wav"),
            ("crate/b/two.wav", wav_bytes(35, seed=3), "audio/wav"),
            ("crate/b/copy-of-two.wav", wav_bytes(35, seed=3), "audio/wav"),
            ("../../escape.wav", wav_bytes(35, seed=4), "audio/wav"),
            ("crate/cover.jpg", b"\xff\xd8\xff not audio", "image/jpeg"),
        ]
    ).run()
    assert page_errors(at) == []
    tracks = at.dataframe[-1].value["track"].tolist()
    assert tracks == ["crate/a/one.wav", "crate/b/two.wav", "escape.wav"]  # the first of two identical files wins
    duplicates = next(d.value for d in at.dataframe if "same audio as" in d.value.columns)
    assert len(duplicates) == 1
    assert any("skipped" in e.label for e in at.expander)
    uploads = data_dir() / "uploads"
    written = [p for p in uploads.rglob("*") if p.is_file()]
    assert written and all(uploads in p.resolve().parents for p in written)
    assert not (data_dir().parent / "escape.wav").exists()
    assert not any(p.name == "cover.jpg" for p in written)


def test_switching_back_to_the_demo():
    at = _library_page()
    at.radio(key="_w_source").set_value("files").run()
    at.radio(key="_w_source").set_value("demo").run()
    assert page_errors(at) == []
    assert {m.label: m.value for m in at.metric}["Tracks"] == "11"


def test_changing_the_section_length_recuts_without_decoding():
    at = _library_page()
    at.slider(key="_w_section_seconds").set_value(30).run()
    assert page_errors(at) == []
    status = [s for s in at.get("status") if "tracks ready" in s.label]
    assert status and "11 answered by the store" in status[-1].label
    sections_30 = int({m.label: m.value for m in at.metric}["Sections"])
    at.slider(key="_w_section_seconds").set_value(15).run()
    assert int({m.label: m.value for m in at.metric}["Sections"]) > sections_30


def test_switching_to_bars_or_phrases_recuts_the_stored_frames_without_decoding():
    at = _library_page()
    seconds = int({m.label: m.value for m in at.metric}["Sections"])
    at.radio(key="_w_section_unit").set_value("bars").run()
    assert page_errors(at) == []
    status = [s for s in at.get("status") if "tracks ready" in s.label]
    assert status and "11 answered by the store" in status[-1].label  # cut from the stored frames
    eight = int({m.label: m.value for m in at.metric}["Sections"])
    at.select_slider(key="_w_section_bars").set_value(32).run()
    assert page_errors(at) == []
    thirty_two = int({m.label: m.value for m in at.metric}["Sections"])
    assert 0 < thirty_two < eight and eight != seconds
    at.radio(key="_w_section_unit").set_value("phrases").run()
    assert page_errors(at) == []
    phrases = int({m.label: m.value for m in at.metric}["Sections"])
    assert 11 <= phrases < seconds  # at least one phrase per track, and fewer than 15-s windows
    at.radio(key="_w_section_unit").set_value("seconds").run()
    assert int({m.label: m.value for m in at.metric}["Sections"]) == seconds


def test_safe_relative_path():
    from ui.library import safe_relative_path

    assert safe_relative_path("../../etc/passwd") == "etc/passwd"
    assert safe_relative_path("/abs/x.wav") == "abs/x.wav"
    assert safe_relative_path("C:\\music\\crate\\a.wav") == "C_/music/crate/a.wav"
    assert safe_relative_path("a/\x00b\x1f/c.wav") == "a/b/c.wav"
    assert safe_relative_path("..") == "upload"
    assert ".." not in Path(safe_relative_path("x/../../y.wav")).parts


def test_a_djs_collection_and_its_music_folder_are_analysed_and_its_data_kept():
    """Local mode: a rekordbox XML made on the DJ's computer, and the music folder uploaded beside it."""
    from engine.records import DJCue, DJPlaylist, DJTrack
    from engine.run.collections import kept_collection
    from engine.store.core import Store
    from engine.store.rekordbox import write_rekordbox

    one, two, gone = "D:\\Music\\crate\\one.wav", "D:\\Music\\crate\\two.wav", "D:\\Music\\gone.wav"
    xml = write_rekordbox(
        [DJTrack(location=one, bpm=120.0, cues=(DJCue(10.0, "my drop", slot=0),)), DJTrack(location=two), DJTrack(location=gone)],
        [DJPlaylist(path=("Friday",), locations=(two, one, gone))],
    )
    at = _library_page()
    at.radio(key="_w_source").set_value("collection").run()
    assert page_errors(at) == []
    at.file_uploader[0].set_value(("collection.xml", xml, "application/xml")).run()
    at.file_uploader[1].set_value(
        [("music/crate/one.wav", wav_bytes(35, seed=5), "audio/wav"), ("music/crate/two.wav", wav_bytes(35, seed=6), "audio/wav")]
    ).run()
    assert page_errors(at) == []
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["Tracks"] == "2" and metrics["Could not be read"] == "1"
    errors = at.dataframe[0].value
    assert errors["file"].tolist() == ["gone.wav"] and errors["reason"].tolist() == ["missing"]
    library = at.session_state["_analysed"][1].library
    store = Store(library.store_root)
    kept = {k["location"]: k for k in (kept_collection(store, t) for t in library.track_ids)}
    assert set(kept) == {one, two}
    assert kept[one]["bpm"] == 120.0 and kept[one]["playlists"] == ["CrateMap/Friday"]
    assert at.session_state["dj_collection"]["program"] == "rekordbox"  # the exports merge into it
