"""A tidy layered left-to-right layout for imported graphs (and the diagram renderer).

Layers are the longest-path distance from the inputs (networkx topological generations); inside a layer, nodes
are ordered by the mean position of their predecessors (one barycentre sweep) to cut down crossings.
"""
from __future__ import annotations

import networkx as nx

from ..core.graph import ModelGraph

X_STEP = 220.0
Y_STEP = 110.0


def layers_of(graph: ModelGraph) -> list[list[str]]:
    """Node ids per layer, left to right, each layer ordered to reduce wire crossings."""
    g = nx.DiGraph(graph.nx)
    if not nx.is_directed_acyclic_graph(g):
        return [list(graph.nodes)]
    depth: dict[str, int] = {}
    for nid in nx.topological_sort(g):
        preds = list(g.predecessors(nid))
        depth[nid] = 1 + max((depth[p] for p in preds), default=-1)
    # Outputs go to the last column so the result reads like a pipeline
    last = max(depth.values(), default=0)
    for nid, node in graph.nodes.items():
        if node.type == "Output":
            depth[nid] = last
    layers: list[list[str]] = [[] for _ in range(last + 1)]
    index = {nid: i for i, nid in enumerate(graph.nodes)}
    for nid in sorted(depth, key=lambda n: index[n]):
        layers[depth[nid]].append(nid)
    order: dict[str, float] = {}
    for layer in layers:
        def key(nid: str) -> tuple[float, int]:
            preds = [order[p] for p in g.predecessors(nid) if p in order]
            return (sum(preds) / len(preds) if preds else float(index[nid]), index[nid])
        layer.sort(key=key)
        for i, nid in enumerate(layer):
            order[nid] = float(i)
    return [layer for layer in layers if layer]


def layout_positions(graph: ModelGraph) -> dict[str, tuple[float, float]]:
    """Canvas positions: columns X_STEP apart, each column centred vertically on 0."""
    pos: dict[str, tuple[float, float]] = {}
    for col, layer in enumerate(layers_of(graph)):
        top = -(len(layer) - 1) * Y_STEP / 2
        for row, nid in enumerate(layer):
            pos[nid] = (col * X_STEP, top + row * Y_STEP)
    return pos


def apply_layout(graph: ModelGraph) -> None:
    """Move every node to its layered position (primitive calls: used on freshly imported graphs)."""
    for nid, p in layout_positions(graph).items():
        graph._set_position(nid, p)
