"""Compile a ModelGraph into a torch.fx.GraphModule.

The compiled module makes the same calls a hand-written module would: one submodule per layer node (attribute
names from labels, safe and unique), call_function for parameter-free merges, groups as nested GraphModules.
Inputs are placeholders named after the Input nodes (in node order); one Output returns a tensor, several
return a tuple in Output-node order.
"""

from __future__ import annotations

import importlib
import operator
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import torch
import torch.fx as fx
from torch import nn

from ..analysis.ports import gather_inputs, output_index
from ..analysis.shapes import ShapeResult, infer_all, spec_of
from ..core.errors import CompileError
from ..core.graph import Edge, ModelGraph, Node
from ..core.tensor import TensorInfo
from ..layers.spec import LayerSpec
from . import oracle as _oracle  # noqa: F401  (registers the torch shape oracle for generic ops)
from .names import Namespace, class_identifier


def resolve_dotted(path: str) -> Any:
    module_name, _, attr = path.rpartition(".")
    obj: Any = importlib.import_module(module_name)
    return getattr(obj, attr)


class EmitContext:
    """Handed to a spec's `emit(ctx, args)` hook; adds fx nodes on behalf of one graph node."""

    def __init__(
        self,
        builder: _Builder,
        node: Node,
        spec: LayerSpec,
        params: dict,
        inputs: list[TensorInfo | None],
        outputs: list[TensorInfo],
    ) -> None:
        self._b = builder
        self.node = node
        self.spec = spec
        self.params = params
        self.inputs = inputs
        self.outputs = outputs

    def make_module(self) -> nn.Module:
        """Instantiate the spec's torch class with its kwargs."""
        if self.spec.module is None:
            raise CompileError(f"{self.spec.type} names no torch module", self.node.id)
        cls = resolve_dotted(self.spec.module)
        return cls(**self.spec.torch_kwargs(self.params, self.inputs))

    def module(self, args: Sequence[Any], kwargs: dict | None = None) -> fx.Node:
        """Instantiate the spec's module, register it under the node's name and call it."""
        return self.call_module(self.make_module(), args, kwargs)

    def resolve(self, path: str) -> Any:
        """A torch object by dotted path ('torch.cat', 'torch.bool', 'torch.nn.LayerNorm'): the specs in
        dlstudio.layers name torch this way and never import it, not even inside a hook."""
        return resolve_dotted(path)

    def call_module(
        self, module: nn.Module, args: Sequence[Any], kwargs: dict | None = None, suffix: str = ""
    ) -> fx.Node:
        name = self._b.register_module(self.node, module, suffix)
        return self._b.graph.call_module(name, tuple(args), kwargs or {})

    def call_function(self, fn: Callable, args: Sequence[Any], kwargs: dict | None = None) -> fx.Node:
        return self._b.graph.call_function(fn, tuple(args), kwargs or {})

    def call_method(self, name: str, args: Sequence[Any], kwargs: dict | None = None) -> fx.Node:
        return self._b.graph.call_method(name, tuple(args), kwargs or {})

    def getitem(self, value: Any, index: Any) -> fx.Node:
        return self._b.graph.call_function(operator.getitem, (value, index))


@dataclass
class _Builder:
    graph: fx.Graph
    root: nn.Module
    names: Namespace
    paths: dict[str, str] = field(default_factory=dict)  # node id -> attribute path inside this (sub)module
    frozen: list[nn.Module] = field(default_factory=list)

    def register_module(self, node: Node, module: nn.Module, suffix: str = "") -> str:
        name = self.names.create(node.label + (f"_{suffix}" if suffix else ""), fallback=node.type.lower())
        self.root.add_module(name, module)
        if not suffix:
            self.paths[node.id] = name
        if node.frozen:
            self.frozen.append(module)
        return name


def _emit_node(
    b: _Builder, graph: ModelGraph, node: Node, shapes: ShapeResult, env: dict[tuple[str, int], Any]
) -> None:
    spec = spec_of(node)
    params = shapes.params[node.id]

    def value_of(edge: Edge) -> Any:
        return env[(edge.src, output_index(graph, spec_of, edge))]

    args = gather_inputs(graph, node, spec, value_of)
    ctx = EmitContext(b, node, spec, params, shapes.inputs[node.id], shapes.outputs[node.id])
    n_out = len(spec.output_ports(params))
    try:
        if spec.emit is not None:
            outs = list(spec.emit(ctx, args))
        elif spec.module is not None:
            value = ctx.module([a for a in args if a is not None])
            outs = [value] if n_out == 1 else [ctx.getitem(value, i) for i in range(n_out)]
        elif spec.function is not None:
            fn = resolve_dotted(spec.function)
            value = ctx.call_function(fn, [a for a in args if a is not None], spec.torch_kwargs(params, ctx.inputs))
            outs = [value] if n_out == 1 else [ctx.getitem(value, i) for i in range(n_out)]
        else:
            raise CompileError(f"{node.type} '{node.label}' has no torch implementation", node.id)
    except CompileError:
        raise
    except Exception as exc:  # a torch constructor rejecting the values: name the node
        raise CompileError(f"Cannot build {node.type} '{node.label}': {exc}", node.id) from exc
    for i, v in enumerate(outs):
        env[(node.id, i)] = v


def _level_order(
    graph: ModelGraph, level: str | None, members: list[str], topo: dict[str, int]
) -> list[tuple[str, str]]:
    """The items seen inside block `level` (None: the top level), in topological order: ('node', id) for its
    direct nodes, ('group', id) for its child blocks. `members` are every node inside `level`. Raises when a
    child block is not self-contained at this level (a path leaves it and comes back in)."""
    import networkx as nx

    owner: dict[str, tuple[str, str]] = {}
    for nid in members:
        holder = graph.owner_at(nid, level)
        assert holder is not None
        owner[nid] = ("node", nid) if holder == nid else ("group", holder)
    cg = nx.DiGraph()
    first: dict[tuple[str, str], int] = {}
    for nid in members:
        item = owner[nid]
        if item not in first or topo[nid] < first[item]:
            first[item] = topo[nid]
        cg.add_node(item)
    succ = graph.nx._succ  # the adjacency itself: out_edges() sorts each node's wires, which adds up here
    for nid in members:
        for dst in succ[nid]:
            b = owner.get(dst)
            if b is not None and b != owner[nid]:
                cg.add_edge(owner[nid], b)
    try:
        return list(nx.lexicographical_topological_sort(cg, key=lambda it: first[it]))
    except nx.NetworkXUnfeasible:
        loop = [a for a, _ in nx.find_cycle(cg)]
        blocks = [f"'{graph.group(i).label}'" for kind, i in loop if kind == "group"]
        where = f"block '{graph.group(level).label}'" if level is not None else "the top level"
        raise CompileError(
            f"Block {', '.join(blocks) or '?'} (in {where}) has a path that leaves it and comes back in; a block "
            "must be self-contained: add the in-between nodes to it or ungroup"
        ) from None


def compile_graph(
    graph: ModelGraph,
    *,
    seed: int | None = 0,
    shapes: ShapeResult | None = None,
    class_name: str = "CompiledModel",
    weights: Any = None,
) -> fx.GraphModule:
    """Build the GraphModule. Raises CompileError naming the node when the graph has errors.

    `weights` (a .safetensors path or a dict keyed by node, see dlstudio.compiler.weights.load_weights) is loaded
    strictly after the seeded initialisation: WeightsError lists every tensor that does not fit."""
    if graph.has_cycle():
        raise CompileError("The graph has a cycle; remove one of the wires that loops back")
    shapes = shapes or infer_all(graph)
    if shapes.errors:
        nid, err = next(iter(shapes.errors.items()))
        node = graph.node(nid)
        raise CompileError(f"{node.type} '{node.label}': {err}", nid)
    for nid, node in graph.nodes.items():
        if nid not in shapes.outputs:
            raise CompileError(f"{node.type} '{node.label}' is not connected to an input; wire it or delete it", nid)
    if seed is not None:
        torch.manual_seed(seed)
    root = nn.Module()
    fxg = fx.Graph()
    b = _Builder(fxg, root, Namespace())
    env: dict[tuple[str, int], Any] = {}
    outputs: list[Any] = []
    topo = {nid: i for i, nid in enumerate(graph.topological_order())}
    order = _level_order(graph, None, list(graph.nodes), topo)
    for kind, item_id in order:
        if kind == "node":
            node = graph.node(item_id)
            if node.type == "Input":
                env[(node.id, 0)] = fxg.placeholder(b.names.create(node.label, "input"))
            elif node.type == "Output":
                continue
            else:
                _emit_node(b, graph, node, shapes, env)
        else:
            _emit_group(b, graph, item_id, shapes, env, topo)
    for node in graph.nodes.values():
        if node.type == "Output":
            (edge,) = graph.in_edges(node.id)[:1] or (None,)
            if edge is None:
                raise CompileError(f"Output '{node.label}' has nothing connected", node.id)
            outputs.append(env[(edge.src, output_index(graph, spec_of, edge))])
    if not outputs:
        raise CompileError("The graph has no Output node: add one and wire the last layer into it")
    fxg.output(outputs[0] if len(outputs) == 1 else tuple(outputs))
    gm = fx.GraphModule(root, fxg, class_name=class_name)
    for m in b.frozen:
        for p in m.parameters():
            p.requires_grad_(False)
    # nn.Module.__setattr__ is typed for tensors and submodules only; a plain attribute is fine at runtime
    gm.node_paths = dict(b.paths)  # type: ignore[assignment]
    if weights is not None:
        from .weights import load_weights

        load_weights(gm, graph, weights, strict=True)
    return gm


def _emit_group(
    b: _Builder,
    graph: ModelGraph,
    group_id: str,
    shapes: ShapeResult,
    env: dict[tuple[str, int], Any],
    topo: dict[str, int],
) -> None:
    """Adds block `group_id` to `b` as a nested GraphModule holding its direct nodes and, recursively, its
    child blocks' GraphModules; the values crossing its boundary become the submodule's inputs and outputs."""
    group = graph.group(group_id)
    ordered = sorted(graph.group_nodes_deep(group_id), key=topo.__getitem__)
    members = set(ordered)
    # values crossing into the group, in first-use order
    in_keys: list[tuple[str, int]] = []
    out_keys: list[tuple[str, int]] = []
    for nid in ordered:
        for e in graph.in_edges(nid):
            if e.src not in members:
                key = (e.src, output_index(graph, spec_of, e))
                if key not in in_keys:
                    in_keys.append(key)
        for e in graph.out_edges(nid):
            if e.dst not in members:
                key = (nid, output_index(graph, spec_of, e))
                if key not in out_keys:
                    out_keys.append(key)
    sub_root = nn.Module()
    sub_graph = fx.Graph()
    sb = _Builder(sub_graph, sub_root, Namespace())
    sub_env: dict[tuple[str, int], Any] = {}
    for i, key in enumerate(in_keys):
        src = graph.node(key[0])
        sub_env[key] = sub_graph.placeholder(sb.names.create(src.label, f"in{i}"))
    for kind, item_id in _level_order(graph, group_id, ordered, topo):
        if kind == "group":
            _emit_group(sb, graph, item_id, shapes, sub_env, topo)
            continue
        node = graph.node(item_id)
        if node.type in ("Input", "Output"):
            raise CompileError(
                f"{node.type} '{node.label}' cannot be inside a block; take it out of the group", item_id
            )
        _emit_node(sb, graph, node, shapes, sub_env)
    results = [sub_env[k] for k in out_keys]
    sub_graph.output(results[0] if len(results) == 1 else tuple(results))
    sub = fx.GraphModule(sub_root, sub_graph, class_name=block_class_name(group.label))
    name = b.names.create(group.label, "block")
    b.root.add_module(name, sub)
    for nid, path in sb.paths.items():
        b.paths[nid] = f"{name}.{path}"
    b.frozen.extend(sb.frozen)
    call = b.graph.call_module(name, tuple(env[k] for k in in_keys))
    if len(out_keys) == 1:
        env[out_keys[0]] = call
    else:
        for i, key in enumerate(out_keys):
            env[key] = b.graph.call_function(operator.getitem, (call, i))


def block_class_name(label: str) -> str:
    """A block's class name from its label: 'layer1.0' -> 'Layer1_0', 'res block' -> 'ResBlock'."""
    return class_identifier(label, "Block")
