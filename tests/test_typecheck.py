"""mypy over the packages listed in pyproject's [tool.mypy] (core, layers, analysis, compiler) stays clean."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.slow
@pytest.mark.skipif(importlib.util.find_spec("mypy") is None, reason="mypy is not installed")
def test_mypy_is_clean() -> None:
    res = subprocess.run([sys.executable, "-m", "mypy"], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, f"mypy failed (exit {res.returncode}):\n{res.stdout}\n{res.stderr}"
