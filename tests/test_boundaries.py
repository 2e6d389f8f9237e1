"""The layout's boundaries, checked by reading imports (STYLE.md rule 1)."""

from __future__ import annotations

import ast
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
