"""Draw a graph as a PNG (QPainter on a QImage) or SVG (QSvgGenerator), offscreen, with no display.

Self-contained on purpose: it does not use the canvas scene, so `dlstudio render` works headless and in CI.
Layout: layered left to right (dlstudio.core.layout), inputs on the left, outputs on the right; each wire
is labelled with the tensor shape that flows on it (without the batch dimension); groups get a dashed frame.
"""

from __future__ import annotations

import os
from pathlib import Path

from ..analysis.ports import output_index
from ..analysis.shapes import infer_all, spec_of
from ..core.errors import DlstudioError, UnknownLayerError
from ..core.graph import ModelGraph
from ..core.layout import layers_of

BOX_W, BOX_H = 156.0, 50.0
COL_GAP, ROW_GAP = 92.0, 34.0
MARGIN = 30.0
# Category colours (fill) chosen to stay readable in print
COLOURS = {
    "Input/Output": "#d9ead3",
    "Dense": "#cfe2f3",
    "Convolution": "#fce5cd",
    "Pooling": "#fff2cc",
    "Normalization": "#d9d2e9",
    "Regularization": "#eeeeee",
    "Recurrent": "#f4cccc",
    "Embedding & Attention": "#ead1dc",
    "Activation": "#d0e0e3",
    "Merge": "#e6e6e6",
    "Blocks": "#f9cb9c",
}


class DiagramError(DlstudioError):
    """The diagram cannot be written (unknown format, unwritable path)."""


def _app() -> object:
    """The running Qt application, or a new QApplication for fonts and painting (offscreen unless a platform was
    chosen). A QApplication, not a QGuiApplication: widgets created later in the same process need it."""
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from PySide6.QtWidgets import QApplication

    return QApplication.instance() or QApplication([])


def _positions(graph: ModelGraph) -> tuple[dict[str, tuple[float, float]], float, float]:
    layers = layers_of(graph)
    tallest = max((len(layer) for layer in layers), default=1)
    height = tallest * BOX_H + (tallest - 1) * ROW_GAP
    pos: dict[str, tuple[float, float]] = {}
    for col, layer in enumerate(layers):
        col_h = len(layer) * BOX_H + (len(layer) - 1) * ROW_GAP
        top = MARGIN + 18 + BOX_H + (height - col_h) / 2  # room above for skip-connection arcs
        for row, nid in enumerate(layer):
            pos[nid] = (MARGIN + col * (BOX_W + COL_GAP), top + row * (BOX_H + ROW_GAP))
    width = MARGIN * 2 + len(layers) * BOX_W + max(0, len(layers) - 1) * COL_GAP
    return pos, max(width, 200.0), height + MARGIN * 2 + 36 + BOX_H


def _paint(painter: object, graph: ModelGraph, title: str) -> None:
    from PySide6.QtCore import QPointF, QRectF, Qt
    from PySide6.QtGui import QBrush, QColor, QFont, QPainterPath, QPen

    p = painter
    pos, _, _ = _positions(graph)
    shapes = infer_all(graph)
    p.setRenderHint(p.RenderHint.Antialiasing, True)
    p.setRenderHint(p.RenderHint.TextAntialiasing, True)
    font = QFont("DejaVu Sans", 9)
    small = QFont("DejaVu Sans", 7)
    bold = QFont("DejaVu Sans", 9)
    bold.setBold(True)
    if title:
        p.setFont(bold)
        p.setPen(QColor("#333333"))
        p.drawText(QPointF(MARGIN, MARGIN), title)

    # block frames first, behind everything; outer blocks first, padded by the depth of blocks inside them
    def levels_below(gid: str) -> int:
        return max((1 + levels_below(c) for c in graph.child_groups(gid)), default=0)

    for group in sorted(graph.groups.values(), key=lambda g: len(graph.group_ancestors(g.id))):
        members = [pos[n] for n in graph.group_nodes_deep(group.id) if n in pos]
        if not members:
            continue
        pad = 8.0 * levels_below(group.id)
        x0 = min(x for x, _ in members) - 10 - pad
        y0 = min(y for _, y in members) - 20 - 1.75 * pad
        x1 = max(x for x, _ in members) + BOX_W + 10 + pad
        y1 = max(y for _, y in members) + BOX_H + 10 + pad
        p.setPen(QPen(QColor("#888888"), 1.2, Qt.PenStyle.DashLine))
        p.setBrush(Qt.BrushStyle.NoBrush)
        p.drawRoundedRect(QRectF(x0, y0, x1 - x0, y1 - y0), 8, 8)
        p.setFont(small)
        p.drawText(QPointF(x0 + 6, y0 + 12), group.label)
    # wires with their shapes
    for e in graph.edges():
        if e.src not in pos or e.dst not in pos:
            continue
        sx, sy = pos[e.src]
        dx, dy = pos[e.dst]
        a = QPointF(sx + BOX_W, sy + BOX_H / 2)
        b = QPointF(dx, dy + BOX_H / 2)
        path = QPainterPath(a)
        mid = (a.x() + b.x()) / 2
        if b.x() - a.x() > COL_GAP * 1.5 and abs(b.y() - a.y()) < BOX_H:
            # a skip connection across columns on the same row: arc over the boxes in between
            lift = min(a.y(), b.y()) - BOX_H * 1.1
            path.cubicTo(QPointF(a.x() + COL_GAP, lift), QPointF(b.x() - COL_GAP, lift), b)
        else:
            path.cubicTo(QPointF(mid, a.y()), QPointF(mid, b.y()), b)
        p.setPen(QPen(QColor("#555555"), 1.3))
        p.setBrush(Qt.BrushStyle.NoBrush)
        p.drawPath(path)
        p.setBrush(QBrush(QColor("#555555")))
        p.drawPolygon([b, QPointF(b.x() - 7, b.y() - 3.5), QPointF(b.x() - 7, b.y() + 3.5)])
        outs = shapes.outputs.get(e.src)
        try:
            idx = output_index(graph, spec_of, e)
        except UnknownLayerError:
            idx = -1
        if outs and 0 <= idx < len(outs):
            text = "(" + ", ".join(str(d) for d in outs[idx].features) + ")"
            p.setFont(small)
            p.setPen(QColor("#1f4e79"))
            p.drawText(QRectF(a.x() + 4, a.y() - 15, COL_GAP + 40, 13), Qt.AlignmentFlag.AlignLeft, text)
    # node boxes
    for nid, (x, y) in pos.items():
        node = graph.node(nid)
        try:
            category = spec_of(node).category
        except UnknownLayerError:
            category = ""
        err = nid in shapes.errors
        p.setPen(QPen(QColor("#c00000" if err else "#444444"), 2.0 if err else 1.0))
        p.setBrush(QBrush(QColor(COLOURS.get(category, "#ffffff"))))
        p.drawRoundedRect(QRectF(x, y, BOX_W, BOX_H), 7, 7)
        p.setPen(QColor("#111111"))
        p.setFont(bold)
        p.drawText(QRectF(x + 6, y + 5, BOX_W - 12, 18), Qt.AlignmentFlag.AlignHCenter, node.type)
        p.setFont(font)
        label = p.fontMetrics().elidedText(node.label, Qt.TextElideMode.ElideRight, int(BOX_W - 12))
        p.drawText(QRectF(x + 6, y + 25, BOX_W - 12, 18), Qt.AlignmentFlag.AlignHCenter, label)


def render_file(graph: ModelGraph, path: str | os.PathLike[str], *, scale: float = 2.0, title: str = "") -> Path:
    """Write the diagram to `path`; the suffix (.png or .svg) picks the format."""
    target = Path(path)
    suffix = target.suffix.lower()
    if suffix not in (".png", ".svg"):
        raise DiagramError(f"{target}: use a .png or .svg file name")
    target.parent.mkdir(parents=True, exist_ok=True)
    _app()
    from PySide6.QtCore import QRectF, QSize
    from PySide6.QtGui import QColor, QImage, QPainter

    _, width, height = _positions(graph)
    if suffix == ".svg":
        from PySide6.QtSvg import QSvgGenerator

        gen = QSvgGenerator()
        gen.setFileName(str(target))
        gen.setSize(QSize(int(width), int(height)))
        gen.setViewBox(QRectF(0, 0, width, height))
        gen.setTitle(title or "dlstudio graph")
        painter = QPainter(gen)
        try:
            _paint(painter, graph, title)
        finally:
            painter.end()
    else:
        image = QImage(int(width * scale), int(height * scale), QImage.Format.Format_ARGB32)
        image.fill(QColor("white"))
        painter = QPainter(image)
        try:
            painter.scale(scale, scale)
            _paint(painter, graph, title)
        finally:
            painter.end()
        if not image.save(str(target), "PNG"):
            raise DiagramError(f"{target}: cannot write the PNG (check the folder and permissions)")
    if not target.is_file():
        raise DiagramError(f"{target}: the diagram was not written")
    return target
