"""An entered block's boundary: where its inputs come from and its outputs go. Inside a block the layers outside
it are not drawn, so each tensor that crosses the boundary gets a port marker at the edge of the view (inputs on
the left, outputs on the right, named after the outside layer), and its wires run to that marker, as a
subsystem's In/Out ports do. Mixed into GraphScene (self is the scene)."""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import QPointF, QRectF, Qt
from PySide6.QtGui import QColor, QPainter, QPen
from PySide6.QtWidgets import QGraphicsItem, QStyleOptionGraphicsItem, QWidget

from ..theme import LIGHT, Theme
from .items import FM_SMALL, FONT_SMALL, PORT_R, paint_kit

PORT_W = 170.0
PORT_H = 26.0
PORT_STEP = 46.0
MARGIN = 140.0


class BoundaryPortItem(QGraphicsItem):
    """One tensor crossing the entered block's boundary: a pill with the outside layer's name, and a port dot on
    the side its wire leaves from."""

    def __init__(self, text: str, is_input: bool, tip: str) -> None:
        super().__init__()
        self.text = text
        self.is_input = is_input
        self.setToolTip(tip)
        self.setZValue(1)
        self.setAcceptedMouseButtons(Qt.MouseButton.NoButton)

    def anchor(self) -> QPointF:
        return self.mapToScene(QPointF(PORT_W if self.is_input else 0.0, PORT_H / 2))

    def boundingRect(self) -> QRectF:  # noqa: N802
        return QRectF(-PORT_R - 2, -2, PORT_W + 2 * PORT_R + 4, PORT_H + 4)

    def paint(self, painter: QPainter, option: QStyleOptionGraphicsItem, widget: QWidget | None = None) -> None:
        theme: Theme = getattr(self.scene(), "theme", LIGHT)
        kit = paint_kit(theme)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        painter.setPen(QPen(QColor(theme.wire), 1.2, Qt.PenStyle.DashLine))
        painter.setBrush(kit["node"])
        rect = QRectF(0, 0, PORT_W, PORT_H)
        painter.drawRoundedRect(rect, PORT_H / 2, PORT_H / 2)
        painter.setPen(kit["subtext"])
        painter.setFont(FONT_SMALL)
        text = FM_SMALL.elidedText(self.text, Qt.TextElideMode.ElideMiddle, PORT_W - 24)
        painter.drawText(rect.adjusted(12, 0, -12, 0), Qt.AlignmentFlag.AlignCenter, text)
        painter.setPen(kit["port"])
        painter.setBrush(kit["node"])
        painter.drawEllipse(QPointF(PORT_W if self.is_input else 0.0, PORT_H / 2), PORT_R * 0.85, PORT_R * 0.85)


class BoundaryMixin:
    graph: Any
    entered: str | None
    large: bool

    def init_boundary(self) -> None:
        self.boundary: dict[tuple[str, str, bool], BoundaryPortItem] = {}  # (outside node, port, is_input)

    def boundary_anchor(self, node_id: str, port: str, is_input: bool) -> QPointF | None:
        """Where a wire to a layer outside the entered block ends: its boundary marker, if any."""
        item = self.boundary.get((node_id, port, is_input))
        return item.anchor() if item is not None else None

    def rebuild_boundary(self) -> None:
        """Markers for the entered block's crossing tensors, beside what the level shows (none at the top level
        and for a large model, whose wires are made lazily)."""
        for item in self.boundary.values():
            self.removeItem(item)  # type: ignore[attr-defined]
        self.boundary = {}
        level = self.entered
        if level is None or self.large or level not in self.graph.groups:
            return
        graph = self.graph
        inside = set(graph.group_nodes_deep(level))
        pred, succ = graph.nx._pred, graph.nx._succ
        ins: list[tuple[str, str]] = []
        outs: list[tuple[str, str, str]] = []
        for nid in graph.group_nodes_deep(level):
            for src, keys in pred[nid].items():
                if src not in inside:
                    ins += [(e.src, e.src_port) for e in keys if (e.src, e.src_port) not in ins]
            for dst, keys in succ[nid].items():
                if dst not in inside:
                    outs += [(e.dst, e.dst_port, e.src) for e in keys if (e.dst, e.dst_port, e.src) not in outs]
        if not ins and not outs:
            return
        bounds = self.unit_index().bounds  # type: ignore[attr-defined]
        if bounds.isEmpty():
            return

        def column(n: int) -> list[float]:
            top = bounds.center().y() - (n - 1) * PORT_STEP / 2
            return [top + i * PORT_STEP - PORT_H / 2 for i in range(n)]

        for (src, port), y in zip(ins, column(len(ins))):
            label = graph.nodes[src].label
            item = BoundaryPortItem(
                f"{label} \u2192", True, f"Input of this block: from {label}.{port}, outside it (Escape goes up)"
            )
            item.setPos(bounds.left() - MARGIN - PORT_W, y)
            self.addItem(item)  # type: ignore[attr-defined]
            self.boundary[(src, port, True)] = item
        for (dst, port, _src), y in zip(outs, column(len(outs))):
            label = graph.nodes[dst].label
            if (dst, port, False) in self.boundary:
                continue
            item = BoundaryPortItem(f"\u2192 {label}", False, f"Output of this block: to {label}.{port}, outside it")
            item.setPos(bounds.right() + MARGIN, y)
            self.addItem(item)  # type: ignore[attr-defined]
            self.boundary[(dst, port, False)] = item


__all__ = ["BoundaryMixin", "BoundaryPortItem"]
