"""Runs read back from their folders, and the offer to keep a finished run's weights.

    records = [record_of(info) for info in saved_runs(project)]   # the Runs tab after reopening a project
    bar.offer(info)                                              # "Run ... finished: keep its best weights?"

The offer is a bar in the panel, never a modal dialog: the user may ignore it and keep editing.
"""

from __future__ import annotations

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QFrame, QHBoxLayout, QLabel, QPushButton, QWidget

from ...training.runs import RunInfo
from .live import RunRecord


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
        self.setFrameShape(QFrame.Shape.StyledPanel)
        self.setStyleSheet(
            "#keep_weights_bar { background: rgba(63, 178, 127, 40); border: 1px solid rgba(63, 178, 127, 160);"
            " border-radius: 4px; }"
        )
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
