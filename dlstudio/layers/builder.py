"""`Graph`: a ModelGraph with builder helpers (`g.add("Conv2d", x, out_channels=6)`), and `Ref`, one output port.

It lives at the layers level (it reads the specs to validate parameters and name ports), below every package that
builds graphs: io, importers, training and the API facade all take it from here.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ..core.edits import AddNode, Connect
from ..core.errors import GraphError
from ..core.graph import Edge, ModelGraph, Node
from .registry import REGISTRY


@dataclass(frozen=True)
class Ref:
    """One output port of a node: what `Graph.add` returns and accepts as inputs.

    `ref[1]` or `ref["h_n"]` picks another output port of the same node.
    """

    graph: Graph
    node_id: str
    port: str

    def __getitem__(self, key: int | str) -> Ref:
        node = self.graph.node(self.node_id)
        ports = REGISTRY.get(node.type).output_ports(node.params)
        if isinstance(key, int):
            if not 0 <= key < len(ports):
                raise GraphError(f"{node.type} '{node.label}' has {len(ports)} output(s); index {key} is out of range")
            return Ref(self.graph, self.node_id, ports[key].name)
        if key not in [p.name for p in ports]:
            raise GraphError(f"{node.type} '{node.label}' has no output {key!r}")
        return Ref(self.graph, self.node_id, key)

    @property
    def node(self) -> Node:
        return self.graph.node(self.node_id)


class Graph(ModelGraph):
    """A ModelGraph with builder helpers that place nodes left to right."""

    _X_STEP = 220.0

    def _place(self, inputs: tuple[Ref, ...]) -> tuple[float, float]:
        if not inputs:
            n_inputs = len(self.nodes_of_type("Input"))
            return (0.0, 140.0 * n_inputs)
        xs = [self.node(r.node_id).position[0] for r in inputs]
        ys = [self.node(r.node_id).position[1] for r in inputs]
        return (max(xs) + self._X_STEP, sum(ys) / len(ys))

    def add(self, type_name: str, *inputs: Ref, label: str | None = None, **params: Any) -> Ref:
        """Add a node of `type_name` fed by `inputs` (positional, in port order; a many-port takes all the
        rest). Parameters are validated now; returns a Ref to the first output port."""
        spec = REGISTRY.get(type_name)
        resolved = spec.resolve_params(params)  # raises ParamError with the reason
        stored = {k: v for k, v in resolved.items() if k in params}
        node = Node(
            id=self.new_id("n"),
            type=spec.type,
            label=self.unique_label(label or _default_label(spec.type)),
            params=stored,
            position=self._place(inputs),
            type_version=spec.version,
        )
        AddNode(node).apply(self)
        ports = list(spec.inputs)
        pi = 0
        for ref in inputs:
            if not isinstance(ref, Ref):
                raise GraphError(f"Inputs to {type_name} must be the results of g.input/g.add, got {ref!r}")
            if pi >= len(ports):
                raise GraphError(f"{type_name} takes {len(ports)} input(s) but {len(inputs)} were given")
            port = ports[pi]
            slot = self.next_slot(node.id, port.name) if port.many else 0
            Connect(Edge(ref.node_id, ref.port, node.id, port.name, slot)).apply(self)
            if not port.many:
                pi += 1
        outs = spec.output_ports(resolved)
        return Ref(self, node.id, outs[0].name if outs else "")

    def input(self, name: str, shape: tuple[int, ...] | list[int], dtype: str = "float32") -> Ref:
        return self.add("Input", label=name, shape=tuple(shape), dtype=dtype)

    def output(self, name: str, value: Ref) -> Ref:
        return self.add("Output", value, label=name)

    def connect(self, src: Ref, dst_node: Ref | str, port: str | None = None) -> Edge:
        """Wire `src` into a node's input `port` (default: its first port)."""
        dst_id = dst_node.node_id if isinstance(dst_node, Ref) else dst_node
        spec = REGISTRY.get(self.node(dst_id).type)
        if not spec.inputs:
            raise GraphError(f"{spec.type} has no inputs")
        p = spec.input_port(port) if port else spec.inputs[0]
        slot = self.next_slot(dst_id, p.name) if p.many else 0
        edge = Edge(src.node_id, src.port, dst_id, p.name, slot)
        Connect(edge).apply(self)
        return edge

    def find(self, label: str) -> Node:
        for n in self.nodes.values():
            if n.label == label:
                return n
        raise GraphError(f"No node labelled {label!r}")


def _default_label(type_name: str) -> str:
    return type_name.lower()
