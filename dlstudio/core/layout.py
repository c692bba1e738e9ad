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
    graph: ModelGraph, node_ids: Iterable[str] | None = None, origin: tuple[float, float] | None = None
) -> dict[str, tuple[float, float]]:
    """Positions for `node_ids` (default: all nodes), every node its own cell."""
    ids = list(graph.nodes) if node_ids is None else [n for n in node_ids if n in graph]
    if not ids:
        return {}
    if origin is None:
        xs = [graph.node(n).position[0] for n in ids]
        ys = [graph.node(n).position[1] for n in ids]
        origin = (min(xs), min(ys)) if node_ids is not None else (0.0, 0.0)
    dg = nx.DiGraph(graph.nx.subgraph(ids))
    return _place(_columns(dg, {n: i for i, n in enumerate(ids)}), origin)


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
        inner[gid] = layered_positions(graph, mids, origin=(0.0, 0.0))
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


def apply_layout(graph: ModelGraph, max_width: float | None = None) -> None:
    """Move every node and block to its layered position through the graph's primitives (no undo step):
    used on freshly built graphs such as imports. `max_width` wraps a long graph into bands (see
    `plan_layout`)."""
    nodes, groups = plan_layout(graph, max_width=max_width)
    for nid, p in nodes.items():
        graph._set_position(nid, p)
    for gid, p in groups.items():
        graph._set_group_attr(gid, "position", p)
