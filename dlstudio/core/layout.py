"""The one layered left-to-right layout (pure networkx): the canvas's auto-layout, imported graphs and the
diagram renderer all use it.

Columns are topological generations (the longest path from the inputs); inside a column, nodes are ordered by
the mean row of their predecessors (one barycentre sweep keeps wires mostly straight).
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable, Mapping
from typing import TypeVar

import networkx as nx

from .graph import ModelGraph

X_STEP = 310.0  # node width 200 + room for the shape label on the wire
Y_STEP = 130.0

N = TypeVar("N", bound=Hashable)  # a node of the laid-out graph: a node id or a collapsed block's id


def _columns(dg: nx.DiGraph, order: Mapping[N, int]) -> list[list[N]]:
    """One column per topological generation; rows ordered by the mean row of their predecessors (one
    barycentre sweep keeps wires mostly straight). Cycles are broken first: they are diagnostics, not a
    reason to refuse a layout."""
    dg = nx.DiGraph(dg)
    while not nx.is_directed_acyclic_graph(dg):
        dg.remove_edges_from(list(nx.find_cycle(dg))[:1])
    row: dict[N, float] = {}
    columns: list[list[N]] = []
    for gen in nx.topological_generations(dg):

        def key(n: N) -> tuple[float, int]:
            preds = [row[p] for p in dg.predecessors(n) if p in row]
            return (sum(preds) / len(preds) if preds else float(order[n]), order[n])

        col = sorted(gen, key=key)
        for i, n in enumerate(col):
            row[n] = float(i)
        columns.append(col)
    return columns


def _place(
    columns: list[list[N]], origin: tuple[float, float], sizes: Mapping[N, tuple[float, float]] | None = None
) -> dict[N, tuple[float, float]]:
    """Top-left corner of each unit's cell. A unit is one node cell (X_STEP x Y_STEP) unless `sizes` gives
    it a larger one (an expanded block): a column is as wide as its widest cell, cells stack downwards, and
    short columns are centred against the tallest one."""
    sizes = sizes or {}

    def size(n: N) -> tuple[float, float]:
        return sizes.get(n, (X_STEP, Y_STEP))

    heights = [sum(size(n)[1] for n in col) for col in columns]
    tallest = max(heights, default=0.0)
    out: dict[N, tuple[float, float]] = {}
    x = origin[0]
    for col, height in zip(columns, heights):
        y = origin[1] + (tallest - height) / 2.0
        for n in col:
            out[n] = (x, y)
            y += size(n)[1]
        x += max((size(n)[0] for n in col), default=X_STEP)
    return out


BAND_GAP = 70.0  # between the rows of a wrapped layout
# A pipeline this short reads best on one line even when that needs a little zooming out; a longer one can't be
# read on one line at 60 % on a 1440-px screen (7 columns need ~1,270 px of canvas), so it wraps.
MIN_WRAP_COLUMNS = 6


def _place_wrapped(
    columns: list[list[N]],
    origin: tuple[float, float],
    sizes: Mapping[N, tuple[float, float]],
    max_width: float | None,
) -> dict[N, tuple[float, float]]:
    """`_place`, but a graph wider than `max_width` wraps: its columns go in bands (rows of columns) stacked
    top to bottom, so a long chain fits a screen at a readable zoom instead of one thin line."""
    if max_width is None or len(columns) <= MIN_WRAP_COLUMNS:
        return _place(columns, origin, sizes)

    def width(col: list[N]) -> float:
        return max((sizes.get(n, (X_STEP, Y_STEP))[0] for n in col), default=X_STEP)

    bands: list[list[list[N]]] = [[]]
    used = 0.0
    for col in columns:
        w = width(col)
        if bands[-1] and used + w > max_width:
            bands.append([])
            used = 0.0
        bands[-1].append(col)
        used += w
    out: dict[N, tuple[float, float]] = {}
    y = origin[1]
    for band in bands:
        placed = _place(band, (origin[0], y), sizes)
        out.update(placed)
        bottom = max(p[1] + sizes.get(n, (X_STEP, Y_STEP))[1] for n, p in placed.items())
        y = bottom + BAND_GAP
    return out


def layered_positions(
    graph: ModelGraph,
    node_ids: Iterable[str] | None = None,
    origin: tuple[float, float] | None = None,
    max_width: float | None = None,
) -> dict[str, tuple[float, float]]:
    """Positions for `node_ids` (default: all nodes), every node its own cell; wider than `max_width`, the
    columns wrap into bands (a block's 34 layers read as rows when the block is entered, not as one strip)."""
    ids = list(graph.nodes) if node_ids is None else [n for n in node_ids if n in graph]
    if not ids:
        return {}
    if origin is None:
        xs = [graph.node(n).position[0] for n in ids]
        ys = [graph.node(n).position[1] for n in ids]
        origin = (min(xs), min(ys)) if node_ids is not None else (0.0, 0.0)
    columns = _columns(_induced(graph, ids), {n: i for i, n in enumerate(ids)})
    if max_width is None:
        return _place(columns, origin)
    return _place_wrapped(columns, origin, {}, max_width)


def _induced(graph: ModelGraph, ids: list[str]) -> nx.DiGraph:
    """The simple digraph among `ids` (built from the adjacency: a subgraph view of a large graph walks all
    of its nodes)."""
    keep = set(ids)
    dg = nx.DiGraph()
    dg.add_nodes_from(ids)
    succ = graph.nx._succ
    dg.add_edges_from((n, s) for n in ids for s in succ[n] if s in keep)
    return dg


# An expanded block's frame reaches BLOCK_PAD_TOP above its members (its title) and ~16 px around them; its
# cell gets this much room on top of its members' own cells.
BLOCK_PAD_LEFT = 20.0
BLOCK_PAD_TOP = 40.0
BLOCK_EXTRA_W = 40.0
BLOCK_EXTRA_H = 60.0


def plan_layout(
    graph: ModelGraph,
    node_ids: Iterable[str] | None = None,
    collapsed: Mapping[str, bool] | None = None,
    max_width: float | None = None,
) -> tuple[dict[str, tuple[float, float]], dict[str, tuple[float, float]]]:
    """Node and block positions for a layout where each block takes one cell, like any node: a collapsed
    block a node's cell, an expanded one a cell as large as its members' own layout (plus room for its
    frame), so no frame covers a neighbour. Its members are laid out among themselves inside that cell;
    the block's position is where its members start, so collapsing shows the card there. `collapsed`
    overrides the graph's collapsed state of some blocks (the layout after a collapse or expand). With
    `max_width`, a graph wider than that wraps into bands of columns (the canvas's auto-layout passes what
    fits its view at a readable zoom)."""
    ids = list(graph.nodes) if node_ids is None else [n for n in node_ids if n in graph]
    if not ids:
        return {}, {}
    overrides = collapsed or {}

    def is_collapsed(gid: str) -> bool:
        return overrides.get(gid, graph.group(gid).collapsed)

    unit: dict[str, str] = {}
    for n in ids:
        gid = graph.node(n).group
        unit[n] = gid if gid is not None and gid in graph.groups else n
    dg = nx.DiGraph()
    order: dict[str, int] = {}
    for n in ids:
        order.setdefault(unit[n], len(order))
        dg.add_node(unit[n])
    for e in graph.edges():
        if e.src in unit and e.dst in unit and unit[e.src] != unit[e.dst]:
            dg.add_edge(unit[e.src], unit[e.dst])
    if node_ids is None:
        origin = (0.0, 0.0)
    else:
        origin = (min(graph.node(n).position[0] for n in ids), min(graph.node(n).position[1] for n in ids))
    members = {u: [n for n in ids if unit[n] == u] for u in dg.nodes if u in graph.groups}
    inner: dict[str, dict[str, tuple[float, float]]] = {}
    sizes: dict[str, tuple[float, float]] = {}
    for gid, mids in members.items():
        inner[gid] = layered_positions(graph, mids, origin=(0.0, 0.0), max_width=max_width)
        if not is_collapsed(gid):
            w = max(p[0] for p in inner[gid].values()) + X_STEP + BLOCK_EXTRA_W
            h = max(p[1] for p in inner[gid].values()) + Y_STEP + BLOCK_EXTRA_H
            sizes[gid] = (w, h)
    cells = _place_wrapped(_columns(dg, order), origin, sizes, max_width)
    nodes: dict[str, tuple[float, float]] = {}
    groups: dict[str, tuple[float, float]] = {}
    for u, p in cells.items():
        if u in members:
            start = (p[0] + BLOCK_PAD_LEFT, p[1] + BLOCK_PAD_TOP) if u in sizes else p
            groups[u] = start
            nodes.update({n: (start[0] + q[0], start[1] + q[1]) for n, q in inner[u].items()})
        else:
            nodes[u] = p
    return nodes, groups


def layers_of(graph: ModelGraph, outputs_last: bool = True) -> list[list[str]]:
    """Node ids per column, left to right; Output nodes share the last column so a drawing reads like a
    pipeline (the diagram renderer)."""
    ids = list(graph.nodes)
    columns: list[list[str]] = [list(c) for c in _columns(graph.nx, {n: i for i, n in enumerate(ids)})]
    if outputs_last and len(columns) > 1:
        outs = [n for c in columns[:-1] for n in c if graph.node(n).type == "Output"]
        columns = [[n for n in c if n not in outs] for c in columns[:-1]] + [columns[-1] + outs]
    return [c for c in columns if c]


# the width a 1440x900 window's canvas shows at a readable zoom: imports and the examples wrap to it, so a long
# model opens in readable rows instead of one row fitted at a zoom where cards draw as boxes
READING_WIDTH = 1350.0


def apply_layout(graph: ModelGraph, max_width: float | None = None) -> None:
    """Move every node and block to its layered position through the graph's primitives (no undo step):
    used on freshly built graphs such as imports. `max_width` wraps a long graph into bands (see
    `plan_layout`)."""
    nodes, groups = plan_layout(graph, max_width=max_width)
    for nid, p in nodes.items():
        graph._set_position(nid, p)
    for gid, p in groups.items():
        graph._set_group_attr(gid, "position", p)


# ---------------------------------------------------------------- expand / collapse in place
CARD_W = 200.0  # a node card (the canvas draws it NODE_W wide and at most ~100 high)
CARD_H = 100.0
FRAME_PAD = 20.0  # an expanded block's frame around its members (its title strip is above: BLOCK_PAD_TOP)
ROOM_GAP = 40.0


def _units(graph: ModelGraph, skip: str) -> dict[str, tuple[float, float, float, float]]:
    """Every shown unit but `skip` as (left, top, right, bottom): a collapsed block is its card, an expanded
    one its frame, a node outside blocks its card."""
    out: dict[str, tuple[float, float, float, float]] = {}
    for gid, grp in graph.groups.items():
        if gid == skip:
            continue
        if grp.collapsed:
            x, y = grp.position
            out[gid] = (x, y, x + CARD_W, y + CARD_H)
        else:
            r = _members_box(graph, gid)
            if r is not None:
                out[gid] = r
    for nid, node in graph.nodes.items():
        if node.group is None or node.group not in graph.groups:
            x, y = node.position
            out[nid] = (x, y, x + CARD_W, y + CARD_H)
    return out


def _members_box(graph: ModelGraph, gid: str) -> tuple[float, float, float, float] | None:
    ps = [graph.nodes[n].position for n in graph.group(gid).node_ids if n in graph.nodes]
    if not ps:
        return None
    return (
        min(p[0] for p in ps) - FRAME_PAD,
        min(p[1] for p in ps) - BLOCK_PAD_TOP,
        max(p[0] for p in ps) + CARD_W + FRAME_PAD,
        max(p[1] for p in ps) + CARD_H + FRAME_PAD,
    )


def _overlap(a: tuple[float, float, float, float], b: tuple[float, float, float, float]) -> bool:
    return a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]


def _resolve(boxes: dict[str, tuple[float, float, float, float]], fixed: str) -> dict[str, float]:
    """Push units down until none overlaps another (the `fixed` one never moves). Returns the y shift of each
    moved unit. Units are bucketed by column band, so a pass is about linear."""
    shift: dict[str, float] = {}
    order = sorted(boxes, key=lambda k: (boxes[k][1], boxes[k][0]))
    for _pass in range(50):
        moved = False
        band = 400.0
        buckets: dict[int, list[str]] = {}
        for k in order:
            left, _top, right, _bottom = boxes[k]
            for cell in range(int(left // band), int(right // band) + 1):
                buckets.setdefault(cell, []).append(k)
        done: set[tuple[str, str]] = set()
        for keys in buckets.values():
            for i, a in enumerate(keys):
                for b in keys[i + 1 :]:
                    if (a, b) in done or not _overlap(boxes[a], boxes[b]):
                        continue
                    done.add((a, b))
                    # move the lower one (never the fixed one) below the other
                    lo, hi = (a, b) if boxes[a][1] >= boxes[b][1] else (b, a)
                    if lo == fixed:
                        lo, hi = hi, lo
                    dy = boxes[hi][3] + ROOM_GAP - boxes[lo][1]
                    left, top, right, bottom = boxes[lo]
                    boxes[lo] = (left, top + dy, right, bottom + dy)
                    shift[lo] = shift.get(lo, 0.0) + dy
                    moved = True
        if not moved:
            break
        order = sorted(boxes, key=lambda k: (boxes[k][1], boxes[k][0]))
    return shift


def make_room(
    graph: ModelGraph, group_id: str, collapsed: bool
) -> tuple[dict[str, tuple[float, float]], dict[str, tuple[float, float]]]:
    """Node and block positions after expanding (collapsed=False) or collapsing one block in place, without a
    full re-layout: expanding lays the members out inside the block (its card's corner stays put), moves what
    lies right of the card right by the extra width and what lies below it in its column down by the extra
    height, then pushes down anything that still overlaps; collapsing closes those gaps again. Only moved
    nodes and blocks are returned."""
    grp = graph.group(group_id)
    members = [n for n in grp.node_ids if n in graph.nodes]
    px, py = grp.position
    nodes: dict[str, tuple[float, float]] = {}
    if collapsed:
        box = _members_box(graph, group_id)
        if box is None:
            return {}, {}
        frame = box
    else:
        inner = layered_positions(graph, members, origin=(0.0, 0.0), max_width=READING_WIDTH) if members else {}
        nodes = {n: (px + p[0], py + p[1]) for n, p in inner.items()}
        w = max((p[0] for p in inner.values()), default=0.0) + CARD_W
        h = max((p[1] for p in inner.values()), default=0.0) + CARD_H
        frame = (px - FRAME_PAD, py - BLOCK_PAD_TOP, px + w + FRAME_PAD, py + h + FRAME_PAD)
    card = (px, py, px + CARD_W, py + CARD_H)
    dx = (frame[2] - frame[0]) - (card[2] - card[0]) + ROOM_GAP
    dy = (frame[3] - frame[1]) - (card[3] - card[1]) + ROOM_GAP
    boxes = _units(graph, group_id)
    sign = -1.0 if collapsed else 1.0
    right_edge = frame[2] if collapsed else card[2]
    bottom_edge = frame[3] if collapsed else card[3]
    col_right = frame[2] if collapsed else card[2]
    delta: dict[str, tuple[float, float]] = {}
    for k, (left, top, right, _bottom) in boxes.items():
        if left >= right_edge:
            delta[k] = (sign * dx, 0.0)
        elif right > frame[0] and left < col_right and top >= bottom_edge:
            delta[k] = (0.0, sign * dy)
    for k, (ddx, ddy) in delta.items():
        left, top, right, bottom = boxes[k]
        boxes[k] = (left + ddx, top + ddy, right + ddx, bottom + ddy)
    boxes[group_id] = card if collapsed else frame
    for k, ddy in _resolve(boxes, group_id).items():
        ddx, old = delta.get(k, (0.0, 0.0))
        delta[k] = (ddx, old + ddy)
    groups: dict[str, tuple[float, float]] = {}
    for k, (ddx, ddy) in delta.items():
        if not (ddx or ddy):
            continue
        if k in graph.groups:
            g = graph.groups[k]
            groups[k] = (g.position[0] + ddx, g.position[1] + ddy)
            for n in g.node_ids:  # members travel with their block
                if n in graph.nodes:
                    p = graph.nodes[n].position
                    nodes[n] = (p[0] + ddx, p[1] + ddy)
        else:
            p = graph.nodes[k].position
            nodes[k] = (p[0] + ddx, p[1] + ddy)
    return nodes, groups
