"""A real ``streamlit run streamlit_app.py`` on a free loopback port, for the browser and load tests."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Sequence

from conftest import CEILING_S, ROOT


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_streamlit(data: Path, log_path: Path, *, args: Sequence[str] = (), env: dict | None = None) -> tuple[subprocess.Popen, str]:
    """Start the app with ``CRATEMAP_DATA=data`` (its output into ``log_path``); return the process and
    its URL once ``/_stcore/health`` answers (within CEILING_S, else RuntimeError with the log's end)."""
    port = free_port()
    environ = {**os.environ, "CRATEMAP_DATA": str(data), "PYTHONUNBUFFERED": "1", **(env or {})}
    with open(log_path, "w") as log:  # the child holds its own copy of the file
        proc = subprocess.Popen(
            [
                sys.executable, "-m", "streamlit", "run", "streamlit_app.py",
                "--server.port", str(port),
                "--server.address", "127.0.0.1",
                "--server.headless", "true",
                "--server.fileWatcherType", "none",
                "--browser.gatherUsageStats", "false",
                *args,
            ],
            cwd=ROOT, env=environ, stdout=log, stderr=subprocess.STDOUT,
        )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + CEILING_S
    while True:
        try:
            with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as r:
                if r.status == 200:
                    return proc, url
        except OSError:
            pass
        if proc.poll() is not None or time.monotonic() > deadline:
            stop_streamlit(proc)
            raise RuntimeError(f"streamlit did not start within {CEILING_S} s; see {log_path}:\n{Path(log_path).read_text()[-3000:]}")
        time.sleep(0.25)


def stop_streamlit(proc: subprocess.Popen) -> None:
    """Stop the server: SIGTERM, then SIGKILL after 30 s."""
    proc.terminate()
    try:
        proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
