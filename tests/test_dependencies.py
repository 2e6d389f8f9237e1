"""The dependency lists say what the code imports, and the locks are CPU-only.

requirements.in (runtime) and requirements-dev.in (test tools) are the
human-edited lists; requirements.txt and requirements-dev.txt are generated
from them (``make lock``). ``make test`` also runs ``scripts/lock.py check``,
which resolves the locks against the public index; these tests need no network.
"""

from __future__ import annotations

import ast
import importlib.util
import re
import sys
from importlib import metadata
from pathlib import Path

import pytest

from conftest import ROOT

RUNTIME_CODE = ("engine", "ui", "pages", "streamlit_app.py")
DEV_CODE = ("tests", "bench", "scripts")
#: Listed but never imported, each for a stated reason.
NOT_IMPORTED = {
    "pytest-timeout": "a pytest plugin, configured in pytest.ini",
    "uv": "a command-line tool that scripts/lock.py runs",
    "s3fs": "fsspec's implementation of s3:// URLs, which fsspec loads by protocol name",
    "psycopg": "the PostgreSQL driver, which SQLAlchemy loads for postgresql+psycopg:// URLs",
    "onnx": "torch.onnx.export writes the ONNX graph with it (engine.neural.runtime)",
}


def _lock_module():
    spec = importlib.util.spec_from_file_location("lock_script", ROOT / "scripts" / "lock.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


lock = _lock_module()


def _listed(path: Path) -> set[str]:
    names = set()
    for line in path.read_text().splitlines():
        line = line.split("#")[0].strip()
        if not line or line.startswith("-"):
            continue
        names.add(lock._canon(re.split(r"[\[=<>!~; ]", line, maxsplit=1)[0]))
    return names


def _files(where: tuple[str, ...]) -> list[Path]:
    out = []
    for w in where:
        p = ROOT / w
        out += [p] if p.is_file() else sorted(p.rglob("*.py"))
    return out


def _local_names() -> set[str]:
    """The project's packages, and the scripts and test helpers importable by their bare name
    (tests/, bench/ and scripts/ put their own folder on sys.path); engine's and ui's modules
    are only ever imported through their package."""
    names = {"engine", "ui", "tests", "bench", "scripts"}
    for f in _files(DEV_CODE):
        names.add(f.stem)
    return names


def _imports(files: list[Path]) -> dict[str, set[str]]:
    """{top-level module: files importing it}, at any depth (lazy imports count)."""
    found: dict[str, set[str]] = {}
    for f in files:
        for node in ast.walk(ast.parse(f.read_text(), filename=str(f))):
            if isinstance(node, ast.Import):
                mods = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                mods = [node.module]
            else:
                continue
            for m in mods:
                found.setdefault(m.split(".")[0], set()).add(f.name)
    return found


def _third_party(files: list[Path]) -> dict[str, set[str]]:
    local = _local_names()
    return {m: fs for m, fs in _imports(files).items() if m not in sys.stdlib_module_names and m not in local}


def _distribution(module: str) -> str:
    dists = metadata.packages_distributions().get(module)
    assert dists, f"{module} is imported but no installed distribution provides it"
    return lock._canon(dists[0])


def test_every_package_the_code_imports_is_listed():
    runtime, dev = _listed(ROOT / "requirements.in"), _listed(ROOT / "requirements-dev.in")
    missing_runtime = {m: sorted(fs) for m, fs in _third_party(_files(RUNTIME_CODE)).items()
                       if _distribution(m) not in runtime}
    missing_dev = {m: sorted(fs) for m, fs in _third_party(_files(DEV_CODE)).items()
                   if _distribution(m) not in runtime | dev}
    assert missing_runtime == {}, "imported by the app or engine but not in requirements.in"
    assert missing_dev == {}, "imported by tests, bench or scripts but in neither .in file"


def test_every_listed_package_is_imported():
    imported_runtime = {_distribution(m) for m in _third_party(_files(RUNTIME_CODE))}
    imported_any = imported_runtime | {_distribution(m) for m in _third_party(_files(DEV_CODE))}
    unused_runtime = sorted(_listed(ROOT / "requirements.in") - imported_runtime - set(NOT_IMPORTED))
    unused_dev = sorted(_listed(ROOT / "requirements-dev.in") - imported_any - set(NOT_IMPORTED))
    assert unused_runtime == [], "listed in requirements.in but imported by neither the app nor the engine"
    assert unused_dev == [], "listed in requirements-dev.in but never imported"


def test_the_import_scan_sees_lazy_and_dotted_imports(tmp_path):
    probe = tmp_path / "probe.py"
    probe.write_text("def f():\n    import sklearn.cluster\n    from faiss import IndexFlatL2\nimport os\n")
    assert set(_third_party([probe])) >= {"sklearn", "faiss"} and "os" not in _third_party([probe])
    assert _distribution("sklearn") == "scikit-learn" and _distribution("faiss") == "faiss-cpu"


@pytest.mark.parametrize("name", ["requirements.txt", "requirements-dev.txt"])
def test_each_lock_is_cpu_only_and_names_the_cpu_wheel_page(name):
    path = ROOT / name
    assert lock.problems_in_lock(path) == []
    pins = lock.pins(path)
    assert pins["torch"].endswith("+cpu")
    assert not [n for n in pins if n.startswith(("nvidia-", "triton")) or "cuda" in n]


def test_the_lock_check_catches_a_cuda_lock(tmp_path):
    bad = tmp_path / "requirements.txt"
    bad.write_text("torch==2.13.0\nnvidia-cublas-cu12==12.8.4.1\ntriton==3.5.0\nnumpy==2.4.6\n")
    problems = "\n".join(lock.problems_in_lock(bad))
    assert "nvidia-cublas-cu12" in problems and "triton" in problems
    assert "not a +cpu build" in problems and "does not name" in problems


def test_every_direct_dependency_is_pinned_in_the_lock_as_listed():
    from packaging.requirements import Requirement

    pins = lock.pins(ROOT / "requirements-dev.txt")
    for path in (ROOT / "requirements.in", ROOT / "requirements-dev.in"):
        for line in path.read_text().splitlines():
            line = line.split("#")[0].strip()
            if not line or line.startswith("-"):
                continue
            req = Requirement(line)
            name = lock._canon(req.name)
            assert name in pins, f"{req.name} ({path.name}) is not in the lock: run make lock"
            assert req.specifier.contains(pins[name], prereleases=True), f"{req} but the lock has {pins[name]}: run make lock"


def test_the_runtime_lock_agrees_with_the_dev_lock():
    runtime, dev = lock.pins(ROOT / "requirements.txt"), lock.pins(ROOT / "requirements-dev.txt")
    assert {n: v for n, v in runtime.items() if dev.get(n) != v} == {}


def test_this_environment_is_exactly_the_dev_lock():
    have = {lock._canon(d.metadata["Name"]): d.version for d in metadata.distributions()}
    want = lock.pins(ROOT / "requirements-dev.txt")
    assert {n: (have.get(n), v) for n, v in want.items() if have.get(n) != v} == {}
    assert sorted(set(have) - set(want) - lock.BOOTSTRAP) == []
