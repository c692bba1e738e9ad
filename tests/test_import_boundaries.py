"""Dependencies point inward: core, layers and analysis import neither torch nor Qt; only ui/app touch Qt."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

PKG = Path(__file__).resolve().parents[1] / "dlstudio"


@pytest.mark.slow
def test_core_layers_analysis_load_without_torch_or_qt() -> None:
    code = (
        "import sys, pkgutil, importlib\n"
        "import dlstudio, dlstudio.core, dlstudio.layers, dlstudio.analysis\n"
        "for pkg in (dlstudio.core, dlstudio.analysis):\n"
        "    for m in pkgutil.iter_modules(pkg.__path__):\n"
        "        importlib.import_module(pkg.__name__ + '.' + m.name)\n"
        "from dlstudio.layers import all_specs\n"
        "assert len(all_specs()) > 0\n"
        "import dlstudio.io.project\n"
        "bad = sorted(m for m in sys.modules if m.split('.')[0] in ('torch', 'PySide6', 'pyqtgraph', 'onnx'))\n"
        "print(','.join(bad))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "", f"imported at load time: {out.stdout.strip()}"


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(a.name.split(".")[0] for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module.split(".")[0])
    return names


def test_only_ui_and_app_import_qt() -> None:
    offenders = []
    for path in PKG.rglob("*.py"):
        rel = path.relative_to(PKG).as_posix()
        if rel.startswith("ui/") or rel == "app.py":
            continue
        if _imports(path) & {"PySide6", "pyqtgraph", "shiboken6"}:
            offenders.append(rel)
    assert offenders == []


def test_core_layers_and_analysis_never_import_torch_even_lazily() -> None:
    # the import-linter contract (tests/test_architecture.py) says the same through other modules too; this one
    # reads the files directly and runs in the fast suite. Emit hooks get torch objects from the compiler.
    offenders = []
    for sub in ("core", "layers", "analysis"):
        for path in (PKG / sub).rglob("*.py"):
            if _imports(path) & {"torch", "PySide6", "onnx", "onnxruntime"}:
                offenders.append(path.relative_to(PKG).as_posix())
    assert offenders == []
