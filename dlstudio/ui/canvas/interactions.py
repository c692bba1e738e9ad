"""Gestures as small state objects: each collects mouse input and ends by sending intent to the controller."""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtCore import QPointF
from PySide6.QtGui import QColor, QPainterPath, QPen
from PySide6.QtWidgets import QGraphicsPathItem

from .items import PortItem

if TYPE_CHECKING:
    from ...core.graph import Edge
    from .scene import GraphScene


class WireGesture:
    """Drag from a port to another port: a live curve, the target port lit green (allowed) or red (refused).

    Started on an input that already has a wire, it picks that wire up: drop it on another input to
    re-route it, or on empty canvas to delete it."""

    def __init__(self, scene: GraphScene, start: PortItem, detached: Edge | None = None) -> None:
        self.scene = scene
        self.start = start
        self.detached = detached
        self.origin: PortItem | None = None  # the input the detached wire came from
        if detached is not None:
            scene.edges[detached].setVisible(False)
            self.origin = scene.nodes[detached.dst].in_ports.get(detached.dst_port)
        self.hover: PortItem | None = None
        self.line = QGraphicsPathItem()
        self.line.setPen(QPen(QColor(scene.theme.selection), 2.0))
        self.line.setZValue(10)
        scene.addItem(self.line)
        self._draw(start.scenePos())

    def _ends(self, other: PortItem) -> tuple[str, str, str, str] | None:
        a, b = self.start, other
        if a.is_output == b.is_output:
            return None
        if not a.is_output:
            a, b = b, a
        return a.node_id, a.name, b.node_id, b.name

    def reason_for(self, other: PortItem) -> str | None:
        if other is self.origin:
            return None  # dropping a picked-up wire back where it was
        ends = self._ends(other)
        if ends is None:
            return "Wires go from an output (right side) to an input (left side)"
        return self.scene.controller.check_connection(*ends)

    def _draw(self, pos: QPointF) -> None:
        a = self.start.scenePos()
        a, b = (a, pos) if self.start.is_output else (pos, a)
        dx = max(40.0, abs(b.x() - a.x()) * 0.5)
        path = QPainterPath(a)
        path.cubicTo(QPointF(a.x() + dx, a.y()), QPointF(b.x() - dx, b.y()), b)
        self.line.setPath(path)

    def move(self, pos: QPointF) -> str | None:
        """Returns the refusal reason for the port under the mouse, if any."""
        self._draw(pos)
        port = self.scene.port_at(pos)
        if port is self.start:
            port = None
        if self.hover is not None and self.hover is not port:
            self.hover.highlight = None
            self.hover.update()
        self.hover = port
        if port is None:
            return None
        reason = self.reason_for(port)
        port.highlight = "bad" if reason else "ok"
        port.update()
        return reason

    def cancel(self) -> None:
        self.scene.removeItem(self.line)
        if self.hover is not None:
            self.hover.highlight = None
            self.hover.update()
        if self.detached is not None and self.detached in self.scene.edges:
            self.scene.edges[self.detached].setVisible(True)

    def finish(self, pos: QPointF) -> str | None:
        """Connects when allowed; returns the reason when refused (None also when dropped on empty canvas)."""
        self.cancel()
        port = self.scene.port_at(pos)
        ctl = self.scene.controller
        if self.detached is not None:
            if port is None:
                ctl.remove([], [self.detached])  # dragged off into the void: delete the wire
                return None
            if port is self.origin or port is self.start:
                return None
            reason = self.reason_for(port)
            if reason:
                return reason
            ends = self._ends(port)
            assert ends is not None
            ctl.reconnect(self.detached, *ends)
            return None
        if port is None or port is self.start:
            return None
        reason = self.reason_for(port)
        if reason:
            return reason
        ends = self._ends(port)
        assert ends is not None
        ctl.connect(*ends)
        return None
