"""One node's analysis step: resolve its spec and parameters, check its wires, run its shape rule, count its
parameters and MACs. Pure function of the node, its wires and its upstream states, so the incremental engine
and a fresh full pass give the same answer.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ..core.errors import ParamError, ShapeError, UnknownLayerError
from ..core.graph import Edge, ModelGraph, Node
from ..core.tensor import DTYPES, TensorInfo
from ..layers.registry import REGISTRY
from ..layers.spec import LayerSpec
from . import diagnostics as D
from .diagnostics import DTYPE_BYTES, Diagnostic, NodeStats
from .oracle import run_shape_rule

# Exceptions a buggy or over-strict rule may raise on odd inputs; reported as a shape problem on the node.
RULE_ERRORS = (ArithmeticError, ValueError, TypeError, IndexError, KeyError, AttributeError)


@dataclass
class NodeState:
    """What the engine knows about one node after its last evaluation."""

    spec: LayerSpec | None
    params: dict[str, Any] | None
    inputs: list[TensorInfo | None] | None
    outputs: tuple[TensorInfo, ...] | None
    ports: dict[str, int]  # output port name -> index
    reached: bool | None  # a path from some Input arrives here (None: on/after a cycle)
    diags: tuple[Diagnostic, ...]
    stats: NodeStats

    def signature(self) -> tuple[Any, ...]:
        """What successors read: when it does not change, propagation stops here."""
        return (self.outputs, self.ports, self.reached)


def pred_of(graph: ModelGraph) -> dict[str, dict[str, dict[Edge, dict]]]:
    """networkx's raw predecessor table (node -> source -> {Edge: attrs}); read only. Going around the
    AtlasView wrappers halves the cost of the hot loops."""
    return graph.nx._pred


def succ_of(graph: ModelGraph) -> dict[str, dict[str, dict[Edge, dict]]]:
    return graph.nx._succ


_INPUT_NAMES: dict[int, frozenset[str]] = {}
_STATIC_OUTPUTS: dict[int, dict[str, int]] = {}


def _input_names(spec: LayerSpec) -> frozenset[str]:
    names = _INPUT_NAMES.get(id(spec))
    if names is None:
        names = _INPUT_NAMES[id(spec)] = frozenset(p.name for p in spec.inputs)
    return names


def _output_index(spec: LayerSpec, params: dict[str, Any] | None) -> dict[str, int]:
    """Output port name -> index; cached per spec unless its ports depend on the parameters."""
    if spec.dynamic_outputs is not None:
        return {p.name: i for i, p in enumerate(spec.output_ports(params))}
    ports = _STATIC_OUTPUTS.get(id(spec))
    if ports is None:
        ports = _STATIC_OUTPUTS[id(spec)] = {p.name: i for i, p in enumerate(spec.outputs)}
    return ports


def label_of(node: Node) -> str:
    return f"{node.type} '{node.label}'"


def spec_or_error(node: Node) -> tuple[LayerSpec | None, Diagnostic | None]:
    try:
        return REGISTRY.get(node.type), None
    except UnknownLayerError as exc:
        return None, Diagnostic(
            "error",
            D.UNKNOWN_TYPE,
            f"{label_of(node)}: {exc} Replace the node with a registered type (`dlstudio layers` lists them).",
            node.id,
        )


def _numel_bytes(t: TensorInfo) -> int:
    n = 1
    for d in t.shape[1:]:
        if not isinstance(d, int):
            return 0
        n *= d
    return n * DTYPE_BYTES.get(t.dtype, 4)


def _int_rule(rule: Callable[..., Any], *args: Any) -> int:
    try:
        value = rule(*args)
    except (ShapeError, ParamError, *RULE_ERRORS):
        return 0
    return int(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else 0


def evaluate_node(
    graph: ModelGraph,
    node: Node,
    spec: LayerSpec | None,
    spec_diag: Diagnostic | None,
    upstream: Callable[[str], NodeState | None],
    blocked: bool,
) -> NodeState:
    """Evaluate one node. `upstream(id)` returns a predecessor's current state; `blocked`: the node is on or
    after a cycle, so no tensors reach it (the cycle itself is reported once, by the engine)."""
    nid = node.id
    if spec is None:
        reached = None if blocked else _reached(pred_of(graph)[nid], node, upstream)
        return NodeState(None, None, None, None, {}, reached, (spec_diag,) if spec_diag else (), NodeStats(nid))
    diags: list[Diagnostic] = []
    name = label_of(node)  # cheap, and most messages need it

    # -- wires: unknown ports, several wires into a one-wire port, required ports left empty
    preds = pred_of(graph)[nid]
    by_port: dict[str, list[Edge]] = {}
    for keys in preds.values():
        for e in keys:
            wires = by_port.get(e.dst_port)
            if wires is None:
                by_port[e.dst_port] = [e]
            else:
                wires.append(e)
    in_ports = spec.inputs
    structural = False
    known = _input_names(spec)
    if by_port and not known.issuperset(by_port):
        for pname in sorted(by_port):
            if pname not in known:
                structural = True
                have = ", ".join(sorted(known)) or "none"
                diags.append(
                    Diagnostic(
                        "error",
                        D.UNKNOWN_PORT,
                        f"{name} has no input '{pname}' (inputs: {have}): delete that wire and "
                        f"connect one of its inputs",
                        nid,
                        port=pname,
                    )
                )
    for p in in_ports:
        wires = by_port.get(p.name)
        if not wires:
            if not p.optional:
                structural = True
                hint = "wire the last layer into it" if node.type == "Output" else "wire a layer's output into it"
                diags.append(
                    Diagnostic(
                        "error",
                        D.UNCONNECTED_INPUT,
                        f"{name}: input '{p.name}' is not connected: {hint}",
                        nid,
                        port=p.name,
                    )
                )
        elif not p.many and len(wires) > 1:
            structural = True
            diags.append(
                Diagnostic(
                    "error",
                    D.TOO_MANY_INPUTS,
                    f"{name}: input '{p.name}' takes one wire but {len(wires)} are connected: "
                    f"remove the extra wires, or join them first with Add or Concat",
                    nid,
                    port=p.name,
                )
            )

    # -- parameters
    params: dict[str, Any] | None
    try:
        params = spec.resolve_params(node.params)
    except ParamError as exc:
        params = None
        diags.append(Diagnostic("error", D.INVALID_PARAM, f"{name}: {exc}", nid, param=exc.param))
    ports = _output_index(spec, params)

    reached = None if blocked else _reached(preds, node, upstream)
    if not blocked and not reached and not structural and node.type != "Input":
        diags.append(
            Diagnostic(
                "error",
                D.UNREACHABLE,
                f"{name} is not reachable from any Input: connect its chain to an Input or delete it",
                nid,
            )
        )
    if blocked or structural or params is None:
        return NodeState(spec, params, None, None, ports, reached, tuple(diags), NodeStats(nid))

    # -- incoming tensors, in port order
    inputs: list[TensorInfo | None] = []
    missing = False
    for p in in_ports:
        wires = by_port.get(p.name)
        if not wires:
            inputs.append(None)
            continue
        if len(wires) > 1:
            wires = sorted(wires, key=_slot) if p.many else wires[:1]
        for e in wires:
            src = upstream(e.src)
            if src is None or src.outputs is None:
                missing = True
                inputs.append(None)
                continue
            idx = src.ports.get(e.src_port)
            if idx is None or idx >= len(src.outputs):
                missing = True
                inputs.append(None)
                src_node = graph.nodes[e.src]
                diags.append(
                    Diagnostic(
                        "error",
                        D.UNKNOWN_PORT,
                        f"{name}: the wire into '{p.name}' comes from output '{e.src_port}', "
                        f"which {label_of(src_node)} does not have: rewire it from one of its "
                        f"outputs ({', '.join(src.ports) or 'none'})",
                        nid,
                        port=p.name,
                    )
                )
                continue
            t = src.outputs[idx]
            bad = _dtype_problem(p.dtype, t)
            if bad:
                diags.append(
                    Diagnostic(
                        "error",
                        D.WRONG_DTYPE,
                        f"{name}: input '{p.name}' {bad}",
                        nid,
                        port=p.name,
                        expected="int64" if p.dtype == "int" else "float32",
                        got=t.dtype,
                    )
                )
                missing = True
            inputs.append(t)
    if missing:
        return NodeState(spec, params, inputs, None, ports, reached, tuple(diags), NodeStats(nid))

    # -- shape rule
    try:
        outputs = tuple(run_shape_rule(spec, params, inputs))
    except ShapeError as exc:
        is_dtype = exc.expected in DTYPES and exc.got in DTYPES
        # a rule blaming a parameter and no input (kernel larger than the input) reports an invalid value
        code = D.WRONG_DTYPE if is_dtype else D.INVALID_PARAM if exc.param and not exc.port else D.SHAPE_MISMATCH
        diags.append(
            Diagnostic(
                "error",
                code,
                _with_name(name, node.type, str(exc)),
                nid,
                port=exc.port,
                param=exc.param,
                expected=None if exc.expected is None else str(exc.expected),
                got=None if exc.got is None else str(exc.got),
            )
        )
        return NodeState(spec, params, inputs, None, ports, reached, tuple(diags), NodeStats(nid))
    except ParamError as exc:  # a rule that validates a combination of parameters itself
        diags.append(Diagnostic("error", D.INVALID_PARAM, f"{name}: {exc}", nid, param=exc.param))
        return NodeState(spec, params, inputs, None, ports, reached, tuple(diags), NodeStats(nid))
    except RULE_ERRORS as exc:
        diags.append(
            Diagnostic(
                "error",
                D.SHAPE_MISMATCH,
                f"{name} cannot work with these inputs and parameters ({exc}): check its "
                f"parameters against the incoming shape {', '.join(str(t) for t in inputs)}",
                nid,
            )
        )
        return NodeState(spec, params, inputs, None, ports, reached, tuple(diags), NodeStats(nid))

    count = _int_rule(spec.param_count, params, inputs)
    macs = _int_rule(spec.macs, params, inputs, list(outputs))
    act = sum(_numel_bytes(t) for t in outputs)
    stats = NodeStats(nid, outputs, count, 0 if node.frozen else count, count if node.frozen else 0, macs, act)
    return NodeState(spec, params, inputs, outputs, ports, reached, tuple(diags), stats)


def _slot(edge: Edge) -> int:
    return edge.slot


def _with_name(name: str, type_name: str, message: str) -> str:
    """Prefix a rule's message with the node's type and label, without repeating the type."""
    if message.startswith(type_name + ": "):
        return f"{name}: {message[len(type_name) + 2 :]}"
    if message.startswith(type_name + " "):
        return f"{name} {message[len(type_name) + 1 :]}"
    return f"{name}: {message}"


def _reached(preds: dict[str, Any], node: Node, upstream: Callable[[str], NodeState | None]) -> bool:
    if node.type == "Input":
        return True
    for src in preds:
        st = upstream(src)
        if st is not None and st.reached:
            return True
    return False


def _dtype_problem(port_dtype: str, t: TensorInfo) -> str | None:
    if port_dtype == "float" and t.dtype == "int64":
        return (
            f"expects float values but receives {t}: only Embedding takes integer indices; "
            f"feed them through an Embedding or make the Input float32"
        )
    if port_dtype == "int" and t.dtype == "float32":
        return (
            f"expects integer indices but receives float32 {t}: set the Input's dtype to int64 (token or class indices)"
        )
    return None
