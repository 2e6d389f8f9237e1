"""A throwaway PostgreSQL server for the tests: Debian's binaries, a cluster in a temporary folder.

:class:`PostgresServer` runs ``initdb`` (trust authentication, superuser ``cratemap``) and
``pg_ctl start`` on a free loopback port, waits for ``pg_isready`` (polling, up to a ceiling),
and creates the database ``cratemap_test``; :func:`fresh_database` gives each test a new, empty
database of its own. initdb refuses to run as root, so as root the cluster
is the ``postgres`` system user's (its folder is chowned to that user).
"""

from __future__ import annotations

import os
import pwd
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

USER = "cratemap"  # the cluster's superuser (trust authentication: no password)
BASE_DB = "cratemap_test"
MISSING = (
    "PostgreSQL's server programs (initdb, pg_ctl) are not installed, and the review tests run against a "
    "real PostgreSQL: run `make system-deps` (it installs Debian's postgresql package)"
)


# Stops the cluster when the test process is gone without stopping it (killed, or ended by a timeout):
# a session ends with no PostgreSQL left running, however it ends.
_WATCHDOG = """
import os, shutil, subprocess, sys, time
owner, pg_ctl, data, root, as_postgres = sys.argv[1:]
while True:
    try:
        os.kill(int(owner), 0)
    except ProcessLookupError:
        break
    time.sleep(1)  # a watchdog's poll, not a test waiting
cmd = [pg_ctl, "-D", data, "-m", "immediate", "stop"]
subprocess.run((["runuser", "-u", "postgres", "--"] if as_postgres == "1" else []) + cmd, capture_output=True)
shutil.rmtree(root, ignore_errors=True)
"""


def find_bin() -> Path | None:
    """The folder of the newest PostgreSQL's server programs: /usr/lib/postgresql/<version>/bin, else pg_ctl's on PATH."""
    found = []
    for folder in Path("/usr/lib/postgresql").glob("*/bin"):
        if (folder / "pg_ctl").is_file() and (folder / "initdb").is_file() and re.fullmatch(r"\d+(\.\d+)?", folder.parent.name):
            found.append((tuple(int(p) for p in folder.parent.name.split(".")), folder))
    if found:
        return max(found)[1]
    on_path = shutil.which("pg_ctl")
    if on_path:
        folder = Path(on_path).resolve().parent  # /usr/local/bin/pg_ctl may be a link into the real folder
        if (folder / "initdb").is_file():
            return folder
    return None


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _admin(url: str):
    """An autocommit psycopg connection to the database of a ``postgresql+psycopg://`` URL."""
    import psycopg

    return psycopg.connect(url.replace("postgresql+psycopg://", "postgresql://", 1), autocommit=True, connect_timeout=10)


def fresh_database(base_url: str) -> str:
    """The URL of a new, empty database on the server of ``base_url``."""
    name = f"t_{uuid.uuid4().hex[:16]}"
    with _admin(base_url) as con:
        con.execute(f'CREATE DATABASE "{name}"')
    return base_url.rsplit("/", 1)[0] + "/" + name


def drop_database(base_url: str, url: str) -> None:
    """Drop the database of ``url``, ending the connections still open to it (the test process's pools)."""
    with _admin(base_url) as con:
        con.execute(f'DROP DATABASE IF EXISTS "{url.rsplit("/", 1)[1]}" WITH (FORCE)')


class PostgresServer:
    """One PostgreSQL cluster in a temporary folder, on a loopback port; :meth:`stop` removes it."""

    def __init__(self, bin_dir: Path, *, ceiling_s: float) -> None:
        self.bin = bin_dir
        self.ceiling_s = ceiling_s
        self.as_postgres = os.geteuid() == 0  # initdb refuses root
        # a folder every user can pass through (mkdtemp makes it 0700), holding the postgres-owned cluster
        self.root = Path(tempfile.mkdtemp(prefix="cratemap-pg-", dir="/tmp" if self.as_postgres else None))
        self.root.chmod(0o755)
        self.data, self.sockets, self.log = self.root / "data", self.root / "sockets", self.root / "server.log"
        self.sockets.mkdir()
        self.port = 0
        self._watchdog: subprocess.Popen | None = None
        if self.as_postgres:
            try:
                user = pwd.getpwnam("postgres")
            except KeyError:
                raise RuntimeError("running as root, the test cluster needs the postgres system user; run `make system-deps`") from None
            for path in (self.root, self.sockets):
                os.chown(path, user.pw_uid, user.pw_gid)

    def _run(self, *args: str, check: bool = True) -> subprocess.CompletedProcess:
        cmd = [str(self.bin / args[0]), *args[1:]]
        if self.as_postgres:
            cmd = ["runuser", "-u", "postgres", "--", *cmd]
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=self.ceiling_s, cwd=self.root)
        if check and done.returncode != 0:
            raise RuntimeError(f"{args[0]} failed ({done.returncode}): {(done.stderr or done.stdout)[-2000:]}{self._log_tail()}")
        return done

    def _log_tail(self) -> str:
        try:
            return "\nserver log:\n" + self.log.read_text()[-2000:]
        except OSError:
            return ""

    def start(self) -> None:
        self._run("initdb", "-D", str(self.data), "-U", USER, "--auth=trust", "-E", "UTF8", "--no-locale", "--no-sync")
        self._watchdog = subprocess.Popen(
            [sys.executable, "-c", _WATCHDOG, str(os.getpid()), str(self.bin / "pg_ctl"), str(self.data), str(self.root),
             "1" if self.as_postgres else "0"],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
        )
        for attempt in range(5):  # another program may take the free port between choosing and binding it
            self.port = _free_port()
            options = (
                f"-p {self.port} -k {self.sockets} -c listen_addresses=127.0.0.1 -c fsync=off "
                "-c synchronous_commit=off -c full_page_writes=off -c max_connections=300"
            )
            # -w: pg_ctl itself waits (up to the ceiling) until the server is up or has given up
            started = self._run("pg_ctl", "-D", str(self.data), "-l", str(self.log), "-o", options, "-w", "-t",
                                str(int(self.ceiling_s)), "start", check=False)
            if started.returncode == 0:
                break
            if attempt == 4 or "could not bind" not in self._log_tail():
                raise RuntimeError(f"the test PostgreSQL did not start: {started.stdout[-1000:]}{self._log_tail()}")
        self._wait_ready()
        done = subprocess.run(
            [str(self.bin / "createdb"), "-h", "127.0.0.1", "-p", str(self.port), "-U", USER, BASE_DB],
            capture_output=True, text=True, timeout=self.ceiling_s,
        )
        if done.returncode != 0:
            raise RuntimeError(f"createdb failed: {done.stderr[-2000:]}")

    def _wait_ready(self) -> None:
        """Poll pg_isready until the server takes connections on its TCP port, up to the ceiling."""
        deadline = time.monotonic() + self.ceiling_s
        while time.monotonic() < deadline:
            ready = subprocess.run(
                [str(self.bin / "pg_isready"), "-h", "127.0.0.1", "-p", str(self.port), "-U", USER, "-d", "postgres", "-t", "1"],
                capture_output=True, timeout=self.ceiling_s,
            )
            if ready.returncode == 0:
                return
            time.sleep(0.05)
        raise RuntimeError(f"the test PostgreSQL was not ready within {self.ceiling_s} s{self._log_tail()}")

    def url(self, database: str = BASE_DB) -> str:
        return f"postgresql+psycopg://{USER}@127.0.0.1:{self.port}/{database}"

    def stop(self) -> None:
        try:
            if self.data.exists():
                self._run("pg_ctl", "-D", str(self.data), "-m", "fast", "-w", "-t", str(int(self.ceiling_s)), "stop", check=False)
        finally:
            shutil.rmtree(self.root, ignore_errors=True)
            if self._watchdog is not None:  # stopped here: the watchdog has nothing left to do
                self._watchdog.kill()
                self._watchdog.wait(timeout=self.ceiling_s)
