"""`python -m engine analyze` and `info`: summaries, per-file errors and exit codes."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys

import numpy as np
import soundfile as sf

from conftest import CEILING_S, ROOT


def run_cli(*args, cwd=None, env_extra=None):
    env = {**os.environ, "PYTHONPATH": str(ROOT), **(env_extra or {})}
    return subprocess.run(
        [sys.executable, "-m", "engine", *map(str, args)], capture_output=True, text=True, cwd=cwd or ROOT, env=env, timeout=CEILING_S
    )


def test_analyze_with_broken_files_exits_1_and_names_each(tmp_path, demo_dir):
    lib = tmp_path / "lib"
    lib.mkdir()
    shutil.copy(demo_dir / "tt2.ogg", lib)
    (lib / "readme.wav").write_text("hello")
    sr = 16_000
    sf.write(lib / "quiet.wav", np.zeros(sr * 20), sr)
    sf.write(lib / "short.wav", 0.2 * np.ones(sr // 2), sr)
    proc = run_cli("analyze", lib, "--out", tmp_path / "store", "--quiet")
    assert proc.returncode == 1, proc.stderr
    assert "tracks       1" in proc.stdout
    assert "sections     4" in proc.stdout
    assert "x real time" in proc.stdout
    assert "readme.wav: not an audio file" in proc.stderr
    assert "quiet.wav: the audio is digital silence throughout [silent]" in proc.stderr
    assert "short.wav" in proc.stderr and "[too-short]" in proc.stderr
    assert "Traceback" not in proc.stderr

    info = run_cli("info", tmp_path / "store", "--json")
    assert info.returncode == 0
    data = json.loads(info.stdout)
    assert data["tracks"] == 1 and data["seconds_of_audio"] == 60.0


def test_analyze_demo_library_by_default_then_from_store(tmp_path):
    proc = run_cli("analyze", "--quiet", env_extra={"CRATEMAP_STORE": str(tmp_path / "store")})
    assert proc.returncode == 0, proc.stderr
    assert "tracks       11 (0 already in the store)" in proc.stdout
    again = run_cli("analyze", "--quiet", "--section-seconds", "10", env_extra={"CRATEMAP_STORE": str(tmp_path / "store")})
    assert again.returncode == 0
    assert "tracks       11 (11 already in the store)" in again.stdout
    assert "all from the store" in again.stdout
    text = run_cli("info", tmp_path / "store")
    assert "tracks       11" in text.stdout


def test_usage_errors_exit_2(tmp_path):
    assert run_cli("analyze", tmp_path / "missing-folder", "--out", tmp_path / "s").returncode == 2
    bad = run_cli("analyze", "--section-seconds", "0.5", "--out", tmp_path / "s")
    assert bad.returncode == 2 and "section_seconds" in bad.stderr
    assert run_cli("analyze", "--preset", "nope").returncode == 2
    empty = tmp_path / "empty"
    empty.mkdir()
    assert run_cli("analyze", empty, "--out", tmp_path / "s").returncode == 2
