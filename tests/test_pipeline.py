"""The batch pipeline and the store: caching, re-cutting without decoding, duplicates, bad files, resuming."""

from __future__ import annotations

import shutil

import numpy as np
import pytest
import soundfile as sf

import engine.run.pipeline as pipeline
from engine.config import AnalysisConfig, FrameConfig, SegmentConfig, preset
from engine.audio.decode import decode_file
from engine.describe.aggregation import aggregate
from engine.describe.frames import frame_features
from engine.describe.sections import sections_from_frames
from engine.records import InputFile
from engine.run.inputs import collect_inputs
from engine.run.pipeline import analyze
from engine.store.core import Store

SHORT = ("tt1.ogg", "tt2.ogg", "Kevin_MacLeod_-_Vibe_Ace.hq.ogg")


@pytest.fixture(scope="module")
def short_dir(tmp_path_factory, demo_dir):
    d = tmp_path_factory.mktemp("short")
    for name in SHORT:
        shutil.copy(demo_dir / name, d / name)
    return d


@pytest.fixture(scope="module")
def analysed(short_dir, tmp_path_factory):
    store = Store(tmp_path_factory.mktemp("store"))
    inputs, _ = collect_inputs([short_dir])
    result = analyze(inputs, store=store, config=AnalysisConfig())
    return store, result


def _no_decode(monkeypatch):
    def boom(*a, **k):
        raise AssertionError("decode_file was called although the store holds the frames")

    monkeypatch.setattr(pipeline, "decode_file", boom)


def test_first_analysis_describes_every_section(analysed):
    store, result = analysed
    assert not result.errors and not result.duplicates
    assert len(result.tracks) == 3 and result.from_store == ()
    table = result.sections
    # 60 s -> 4 sections; 61.46 s -> 4 (a 1.46-s remainder is under half a section)
    counts = table.meta.groupby("name").size().to_dict()
    assert counts == {"tt1.ogg": 4, "tt2.ogg": 4, "Kevin_MacLeod_-_Vibe_Ace.hq.ogg": 4}
    assert np.isfinite(table.values).all()
    assert {"rmse", "spectral_centroid", "mfcc1", "zero_crossing_rate"} <= set(table.names)
    assert table.config_digest == AnalysisConfig().section_digest()
    assert result.seconds_of_audio == pytest.approx(60 + 60 + 61.46, abs=0.1)


def test_rerun_decodes_nothing(analysed, short_dir, monkeypatch):
    store, first = analysed
    _no_decode(monkeypatch)
    inputs, _ = collect_inputs([short_dir])
    again = analyze(inputs, store=store, config=AnalysisConfig())
    assert set(again.from_store) == {t.track_id for t in first.tracks}
    assert np.array_equal(again.sections.values, first.sections.values)


def test_new_section_length_recuts_stored_frames_without_decoding(analysed, short_dir, monkeypatch):
    store, _ = analysed
    _no_decode(monkeypatch)
    config = AnalysisConfig(segment=SegmentConfig(section_seconds=10))
    inputs, _ = collect_inputs([short_dir])
    result = analyze(inputs, store=store, config=config)
    assert result.sections.meta.groupby("name").size().to_dict()["tt1.ogg"] == 6
    assert result.sections.config_digest == config.section_digest()


def test_new_frame_settings_decode_again(analysed, short_dir):
    store, _ = analysed
    config = AnalysisConfig(frames=FrameConfig(hop_length=1024))
    result = analyze([InputFile(str(short_dir / "tt1.ogg"), "tt1.ogg")], store=store, config=config)
    assert result.from_store == ()
    assert len(store.frame_track_ids(config.frames.digest())) == 1


@pytest.mark.parametrize("seconds", [15.0, 10.0, 7.0])
def test_stored_frames_aggregate_like_the_direct_path(analysed, demo_dir, seconds):
    store, result = analysed
    config = AnalysisConfig(segment=SegmentConfig(section_seconds=seconds))
    track = next(t for t in result.tracks if t.name == "Kevin_MacLeod_-_Vibe_Ace.hq.ogg")
    frames = store.get_frames(track.track_id, config.frames.digest())
    via_store = sections_from_frames(frames, track.name, config=config)
    audio = decode_file(demo_dir / track.name)
    direct, names = aggregate(
        frame_features(audio.y, sample_rate=audio.sample_rate, config=config.frames),
        via_store.meta.start_s.to_numpy(),
        via_store.meta.end_s.to_numpy(),
        config=config.aggregate,
    )
    assert names == via_store.names
    # Both paths compute float32 frames through float32 matrix products (mel filter bank,
    # DCT, chroma filters), whose rounding depends on the BLAS kernel (AVX2 or AVX-512) and
    # thread count: the stored frames come from a one-thread worker, the direct ones from
    # this process. That rounding is a few float32 ulps (2**-24) of each column's magnitude
    # (measured: at most 8.4 ulps with AVX2 kernels, 2 with AVX-512). A delta column is a
    # Savitzky-Golay filter of an MFCC column (L1 gain 1/3), so its error is bounded by the
    # error of the MFCC it is taken from, not by its own, smaller magnitude.
    scale = np.abs(direct).max(axis=0) + 1e-12
    column = {n: i for i, n in enumerate(names)}
    source = np.array([scale[column[n.replace("mfcc_delta", "mfcc")]] if n.startswith("mfcc_delta") else scale[i]
                       for i, n in enumerate(names)])
    ulps = np.abs(via_store.values - direct) / (source * 2.0**-24)
    assert ulps.max() <= 32, f"{names[int(ulps.max(axis=0).argmax())]} differs by {ulps.max():.1f} float32 ulps"


def test_duplicates_and_broken_files_are_reported_and_the_rest_analysed(tmp_path, demo_dir):
    lib = tmp_path / "crate"
    (lib / "sub").mkdir(parents=True)
    shutil.copy(demo_dir / "tt3.ogg", lib / "tt3.ogg")
    shutil.copy(demo_dir / "tt3.ogg", lib / "sub" / "tt3 copy.ogg")
    (lib / "notes.wav").write_text("not audio at all\n" * 50)
    sr = 22_050
    t = np.arange(sr * 20) / sr
    sf.write(lib / "full.wav", 0.3 * np.sin(2 * np.pi * 220 * t), sr, subtype="PCM_16")
    data = (lib / "full.wav").read_bytes()
    (lib / "full.wav").unlink()
    (lib / "truncated.wav").write_bytes(data[: len(data) // 3])
    sf.write(lib / "silent.wav", np.zeros(sr * 20), sr, subtype="PCM_16")
    sf.write(lib / "half-second.wav", 0.3 * np.sin(2 * np.pi * 220 * t[: sr // 2]), sr)
    (lib / "cover.jpg").write_bytes(b"\xff\xd8\xff")

    inputs, skipped = collect_inputs([lib])
    assert skipped == ["cover.jpg"]
    seen = []
    result = analyze(inputs, store=Store(tmp_path / "store"), progress=seen.append)
    reasons = {e.name: e.reason for e in result.errors}
    assert reasons == {
        "notes.wav": "not-audio",
        "truncated.wav": "truncated",
        "silent.wav": "silent",
        "half-second.wav": "too-short",
    }
    # inputs are sorted by path, so the copy in sub/ is met first and keeps the name
    assert [t.name for t in result.tracks] == ["sub/tt3 copy.ogg"]
    assert result.duplicates == (("tt3.ogg", "sub/tt3 copy.ogg"),)
    assert len(result.sections) == 4
    assert [p.done for p in seen] == list(range(1, len(inputs) + 1))
    assert {p.status for p in seen} == {"analysed", "error", "duplicate"}


def test_interrupted_batch_keeps_finished_tracks_and_resumes(tmp_path, short_dir, monkeypatch):
    store = Store(tmp_path / "store")
    inputs, _ = collect_inputs([short_dir])

    def stop_after_first(p):
        if p.status == "analysed":
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        analyze(inputs, store=store, progress=stop_after_first)
    digest = AnalysisConfig().frames.digest()
    assert len(store.frame_track_ids(digest)) == 1
    assert not list(store.root.rglob(".tmp-*"))  # no half-written files
    result = analyze(inputs, store=store)
    assert len(result.from_store) == 1 and len(result.tracks) == 3


def test_parallel_jobs_give_the_same_table(tmp_path, short_dir, analysed):
    _, serial = analysed
    inputs, _ = collect_inputs([short_dir])
    parallel = analyze(inputs, store=Store(tmp_path / "p"), jobs=2)
    order = lambda t: t.to_frame().sort_values(["name", "section"]).reset_index(drop=True)  # noqa: E731
    a, b = order(serial.sections), order(parallel.sections)
    assert a.drop(columns=list(serial.sections.names)).equals(b.drop(columns=list(serial.sections.names)))
    assert np.array_equal(a[list(serial.sections.names)].to_numpy(), b[list(serial.sections.names)].to_numpy())


def test_thesis_preset_uses_the_thesis_cut_and_features(tmp_path, short_dir):
    config = preset("thesis")
    result = analyze([InputFile(str(short_dir / "tt1.ogg"), "tt1.ogg")], store=Store(tmp_path / "s"), config=config)
    table = result.sections
    assert table.names == config.aggregate.features
    assert len(table) == 60 // 15 - 1  # ceil(60) // 15 - 1 = 3 sections of 20 s
    assert np.allclose(table.meta.end_s - table.meta.start_s, 20.0)
    assert table.meta.selected.sum() <= int(0.6 * 3) + 1


def test_store_info_and_reload(analysed):
    store, result = analysed
    info = store.info()
    assert info["tracks"] >= 3
    assert info["frames"][AnalysisConfig().frames.digest()] >= 3
    reopened = Store(store.root)
    assert reopened.last_config() is not None
    table = reopened.load_sections(AnalysisConfig(), track_ids=[t.track_id for t in result.tracks])
    assert len(table) == len(result.sections)


def test_a_damaged_store_file_is_a_named_store_error(tmp_path, short_dir):
    from engine.errors import StoreError

    store = Store(tmp_path / "s")
    result = analyze([InputFile(str(short_dir / "tt1.ogg"), "tt1.ogg")], store=store)
    tid = result.tracks[0].track_id
    digest = AnalysisConfig().frames.digest()
    path = store.root / "frames" / digest / f"{tid}.parquet"
    path.write_bytes(b"PAR1 not really parquet")
    with pytest.raises(StoreError, match=f"frame features of track {tid[:12]} are missing or unreadable"):
        store.get_frames(tid, digest)


def test_a_clusterings_digest_covers_its_section_table_and_library(analysed):
    """Reviews are keyed on it: other section lengths or other tracks must give another digest."""
    from engine.analysis.cluster import cluster
    from engine.config import ClusterConfig

    store, _ = analysed
    settings = ClusterConfig(k=2)
    base = AnalysisConfig()
    fifteen = cluster(store.load_sections(base), config=settings)
    assert cluster(store.load_sections(base), config=settings).config_digest == fifteen.config_digest
    ten = cluster(store.load_sections(base.replace(segment=SegmentConfig(section_seconds=10.0))), config=settings)
    fewer = cluster(store.load_sections(base, track_ids=store.track_ids()[:2]), config=settings)
    digests = {fifteen.config_digest, ten.config_digest, fewer.config_digest, settings.digest()}
    assert len(digests) == 4
    assert fifteen.settings_digest == settings.digest()
    assert ten.table_digest != fifteen.table_digest


def _analyse_in_two_workers(tmp_path, short_dir, monkeypatch):
    """Analyse :data:`SHORT` with ``jobs=2``; return the pools' start methods and the progress reports.

    The driver's clock is replaced by one that jumps 1000 s per reading, so any
    time taken in the driver (such as "since the pool started") is at least
    1000 s; times measured in the workers, on their real clocks, are far less.
    """
    import concurrent.futures
    import itertools
    import types

    methods = []

    class Recording(concurrent.futures.ProcessPoolExecutor):
        def __init__(self, *args, mp_context=None, **kwargs):
            methods.append(mp_context.get_start_method() if mp_context is not None else "default")
            super().__init__(*args, mp_context=mp_context, **kwargs)

    clock = itertools.count(0.0, 1000.0)
    monkeypatch.setattr(pipeline, "ProcessPoolExecutor", Recording)
    monkeypatch.setattr(pipeline, "time", types.SimpleNamespace(perf_counter=lambda: next(clock)))
    seen = []
    inputs, _ = collect_inputs([short_dir])
    result = analyze(inputs, store=Store(tmp_path / "s"), config=AnalysisConfig(), jobs=2, progress=seen.append)
    assert len(result.tracks) == len(SHORT) and not result.errors
    return methods, [p for p in seen if p.status == "analysed"]


def test_workers_are_not_forked_from_the_caller(tmp_path, short_dir, monkeypatch):
    """The app calls the pipeline from a threaded server: forking it can deadlock a worker."""
    methods, _ = _analyse_in_two_workers(tmp_path, short_dir, monkeypatch)
    assert methods and all(m in ("spawn", "forkserver") for m in methods), methods


def test_each_file_is_timed_by_the_worker_that_analysed_it(tmp_path, short_dir, monkeypatch):
    _, analysed = _analyse_in_two_workers(tmp_path, short_dir, monkeypatch)
    assert len(analysed) == len(SHORT)
    assert all(0.0 < p.file_wall_s < 1000.0 for p in analysed), [p.file_wall_s for p in analysed]


def test_workers_never_rerun_the_callers_main_script(tmp_path, short_dir):
    """Streamlit installs each page as ``__main__``; a spawned worker must not run it again.

    The script below has no ``if __name__ == "__main__"`` guard, like a page:
    a worker that re-ran it would print twice or fail to start.
    """
    import subprocess
    import sys

    from conftest import CEILING_S, ROOT

    script = tmp_path / "page.py"
    script.write_text(
        "import sys\n"
        f"sys.path.insert(0, {str(ROOT)!r})\n"
        "from engine.run.inputs import collect_inputs\n"
        "from engine.run.pipeline import analyze\n"
        "from engine.store.core import Store\n"
        "print('page ran', flush=True)\n"
        f"r = analyze(collect_inputs([{str(short_dir)!r}])[0], store=Store({str(tmp_path / 's')!r}), jobs=2)\n"
        "print('tracks', len(r.tracks), 'errors', len(r.errors), flush=True)\n"
    )
    run = subprocess.run([sys.executable, str(script)], cwd=tmp_path, capture_output=True, text=True, timeout=CEILING_S)
    assert run.returncode == 0, run.stderr[-2000:]
    assert run.stdout.count("page ran") == 1, run.stdout + run.stderr[-2000:]
    assert f"tracks {len(SHORT)} errors 0" in run.stdout
