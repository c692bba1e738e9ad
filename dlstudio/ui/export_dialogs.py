"""Export dialogs: ONNX, Python code (+ training script), weights, diagram PNG/SVG.

Each dialog asks for a file, calls the exporter (dlstudio.export.*, dlstudio.ui.diagram), shows its
verification report (checks run, max difference, warnings) and offers to open the folder. Model exports offer a
choice of weights (dlstudio.ui.run_weights): the newest run's best, the project's sidecar, the seeded
initialisation; the default is the run when its weights are newer than the project's, and the report names the
weights that went out. The exporters load
torch/onnx, so they are imported when an export runs, not with the window. `export_to(path)` is the whole
action without the file picker (tests and scripts use it).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from PySide6.QtCore import QUrl
from PySide6.QtGui import QDesktopServices
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDialog,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLineEdit,
    QPlainTextEdit,
    QPushButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from ..core.errors import DlstudioError
from ..io.project import Project
from ..training.runs import RunInfo
from .files import EXPORT_SUFFIXES, start_folder
from .ownership import adopt_children
from .run_weights import WeightsChoice, weight_choices

TITLES: dict[str, str] = {
    "onnx": "Export ONNX model",
    "python": "Export PyTorch code",
    "weights": "Export weights",
    "png": "Export diagram (PNG)",
    "svg": "Export diagram (SVG)",
}


def format_report(report: Any) -> str:
    """Report objects format themselves; a plain path (diagram, weights) gets a short line."""
    if hasattr(report, "format"):
        ok = "verified" if report.checks and all(v <= 1e-3 for v in report.max_abs_diff.values()) else "written"
        return f"{ok.upper()}\n" + report.format()
    return f"WRITTEN\n{report}"


class ExportDialog(QDialog):
    """One export. `runs`: the runs known to the window (default: those saved beside the project); `weights`: a
    state_dict to offer first (in-memory weights), else the choices of `weight_choices`."""

    def __init__(
        self,
        kind: str,
        project: Project,
        *,
        weights: dict[str, Any] | None = None,
        runs: list[RunInfo] | None = None,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        if kind not in TITLES:
            raise ValueError(f"unknown export kind {kind!r}; use one of {', '.join(TITLES)}")
        self.kind = kind
        self.project = project
        self.weights = weights
        self.report: Any = None
        self.error: str | None = None
        suffix = EXPORT_SUFFIXES[kind]
        self.setWindowTitle(TITLES[kind])
        self.path = QLineEdit(str(start_folder(project) / f"{project.name}{suffix}"))
        browse = QPushButton("Browse...")
        browse.clicked.connect(self._browse)
        row = QHBoxLayout()
        row.addWidget(self.path)
        row.addWidget(browse)
        form = QFormLayout()
        form.addRow("File", row)
        self.opset = QSpinBox()
        self.opset.setRange(9, 21)
        self.opset.setValue(17)
        self.train_script = QCheckBox("also write a training script (train_<name>.py + data)")
        if kind == "onnx":
            form.addRow("Opset", self.opset)
        if kind == "python":
            form.addRow(self.train_script)
        self.choices: list[WeightsChoice] = []
        self.weights_box = QComboBox()
        self.weights_box.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToContents)
        self.weights_used: str | None = None
        if kind in ("onnx", "python", "weights"):
            self.choices, default = weight_choices(project, runs)
            if weights is not None:
                self.choices.insert(0, WeightsChoice("memory", "trained weights of the last run", state=weights))
                default = 0
            for c in self.choices:
                self.weights_box.addItem(c.label, c.kind)
            self.weights_box.setCurrentIndex(default)
            form.addRow("Weights", self.weights_box)
        self.output = QPlainTextEdit()
        self.output.setReadOnly(True)
        self.output.setMinimumSize(520, 180)
        self.export_button = QPushButton("Export")
        self.export_button.clicked.connect(lambda: self.export_to(self.path.text()))
        self.open_button = QPushButton("Open folder")
        self.open_button.setEnabled(False)
        self.open_button.clicked.connect(self.open_folder)
        close = QPushButton("Close")
        close.clicked.connect(self.accept)
        buttons = QHBoxLayout()
        buttons.addWidget(self.export_button)
        buttons.addWidget(self.open_button)
        buttons.addStretch(1)
        buttons.addWidget(close)
        lay = QVBoxLayout(self)
        lay.addLayout(form)
        lay.addWidget(self.output)
        lay.addLayout(buttons)
        adopt_children(self)  # the rows were laid out before the dialog's layout: Qt owns them, not Python

    def _browse(self) -> None:
        suffix = EXPORT_SUFFIXES[self.kind]
        path, _ = QFileDialog.getSaveFileName(self, TITLES[self.kind], self.path.text(), f"*{suffix}")
        if path:
            self.path.setText(path)

    @property
    def choice(self) -> WeightsChoice | None:
        i = self.weights_box.currentIndex()
        return self.choices[i] if 0 <= i < len(self.choices) else None

    def choose(self, kind: str) -> bool:
        """Pick the weights by kind ("run", "project", "seed", "memory"); False when not offered."""
        i = self.weights_box.findData(kind)
        if i >= 0:
            self.weights_box.setCurrentIndex(i)
        return i >= 0

    def _weights_arg(self) -> Any:
        c = self.choice
        self.weights_used = c.label if c is not None else None
        return c.weights() if c is not None else None

    def export_to(self, path: str | Path) -> Any:
        """Export to `path`; returns the report (or the written path), None on failure (reason shown)."""
        target = Path(path)
        graph = self.project.graph
        self.weights_used = None
        try:
            if self.kind == "onnx":
                from ..export.onnx import export_onnx

                result = export_onnx(graph, target, opset=self.opset.value(), weights=self._weights_arg())
            elif self.kind == "python":
                from ..export.python_code import export_python

                wfile = target.with_suffix(".safetensors")
                result = export_python(
                    graph, target, weights=self._weights_arg(), weights_out=wfile, title=self.project.name
                )
                if self.train_script.isChecked():
                    from ..export.train_script import export_train_script

                    script = export_train_script(
                        self.project, target.parent / f"train_{target.stem}.py", model_file=target
                    )
                    result.checks.extend(f"training script: {c}" for c in script.checks)
            elif self.kind == "weights":
                from ..export.common import build_model
                from ..export.weights import save_weights_file

                model = build_model(graph, self._weights_arg(), 0)
                result = save_weights_file(model, graph, target)
            else:
                from .diagram import render_file

                result = render_file(graph, target, title=self.project.name)
        except (DlstudioError, OSError, ValueError) as exc:
            self.error = f"Export failed: {exc}"
            if self.weights_used:
                self.error += f"\n(weights: {self.weights_used})"
            self.report = None
            self.output.setPlainText(self.error)
            self.open_button.setEnabled(False)
            return None
        self.error = None
        self.report = result
        text = format_report(result)
        if self.weights_used is not None:
            text = f"Weights: {self.weights_used}\n" + text
        self.output.setPlainText(text)
        self.open_button.setEnabled(True)
        self.exported_path = target
        return result

    def open_folder(self) -> bool:
        folder = Path(self.path.text()).parent
        return QDesktopServices.openUrl(QUrl.fromLocalFile(str(folder)))
