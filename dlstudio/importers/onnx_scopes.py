"""Blocks from ONNX name scopes: the nodes an exporter wrote inside one module become one collapsed block.

torch.onnx's TorchScript exporter names nodes after the module path (`/layer1/layer1.0/conv1/Conv`, other tools
write `/layer1/0/conv1/Conv`); its dynamo exporter keeps the path in the node's `pkg.torch.onnx.name_scopes`
metadata. A scope is a *container* when some node lies strictly below it (a `Bottleneck`, a `Sequential`) and a
*leaf* otherwise (a `Conv2d`, which holds one op or a few). The containers become nested blocks labelled with
their dotted module paths, so a ResNet reads `layer1` > `layer1.0` > its convolutions, and each imported layer
sits in the block of its innermost container. A container that would hold a single member, or that the compiler
could not emit as one submodule (a path leaves it and comes back, as when a module's ops interleave with its
siblings'), dissolves into its parent (see block_tree). The PyTorch importer nests the same way
(torch_export_modules).
"""

from __future__ import annotations

import ast
from collections.abc import Iterable
from itertools import islice
from typing import Any

from ..core.graph import ModelGraph
from .block_tree import nest_blocks

_SCOPE_KEY = "pkg.torch.onnx.name_scopes"


def node_scope(node: Any) -> tuple[str, ...]:
    """The module path of an ONNX node as dotted names, outermost first (empty when it has none)."""
    parts: list[str] = []
    for prop in getattr(node, "metadata_props", ()):
        if prop.key == _SCOPE_KEY:
            try:
                scopes = ast.literal_eval(prop.value)
            except (ValueError, SyntaxError):
                scopes = []
            parts = [str(s) for s in scopes[1:-1] if str(s)]  # drop the root '' and the op's own name
            break
    else:
        name = node.name or ""
        if name.startswith("/") and name.count("/") >= 2:
            parts = [p for p in name.split("/")[1:-1] if p]
    return _qualified(parts)


def _qualified(parts: list[str]) -> tuple[str, ...]:
    """Full dotted module paths. The TorchScript exporter names a Sequential's children after it
    (['layer1', 'layer1.0', 'conv1'], ['mixed', 'branch', 'branch.0']), other tools give bare names
    (['layer1', '0', 'conv1']), the dynamo exporter full paths: all become ('layer1', 'layer1.0', 'layer1.0.conv1')."""
    out: list[str] = []
    raw_prev = ""
    for p in parts:
        raw = p
        if out and not p.startswith(out[-1] + "."):
            tail = p[len(raw_prev) :] if p.startswith(raw_prev + ".") else f".{p}"
            p = out[-1] + tail
        out.append(p)
        raw_prev = raw
    return tuple(out)


def group_by_scope(graph: ModelGraph, scopes: dict[str, tuple[str, ...]]) -> list[str]:
    """Nest the graph's nodes in blocks after their container scopes (`scopes`: node id -> module path), a
    container that would not be self-contained, or would hold one member, dissolving into its parent. Returns
    the labels of the blocks made (inner blocks before the blocks holding them)."""
    containers = {s[:i] for s in scopes.values() for i in range(1, len(s))}
    chains = {
        nid: tuple(scope[i - 1] for i in range(1, len(scope) + 1) if scope[:i] in containers)
        for nid, scope in scopes.items()
    }
    return [graph.group(gid).label for gid in nest_blocks(graph, chains)]


def new_node_ids(graph: ModelGraph, before: int) -> Iterable[str]:
    """Ids of the nodes added since the graph held `before` nodes (nodes keep insertion order)."""
    return islice(graph.nodes, before, None)


def readable_labels(graph: ModelGraph, origins: dict[str, tuple[tuple[str, ...], str]]) -> None:
    """Relabel imported layers after their modules (`origins`: node id -> (module path, ONNX node name)).

    A layer of a leaf module takes the module's dotted path (`layer1.0.conv1`); an op written in a container's
    own forward takes the container's path and the op (`layer1.0.add`); unscoped `/Flatten` becomes `flatten`.
    What a handler added to the node's name (`_pad` for a padding layer in front) is kept. The ONNX names stay in
    import errors, where users look them up in the file."""
    containers = {s[:i] for s, _ in origins.values() for i in range(1, len(s))}
    used = {n.label for nid, n in graph.nodes.items() if nid not in origins}
    for nid, (scope, onnx_name) in origins.items():
        if nid not in graph.nodes:
            continue
        node = graph.node(nid)
        suffix = node.label[len(onnx_name) :] if node.label.startswith(onnx_name) else ""
        op = onnx_name.rsplit("/", 1)[-1].lower()
        if scope and scope not in containers:
            base = scope[-1]
        elif scope:
            base = f"{scope[-1]}.{op}"
        elif onnx_name.startswith("/"):
            base = ".".join(p for p in onnx_name.split("/") if p).lower()
        else:
            continue
        label = base + suffix
        i = 1
        while label in used:
            label = f"{base}_{i}{suffix}"
            i += 1
        used.add(label)
        node.label = label
