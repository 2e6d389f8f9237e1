"""The engine's layout, read from its imports: stages in flow order, no import circle,
every package's exports real (STYLE.md: "the data flow should be readable from the folder names")."""

from __future__ import annotations

import ast
import importlib
from pathlib import Path

import pytest

from conftest import ROOT

ENGINE = ROOT / "engine"
# The stages in the order data flows; a stage imports only from stages before it.
STAGES = ("audio", "describe", "neural", "store", "analysis", "mixing", "run", "cli")
SHARED = {"config", "_digest", "errors", "_threads", "_lazy", "__init__", "__main__"}


def _module(path: Path) -> str:
    rel = path.relative_to(ROOT).with_suffix("")
    return ".".join(rel.parts[:-1] if rel.name == "__init__" else rel.parts)


def engine_imports(path: Path) -> set[str]:
    """Every ``engine`` module ``path`` imports, at load time or inside a function."""
    tree = ast.parse(path.read_text(), filename=str(path))
    package = _module(path) if path.name == "__init__.py" else _module(path).rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names if a.name.split(".")[0] == "engine")
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                parts = package.split(".")
                base = ".".join(parts[: len(parts) - node.level + 1])
                module = f"{base}.{node.module}" if node.module else base
            else:
                module = node.module or ""
            if module.split(".")[0] != "engine":
                continue
            for alias in node.names:  # `from engine.neural import embed` names a module
                sub = f"{module}.{alias.name}"
                found.add(sub if _file(sub) is not None else module)
    return {m for m in found if _file(m) is not None}


def _file(module: str) -> Path | None:
    base = ROOT.joinpath(*module.split("."))
    for candidate in (base.with_suffix(".py"), base / "__init__.py"):
        if candidate.is_file():
            return candidate
    return None


def _graph() -> dict[str, set[str]]:
    return {_module(p): engine_imports(p) for p in sorted(ENGINE.rglob("*.py"))}


def _stage(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "__init__"


def test_the_engine_is_one_package_per_stage():
    top = {p.stem for p in ENGINE.glob("*.py")}
    packages = {p.parent.name for p in ENGINE.glob("*/__init__.py")}
    assert top <= SHARED, top - SHARED
    assert packages == {*STAGES, "records"}


def test_records_import_no_stage():
    stages = {f"engine.{s}" for s in STAGES}
    leaks = {
        mod: sorted(d for d in deps if d.rpartition(".")[0] in stages or d in stages)
        for mod, deps in _graph().items()
        if mod.startswith("engine.records")
    }
    assert {m: d for m, d in leaks.items() if d} == {}


def test_each_stage_imports_only_earlier_stages():
    order = {s: i for i, s in enumerate(STAGES)}
    wrong = sorted(
        (mod, dep)
        for mod, deps in _graph().items()
        for dep in deps
        if _stage(mod) in order and _stage(dep) in order and order[_stage(dep)] > order[_stage(mod)]
    )
    assert wrong == []


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Every strongly connected component with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on: set[str] = set()
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on.add(v)
        for w in graph.get(v, ()):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1 or v in graph.get(v, ()):
                found.append(sorted(component))

    for v in graph:
        if v not in index:
            visit(v)
    return found


def test_no_import_circle():
    # A package's __init__ imports nothing of its own (its exports load lazily), so
    # circles are between modules.
    assert _cycles(_graph()) == []


def test_the_circle_finder_finds_circles():
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert _cycles({"a": {"b"}, "b": set()}) == []


@pytest.mark.parametrize("stage", STAGES)
def test_each_stage_says_what_it_takes_and_gives_and_exports_real_names(stage):
    package = importlib.import_module(f"engine.{stage}")
    assert "Takes" in package.__doc__ and "Gives" in package.__doc__
    public = {p.stem for p in (ENGINE / stage).glob("*.py") if not p.stem.startswith("_")}
    assert set(package._EXPORTS) == public  # every module's public names are listed
    for module, names in package._EXPORTS.items():
        defined = set(importlib.import_module(f"engine.{stage}.{module}").__all__)
        assert set(names) <= defined
    for module, names in package._EXPORTS.items():  # every submodule loaded: a name the same as
        for name in names:  # a module's would now give the module, not the function
            assert getattr(package, name) is getattr(importlib.import_module(f"engine.{stage}.{module}"), name)
    with pytest.raises(AttributeError, match="no attribute"):
        package.not_a_name  # noqa: B018


# ---------------------------------------------------------------------------
# Sizes: about 80 lines is a long function and about 600 a long module
# ---------------------------------------------------------------------------

MAX_FUNCTION_LINES = 80
MAX_MODULE_LINES = 600
# Kept long on purpose, each with the reason (STYLE.md: "unless splitting would hide the flow").
LONG_KEPT: dict[str, str] = {}


def _code_files() -> list[Path]:
    return [ROOT / "streamlit_app.py", *sorted(ENGINE.rglob("*.py")), *sorted((ROOT / "ui").glob("*.py")), *sorted((ROOT / "pages").glob("*.py"))]


def _code_lines(source: list[str], node: ast.AST) -> int:
    """Lines of ``node`` that hold code: not its docstring, not blank, not only a comment."""
    skip: set[int] = set()
    body = getattr(node, "body", [])
    if body and isinstance(body[0], ast.Expr) and isinstance(getattr(body[0], "value", None), ast.Constant) and isinstance(body[0].value.value, str):
        skip.update(range(body[0].lineno, body[0].end_lineno + 1))
    return sum(
        1
        for i in range(node.lineno, node.end_lineno + 1)
        if i not in skip and source[i - 1].strip() and not source[i - 1].strip().startswith("#")
    )


def long_functions(path: Path, limit: int = MAX_FUNCTION_LINES) -> dict[str, int]:
    """``{qualified name: code lines}`` of the functions and methods in ``path`` longer than ``limit``
    (docstrings, blank lines and comments not counted)."""
    found: dict[str, int] = {}
    source = path.read_text().splitlines()

    def visit(node: ast.AST, prefix: str) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef)):
                lines = _code_lines(source, child)
                if lines > limit:
                    found[f"{prefix}{child.name}"] = lines
                visit(child, f"{prefix}{child.name}.")
            elif isinstance(child, ast.ClassDef):
                visit(child, f"{prefix}{child.name}.")

    visit(ast.parse(path.read_text(), filename=str(path)), "")
    return found


def test_no_long_functions():
    found = {
        f"{p.relative_to(ROOT)}::{name}": n
        for p in _code_files()
        for name, n in long_functions(p).items()
        if f"{p.relative_to(ROOT)}::{name}" not in LONG_KEPT
    }
    assert found == {}


def test_no_long_modules():
    found = {
        str(p.relative_to(ROOT)): n
        for p in _code_files()
        if (n := len(p.read_text().splitlines())) > MAX_MODULE_LINES and str(p.relative_to(ROOT)) not in LONG_KEPT
    }
    assert found == {}


def test_the_size_checks_measure(tmp_path):
    probe = tmp_path / "probe.py"
    doc = '        """Doc.\n\n' + "        more\n" * 100 + '        """\n'
    probe.write_text("class A:\n    def m(self):\n" + doc + "        x = 1\n\n        # note\n" * 90 + "\ndef short():\n" + doc.replace("        ", "    ") + "    return 1\n")
    assert long_functions(probe) == {"A.m": 91}
    assert long_functions(probe, limit=200) == {}
    assert all(reason for reason in LONG_KEPT.values())
