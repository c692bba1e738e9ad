"""The studio's lints know the project's task the way `dlstudio check` does: from the data and training settings
(built-in datasets by their declared metadata), passed to the analysis engine as plain facts."""

from __future__ import annotations

import pytest

pytest.importorskip("PySide6")
pytest.importorskip("pytestqt")

from PySide6.QtCore import QSettings  # noqa: E402

from dlstudio.io.project import Project  # noqa: E402
from dlstudio.ui.main_window import MainWindow  # noqa: E402


def _codes(win: MainWindow) -> list[tuple[str, str | None]]:
    return sorted((d.code, d.expected) for d in win.engine.diagnostics())


def test_the_lints_follow_the_projects_dataset(qtbot, tmp_path) -> None:
    settings = QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat)
    win = MainWindow(settings=settings, recovery_dir=tmp_path / "recovery")
    win.ask = lambda kind, text: ""
    qtbot.addWidget(win)
    p = Project(data={"dataset": "digits"}, meta={"name": "head"})
    p.graph.output("y", p.graph.add("Linear", p.graph.input("x", (4,)), out_features=3))  # 15 parameters
    win.set_project(p)
    assert _codes(win) == [("output_units", "10")]  # digits has 10 classes; the head gives 3
    assert win.status_valid.text() == "\u2714 valid"  # warnings only
    # what the training panel does on an edit (it then signals the window)
    p.data = {"dataset": "blobs"}  # 3 classes, 720 training rows
    win._settings_edited()
    assert _codes(win) == []
    p.data = {"dataset": "blobs", "options": {"n_samples": 100}}  # 80 training rows for 15 parameters
    win._settings_edited()
    assert _codes(win) == [("too_few_rows", ">= 150")]
    win._settings_dirty = False  # no unsaved-changes prompt at teardown
