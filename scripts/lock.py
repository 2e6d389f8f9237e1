"""The locked environment: generate it, install it, and check it.

    python scripts/lock.py compile   regenerate requirements.txt and requirements-dev.txt (make lock)
    python scripts/lock.py install   install a lock into the running interpreter's environment, exactly
    python scripts/lock.py check     prove the locks are CPU-only, closed and what is installed (make test)

The short, human-edited lists are requirements.in (runtime) and requirements-dev.in
(test tools). uv's `pip compile` resolves them for CPython 3.11 on x86_64 Linux
(Streamlit Community Cloud's platform) into locks with an exact version of every
package, transitive ones included.

torch comes from PyTorch's CPU wheel page, named in the lock by one --find-links
line, and is pinned with its local version (`==2.13.0+cpu`), which only the CPU
build satisfies: PyPI's torch 2.13.0 is the CUDA build and pulls several GB of
nvidia-* and triton wheels. A find-links page, unlike an extra index, is fetched
once per install, not once per package, and it holds nothing but torch, so uv's
first-index rule cannot take numpy or pillow from PyTorch's mirror. Where that page
cannot be reached (a machine whose network ends at the package registries) pip's
own configured find-links may hold the same wheel; `install` then skips the
unreachable page instead of retrying it.
"""
from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import urllib.error
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RUNTIME_IN, DEV_IN = ROOT / "requirements.in", ROOT / "requirements-dev.in"
RUNTIME_LOCK, DEV_LOCK = ROOT / "requirements.txt", ROOT / "requirements-dev.txt"

TORCH_PAGE = "https://download.pytorch.org/whl/cpu/torch/"
PUBLIC_INDEX = "https://pypi.org/simple"
PYTHON_VERSION = "3.11"
PLATFORM = "x86_64-manylinux_2_28"  # what the CPU torch wheel is built for; Community Cloud is x86_64 Linux
# Packages that only a GPU build of torch (or another CUDA stack) brings in.
GPU_NAME = re.compile(r"^(nvidia-.*|.*cuda.*|triton.*|cupy.*|.*cudnn.*|.*nccl.*)$")
# Installed by `python -m venv` itself, so never part of a lock.
BOOTSTRAP = {"pip", "setuptools", "wheel"}
FIND_LINKS_LINE = f"--find-links {TORCH_PAGE}"


def _canon(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def pins(lock: Path) -> dict[str, str]:
    """{canonical name: exact version} of every `name==version` line of a lock."""
    out: dict[str, str] = {}
    for line in lock.read_text().splitlines():
        m = re.match(r"^([A-Za-z0-9][A-Za-z0-9._-]*)(\[[^\]]*\])?==([^\s;#]+)", line)
        if m:
            out[_canon(m.group(1))] = m.group(3)
    return out


def _reachable(url: str, timeout: float = 5.0) -> bool:
    try:
        with urllib.request.urlopen(urllib.request.Request(url, method="HEAD"), timeout=timeout):
            return True
    except (urllib.error.URLError, OSError, ValueError):
        return False


def _local_find_links() -> list[str]:
    """pip's own configured find-links (env or config files): where a machine without
    PyTorch's page keeps the CPU wheel."""
    env = os.environ.get("PIP_FIND_LINKS")
    if env:
        return env.split()
    try:
        out = subprocess.run([sys.executable, "-m", "pip", "config", "get", "global.find-links"],
                             capture_output=True, text=True, timeout=60)
    except (OSError, subprocess.TimeoutExpired):
        return []
    return out.stdout.split() if out.returncode == 0 else []


def _wheel_dirs_with(name: str, version: str) -> list[str]:
    tag = f"{name}-{version.replace('+', '%2B')}", f"{name}-{version}"
    found = []
    for loc in _local_find_links():
        p = Path(loc.removeprefix("file://"))
        if p.is_dir() and any(f.name.startswith(tag) for f in p.iterdir()):
            found.append(str(p))
    return found


def torch_sources(version: str) -> list[str]:
    """Where the pinned CPU torch can be had on this machine: PyTorch's page, else a local folder."""
    if _reachable(TORCH_PAGE):
        return [TORCH_PAGE]
    local = _wheel_dirs_with("torch", version)
    if local:
        return local
    sys.exit(f"error: torch {version} is on neither {TORCH_PAGE} (unreachable from here) "
             "nor in a local find-links folder of pip's configuration.")


def _uv() -> list[str]:
    exe = shutil.which("uv", path=str(Path(sys.executable).parent)) or shutil.which("uv")
    if exe:
        return [exe]
    sys.exit("error: uv is not installed; `make setup-dev` installs it from requirements-dev.txt")


def _torch_pin_in(path: Path) -> str:
    for line in path.read_text().splitlines():
        m = re.match(r"^torch==(\S+)", line.split("#")[0].strip())
        if m:
            return m.group(1)
    sys.exit(f"error: {path.name} pins no torch==VERSION+cpu")


def _compile(src: Path, out: Path, sources: list[str], extra: list[str] = ()) -> None:
    cmd = [*_uv(), "pip", "compile", str(src.relative_to(ROOT)), "-o", str(out.relative_to(ROOT)),
           "--no-config", "--index-url", PUBLIC_INDEX, "--python-version", PYTHON_VERSION,
           "--python-platform", PLATFORM, "--no-emit-find-links", "--no-emit-index-url",
           "--custom-compile-command", "make lock", "--quiet", *extra]
    for s in sources:
        cmd += ["--find-links", s]
    subprocess.run(cmd, check=True, cwd=ROOT)
    body = out.read_text()
    header = ("# The CPU build of torch comes from PyTorch's CPU wheel page (see scripts/lock.py).\n"
              f"{FIND_LINKS_LINE}\n")
    out.write_text(header + body)


def cmd_compile(args: argparse.Namespace) -> None:
    sources = torch_sources(_torch_pin_in(RUNTIME_IN))
    upgrade = ["--upgrade"] if args.upgrade else []
    _compile(RUNTIME_IN, RUNTIME_LOCK, sources, upgrade)
    _compile(DEV_IN, DEV_LOCK, sources, upgrade)
    print(f"wrote {RUNTIME_LOCK.name} ({len(pins(RUNTIME_LOCK))} packages) and "
          f"{DEV_LOCK.name} ({len(pins(DEV_LOCK))} packages)")


def cmd_install(args: argparse.Namespace) -> None:
    lock = Path(args.lock).resolve()
    text = lock.read_text()
    torch = pins(lock).get("torch")
    pip = [sys.executable, "-m", "pip", "install", "--quiet", "--timeout", "30", "--retries", "2"]
    if torch and FIND_LINKS_LINE in text and not _reachable(TORCH_PAGE):
        local = _wheel_dirs_with("torch", torch)
        if not local:
            sys.exit(f"error: torch=={torch} needs {TORCH_PAGE}, which cannot be reached from here, "
                     "and no local find-links folder of pip's holds it.")
        print(f"note: {TORCH_PAGE} is unreachable; torch=={torch} comes from {local[0]}")
        with tempfile.NamedTemporaryFile("w", suffix=".txt", delete=False, dir=lock.parent,
                                         prefix=".offline-") as f:
            f.write(text.replace(FIND_LINKS_LINE, ""))
        try:
            subprocess.run([*pip, "-r", f.name], check=True)
        finally:
            os.unlink(f.name)
    else:
        subprocess.run([*pip, "-r", str(lock)], check=True)
    # Exactly the lock: nothing more (a stale package from an older lock is removed).
    extra = sorted(set(_installed()) - set(pins(lock)) - BOOTSTRAP)
    if extra and args.exact:
        subprocess.run([sys.executable, "-m", "pip", "uninstall", "--quiet", "-y", *extra], check=True)
        print(f"removed packages not in {lock.name}: {' '.join(extra)}")


def _installed() -> dict[str, str]:
    from importlib import metadata
    return {_canon(d.metadata["Name"]): d.version for d in metadata.distributions()}


def problems_in_lock(lock: Path) -> list[str]:
    """What is wrong with one lock on its face: GPU packages, a torch that is not the CPU build,
    or no CPU wheel page to fetch it from."""
    found = []
    p = pins(lock)
    gpu = sorted(n for n in p if GPU_NAME.match(n))
    if gpu:
        found.append(f"{lock.name} holds GPU packages: {', '.join(gpu)}")
    torch = p.get("torch", "")
    if not torch.endswith("+cpu"):
        found.append(f"{lock.name} pins torch=={torch or '?'}, not a +cpu build")
    if FIND_LINKS_LINE not in lock.read_text().splitlines():
        found.append(f"{lock.name} does not name {TORCH_PAGE}")
    return found


def resolve_publicly(lock: Path, torch_from: list[str]) -> dict[str, str]:
    """Resolve a lock with pip as a fresh machine would: no local pip configuration, the
    public index, and the CPU torch wheel from `torch_from` (PyTorch's page, or the same
    wheel in a local folder where that page is unreachable). Returns {name: version} of
    everything pip would install."""
    body = "\n".join(l for l in lock.read_text().splitlines() if not l.startswith("--find-links"))
    with tempfile.TemporaryDirectory() as tmp:
        req, report = Path(tmp, "lock.txt"), Path(tmp, "report.json")
        req.write_text(body + "\n")
        cmd = [sys.executable, "-m", "pip", "install", "--isolated", "--dry-run", "--ignore-installed",
               "--quiet", "--report", str(report), "--index-url", PUBLIC_INDEX, "--timeout", "60",
               "-r", str(req)]
        for s in torch_from:
            cmd += ["--find-links", s]
        env = {k: v for k, v in os.environ.items() if not k.startswith("PIP_")}
        env["PIP_CONFIG_FILE"] = os.devnull
        done = subprocess.run(cmd, capture_output=True, text=True, env=env)
        if done.returncode:
            raise RuntimeError(f"pip could not resolve {lock.name} publicly:\n{done.stderr[-3000:]}")
        items = json.loads(report.read_text())["install"]
    return {_canon(i["metadata"]["name"]): i["metadata"]["version"] for i in items}


def cmd_check(args: argparse.Namespace) -> None:
    failures: list[str] = []
    for lock in (RUNTIME_LOCK, DEV_LOCK):
        failures += problems_in_lock(lock)
    runtime, dev = pins(RUNTIME_LOCK), pins(DEV_LOCK)
    differ = sorted(n for n in runtime if dev.get(n) != runtime[n])
    if differ:
        failures.append(f"{DEV_LOCK.name} disagrees with {RUNTIME_LOCK.name} on: {', '.join(differ)}")
    if not args.offline:
        torch_from = torch_sources(runtime["torch"])
        for lock, want in ((RUNTIME_LOCK, runtime), (DEV_LOCK, dev)):
            got = resolve_publicly(lock, torch_from)
            gpu = sorted(n for n in got if GPU_NAME.match(n))
            if gpu:
                failures.append(f"resolving {lock.name} publicly pulls GPU packages: {', '.join(gpu)}")
            if set(got) != set(want):
                failures.append(f"{lock.name} is not closed: resolving it publicly adds "
                                f"{sorted(set(got) - set(want))} and drops {sorted(set(want) - set(got))}")
            wrong = sorted(n for n in want if n in got and got[n] != want[n])
            if wrong:
                failures.append(f"resolving {lock.name} publicly changes versions of {wrong}")
            print(f"{lock.name}: {len(got)} packages resolve from {PUBLIC_INDEX} + "
                  f"{torch_from[0]}, none CUDA, nvidia or triton")
    if args.installed:
        have = _installed()
        want = pins(Path(args.installed))
        missing = sorted(n for n in want if have.get(n) != want[n])
        extra = sorted(set(have) - set(want) - BOOTSTRAP)
        if missing or extra:
            failures.append(f"the environment is not exactly {Path(args.installed).name}: "
                            f"missing or other versions {missing}, not in the lock {extra}")
        else:
            print(f"installed: exactly {Path(args.installed).name} ({len(want)} packages)")
    if failures:
        sys.exit("lock check failed:\n  " + "\n  ".join(failures))
    print("lock check passed")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    c = sub.add_parser("compile", help="regenerate the locks from the .in files")
    c.add_argument("--upgrade", action="store_true", help="take the newest allowed versions, not the locked ones")
    c.set_defaults(fn=cmd_compile)
    i = sub.add_parser("install", help="install a lock into this interpreter's environment")
    i.add_argument("lock")
    i.add_argument("--exact", action="store_true", help="also remove packages the lock does not name")
    i.set_defaults(fn=cmd_install)
    k = sub.add_parser("check", help="the locks are CPU-only, closed, and (optionally) installed exactly")
    k.add_argument("--offline", action="store_true", help="skip the resolution against the public index")
    k.add_argument("--installed", metavar="LOCK", help="also check this environment holds exactly LOCK")
    k.set_defaults(fn=cmd_check)
    args = ap.parse_args()
    args.fn(args)


if __name__ == "__main__":
    main()
