"""The window's file side: the questions it asks (`ask`), new / open / save / save as, recent files, drag
and drop of files onto the window, autosave and crash recovery. Mixed into MainWindow."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtGui import QDragEnterEvent, QDropEvent
from PySide6.QtWidgets import QFileDialog, QMessageBox

from ..core.errors import DlstudioError
from ..io.project import SUFFIX, Project
from .files import push_recent, start_folder
from .run_weights import adopt_runs


class FilesMixin:
    """File commands of MainWindow (self is the QMainWindow)."""

    # -------------------------------------------------------------- files
    def _ask_dialog(self, kind: str, text: str) -> str:
        if kind == "unsaved":
            r = QMessageBox.question(
                self,
                "Unsaved changes",
                text,
                QMessageBox.StandardButton.Save
                | QMessageBox.StandardButton.Discard
                | QMessageBox.StandardButton.Cancel,
            )
            return {QMessageBox.StandardButton.Save: "save", QMessageBox.StandardButton.Discard: "discard"}.get(
                r, "cancel"
            )
        if kind == "restore":
            r = QMessageBox.question(self, "Restore unsaved work?", text)
            return "yes" if r == QMessageBox.StandardButton.Yes else "no"
        if kind in ("open", "save", "import"):
            if kind == "save":
                path, _ = QFileDialog.getSaveFileName(self, "Save project", text, f"dlstudio project (*{SUFFIX})")
            else:
                filt = "ONNX model (*.onnx)" if kind == "import" else f"dlstudio project (*{SUFFIX})"
                path, _ = QFileDialog.getOpenFileName(self, "Open", text, filt)
            return path
        if kind.startswith("export:"):
            path, _ = QFileDialog.getSaveFileName(self, "Export", text)
            return path
        QMessageBox.warning(self, "dlstudio", text)
        return ""

    def maybe_save(self) -> bool:
        """True when it is fine to drop the current document (saved, discarded); False on cancel."""
        if not self.modified:
            return True
        answer = self.ask("unsaved", f"Save the changes to {self.project.name}?")
        if answer == "save":
            return self.save()
        return answer == "discard"

    def new_blank(self) -> None:
        if self.maybe_save():
            self.set_project(Project())

    def new_from_template(self) -> None:
        if not self.maybe_save():
            return
        from .gallery import TemplateGallery

        dlg = TemplateGallery(self, self.theme)
        accepted, chosen = dlg.exec(), dlg.chosen
        dlg.deleteLater()  # one gallery per use, not one more child of the window each time
        if accepted and chosen is not None:
            try:
                project = Project.load(chosen)
            except DlstudioError as exc:
                self.ask("error", str(exc))
                return
            project.path = None  # a template is a starting point, not the file to overwrite
            self.set_project(project)

    def open_dialog(self) -> None:
        if not self.maybe_save():
            return
        path = self.ask("open", str(start_folder(self.project)))
        if path:
            self.open_path(path, ask_save=False)

    def open_path(self, path: str | Path, ask_save: bool = True) -> bool:
        if ask_save and not self.maybe_save():
            return False
        try:
            project = Project.load(path)
        except DlstudioError as exc:
            self.ask("error", f"Cannot open {path}:\n{exc}")
            return False
        self.set_project(project)
        self._remember(Path(path))
        return True

    def open_dropped(self, paths: list[str]) -> None:
        for p in paths:
            if p.endswith(SUFFIX):
                self.open_path(p)
                return
            if p.endswith(".onnx"):
                self.import_onnx(p)
                return
        self.show_refusal("Drop a .dlstudio project or an .onnx model")

    def dragEnterEvent(self, event: QDragEnterEvent) -> None:  # noqa: N802
        if event.mimeData().hasUrls():
            event.acceptProposedAction()

    def dropEvent(self, event: QDropEvent) -> None:  # noqa: N802
        self.open_dropped([u.toLocalFile() for u in event.mimeData().urls() if u.isLocalFile()])

    def _remember(self, path: Path) -> None:
        recent = self.settings.value("recent", []) or []
        recent = [recent] if isinstance(recent, str) else list(recent)
        self.settings.setValue("recent", push_recent(recent, path))
        self.settings.setValue("last_dir", str(path.parent))

    def recent_files(self) -> list[str]:
        recent = self.settings.value("recent", []) or []
        return [recent] if isinstance(recent, str) else list(recent)

    def _fill_recent(self) -> None:
        self.recent_menu.clear()
        for p in self.recent_files():
            a = self.recent_menu.addAction(p)
            a.triggered.connect(lambda *_, p=p: self.open_path(p))
        if not self.recent_files():
            self.recent_menu.addAction("(none)").setEnabled(False)

    def save(self) -> bool:
        if self.project.path is None:
            return self.save_as_dialog()
        return self.save_to(self.project.path)

    def save_as_dialog(self) -> bool:
        name = self.project.path.name if self.project.path else f"{self.project.name}{SUFFIX}"
        path = self.ask("save", str(start_folder(self.project) / name))
        if not path:
            return False
        if not path.endswith(SUFFIX):
            path += SUFFIX
        return self.save_to(Path(path))

    def save_to(self, path: Path) -> bool:
        first_save = self.project.path is None
        try:
            self.project.save(path)
            if self._imported is not None:
                self.project.save_weights(self._imported.compile())
                self._imported = None
            if first_save and self.training is not None:
                adopt_runs(self.training, self.project)  # the untitled project's runs move beside it
        except (DlstudioError, OSError) as exc:
            self.ask("error", f"Could not save {path}: {exc}")
            return False
        assert self.controller is not None
        self.controller.undo_stack.setClean()
        self._settings_dirty = False
        self._remember(Path(path))
        self._update_title()
        self.statusBar().showMessage(f"Saved {path}", 4000)
        return True

    def autosave(self) -> bool:
        """Write the recovery file when there are unsaved changes (timer, every 60 s)."""
        if not self.modified:
            return False
        try:
            self.recovery.write(self.project)
        except (OSError, DlstudioError) as exc:
            self.statusBar().showMessage(f"Autosave failed: {exc}", 8000)
            return False
        return True

    def offer_recovery(self) -> bool:
        """At start-up: restore the work a crashed session left behind, if the user agrees."""
        info = self.recovery.pending()
        if info is None:
            return False
        where = info.get("original") or "an unsaved project"
        if self.ask("restore", f"dlstudio did not close cleanly. Restore the autosaved version of {where}?") != "yes":
            self.recovery.clear()
            return False
        try:
            project = self.recovery.restore()
        except DlstudioError as exc:
            self.ask("error", f"The recovery file cannot be used: {exc}")
            self.recovery.clear()
            return False
        self.set_project(project)
        # restored work is unsaved: mark the document modified until the user saves it
        assert self.controller is not None
        self.controller.undo_stack.resetClean()
        self._update_title()
        self.recovery.clear()
        return True
