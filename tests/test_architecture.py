"""The layer rule: imaging/ and planner/ never import Qt, VTK or ui (ARCHITECTURE.md)."""

from __future__ import annotations

import ast
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
CORE = ("imaging", "planner")
FORBIDDEN = ("PySide6", "shiboken6", "vtk", "vtkmodules", "pyvista", "pyvistaqt", "ui")


def forbidden_imports(source: str, filename: str = "<src>") -> list[str]:
    """Every import in ``source`` (top level or inside functions) of a forbidden package."""
    found = []
    for node in ast.walk(ast.parse(source, filename)):
        names = []
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names = [node.module]
        elif isinstance(node, ast.Call) and getattr(node.func, "attr", getattr(node.func, "id", "")) in (
            "import_module", "__import__"
        ) and node.args and isinstance(node.args[0], ast.Constant) and isinstance(node.args[0].value, str):
            names = [node.args[0].value]
        for name in names:
            if name.split(".")[0] in FORBIDDEN:
                found.append(f"{filename}:{node.lineno}: {name}")
    return found


def core_files() -> list[Path]:
    return sorted(p for pkg in CORE for p in (REPO / pkg).rglob("*.py"))


def test_core_source_imports_no_gui_or_rendering():
    bad = [hit for p in core_files() for hit in forbidden_imports(p.read_text(), str(p.relative_to(REPO)))]
    assert not bad, "The core imports GUI/rendering code:\n" + "\n".join(bad)


@pytest.mark.parametrize(
    "source",
    [
        "import PySide6",
        "from PySide6.QtWidgets import QWidget",
        "def f():\n    import vtkmodules.vtkCommonCore",
        "from ui.main_window import MainWindow",
        "import importlib\nimportlib.import_module('ui.app')",
    ],
)
def test_the_checker_catches_violations(source):
    assert forbidden_imports(source)


def test_import_linter_contracts_hold():
    exe = Path(sys.executable).with_name("lint-imports")
    if not exe.exists():
        pytest.skip("import-linter is not installed in this environment")
    result = subprocess.run([str(exe)], cwd=REPO, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr


def test_core_imports_and_works_with_qt_and_vtk_absent():
    """Import every core module in a fresh interpreter where Qt and VTK cannot be imported."""
    modules = []
    for p in core_files():
        rel = p.relative_to(REPO).with_suffix("")
        parts = rel.parts[:-1] if rel.name == "__init__" else rel.parts
        if rel.name == "__main__":
            continue
        modules.append(".".join(parts))
    script = textwrap.dedent(
        f"""
        import importlib, importlib.abc, sys
        BLOCKED = {FORBIDDEN!r}
        class Block(importlib.abc.MetaPathFinder):
            def find_spec(self, name, path=None, target=None):
                if name.split(".")[0] in BLOCKED:
                    raise ImportError(f"blocked in this test: {{name}}")
                return None
        sys.meta_path.insert(0, Block())
        for m in {modules!r}:
            importlib.import_module(m)
        import numpy as np
        import imaging
        from imaging.volume import Volume
        v = Volume(np.zeros((2, 2, 2)), np.eye(4))
        assert v.index_to_lps([1, 1, 1]).tolist() == [1.0, 1.0, 1.0]
        print("ok", len({modules!r}))
        """
    )
    result = subprocess.run([sys.executable, "-c", script], cwd=REPO, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("ok")
