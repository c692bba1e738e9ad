"""The scene's input side: snapping and moves (a drag ends as one Move), wiring gestures from ports, clicks,
double-clicks (enter a block, rename a layer), Escape during a wire gesture, and the background grid. Mixed into
GraphScene (self is the scene); it turns gestures into intent for the controller, never edits the graph."""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import QPointF, QRectF, Qt
from PySide6.QtGui import QColor, QKeyEvent, QPainter, QPen, QTransform
from PySide6.QtWidgets import QGraphicsSceneMouseEvent, QToolTip

from ...core.edits import Composite, Move, SetGroup
from ...core.graph import Edge
from .interactions import WireGesture
from .items import BlockItem, EdgeItem, NodeItem, PortItem

GRID = 20.0


def _shift_as_ctrl(event: QGraphicsSceneMouseEvent) -> None:
    """Shift-click adds to the selection like ctrl-click (Qt items only know ctrl)."""
    if event.modifiers() & Qt.KeyboardModifier.ShiftModifier:
        event.setModifiers(event.modifiers() | Qt.KeyboardModifier.ControlModifier)


class SceneInputMixin:
    """Mixed into GraphScene before QGraphicsScene, so its event handlers override Qt's."""

    graph: Any
    controller: Any
    nodes: Any
    blocks: dict[str, Any]
    gesture: WireGesture | None
    grid_snap: bool
    show_grid: bool
    theme: Any
    _syncing: bool
    _pending_wires: set[str]

    # ---------------------------------------------------------- movement
    def snap(self, value: QPointF) -> QPointF:
        if not self.grid_snap or self._syncing:
            return value
        return QPointF(round(value.x() / GRID) * GRID, round(value.y() / GRID) * GRID)

    def item_moved(self, item: NodeItem) -> None:
        if self._syncing:  # moved by a model change: place each wire once at the end of the edit
            self._pending_wires.add(item.key)
            return
        if isinstance(item, BlockItem):
            for nid in self.graph.group_nodes_deep(item.key):
                self._place_edges_of(nid)
        else:
            self._place_edges_of(item.key)

    def commit_moves(self) -> None:
        """After a drag: positions that differ from the model become one Move (and block moves)."""
        moved: dict[str, tuple[float, float]] = {}
        for nid, item in self.nodes.items():
            if item.isVisible() and item.isSelected():
                p = (item.pos().x(), item.pos().y())
                if p != self.graph.node(nid).position:
                    moved[nid] = p
        for gid, block in self.blocks.items():
            p = (block.pos().x(), block.pos().y())
            old = self.graph.group(gid).position
            if block.collapsed and p != old:
                # everything inside travels with the block, so expanding it shows its contents where it is
                dx, dy = p[0] - old[0], p[1] - old[1]
                graph = self.graph
                members = {
                    n: (graph.node(n).position[0] + dx, graph.node(n).position[1] + dy)
                    for n in graph.group_nodes_deep(gid)
                }
                edits: list[Any] = [SetGroup(gid, "position", p)]
                for inner in graph.group_descendants(gid):
                    q = graph.group(inner).position
                    edits.append(SetGroup(inner, "position", (q[0] + dx, q[1] + dy)))
                if members:
                    edits.append(Move(members))
                self.controller.push(Composite("Move block", edits), mergeable=False)
        if not moved:
            return
        if len(moved) == 1:
            nid = next(iter(moved))
            target = self._edge_under(nid)
            if target is not None:
                self.controller.move(moved)
                self.controller.insert_on_wire(target, node_id=nid)
                return
        self.controller.move(moved)

    def _edge_under(self, node_id: str) -> Edge | None:
        """A wire under a freshly dropped, unwired node (insert-on-wire)."""
        if self.graph.in_edges(node_id) or self.graph.out_edges(node_id):
            return None
        item = self.nodes[node_id]
        centre = item.sceneBoundingRect().center()
        for other in self.items(centre):
            if isinstance(other, EdgeItem) and other.isVisible():
                return other.edge
        return None

    def edge_at(self, pos: QPointF) -> Edge | None:
        for other in self.items(QRectF(pos.x() - 6, pos.y() - 6, 12, 12)):
            if isinstance(other, EdgeItem) and other.isVisible():
                return other.edge
        return None

    # ------------------------------------------------------------ mouse
    def port_at(self, pos: QPointF) -> PortItem | None:
        if self.detail == "box":  # ports are too small to aim at: no wiring from an overview
            return None
        for item in self.items(QRectF(pos.x() - 5, pos.y() - 5, 10, 10)):
            if isinstance(item, PortItem) and item.isVisible() and not isinstance(item.parentItem(), BlockItem):
                return item
        return None

    def mousePressEvent(self, event: QGraphicsSceneMouseEvent) -> None:  # noqa: N802
        if self.overview_click(event):
            return
        if event.button() == Qt.MouseButton.LeftButton:
            port = self.port_at(event.scenePos())
            if port is not None:
                wired = [] if port.is_output or port.many else self.graph.edges_into(port.node_id, port.name)
                if wired and wired[0] in self.edges:  # pick up the existing wire
                    e = wired[0]
                    src = self.nodes[e.src].out_ports.get(e.src_port)
                    if src is not None and src.isVisible():
                        self.gesture = WireGesture(self, src, detached=e)
                        event.accept()
                        return
                self.gesture = WireGesture(self, port)
                event.accept()
                return
        _shift_as_ctrl(event)
        super().mousePressEvent(event)

    def mouseMoveEvent(self, event: QGraphicsSceneMouseEvent) -> None:  # noqa: N802
        if self.gesture is not None:
            reason = self.gesture.move(event.scenePos())
            if reason and event.widget() is not None:
                QToolTip.showText(event.screenPos(), reason, event.widget())
            return
        super().mouseMoveEvent(event)

    def mouseReleaseEvent(self, event: QGraphicsSceneMouseEvent) -> None:  # noqa: N802
        if self.gesture is not None:
            gesture, self.gesture = self.gesture, None
            reason = gesture.finish(event.scenePos())
            if reason:
                self.refused_wire.emit(reason)
                if event.widget() is not None:
                    QToolTip.showText(event.screenPos(), reason, event.widget())
            return
        _shift_as_ctrl(event)
        super().mouseReleaseEvent(event)
        if event.button() == Qt.MouseButton.LeftButton:
            self.commit_moves()

    def keyPressEvent(self, event: QKeyEvent) -> None:  # noqa: N802
        if event.key() == Qt.Key.Key_Escape and self.gesture is not None:
            self.gesture.cancel()
            self.gesture = None
            return
        super().keyPressEvent(event)

    def mouseDoubleClickEvent(self, event: QGraphicsSceneMouseEvent) -> None:  # noqa: N802
        item = self.itemAt(event.scenePos(), QTransform())
        while item is not None and not isinstance(item, (BlockItem, NodeItem)):
            item = item.parentItem()
        if item is None:
            item = self.overview_item_at(event.scenePos())
        if isinstance(item, BlockItem):
            if item.collapsed:
                self.enter_requested.emit(item.key)  # its inside as its own view (the view keeps the trail)
            else:
                self.controller.set_collapsed(item.key, True)
            return
        if isinstance(item, NodeItem):
            self.rename_requested.emit(item.key)
            return
        super().mouseDoubleClickEvent(event)

    def drawBackground(self, painter: QPainter, rect: QRectF) -> None:  # noqa: N802
        super().drawBackground(painter, rect)
        if not self.show_grid:
            return
        scale = painter.transform().m11()
        if scale < 0.35:  # too dense to be useful when zoomed out
            return
        left = int(rect.left() // GRID) * GRID
        top = int(rect.top() // GRID) * GRID
        minor, major = QPen(QColor(self.theme.grid), 0), QPen(QColor(self.theme.grid_major), 0)
        x = left
        while x < rect.right():
            painter.setPen(major if round(x / GRID) % 5 == 0 else minor)
            painter.drawLine(QPointF(x, rect.top()), QPointF(x, rect.bottom()))
            x += GRID
        y = top
        while y < rect.bottom():
            painter.setPen(major if round(y / GRID) % 5 == 0 else minor)
            painter.drawLine(QPointF(rect.left(), y), QPointF(rect.right(), y))
            y += GRID
