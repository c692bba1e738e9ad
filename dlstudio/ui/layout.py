"""Layered left-to-right auto-layout (pure networkx, no Qt), used by the canvas and the benchmark."""
from __future__ import annotations

from typing import Iterable

import networkx as nx

from ..core.graph import ModelGraph

X_STEP = 240.0
Y_STEP = 130.0


def layered_positions(graph: ModelGraph, node_ids: Iterable[str] | None = None,
                      origin: tuple[float, float] | None = None) -> dict[str, tuple[float, float]]:
    """Positions for `node_ids` (default: all): one column per topological generation, rows ordered by the
    mean row of their predecessors (one barycentre sweep keeps wires mostly straight)."""
    ids = list(graph.nodes) if node_ids is None else [n for n in node_ids if n in graph]
    if not ids:
        return {}
    sub = graph.nx.subgraph(ids)
    simple = nx.DiGraph(sub)
    if not nx.is_directed_acyclic_graph(simple):
        # A cycle is a diagnostic, not a reason to refuse layout: drop back edges found by DFS.
        simple.remove_edges_from(list(nx.find_cycle(simple)))
        while not nx.is_directed_acyclic_graph(simple):
            simple.remove_edges_from(list(nx.find_cycle(simple))[:1])
    order = {nid: i for i, nid in enumerate(ids)}
    row: dict[str, float] = {}
    columns: list[list[str]] = []
    for gen in nx.topological_generations(simple):
        def key(n: str) -> tuple[float, int]:
            preds = [row[p] for p in simple.predecessors(n) if p in row]
            return (sum(preds) / len(preds) if preds else float(order[n]), order[n])
        col = sorted(gen, key=key)
        for i, n in enumerate(col):
            row[n] = float(i)
        columns.append(col)
    if origin is None:
        xs = [graph.node(n).position[0] for n in ids]
        ys = [graph.node(n).position[1] for n in ids]
        origin = (min(xs), min(ys)) if node_ids is not None else (0.0, 0.0)
    tallest = max(len(c) for c in columns)
    out: dict[str, tuple[float, float]] = {}
    for ci, col in enumerate(columns):
        # centre short columns against the tallest one
        offset = (tallest - len(col)) * Y_STEP / 2.0
        for ri, n in enumerate(col):
            out[n] = (origin[0] + ci * X_STEP, origin[1] + offset + ri * Y_STEP)
    return out
