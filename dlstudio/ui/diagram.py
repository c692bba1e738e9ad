"""Draw a graph as a PNG (QPainter on a QImage) or SVG (QSvgGenerator), offscreen, with no display.

Self-contained on purpose: it does not use the canvas scene, so `dlstudio render` works headless and in CI.
It draws what the studio shows: one level of the graph (the top level, or the inside of one block) laid out
by the studio's own auto-layout (`plan_layout`, wrapped in rows at READING_WIDTH), each block at that level
one card with its totals, the wires into and out of it attached to the card. `expand=True` draws every block
open instead, in nested dashed frames. Each wire is labelled with the tensor shape on it (no batch dimension).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from ..analysis.diagnostics import human_count
from ..core.errors import DlstudioError, UnknownLayerError
from ..core.graph import ModelGraph
from ..core.layout import READING_WIDTH, plan_layout

BOX_W, BOX_H = 200.0, 56.0  # a layer (the layout's cells are 310 x 130: room for the shape on the wire)
CARD_H = 84.0  # a block's card: label, "Block  N layers", parameters
FRAME_SIDE, FRAME_TOP = 14.0, 32.0  # an open block's frame around its contents (the layout leaves 20 / 40)
MARGIN = 30.0
TITLE_H = 26.0
WIRE_ROOM = 80.0  # right of an item a wire leaves: the wire's start and its shape label
STUB = 44.0  # a wire from or to outside the block drawn: this long, ending in the margin
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

Rect = tuple[float, float, float, float]  # x, y, width, height


class DiagramError(DlstudioError):
    """The diagram cannot be written (unknown format, unwritable path, unknown block)."""


def _app() -> object:
    """The running Qt application, or a new QApplication for fonts and painting (offscreen unless a platform was
    chosen). A QApplication, not a QGuiApplication: widgets created later in the same process need it."""
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from PySide6.QtWidgets import QApplication

    return QApplication.instance() or QApplication([])


def find_block(graph: ModelGraph, name: str) -> str:
    """The id of the block labelled (or with the id) `name`; a DiagramError listing the block names if none."""
    for gid, group in graph.groups.items():
        if group.label == name:
            return gid
    if name in graph.groups:
        return name
    names = ", ".join(g.label for g in graph.groups.values()) or "(the project has no blocks)"
    raise DiagramError(f"no block named {name!r}; blocks: {names}")


@dataclass
class _Scene:
    """What one drawing holds, in drawing coordinates: layer boxes, block cards, open-block frames and the
    wires between the drawn items (src item, dst item, shape text)."""

    boxes: dict[str, Rect]
    cards: dict[str, Rect]
    frames: dict[str, Rect]
    wires: list[tuple[str, str, str]]
    card_text: dict[str, tuple[str, str, str]]  # label, "Block  N layers", "P params"
    container: dict[str, str | None]  # item (layer, card or frame) -> the block whose contents it is drawn in
    stubs: list[tuple[str, bool, str]]  # a wire from (False) or to (True) outside the drawn block: item, out, shape
    errors: set[str]  # items with an error (a card: any layer in it)
    width: float = 0.0
    height: float = 0.0


def _scene(graph: ModelGraph, title: str, expand: bool, level: str | None) -> _Scene:
    from ..analysis.engine import AnalysisEngine

    states = {gid: not expand for gid in graph.groups}
    nodes, blocks = plan_layout(graph, collapsed=states, max_width=READING_WIDTH, level=level)
    boxes: dict[str, Rect] = {}
    cards: dict[str, Rect] = {}
    item_of: dict[str, str] = {}
    for nid, (x, y) in nodes.items():
        owner = nid if expand else graph.owner_at(nid, level)
        if owner is None:
            continue
        item_of[nid] = owner
        if owner == nid:
            boxes[nid] = (x, y, BOX_W, BOX_H)
        elif owner not in cards:
            bx, by = blocks[owner]
            cards[owner] = (bx, by, BOX_W, CARD_H)
    frames: dict[str, Rect] = {}
    if expand:
        roots = graph.child_groups(level)

        def frame(gid: str) -> Rect | None:
            rects = [boxes[n] for n in graph.group(gid).node_ids if n in boxes]
            rects += [r for c in graph.child_groups(gid) if (r := frame(c)) is not None]
            if not rects:
                return None
            x0, y0 = min(r[0] for r in rects), min(r[1] for r in rects)
            x1, y1 = max(r[0] + r[2] for r in rects), max(r[1] + r[3] for r in rects)
            frames[gid] = (x0 - FRAME_SIDE, y0 - FRAME_TOP, x1 - x0 + 2 * FRAME_SIDE, y1 - y0 + FRAME_TOP + FRAME_SIDE)
            return frames[gid]

        for gid in roots:
            frame(gid)
    engine = AnalysisEngine(graph)
    try:
        wires: list[tuple[str, str, str]] = []
        stubs: list[tuple[str, bool, str]] = []
        seen: set[tuple[str | None, str | None, str, str]] = set()
        for e in graph.edges():
            a, b = item_of.get(e.src), item_of.get(e.dst)
            if a == b or (a, b, e.src, e.src_port) in seen or (a is None and b is None):
                continue
            seen.add((a, b, e.src, e.src_port))
            t = engine.edge_shape(e)
            text = "(" + ", ".join(str(d) for d in t.features) + ")" if t is not None else ""
            if a is None or b is None:  # crosses the edge of the block drawn (--block)
                stubs.append((b, False, text) if a is None else (a, True, text))  # type: ignore[arg-type]
            else:
                wires.append((a, b, text))
        params = {n: int(getattr(engine.stats(n), "params", 0) or 0) for n in nodes}
        errors = {item_of[n] for n in item_of if any(d.severity == "error" for d in engine.diagnostics_for(n))}
    finally:
        engine.close()
    everything = list(boxes.values()) + list(cards.values()) + list(frames.values())
    if not everything:
        everything = [(0.0, 0.0, BOX_W, BOX_H)]
    x0, y0 = min(r[0] for r in everything), min(r[1] for r in everything)
    dx, dy = (
        MARGIN + (STUB if stubs else 0.0) - x0,
        MARGIN + (TITLE_H if title else 0.0) + 20.0 - y0,
    )  # room above for skip arcs

    def moved(r: Rect) -> Rect:
        return (r[0] + dx, r[1] + dy, r[2], r[3])

    scene = _Scene(
        {k: moved(r) for k, r in boxes.items()},
        {k: moved(r) for k, r in cards.items()},
        {k: moved(r) for k, r in frames.items()},
        wires,
        {gid: _card_text(graph, gid, params) for gid in cards},
        {
            **{n: graph.node(n).group if expand else level for n in boxes},
            **{g: level for g in cards},
            **{g: graph.group(g).parent for g in frames},
        },
        stubs,
        errors,
    )
    all_moved = [moved(r) for r in everything]
    sources = {w[0] for w in wires} | {item for item, out, _ in stubs if out}
    drawn = {**scene.boxes, **scene.cards}
    right = max(r[0] + r[2] + (WIRE_ROOM if k in sources else 0.0) for k, r in drawn.items()) if drawn else 0.0
    scene.width = max(max(r[0] + r[2] for r in all_moved) + MARGIN, right + MARGIN, 240.0)
    scene.height = max(r[1] + r[3] for r in all_moved) + MARGIN
    return scene


def _card_text(graph: ModelGraph, gid: str, params: dict[str, int]) -> tuple[str, str, str]:
    """A block card's lines, as the studio's card words them."""
    deep = graph.group_nodes_deep(gid)
    children = graph.child_groups(gid)
    count = f"Block  {len(deep)} layers" + (
        f" \u00b7 {len(children)} block" + "s" * (len(children) > 1) if children else ""
    )
    return graph.group(gid).label, count, f"{human_count(sum(params.get(n, 0) for n in deep))} params"


def _bands(scene: _Scene, container: str | None) -> list[tuple[float, float]]:
    """The rows of the wrapped layout inside `container` (a block, None: the level drawn): vertical extents of
    the things drawn directly in it that overlap, top to bottom."""
    rects = [
        r
        for k, r in (*scene.boxes.items(), *scene.cards.items(), *scene.frames.items())
        if scene.container.get(k) == container
    ]
    spans = sorted((r[1], r[1] + r[3]) for r in rects)
    out: list[tuple[float, float]] = []
    for top, bottom in spans:
        if out and top <= out[-1][1]:
            out[-1] = (out[-1][0], max(out[-1][1], bottom))
        else:
            out.append((top, bottom))
    return out


def _paint(painter: object, graph: ModelGraph, scene: _Scene, title: str) -> None:
    from PySide6.QtCore import QPointF, QRectF, Qt
    from PySide6.QtGui import QBrush, QColor, QFont, QPainterPath, QPen

    p = painter
    p.setRenderHint(p.RenderHint.Antialiasing, True)
    p.setRenderHint(p.RenderHint.TextAntialiasing, True)
    font = QFont("DejaVu Sans", 9)
    small = QFont("DejaVu Sans", 7)
    bold = QFont("DejaVu Sans", 9)
    bold.setBold(True)
    if title:
        p.setFont(bold)
        p.setPen(QColor("#333333"))
        p.drawText(QPointF(MARGIN, MARGIN + 4), title)

    # open blocks' frames first, behind everything, outer ones first
    for gid in sorted(scene.frames, key=lambda g: len(graph.group_ancestors(g))):
        x, y, w, h = scene.frames[gid]
        p.setPen(QPen(QColor("#888888"), 1.2, Qt.PenStyle.DashLine))
        p.setBrush(Qt.BrushStyle.NoBrush)
        p.drawRoundedRect(QRectF(x, y, w, h), 8, 8)
        p.setFont(small)
        p.setPen(QColor("#555555"))
        p.drawText(QPointF(x + 6, y + 12), graph.group(gid).label)

    rects = {**scene.boxes, **scene.cards}
    bands = {c: _bands(scene, c) for c in set(scene.container.values())}

    def band_top(item: str) -> float:
        """The top of the row `item` sits in; in an open block's first row, the top of the block's own row
        (a wire into it then comes along the gap above the frame, not through its title)."""
        y = (rects.get(item) or scene.frames[item])[1]
        container = scene.container[item]
        rows = bands[container]
        top = next((top for top, bottom in rows if top - 1 <= y <= bottom), y)
        if container in scene.frames and rows and top == rows[0][0]:
            return band_top(container)
        return top

    def shape_text(x: float, y: float, text: str) -> None:
        p.setFont(small)
        p.setPen(QColor("#1f4e79"))
        p.drawText(QRectF(x, y - 15, 104, 13), Qt.AlignmentFlag.AlignLeft, text)

    def arrow_head(b: QPointF) -> None:
        p.setBrush(QBrush(QColor("#555555")))
        p.drawPolygon([b, QPointF(b.x() - 7, b.y() - 3.5), QPointF(b.x() - 7, b.y() + 3.5)])

    labelled: set[tuple[str, str]] = set()
    for src, dst, text in scene.wires:
        sx, sy, sw, sh = rects[src]
        dx, dy, _, dh = rects[dst]
        a = QPointF(sx + sw, sy + sh / 2)
        b = QPointF(dx, dy + dh / 2)
        path = QPainterPath(a)
        if b.x() < a.x() + 24:
            # into a later row (the layout wrapped): down the right side, left along the gap above the
            # destination's row, then into it from the left
            gap_y = band_top(dst) - 22
            out_x, in_x = a.x() + 18, b.x() - 18
            path.lineTo(out_x, a.y())
            path.lineTo(out_x, gap_y)
            path.lineTo(in_x, gap_y)
            path.lineTo(in_x, b.y())
            path.lineTo(b)
        elif b.x() - a.x() > 200 and abs(b.y() - a.y()) < 30:
            # a skip connection across columns on the same row: arc over the boxes in between
            lift = min(sy, dy) - 30
            path.cubicTo(QPointF(a.x() + 80, lift), QPointF(b.x() - 80, lift), b)
        else:
            mid = (a.x() + b.x()) / 2
            path.cubicTo(QPointF(mid, a.y()), QPointF(mid, b.y()), b)
        p.setPen(QPen(QColor("#555555"), 1.3))
        p.setBrush(Qt.BrushStyle.NoBrush)
        p.drawPath(path)
        arrow_head(b)
        if text and (src, text) not in labelled:  # a value on several wires is labelled once
            labelled.add((src, text))
            shape_text(a.x() + 8, a.y(), text)
    for item, out, text in scene.stubs:  # dotted: the wire continues outside the block drawn
        x, y, w, h = rects[item]
        a = QPointF(x + w, y + h / 2) if out else QPointF(x - STUB, y + h / 2)
        b = QPointF(a.x() + STUB, a.y())
        p.setPen(QPen(QColor("#555555"), 1.3, Qt.PenStyle.DotLine))
        p.drawLine(a, b)
        arrow_head(b)
        if text:
            shape_text(a.x() + (8 if out else 0), a.y(), text)

    def outline(item: str) -> QPen:
        err = item in scene.errors
        return QPen(QColor("#c00000" if err else "#444444"), 2.0 if err else 1.0)

    def centred(text: str, x: float, y: float, w: float) -> None:
        elided = p.fontMetrics().elidedText(text, Qt.TextElideMode.ElideMiddle, int(w - 12))
        p.drawText(QRectF(x + 6, y, w - 12, 18), Qt.AlignmentFlag.AlignHCenter, elided)

    for nid, (x, y, w, h) in scene.boxes.items():
        node = graph.node(nid)
        try:
            from ..analysis.shapes import spec_of

            category = spec_of(node).category
        except UnknownLayerError:
            category = ""
        p.setPen(outline(nid))
        p.setBrush(QBrush(QColor(COLOURS.get(category, "#ffffff"))))
        p.drawRoundedRect(QRectF(x, y, w, h), 7, 7)
        p.setPen(QColor("#111111"))
        p.setFont(bold)
        centred(node.type, x, y + 8, w)
        p.setFont(font)
        centred(node.label, x, y + 29, w)
    for gid, (x, y, w, h) in scene.cards.items():
        label, count, params = scene.card_text[gid]
        p.setPen(QPen(QColor("#9c6b30"), 1.0))
        p.setBrush(QBrush(QColor("#fbe3c8")))
        p.drawRoundedRect(QRectF(x + 5, y + 5, w, h), 8, 8)  # a second sheet behind: it holds more inside
        p.setPen(outline(gid) if gid in scene.errors else QPen(QColor("#9c6b30"), 1.6))
        p.setBrush(QBrush(QColor(COLOURS["Blocks"])))
        p.drawRoundedRect(QRectF(x, y, w, h), 8, 8)
        p.setPen(QColor("#111111"))
        p.setFont(bold)
        centred(label, x, y + 9, w)
        p.setFont(font)
        centred(count, x, y + 33, w)
        p.setPen(QColor("#444444"))
        centred(params, x, y + 54, w)


def render_file(
    graph: ModelGraph,
    path: str | os.PathLike[str],
    *,
    scale: float = 2.0,
    title: str = "",
    expand: bool = False,
    block: str | None = None,
) -> Path:
    """Write the diagram to `path`; the suffix (.png or .svg) picks the format. By default the top level with
    each block as one card; `expand` draws every block open (nested frames); `block` (a block's label or id)
    draws the inside of that block, its child blocks as cards (or open, with `expand`)."""
    target = Path(path)
    suffix = target.suffix.lower()
    if suffix not in (".png", ".svg"):
        raise DiagramError(f"{target}: use a .png or .svg file name")
    level = find_block(graph, block) if block is not None else None
    if level is not None:
        title = " / ".join([title, *(graph.group(g).label for g in graph.group_path(level))] if title else [])
        title = title or graph.group(level).label
    target.parent.mkdir(parents=True, exist_ok=True)
    _app()
    from PySide6.QtCore import QRectF, QSize
    from PySide6.QtGui import QColor, QImage, QPainter

    scene = _scene(graph, title, expand, level)
    width, height = scene.width, scene.height
    if suffix == ".svg":
        from PySide6.QtSvg import QSvgGenerator

        gen = QSvgGenerator()
        gen.setFileName(str(target))
        gen.setSize(QSize(int(width), int(height)))
        gen.setViewBox(QRectF(0, 0, width, height))
        gen.setTitle(title or "dlstudio graph")
        painter = QPainter(gen)
        try:
            _paint(painter, graph, scene, title)
        finally:
            painter.end()
    else:
        image = QImage(int(width * scale), int(height * scale), QImage.Format.Format_ARGB32)
        image.fill(QColor("white"))
        painter = QPainter(image)
        try:
            painter.scale(scale, scale)
            _paint(painter, graph, scene, title)
        finally:
            painter.end()
        if not image.save(str(target), "PNG"):
            raise DiagramError(f"{target}: cannot write the PNG (check the folder and permissions)")
    if not target.is_file():
        raise DiagramError(f"{target}: the diagram was not written")
    return target
