"""What a large graph draws below the readable zoom: one item that paints every visible unit (a node, or a
collapsed block) as a coloured rectangle and every wire as a straight segment, from lists prepared once per
edit and bucketed in a coarse grid, so a frame costs a few drawRects/drawLines calls for the cells on screen
instead of one Python paint call per item. The same grid answers "which unit is here" (clicks, hover labels)
and "which units are in this rectangle" (the scene creates full items only for those: lazy materialisation).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from PySide6.QtCore import QLineF, QPointF, QRectF, Qt
from PySide6.QtGui import QBrush, QColor, QPainter, QPen
from PySide6.QtWidgets import QGraphicsItem, QStyleOptionGraphicsItem, QWidget

from ..theme import CATEGORY_COLOURS

CELL = 1500.0  # grid cell, scene units: ~5 node columns
HEADER_H = 24.0
LINE_H = 16.0
PORT_GAP = 20.0


def node_height(n_ports: int) -> float:
    """A node card's height for its largest port count on one side (NodeItem.set_ports uses the same rule)."""
    return max(HEADER_H + 3 * LINE_H + 10, HEADER_H + 14 + max(n_ports, 1) * PORT_GAP)


@dataclass(slots=True)
class Unit:
    key: str  # node id or block (group) id
    is_block: bool
    rect: QRectF
    category: str
    label: str


def _cells(rect: QRectF) -> Iterable[tuple[int, int]]:
    x0, x1 = int(rect.left() // CELL), int(rect.right() // CELL)
    y0, y1 = int(rect.top() // CELL), int(rect.bottom() // CELL)
    for cx in range(x0, x1 + 1):
        for cy in range(y0, y1 + 1):
            yield cx, cy


def _span(left: float, top: float, right: float, bottom: float) -> list[tuple[int, int]]:
    x0, x1 = int(left // CELL), int(right // CELL)
    y0, y1 = int(top // CELL), int(bottom // CELL)
    if x0 == x1 and y0 == y1:
        return [(x0, y0)]
    return [(cx, cy) for cx in range(x0, x1 + 1) for cy in range(y0, y1 + 1)]


class UnitIndex:
    """Units and wires of what is shown, bucketed per grid cell and per colour (built after each structural
    edit: kept to plain loops, ~10 us a unit)."""

    def __init__(self, units: list[Unit], wires: list[tuple[object, float, float, float, float]]) -> None:
        self.by_key: dict[str, Unit] = {}
        self.version = 0  # bumped by each incremental change (the minimap redraws when it moves)
        self._unit_cells: dict[tuple[int, int], list[Unit]] = {}
        self._unit_span: dict[str, list[tuple[int, int]]] = {}
        self._rects: dict[tuple[int, int], dict[str, list[QRectF]]] = {}
        self._lines: dict[tuple[int, int], list[QLineF]] = {}
        self._wires: dict[object, tuple[QLineF, list[tuple[int, int]]]] = {}
        self.bounds = QRectF()
        inf = float("inf")
        lo_x = lo_y = inf
        hi_x = hi_y = -inf
        for u in units:
            left, top, w, h = u.rect.getRect()
            lo_x, lo_y = min(lo_x, left), min(lo_y, top)
            hi_x, hi_y = max(hi_x, left + w), max(hi_y, top + h)
            self._put(u, left, top, left + w, top + h)
        if units:
            self.bounds = QRectF(lo_x, lo_y, hi_x - lo_x, hi_y - lo_y)
        for key, x1, y1, x2, y2 in wires:
            self.add_wire(key, x1, y1, x2, y2)
        self.version = 0

    @property
    def units(self) -> list[Unit]:
        return list(self.by_key.values())

    def _put(self, u: Unit, left: float, top: float, right: float, bottom: float) -> None:
        unit_cells, rect_cells = self._unit_cells, self._rects
        span = _span(left, top, right, bottom)
        self.by_key[u.key] = u
        self._unit_span[u.key] = span
        for c in span:
            cell = unit_cells.get(c)
            if cell is None:
                cell = unit_cells[c] = []
                rect_cells[c] = {}
            cell.append(u)
            per_cat = rect_cells[c]
            rects = per_cat.get(u.category)
            if rects is None:
                rects = per_cat[u.category] = []
            rects.append(u.rect)

    # incremental changes: a node or wire added or removed outside any block needs no rebuild
    def add_unit(self, u: Unit) -> None:
        self.remove_unit(u.key)
        left, top, w, h = u.rect.getRect()
        self._put(u, left, top, left + w, top + h)
        self.bounds = self.bounds.united(u.rect) if not self.bounds.isNull() else QRectF(u.rect)
        self.version += 1

    def remove_unit(self, key: str) -> None:
        u = self.by_key.pop(key, None)
        if u is None:
            return
        for c in self._unit_span.pop(key, ()):
            cell = self._unit_cells.get(c)
            if cell is not None and u in cell:
                cell.remove(u)
            rects = self._rects.get(c, {}).get(u.category)
            if rects is not None and u.rect in rects:
                rects.remove(u.rect)  # an equal rectangle of another unit draws the same
        self.version += 1  # the bounds may stay a little large until the next rebuild: harmless

    def add_wire(self, key: object, x1: float, y1: float, x2: float, y2: float) -> None:
        self.remove_wire(key)
        line = QLineF(x1, y1, x2, y2)
        span = _span(min(x1, x2), min(y1, y2), max(x1, x2), max(y1, y2))
        self._wires[key] = (line, span)
        lines = self._lines
        for c in span:
            bucket = lines.get(c)
            if bucket is None:
                bucket = lines[c] = []
            bucket.append(line)
        self.version += 1

    def remove_wire(self, key: object) -> None:
        entry = self._wires.pop(key, None)
        if entry is None:
            return
        line, span = entry
        for c in span:
            bucket = self._lines.get(c)
            if bucket is not None and line in bucket:
                bucket.remove(line)
        self.version += 1

    def in_rect(self, rect: QRectF) -> list[Unit]:
        seen: set[str] = set()
        out: list[Unit] = []
        for c in _cells(rect):
            for u in self._unit_cells.get(c, ()):
                if u.key not in seen and u.rect.intersects(rect):
                    seen.add(u.key)
                    out.append(u)
        return out

    def at(self, pos: QPointF) -> Unit | None:
        cell = (int(pos.x() // CELL), int(pos.y() // CELL))
        for u in self._unit_cells.get(cell, ()):
            if u.rect.contains(pos):
                return u
        return None


class OverviewItem(QGraphicsItem):
    """Paints the index's cells that intersect the exposed area; counts what it drew (tests check culling)."""

    def __init__(self) -> None:
        super().__init__()
        self.index = UnitIndex([], [])
        self.selected: list[QRectF] = []
        self.drawn_rects = 0  # rectangles drawn by the last paint
        self.paints = 0
        self.setFlag(QGraphicsItem.GraphicsItemFlag.ItemUsesExtendedStyleOption)
        self.setZValue(-5)
        self.setAcceptedMouseButtons(Qt.MouseButton.NoButton)
        self._brushes = {cat: QBrush(QColor(c)) for cat, c in CATEGORY_COLOURS.items()}
        self._fallback = QBrush(QColor("#888888"))
        self._wire_pen = QPen(QColor("#7d8598"), 0)
        self._sel_pen = QPen(QColor("#2f7cf6"), 0)
        self._sel_pen.setWidthF(3.0)
        self._sel_pen.setCosmetic(True)

    def set_index(self, index: UnitIndex, wire_colour: str, selection_colour: str) -> None:
        self.prepareGeometryChange()
        self.index = index
        self._wire_pen.setColor(QColor(wire_colour))
        self._sel_pen.setColor(QColor(selection_colour))
        self.update()

    def boundingRect(self) -> QRectF:  # noqa: N802
        return self.index.bounds.adjusted(-10, -10, 10, 10)

    def paint(self, painter: QPainter, option: QStyleOptionGraphicsItem, widget: QWidget | None = None) -> None:
        self.paints += 1
        exposed = option.exposedRect  # type: ignore[attr-defined]
        painter.setRenderHint(QPainter.RenderHint.Antialiasing, False)
        painter.setPen(self._wire_pen)
        idx = self.index
        drawn = 0
        cells = list(_cells(exposed))
        for c in cells:
            lines = idx._lines.get(c)
            if lines:
                painter.drawLines(lines)
        painter.setPen(Qt.PenStyle.NoPen)
        for c in cells:
            per_cat = idx._rects.get(c)
            if not per_cat:
                continue
            for cat, rects in per_cat.items():
                painter.setBrush(self._brushes.get(cat, self._fallback))
                painter.drawRects(rects)
                drawn += len(rects)
        if self.selected:
            painter.setPen(self._sel_pen)
            painter.setBrush(Qt.BrushStyle.NoBrush)
            painter.drawRects(self.selected)
        self.drawn_rects = drawn


__all__ = ["CELL", "OverviewItem", "Unit", "UnitIndex", "node_height"]
