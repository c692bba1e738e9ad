"""Shared test setup: Qt runs headless; dlstudio's own warnings are errors (pyproject filterwarnings); every test
that drives Qt is marked `gui`; a stuck test always ends (pytest-timeout, plus a C-level backstop below)."""

from __future__ import annotations

import faulthandler
import os
import sys
from pathlib import Path

import pytest

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ.setdefault("PYQTGRAPH_QT_LIB", "PySide6")

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "examples"
SHARED = ROOT.parent / "shared"

if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))


QT_FIXTURES = {"qtbot", "qapp"}  # fixturenames holds every fixture a test uses, directly or not


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """`gui` for every test that drives Qt (a pytest-qt fixture, or a test_ui_* module), so `-m "not gui"` runs
    the headless suite."""
    for item in items:
        uses_qt = QT_FIXTURES.intersection(getattr(item, "fixturenames", ()))
        if uses_qt or item.path.name.startswith("test_ui_"):
            item.add_marker(pytest.mark.gui)


def _timeout_of(item: pytest.Item) -> float:
    marker = item.get_closest_marker("timeout")
    if marker is not None and marker.args:
        return float(marker.args[0])
    return float(item.config.getini("timeout") or 0)


@pytest.fixture(autouse=True)
def _hang_backstop(request: pytest.FixtureRequest):
    """pytest-timeout's watchdog is a Python thread: it cannot run while another thread holds the interpreter lock
    forever (a deadlock inside a C extension). faulthandler's watchdog is C: 60 s after the test's own timeout it
    dumps every thread's stack and ends the process, and pytest-xdist reports the test and starts a new worker."""
    limit = _timeout_of(request.node)
    if limit > 0:
        faulthandler.dump_traceback_later(limit + 60, exit=True)
    yield
    if limit > 0:
        faulthandler.cancel_dump_traceback_later()


@pytest.fixture
def one_torch_thread():
    """One torch thread for tests that train small models: they run fastest that way, and several OpenMP
    threads spinning against each other on a shared 2-core machine make small layers far slower."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def pytest_sessionfinish(session, exitstatus) -> None:
    """Tear Qt down in a defined order: close and delete every top-level widget and collect garbage while the
    QApplication still exists, so no Qt object outlives it at interpreter exit (which can crash)."""
    qt = sys.modules.get("PySide6.QtWidgets")
    if qt is None:
        return
    import gc

    app = qt.QApplication.instance()
    if app is None:
        return
    # the clipboard owns QMimeData created from Python; Qt would delete it after Python has shut down
    qt.QApplication.clipboard().clear()
    spares = sys.modules.get("dlstudio.ui.process_worker")
    if spares is not None:  # the idle training process waiting for a next run
        spares.SPARES.shutdown()
    for w in qt.QApplication.topLevelWidgets():
        w.close()
        w.deleteLater()
    from PySide6.QtCore import QCoreApplication, QEvent

    QCoreApplication.sendPostedEvents(None, QEvent.Type.DeferredDelete)
    app.processEvents()
    gc.collect()
