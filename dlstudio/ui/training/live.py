"""Live training view: loss and metric curves (per batch and per epoch), learning rate, progress with ETA and
samples/s, a log-scale toggle, the overfitting hint; and the runs list whose curves can be overlaid.

Events only append to plain Python lists; `repaint()` (called by the workspace's 15 Hz timer) pushes them to
the curves with `setData`, so a fast run costs the GUI thread a few list appends per batch."""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from typing import Any

import pyqtgraph as pg
from PySide6.QtCore import QSize, Qt, Signal
from PySide6.QtGui import QPainter, QPaintEvent, QPalette
from PySide6.QtWidgets import (
    QCheckBox,
    QHBoxLayout,
    QLabel,
    QProgressBar,
    QSizePolicy,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from ...training.events import BatchEnd, EpochEnd, EpochStarted, Event

EPOCH_REPAINT_S = 1.0  # the epoch curves redraw at most this often while a run streams (see LivePlots.repaint)
# the metric plotted beside the loss for each task (see _metric_key), known before the first epoch ends
_TASK_METRIC = {"classification": "accuracy", "binary": "accuracy", "regression": "mae"}
OVERLAY_COLOURS = ["#e377c2", "#8c564b", "#17becf", "#bcbd22", "#7f7f7f", "#9467bd"]


@dataclass
class RunRecord:
    """One run's settings, curves and final metrics (kept for the runs list and overlays)."""

    name: str
    settings: dict[str, Any]
    batch_x: list[float] = field(default_factory=list)  # fractional epoch of each batch
    batch_loss: list[float] = field(default_factory=list)
    epochs: list[int] = field(default_factory=list)
    history: list[dict[str, float]] = field(default_factory=list)
    status: str = "running"
    final: dict[str, float] = field(default_factory=dict)
    run_dir: str | None = None

    def series(self, key: str) -> tuple[list[int], list[float]]:
        xs = [h["epoch"] for h in self.history if key in h and h[key] is not None]
        return xs, [float(h[key]) for h in self.history if key in h and h[key] is not None]


def _metric_key(history: list[dict[str, float]]) -> str | None:
    """The main metric to plot next to the loss: accuracy for classifiers, MAE for regression."""
    if not history:
        return None
    keys = history[-1]
    for k in ("accuracy", "val_accuracy", "mae", "val_mae", "val_r2"):
        if k in keys:
            return k.removeprefix("val_")
    return None


class RateLine(QWidget):
    """One line of text (the rate and ETA, several times a second) that never changes the layout: a QLabel's new
    text re-lays out every widget up to the training dock's tab widget, which then repaints its whole frame and
    tab bar (most of the window's paint time while a run streamed). This one repaints only itself."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._text = ""
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
        self.setMinimumHeight(self.fontMetrics().height() + 4)

    def text(self) -> str:
        return self._text

    def setText(self, text: str) -> None:  # noqa: N802 - QLabel's name, so callers read either alike
        if text != self._text:
            self._text = text
            self.update()

    def sizeHint(self) -> QSize:  # noqa: N802
        return QSize(self.fontMetrics().horizontalAdvance("x" * 40), self.fontMetrics().height() + 4)

    def paintEvent(self, event: QPaintEvent) -> None:  # noqa: N802
        painter = QPainter(self)
        painter.setPen(self.palette().color(QPalette.ColorRole.WindowText))
        shown = self.fontMetrics().elidedText(self._text, Qt.TextElideMode.ElideRight, self.width())
        painter.drawText(self.rect(), int(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter), shown)
        painter.end()


class LivePlots(QWidget):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        lay = QVBoxLayout(self)
        top = QHBoxLayout()
        self.progress = QProgressBar()
        self.progress.setFormat("epoch %v")
        self.rate = RateLine()
        self.status = QLabel("Not started")
        self.status.setWordWrap(True)
        self.log_scale = QCheckBox("log scale")
        self.log_scale.toggled.connect(self._set_log)
        top.addWidget(self.progress, 2)
        top.addWidget(self.rate, 3)
        top.addWidget(self.log_scale)
        lay.addLayout(top)
        lay.addWidget(self.status)
        self.hint = QLabel()
        self.hint.setWordWrap(True)
        self.hint.setStyleSheet("color: #a15c00;")
        self.hint.hide()
        lay.addWidget(self.hint)
        self.loss_plot = pg.PlotWidget(title="Loss")
        self.loss_plot.addLegend(offset=(-10, 10))
        self.loss_plot.setLabel("bottom", "epoch")
        self.metric_plot = pg.PlotWidget(title="Metric")
        self.metric_plot.setLabel("bottom", "epoch")
        self.lr_plot = pg.PlotWidget(title="Learning rate")
        self.lr_plot.setLabel("bottom", "epoch")
        # a short plot: major ticks only, or their labels overlap (before training the range is 0..1)
        self.lr_plot.getAxis("left").setStyle(maxTickLevel=0)
        for p in (self.loss_plot, self.metric_plot, self.lr_plot):
            for side in ("left", "bottom"):
                # ticks point outwards: an axis with inward ticks reaches into the plot, and a curve's new points
                # there repainted the whole axis (its ticks and labels) on every repaint
                p.getAxis(side).setStyle(tickLength=5)
        # one row: in a bottom dock a third of the window tall, plots stacked in two rows were too flat to read
        row = QHBoxLayout()
        row.addWidget(self.loss_plot, 2)
        row.addWidget(self.metric_plot, 2)
        row.addWidget(self.lr_plot, 1)
        lay.addLayout(row, 1)
        # no point symbols on the epoch curves: scatter items cost more to paint than the lines themselves
        self.batch_curve = self.loss_plot.plot(
            name="train (batch)", pen=pg.mkPen("#9ecae1", width=1), skipFiniteCheck=True
        )
        # long runs have many batch points: draw at most about one per pixel of the visible range
        self.batch_curve.setDownsampling(auto=True, method="peak")
        self.batch_curve.setClipToView(True)
        self.train_curve = self.loss_plot.plot(name="train", pen=pg.mkPen("#1f77b4", width=2))
        self.val_curve = self.loss_plot.plot(name="validation", pen=pg.mkPen("#ff7f0e", width=2))
        self.metric_train = self.metric_plot.plot(pen=pg.mkPen("#1f77b4", width=2))
        self.metric_val = self.metric_plot.plot(pen=pg.mkPen("#ff7f0e", width=2))
        self.lr_curve = self.lr_plot.plot(pen=pg.mkPen("#2ca02c", width=2))
        self.overlays: list[Any] = []
        self._overlay_runs: list[RunRecord] = []
        self.run: RunRecord | None = None
        self._dirty = False
        self._epochs_total = 0
        self._last_batch: BatchEnd | None = None
        self._epoch_started_at = 0.0
        self._painted = (-1, -1)  # batch and epoch counts already on the curves
        self._epochs_painted_at = -math.inf  # perf_counter when the epoch curves were last drawn
        self._metric_title = ""
        self.repaints = 0
        # the loss axis runs from 0 to the largest loss seen and changes only when a loss goes above it: an axis
        # that follows every new minimum is re-laid out (its ticks and labels regenerated) on every repaint
        self._loss_top = 0.0  # largest finite loss of this run and the overlaid runs
        self._loss_axis: tuple[float, float] | None = None  # the loss axis's range, as last set
        self._metric_axis: tuple[float, float] | None = None  # the metric axis's range, as last set
        self._lr_axis: tuple[str, float] | None = None  # what the learning-rate axis was last set to show

    # ----------------------------------------------------------------------------------------- events (cheap)
    def start(self, run: RunRecord, epochs: int, lr: float | None = None) -> None:
        """A new run of `epochs`; `lr` when its learning rate stays constant (its axis is laid out now)."""
        self.run = run
        self._epochs_total = epochs
        self.progress.setRange(0, epochs)
        self.progress.setValue(0)
        self._last_batch = None  # the rate/ETA line belongs to the previous run
        self._painted = (-1, -1)
        self._epochs_painted_at = -math.inf
        self._loss_top = max([0.0, *(self._overlay_top(r) for r in self._overlay_runs)])
        self._loss_axis = None
        self._set_epoch_range(epochs)
        self.hint.hide()
        self.rate.setText("")
        self.status.setText("Preparing data and model...")
        self._dirty = True
        # a constant rate's axis is laid out now; anything else follows the rate once epochs come (the run's own
        # history, when it has one, is drawn just below and sets the axis from its rates)
        self._fit_lr_axis([lr] if lr is not None and lr > 0 else [])
        self.repaint()  # the last run's curves go now, not when the first batch arrives (seconds later)

    def prepare(self, task_kind: str | None, has_validation: bool) -> None:
        """Lay out the metric plot for the metric the run's epochs will carry (the training process says which
        task it trains), before the first batch. Its new title and axis would otherwise re-lay out the plot
        while the second epoch trains: the most expensive repaint of a run. A guess the epochs contradict is
        corrected when they are drawn."""
        key = _TASK_METRIC.get(task_kind or "")
        if key is None or not has_validation or self.run is None or self.run.history:
            return
        self._set_metric_title(key, train=False, val=True)
        self._fit_metric_axis(key, [])

    def on_event(self, event: Event) -> None:
        run = self.run
        if run is None:
            return
        if isinstance(event, BatchEnd):
            run.batch_x.append(event.epoch - 1 + event.batch / max(event.batches, 1))
            run.batch_loss.append(event.loss)
            self._last_batch = event
            if event.loss > self._loss_top and math.isfinite(event.loss):
                self._loss_top = event.loss
        elif isinstance(event, EpochEnd):
            run.history.append({"epoch": event.epoch, **event.metrics})
            run.epochs.append(event.epoch)
            if event.warnings:
                self.hint.setText("Overfitting? " + " ".join(event.warnings))
                self.hint.show()
        elif isinstance(event, EpochStarted):
            self._epoch_started_at = time.perf_counter()
            if event.epochs != self._epochs_total:
                self._set_epoch_range(event.epochs)
            self._epochs_total = event.epochs
        self._dirty = True

    # --------------------------------------------------------------------------------------- repaint (timer)
    def repaint(self, final: bool = False) -> bool:
        """Push buffered points to the curves; a no-op when nothing arrived since the last call. The batch loss
        follows every call; the epoch curves, their axes and the progress bar at most every EPOCH_REPAINT_S
        (a fast run ends several epochs a second, and redrawing three plots for each was most of the window's
        work), and all of it when `final`. True when epoch points are still waiting: call again."""
        run = self.run
        if not self._dirty or run is None:
            return False
        self._dirty = False
        self.repaints += 1
        if len(run.batch_loss) != self._painted[0]:
            self.batch_curve.setData(run.batch_x, run.batch_loss)
        now = time.perf_counter()
        epochs_waiting = len(run.history) != self._painted[1]
        if epochs_waiting and (final or now - self._epochs_painted_at >= EPOCH_REPAINT_S):
            if run.history:  # clearing the curves at the start does not hold back the first epoch
                self._epochs_painted_at = now
            self._paint_epoch_curves(run)
            epochs_waiting = False
        self._painted = (len(run.batch_loss), self._painted[1])
        self._fit_loss_axis()
        b = self._last_batch
        if b is not None:
            done = (b.epoch - 1) * b.batches + b.batch
            total = self._epochs_total * b.batches
            rate = b.samples_per_s
            remaining_batches = max(total - done, 0)
            per_batch = b.samples / max(rate, 1e-9) / max(b.batch, 1)
            eta = remaining_batches * per_batch
            self.rate.setText(
                f"epoch {b.epoch}/{self._epochs_total}, batch {b.batch}/{b.batches}  "
                f"{rate:,.0f} samples/s  ETA {eta:.0f} s  loss {b.loss:.4f}"
            )
        self._dirty = epochs_waiting
        return epochs_waiting

    def _paint_epoch_curves(self, run: RunRecord) -> None:
        self.train_curve.setData(*run.series("loss"))
        self.val_curve.setData(*run.series("val_loss"))
        key = _metric_key(run.history)
        if key:
            train, val = run.series(key), run.series("val_" + key)
            self._set_metric_title(key, train=bool(train[0]), val=bool(val[0]))
            self.metric_train.setData(*train)
            self.metric_val.setData(*val)
            self._fit_metric_axis(key, train[1] + val[1])
        else:  # no metric (yet): a previous run's metric curves go
            for curve in (self.metric_train, self.metric_val):
                xs = curve.getData()[0]
                if xs is not None and len(xs):
                    curve.setData([], [])
        lr_x, lr_y = run.series("lr")
        self.lr_curve.setData(lr_x, lr_y)
        if lr_y:  # no rate yet: the axis keeps what Start laid out
            self._fit_lr_axis(lr_y)
        # QProgressBar repaints itself at once on every new value: it moves with the epoch curves
        self.progress.setValue(int(run.history[-1]["epoch"]) if run.history else 0)
        self._painted = (self._painted[0], len(run.history))

    def _set_metric_title(self, key: str, train: bool, val: bool) -> None:
        """The title names the curves present (the engine may track the metric on validation only); set only
        when it changes, as a new title re-lays out the whole plot."""
        parts = [p for p, present in (("train (blue)", train), ("validation (orange)", val)) if present]
        title = f"{key}: {', '.join(parts)}"
        if title != self._metric_title:
            self.metric_plot.setTitle(title)
            self._metric_title = title

    def _set_epoch_range(self, epochs: int) -> None:
        """A fixed epoch axis for the run: the x axis is not re-laid out on every repaint (a large share of
        the paint time), only the y axes follow the data."""
        for p in (self.loss_plot, self.metric_plot, self.lr_plot):
            p.setXRange(0, max(epochs, 1), padding=0.02)
            p.enableAutoRange(x=False, y=True)
        self._loss_axis = None  # the y axes are set again at the next repaint
        self._metric_axis = None
        self._lr_axis = None

    def set_status(self, text: str, error: bool = False) -> None:
        self.status.setText(text)
        self.status.setStyleSheet("color: #b00020; font-weight: bold;" if error else "")

    def _set_log(self, on: bool) -> None:
        self.loss_plot.setLogMode(y=on)
        self._loss_axis = None
        self._fit_loss_axis()

    def _fit_loss_axis(self) -> None:
        if self.log_scale.isChecked():  # a log axis has no 0: let it follow the data
            self.loss_plot.enableAutoRange(y=True)
            return
        top = self._loss_top
        for h in self.run.history if self.run is not None else []:
            for k in ("loss", "val_loss"):
                v = h.get(k)
                if isinstance(v, (int, float)) and math.isfinite(v) and v > top:
                    top = float(v)
        self._loss_top = top
        grown = _grown(self._loss_axis, 0.0, top)
        if grown is not None:
            self._loss_axis = grown
            self.loss_plot.setYRange(*grown, padding=0)

    def _fit_metric_axis(self, key: str, values: list[float]) -> None:
        """Accuracy's axis always holds 0..1 (as a percentage scale would); other metrics get an axis from 0 (or
        their lowest value below 0). Both grow only when a value leaves them, as the loss axis does."""
        finite = [v for v in values if math.isfinite(v)]
        top = 1.0 if key == "accuracy" else 0.0
        grown = _grown(self._metric_axis, min([0.0, *finite]), max([top, *finite]))
        if grown is not None:
            self._metric_axis = grown
            self.metric_plot.setYRange(*grown, padding=0)

    def _fit_lr_axis(self, lr: list[float]) -> None:
        """A constant rate is centred with one label (not at 0 +- 0.5, and the short plot has no room for more);
        a schedule's axis follows it. Applied only when that changes: setting the same ticks again redraws the
        axis."""
        constant = bool(lr) and max(lr) == min(lr) and lr[0] > 0
        state = ("constant", lr[0]) if constant else ("schedule", 0.0)  # a schedule's autorange follows it
        if state == self._lr_axis:
            return
        self._lr_axis = state
        axis = self.lr_plot.getAxis("left")
        if constant:
            self.lr_plot.setYRange(lr[0] * 0.5, lr[0] * 1.5)
            axis.setTicks([[(lr[0], f"{lr[0]:g}")]])
        else:
            axis.setTicks(None)
            self.lr_plot.enableAutoRange(y=True)

    @staticmethod
    def _overlay_top(run: RunRecord) -> float:
        values = [v for k in ("loss", "val_loss") for v in run.series(k)[1] if math.isfinite(v)]
        return max(values, default=0.0)

    def set_overlays(self, runs: list[RunRecord]) -> None:
        """Dashed validation (else training) loss curves of earlier runs, to compare them with this one."""
        for c in self.overlays:
            self.loss_plot.removeItem(c)
        self.overlays = []
        self._overlay_runs = list(runs)
        self._loss_top = max([self._loss_top, *(self._overlay_top(r) for r in runs)])
        self._fit_loss_axis()
        for i, r in enumerate(runs):
            key = "val_loss" if any("val_loss" in h for h in r.history) else "loss"
            pen = pg.mkPen(OVERLAY_COLOURS[i % len(OVERLAY_COLOURS)], width=2, style=Qt.PenStyle.DashLine)
            self.overlays.append(self.loss_plot.plot(*r.series(key), pen=pen, name=f"{r.name} {key}"))


class RunsList(QWidget):
    """Settings and final metrics of each run; ticked runs are overlaid on the loss plot."""

    overlay_changed = Signal(list)

    COLUMNS = ["run", "status", "optimizer", "lr", "batch", "epochs", "loss", "val_loss", "metric"]

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.runs: list[RunRecord] = []
        self.table = QTableWidget(0, len(self.COLUMNS))
        self.table.setHorizontalHeaderLabels(self.COLUMNS)
        self.table.verticalHeader().hide()
        self.table.itemChanged.connect(self._ticked)
        lay = QVBoxLayout(self)
        lay.addWidget(QLabel("Tick runs to overlay their loss curves on the live plot."))
        lay.addWidget(self.table)

    def add(self, run: RunRecord) -> None:
        self.runs.append(run)
        self.refresh()

    def refresh(self) -> None:
        t = self.table
        t.blockSignals(True)
        try:
            # by the names in the table: the list may have been replaced (another project) since it was drawn
            checked = {
                t.item(i, 0).text()
                for i in range(t.rowCount())
                if t.item(i, 0) is not None and t.item(i, 0).checkState() == Qt.CheckState.Checked
            }
            t.setRowCount(len(self.runs))
            for i, r in enumerate(self.runs):
                s = r.settings
                last = r.history[-1] if r.history else {}
                key = _metric_key(r.history)
                metric = last.get("val_" + key, last.get(key)) if key else None
                cells = [
                    r.name,
                    r.status,
                    s.get("optimizer", ""),
                    f"{s.get('lr', 0):g}",
                    str(s.get("batch_size", "")),
                    f"{len(r.history)}/{s.get('epochs', '')}",
                    _fmt(last.get("loss")),
                    _fmt(last.get("val_loss")),
                    f"{key} {_fmt(metric)}" if key else "",
                ]
                for j, text in enumerate(cells):
                    item = QTableWidgetItem(text)
                    item.setFlags(item.flags() & ~Qt.ItemFlag.ItemIsEditable)
                    if j == 0:
                        item.setFlags(item.flags() | Qt.ItemFlag.ItemIsUserCheckable)
                        item.setCheckState(Qt.CheckState.Checked if r.name in checked else Qt.CheckState.Unchecked)
                    t.setItem(i, j, item)
            t.resizeColumnsToContents()
        finally:
            t.blockSignals(False)

    def checked_runs(self) -> list[RunRecord]:
        return [
            self.runs[i]
            for i in range(self.table.rowCount())
            if self.table.item(i, 0).checkState() == Qt.CheckState.Checked
        ]

    def set_checked(self, index: int, on: bool) -> None:
        self.table.item(index, 0).setCheckState(Qt.CheckState.Checked if on else Qt.CheckState.Unchecked)

    def _ticked(self, item: QTableWidgetItem) -> None:
        if item.column() == 0:
            self.overlay_changed.emit(self.checked_runs())


def _grown(shown: tuple[float, float] | None, lo: float, hi: float) -> tuple[float, float] | None:
    """The range an axis should show for data in [lo, hi] with 5 % headroom, or None while `shown` still holds
    the data: an axis whose range changes is re-laid out (ticks and labels made again), which after every
    epoch or batch of a fast run was most of the window's paint time."""
    if hi <= lo or (shown is not None and shown[0] <= lo and hi <= shown[1]):
        return None
    pad = 0.05 * (hi - lo)
    return (lo - pad if lo < 0 else lo, hi + pad)


def _fmt(v: Any) -> str:
    return f"{v:.4g}" if isinstance(v, (int, float)) else ""
