"""Blocks seen from outside: the wires that cross a block's boundary (its ports when collapsed) and its numbers
summed over everything nested in it. Pure Python over the graph and per-node statistics, so the canvas, the
check report and scripts agree on what a block holds."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from ..core.graph import Edge, ModelGraph
from ..core.tensor import TensorInfo
from .diagnostics import NodeStats, human_count, tensor_dict


def block_boundary(graph: ModelGraph, group_id: str) -> tuple[list[Edge], list[Edge]]:
    """The wires entering and leaving a block (all it holds, nested blocks included), in graph order: a
    collapsed block's input and output ports."""
    members = graph.group_nodes_deep(group_id)
    inside = set(members)
    entering = [e for n in members for e in graph.in_edges(n) if e.src not in inside]
    leaving = [e for n in members for e in graph.out_edges(n) if e.dst not in inside]
    return entering, leaving


@dataclass(frozen=True)
class BlockSummary:
    """One block: where it sits, what it holds (deep) and the tensors on its ports (None: not inferred)."""

    id: str
    label: str
    parent: str | None
    depth: int
    layers: int  # nodes in it and in its nested blocks
    blocks: int  # direct child blocks
    params: int
    frozen: int
    macs: int
    inputs: tuple[TensorInfo | None, ...]
    outputs: tuple[TensorInfo | None, ...]

    def to_dict(self) -> dict[str, Any]:
        def shape(t: TensorInfo | None) -> Any:
            return tensor_dict(t) if t is not None else None

        return {
            "id": self.id,
            "label": self.label,
            "parent": self.parent,
            "depth": self.depth,
            "layers": self.layers,
            "blocks": self.blocks,
            "params": self.params,
            "frozen": self.frozen,
            "macs": self.macs,
            "inputs": [shape(t) for t in self.inputs],
            "outputs": [shape(t) for t in self.outputs],
        }


def block_summaries(
    graph: ModelGraph,
    stats: Mapping[str, NodeStats],
    edge_shape: Callable[[Edge], TensorInfo | None] | None = None,
) -> list[BlockSummary]:
    """Every block, parents before children and siblings in order (the outline's order), with its numbers
    summed over everything nested in it. `edge_shape` gives a wire's tensor (AnalysisEngine.edge_shape)."""
    out: list[BlockSummary] = []

    def ports(edges: list[Edge]) -> tuple[TensorInfo | None, ...]:
        values = list(dict.fromkeys((e.src, e.src_port) for e in edges))  # one port per value, not per wire
        first = {(e.src, e.src_port): e for e in reversed(edges)}
        return tuple(edge_shape(first[v]) if edge_shape else None for v in values)

    def visit(level: str | None, depth: int) -> None:
        for gid in graph.child_groups(level):
            members = graph.group_nodes_deep(gid)
            entering, leaving = block_boundary(graph, gid)
            node_stats = [stats[n] for n in members if n in stats]
            out.append(
                BlockSummary(
                    id=gid,
                    label=graph.group(gid).label,
                    parent=level,
                    depth=depth,
                    layers=len(members),
                    blocks=len(graph.child_groups(gid)),
                    params=sum(s.params for s in node_stats),
                    frozen=sum(s.frozen for s in node_stats),
                    macs=sum(s.macs for s in node_stats),
                    inputs=ports(entering),
                    outputs=ports(leaving),
                )
            )
            visit(gid, depth + 1)

    visit(None, 0)
    return out


def format_block_tree(summaries: list[BlockSummary]) -> str:
    """The blocks as an indented tree, one line each: label, what it holds, parameters and MACs."""
    if not summaries:
        return ""
    rows = []
    for s in summaries:
        holds = f"{s.layers} layer{'s' * (s.layers != 1)}" + (
            f", {s.blocks} block{'s' * (s.blocks != 1)}" if s.blocks else ""
        )
        rows.append(("  " * s.depth + s.label, holds, f"{s.params:,}", human_count(s.macs)))
    header = ("block", "holds", "params", "MACs")
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(4)]

    def fmt(row: tuple[str, ...]) -> str:
        return "  ".join(c.ljust(w) if i < 2 else c.rjust(w) for i, (c, w) in enumerate(zip(row, widths))).rstrip()

    return "\n".join([fmt(header), "  ".join("-" * w for w in widths), *(fmt(r) for r in rows)])
