"""While a run streams, the training dock does little: the rate line's new text repaints that line only (it does
not re-lay out the dock up to its tab widget), and the plots repaint when events come, at most every REPAINT_MS,
with no timer waking the window in between."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

pytest.importorskip("PySide6")
pytest.importorskip("pytestqt")

from PySide6.QtCore import QEvent, QObject  # noqa: E402

from dlstudio.io.project import Project  # noqa: E402
from dlstudio.training.events import BatchEnd, EpochStarted  # noqa: E402
from dlstudio.training.quick import mlp_for  # noqa: E402


class _Events(QObject):
    """Counts one kind of event on the widgets it watches."""

    def __init__(self, kind: QEvent.Type) -> None:
        super().__init__()
        self.kind, self.count = kind, 0

    def eventFilter(self, obj: QObject, event: QEvent) -> bool:  # noqa: N802
        if event.type() == self.kind:
            self.count += 1
        return False


def _workspace(qtbot, tmp_path: Path):
    from dlstudio.ui.training import TrainingWorkspace

    project = Project(graph=mlp_for("iris", (8,)), data={"dataset": "iris"})
    ws = TrainingWorkspace(lambda: project, runs_root=tmp_path, isolation="thread")
    qtbot.addWidget(ws)
    ws.load_project()
    ws.resize(1200, 800)
    ws.show()
    qtbot.waitExposed(ws)
    return ws


def test_the_rate_line_repaints_itself_not_the_dock(qtbot, tmp_path: Path) -> None:
    from dlstudio.ui.training.live import RunRecord

    ws = _workspace(qtbot, tmp_path)
    live = ws.live
    live.start(RunRecord("r", {}), 5)
    qtbot.wait(50)
    layouts, paints = _Events(QEvent.Type.LayoutRequest), _Events(QEvent.Type.Paint)
    ws.tabs.installEventFilter(layouts)
    ws.tabs.tabBar().installEventFilter(paints)
    line = live.rate
    for i in range(1, 30):  # a new rate and ETA several times a second, of every length
        line.setText(f"epoch 1/5, batch {i}/{i * 7}  {i * 1234:,} samples/s  ETA {1000 // i} s  loss {1 / i:.4f}")
        qtbot.wait(5)
    assert line.text().startswith("epoch 1/5, batch 29/203")
    assert layouts.count == 0  # nothing re-laid out up to the tab widget
    assert paints.count == 0  # so its tab bar (and frame) were not repainted


def test_plots_repaint_when_events_come_at_most_every_repaint_ms(qtbot, tmp_path: Path) -> None:
    from dlstudio.ui.training.live import RunRecord
    from dlstudio.ui.training.workspace import REPAINT_MS

    ws = _workspace(qtbot, tmp_path)
    ws.live.start(RunRecord("r", {}), 5)
    ws.worker = object()  # as while a run streams
    try:
        before = ws.live.repaints
        qtbot.wait(3 * REPAINT_MS)
        assert ws.live.repaints == before and not ws.timer.isActive()  # nothing came: nothing wakes the window
        started = time.perf_counter()
        ws._on_events([EpochStarted(1, 5, 40, 0.01)])
        for batch in range(1, 41):  # 40 batches, a message each (a loaded machine stretches the waits)
            ws._on_events([BatchEnd(1, batch, 40, 1.0 / batch, batch * 16, 500.0)])
            qtbot.wait(REPAINT_MS // 20)
        qtbot.waitUntil(lambda: not ws.timer.isActive(), timeout=2 * REPAINT_MS + 1000)
        intervals = (time.perf_counter() - started) * 1000 / REPAINT_MS
        painted = ws.live.repaints - before
        assert 1 <= painted <= intervals + 1, (painted, intervals)  # at most one per interval, not one per batch
        assert len(ws.live.batch_curve.getData()[0]) == 40  # and the last repaint shows every batch
    finally:
        ws.worker = None
