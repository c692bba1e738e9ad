"""The module side of a torch.export import: which submodule calls become catalog layers, and which blocks the
module hierarchy becomes.

Every node of an exported graph carries `nn_module_stack`: the chain of submodules (attribute paths such as
`layer1.0.conv1`, with their classes) whose forward produced it. The outermost module in that chain whose class
is a catalog layer is a *leaf*: all the nodes of that call are replaced by one catalog node, its parameters
read with LayerSpec.from_module and its weights copied. Everything else becomes blocks named after the paths.
"""

from __future__ import annotations

import inspect
from dataclasses import dataclass, field
from functools import lru_cache

import networkx as nx
import torch
from torch import fx, nn

from ..core.edits import GroupNodes
from ..core.graph import ModelGraph
from ..layers.registry import REGISTRY


@lru_cache(maxsize=1)
def _catalog_classes() -> dict[type, list[str]]:
    from ..compiler.build import resolve_dotted

    out: dict[type, list[str]] = {}
    for spec in REGISTRY.all():
        if spec.module and spec.type not in ("AtenOp", "OnnxOp"):
            try:
                out.setdefault(resolve_dotted(spec.module), []).append(spec.type)
            except (ImportError, AttributeError):
                continue
    from ..nn.aten_op import AtenOp
    from ..nn.onnx_op import OnnxOp

    out[AtenOp] = ["AtenOp"]
    out[OnnxOp] = ["OnnxOp"]
    return out


def catalog_types(cls: type) -> list[str]:
    """Catalog types built from this class, or from a dlstudio.nn class with the same name and source (the
    copies that Python export inlines into generated files)."""
    table = _catalog_classes()
    if cls in table:
        return table[cls]
    if cls.__module__.startswith("torch"):
        return []
    for target, types in table.items():
        if target.__module__.startswith("dlstudio.") and target.__name__ == cls.__name__ and _same_source(target, cls):
            return types
    return []


def _same_source(a: type, b: type) -> bool:
    try:
        return inspect.getsource(a) == inspect.getsource(b)
    except (OSError, TypeError):
        return False


@dataclass
class Leaf:
    """One call of a catalog-class submodule: its path, the module object and the graph nodes it produced."""

    key: str
    path: str
    module: nn.Module
    types: list[str]
    nodes: list[fx.Node] = field(default_factory=list)


def _stack(node: fx.Node) -> list[tuple[str, str]]:
    """(key, attribute path) from the outermost module inwards, the root left out."""
    stack = node.meta.get("nn_module_stack") or {}
    return [(k, v[0]) for k, v in stack.items() if isinstance(v, tuple) and v[0]]


def module_path(node: fx.Node) -> str:
    """The attribute path of the innermost module whose forward made this node ('' at the top level)."""
    stack = _stack(node)
    return stack[-1][1] if stack else ""


def find_leaves(graph: fx.Graph, root: nn.Module | None) -> dict[fx.Node, Leaf]:
    """Node -> the leaf (catalog-class submodule call) it belongs to, for nodes inside one."""
    if root is None:
        return {}
    leaves: dict[str, Leaf] = {}
    owner: dict[fx.Node, Leaf] = {}
    for node in graph.nodes:
        if node.op != "call_function":
            continue
        for key, path in _stack(node):
            leaf = leaves.get(key)
            if leaf is None:
                try:
                    mod = root.get_submodule(path)
                except AttributeError:
                    break
                types = catalog_types(type(mod))
                if not types:
                    continue
                leaf = leaves[key] = Leaf(key, path, mod, types)
            leaf.nodes.append(node)
            owner[node] = leaf
            break
    return owner


def same_module(spec_type: str, params: dict, inputs: list, original: nn.Module) -> bool:
    """Whether the catalog builds the same module (repr and tensor shapes) from these parameters."""
    from ..compiler.build import resolve_dotted

    spec = REGISTRY.get(spec_type)
    if spec.module is None:
        return False
    try:
        with torch.device("meta"):  # shapes only: no memory, no random initialisation
            if spec.emit is None:
                built = resolve_dotted(spec.module)(**spec.torch_kwargs(params, inputs))
            else:
                built = _compiled_alone(spec_type, params, inputs)  # a custom emit builds it its own way
    except Exception:  # the catalog cannot build these parameters: not the same module
        return False
    shapes = {k: tuple(v.shape) for k, v in built.state_dict().items()}
    if shapes != {k: tuple(v.shape) for k, v in original.state_dict().items()}:
        return False
    return _plain_repr(built) == _plain_repr(original)


def _compiled_alone(spec_type: str, params: dict, inputs: list) -> nn.Module:
    """The module the compiler makes for one node of this type fed by inputs of these shapes."""
    from ..compiler.build import compile_graph
    from ..layers.builder import Graph

    g = Graph()
    refs = [g.input(f"in{i}", tuple(int(d) for d in t.shape[1:]), t.dtype) for i, t in enumerate(inputs)]
    node = g.add(spec_type, *refs, **params)
    g.output("out", node)
    model = compile_graph(g, seed=None)
    return model.get_submodule(model.node_paths[node.node_id])


def _plain_repr(mod: nn.Module) -> str:
    """repr without in-place flags: an in-place activation computes the same values in an imported graph."""
    return repr(mod).replace(", inplace=True", "").replace("inplace=True", "")


# ------------------------------------------------------------------------------------------------ blocks
def _parent(path: str) -> str:
    return path.rpartition(".")[0]


def _cycle_member(graph: ModelGraph, assign: dict[str, str]) -> str | None:
    """A block path on a cycle of the block-level graph (a block that a path leaves and re-enters), if any."""
    cg = nx.DiGraph()
    item = {nid: (("g", assign[nid]) if assign.get(nid) else ("n", nid)) for nid in graph.nodes}
    cg.add_nodes_from(set(item.values()))
    for e in graph.edges():
        a, b = item[e.src], item[e.dst]
        if a != b:
            cg.add_edge(a, b)
    try:
        cycle = nx.find_cycle(cg)
    except nx.NetworkXNoCycle:
        return None
    paths = [x[1] for edge in cycle for x in edge[:2] if x[0] == "g"]
    return max(paths, key=lambda p: p.count(".")) if paths else None


def make_blocks(graph: ModelGraph, paths: dict[str, str], min_size: int = 2) -> int:
    """Group nodes into collapsed blocks named after their module paths (`layer1.0`). Blocks do not nest in
    dlstudio graphs, so each node goes to its innermost module's block; a module whose parent computes something
    itself joins the parent's block, and a block that would not be self-contained (a path that leaves it and
    comes back) is lifted to its parent. Returns the number of blocks."""
    assign = {nid: p for nid, p in paths.items() if p and nid in graph.nodes}
    # a submodule of a module that computes something itself (a residual block's convolution unit, its
    # downsample) joins that module's block: blocks stand for the modules that combine their parts
    while True:
        direct = set(assign.values())
        moves = {p: _parent(p) for p in direct if _parent(p) in direct}
        if not moves:
            break
        assign = {nid: moves.get(p, p) for nid, p in assign.items()}
    for _ in range(len(graph.nodes) + 1):
        bad = _cycle_member(graph, assign)
        if bad is None:
            break
        up = _parent(bad)
        for nid in [n for n, p in assign.items() if p == bad]:
            if up:
                assign[nid] = up
            else:
                del assign[nid]
    members: dict[str, list[str]] = {}
    for nid, p in assign.items():
        members.setdefault(p, []).append(nid)
    order = {nid: i for i, nid in enumerate(graph.nodes)}
    count = 0
    for path, nids in sorted(members.items()):
        if len(nids) < min_size:
            continue
        GroupNodes(graph.new_id("g"), path, tuple(sorted(nids, key=order.__getitem__))).apply(graph)
        count += 1
    return count
