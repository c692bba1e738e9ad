"""Runs read back from their folders, the offer to keep a finished run's weights, and the comparison of the
runs ticked in the Runs tab.

    records = [record_of(info) for info in saved_runs(project)]   # the Runs tab after reopening a project
    bar.offer(info)                                              # "Run ... finished: keep its best weights?"
    install_runs_comparison(runs_list)                           # settings diff table beside overlaid curves

The offer is a bar in the panel, never a modal dialog: the user may ignore it and keep editing.
"""

from __future__ import annotations

from typing import Any

import pyqtgraph as pg
from PySide6.QtCore import QRectF, Qt, Signal
from PySide6.QtGui import QBrush, QColor, QFont, QPainter, QPaintEvent, QPen
from PySide6.QtWidgets import (
    QCheckBox,
    QFrame,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QSplitter,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from ...training.runs import RunInfo, read_run
from .live import OVERLAY_COLOURS, RunRecord, RunsList


def record_of(info: RunInfo) -> RunRecord:
    """A Runs-tab record for a run folder: its settings, per-epoch curves and final metrics."""
    training = info.settings.get("training")
    record = RunRecord(info.name, dict(training) if isinstance(training, dict) else {}, run_dir=str(info.path))
    record.history = [{"epoch": int(h.get("epoch", i + 1)), **h} for i, h in enumerate(info.history)]
    record.epochs = [int(h["epoch"]) for h in record.history]
    record.status = info.status
    final = (info.report or {}).get("final") or (info.history[-1] if info.history else {})
    record.final = {k: float(v) for k, v in final.items() if isinstance(v, (int, float)) and k != "epoch"}
    return record


def _summary(run: RunInfo, which: str) -> str:
    """The offer for one set of weights: "best: epoch 85, val_accuracy 0.9667"."""
    bits = [f"epoch {run.epoch(which)}"] if run.epoch(which) is not None else []
    m = run.metric(which)
    if m is not None:
        bits.append(f"{m[0]} {m[1]:.4g}")
    return f"{which}: {', '.join(bits)}"


class KeepWeightsBar(QFrame):
    """Shown when a run ends with weights: keep its best (or last) weights as the project's weights."""

    keep_requested = Signal(object, str)  # the RunInfo, "best" or "last"

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("keep_weights_bar")
        self.run: RunInfo | None = None
        self.text = QLabel()
        self.text.setWordWrap(True)
        self.keep_best = QPushButton("Keep best weights")
        self.keep_last = QPushButton("Keep last weights")
        self.dismiss = QPushButton("Not now")
        self.keep_best.setToolTip("Use these weights as the project's weights (saved beside the project file)")
        self.keep_best.clicked.connect(lambda: self._keep("best"))
        self.keep_last.clicked.connect(lambda: self._keep("last"))
        self.dismiss.clicked.connect(self.hide)
        lay = QHBoxLayout(self)
        lay.setContentsMargins(8, 4, 8, 4)
        lay.addWidget(self.text, 1)
        for b in (self.keep_best, self.keep_last, self.dismiss):
            lay.addWidget(b)
        self.hide()

    def paintEvent(self, event: QPaintEvent) -> None:  # noqa: N802
        # drawn here rather than by a style sheet: a widget with a style sheet keeps the palette it was polished
        # with, and after a theme switch the bar's text and buttons stayed in the old theme's colours
        painter = QPainter(self)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        painter.setPen(QPen(QColor(63, 178, 127, 160), 1))
        painter.setBrush(QColor(63, 178, 127, 40))
        painter.drawRoundedRect(QRectF(self.rect()).adjusted(0.5, 0.5, -0.5, -0.5), 4, 4)
        painter.end()

    def offer(self, run: RunInfo) -> None:
        """Offer `run`'s weights; hidden when the run kept none."""
        self.run = run
        if run.which is None:
            self.hide()
            return
        has_best = run.weights_file("best") is not None
        self.keep_best.setVisible(has_best)
        self.keep_last.setVisible(run.weights_file("last") is not None)
        self.dismiss.setText("Not now")
        offers = [_summary(run, w) for w in ("best", "last") if run.weights_file(w) is not None]
        self.text.setText(
            f"<b>Run {run.status}.</b> Keep its weights as the project's weights? " + " \u00b7 ".join(offers)
        )
        self.show()

    def show_message(self, text: str) -> None:
        """Replace the offer with a line saying what happened (kept, or why not)."""
        self.text.setText(text)
        for b in (self.keep_best, self.keep_last):
            b.hide()
        self.dismiss.setText("OK")
        self.show()

    def _keep(self, which: str) -> None:
        if self.run is not None:
            self.keep_requested.emit(self.run, which)


# ------------------------------------------------------------------------------------------- comparing runs
_DIFFERS = QColor(224, 160, 48, 70)  # amber: a setting that differs between the compared runs


def flatten(settings: Any, prefix: str = "") -> dict[str, Any]:
    """Nested settings as dotted keys: {"optimizer": {"name": "adam"}} -> {"optimizer.name": "adam"}."""
    if not isinstance(settings, dict):
        return {prefix: settings} if prefix else {}
    out: dict[str, Any] = {}
    for key, value in settings.items():
        name = f"{prefix}.{key}" if prefix else str(key)
        if isinstance(value, dict) and value:
            out.update(flatten(value, name))
        else:
            out[name] = value
    return out


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return f"{value:.4g}"
    if isinstance(value, (list, tuple)):
        return ", ".join(_cell(v) for v in value)
    return str(value)


def run_settings(record: RunRecord) -> dict[str, Any]:
    """Everything a run was started with: training settings, and from its folder the data settings and which
    model it trained (the graph's signature, so two runs of different graphs show it)."""
    out = {f"training.{k}": v for k, v in flatten(record.settings).items()}
    info = read_run(record.run_dir) if record.run_dir else None
    if info is not None:
        out.update({f"data.{k}": v for k, v in flatten(info.settings.get("data") or {}).items()})
        signature = info.graph_signature
        if signature:
            out["model"] = signature[:10]
    return out


def settings_rows(records: list[RunRecord], only_differences: bool = True) -> list[tuple[str, list[Any], bool]]:
    """(setting, value per run, differs) rows: the settings that differ first, then (unless only_differences)
    the ones they share, then the final metrics."""
    per_run = [run_settings(r) for r in records]
    keys = sorted({k for s in per_run for k in s})
    rows = [(k, [s.get(k) for s in per_run], len({_cell(s.get(k)) for s in per_run}) > 1) for k in keys]
    differing = [r for r in rows if r[2]]
    shared = [] if only_differences else [r for r in rows if not r[2]]
    metrics = sorted({k for r in records for k in r.final})
    finals = [(f"final {k}", [r.final.get(k) for r in records], False) for k in metrics]
    return differing + shared + finals


class RunsComparison(QWidget):
    """The ticked runs side by side: a table of the settings that differ (and their final metrics) beside their
    loss curves overlaid (validation solid, training dashed, one colour per run)."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.records: list[RunRecord] = []
        self.heading = QLabel("Tick two or more runs to compare them")
        self.all_settings = QCheckBox("Show shared settings too")
        self.all_settings.toggled.connect(lambda *_: self.refresh())
        self.table = QTableWidget(0, 0)
        self.table.setObjectName("runs_settings_diff")
        self.table.verticalHeader().hide()
        self.plot = pg.PlotWidget(background="w")
        self.plot.setObjectName("runs_compare_plot")
        self.plot.showGrid(x=True, y=True, alpha=0.2)
        self.plot.setLabel("bottom", "epoch")
        self.plot.setLabel("left", "loss")
        self.plot.addLegend(offset=(-10, 10))
        left = QWidget()
        ll = QVBoxLayout(left)
        ll.setContentsMargins(0, 0, 0, 0)
        ll.addWidget(self.all_settings)
        ll.addWidget(self.table, 1)
        split = QSplitter(Qt.Orientation.Horizontal)
        split.addWidget(left)
        split.addWidget(self.plot)
        split.setStretchFactor(0, 1)
        split.setStretchFactor(1, 1)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 4, 0, 0)
        lay.addWidget(self.heading)
        lay.addWidget(split, 1)

    def set_runs(self, records: list[RunRecord]) -> None:
        self.records = list(records)
        self.refresh()

    def refresh(self) -> None:
        records = self.records
        self.plot.clear()
        t = self.table
        if len(records) < 2:
            self.heading.setText("Tick two or more runs to compare their settings and curves")
            t.setRowCount(0)
            t.setColumnCount(0)
            self.plot.setVisible(bool(records))
            if records:
                self._plot(records)
            return
        rows = settings_rows(records, only_differences=not self.all_settings.isChecked())
        differing = sum(1 for r in rows if r[2])
        summary = f"{differing} setting(s) differ" if differing else "same settings"
        self.heading.setText(f"{len(records)} runs: {summary}")
        t.setColumnCount(len(records) + 1)
        t.setHorizontalHeaderLabels(["setting", *(r.name for r in records)])
        t.setRowCount(len(rows))
        bold = QFont()
        bold.setBold(True)
        for i, (name, values, differs) in enumerate(rows):
            for j, text in enumerate([name, *(_cell(v) for v in values)]):
                item = QTableWidgetItem(text)
                item.setFlags(item.flags() & ~Qt.ItemFlag.ItemIsEditable)
                if differs:
                    item.setBackground(QBrush(_DIFFERS))
                    if j == 0:
                        item.setFont(bold)
                t.setItem(i, j, item)
        for j in range(len(records)):
            header = t.horizontalHeaderItem(j + 1)
            if header is not None:
                header.setForeground(QBrush(QColor(OVERLAY_COLOURS[j % len(OVERLAY_COLOURS)])))
        t.resizeColumnsToContents()
        self.plot.setVisible(True)
        self._plot(records)

    def _plot(self, records: list[RunRecord]) -> None:
        for i, r in enumerate(records):
            colour = OVERLAY_COLOURS[i % len(OVERLAY_COLOURS)]
            if any("val_loss" in h for h in r.history):
                self.plot.plot(*r.series("val_loss"), pen=pg.mkPen(colour, width=2), name=f"{r.name} validation")
            self.plot.plot(
                *r.series("loss"),
                pen=pg.mkPen(colour, width=1.5, style=Qt.PenStyle.DashLine),
                name=f"{r.name} training",
            )


def install_runs_comparison(runs: RunsList) -> RunsComparison:
    """Put the comparison under the Runs tab's list and feed it the ticked runs. Call once."""
    comparison = RunsComparison(runs)
    layout = runs.layout()
    assert layout is not None
    layout.addWidget(comparison, 1)
    runs.overlay_changed.connect(comparison.set_runs)
    runs.comparison = comparison  # type: ignore[attr-defined]
    return comparison
