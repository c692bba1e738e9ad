"""The studio window: palette (left), canvas (centre), inspector (right), diagnostics and summary (bottom),
menus, toolbar, status bar and QSettings persistence; `launch` starts the application.

The window is put together here (docks, menus, toolbar); its commands live in mixins:
window_editing (document, selection, edits, layout, theme), window_files (new/open/save, recent files,
autosave, recovery), window_transfer (import, export) and window_training (the training dock)."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from PySide6.QtCore import QByteArray, QSettings, QStandardPaths, Qt, QTimer
from PySide6.QtGui import QAction, QActionGroup, QCloseEvent, QIcon, QKeySequence, QShowEvent
from PySide6.QtWidgets import (
    QApplication,
    QDockWidget,
    QLabel,
    QMainWindow,
    QMessageBox,
    QToolBar,
    QUndoView,
    QWidget,
)

from ..io.project import Project
from . import compare, freeze_startup_objects, outline
from .canvas.scene import GraphScene
from .canvas.view import GraphView
from .controller import MIME_NODES, Controller
from .files import DEFAULT_EXAMPLE, EXAMPLES_DIR, Recovery
from .gui_gc import collect_anywhere, collect_in_gui_thread
from .inspector import Inspector
from .ownership import adopt_children, tear_down
from .palette import Palette
from .summary import BottomPanel
from .theme import THEMES, apply_app_theme
from .window_editing import EditingMixin
from .window_files import FilesMixin
from .window_training import TrainingLaunchMixin
from .window_transfer import ImportExportMixin

APP_NAME = "dlstudio"
AUTOSAVE_MS = 60_000
BOTTOM_HEIGHT = 170  # the bottom docks' height when unfolded at first start
QWIDGETSIZE_MAX = (1 << 24) - 1
RESOURCES = Path(__file__).resolve().parents[2] / "resources"


class MainWindow(EditingMixin, FilesMixin, ImportExportMixin, TrainingLaunchMixin, QMainWindow):
    """`ask(kind, text) -> answer` is the one place the window asks the user; tests replace it.

    New docks go in `_build_docks`, new menu entries in `_build_actions` (one block per menu)."""

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
        self.view.minimap.use_settings(self.settings)  # the corner the user dragged it to last time
        self.setCentralWidget(self.view)
        self.palette = Palette()
        self.inspector = Inspector()
        self.panel = BottomPanel()
        self.history = QUndoView()
        self.history.setEmptyLabel("<opened>")
        self._build_docks()

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
        self.resizeDocks([self.palette_dock, self.inspector_dock], [210, 300], Qt.Orientation.Horizontal)
        self.resizeDocks([self.panel_dock], [BOTTOM_HEIGHT], Qt.Orientation.Vertical)
        self._bottom_height = BOTTOM_HEIGHT
        self._first_show = True  # the bottom panel's first size depends on the window's size when shown
        geo = self.settings.value("geometry")
        if isinstance(geo, QByteArray):
            self.restoreGeometry(geo)
        state = self.settings.value("window_state")
        if isinstance(state, QByteArray):
            self.restoreState(state)
            self._first_show = False
        adopt_children(self)  # widgets laid out before their layout had a parent: Qt owns them, not Python
        compare.install(self)  # File > Compare with...: another model over this one, and its Changes dock
        outline.install(self)  # the Outline dock (block tree) and Ctrl+F find across every block

    # -------------------------------------------------------------- docks
    def _build_docks(self) -> None:
        self.palette_dock = self._dock("Layers", self.palette, Qt.DockWidgetArea.LeftDockWidgetArea)
        self.inspector_dock = self._dock("Inspector", self.inspector, Qt.DockWidgetArea.RightDockWidgetArea)
        self.panel_dock = self._dock("Diagnostics and summary", self.panel, Qt.DockWidgetArea.BottomDockWidgetArea)
        # History shares the left column with the layers (tabs): beside the inspector it left one field visible
        self.history_dock = self._dock("History", self.history, Qt.DockWidgetArea.LeftDockWidgetArea)
        self.tabifyDockWidget(self.palette_dock, self.history_dock)
        self.history_dock.hide()

    def show_history(self) -> None:
        self.history_dock.show()
        self.history_dock.raise_()

    def bottom_docks(self) -> list[QDockWidget]:
        return [d for d in (self.panel_dock, self.training_dock) if d is not None]

    @property
    def bottom_collapsed(self) -> bool:
        return self.panel.maximumHeight() == 0

    def set_bottom_collapsed(self, collapsed: bool) -> None:
        """Fold the bottom docks (diagnostics, summary, training) to their title and tabs, or unfold them to
        their last height. View > Bottom panel (Ctrl+J) toggles it."""
        if collapsed == self.bottom_collapsed:
            return
        docks = self.bottom_docks()
        if collapsed:
            self._bottom_height = max(self.panel_dock.height(), 120)
        for dock in docks:
            # content squeezed to no height, not hidden: a dock with hidden content also shrank to its title's width
            dock.widget().setMaximumHeight(0 if collapsed else QWIDGETSIZE_MAX)
            dock.setMaximumHeight(dock.minimumSizeHint().height() if collapsed else QWIDGETSIZE_MAX)
        if not collapsed:
            shown = [d for d in docks if d.isVisible()]
            if shown:
                self.resizeDocks(shown[:1], [self._bottom_height], Qt.Orientation.Vertical)
        self.act_bottom.setChecked(not collapsed)

    def showEvent(self, event: QShowEvent) -> None:  # noqa: N802
        super().showEvent(event)
        if self._first_show:
            self._first_show = False
            # first start: a window under 1000 px tall keeps the canvas at >= 55 % only with the bottom docks folded
            self.set_bottom_collapsed(self.height() < 1000)

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
        self._act(e, "&History", self.show_history, "Ctrl+H", "Every edit, by name")
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
        self.act_bottom = self._act(
            v,
            "&Bottom panel",
            lambda: self.set_bottom_collapsed(not self.act_bottom.isChecked()),
            "Ctrl+J",
            "Fold or unfold the diagnostics, summary and training panel",
            checkable=True,
        )
        self.act_bottom.setChecked(True)

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
    collect_in_gui_thread()  # no Qt object is ever freed by a background thread's collection
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
    collect_anywhere()  # its timer goes while the application still exists
    tear_down(app)  # type: ignore[arg-type]  # windows deleted top-down now, not by PySide's exit sweep
    return code


def release_clipboard(app: QApplication) -> None:
    """Hand copied layers back to Qt as plain text before exit: the clipboard owns a QMimeData created from
    Python, and Qt deleting it after the interpreter has shut down crashes the process."""
    cb = app.clipboard()
    md = cb.mimeData()
    if md is not None and md.hasFormat(MIME_NODES):
        cb.setText(md.text())
