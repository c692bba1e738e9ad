"""The studio window: palette (left), canvas (centre), inspector (right), diagnostics and summary (bottom),
menus, toolbar, status bar, files, autosave and crash recovery, themes, QSettings persistence."""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import shiboken6
from PySide6.QtCore import QByteArray, QMimeData, QPointF, QSettings, QStandardPaths, Qt, QTimer
from PySide6.QtGui import QAction, QActionGroup, QCloseEvent, QDragEnterEvent, QDropEvent, QIcon, QKeySequence
from PySide6.QtWidgets import (
    QApplication,
    QDockWidget,
    QFileDialog,
    QLabel,
    QMainWindow,
    QMenu,
    QMessageBox,
    QToolBar,
    QUndoView,
    QWidget,
)

from ..core.errors import DlstudioError
from ..io.project import SUFFIX, Project
from . import freeze_startup_objects
from .analysis import make_engine, project_facts
from .canvas.items import NodeItem
from .canvas.scene import GraphScene, human
from .canvas.view import GraphView
from .controller import MIME_NODES, Controller
from .files import DEFAULT_EXAMPLE, EXAMPLES_DIR, EXPORT_SUFFIXES, Recovery, exporter, push_recent
from .inspector import Inspector
from .palette import Palette
from .run_weights import adopt_runs
from .summary import BottomPanel
from .theme import THEMES, apply_app_theme

APP_NAME = "dlstudio"
AUTOSAVE_MS = 60_000
RESOURCES = Path(__file__).resolve().parents[2] / "resources"


class MainWindow(QMainWindow):
    """`ask(kind, text) -> answer` is the one place the window asks the user; tests replace it."""

    def __init__(self, settings: QSettings | None = None, recovery_dir: Path | None = None) -> None:
        super().__init__()
        self.settings = settings or QSettings(APP_NAME, APP_NAME)
        if recovery_dir is None:
            base = QStandardPaths.writableLocation(QStandardPaths.StandardLocation.AppDataLocation) or "."
            recovery_dir = Path(base) / "recovery"
        self.recovery = Recovery(Path(recovery_dir))
        self.ask: Callable[[str, str], str] = self._ask_dialog
        self.theme = THEMES.get(str(self.settings.value("theme", "light")), THEMES["light"])
        self.project = Project()
        self.scene: GraphScene | None = None
        self.controller: Controller | None = None
        self.engine: Any = None
        self.setWindowIcon(QIcon(str(RESOURCES / "icons" / "dlstudio.svg")))
        self.setAcceptDrops(True)
        self.setDockNestingEnabled(True)

        self.view = GraphView(self)
        self.setCentralWidget(self.view)
        self.palette = Palette()
        self.inspector = Inspector()
        self.panel = BottomPanel()
        self.history = QUndoView()
        self.history.setEmptyLabel("<opened>")
        self.palette_dock = self._dock("Layers", self.palette, Qt.DockWidgetArea.LeftDockWidgetArea)
        self.inspector_dock = self._dock("Inspector", self.inspector, Qt.DockWidgetArea.RightDockWidgetArea)
        self.panel_dock = self._dock("Diagnostics and summary", self.panel, Qt.DockWidgetArea.BottomDockWidgetArea)
        self.history_dock = self._dock("History", self.history, Qt.DockWidgetArea.RightDockWidgetArea)
        self.history_dock.hide()

        self.status_counts = QLabel()
        self.status_valid = QLabel()
        self.status_zoom = QLabel()
        for w in (self.status_counts, self.status_valid, self.status_zoom):
            self.statusBar().addPermanentWidget(w)

        self._panel_timer = QTimer(self, singleShot=True, interval=120, timeout=self.panel.refresh)
        self._autosave = QTimer(self, interval=AUTOSAVE_MS, timeout=self.autosave)
        self._autosave.start()
        self.palette.add_requested.connect(self.add_at_centre)
        self.view.layer_dropped.connect(self.drop_layer)
        self.view.files_dropped.connect(self.open_dropped)
        self.view.zoom_changed.connect(lambda z: self.status_zoom.setText(f"{z * 100:.0f}%"))
        self.panel.node_activated.connect(self.focus_node)
        self.view.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        self.view.customContextMenuRequested.connect(self._context_menu)
        self.training: Any = None  # the training workspace (dlstudio.ui.training), built on first use
        self.training_dock: QDockWidget | None = None
        self._build_actions()
        self.set_project(Project())
        self.resize(1440, 900)
        self.resizeDocks([self.palette_dock, self.inspector_dock], [230, 330], Qt.Orientation.Horizontal)
        self.resizeDocks([self.panel_dock], [210], Qt.Orientation.Vertical)
        geo = self.settings.value("geometry")
        if isinstance(geo, QByteArray):
            self.restoreGeometry(geo)
        state = self.settings.value("window_state")
        if isinstance(state, QByteArray):
            self.restoreState(state)

    def _dock(self, title: str, widget: QWidget, area: Qt.DockWidgetArea) -> QDockWidget:
        dock = QDockWidget(title, self)
        dock.setObjectName(title.replace(" ", "_").lower())
        dock.setWidget(widget)
        self.addDockWidget(area, dock)
        return dock

    # ------------------------------------------------------------ actions
    def _act(
        self,
        menu: Any,
        text: str,
        slot: Callable[[], Any],
        shortcut: Any = None,
        tip: str = "",
        checkable: bool = False,
    ) -> QAction:
        a = QAction(text, self)
        if shortcut is not None:
            if isinstance(shortcut, list):
                a.setShortcuts(shortcut)
            else:
                a.setShortcut(QKeySequence(shortcut))
        a.setStatusTip(tip)
        a.setToolTip(tip or text.replace("&", ""))
        a.setCheckable(checkable)
        a.triggered.connect(lambda *_: slot())
        self._actions[text] = a
        if menu is not None:
            menu.addAction(a)
        self.addAction(a)
        return a

    def _build_actions(self) -> None:
        self._actions: dict[str, QAction] = {}
        mb = self.menuBar()
        SK = QKeySequence.StandardKey
        f = mb.addMenu("&File")
        self.act_new = self._act(f, "&New", self.new_blank, SK.New, "Start an empty network")
        self.act_template = self._act(
            f, "New from &template...", self.new_from_template, "Ctrl+Shift+N", "Start from an example"
        )
        self.act_open = self._act(f, "&Open...", self.open_dialog, SK.Open)
        self.recent_menu = f.addMenu("Open &recent")
        self.recent_menu.aboutToShow.connect(self._fill_recent)
        self._act(f, "&Import ONNX...", self.import_onnx_dialog, None, "Turn an .onnx model into an editable graph")
        f.addSeparator()
        self.act_save = self._act(f, "&Save", self.save, SK.Save)
        self._act(f, "Save &as...", self.save_as_dialog, SK.SaveAs)
        ex = f.addMenu("&Export")
        for key, text in (
            ("onnx", "ONNX model (.onnx)..."),
            ("python", "PyTorch code (.py)..."),
            ("weights", "Weights (.safetensors)..."),
            ("png", "Diagram as PNG..."),
            ("svg", "Diagram as SVG..."),
        ):
            self._act(ex, text, lambda k=key: self.export_dialog(k))
        f.addSeparator()
        self._act(f, "&Quit", self.close, SK.Quit)

        e = mb.addMenu("&Edit")
        self.act_undo = self._act(e, "&Undo", self.undo, SK.Undo)
        self.act_redo = self._act(e, "&Redo", self.redo, [QKeySequence("Ctrl+Shift+Z"), QKeySequence("Ctrl+Y")])
        self._act(e, "&History", lambda: self.history_dock.setVisible(True), "Ctrl+H", "Every edit, by name")
        e.addSeparator()
        self._act(e, "Cu&t", self.cut, SK.Cut)
        self._act(e, "&Copy", self.copy, SK.Copy)
        self._act(e, "&Paste", self.paste, SK.Paste)
        self._act(e, "D&uplicate", self.duplicate, "Ctrl+D")
        self._act(
            e, "&Delete", self.delete_selection, [QKeySequence(Qt.Key.Key_Delete), QKeySequence(Qt.Key.Key_Backspace)]
        )
        self._act(e, "Select &all", self.select_all, SK.SelectAll)
        self._act(e, "Re&name", self.rename_selected, "F2")
        self._act(e, "&Freeze / unfreeze", self.toggle_frozen, "Ctrl+Shift+F", "Keep the weights fixed in training")

        v = mb.addMenu("&View")
        self._act(v, "Zoom &in", lambda: self.view.zoom_in(), [QKeySequence("Ctrl+="), QKeySequence("Ctrl++")])
        self._act(v, "Zoom &out", lambda: self.view.zoom_out(), "Ctrl+-")
        self._act(v, "&Fit", lambda: self.view.fit(), "F", "Fit the selection or the whole graph")
        v.addSeparator()
        self._act(v, "&Auto-layout", self.auto_layout, "Ctrl+L", "Layered layout, left to right")
        self._act(v, "Layout &selection", lambda: self.auto_layout(selection=True), "Ctrl+Shift+L")
        self.act_snap = self._act(v, "Snap to &grid", self._toggle_snap, None, checkable=True)
        self.act_snap.setChecked(self.settings.value("grid_snap", "true") in (True, "true"))
        self.act_minimap = self._act(
            v, "&Minimap", lambda: self.view.set_minimap(self.act_minimap.isChecked()), "M", checkable=True
        )
        self.act_minimap.setChecked(True)
        tm = v.addMenu("&Theme")
        group = QActionGroup(self)
        for name in THEMES:
            a = self._act(tm, name.title(), lambda n=name: self.set_theme(n), checkable=True)
            a.setChecked(name == self.theme.name)
            group.addAction(a)
        v.addSeparator()
        for dock in (self.palette_dock, self.inspector_dock, self.panel_dock, self.history_dock):
            v.addAction(dock.toggleViewAction())

        b = mb.addMenu("&Block")
        self._act(b, "&Group selection", self.group_selection, "Ctrl+G", "Make a block of the selected layers")
        self._act(b, "&Ungroup", self.ungroup_selection, "Ctrl+Shift+G")
        self._act(b, "&Collapse / expand", self.toggle_collapse, "Ctrl+E")

        t = mb.addMenu("&Train")
        self.act_train = self._act(
            t,
            "&Start training",
            self.start_training,
            "F5",
            "Train a copy of the graph with the project's data and training settings",
        )
        self._act(t, "&Pause / resume", lambda: self.training_workspace().toggle_pause(), "F6")
        self.act_stop = self._act(
            t,
            "S&top training",
            lambda: self.training_workspace().stop(),
            "Shift+F5",
            "Stop after this batch (keeps a checkpoint)",
        )
        t.addSeparator()
        self._act(t, "Training &panel", self.training_workspace, "Ctrl+T", "Data, training settings, results")
        self._act(t, "&Export trained model...", lambda: self.training_workspace().open_export("onnx"))
        self.act_train.setIconText("Train")
        self.act_stop.setIconText("Stop")

        h = mb.addMenu("&Help")
        self._act(
            h,
            "&About dlstudio",
            lambda: QMessageBox.about(
                self, "About dlstudio", "dlstudio: draw a network, see its shapes, train it, export it."
            ),
        )

        tb = QToolBar("Main")
        tb.setObjectName("main_toolbar")
        self.addToolBar(tb)
        self.act_template.setIconText("Templates")
        for a in (self.act_new, self.act_template, self.act_open, self.act_save):
            tb.addAction(a)
        tb.addSeparator()
        tb.addAction(self.act_undo)
        tb.addAction(self.act_redo)
        tb.addSeparator()
        self._act(tb, "Fit", lambda: self.view.fit())
        self._act(tb, "Auto-layout", self.auto_layout)
        self._act(tb, "Group", self.group_selection)
        tb.addSeparator()
        tb.addAction(self.act_train)
        tb.addAction(self.act_stop)

    # ----------------------------------------------------------- document
    def set_project(self, project: Project) -> None:
        """Show `project` (new scene, engine and undo stack)."""
        if self.scene is not None:
            self.scene.detach()
        self.project = project
        self._imported: Any = None  # an import whose weights go to the sidecar on the first save
        self._settings_dirty = False  # data/training settings edited since the last save (not undoable edits)
        graph = project.graph
        self.engine = make_engine(graph, project_facts(project))
        old_controller = self.controller
        self.controller = Controller(graph, self, self.engine)
        self.controller.edited.connect(self.after_edit)
        self.controller.refused.connect(self.show_refusal)
        self.controller.select_requested.connect(self._select)
        self.controller.undo_stack.cleanChanged.connect(self._update_title)
        self.history.setStack(self.controller.undo_stack)
        if old_controller is not None:
            old_controller.undo_stack.cleanChanged.disconnect(self._update_title)
            old_controller.deleteLater()
        old_scene = self.scene
        self.scene = GraphScene(graph, self.controller, self.engine, self.theme)
        self.scene.grid_snap = self.act_snap.isChecked()
        self.scene.selectionChanged.connect(self._selection_changed)
        self.scene.refused_wire.connect(self.show_refusal)
        self.scene.rename_requested.connect(lambda nid: (self.scene.select_nodes([nid]), self.rename_selected()))
        self.view.set_scene(self.scene)
        if old_scene is not None:
            old_scene.selectionChanged.disconnect(self._selection_changed)
            old_scene.deleteLater()
        self.inspector.bind(graph, self.engine)
        self.inspector.set_param = self.controller.set_param
        self.inspector.rename = self.controller.rename
        self.inspector.set_frozen = self.controller.set_frozen
        self.panel.bind(graph, self.engine)
        self._update_status()
        self._update_title()
        if self.training is not None:
            self.training.project_changed()  # its runs and results, never the previous project's
        QTimer.singleShot(0, lambda: self.view.fit_readable())

    def after_edit(self) -> None:
        """One round trip: re-check (incremental), update the touched canvas items and the inspector now;
        the summary table and diagnostics list follow on a short timer (coalesced)."""
        assert self.scene is not None
        changed = self.engine.refresh()
        self.scene.apply_analysis(set(changed or ()))
        if self.scene.take_selection_dirty():
            self._selection_changed()
        else:
            self.inspector.refresh()
        self._update_status()
        self._panel_timer.start()

    def _update_status(self) -> None:
        t = self.engine.totals()
        self.status_counts.setText(
            f"{len(self.project.graph)} layers \u00b7 {human(int(getattr(t, 'params', 0)))} "
            f"params \u00b7 {human(int(getattr(t, 'macs', 0)))} MACs"
        )
        errors = sum(d.severity == "error" for d in self.engine.diagnostics())
        self.status_valid.setText("\u2714 valid" if not errors else f"\u2716 {errors} error(s)")
        self.status_valid.setStyleSheet(f"color: {'#3fb27f' if not errors else self.theme.error};")

    def _update_title(self, *_: Any) -> None:
        self.setWindowModified(self.modified)
        shown = self.project.path.name if self.project.path else self.project.name
        self.setWindowTitle(f"{shown}[*] \u2014 dlstudio")

    @property
    def modified(self) -> bool:
        graph_edited = self.controller is not None and not self.controller.undo_stack.isClean()
        return graph_edited or getattr(self, "_settings_dirty", False)

    def _settings_edited(self) -> None:
        """Data or training settings changed in the training panel: the document needs saving too, and the lints
        judge the new task (loss, classes, rows)."""
        self._settings_dirty = True
        self._update_title()
        if self.engine is not None and self.scene is not None:
            self.engine.set_training(facts=project_facts(self.project))
            self.after_edit()

    def show_refusal(self, reason: str) -> None:
        self.statusBar().showMessage(reason, 8000)

    # ------------------------------------------------------------ selection
    def _select(self, ids: list[str]) -> None:
        if self.scene is not None:
            self.scene.select_nodes(ids)

    def _selection_changed(self) -> None:
        if self.scene is None or not shiboken6.isValid(self.scene):
            return  # the scene is being torn down (window closing)
        self.inspector.show_nodes(self.scene.selected_node_ids(expand_blocks=False))

    def focus_node(self, node_id: str) -> None:
        if self.scene is None or node_id not in self.project.graph:
            return
        self.scene.select_nodes([node_id])
        grp = self.project.graph.node(node_id).group
        item = (
            self.scene.blocks[grp]
            if grp in self.scene.blocks and self.project.graph.group(grp).collapsed
            else self.scene.nodes[node_id]
        )
        self.view.centre_on_node(item)

    def select_all(self) -> None:
        if self.scene is not None:
            self.scene.select_all()

    def _context_menu(self, pos: Any) -> None:
        """Right-click: act on the item under the mouse (selecting it first) or on the selection."""
        assert self.scene is not None
        item = self.view.itemAt(pos)
        while item is not None and item.parentItem() is not None:
            item = item.parentItem()
        if item is not None and not item.isSelected() and item.flags() & item.GraphicsItemFlag.ItemIsSelectable:
            self.scene.clearSelection()
            item.setSelected(True)
        menu = QMenu(self)
        for text in (
            "Re&name",
            "Cu&t",
            "&Copy",
            "&Paste",
            "D&uplicate",
            "&Delete",
            None,
            "&Group selection",
            "&Ungroup",
            "&Collapse / expand",
            "&Freeze / unfreeze",
            None,
            "Layout &selection",
            "&Auto-layout",
            "&Fit",
        ):
            if text is None:
                menu.addSeparator()
            elif text in self._actions:
                menu.addAction(self._actions[text])
        menu.popup(self.view.viewport().mapToGlobal(pos))
        self._menu = menu

    # ------------------------------------------------------------ editing
    def undo(self) -> None:
        self.controller.undo()  # type: ignore[union-attr]

    def redo(self) -> None:
        self.controller.redo()  # type: ignore[union-attr]

    def add_at_centre(self, type_name: str) -> str | None:
        c = self.view.mapToScene(self.view.viewport().rect().center())
        return self.controller.add_node(type_name, (c.x() - 90, c.y() - 40))  # type: ignore[union-attr]

    def drop_layer(self, type_name: str, pos: QPointF) -> str | None:
        assert self.scene is not None and self.controller is not None
        edge = self.scene.edge_at(pos)
        snapped = self.scene.snap(QPointF(pos.x() - 90, pos.y() - 40))
        if edge is not None:
            return self.controller.insert_on_wire(edge, type_name=type_name, position=(snapped.x(), snapped.y()))
        return self.controller.add_node(type_name, (snapped.x(), snapped.y()))

    def delete_selection(self) -> None:
        assert self.scene is not None and self.controller is not None
        if self.view._editor is not None:
            return
        self.controller.remove(self.scene.selected_node_ids(), self.scene.selected_edges())

    def copy(self) -> bool:
        assert self.scene is not None and self.controller is not None
        ids = self.scene.selected_node_ids()
        if not ids:
            return False
        data = self.controller.copy_dict(ids)
        md = QMimeData()
        text = json.dumps(data, indent=1, sort_keys=True)
        md.setData(MIME_NODES, text.encode("utf-8"))
        md.setText(text)
        QApplication.clipboard().setMimeData(md)
        return True

    def cut(self) -> None:
        if self.copy():
            self.delete_selection()

    def paste(self) -> list[str]:
        assert self.controller is not None
        md = QApplication.clipboard().mimeData()
        if md is None or not md.hasFormat(MIME_NODES):
            return []
        try:
            data = json.loads(bytes(md.data(MIME_NODES).data()).decode("utf-8"))
        except ValueError:
            return []
        return self.controller.paste_dict(data)

    def duplicate(self) -> list[str]:
        assert self.scene is not None and self.controller is not None
        ids = self.scene.selected_node_ids()
        return self.controller.paste_dict(self.controller.copy_dict(ids)) if ids else []

    def rename_selected(self) -> None:
        assert self.scene is not None and self.controller is not None
        items = [i for i in self.scene.selectedItems() if isinstance(i, NodeItem)]
        if len(items) != 1:
            self.show_refusal("Select one layer or block to rename")
            return

        def done(key: str, text: str, is_block: bool) -> None:
            if is_block:
                self.controller.rename_group(key, text)  # type: ignore[union-attr]
            else:
                self.controller.rename(key, text)  # type: ignore[union-attr]

        self.view.begin_rename(items[0], done)

    def toggle_frozen(self) -> None:
        assert self.scene is not None and self.controller is not None
        ids = self.scene.selected_node_ids()
        if ids:
            self.controller.set_frozen(ids, not all(self.project.graph.node(n).frozen for n in ids))

    def group_selection(self) -> str | None:
        assert self.scene is not None and self.controller is not None
        gid = self.controller.group(self.scene.selected_node_ids(expand_blocks=False))
        if gid is not None:
            self.scene.clearSelection()
            self.scene.blocks[gid].setSelected(True)
        return gid

    def ungroup_selection(self) -> None:
        assert self.scene is not None and self.controller is not None
        gids = self.scene.selected_group_ids() or list(
            {self.project.graph.node(n).group for n in self.scene.selected_node_ids()} - {None}
        )
        for gid in gids:
            self.controller.ungroup(gid)

    def toggle_collapse(self) -> None:
        assert self.scene is not None and self.controller is not None
        gids = self.scene.selected_group_ids() or list(
            {self.project.graph.node(n).group for n in self.scene.selected_node_ids()} - {None}
        )
        for gid in gids:
            self.controller.set_collapsed(gid, not self.project.graph.group(gid).collapsed)

    def auto_layout(self, selection: bool = False) -> None:
        assert self.scene is not None and self.controller is not None
        ids = self.scene.selected_node_ids() if selection else None
        self.controller.auto_layout(ids)
        if not selection:
            self.view.fit()

    def _toggle_snap(self) -> None:
        if self.scene is not None:
            self.scene.grid_snap = self.act_snap.isChecked()
        self.settings.setValue("grid_snap", "true" if self.act_snap.isChecked() else "false")

    def set_theme(self, name: str) -> None:
        self.theme = THEMES[name]
        self.settings.setValue("theme", name)
        app = QApplication.instance()
        if isinstance(app, QApplication):
            apply_app_theme(app, self.theme)
        if self.scene is not None:
            self.scene.set_theme(self.theme)

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
        if dlg.exec() and dlg.chosen is not None:
            try:
                project = Project.load(dlg.chosen)
            except DlstudioError as exc:
                self.ask("error", str(exc))
                return
            project.path = None  # a template is a starting point, not the file to overwrite
            self.set_project(project)

    def open_dialog(self) -> None:
        if not self.maybe_save():
            return
        path = self.ask("open", str(self.settings.value("last_dir", "")))
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
        path = self.ask(
            "save",
            str(self.project.path or Path(str(self.settings.value("last_dir", ""))) / f"{self.project.name}{SUFFIX}"),
        )
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

    def import_onnx_dialog(self) -> None:
        path = self.ask("import", str(self.settings.value("last_dir", "")))
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

            return bool(ExportDialog(kind, self.project, runs=self.known_runs(), parent=self).exec())
        # scripted (tests, `ask` replaced): ask for the file, export with the default options
        fn = exporter(kind)
        ext = EXPORT_SUFFIXES[kind]
        path = self.ask(
            f"export:{kind}", str(Path(str(self.settings.value("last_dir", ""))) / f"{self.project.name}{ext}")
        )
        if not path:
            return False
        try:
            used = fn(self.project, path, runs=self.known_runs())
        except Exception as exc:  # exporters report their own reasons; show them
            self.ask("error", f"Export failed: {exc}")
            return False
        self.statusBar().showMessage(f"Exported {path} ({used})", 5000)
        return True

    # ----------------------------------------------------------- training
    def known_runs(self) -> Any:
        """The runs an export may take weights from: the Runs tab's, else those saved beside the project."""
        if self.training is not None:
            return self.training.known_runs()
        from .run_weights import saved_runs

        return saved_runs(self.project)

    def training_workspace(self) -> Any:
        """The training dock, built on first use (it loads torch and a dataset preview), shown and raised."""
        if self.training is None:
            # the first open loads torch and a dataset preview (about 2 s): say so instead of freezing silently
            self.statusBar().showMessage("Loading the training tools...")
            QApplication.setOverrideCursor(Qt.CursorShape.WaitCursor)
            try:
                from .training import TrainingWorkspace

                self.training = TrainingWorkspace(lambda: self.project, self)
                self.training.node_failed.connect(self.focus_node)
                self.training.settings_changed.connect(self._settings_edited)
                self.training_dock = self._dock(
                    "Training and results", self.training, Qt.DockWidgetArea.BottomDockWidgetArea
                )
                self.tabifyDockWidget(self.panel_dock, self.training_dock)
                self.training.project_changed()
            finally:
                QApplication.restoreOverrideCursor()
                self.statusBar().clearMessage()
        assert self.training_dock is not None
        self.training_dock.show()
        self.training_dock.raise_()
        return self.training

    def start_training(self) -> bool:
        """Train a snapshot of the current graph; the editor stays usable and edits do not reach the run."""
        return bool(self.training_workspace().start())

    # ------------------------------------------------------------- close
    def closeEvent(self, event: QCloseEvent) -> None:  # noqa: N802
        if not self.maybe_save():
            event.ignore()
            return
        if self.training is not None:
            self.training.shutdown()  # a running QThread must end before its widgets go
        self.settings.setValue("geometry", self.saveGeometry())
        self.settings.setValue("window_state", self.saveState())
        self.recovery.clear()
        self._autosave.stop()
        event.accept()


def default_project_path() -> Path:
    return EXAMPLES_DIR / DEFAULT_EXAMPLE


def launch(args: list[str]) -> int:
    """Open the window on `args[0]` (a project) or the default example; returns the exit code."""
    if QApplication.instance() is None:
        # crisp on fractional HiDPI scales (125 %, 150 %) instead of rounding to whole pixels
        QApplication.setHighDpiScaleFactorRoundingPolicy(Qt.HighDpiScaleFactorRoundingPolicy.PassThrough)
    app = QApplication.instance() or QApplication(sys.argv[:1])
    app.setApplicationName(APP_NAME)
    app.setOrganizationName(APP_NAME)
    app.setDesktopFileName("io.github.dlstudio.dlstudio")
    win = MainWindow()
    apply_app_theme(app, win.theme)  # type: ignore[arg-type]
    path = Path(args[0]) if args else default_project_path()
    win.show()
    if not win.offer_recovery():
        if path.exists():
            win.open_path(path, ask_save=False)
        elif args:
            print(f"dlstudio: no such project file: {path}", file=sys.stderr)
            return 2
    freeze_startup_objects()
    smoke = os.environ.get("DLSTUDIO_SMOKE_EXIT_MS")
    if smoke:  # packaging smoke check: start, show the project, report and quit

        def report() -> None:
            print(f"dlstudio smoke: {win.windowTitle()} with {len(win.project.graph)} layers")
            win.controller.undo_stack.setClean()  # type: ignore[union-attr]
            win.close()

        QTimer.singleShot(int(smoke), report)
    code = int(app.exec())  # type: ignore[union-attr]
    release_clipboard(app)
    return code


def release_clipboard(app: QApplication) -> None:
    """Hand copied layers back to Qt as plain text before exit: the clipboard owns a QMimeData created from
    Python, and Qt deleting it after the interpreter has shut down crashes the process."""
    cb = app.clipboard()
    md = cb.mimeData()
    if md is not None and md.hasFormat(MIME_NODES):
        cb.setText(md.text())
