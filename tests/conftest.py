"""Shared test setup: Qt runs headless; dlstudio's own warnings are errors (pyproject filterwarnings)."""

from __future__ import annotations

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
