"""The one layered left-to-right layout (pure networkx): the canvas's auto-layout, imported graphs and the
diagram renderer all use it.

Columns are topological generations (the longest path from the inputs); inside a column, nodes are ordered by
the mean row of their predecessors (one barycentre sweep keeps wires mostly straight).
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Iterable, Mapping
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
    level: str | None = None,
) -> tuple[dict[str, tuple[float, float]], dict[str, tuple[float, float]]]:
    """Node and block positions for a layout where each block takes one cell, like any node: a collapsed
    block a node's cell, an expanded one a cell as large as its contents' own layout (plus room for its
    frame), so no frame covers a neighbour. Blocks nest: each level is laid out the same way, a child block
    in its parent's layout being one cell, so an expanded block's frame grows with its expanded children.
    A block's contents are laid out among themselves inside its cell (collapsed ones too, ready for entering
    or expanding); the block's position is where its contents start, so collapsing shows the card there.
    `collapsed` overrides the graph's collapsed state of some blocks (the layout after a collapse or expand).
    `level` lays out the contents of that block (None: the whole graph); `node_ids` restricts the layout to
    those nodes (inside `level`). With `max_width`, a level wider than that wraps into bands of columns
    (the canvas's auto-layout passes what fits its view at a readable zoom)."""
    if node_ids is None:
        ids = list(graph.nodes) if level is None else graph.group_nodes_deep(level)
    else:
        ids = [n for n in node_ids if n in graph and graph.owner_at(n, level) is not None]
    if not ids:
        return {}, {}
    overrides = collapsed or {}

    def is_collapsed(gid: str) -> bool:
        return overrides.get(gid, graph.group(gid).collapsed)

    if node_ids is None and level is None:
        origin = (0.0, 0.0)
    else:
        origin = (min(graph.node(n).position[0] for n in ids), min(graph.node(n).position[1] for n in ids))
    nodes, groups, _ = _plan_level(graph, ids, level, is_collapsed, max_width, origin)
    return nodes, groups


def _plan_level(
    graph: ModelGraph,
    ids: list[str],
    level: str | None,
    is_collapsed: Callable[[str], bool],
    max_width: float | None,
    origin: tuple[float, float],
) -> tuple[dict[str, tuple[float, float]], dict[str, tuple[float, float]], tuple[float, float]]:
    """One level of `plan_layout`: the items standing for `ids` inside block `level`, each child block laid
    out recursively first. Returns node and block positions and the bottom-right corner of the cells."""
    unit: dict[str, str] = {}
    for n in ids:
        owner = graph.owner_at(n, level)
        unit[n] = owner if owner is not None else n
    dg = nx.DiGraph()
    order: dict[str, int] = {}
    for n in ids:
        order.setdefault(unit[n], len(order))
        dg.add_node(unit[n])
    succ = graph.nx._succ
    for n in ids:
        for d in succ[n]:
            if d in unit and unit[d] != unit[n]:
                dg.add_edge(unit[n], unit[d])
    members: dict[str, list[str]] = {}
    for n in ids:
        if unit[n] != n:
            members.setdefault(unit[n], []).append(n)
    inner: dict[str, tuple[dict[str, tuple[float, float]], dict[str, tuple[float, float]]]] = {}
    sizes: dict[str, tuple[float, float]] = {}
    for gid, mids in members.items():
        sub_nodes, sub_groups, corner = _plan_level(graph, mids, gid, is_collapsed, max_width, (0.0, 0.0))
        inner[gid] = (sub_nodes, sub_groups)
        if not is_collapsed(gid):
            sizes[gid] = (corner[0] + BLOCK_EXTRA_W, corner[1] + BLOCK_EXTRA_H)
    cells = _place_wrapped(_columns(dg, order), origin, sizes, max_width)
    nodes: dict[str, tuple[float, float]] = {}
    groups: dict[str, tuple[float, float]] = {}
    right, bottom = origin
    for u, p in cells.items():
        w, h = sizes.get(u, (X_STEP, Y_STEP))
        right, bottom = max(right, p[0] + w), max(bottom, p[1] + h)
        if u in members:
            start = (p[0] + BLOCK_PAD_LEFT, p[1] + BLOCK_PAD_TOP) if u in sizes else p
            groups[u] = start
            sub_nodes, sub_groups = inner[u]
            nodes.update({n: (start[0] + q[0], start[1] + q[1]) for n, q in sub_nodes.items()})
            groups.update({g: (start[0] + q[0], start[1] + q[1]) for g, q in sub_groups.items()})
        else:
            nodes[u] = p
    return nodes, groups, (right, bottom)


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


def _units(graph: ModelGraph, skip: str, level: str | None) -> dict[str, tuple[float, float, float, float]]:
    """Every item shown inside block `level` (None: the top level) but `skip`, as (left, top, right, bottom): a
    collapsed block is its card, an expanded one its frame, a node its card."""
    out: dict[str, tuple[float, float, float, float]] = {}
    for gid in graph.child_groups(level):
        if gid == skip:
            continue
        r = _box(graph, gid)
        if r is not None:
            out[gid] = r
    direct = (
        graph.group(level).node_ids if level is not None else (n for n, nd in graph.nodes.items() if nd.group is None)
    )
    for nid in direct:
        x, y = graph.nodes[nid].position
        out[nid] = (x, y, x + CARD_W, y + CARD_H)
    return out


def _box(graph: ModelGraph, gid: str) -> tuple[float, float, float, float] | None:
    """A block's card when collapsed, else its frame."""
    grp = graph.group(gid)
    if grp.collapsed:
        x, y = grp.position
        return (x, y, x + CARD_W, y + CARD_H)
    return _members_box(graph, gid)


def _members_box(graph: ModelGraph, gid: str) -> tuple[float, float, float, float] | None:
    """The frame around a block's contents: its nodes' cards and its child blocks' cards or frames."""
    boxes = [
        (p[0], p[1], p[0] + CARD_W, p[1] + CARD_H) for p in (graph.nodes[n].position for n in graph.group(gid).node_ids)
    ]
    boxes += [b for c in graph.child_groups(gid) if (b := _box(graph, c)) is not None]
    return _frame_around(boxes)


def _frame_around(boxes: list[tuple[float, float, float, float]]) -> tuple[float, float, float, float] | None:
    """An expanded block's frame around the boxes of its contents (room for its title on top)."""
    if not boxes:
        return None
    return (
        min(b[0] for b in boxes) - FRAME_PAD,
        min(b[1] for b in boxes) - BLOCK_PAD_TOP,
        max(b[2] for b in boxes) + FRAME_PAD,
        max(b[3] for b in boxes) + FRAME_PAD,
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
    full re-layout: expanding lays the block's contents out inside it (its card's corner stays put; its child
    blocks keep their own collapsed state), moves what lies right of the card right by the extra width and
    what lies below it in its column down by the extra height, then pushes down anything that still overlaps;
    collapsing closes those gaps again. The items beside the block inside its parent block move (a block and
    everything in it move together); when that changes an expanded parent's frame, the items beside the
    parent make room the same way, up to the top level. Only moved nodes and blocks are returned."""
    grp = graph.group(group_id)
    px, py = grp.position
    nodes: dict[str, tuple[float, float]] = {}
    groups: dict[str, tuple[float, float]] = {}
    states = {group_id: collapsed}
    card = (px, py, px + CARD_W, py + CARD_H)
    if collapsed:
        frame = _members_box(graph, group_id)
        if frame is None:
            return {}, {}
        old, new = frame, card
    else:
        ids = graph.group_nodes_deep(group_id)
        nodes, groups, _ = _plan_level(
            graph, ids, group_id, lambda g: graph.group(g).collapsed, READING_WIDTH, (px, py)
        )
        old, new = card, _frame_of(graph, group_id, nodes, groups, states) or card
    _push_beside(graph, group_id, old, new, ROOM_GAP, nodes, groups)
    for outer in graph.group_ancestors(group_id):
        if graph.group(outer).collapsed:
            break
        before = _members_box(graph, outer)
        after = _frame_of(graph, outer, nodes, groups, states)
        if before is None or after is None or before == after:
            break
        _push_beside(graph, outer, before, after, 0.0, nodes, groups)
    return nodes, groups


def _push_beside(
    graph: ModelGraph,
    gid: str,
    old: tuple[float, float, float, float],
    new: tuple[float, float, float, float],
    gap: float,
    nodes: dict[str, tuple[float, float]],
    groups: dict[str, tuple[float, float]],
) -> None:
    """Block `gid` changes from box `old` to box `new` (same top-left corner region): the items right of it in
    the rows it spans (inside its parent block) move right (or back left) by the change in width plus `gap`,
    those below it down (or up) by the change in height plus `gap`, then overlaps are pushed down. Adds the
    moves to `nodes` and `groups`."""
    grow = (new[2] - new[0]) * (new[3] - new[1]) >= (old[2] - old[0]) * (old[3] - old[1])
    sign = 1.0 if grow else -1.0
    dx = abs((new[2] - new[0]) - (old[2] - old[0])) + gap
    dy = abs((new[3] - new[1]) - (old[3] - old[1])) + gap
    boxes = _units(graph, gid, graph.group(gid).parent)
    delta: dict[str, tuple[float, float]] = {}
    band_top, band_bottom = max(old[1], new[1]), max(old[3], new[3])  # from the card's top: symmetric
    for k, (left, top, _right, bottom) in boxes.items():
        beside = bottom > band_top and top < band_bottom  # a wrapped layout's other rows keep their place
        if left >= old[2] and beside:
            delta[k] = (sign * dx, 0.0)
        elif top >= old[3]:  # whole rows below move down together, so a wrapped row stays one row
            delta[k] = (0.0, sign * dy)
    for k, (ddx, ddy) in delta.items():
        left, top, right, bottom = boxes[k]
        boxes[k] = (left + ddx, top + ddy, right + ddx, bottom + ddy)
    boxes[gid] = new
    for k, ddy in _resolve(boxes, gid).items():
        ddx, before = delta.get(k, (0.0, 0.0))
        delta[k] = (ddx, before + ddy)
    for k, (ddx, ddy) in delta.items():
        if not (ddx or ddy):
            continue
        if k in graph.groups:
            g = graph.groups[k]
            groups[k] = (g.position[0] + ddx, g.position[1] + ddy)
            for d in graph.group_descendants(k):  # a block's contents travel with it
                q = graph.groups[d].position
                groups[d] = (q[0] + ddx, q[1] + ddy)
            for n in graph.group_nodes_deep(k):
                p = graph.nodes[n].position
                nodes[n] = (p[0] + ddx, p[1] + ddy)
        else:
            p = graph.nodes[k].position
            nodes[k] = (p[0] + ddx, p[1] + ddy)


def _frame_of(
    graph: ModelGraph,
    gid: str,
    nodes: Mapping[str, tuple[float, float]],
    groups: Mapping[str, tuple[float, float]],
    states: Mapping[str, bool],
) -> tuple[float, float, float, float] | None:
    """The frame block `gid` will have, expanded, with its contents at the planned positions (child blocks by
    their collapsed state, `states` overriding the graph's)."""

    def node_box(n: str) -> tuple[float, float, float, float]:
        x, y = nodes.get(n, graph.nodes[n].position)
        return (x, y, x + CARD_W, y + CARD_H)

    def block_box(g: str, top: bool) -> tuple[float, float, float, float] | None:
        if not top and states.get(g, graph.group(g).collapsed):
            x, y = groups.get(g, graph.group(g).position)
            return (x, y, x + CARD_W, y + CARD_H)
        boxes = [node_box(n) for n in graph.group(g).node_ids]
        boxes += [b for c in graph.child_groups(g) if (b := block_box(c, False)) is not None]
        return _frame_around(boxes)

    return block_box(gid, True)
