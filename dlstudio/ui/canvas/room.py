"""Expand and collapse in place when blocks nest (pure Python, no Qt): the block's contents are laid out inside it
(its direct layers and its child blocks, a collapsed child as one card, an expanded one as its frame), then the
items beside it in its own level make room (or close the gap), and, when the level around it is itself an
expanded frame that grew or shrank, the same happens one level up, and so on. Only the level that changed and
the levels around it move: the cost follows the block, not the graph. A graph without nesting keeps the core's
`make_room` unchanged."""

from __future__ import annotations

from typing import Any

import networkx as nx

from ...core.layout import (
    BLOCK_PAD_TOP,
    CARD_H,
    CARD_W,
    FRAME_PAD,
    READING_WIDTH,
    ROOM_GAP,
    X_STEP,
    Y_STEP,
    _columns,
    _place_wrapped,
    _resolve,
    make_room,
)

Box = tuple[float, float, float, float]  # left, top, right, bottom


class _Plan:
    """New positions, on top of the graph's, for the nodes and blocks that move."""

    def __init__(self, graph: Any, collapsed: dict[str, bool]) -> None:
        self.graph = graph
        self.collapsed = collapsed  # the blocks whose state changes, with their new state
        self.nodes: dict[str, tuple[float, float]] = {}
        self.groups: dict[str, tuple[float, float]] = {}

    def is_collapsed(self, gid: str) -> bool:
        return self.collapsed.get(gid, self.graph.groups[gid].collapsed)

    def node_at(self, nid: str) -> tuple[float, float]:
        return self.nodes.get(nid, self.graph.nodes[nid].position)

    def group_at(self, gid: str) -> tuple[float, float]:
        return self.groups.get(gid, self.graph.groups[gid].position)

    def box(self, unit: str) -> Box:
        """A unit as drawn: a node's or collapsed block's card, an expanded block's frame."""
        if unit in self.graph.nodes:
            x, y = self.node_at(unit)
            return (x, y, x + CARD_W, y + CARD_H)
        if self.is_collapsed(unit):
            x, y = self.group_at(unit)
            return (x, y, x + CARD_W, y + CARD_H)
        inner = self.contents(unit)
        if inner is None:
            x, y = self.group_at(unit)
            return (x - FRAME_PAD, y - BLOCK_PAD_TOP, x + CARD_W + FRAME_PAD, y + CARD_H + FRAME_PAD)
        return (inner[0] - FRAME_PAD, inner[1] - BLOCK_PAD_TOP, inner[2] + FRAME_PAD, inner[3] + FRAME_PAD)

    def contents(self, gid: str) -> Box | None:
        boxes = [self.box(u) for u in units_in(self.graph, gid)]
        if not boxes:
            return None
        return (min(b[0] for b in boxes), min(b[1] for b in boxes), max(b[2] for b in boxes), max(b[3] for b in boxes))

    def shift(self, unit: str, dx: float, dy: float) -> None:
        """Move a unit; a block takes everything inside it along."""
        if not (dx or dy):
            return
        graph = self.graph
        if unit in graph.nodes:
            x, y = self.node_at(unit)
            self.nodes[unit] = (x + dx, y + dy)
            return
        for gid in (unit, *graph.group_descendants(unit)):
            x, y = self.group_at(gid)
            self.groups[gid] = (x + dx, y + dy)
        for nid in graph.group_nodes_deep(unit):
            x, y = self.node_at(nid)
            self.nodes[nid] = (x + dx, y + dy)


def units_in(graph: Any, level: str | None) -> list[str]:
    """The items drawn directly in a level: its own nodes and its child blocks."""
    if level is None:
        nodes = [n for n, v in graph.nodes.items() if v.group is None]
    else:
        nodes = list(graph.group(level).node_ids)
    return nodes + graph.child_groups(level)


def _lay_out_inside(plan: _Plan, gid: str) -> None:
    """Lay a block's direct nodes and child blocks out in layered columns from its corner (rows wrap at the
    reading width); a child block keeps its own inside and moves as one."""
    _lay_out_level(plan, gid, plan.group_at(gid), READING_WIDTH)


def _lay_out_level(plan: _Plan, level: str | None, origin: tuple[float, float], max_width: float | None) -> None:
    """Lay a level's direct nodes and child blocks (None: the top level) out in layered columns from `origin`; a
    child block keeps its own inside and moves as one (a collapsed one is a card, an expanded one its frame)."""
    graph = plan.graph
    units = units_in(graph, level)
    if not units:
        return
    dg = nx.DiGraph()
    dg.add_nodes_from(units)
    inner = graph.group_nodes_deep(level) if level is not None else list(graph.nodes)
    owner = {nid: graph.owner_at(nid, level) for nid in inner}
    succ = graph.nx._succ
    for src, unit in owner.items():
        for dst in succ[src]:
            other = owner.get(dst)
            if other is not None and other != unit:
                dg.add_edge(unit, other)
    sizes: dict[str, tuple[float, float]] = {}
    for u in units:
        if u in graph.groups and not plan.is_collapsed(u):
            b = plan.box(u)
            sizes[u] = (b[2] - b[0] + ROOM_GAP + X_STEP - CARD_W, b[3] - b[1] + ROOM_GAP + Y_STEP - CARD_H)
    cells = _place_wrapped(_columns(dg, {u: i for i, u in enumerate(units)}), origin, sizes, max_width)
    for u, (x, y) in cells.items():
        if u in sizes:  # an expanded child: its frame's corner goes to the cell's corner
            b = plan.box(u)
            plan.shift(u, x - b[0], y - b[1])
        elif u in graph.groups:
            gx, gy = plan.group_at(u)
            plan.shift(u, x - gx, y - gy)
        else:
            plan.nodes[u] = (x, y)


def nested_layout(
    graph: Any, max_width: float | None
) -> tuple[dict[str, tuple[float, float]], dict[str, tuple[float, float]]]:
    """Auto-layout of a graph with nested blocks, level by level from the innermost: each block's contents in
    layered columns from its corner, then its level with the block as one card (or, expanded, its frame)."""
    plan = _Plan(graph, {})
    for gid in sorted(graph.groups, key=graph.group_depth, reverse=True):
        _lay_out_inside(plan, gid)
    _lay_out_level(plan, None, (0.0, 0.0), max_width)
    nodes = {n: p for n, p in plan.nodes.items() if graph.nodes[n].position != p}
    groups = {g: p for g, p in plan.groups.items() if graph.groups[g].position != p}
    return nodes, groups


def _push_siblings(plan: _Plan, level: str | None, unit: str, old: Box, new: Box) -> None:
    """Make room in `level` for `unit` grown from `old` to `new` (or close the gap when it shrank): what lies
    right of it moves right by the change in width, what lies below it in its columns down by the change in
    height, and anything still overlapping is pushed down."""
    dx = (new[2] - new[0]) - (old[2] - old[0])
    dy = (new[3] - new[1]) - (old[3] - old[1])
    grew = dx > 0 or dy > 0
    right_edge = old[2] if not grew else min(old[2], new[2])
    bottom_edge = old[3] if not grew else min(old[3], new[3])
    boxes = {u: plan.box(u) for u in units_in(plan.graph, level) if u != unit}
    delta: dict[str, tuple[float, float]] = {}
    band_top, band_bottom = max(old[1], new[1]), max(old[3], new[3])  # from the card's top: symmetric
    for k, (left, top, _right, bottom) in boxes.items():
        beside = bottom > band_top and top < band_bottom  # in the rows the block spans (a wrapped layout's other
        if left >= right_edge - 1 and beside:  # rows stay where they are)
            delta[k] = (dx + (ROOM_GAP if grew else -ROOM_GAP) * (dx != 0), 0.0)
        elif top >= bottom_edge - 1:
            delta[k] = (0.0, dy + (ROOM_GAP if grew else -ROOM_GAP) * (dy != 0))
    for k, (ddx, ddy) in delta.items():
        left, top, right, bottom = boxes[k]
        boxes[k] = (left + ddx, top + ddy, right + ddx, bottom + ddy)
    boxes[unit] = new
    for k, ddy in _resolve(boxes, unit).items():
        ddx, old_dy = delta.get(k, (0.0, 0.0))
        delta[k] = (ddx, old_dy + ddy)
    for k, (ddx, ddy) in delta.items():
        plan.shift(k, ddx, ddy)


def nested_make_room(
    graph: Any, group_id: str, collapsed: bool
) -> tuple[dict[str, tuple[float, float]], dict[str, tuple[float, float]]]:
    """Node and block positions after expanding (collapsed=False) or collapsing one block in place, at any
    depth. Only moved nodes and blocks are returned (the block keeps its corner)."""
    if all(g.parent is None for g in graph.groups.values()):
        return make_room(graph, group_id, collapsed)
    before = _Plan(graph, {})
    # the frames around the block now, to know how much each level grows or shrinks
    chain = [group_id, *graph.group_ancestors(group_id)]
    old = {gid: before.box(gid) for gid in chain}
    plan = _Plan(graph, {group_id: collapsed})
    if not collapsed:
        _lay_out_inside(plan, group_id)
    for gid in chain:
        parent = graph.groups[gid].parent
        new = plan.box(gid)
        if new != old[gid]:
            _push_siblings(plan, parent, gid, old[gid], new)
        if parent is None or graph.groups[parent].collapsed:
            break  # the level around is a card (or the top): nothing further out changes size
    nodes = {n: p for n, p in plan.nodes.items() if graph.nodes[n].position != p}
    groups = {g: p for g, p in plan.groups.items() if graph.groups[g].position != p}
    return nodes, groups


__all__ = ["nested_layout", "nested_make_room", "units_in"]
