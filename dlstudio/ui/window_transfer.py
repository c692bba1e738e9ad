"""The window's import and export commands: File > Import ONNX and File > Export (ONNX, Python, weights,
diagram). Mixed into MainWindow."""

from __future__ import annotations

from pathlib import Path

from ..io.project import Project
from .files import EXPORT_SUFFIXES, exporter, start_folder


class ImportExportMixin:
    """Import and export commands of MainWindow (self is the QMainWindow)."""

    def import_onnx_dialog(self) -> None:
        path = self.ask("import", str(start_folder(self.project)))
        if path:
            self.import_onnx(path)

    def import_onnx(self, path: str) -> bool:
        if not self.maybe_save():
            return False
        from ..importers.onnx import import_onnx  # loads onnx and torch: on first use, not at start-up

        try:
            result = import_onnx(path)
        except Exception as exc:  # an importer failure is reported, never fatal to the editor
            self.ask("error", f"Could not import {path}: {exc}")
            return False
        graph = getattr(result, "graph", result)
        project = Project()
        project.graph.load_dict(graph.to_dict())
        project.meta["name"] = Path(path).stem
        self.set_project(project)
        self._imported = result if getattr(result, "weights", None) else None
        self.auto_layout()
        return True

    def export_dialog(self, kind: str) -> bool:
        if self.ask == self._ask_dialog:
            # interactive: the export dialog (options, verification report)
            from .export_dialogs import ExportDialog

            dlg = ExportDialog(kind, self.project, runs=self.known_runs(), parent=self)
            try:
                return bool(dlg.exec())
            finally:
                dlg.deleteLater()  # one dialog per export, not one more child of the window each time
        # scripted (tests, `ask` replaced): ask for the file, export with the default options
        fn = exporter(kind)
        ext = EXPORT_SUFFIXES[kind]
        path = self.ask(f"export:{kind}", str(start_folder(self.project) / f"{self.project.name}{ext}"))
        if not path:
            return False
        try:
            used = fn(self.project, path, runs=self.known_runs())
        except Exception as exc:  # exporters report their own reasons; show them
            self.ask("error", f"Export failed: {exc}")
            return False
        self.statusBar().showMessage(f"Exported {path} ({used})", 5000)
        return True
