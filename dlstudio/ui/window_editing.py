"""The window's editing side: showing a project (scene, engine, undo stack), the status bar, selection,
the context menu and every edit command of the Edit, View and Block menus. Mixed into MainWindow."""

from __future__ import annotations

import json
from typing import Any

import shiboken6
from PySide6.QtCore import QMimeData, QPointF, QTimer
from PySide6.QtWidgets import QApplication, QMenu

from ..io.project import Project
from .analysis import make_engine, project_facts
from .canvas.items import NodeItem
from .canvas.scene import GraphScene, human
from .controller import MIME_NODES, Controller
from .theme import THEMES, apply_app_theme


class EditingMixin:
    """Document and edit commands of MainWindow (self is the QMainWindow)."""

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
        self.scene.setParent(self)  # deleted with the window, in Qt's order (see dlstudio.ui.ownership)
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
        actions = self.inspector.block_actions
        actions.rename = self.controller.rename_group
        actions.open = self.view.enter_block
        actions.toggle = lambda gid: self.controller.set_collapsed(gid, not graph.group(gid).collapsed)
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
        nodes = self.scene.selected_node_ids(expand_blocks=False)
        blocks = self.scene.selected_group_ids()
        if not nodes and len(blocks) == 1:
            self.inspector.show_block(blocks[0])
        else:
            self.inspector.show_nodes(nodes)

    def focus_node(self, node_id: str) -> None:
        """Show a node from a list (diagnostics, errors, a comparison, a failed training step) wherever it is:
        the canvas enters the blocks around it and selects it."""
        if self.scene is None or node_id not in self.project.graph:
            return
        self.view.jump_to(node_id)

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
        level = self.scene.entered if self.scene is not None else None
        return self.controller.add_node(type_name, (c.x() - 90, c.y() - 40), level=level)  # type: ignore[union-attr]

    def drop_layer(self, type_name: str, pos: QPointF) -> str | None:
        assert self.scene is not None and self.controller is not None
        edge = self.scene.edge_at(pos)
        snapped = self.scene.snap(QPointF(pos.x() - 90, pos.y() - 40))
        if edge is not None:
            return self.controller.insert_on_wire(
                edge, type_name=type_name, position=(snapped.x(), snapped.y()), level=self.scene.entered
            )
        return self.controller.add_node(type_name, (snapped.x(), snapped.y()), level=self.scene.entered)

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
        return self.controller.paste_dict(data, level=self.scene.entered if self.scene is not None else None)

    def duplicate(self) -> list[str]:
        assert self.scene is not None and self.controller is not None
        ids = self.scene.selected_node_ids()
        data = self.controller.copy_dict(ids)
        return self.controller.paste_dict(data, level=self.scene.entered) if ids else []

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
        """Ctrl+G: the selected layers and block cards become a block, nested where they sit (inside the entered
        block, or inside the expanded block whose members are selected). A selected block's own contents are
        part of it already, so a selected frame with some of its members selected groups the frame."""
        assert self.scene is not None and self.controller is not None
        graph = self.project.graph
        gids = self.scene.selected_group_ids()
        chosen = set(gids)
        nodes = [n for n in self.scene.selected_node_ids(expand_blocks=False) if not chosen & {*self._blocks_around(n)}]
        gids = [g for g in gids if not chosen & set(graph.group_ancestors(g))]
        gid = self.controller.group(nodes, group_ids=gids)
        if gid is not None:
            self.scene.select_blocks([gid])
        return gid

    def _blocks_around(self, node_id: str) -> list[str]:
        grp = self.project.graph.node(node_id).group
        return [] if grp is None else [grp, *self.project.graph.group_ancestors(grp)]

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
        self.controller.auto_layout(ids, level=self.scene.entered if selection else None)
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
        if self.training_dock is not None:  # pyqtgraph is loaded only with the training dock
            from .plot_theme import apply_plot_theme

            apply_plot_theme(self.training_dock, self.theme)
