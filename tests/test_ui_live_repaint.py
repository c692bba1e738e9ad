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
from dlstudio.training.events import BatchEnd, EpochEnd, EpochStarted  # noqa: E402
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


def _points(curve) -> int:
    xs = curve.getData()[0]
    return 0 if xs is None else len(xs)


def _epoch(epoch: int, epochs: int, accuracy: float, lr: float = 0.01, mae: float | None = None) -> EpochEnd:
    metrics = {"loss": 1.0 / epoch, "val_loss": 1.2 / epoch, "lr": lr}
    metrics.update({"val_mae": mae} if mae is not None else {"accuracy": accuracy, "val_accuracy": accuracy - 0.05})
    return EpochEnd(epoch, epochs, metrics, lr, 0.1)


def test_a_fast_run_redraws_its_epoch_curves_at_most_every_epoch_repaint_s(qtbot, monkeypatch) -> None:
    from dlstudio.ui.training import live as live_module
    from dlstudio.ui.training.live import LivePlots, RunRecord

    monkeypatch.setattr(live_module, "EPOCH_REPAINT_S", 60.0)  # no second epoch drawing during this test
    live = LivePlots()
    qtbot.addWidget(live)
    live.start(RunRecord("r", {}), 5)
    for epoch in range(1, 6):  # five epochs, a repaint after each, well within EPOCH_REPAINT_S
        live.on_event(BatchEnd(epoch, 1, 1, 1.0 / epoch, 16, 500.0))
        live.on_event(_epoch(epoch, 5, 0.5 + epoch / 20))
        waiting = live.repaint()
        assert waiting == (epoch > 1)  # the first epoch shows at once, the rest wait for their turn
        assert len(live.batch_curve.getData()[0]) == epoch  # the batch loss follows every repaint
    assert len(live.metric_val.getData()[0]) == 1 and live.progress.value() == 1
    assert live.repaint(final=True) is False  # the run ended: everything is drawn
    assert list(live.metric_val.getData()[0]) == [1, 2, 3, 4, 5] and live.progress.value() == 5
    assert len(live.train_curve.getData()[0]) == 5 and len(live.lr_curve.getData()[0]) == 5


def test_the_workspace_comes_back_for_epoch_points_that_waited(qtbot, tmp_path: Path, monkeypatch) -> None:
    from dlstudio.ui.training import live as live_module
    from dlstudio.ui.training.live import RunRecord

    monkeypatch.setattr(live_module, "EPOCH_REPAINT_S", 0.3)
    ws = _workspace(qtbot, tmp_path)
    ws.live.start(RunRecord("r", {}), 3)
    ws.worker = object()  # as while a run streams
    try:
        ws._on_events([BatchEnd(1, 1, 1, 1.0, 16, 500.0), _epoch(1, 3, 0.6)])
        qtbot.waitUntil(lambda: _points(ws.live.metric_val) == 1, timeout=10000)
        ws._on_events([BatchEnd(2, 1, 1, 0.5, 16, 500.0), _epoch(2, 3, 0.7)])  # then nothing more arrives
        qtbot.waitUntil(lambda: _points(ws.live.metric_val) == 2, timeout=10000)
        qtbot.waitUntil(lambda: not ws.timer.isActive(), timeout=10000)  # and then nothing wakes the window
    finally:
        ws.worker = None


def test_epoch_axes_are_set_only_when_their_range_changes(qtbot, monkeypatch) -> None:
    from dlstudio.ui.training import live as live_module
    from dlstudio.ui.training.live import LivePlots, RunRecord

    monkeypatch.setattr(live_module, "EPOCH_REPAINT_S", 0.0)
    live = LivePlots()
    qtbot.addWidget(live)
    calls = {"metric": 0, "lr_ticks": 0}
    set_y = live.metric_plot.setYRange
    set_ticks = live.lr_plot.getAxis("left").setTicks
    monkeypatch.setattr(
        live.metric_plot,
        "setYRange",
        lambda *a, **k: (calls.__setitem__("metric", calls["metric"] + 1), set_y(*a, **k)),
    )
    monkeypatch.setattr(
        live.lr_plot.getAxis("left"),
        "setTicks",
        lambda t: (calls.__setitem__("lr_ticks", calls["lr_ticks"] + 1), set_ticks(t)),
    )
    live.start(RunRecord("r", {}), 10)  # a rate not known at the start: its axis follows the epochs
    calls.update(metric=0, lr_ticks=0)
    for epoch in range(1, 11):  # accuracy climbs from 0.55 to 1.0 at a constant learning rate
        live.on_event(_epoch(epoch, 10, 0.5 + epoch / 20))
        live.repaint()
    # accuracy keeps one fixed 0..1 axis, and a constant rate keeps its one label: each was set once
    assert calls == {"metric": 1, "lr_ticks": 1}
    low, high = live.metric_plot.viewRange()[1]
    assert low <= 0.0 and 1.0 <= high < 1.1
    assert [t for t, _label in live.lr_plot.getAxis("left")._tickLevels[0]] == [0.01]

    live.start(RunRecord("regression", {}), 4)  # a mean absolute error: the axis grows only when it must
    calls["metric"] = 0
    for epoch, mae in enumerate([3.0, 2.0, 1.5, 4.0], start=1):
        live.on_event(_epoch(epoch, 4, 0.0, mae=mae))
        live.repaint()
    assert calls["metric"] == 2  # the first epoch and the one that went above the axis (4.0)
    low, high = live.metric_plot.viewRange()[1]
    assert low <= 0.0 and 4.0 <= high < 4.5


def test_the_metric_plot_is_laid_out_before_the_first_epoch(qtbot, monkeypatch) -> None:
    from dlstudio.ui.training import live as live_module
    from dlstudio.ui.training.live import LivePlots, RunRecord

    monkeypatch.setattr(live_module, "EPOCH_REPAINT_S", 0.0)
    live = LivePlots()
    qtbot.addWidget(live)
    live.start(RunRecord("r", {}), 5, lr=0.01)  # a constant learning rate: its axis is set at the start
    live.prepare("classification", has_validation=True)  # what the training process reports before its first batch
    assert live.metric_plot.plotItem.titleLabel.text == "accuracy: validation (orange)"
    assert live.metric_plot.viewRange()[1][0] <= 0.0 and live.metric_plot.viewRange()[1][1] >= 1.0
    assert [t for t, _label in live.lr_plot.getAxis("left")._tickLevels[0]] == [0.01]
    calls: list[str] = []
    for name, owner in (
        ("setTitle", live.metric_plot),
        ("setYRange", live.metric_plot),
        ("setYRange", live.lr_plot),
        ("setTicks", live.lr_plot.getAxis("left")),
    ):
        original = getattr(owner, name)
        monkeypatch.setattr(owner, name, lambda *a, _n=name, _o=original, **k: (calls.append(_n), _o(*a, **k))[1])
    for epoch in range(1, 6):  # the engine's epochs: validation accuracy only, at the constant rate
        metrics = {"loss": 1.0 / epoch, "val_loss": 1.1 / epoch, "val_accuracy": 0.5 + epoch / 12, "lr": 0.01}
        live.on_event(EpochEnd(epoch, 5, metrics, 0.01, 0.1))
        live.repaint()
    assert calls == []  # nothing of the layout changed while the epochs came
    assert len(live.metric_val.getData()[0]) == 5

    live.start(RunRecord("regression", {}), 3)
    live.prepare("regression", has_validation=True)
    assert live.metric_plot.plotItem.titleLabel.text == "mae: validation (orange)"
    live.start(RunRecord("no validation", {}), 3)
    live.prepare("classification", has_validation=False)  # no metric will come: the title is left as it was
    assert live.metric_plot.plotItem.titleLabel.text == "mae: validation (orange)"


def test_the_runs_table_follows_epochs_only_while_it_is_shown(qtbot, tmp_path: Path) -> None:
    from dlstudio.ui.training.live import RunRecord

    ws = _workspace(qtbot, tmp_path)
    run = ws.run = RunRecord("r", {"epochs": 3})
    ws.runs.add(run)
    ws.live.start(run, 3)
    ws.worker = object()  # as while a run streams
    epochs_cell = lambda: ws.runs.table.item(0, ws.runs.COLUMNS.index("epochs")).text()  # noqa: E731
    try:
        ws._on_events([BatchEnd(1, 1, 1, 1.0, 16, 500.0), _epoch(1, 3, 0.6)])
        qtbot.waitUntil(lambda: _points(ws.live.metric_val) == 1, timeout=10000)
        assert epochs_cell() == "0/3"  # the Live tab is shown: the table waits
        ws.tabs.setCurrentWidget(ws.runs)
        assert epochs_cell() == "1/3"  # and is brought up to date when its tab opens
        ws._on_events([BatchEnd(2, 1, 1, 0.5, 16, 500.0), _epoch(2, 3, 0.7)])
        qtbot.waitUntil(lambda: epochs_cell() == "2/3", timeout=10000)  # shown, it follows the repaints
    finally:
        ws.worker = None


def test_start_clears_the_last_runs_curves_at_once(qtbot) -> None:
    from dlstudio.ui.training.live import LivePlots, RunRecord

    live = LivePlots()
    qtbot.addWidget(live)
    live.start(RunRecord("first", {}), 3)
    for epoch in (1, 2):
        live.on_event(BatchEnd(epoch, 1, 1, 1.0 / epoch, 16, 500.0))
        live.on_event(_epoch(epoch, 3, 0.6))
    live.repaint(final=True)
    assert _points(live.train_curve) == 2 and _points(live.batch_curve) == 2 and live.rate.text()
    live.start(RunRecord("second", {}), 3)  # no event of the new run yet (its process may still be starting)
    assert _points(live.train_curve) == 0 and _points(live.batch_curve) == 0 and _points(live.metric_val) == 0
    assert live.rate.text() == ""  # the last run's rate and ETA went with its curves


def test_a_finished_run_shown_again_keeps_its_constant_rates_one_label(qtbot) -> None:
    from dlstudio.ui.training.live import LivePlots, RunRecord

    live = LivePlots()
    qtbot.addWidget(live)
    run = RunRecord("read from its folder", {})
    run.history = [{"epoch": e, "loss": 1.0 / e, "val_loss": 1.1 / e, "val_accuracy": 0.8, "lr": 0.003} for e in (1, 2)]
    live.start(run, 2)  # as the workspace shows a project's last run (its rate not given: read from the history)
    assert [t for t, _label in live.lr_plot.getAxis("left")._tickLevels[0]] == [0.003]
    assert _points(live.lr_curve) == 2
