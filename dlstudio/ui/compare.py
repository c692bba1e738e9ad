"""File > Compare with...: another model shown over the current one.

Added nodes get a green outline, changed ones amber (old -> new in the tooltip and at the top of the inspector),
removed ones a red dashed ghost at their old place; a collapsed block carries a badge ("3 changes inside"). A
"Changes" dock lists every change; a click jumps to the node. The overlay is separate items added to the canvas
scene, placed from the scene's own geometry (`node_rect`, `shown_end`, `blocks`), and rebuilt after each
analysis pass, so the canvas code knows nothing about it. The current model is the new side, the other the old.

    install(window)      # once, from the window: adds the menu entries and the dock
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import shiboken6
from PySide6.QtCore import QObject, QPointF, QRectF, Qt, QTimer
from PySide6.QtGui import QAction, QBrush, QColor, QPainterPath, QPen
from PySide6.QtWidgets import (
    QApplication,
    QDockWidget,
    QFileDialog,
    QGraphicsItem,
    QGraphicsPathItem,
    QGraphicsScene,
    QGraphicsSimpleTextItem,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QMessageBox,
    QVBoxLayout,
    QWidget,
)

from ..analysis.diff import GraphDiff, NodeChange, NodeRef
from ..importers.diff_sources import Comparison, ModelSource, ModelSourceError, compare_sources, open_model_source

ADDED, REMOVED, CHANGED = QColor("#3fb27f"), QColor("#e05252"), QColor("#e0a030")
_Z = 40.0  # above nodes and wires, below drag feedback
_GHOST_H = 44.0
_PAD = 5.0
_MAX_GHOSTS = 200  # beyond this (unrelated models) the list still names every removed node
_FAR = 600.0  # a ghost further than this from its upstream neighbour is placed just below it instead
_SEARCH = 64  # nodes looked at upstream of a removed one for a node both models have
_ROLE = Qt.ItemDataRole.UserRole
_RECOMPARE_MS = 400  # after the last edit
_LIVE_LIMIT = 3000  # nodes up to which an edit re-runs the comparison (about 0.3 s)


def _rounded(rect: QRectF, radius: float = 8.0) -> QPainterPath:
    path = QPainterPath()
    path.addRoundedRect(rect, radius, radius)
    return path


def _passive(item: QGraphicsItem, tip: str) -> QGraphicsItem:
    """An overlay item: on top, shows `tip` on hover, lets clicks through to the node beneath."""
    item.setZValue(_Z)
    item.setToolTip(tip)
    item.setAcceptedMouseButtons(Qt.MouseButton.NoButton)
    item.setData(0, "compare_overlay")
    return item


class _Cards:
    """The shown cards bucketed on a coarse grid, so placing a ghost looks at its neighbourhood only."""

    CELL = 400.0

    def __init__(self) -> None:
        self.cells: dict[tuple[int, int], list[QRectF]] = {}

    def _keys(self, rect: QRectF) -> list[tuple[int, int]]:
        c = self.CELL
        xs = range(int(rect.left() // c), int(rect.right() // c) + 1)
        ys = range(int(rect.top() // c), int(rect.bottom() // c) + 1)
        return [(x, y) for x in xs for y in ys]

    def add(self, rect: QRectF) -> None:
        for key in self._keys(rect):
            self.cells.setdefault(key, []).append(rect)

    def hit(self, rect: QRectF) -> QRectF | None:
        for key in self._keys(rect):
            for r in self.cells.get(key, ()):
                if r.intersects(rect):
                    return r
        return None


def _free_place(rect: QRectF, cards: _Cards) -> QRectF:
    """`rect`, moved down step by step until it overlaps no card (at most a few steps)."""
    out = QRectF(rect)
    for _ in range(6):
        hit = cards.hit(out)
        if hit is None:
            break
        out.moveTop(hit.bottom() + 14)
    return out


def change_text(change: NodeChange) -> str:
    return "; ".join(change.describe())


class CompareOverlay(QObject):
    """The comparison shown on the window's canvas, and its Changes dock."""

    def __init__(self, window: Any) -> None:
        super().__init__(window)
        self.window = window
        self.comparison: Comparison | None = None
        self.scene: QGraphicsScene | None = None
        self.items: list[QGraphicsItem] = []
        self.ghosts: dict[str, QGraphicsItem] = {}  # removed node id (other model) -> its ghost
        self.badges: dict[str, QGraphicsItem] = {}  # group id -> its badge
        self.outlines: dict[str, QGraphicsItem] = {}  # node id (current model) -> its outline
        self.list = QListWidget()
        self.list.setObjectName("compare_changes")
        self.list.itemClicked.connect(self._jump)
        self.heading = QLabel("Compare with... (File menu) lists the changes here")
        self.heading.setWordWrap(True)
        body = QWidget()
        lay = QVBoxLayout(body)
        lay.setContentsMargins(4, 4, 4, 4)
        lay.addWidget(self.heading)
        lay.addWidget(self.list, 1)
        self.dock = QDockWidget("Changes", window)
        self.dock.setObjectName("compare_changes_dock")
        self.dock.setWidget(body)
        window.addDockWidget(Qt.DockWidgetArea.RightDockWidgetArea, self.dock)
        self.dock.hide()
        # the window retitles itself whenever it shows another project: time to check the scene is still ours
        window.windowTitleChanged.connect(lambda *_: self._attach())
        # edits to the current model: compare again once they pause (a large model only says it is stale)
        self._recompare = QTimer(self, singleShot=True, interval=_RECOMPARE_MS, timeout=self._recompare_now)
        self._graph: Any = None

    # ------------------------------------------------------------------ comparing
    def compare_with(self, path: str | Path) -> Comparison:
        """Compare the current model (new) with the model at `path` (old) and show it. Raises ModelSourceError."""
        other = open_model_source(str(path))
        project = self.window.project
        current = ModelSource(project.name, "project", project.graph)
        comparison = compare_sources(other, current)
        self.show_comparison(comparison)
        return comparison

    def show_comparison(self, comparison: Comparison, *, raise_dock: bool = True) -> None:
        self.comparison = comparison
        self._fill_list()
        self.rebuild()
        self.dock.show()
        if raise_dock:
            self.dock.raise_()

    def _graph_edited(self) -> None:
        if self.comparison is not None:
            self._recompare.start()

    def _recompare_now(self) -> None:
        """The current model was edited: the same other model, compared with what is there now."""
        if self.comparison is None or self.scene is None:
            return
        project = self.window.project
        if len(project.graph) > _LIVE_LIMIT:
            self.heading.setText(self.heading.text() + " <i>(edited since: Compare with... again)</i>")
            return
        current = ModelSource(project.name, "project", project.graph)
        self.show_comparison(compare_sources(self.comparison.old, current), raise_dock=False)

    def clear(self) -> None:
        self.comparison = None
        self._remove_items()
        self.list.clear()
        self.heading.setText("No comparison shown")
        self.dock.hide()

    @property
    def diff(self) -> GraphDiff | None:
        return None if self.comparison is None else self.comparison.structure

    # ------------------------------------------------------------------ overlay items
    def _remove_items(self) -> None:
        scene = self.scene
        if scene is not None and shiboken6.isValid(scene):
            for item in self.items:
                if shiboken6.isValid(item) and item.scene() is scene:
                    scene.removeItem(item)
        self.items, self.ghosts, self.badges, self.outlines = [], {}, {}, {}

    def _attach(self) -> QGraphicsScene | None:
        """Follow the window's scene: a new scene means another project, whose comparison is gone."""
        scene = self.window.scene
        if scene is self.scene:
            return scene
        if self.scene is not None:
            self._remove_items()
            if shiboken6.isValid(self.scene):
                self.scene.analysed.disconnect(self.rebuild)
                self.scene.entered_changed.disconnect(self.rebuild)
                self.scene.selectionChanged.disconnect(self._selection_changed)
            self._follow_graph(None)
            self.scene = None
            if self.comparison is not None:
                self.clear()
                return None
        if scene is not None:
            self.scene = scene
            scene.analysed.connect(self.rebuild)
            scene.entered_changed.connect(self.rebuild)  # another level shows other cards and layers
            scene.selectionChanged.connect(self._selection_changed)
            scene.destroyed.connect(self._scene_gone)
            self._follow_graph(scene.graph)
        return scene

    def _follow_graph(self, graph: Any) -> None:
        if self._graph is not None:
            self._graph.changed.disconnect(self._graph_edited)
        self._graph = graph
        if graph is not None:
            graph.changed.connect(self._graph_edited)

    def _scene_gone(self, *_: Any) -> None:
        """The window replaced its scene (another project): the comparison was with the previous one."""
        self.scene = None
        self._follow_graph(None)
        self.items, self.ghosts, self.badges, self.outlines = [], {}, {}, {}
        if self.comparison is not None:
            self.clear()

    def rebuild(self) -> None:
        """Place every outline, ghost and badge from the scene's current geometry."""
        scene = self._attach()
        self._remove_items()
        diff = self.diff
        if scene is None or diff is None:
            return
        graph = scene.graph
        inside: dict[str, int] = {}

        def unit_of(node_id: str) -> str | None:
            return scene.shown_end(node_id) if node_id in graph.nodes else None

        for kind, ref, tip in self._current_side_changes(diff):
            unit = unit_of(ref.id)
            if unit is None:
                continue
            if unit != ref.id:
                inside[unit] = inside.get(unit, 0) + 1
                continue
            rect = scene.node_rect(ref.id).adjusted(-_PAD, -_PAD, _PAD, _PAD)
            outline = QGraphicsPathItem(_rounded(rect))
            colour = ADDED if kind == "added" else CHANGED
            outline.setPen(QPen(colour, 3.5))
            outline.setBrush(QBrush(Qt.BrushStyle.NoBrush))
            self._add(_passive(outline, tip))
            self.outlines[ref.id] = outline
        cards: _Cards | None = None
        ghosts = 0
        for ref in diff.removed:
            place = self._ghost_place(scene, diff, ref) if ghosts < _MAX_GHOSTS else None
            if isinstance(place, str):
                inside[place] = inside.get(place, 0) + 1
            elif place is not None:
                if cards is None:  # the shown cards, once: a ghost must not hide a node that is there now
                    cards = _Cards()
                    for n in graph.nodes:
                        if scene.shown_end(n) == n:
                            cards.add(scene.node_rect(n))
                place = _free_place(place, cards)
                cards.add(place)
                self._add_ghost(ref, place)
                ghosts += 1
        for gid, count in inside.items():
            if gid in scene.blocks:
                self._add_badge(gid, scene.blocks[gid].sceneBoundingRect(), count)

    def _current_side_changes(self, diff: GraphDiff) -> list[tuple[str, NodeRef, str]]:
        other = self.comparison.old.name if self.comparison is not None else "the other model"
        out = [("added", ref, f"Added: {ref.label} ({ref.type}) is not in {other}") for ref in diff.added]
        out += [("changed", c.new, f"Changed since {other}:\n" + "\n".join(c.describe())) for c in diff.changed]
        return out

    def _add(self, item: QGraphicsItem) -> None:
        assert self.scene is not None
        self.scene.addItem(item)
        self.items.append(item)

    def _ghost_place(self, scene: Any, diff: GraphDiff, ref: NodeRef) -> QRectF | str | None:
        """Where a removed node's ghost goes: at its old place relative to the nearest node upstream of it that
        both models have (exactly its old place while the layout is unchanged; just below that node when the
        other model's layout is far off). A str: the collapsed block that holds the place (it gets the badge)."""
        graph = scene.graph
        old_graph = self.comparison.old.graph if self.comparison is not None else None
        if old_graph is None or ref.id not in old_graph.nodes:
            return None
        old_node = old_graph.nodes[ref.id]
        grp = old_node.group
        if diff.matched_by == "id" and grp in graph.groups:
            card = scene.level_map().card.get(grp)
            if card:  # inside a collapsed block drawn at this level (at any depth): that card gets the badge
                return str(card)
        seen, frontier = set(), [ref.id]
        while frontier and len(seen) < _SEARCH:
            nid = frontier.pop(0)
            for pred in old_graph.predecessors(nid):
                if pred in seen:
                    continue
                seen.add(pred)
                mapped = diff.matches.get(pred)
                if mapped is None or mapped not in graph.nodes:
                    frontier.append(pred)
                    continue
                unit = scene.shown_end(mapped)
                if unit is None:
                    return None
                if unit != mapped:
                    return str(unit)
                anchor = scene.node_rect(mapped)
                dx = old_node.position[0] - old_graph.nodes[pred].position[0]
                dy = old_node.position[1] - old_graph.nodes[pred].position[1]
                if abs(dx) > _FAR or abs(dy) > _FAR:
                    dx, dy = 30.0, anchor.height() + 16
                return QRectF(anchor.left() + dx, anchor.top() + dy, anchor.width(), _GHOST_H)
        return None

    def _add_ghost(self, ref: NodeRef, rect: QRectF) -> None:
        other = self.comparison.old.name if self.comparison is not None else "the other model"
        ghost = QGraphicsPathItem(_rounded(rect))
        pen = QPen(REMOVED, 2.5, Qt.PenStyle.DashLine)
        ghost.setPen(pen)
        fill = QColor(REMOVED)
        fill.setAlpha(45)
        ghost.setBrush(QBrush(fill))
        text = QGraphicsSimpleTextItem(f"\u2212 {ref.label}\n   {ref.type} (removed)", ghost)
        text.setBrush(QBrush(REMOVED.darker(130)))
        text.setPos(QPointF(rect.left() + 10, rect.top() + 6))
        self._add(_passive(ghost, f"Removed: {ref.label} ({ref.type}) was in {other}"))
        self.ghosts[ref.id] = ghost

    def _add_badge(self, group_id: str, block: QRectF, count: int) -> None:
        label = f"{count} change{'s' if count != 1 else ''} inside"
        text = QGraphicsSimpleTextItem(label)
        width = text.boundingRect().width() + 14
        rect = QRectF(block.right() - width + 6, block.top() - 12, width, 20)
        badge = QGraphicsPathItem(_rounded(rect, 9))
        badge.setPen(QPen(CHANGED.darker(140), 1.2))
        badge.setBrush(QBrush(CHANGED))
        text.setParentItem(badge)
        text.setBrush(QBrush(QColor("#1b1b1b")))
        text.setPos(QPointF(rect.left() + 7, rect.top() + 2))
        outline = QGraphicsPathItem(_rounded(block.adjusted(-_PAD, -_PAD, _PAD, _PAD)), badge)
        outline.setPen(QPen(CHANGED, 2.0, Qt.PenStyle.DotLine))
        self._add(_passive(badge, f"{label} this block: open it to see them"))
        self.badges[group_id] = badge

    # ------------------------------------------------------------------ list and inspector
    def _fill_list(self) -> None:
        self.list.clear()
        comparison = self.comparison
        diff = self.diff
        if comparison is None or diff is None:
            return
        counts = f"{len(diff.added)} added, {len(diff.removed)} removed, {len(diff.changed)} changed"
        self.heading.setText(
            f"<b>{Path(comparison.old.name).name}</b> \u2192 this model: "
            + ("no structural changes" if diff.same else counts)
            + (f"; {len(diff.rewired)} wire(s) rewired" if diff.rewired else "")
        )
        rows: list[tuple[str, str, str, QColor]] = []
        rows += [("added", r.id, f"+ {r.label} ({r.type})", ADDED) for r in diff.added]
        rows += [("removed", r.id, f"\u2212 {r.label} ({r.type})", REMOVED) for r in diff.removed]
        rows += [("changed", c.new.id, f"~ {c.new.label}: {change_text(c)}", CHANGED) for c in diff.changed]
        rows += [("rewired", r.node.id, f"\u21c4 {r.describe()}", QColor("#808080")) for r in diff.rewired]
        for kind, node_id, text, colour in rows:
            item = QListWidgetItem(text)
            item.setData(_ROLE, (kind, node_id))
            item.setForeground(QBrush(colour.darker(115)))
            self.list.addItem(item)

    def _jump(self, item: QListWidgetItem) -> None:
        kind, node_id = item.data(_ROLE)
        if kind == "removed":
            ghost = self.ghosts.get(node_id)
            if ghost is not None and shiboken6.isValid(ghost):
                self.window.view.centerOn(ghost)
                return
            diff, old_graph = self.diff, self.comparison.old.graph if self.comparison else None
            preds = old_graph.predecessors(node_id) if old_graph is not None and node_id in old_graph else []
            node_id = next((diff.matches[p] for p in preds if diff is not None and p in diff.matches), "")
        if node_id in self.window.project.graph:
            self.window.focus_node(node_id)

    def change_for(self, node_id: str) -> tuple[str, str] | None:
        """("added" / "changed", text) for a node of the current model, or None."""
        diff = self.diff
        if diff is None:
            return None
        for c in diff.changed:
            if c.new.id == node_id:
                return "changed", change_text(c)
        if any(r.id == node_id for r in diff.added):
            return "added", "not in the other model"
        return None

    def _selection_changed(self) -> None:
        QTimer.singleShot(0, self._annotate_inspector)  # after the window has rebuilt the inspector

    def _annotate_inspector(self) -> None:
        """An amber (or green) line at the top of the inspector: what the comparison says about this node."""
        scene, inspector = self.scene, self.window.inspector
        if scene is None or not shiboken6.isValid(scene) or self.diff is None:
            return
        ids = scene.selected_node_ids(expand_blocks=False)
        body = inspector.widget()
        if len(ids) != 1 or body is None or body.layout() is None or body.findChild(QLabel, "compare_note"):
            return
        found = self.change_for(ids[0])
        if found is None:
            return
        kind, text = found
        colour = CHANGED if kind == "changed" else ADDED
        note = QLabel(f"<b>{'Changed' if kind == 'changed' else 'Added'}</b> (compared): {text}")
        note.setObjectName("compare_note")
        note.setWordWrap(True)
        note.setStyleSheet(f"background: {colour.name()}; color: #1b1b1b; padding: 4px; border-radius: 3px;")
        body.layout().insertWidget(0, note)


def install(window: Any) -> CompareOverlay:
    """File > Compare with... and File > Clear comparison, and the Changes dock. Call once, after the menus."""
    overlay = CompareOverlay(window)
    window.compare_overlay = overlay
    file_menu = next(a.menu() for a in window.menuBar().actions() if a.text().replace("&", "") == "File")
    compare = QAction("&Compare with...", window)
    compare.setStatusTip("Show another model (project or ONNX file) over this one: what was added, removed, changed")
    compare.triggered.connect(lambda *_: _compare_dialog(window, overlay))
    clear = QAction("Clear co&mparison", window)
    clear.triggered.connect(lambda *_: overlay.clear())
    actions = file_menu.actions()
    save = next((a for a in actions if a.text().replace("&", "") == "Save"), None)
    before = actions[actions.index(save) - 1] if save in actions and actions.index(save) > 0 else None
    file_menu.insertAction(before, compare)
    file_menu.insertAction(before, clear)
    return overlay


def _compare_dialog(window: Any, overlay: CompareOverlay) -> None:
    start = str(window.project.path.parent) if window.project.path else ""
    path, _ = QFileDialog.getOpenFileName(
        window, "Compare with", start, "Models (*.dlstudio *.onnx);;Projects (*.dlstudio);;ONNX (*.onnx)"
    )
    if not path:
        return
    QApplication.setOverrideCursor(Qt.CursorShape.WaitCursor)
    try:
        overlay.compare_with(path)
    except ModelSourceError as exc:
        QMessageBox.warning(window, "Compare with", str(exc))
    finally:
        QApplication.restoreOverrideCursor()
