"""Quit never crashes: studio sessions that train, stop, export, open a template, expand a block, switch to the
dark theme and quit with Ctrl+Q, each in a fresh process, exit 0 with no "QObject" or "malloc" line on stderr.

benchmarks/quit_sessions.py runs the same session 30 times (the measured number); this test runs a few to stay
bounded. The ownership rules behind it are in dlstudio/ui/ownership.py."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "benchmarks" / "quit_sessions.py"


def _session(folder: Path) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen", PYTHONFAULTHANDLER="1", DLSTUDIO_TRAIN_NICE="0")
    return subprocess.run(
        [sys.executable, str(SCRIPT), "--one", str(folder)], capture_output=True, text=True, timeout=280, env=env
    )


@pytest.mark.slow
@pytest.mark.timeout(300)
@pytest.mark.parametrize("n", range(3))
def test_scripted_session_quits_cleanly(tmp_path: Path, n: int) -> None:
    out = _session(tmp_path)
    bad = [line for line in out.stderr.splitlines() if "QObject" in line or "malloc" in line.lower()]
    assert out.returncode == 0, (out.returncode, out.stdout[-1500:], out.stderr[-3000:])
    assert not bad, bad
    # the session did what it says: both runs, three exports, the template opened
    assert (tmp_path / "exports" / "train-menu.onnx").is_file()
    assert (tmp_path / "exports" / "file-menu-onnx.onnx").is_file()
    assert (tmp_path / "exports" / "file-menu-python.py").is_file()
    assert len([p for p in (tmp_path / "runs").iterdir() if p.is_dir()]) == 2
    assert (tmp_path / "iris.safetensors").is_file()  # the kept weights


def test_widgets_laid_out_before_their_layout_had_a_parent_belong_to_qt(qtbot) -> None:
    """The ownership mismatch behind the crash: PySide keeps such a widget Python-owned; adopt_children fixes it
    without hiding or moving the widget."""
    import shiboken6
    from PySide6.QtWidgets import QHBoxLayout, QPushButton, QVBoxLayout, QWidget

    from dlstudio.ui.ownership import adopt_children

    outer = QWidget()
    qtbot.addWidget(outer)
    row = QHBoxLayout()
    button = QPushButton("b")
    row.addWidget(button)
    QVBoxLayout(outer).addLayout(row)
    outer.show()
    assert button.parent() is outer and shiboken6.ownedByPython(button)
    adopt_children(outer)
    assert not shiboken6.ownedByPython(button)
    assert button.isVisible() and button.parent() is outer
