"""Weights that belong to a graph: a safetensors file keyed by node id, loaded into a compiled module.

Keys are ``<node id>.<tensor name>`` ("n3.weight", "n7.running_mean"), so weights survive renaming a node,
grouping or ungrouping it (which change the module's attribute paths) and reordering the canvas. The file's
metadata maps each node id to its label and type, so a mismatch can be reported in the user's words. The
compiled module's ``node_paths`` (node id -> attribute path, "block.conv1" inside a group) joins the two.

Only safetensors (tensors) and JSON (metadata) are written or read: never pickle.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import nn

from ..core.errors import WeightsError
from ..core.graph import ModelGraph

WEIGHTS_FORMAT = "dlstudio-weights"
WEIGHTS_FORMAT_VERSION = 1


@dataclass
class WeightsReport:
    """What `load_weights` did. `problems` is empty when every tensor matched."""

    source: str
    loaded: list[str] = field(default_factory=list)  # node-keyed names that were copied in
    missing: list[str] = field(default_factory=list)  # the model needs them, the source lacks them
    unexpected: list[str] = field(default_factory=list)  # the source has them, the model does not
    mismatched: list[str] = field(default_factory=list)  # same name, different shape (not loaded)
    problems: list[str] = field(default_factory=list)  # one readable line per node at fault

    @property
    def ok(self) -> bool:
        return not self.problems


def unwrap(model: nn.Module) -> nn.Module:
    """The compiled GraphModule inside a DistributedDataParallel (`.module`) or torch.compile (`._orig_mod`)
    wrapper; weights are always keyed by the plain module's paths."""
    seen = 0
    while getattr(model, "node_paths", None) is None and seen < 4:
        inner = getattr(model, "module", None) or getattr(model, "_orig_mod", None)
        if not isinstance(inner, nn.Module):
            break
        model, seen = inner, seen + 1
    return model


def _node_paths(model: nn.Module) -> dict[str, str]:
    paths = getattr(model, "node_paths", None)
    if not isinstance(paths, dict):
        raise WeightsError(
            "The model has no node_paths: compile it with dlstudio.compile(graph) so weights can "
            "be matched to graph nodes"
        )
    return paths


def _owner(key: str, prefixes: list[tuple[str, str]]) -> tuple[str, str] | None:
    """(node id, tensor name) for a state_dict key, by the longest attribute path that prefixes it."""
    for path, nid in prefixes:
        if key.startswith(path + "."):
            return nid, key[len(path) + 1 :]
    return None


def _prefixes(paths: dict[str, str]) -> list[tuple[str, str]]:
    return sorted(((p, nid) for nid, p in paths.items()), key=lambda t: -len(t[0]))


def node_state(model: nn.Module, graph: ModelGraph) -> dict[str, torch.Tensor]:
    """The model's parameters and buffers keyed by node id, as contiguous CPU copies."""
    model = unwrap(model)
    prefixes = _prefixes(_node_paths(model))
    out: dict[str, torch.Tensor] = {}
    orphans = []
    for key, t in model.state_dict().items():
        owner = _owner(key, prefixes)
        if owner is None:
            orphans.append(key)
            continue
        out[f"{owner[0]}.{owner[1]}"] = t.detach().cpu().contiguous().clone()
    if orphans:
        raise WeightsError(
            f"Tensors {', '.join(orphans[:5])} belong to no graph node; recompile the model from "
            "this graph with dlstudio.compile"
        )
    return out


def _describe(graph: ModelGraph, nid: str, file_nodes: Mapping[str, Any] | None = None) -> str:
    if nid in graph.nodes:
        return f"{graph.nodes[nid].label} ({nid})"
    info = (file_nodes or {}).get(nid)
    if isinstance(info, dict) and info.get("label"):
        return f"{info.get('label')} ({nid}, a {info.get('type', 'layer')} in the file)"
    return nid


def _unexpected_reason(graph: ModelGraph, nid: str, name: str, file_nodes: Mapping[str, Any]) -> str:
    info = file_nodes.get(nid)
    was = f"{info.get('label')}, a {info.get('type')}" if isinstance(info, dict) else None
    if nid not in graph.nodes:
        return f"{name} is in the file but {nid} is not a node of this graph" + (f" (it was {was})" if was else "")
    node = graph.nodes[nid]
    if isinstance(info, dict) and info.get("type") != node.type:
        return (
            f"{name} is in the file for {was}, but {nid} is now a {node.type} without such a tensor; "
            "these weights were saved from another graph"
        )
    return f"{name} is in the file but this {node.type} has no such tensor (its parameters changed)"


def save_weights(model: nn.Module, graph: ModelGraph, path: str | os.PathLike[str]) -> Path:
    """Write the model's weights to `path` (.safetensors), keyed by node id, atomically."""
    from safetensors.torch import save

    from ..core.files import atomic_write_bytes

    tensors = node_state(model, graph)
    used = sorted({k.split(".", 1)[0] for k in tensors})
    nodes = {
        nid: {"label": graph.nodes[nid].label, "type": graph.nodes[nid].type} for nid in used if nid in graph.nodes
    }
    metadata = {
        "format": WEIGHTS_FORMAT,
        "format_version": str(WEIGHTS_FORMAT_VERSION),
        "layout": "node",
        "nodes": json.dumps(nodes, sort_keys=True),
    }
    target = Path(path)
    try:
        atomic_write_bytes(target, save(tensors, metadata=metadata))
    except OSError as exc:
        raise WeightsError(f"{target}: cannot write the weights ({exc.strerror or exc})") from None
    return target


def read_weights(path: str | os.PathLike[str]) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    """Tensors and the node table (id -> {label, type}) of a weights file. Raises WeightsError."""
    from safetensors import safe_open

    p = Path(path)
    if not p.is_file():
        raise WeightsError(f"{p}: no such weights file; save the weights first or pick another file")
    try:
        with safe_open(str(p), framework="pt") as fh:
            meta = fh.metadata() or {}
            tensors = {k: fh.get_tensor(k) for k in fh.keys()}
    except Exception as exc:  # safetensors raises several types for a damaged header or body
        raise WeightsError(f"{p}: not a readable .safetensors file ({exc})") from None
    nodes: dict[str, Any] = {}
    if meta.get("nodes"):
        try:
            parsed = json.loads(meta["nodes"])
        except ValueError:
            parsed = {}
        nodes = parsed if isinstance(parsed, dict) else {}
    return tensors, nodes


def _from_mapping(source: Mapping[Any, Any], model: nn.Module, paths: dict[str, str]) -> dict[str, torch.Tensor]:
    """Node-keyed tensors from a dict: {"n3.weight": t}, {"n3": {"weight": t}} or a module state_dict
    ({"conv1.weight": t}, attribute paths)."""
    flat: dict[str, Any] = {}
    for k, v in source.items():
        if isinstance(v, Mapping):
            for name, t in v.items():
                flat[f"{k}.{name}"] = t
        else:
            flat[str(k)] = v
    tensors: dict[str, torch.Tensor] = {}
    for k, v in flat.items():
        if isinstance(v, torch.Tensor):
            tensors[k] = v
            continue
        try:
            tensors[k] = torch.as_tensor(v)
        except (TypeError, ValueError, RuntimeError):
            raise WeightsError(f"Weight {k!r} is a {type(v).__name__}, not a tensor or array") from None
    node_keyed = all(k.split(".", 1)[0] in paths for k in tensors)
    if node_keyed:
        return tensors
    state_keys = set(model.state_dict())
    if tensors and all(k in state_keys for k in tensors):
        prefixes = _prefixes(paths)
        out = {}
        for k, t in tensors.items():
            owner = _owner(k, prefixes)
            out[f"{owner[0]}.{owner[1]}" if owner else k] = t
        return out
    return tensors


def load_weights(model: nn.Module, graph: ModelGraph, source: Any, *, strict: bool = True) -> WeightsReport:
    """Copy weights into a compiled model. `source`: a .safetensors path, or a dict keyed by node id
    ("n3.weight" or {"n3": {"weight": ...}}), or a state_dict of the compiled module.

    strict=True (what dls.compile(g, weights=...) uses) raises WeightsError listing every missing, unexpected
    and mis-shaped tensor, and changes nothing. strict=False loads what fits (fine-tuning a new head) and
    returns the report."""
    model = unwrap(model)
    paths = _node_paths(model)
    if isinstance(source, (str, os.PathLike)):
        tensors, file_nodes = read_weights(source)
        origin = str(source)
    elif isinstance(source, Mapping):
        tensors, file_nodes = _from_mapping(source, model, paths), {}
        origin = "the given weights"
    else:
        raise WeightsError(f"Weights must be a .safetensors path or a dict of tensors, got {type(source).__name__}")
    needed = node_state_shapes(model)
    report = WeightsReport(origin)
    per_node: dict[str, list[str]] = {}

    def note(nid: str, text: str) -> None:
        per_node.setdefault(nid, []).append(text)

    to_copy: dict[str, torch.Tensor] = {}
    for key, t in sorted(tensors.items()):
        nid, _, name = key.partition(".")
        if key not in needed:
            report.unexpected.append(key)
            note(nid, _unexpected_reason(graph, nid, name or key, file_nodes))
            continue
        want = needed[key]
        if tuple(t.shape) != want:
            report.mismatched.append(key)
            note(nid, f"{name} is {tuple(t.shape)} in the file but the layer needs {want}")
            continue
        to_copy[key] = t
    for key in sorted(set(needed) - set(tensors)):
        report.missing.append(key)
        nid, _, name = key.partition(".")
        note(nid, f"{name} is missing from the file")
    for nid in sorted(per_node):
        report.problems.append(f"{_describe(graph, nid, file_nodes)}: " + "; ".join(per_node[nid]))
    if strict and report.problems:
        head = f"{origin}: the weights do not fit this graph ({len(report.problems)} node(s))"
        raise WeightsError(head + ":\n  " + "\n  ".join(report.problems), report.problems)
    state = {}
    for key, t in to_copy.items():
        nid, _, name = key.partition(".")
        state[f"{paths[nid]}.{name}"] = t
    model.load_state_dict(state, strict=False)
    report.loaded = sorted(to_copy)
    return report


def node_state_shapes(model: nn.Module) -> dict[str, tuple[int, ...]]:
    """Node-keyed tensor names the model needs, with their shapes."""
    model = unwrap(model)
    prefixes = _prefixes(_node_paths(model))
    out = {}
    for key, t in model.state_dict().items():
        owner = _owner(key, prefixes)
        if owner is not None:
            out[f"{owner[0]}.{owner[1]}"] = tuple(t.shape)
    return out
