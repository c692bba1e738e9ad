"""The outline dock: the model's block tree, nested as the blocks are, with deep counts (layers, parameters), in
step with the canvas both ways. Selecting a block row selects its card (at the level that shows it); selecting a
layer row shows it (entering the chain of blocks around it); a double-click on a block row enters it. Selecting
on the canvas selects the row. Block rows list their child blocks and layers when first opened, so a 10,000-node
model fills the tree with ~50 rows, not 10,000.

`install(window)` adds this dock and the Ctrl+F find bar (find.py) to the studio window.
"""

from __future__ import annotations

from typing import Any

import shiboken6
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QDockWidget, QTreeWidget, QTreeWidgetItem, QVBoxLayout, QWidget

from .canvas.scene import GraphScene, human

KEY = Qt.ItemDataRole.UserRole  # ("block", gid) / ("node", nid) / ("loose", None)


class Outline(QWidget):
    def __init__(self, view: Any) -> None:
        super().__init__()
        self.view = view
        self.scene: GraphScene | None = None
        self.tree = QTreeWidget()
        self.tree.setHeaderLabels(["Block / layer", "Layers", "Params"])
        self.tree.setColumnWidth(0, 170)
        self.tree.setUniformRowHeights(True)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.addWidget(self.tree)
        self._rows: dict[str, QTreeWidgetItem] = {}  # block id / node id -> row
        self._signature: tuple[Any, ...] = ()
        self._syncing = False
        self.tree.itemExpanded.connect(self._fill)
        self.tree.itemSelectionChanged.connect(self._row_selected)
        self.tree.itemDoubleClicked.connect(self._row_activated)
        view.scene_set.connect(self.bind)
        if isinstance(view.scene(), GraphScene):
            self.bind(view.scene())

    # ------------------------------------------------------------------ model
    def bind(self, scene: GraphScene) -> None:
        if self.scene is not None and shiboken6.isValid(self.scene):
            self.scene.analysed.disconnect(self.refresh)
            self.scene.selectionChanged.disconnect(self._scene_selected)
        self.scene = scene
        scene.analysed.connect(self.refresh)
        scene.selectionChanged.connect(self._scene_selected)
        self._signature = ()
        self.refresh()

    def _sig(self) -> tuple[Any, ...]:
        assert self.scene is not None
        g = self.scene.graph
        loose = sum(1 for n in g.nodes.values() if n.group is None)
        return (loose, tuple((gid, grp.label, grp.parent, len(grp.node_ids)) for gid, grp in g.groups.items()))

    def _block_row(self, gid: str) -> QTreeWidgetItem:
        assert self.scene is not None
        g, engine = self.scene.graph, self.scene.engine
        grp = g.group(gid)
        deep = g.group_nodes_deep(gid)
        params = sum(int(getattr(engine.stats(n), "params", 0) or 0) for n in deep)
        row = QTreeWidgetItem([grp.label, str(len(deep)), human(params)])
        row.setData(0, KEY, ("block", gid))
        inner = g.child_groups(gid)
        row.setToolTip(
            0,
            f"Block '{grp.label}': {len(deep)} layers"
            + (f", {len(inner)} block" + "s" * (len(inner) > 1) + " inside" if inner else "")
            + ". Double-click to open it",
        )
        row.addChild(QTreeWidgetItem(["\u2026"]))  # filled when opened
        self._rows[gid] = row
        return row

    def _reading_order(self, gids: list[str]) -> list[str]:
        """Blocks in reading order of the canvas (rows, then left to right), not in id order."""
        assert self.scene is not None
        groups = self.scene.graph.groups
        return sorted(gids, key=lambda gid: (round(groups[gid].position[1] / 400.0), groups[gid].position[0]))

    def refresh(self) -> None:
        """Rebuild the tree when the blocks or their sizes changed (a parameter edit leaves it alone). Rows are
        the block tree: each block row lists its child blocks, then its own layers, when first opened."""
        if self.scene is None:
            return
        sig = self._sig()
        if sig == self._signature:
            return
        self._signature = sig
        g = self.scene.graph
        self._syncing = True
        self.tree.clear()
        self._rows = {}
        for gid in self._reading_order(g.child_groups(None)):
            self.tree.addTopLevelItem(self._block_row(gid))
        loose = sig[0]
        if loose:
            row = QTreeWidgetItem(["Layers outside blocks", str(loose), ""])
            row.setData(0, KEY, ("loose", None))
            row.addChild(QTreeWidgetItem(["\u2026"]))
            self.tree.addTopLevelItem(row)
            self._rows["\0loose"] = row
        self._syncing = False

    def _fill(self, row: QTreeWidgetItem) -> None:
        kind, key = row.data(0, KEY) or (None, None)
        if self.scene is None or kind not in ("block", "loose") or row.data(1, KEY):
            return
        row.setData(1, KEY, True)
        g = self.scene.graph
        if kind == "block" and key not in g.groups:
            return
        ids = list(g.group(key).node_ids) if kind == "block" else [n for n, v in g.nodes.items() if v.group is None]
        self._syncing = True
        row.takeChildren()
        children = []
        if kind == "block":
            children += [self._block_row(gid) for gid in self._reading_order(g.child_groups(key))]
        for nid in ids:
            node = g.nodes.get(nid)
            if node is None:
                continue
            child = QTreeWidgetItem([f"{node.label}  ({node.type})", "", ""])
            child.setData(0, KEY, ("node", nid))
            children.append(child)
            self._rows[nid] = child
        row.addChildren(children)
        self._syncing = False

    def _fill_down_to(self, group_id: str | None) -> None:
        """Fill the rows from the top down to `group_id`'s row (None: the loose layers' row)."""
        assert self.scene is not None
        path = self.scene.graph.group_path(group_id) if group_id is not None else []
        for gid in path[:-1] if path else []:
            row = self._rows.get(gid)
            if row is not None:
                self._fill(row)
        parent = self._rows.get(group_id if group_id is not None else "\0loose")
        if parent is not None:
            self._fill(parent)

    # ------------------------------------------------------------- both ways
    def _row_selected(self) -> None:
        if self._syncing or self.scene is None:
            return
        rows = self.tree.selectedItems()
        if len(rows) != 1:
            return
        kind, key = rows[0].data(0, KEY) or (None, None)
        self._syncing = True
        try:
            if kind == "block":
                self.view.jump_to_block(key)
            elif kind == "node":
                self.view.jump_to(key)
        finally:
            self._syncing = False

    def _row_activated(self, row: QTreeWidgetItem, _column: int) -> None:
        kind, key = row.data(0, KEY) or (None, None)
        if kind == "block" and self.scene is not None and key in self.scene.graph.groups:
            self.view.enter_block(key)

    def _scene_selected(self) -> None:
        if self._syncing or self.scene is None or not shiboken6.isValid(self.scene):
            return
        scene = self.scene
        keys = scene.selected_group_ids() + scene.selected_node_ids(expand_blocks=False)
        if len(keys) != 1:
            return
        key = keys[0]
        if key not in self._rows:
            if key in scene.graph.nodes:
                self._fill_down_to(scene.graph.nodes[key].group)
            elif key in scene.graph.groups and scene.graph.groups[key].parent is not None:
                self._fill_down_to(scene.graph.groups[key].parent)
        row = self._rows.get(key)
        if row is None:
            return
        self._syncing = True
        try:
            self.tree.setCurrentItem(row)
            self.tree.scrollToItem(row)
        finally:
            self._syncing = False


def install(window: Any) -> Outline:
    """Add the outline dock (tabbed with the layer palette) and the Ctrl+F find bar to the studio window."""
    from .find import install as install_find

    outline = Outline(window.view)
    dock = QDockWidget("Outline", window)
    dock.setObjectName("outline")
    dock.setWidget(outline)
    window.addDockWidget(Qt.DockWidgetArea.LeftDockWidgetArea, dock)
    palette_dock = getattr(window, "palette_dock", None)
    if palette_dock is not None:
        window.tabifyDockWidget(palette_dock, dock)
        palette_dock.raise_()
    window.outline, window.outline_dock = outline, dock
    install_find(window)
    return outline


__all__ = ["Outline", "install"]
