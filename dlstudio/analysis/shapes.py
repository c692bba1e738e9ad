"""Shape inference over a ModelGraph with the specs' pure-Python rules.

`infer_all` runs one full pass and is what the compiler and exporters use. The live editor, `dls.check` and
`dlstudio check` use the incremental `engine.AnalysisEngine` (per-node step in `evaluate.py`), which also
reports diagnostics and statistics; a test checks that both agree on every registered layer type.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ..core.errors import DlstudioError, ParamError, ShapeError, UnknownLayerError
from ..core.graph import Edge, ModelGraph, Node
from ..core.tensor import TensorInfo
from ..layers.registry import REGISTRY
from ..layers.spec import LayerSpec
from .oracle import run_shape_rule
from .ports import gather_inputs, output_index


@dataclass
class ShapeResult:
    outputs: dict[str, list[TensorInfo]] = field(default_factory=dict)  # node id -> one per output port
    inputs: dict[str, list[TensorInfo | None]] = field(default_factory=dict)
    params: dict[str, dict] = field(default_factory=dict)  # resolved (validated) parameters
    errors: dict[str, DlstudioError] = field(default_factory=dict)  # node id -> first error


def spec_of(node: Node) -> LayerSpec:
    return REGISTRY.get(node.type)


def infer_node(graph: ModelGraph, node: Node, result: ShapeResult) -> list[TensorInfo] | None:
    """Infer one node from its inputs already in `result`. Records params/inputs/outputs or an error."""
    try:
        spec = spec_of(node)
    except UnknownLayerError as exc:
        result.errors[node.id] = exc
        return None
    try:
        params = spec.resolve_params(node.params)
    except ParamError as exc:
        result.errors[node.id] = exc
        return None
    result.params[node.id] = params

    def value_of(edge: Edge) -> TensorInfo | None:
        outs = result.outputs.get(edge.src)
        if outs is None:
            return None
        i = output_index(graph, lambda n: spec_of(n), edge)
        return outs[i] if 0 <= i < len(outs) else None

    inputs = gather_inputs(graph, node, spec, value_of)
    result.inputs[node.id] = inputs
    upstream_missing = any(result.outputs.get(e.src) is None for e in graph.in_edges(node.id))
    if upstream_missing:
        return None  # the upstream node carries the error
    try:
        outs = run_shape_rule(spec, params, inputs)
    except ShapeError as exc:
        result.errors[node.id] = exc
        return None
    except (ArithmeticError, ValueError, TypeError, IndexError, KeyError) as exc:
        result.errors[node.id] = ShapeError(f"{node.type} cannot work with these inputs/parameters: {exc}")
        return None
    result.outputs[node.id] = outs
    return outs


def infer_all(graph: ModelGraph) -> ShapeResult:
    result = ShapeResult()
    if graph.has_cycle():
        return result
    for nid in graph.topological_order():
        infer_node(graph, graph.node(nid), result)
    return result
