"""What both importers share: the import context (the graph being built, its shapes and weights), the values that
stand for the source model's tensors, the ONNX op-handler registry and the result type.

Importers are pure functions returning an `ImportResult`; saving it as a project is the caller's step
(dlstudio.io.imported.save_import), so nothing here imports io, export or the API.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..analysis.shapes import ShapeResult, infer_node
from ..compiler.report import Report
from ..core.edits import AddNode, Connect
from ..core.errors import DlstudioError
from ..core.graph import Edge, Node
from ..core.tensor import TensorInfo
from ..layers.builder import Graph
from ..layers.registry import REGISTRY


class Unsupported(Exception):
    """Raised by an op handler: this node cannot be expressed with catalog layers (the reason says why)."""


@dataclass
class Value:
    """A dlstudio output port standing for a tensor of the source model (an ONNX value, a traced torch.fx
    node's result). `layout` is "" when the ONNX tensor is exactly the
    port's tensor; recurrent ops in time-major form give views of it ("seq_first": the port's tensor with dims
    0 and 1 swapped; "rnn_y0"/"rnn_y1": ONNX's 4-D Y of a single-layer RNN; "rnn_y0_t": Y with dims 1 and 2
    swapped). Only the recurrent handlers and Transpose/Squeeze/Reshape accept views."""

    node_id: str
    port: str
    info: TensorInfo
    layout: str = ""
    dirs: int = 1


@dataclass
class ImportResult:
    """The imported graph, its weights keyed ``<node id>.<tensor>``, and a report."""

    graph: Graph
    weights: dict[str, Any]
    report: Report
    input_names: list[str] = field(default_factory=list)
    output_names: list[str] = field(default_factory=list)
    constants: dict[str, Any] = field(default_factory=dict)  # frozen graph inputs

    def compile(self):
        """The compiled model with the imported weights loaded (eval mode)."""
        from ..compiler.build import compile_graph
        from ..compiler.weights import load_weights

        model = compile_graph(self.graph, seed=0)
        if self.weights:
            load_weights(model, self.graph, self.weights, strict=True)
        return model.eval()


class Context:
    """What an op handler sees: constants, values with dlstudio shapes, and helpers to add layers."""

    def __init__(self, opset: int, consumers: dict[str, int]) -> None:
        self.graph = Graph()
        self.shapes = ShapeResult()
        self.values: dict[str, Value] = {}
        self.consts: dict[str, np.ndarray] = {}
        self.static_shapes: dict[str, tuple[int, ...]] = {}  # concrete ONNX shapes (incl. batch) when known
        self.weights: dict[str, Any] = {}
        self.opset = opset
        self.consumers = consumers
        self.producer: dict[str, str] = {}  # onnx value -> node id that produced it
        self.batch_tainted: set[str] = set()  # folded with a stand-in batch size of 1 (Shape of a dynamic batch)
        self.file_batch: int | None = None  # the batch size the file's inputs fix, if they do
        self.fixed_batch: list[tuple[str, int, str]] = []  # generic ops whose shapes hold only at that batch

    # ---------------------------------------------------------------- reads
    def is_const(self, name: str) -> bool:
        return name in self.consts

    def const(self, name: str, batch_ok: bool = False) -> np.ndarray:
        if name not in self.consts:
            raise Unsupported(f"input {name!r} must be a constant (weights computed at run time are not supported)")
        if name in self.batch_tainted and not batch_ok:
            raise Unsupported(f"input {name!r} depends on the batch size")
        return self.consts[name]

    def raw_value(self, name: str) -> Value:
        """The value, views (time-major recurrent tensors) included."""
        if name in self.values:
            return self.values[name]
        return self.value(name)

    def value(self, name: str) -> Value:
        if name in self.values:
            v = self.values[name]
            if v.layout:
                raise Unsupported(
                    f"input {name!r} is a time-major recurrent tensor ({v.layout}); only the "
                    f"transposes back to batch-first are supported"
                )
            return v
        if name in self.consts:
            raise Unsupported(f"input {name!r} is a constant tensor where a layer input is expected")
        raise Unsupported(f"input {name!r} is not available")

    def rank(self, name: str) -> int:
        return self.value(name).info.rank

    # --------------------------------------------------------------- writes
    def add(
        self,
        type_name: str,
        inputs: list[Value],
        params: dict[str, Any] | None = None,
        weights: dict[str, Any] | None = None,
        label: str = "",
    ) -> list[Value]:
        """Add one layer fed by `inputs` (in port order; a many-port takes the rest) and infer its shape."""
        if type_name not in REGISTRY:
            raise Unsupported(f"the catalog has no {type_name} layer yet")
        spec = REGISTRY.get(type_name)
        params = dict(params or {})
        try:
            spec.resolve_params(params)
        except DlstudioError as exc:
            raise Unsupported(f"{type_name}: {exc}") from None
        g = self.graph
        node = Node(
            id=g.new_id("n"),
            type=spec.type,
            label=g.unique_label(label or type_name.lower()),
            params=params,
            type_version=spec.version,
        )
        AddNode(node).apply(g)
        ports = list(spec.inputs)
        pi = 0
        for v in inputs:
            port = ports[min(pi, len(ports) - 1)]
            slot = g.next_slot(node.id, port.name) if port.many else 0
            Connect(Edge(v.node_id, v.port, node.id, port.name, slot)).apply(g)
            if not port.many:
                pi += 1
        outs = infer_node(g, node, self.shapes)
        if outs is None:
            err = self.shapes.errors.get(node.id)
            raise Unsupported(f"{type_name} does not fit here: {err}")
        if weights:
            for k, t in weights.items():
                arr = np.asarray(t)  # np.array (not ascontiguousarray) keeps 0-d tensors 0-d
                self.weights[f"{node.id}.{k}"] = np.array(arr, dtype=np.float32 if arr.dtype.kind == "f" else None)
        port_specs = spec.output_ports(self.shapes.params[node.id])
        return [Value(node.id, p.name, info) for p, info in zip(port_specs, outs)]

    def set_param(self, node_id: str, name: str, value: Any) -> None:
        """Change a parameter of a node added earlier (bias fusion) and re-infer it."""
        self.graph._set_param(node_id, name, value)
        infer_node(self.graph, self.graph.node(node_id), self.shapes)

    def bind(self, name: str, value: Value) -> None:
        self.values[name] = value
        self.producer[name] = value.node_id


# ------------------------------------------------------------------------------------------ op handlers
Handler = Callable[[Context, Any, str], None]
HANDLERS: dict[str, Handler] = {}  # ONNX op type -> handler; filled by importing dlstudio.importers.onnx_ops


def handles(*ops: str) -> Callable[[Handler], Handler]:
    def deco(fn: Handler) -> Handler:
        for op in ops:
            HANDLERS[op] = fn
        return fn

    return deco
