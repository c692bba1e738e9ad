"""Port resolution: which tensors arrive at a node's inputs, in the order its spec's rules expect."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ..core.graph import Edge, ModelGraph, Node
from ..layers.spec import LayerSpec


def output_index(graph: ModelGraph, spec_of: Callable[[Node], LayerSpec], edge: Edge) -> int:
    """Index of the edge's source port among its node's output ports (-1 if the port does not exist)."""
    src = graph.node(edge.src)
    ports = spec_of(src).output_ports(src.params)
    for i, p in enumerate(ports):
        if p.name == edge.src_port:
            return i
    return -1


def gather_inputs(graph: ModelGraph, node: Node, spec: LayerSpec, value_of: Callable[[Edge], Any]) -> list[Any]:
    """Values for the node's inputs in port order: a many-port contributes one value per wire (slot order);
    an unwired single port contributes None."""
    by_port: dict[str, list[Edge]] = {}
    for e in graph.in_edges(node.id):
        by_port.setdefault(e.dst_port, []).append(e)
    out: list[Any] = []
    for port in spec.inputs:
        edges = sorted(by_port.get(port.name, []), key=lambda e: e.slot)
        if port.many:
            out.extend(value_of(e) for e in edges)
        else:
            out.append(value_of(edges[0]) if edges else None)
    return out
