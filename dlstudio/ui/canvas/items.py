"""Canvas items: nodes with ports, curved wires with shape labels, and blocks (groups).

Items only draw what the scene tells them; they never edit the graph. Node painting is cached
(DeviceCoordinateCache), so panning repaints pixmaps, not text; ports are drawn by their node (a port item
only hit-tests, and paints while a wire is dragged over it). Below the readable zoom (the scene's `detail` is
"box") a node is a coloured rectangle, a wire a straight segment without its label, and ports are not aimed at.
Paths, pens and brushes are made once (per height or theme), not per paint.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QPointF, QRectF, Qt
from PySide6.QtGui import QBrush, QColor, QFont, QFontMetricsF, QPainter, QPainterPath, QPainterPathStroker, QPen
from PySide6.QtWidgets import QGraphicsItem, QGraphicsObject, QStyleOptionGraphicsItem, QWidget

from ..theme import LIGHT, Theme, category_colour

if TYPE_CHECKING:
    from ...core.graph import Edge

NODE_W = 200.0
HEADER_H = 24.0
LINE_H = 16.0
PORT_R = 6.0
PORT_GAP = 20.0


def _font(size: float, bold: bool = False) -> QFont:
    f = QFont()
    f.setPointSizeF(size)
    f.setBold(bold)
    return f


FONT_TITLE = _font(9.5, True)
FONT_BODY = _font(8.5)
FONT_SMALL = _font(7.5)
FM_TITLE = QFontMetricsF(FONT_TITLE)
FM_BODY = QFontMetricsF(FONT_BODY)
FM_SMALL = QFontMetricsF(FONT_SMALL)
WHITE = QColor("#ffffff")
WHITE_DIM = QColor(255, 255, 255, 200)
_CARDS: dict[float, tuple[QPainterPath, QPainterPath]] = {}
_PAINT: dict[str, dict[str, Any]] = {}


def card_paths(height: float) -> tuple[QPainterPath, QPainterPath]:
    """The card outline and its header shape for a card of `height`, made once per height."""
    paths = _CARDS.get(height)
    if paths is None:
        body = QPainterPath()
        body.addRoundedRect(QRectF(0, 0, NODE_W, height), 7, 7)
        header = QPainterPath()
        header.addRoundedRect(QRectF(0, 0, NODE_W, HEADER_H + 6), 7, 7)
        paths = _CARDS[height] = (body, header)
    return paths


def paint_kit(theme: Theme) -> dict[str, Any]:
    """Pens, brushes and colours of one theme, made once."""
    kit = _PAINT.get(theme.name)
    if kit is None:
        kit = _PAINT[theme.name] = {
            "node": QColor(theme.node),
            "text": QColor(theme.node_text),
            "subtext": QColor(theme.node_subtext),
            "selected": QPen(QColor(theme.selection), 2.6),
            "error": QPen(QColor(theme.error), 2.4),
            "warning": QPen(QColor(theme.warning), 2.2),
            "outline": QPen(QColor(theme.wire).darker(110), 1.0),
            "box_selected": QPen(QColor(theme.selection), 8),
            "box_error": QPen(QColor(theme.error), 8),
            "box_warning": QPen(QColor(theme.warning), 8),
            "error_fill": QColor(theme.error),
            "warning_fill": QColor(theme.warning),
            "port": QPen(QColor(theme.wire), 1.6),
            "wire": QPen(QColor(theme.wire), 1.8),
            "wire_bad": QPen(QColor(theme.error), 1.8),
            "wire_selected": QPen(QColor(theme.selection), 2.4),
            "wire_label": QColor(theme.wire_label),
            "canvas": QBrush(QColor(theme.canvas)),
        }
    return kit


def scene_detail(item: QGraphicsItem) -> str:
    """The scene's level of detail: "full", or "box" below the readable zoom."""
    scene = item.scene()
    return getattr(scene, "detail", "full") if scene is not None else "full"


def _fit_title(title: str, room: float) -> str:
    """A card title fitted to `room`. A dotted path too long for it (an imported module's 'layer2.0.downsample.0')
    drops whole leading parts first ('\u2026downsample.0'): its end is what tells sibling blocks and layers apart."""
    if FM_TITLE.horizontalAdvance(title) <= room:
        return title
    parts = title.split(".")
    for i in range(1, len(parts)):
        tail = "\u2026" + ".".join(parts[i:])
        if FM_TITLE.horizontalAdvance(tail) <= room:
            return tail
    mode = Qt.TextElideMode.ElideMiddle if len(parts) > 1 else Qt.TextElideMode.ElideRight
    return FM_TITLE.elidedText(title, mode, room)


class PortItem(QGraphicsItem):
    """A connection point. Gestures find it under the mouse; it does not act on its own."""

    def __init__(self, parent: NodeItem | BlockItem, name: str, is_output: bool, dtype: str, many: bool) -> None:
        super().__init__(parent)
        self.name = name
        self.is_output = is_output
        self.dtype = dtype
        self.many = many
        self._highlight: str | None = None  # "ok" / "bad" while a wire is dragged over it
        self.setAcceptHoverEvents(True)
        self.setZValue(2)
        self.setCursor(Qt.CursorShape.CrossCursor)
        self.setFlag(QGraphicsItem.GraphicsItemFlag.ItemHasNoContents)  # its node draws it

    @property
    def highlight(self) -> str | None:
        return self._highlight

    @highlight.setter
    def highlight(self, value: str | None) -> None:
        self._highlight = value
        self.setFlag(QGraphicsItem.GraphicsItemFlag.ItemHasNoContents, value is None)

    @property
    def node_id(self) -> str:
        return self.parentItem().key  # type: ignore[union-attr]

    def boundingRect(self) -> QRectF:  # noqa: N802
        r = PORT_R + 3
        return QRectF(-r, -r, 2 * r, 2 * r)

    def shape(self) -> QPainterPath:
        p = QPainterPath()
        p.addEllipse(self.boundingRect())
        return p

    def paint(self, painter: QPainter, option: QStyleOptionGraphicsItem, widget: QWidget | None = None) -> None:
        if self._highlight is None:
            return
        theme: Theme = getattr(self.scene(), "theme", LIGHT)
        fill = QColor("#3fb27f") if self._highlight == "ok" else QColor(theme.error)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        draw_port(painter, QPointF(0, 0), self.many, paint_kit(theme)["port"], fill)


def draw_port(painter: QPainter, at: QPointF, many: bool, pen: QPen, fill: QColor) -> None:
    painter.setPen(pen)
    painter.setBrush(fill)
    if many:
        painter.drawRoundedRect(QRectF(at.x() - PORT_R * 0.8, at.y() - PORT_R * 1.3, PORT_R * 1.6, PORT_R * 2.6), 3, 3)
    else:
        painter.drawEllipse(at, PORT_R * 0.85, PORT_R * 0.85)


class NodeItem(QGraphicsObject):
    """One layer: category band, label, key parameters, output shape, parameter count, ports."""

    def __init__(self, node_id: str, category: str, inputs: list[Any], outputs: list[Any]) -> None:
        super().__init__()
        self.key = node_id
        self.category = category
        self.label = node_id
        self.type_name = ""
        self.lines: list[str] = []
        self.severity: str | None = None
        self.frozen = False
        self.in_ports: dict[str, PortItem] = {}
        self.out_ports: dict[str, PortItem] = {}
        self._height = 0.0
        self.paint_count = 0  # paints so far (tests check that off-screen items are not painted)
        self.last_detail: str | None = None  # the detail level of the last paint
        self.setFlags(
            QGraphicsItem.GraphicsItemFlag.ItemIsMovable
            | QGraphicsItem.GraphicsItemFlag.ItemIsSelectable
            | QGraphicsItem.GraphicsItemFlag.ItemSendsGeometryChanges
        )
        self.setCacheMode(QGraphicsItem.CacheMode.DeviceCoordinateCache)
        self.setZValue(1)
        self.set_ports(inputs, outputs)

    def set_ports(self, inputs: list[Any], outputs: list[Any]) -> None:
        for p in list(self.in_ports.values()) + list(self.out_ports.values()):
            p.setParentItem(None)
            if p.scene() is not None:
                p.scene().removeItem(p)
        self.in_ports = {p.name: PortItem(self, p.name, False, p.dtype, p.many) for p in inputs}
        self.out_ports = {p.name: PortItem(self, p.name, True, p.dtype, False) for p in outputs}
        n = max(len(inputs), len(outputs), 1)
        self.prepareGeometryChange()
        self._height = max(HEADER_H + 3 * LINE_H + 10, HEADER_H + 14 + n * PORT_GAP)
        for i, p in enumerate(self.in_ports.values()):
            p.setPos(0, HEADER_H + 16 + i * PORT_GAP)
        for i, p in enumerate(self.out_ports.values()):
            p.setPos(NODE_W, HEADER_H + 16 + i * PORT_GAP)

    def set_info(
        self, label: str, type_name: str, lines: list[str], severity: str | None, tooltip: str, frozen: bool = False
    ) -> None:
        if (label, type_name, lines, severity, frozen) != (
            self.label,
            self.type_name,
            self.lines,
            self.severity,
            self.frozen,
        ):
            self.label, self.type_name, self.lines, self.severity, self.frozen = (
                label,
                type_name,
                lines,
                severity,
                frozen,
            )
            self._texts: tuple[Any, ...] | None = None  # elided texts, remade on the next paint
            self.update()
        self.setToolTip(tooltip)

    def detail_level(self) -> str:
        """How this item draws now: "full" (text, ports, curves) or "box" (a coloured rectangle)."""
        return scene_detail(self)

    def _elided(self) -> tuple[Any, ...]:
        """The header and body texts fitted to the card, made when the texts change, not per paint."""
        texts = getattr(self, "_texts", None)
        if texts is None:
            title = ("\u2744 " if self.frozen else "") + self.label
            type_w = 0.0
            type_text = ""
            if self.type_name and self.type_name.lower() != self.label.lower():
                type_w = min(FM_SMALL.horizontalAdvance(self.type_name) + 8, NODE_W * 0.45)
                type_text = FM_SMALL.elidedText(self.type_name, Qt.TextElideMode.ElideRight, type_w)
            room = NODE_W - 16 - type_w - (18 if self.severity else 0)
            title = _fit_title(title, room)
            body = [FM_BODY.elidedText(line, Qt.TextElideMode.ElideRight, NODE_W - 24) for line in self.lines[:4]]
            right = NODE_W - (26 if self.severity else 8)
            texts = self._texts = (
                title,
                QRectF(8, 0, room, HEADER_H),
                type_text,
                QRectF(right - type_w, 0, type_w, HEADER_H),
                [(t, QRectF(12, HEADER_H + 4 + i * LINE_H, NODE_W - 24, LINE_H)) for i, t in enumerate(body)],
            )
        return texts

    def port_anchor(self, port: str, is_output: bool) -> QPointF:
        ports = self.out_ports if is_output else self.in_ports
        item = ports.get(port)
        if item is None:
            return self.mapToScene(QPointF(NODE_W if is_output else 0.0, HEADER_H / 2))
        return item.scenePos()

    def boundingRect(self) -> QRectF:  # noqa: N802
        return QRectF(-8, -4, NODE_W + 16, self._height + 8)  # the ports stick out of the card

    def paint(self, painter: QPainter, option: QStyleOptionGraphicsItem, widget: QWidget | None = None) -> None:
        self.paint_count += 1
        theme: Theme = getattr(self.scene(), "theme", LIGHT)
        kit = paint_kit(theme)
        colour = category_colour(self.category)
        detail = self.last_detail = scene_detail(self)
        if detail == "box":
            # zoomed out: text would be unreadable, a coloured box keeps big graphs fast to draw
            rect = QRectF(0, 0, NODE_W, self._height)
            painter.fillRect(rect, colour)
            if self.severity or self.isSelected():
                key = (
                    "box_selected" if self.isSelected() else "box_error" if self.severity == "error" else "box_warning"
                )
                painter.setPen(kit[key])
                painter.setBrush(Qt.BrushStyle.NoBrush)
                painter.drawRect(rect)
            return
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        if self.isSelected():
            outline = kit["selected"]
        elif self.severity in ("error", "warning"):
            outline = kit[self.severity]
        else:
            outline = kit["outline"]
        body, header = card_paths(self._height)
        painter.fillPath(body, kit["node"])
        painter.save()
        painter.setClipRect(QRectF(0, 0, NODE_W, HEADER_H))
        painter.fillPath(header, colour)
        painter.restore()
        painter.setPen(outline)
        painter.setBrush(Qt.BrushStyle.NoBrush)
        painter.drawPath(body)
        title, title_rect, type_text, type_rect, body_lines = self._elided()
        if type_text:
            painter.setFont(FONT_SMALL)
            painter.setPen(WHITE_DIM)
            painter.drawText(type_rect, Qt.AlignmentFlag.AlignVCenter | Qt.AlignmentFlag.AlignRight, type_text)
        painter.setPen(WHITE)
        painter.setFont(FONT_TITLE)
        painter.drawText(title_rect, Qt.AlignmentFlag.AlignVCenter, title)
        painter.setFont(FONT_BODY)
        for i, (line, r) in enumerate(body_lines):
            painter.setPen(kit["text"] if i == 0 else kit["subtext"])
            painter.drawText(r, Qt.AlignmentFlag.AlignVCenter, line)
        # port names when a node has several ports on one side
        painter.setFont(FONT_SMALL)
        painter.setPen(kit["subtext"])
        for side, ports in ((0, self.in_ports), (1, self.out_ports)):
            if len(ports) > 1:
                for p in ports.values():
                    r = QRectF(10, p.y() - 7, NODE_W - 20, 14)
                    painter.drawText(
                        r,
                        (Qt.AlignmentFlag.AlignRight if side else Qt.AlignmentFlag.AlignLeft)
                        | Qt.AlignmentFlag.AlignBottom,
                        p.name,
                    )
        for ports in (self.in_ports, self.out_ports):
            for p in ports.values():
                if p.isVisible():
                    draw_port(painter, p.pos(), p.many, kit["port"], kit["node"])
        if self.severity:
            painter.setPen(Qt.PenStyle.NoPen)
            painter.setBrush(kit["error_fill"] if self.severity == "error" else kit["warning_fill"])
            painter.drawEllipse(QPointF(NODE_W - 13, HEADER_H / 2), 8, 8)
            painter.setPen(WHITE)
            painter.setFont(FONT_TITLE)
            painter.drawText(QRectF(NODE_W - 21, HEADER_H / 2 - 8, 16, 16), Qt.AlignmentFlag.AlignCenter, "!")

    def itemChange(self, change: QGraphicsItem.GraphicsItemChange, value: Any) -> Any:  # noqa: N802
        scene = self.scene()
        if change == QGraphicsItem.GraphicsItemChange.ItemPositionChange and scene is not None:
            return scene.snap(value)  # type: ignore[attr-defined]
        if change == QGraphicsItem.GraphicsItemChange.ItemPositionHasChanged and scene is not None:
            scene.item_moved(self)  # type: ignore[attr-defined]
        return super().itemChange(change, value)


class BlockItem(NodeItem):
    """A group. Collapsed: a node-like box with the block's boundary ports and totals. Expanded: a frame
    behind its members with the block's name."""

    def __init__(self, group_id: str) -> None:
        super().__init__(group_id, "Blocks", [], [])
        self.collapsed = True
        self.frame = QRectF()
        self.depth = 0  # nesting below the level shown (an expanded frame draws above the frames around it)
        self.anchor_ports: dict[tuple[str, str, bool], str] = {}  # (node, port, is_output) -> block port name

    def set_boundary(self, n_inputs: int, inputs: list[tuple[str, str, int]], outputs: list[tuple[str, str]]) -> None:
        """Ports for the wires that cross the block's boundary. `inputs`: (member, member port, block input
        index); `outputs`: (member, member port), one block output each."""

        class P:
            def __init__(self, name: str) -> None:
                self.name, self.dtype, self.many = name, "any", False

        ins = [P(f"in{i + 1}") for i in range(n_inputs)]
        outs = [P(f"out{i + 1}") for i in range(len(outputs))]
        self.anchor_ports = {}
        for n, p, i in inputs:
            self.anchor_ports[(n, p, False)] = ins[i].name
        for (n, p), port in zip(outputs, outs):
            self.anchor_ports[(n, p, True)] = port.name
        if ([p.name for p in ins], [p.name for p in outs]) != (list(self.in_ports), list(self.out_ports)):
            self.set_ports(ins, outs)  # type: ignore[arg-type]

    def set_collapsed(self, collapsed: bool, frame: QRectF | None = None, depth: int = 0) -> None:
        for p in list(self.in_ports.values()) + list(self.out_ports.values()):
            if p.isVisible() != collapsed:
                p.setVisible(collapsed)
        if collapsed == self.collapsed and (frame is None or frame == self.frame) and depth == self.depth:
            return  # unchanged: a geometry change costs the scene index work
        self.prepareGeometryChange()
        self.collapsed = collapsed
        self.depth = depth
        if frame is not None:
            self.frame = frame
        self.setZValue(1 if collapsed else -1 + 0.05 * min(depth, 19))
        self.setFlag(QGraphicsItem.GraphicsItemFlag.ItemIsMovable, collapsed)
        self.update()

    def boundingRect(self) -> QRectF:  # noqa: N802
        if self.collapsed:
            return super().boundingRect()
        return self.frame.adjusted(-4, -4, 4, 4)

    def shape(self) -> QPainterPath:
        p = QPainterPath()
        if self.collapsed:
            p.addRect(super().boundingRect())
        else:  # only the title strip is clickable, so members stay reachable
            p.addRect(QRectF(self.frame.left(), self.frame.top(), self.frame.width(), HEADER_H))
        return p

    def paint(self, painter: QPainter, option: QStyleOptionGraphicsItem, widget: QWidget | None = None) -> None:
        if self.collapsed:
            super().paint(painter, option, widget)
            return
        theme: Theme = getattr(self.scene(), "theme", LIGHT)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        pen = QPen(
            QColor(theme.selection) if self.isSelected() else category_colour("Blocks"), 1.6, Qt.PenStyle.DashLine
        )
        painter.setPen(pen)
        painter.setBrush(QColor(theme.block))
        painter.drawRoundedRect(self.frame, 10, 10)
        painter.setPen(QColor(theme.node_text))
        painter.setFont(FONT_TITLE)
        painter.drawText(
            QRectF(self.frame.left() + 10, self.frame.top(), self.frame.width() - 20, HEADER_H),
            Qt.AlignmentFlag.AlignVCenter,
            f"\u25be {self.label}   " + (self.lines[1] if len(self.lines) > 1 else ""),
        )

    def itemChange(self, change: QGraphicsItem.GraphicsItemChange, value: Any) -> Any:  # noqa: N802
        if not getattr(self, "collapsed", True):  # an expanded frame follows its members; no snapping
            return QGraphicsObject.itemChange(self, change, value)
        return super().itemChange(change, value)


class EdgeItem(QGraphicsItem):
    """A wire: a cubic curve from an output port to an input port, its tensor shape written at the middle.
    Geometry is computed once per change and cached (boundingRect/shape are called very often)."""

    def __init__(self, edge: Edge) -> None:
        super().__init__()
        self.edge = edge
        self.text = ""
        self.bad = False
        self._mid = QPointF()
        self._path = QPainterPath()
        self._shape: QPainterPath | None = None
        self._rect = QRectF()
        self._label = QRectF()
        self._a, self._b = QPointF(), QPointF()
        self.paint_count = 0
        self.setFlag(QGraphicsItem.GraphicsItemFlag.ItemIsSelectable)
        self.setZValue(0)

    def path(self) -> QPainterPath:
        return self._path

    def set_ends(self, a: QPointF, b: QPointF) -> None:
        if a == self._a and b == self._b and not self._path.isEmpty():
            return  # unchanged: a geometry change costs the scene index work
        span = b.x() - a.x()
        path = QPainterPath(a)
        if span > 1.8 * NODE_W and abs(b.y() - a.y()) < HEADER_H:
            # a long wire along a row (a skip connection) would hide behind the layers it skips: bow it above
            lift = min(170.0, 70.0 + span * 0.04)
            path.cubicTo(QPointF(a.x() + 90, a.y() - lift * 1.33), QPointF(b.x() - 90, b.y() - lift * 1.33), b)
        else:
            dx = max(40.0, abs(span) * 0.5)
            path.cubicTo(QPointF(a.x() + dx, a.y()), QPointF(b.x() - dx, b.y()), b)
        self.prepareGeometryChange()
        self._path = path
        self._a, self._b = QPointF(a), QPointF(b)
        self._mid = path.pointAtPercent(0.5)
        self._shape = None  # the hit-test outline is built on first use
        self._update_rect()

    def set_text(self, text: str, bad: bool) -> None:
        if (text, bad) != (self.text, self.bad):
            self.prepareGeometryChange()
            self.text, self.bad = text, bad
            self._update_rect()
            self.update()

    def _label_rect(self) -> QRectF:
        if not self.text:
            return QRectF()
        w = FM_SMALL.horizontalAdvance(self.text) + 10
        return QRectF(self._mid.x() - w / 2, self._mid.y() - 8, w, 16)

    def _update_rect(self) -> None:
        self._label = self._label_rect()
        self._rect = self._path.boundingRect().adjusted(-6, -6, 6, 6).united(self._label)

    def boundingRect(self) -> QRectF:  # noqa: N802
        return self._rect

    def shape(self) -> QPainterPath:
        if self._shape is None:
            stroker = QPainterPathStroker()
            stroker.setWidth(10)
            self._shape = stroker.createStroke(self._path)
        return self._shape

    def detail_level(self) -> str:
        return scene_detail(self)

    def paint(self, painter: QPainter, option: QStyleOptionGraphicsItem, widget: QWidget | None = None) -> None:
        self.paint_count += 1
        kit = paint_kit(getattr(self.scene(), "theme", LIGHT))
        pen = kit["wire_selected"] if self.isSelected() else kit["wire_bad"] if self.bad else kit["wire"]
        if scene_detail(self) == "box":  # zoomed out: a straight segment, no label
            painter.setPen(pen)
            painter.drawLine(self._a, self._b)
            return
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        painter.setPen(pen)
        painter.setBrush(Qt.BrushStyle.NoBrush)
        painter.drawPath(self._path)
        if self.text:
            painter.setPen(Qt.PenStyle.NoPen)
            painter.setBrush(kit["canvas"])
            painter.drawRoundedRect(self._label, 4, 4)
            painter.setPen(kit["wire_label"])
            painter.setFont(FONT_SMALL)
            painter.drawText(self._label, Qt.AlignmentFlag.AlignCenter, self.text)
