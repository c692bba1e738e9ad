"""`dlstudio check` stays light: the lints get their task facts from the built-in datasets' declared metadata, so
checking a project loads no data and imports neither torch, scikit-learn, ONNX nor Qt."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
HEAVY = ("torch", "sklearn", "scipy", "onnx", "onnxruntime", "onnxscript", "PySide6", "pyqtgraph")


def _check_in_a_fresh_process(project: Path) -> tuple[int, list[str], str]:
    code = (
        "import contextlib, io, json, sys\n"
        "from dlstudio.cli import run_cli\n"
        "out = io.StringIO()\n"
        "with contextlib.redirect_stdout(out):\n"
        f"    rc = run_cli(['check', {str(project)!r}, '--json'])\n"
        f"heavy = sorted({{m.split('.')[0] for m in sys.modules}} & set({HEAVY!r}))\n"
        "print(json.dumps({'rc': rc, 'heavy': heavy, 'report': out.getvalue()}))\n"
    )
    res = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert res.returncode == 0, res.stdout + res.stderr
    got = json.loads(res.stdout.strip().splitlines()[-1])
    return got["rc"], got["heavy"], got["report"]


@pytest.mark.slow
def test_check_imports_neither_torch_nor_sklearn() -> None:
    rc, heavy, report = _check_in_a_fresh_process(ROOT / "examples" / "mlp_digits.dlstudio")
    assert rc == 0, report
    assert heavy == [], f"`dlstudio check` imported {heavy}"
    # the lints still know the dataset: digits leaves 1437 training rows (from its declared size) for 6570 weights
    (w,) = json.loads(report)["diagnostics"]
    assert (w["code"], w["got"]) == ("too_few_rows", "1437")


@pytest.mark.slow
def test_check_of_a_small_builtin_project_warns_without_loading_data(tmp_path: Path) -> None:
    import dlstudio as dls

    g = dls.Graph()
    g.output("y", g.add("Linear", g.input("x", shape=(4,)), out_features=2))
    path = dls.Project(graph=g, data={"dataset": "iris"}).save(tmp_path / "iris.dlstudio")
    rc, heavy, report = _check_in_a_fresh_process(path)
    assert rc == 0 and heavy == [], (heavy, report)
    # iris has 3 classes (declared): a head with 2 units is flagged without loading the table
    (w,) = json.loads(report)["diagnostics"]
    assert (w["code"], w["expected"], w["got"]) == ("output_units", "3", "2")
