"""The module side of a torch.export import: which submodule calls become catalog layers, and which blocks the
module hierarchy becomes.

Every node of an exported graph carries `nn_module_stack`: the chain of submodules (attribute paths such as
`layer1.0.conv1`, with their classes) whose forward produced it. The outermost module in that chain whose class
is a catalog layer is a *leaf*: all the nodes of that call are replaced by one catalog node, its parameters
read with LayerSpec.from_module and its weights copied. The other modules become nested blocks named after their
paths (`layer1` > `layer1.0` > `layer1.0.downsample`), built by block_tree like the ONNX importer's.
"""

from __future__ import annotations

import inspect
from dataclasses import dataclass, field
from functools import lru_cache

import torch
from torch import fx, nn

from ..core.graph import ModelGraph
from ..layers.registry import REGISTRY
from .block_tree import nest_blocks


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
def make_blocks(graph: ModelGraph, paths: dict[str, str]) -> int:
    """Nest nodes in collapsed blocks after their module paths (node id -> path of the module whose forward made
    it, '' at the top): one block per module, inside its parent module's block. A module that would hold a
    single member, or would not be self-contained (a path that leaves it and comes back), dissolves into its
    parent. Returns the number of blocks."""
    chains: dict[str, tuple[str, ...]] = {}
    for nid, path in paths.items():
        if path:
            parts = path.split(".")
            chains[nid] = tuple(".".join(parts[: i + 1]) for i in range(len(parts)))
    return len(nest_blocks(graph, chains))
