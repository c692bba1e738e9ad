"""The import-linter contracts in pyproject.toml hold: packages import only the packages below them (the facade
and CLI > ui > export > training | importers > io > compiler > nn > analysis > layers > core), and core, layers
and analysis reach neither torch, Qt, scikit-learn nor ONNX, not even through another module. Function-level
imports count."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.slow
def test_import_contracts_are_kept() -> None:
    lint_imports = Path(sys.executable).with_name("lint-imports")
    if not lint_imports.exists():
        pytest.skip("import-linter is not installed (pip install -e .[dev])")
    res = subprocess.run(
        [str(lint_imports), "--no-cache", "--no-logo"], cwd=ROOT, capture_output=True, text=True, timeout=300
    )
    assert res.returncode == 0, res.stdout + res.stderr
