"""The layout's boundaries, checked by reading imports (STYLE.md rule 1)."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

from conftest import ROOT


def imported_modules(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module.split(".")[0])
    return found


def test_engine_never_imports_streamlit():
    offenders = [p.name for p in (ROOT / "engine").rglob("*.py") if "streamlit" in imported_modules(p)]
    assert offenders == []


def test_pages_only_call_the_engine_and_draw():
    heavy = {"librosa", "torch", "sklearn", "shap", "soundfile", "soxr", "umap", "skfuzzy"}
    files = [ROOT / "streamlit_app.py", *sorted((ROOT / "pages").glob("*.py"))]
    offenders = {p.name: sorted(imported_modules(p) & heavy) for p in files if imported_modules(p) & heavy}
    assert offenders == {}


def test_the_checker_sees_imports(tmp_path):
    probe = tmp_path / "probe.py"
    probe.write_text("import streamlit as st\nfrom librosa.feature import mfcc\n")
    assert imported_modules(probe) == {"streamlit", "librosa"}


# ---------------------------------------------------------------------------
# Transitive imports: what loading a page loads
# ---------------------------------------------------------------------------

PROJECT_PACKAGES = ("engine", "ui")


def _module_of(path: Path) -> str:
    rel = path.relative_to(ROOT).with_suffix("")
    parts = rel.parts[:-1] if rel.name == "__init__" else rel.parts
    return ".".join(parts)


def load_time_imports(path: Path) -> set[str]:
    """Absolute names of the modules ``path`` imports when it is loaded: module-level and
    class-level imports, not those inside function bodies (those run only when called)."""
    tree = ast.parse(path.read_text(), filename=str(path))
    package = _module_of(path) if path.name == "__init__.py" else _module_of(path).rpartition(".")[0]
    found: set[str] = set()

    def visit(node: ast.AST) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)):
                continue
            if isinstance(child, ast.Import):
                found.update(alias.name for alias in child.names)
            elif isinstance(child, ast.ImportFrom):
                if child.level:
                    base = package.split(".")[: len(package.split(".")) - child.level + 1]
                    module = ".".join([*base, child.module] if child.module else base)
                else:
                    module = child.module or ""
                found.add(module)
                # `from engine.neural import embed` loads the submodule engine.neural.embed
                found.update(f"{module}.{alias.name}" for alias in child.names)
            visit(child)

    visit(tree)
    return found


def _project_file(module: str) -> Path | None:
    if module.split(".")[0] not in PROJECT_PACKAGES:
        return None
    base = ROOT.joinpath(*module.split("."))
    for candidate in (base.with_suffix(".py"), base / "__init__.py"):
        if candidate.is_file():
            return candidate
    return None


def loaded_by(path: Path) -> set[str]:
    """Every third-party top-level package loading ``path`` loads, following the project's
    own modules (and their packages' ``__init__``) transitively."""
    seen: set[Path] = set()
    third_party: set[str] = set()
    todo = [path]
    while todo:
        current = todo.pop()
        if current in seen:
            continue
        seen.add(current)
        for module in load_time_imports(current):
            parts = module.split(".")
            if parts[0] in PROJECT_PACKAGES:
                for i in range(1, len(parts) + 1):  # importing a.b.c runs a, a.b and a.b.c
                    f = _project_file(".".join(parts[:i]))
                    if f is not None:
                        todo.append(f)
            elif parts[0]:
                third_party.add(parts[0])
    return third_party


def _entry_files() -> list[Path]:
    return [ROOT / "streamlit_app.py", *sorted((ROOT / "pages").glob("*.py")), *sorted((ROOT / "ui").glob("*.py"))]


def test_no_page_loads_torch_until_a_network_runs():
    """torch (about 1 s and 300 MB resident to import) loads only inside the functions that run a
    network, never because a page or a ui module was opened."""
    offenders = {p.name: "torch" for p in _entry_files() if "torch" in loaded_by(p)}
    assert offenders == {}


def test_the_engine_never_imports_streamlit_transitively():
    offenders = [p.name for p in (ROOT / "engine").rglob("*.py") if "streamlit" in loaded_by(p)]
    assert offenders == []


def test_the_transitive_checker_follows_the_project(tmp_path):
    # engine.neural.embed imports torch at load time and engine.neural.gradcam imports engine.neural.embed
    assert "torch" in loaded_by(ROOT / "engine" / "neural" / "gradcam.py")
    probe = ROOT / "ui" / "_probe_boundary.py"
    probe.write_text("from engine.neural import gradcam\n")
    try:
        assert "torch" in loaded_by(probe)
        probe.write_text("def later():\n    from engine.neural import gradcam\n")
        assert "torch" not in loaded_by(probe)
    finally:
        probe.unlink()


def test_importing_every_ui_module_really_leaves_torch_unloaded():
    """The same rule observed in a fresh interpreter, not only read from the source."""
    modules = [f"ui.{p.stem}" for p in sorted((ROOT / "ui").glob("*.py")) if p.stem != "__init__"]
    code = "import sys\n" + "".join(f"import {m}\n" for m in modules) + "print('torch' in sys.modules)\n"
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.strip() == "False"
