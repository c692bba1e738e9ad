"""Export dialogs: ONNX, Python code (+ training script), weights, diagram PNG/SVG.

Each dialog asks for a file, calls the exporter (dlstudio.export.*, dlstudio.ui.diagram), shows its
verification report (checks run, max difference, warnings) and offers to open the folder. The exporters load
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
    QDialog,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QPushButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from ..core.errors import DlstudioError
from ..io.project import Project
from .files import EXPORT_SUFFIXES

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
    """One export. `weights`: a state_dict of trained weights (None: the project's sidecar or the seeded
    initialisation)."""

    def __init__(
        self, kind: str, project: Project, *, weights: dict[str, Any] | None = None, parent: QWidget | None = None
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
        self.path = QLineEdit(str(Path.cwd() / f"{project.name}{suffix}"))
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
        weights_note = (
            "trained weights of the last run"
            if weights is not None
            else "project weights (sidecar) or the seeded initialisation"
        )
        if kind in ("onnx", "python", "weights"):
            form.addRow("Weights", QLabel(weights_note))
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

    def _browse(self) -> None:
        suffix = EXPORT_SUFFIXES[self.kind]
        path, _ = QFileDialog.getSaveFileName(self, TITLES[self.kind], self.path.text(), f"*{suffix}")
        if path:
            self.path.setText(path)

    def _weights_arg(self) -> Any:
        if self.weights is not None:
            return self.weights
        side = self.project.weights_path
        return str(side) if side is not None and side.is_file() else None

    def export_to(self, path: str | Path) -> Any:
        """Export to `path`; returns the report (or the written path), None on failure (reason shown)."""
        target = Path(path)
        graph = self.project.graph
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
            self.report = None
            self.output.setPlainText(self.error)
            self.open_button.setEnabled(False)
            return None
        self.error = None
        self.report = result
        self.output.setPlainText(format_report(result))
        self.open_button.setEnabled(True)
        self.exported_path = target
        return result

    def open_folder(self) -> bool:
        folder = Path(self.path.text()).parent
        return QDesktopServices.openUrl(QUrl.fromLocalFile(str(folder)))
