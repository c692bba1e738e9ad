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


def _place(columns: list[list[N]], origin: tuple[float, float]) -> dict[N, tuple[float, float]]:
    tallest = max((len(c) for c in columns), default=0)
    out: dict[N, tuple[float, float]] = {}
    for ci, col in enumerate(columns):
        offset = (tallest - len(col)) * Y_STEP / 2.0  # centre short columns against the tallest one
        for ri, n in enumerate(col):
            out[n] = (origin[0] + ci * X_STEP, origin[1] + offset + ri * Y_STEP)
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


def plan_layout(
    graph: ModelGraph, node_ids: Iterable[str] | None = None
) -> tuple[dict[str, tuple[float, float]], dict[str, tuple[float, float]]]:
    """Node and block positions for a layout where each collapsed block takes one cell, like any node.
    Its members are laid out among themselves starting at the block's cell, so expanding it shows them
    in order."""
    ids = list(graph.nodes) if node_ids is None else [n for n in node_ids if n in graph]
    if not ids:
        return {}, {}
    unit: dict[str, str] = {}
    for n in ids:
        gid = graph.node(n).group
        unit[n] = gid if gid is not None and gid in graph.groups and graph.group(gid).collapsed else n
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
    cells = _place(_columns(dg, order), origin)
    nodes: dict[str, tuple[float, float]] = {}
    groups: dict[str, tuple[float, float]] = {}
    for u, p in cells.items():
        if u in graph.groups:
            groups[u] = p
            members = [n for n in ids if unit[n] == u]
            nodes.update(layered_positions(graph, members, origin=p))
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


def apply_layout(graph: ModelGraph) -> None:
    """Move every node and block to its layered position through the graph's primitives (no undo step):
    used on freshly built graphs such as imports."""
    nodes, groups = plan_layout(graph)
    for nid, p in nodes.items():
        graph._set_position(nid, p)
    for gid, p in groups.items():
        graph._set_group_attr(gid, "position", p)
