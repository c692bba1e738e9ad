"""Weights that belong to a graph, and the one tensor-file writer and reader (`save_tensors`, `load_tensors`).

Every .safetensors file dlstudio writes (project sidecars, run weights, checkpoints, exported weights) goes through
`save_tensors`, which writes atomically through dlstudio.core.files and stamps one metadata format:

- ``format``: "dlstudio-weights"; ``format_version``: "2" (FORMAT_VERSION);
- ``layout``: how the keys read. "node": ``<node id>.<tensor name>`` ("n3.weight", "n7.running_mean"), stable
  across renaming, grouping and reordering, what project sidecars use. "state_dict": the compiled (or generated)
  module's attribute paths ("block.conv1.weight"), what ``Model().load_state_dict`` takes. "tensors": any other
  named tensors (optimizer state, RNG states), described by the JSON beside them;
- ``nodes``: JSON, node id -> {"label", "type"} (plus "path", the attribute path, in the state_dict layout), so
  a mismatch is reported in the user's words and a state_dict file still maps back onto graph nodes;
- any further string entries the caller adds.

`load_tensors` reads that format and the older ones: version 1 (node layout, same keys) and unversioned files
({"format": "dlstudio-weights"} with or without "layout": state_dict keys) or files without metadata.

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
WEIGHTS_FORMAT_VERSION = 2  # 2: every file says its layout; state_dict files carry the node map with paths
LAYOUTS = ("node", "state_dict", "tensors")


@dataclass
class TensorFile:
    """What `load_tensors` read: the tensors, the key layout, the metadata version (0: a file from before the
    format had one), the node map and the remaining metadata entries."""

    tensors: dict[str, torch.Tensor]
    layout: str
    format_version: int
    nodes: dict[str, Any]
    metadata: dict[str, str]


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


def node_state(model: nn.Module, graph: ModelGraph, *, copy: bool = True) -> dict[str, torch.Tensor]:
    """The model's parameters and buffers keyed by node id, as contiguous CPU copies (copy=False: the model's own
    tensors where they already are, for a save that only reads them)."""
    model = unwrap(model)
    prefixes = _prefixes(_node_paths(model))
    out: dict[str, torch.Tensor] = {}
    orphans = []
    for key, t in model.state_dict().items():
        owner = _owner(key, prefixes)
        if owner is None:
            orphans.append(key)
            continue
        t = t.detach().cpu().contiguous()
        out[f"{owner[0]}.{owner[1]}"] = t.clone() if copy else t
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


def _saveable(tensors: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Contiguous CPU tensors, copied only where safetensors needs it: a strided view, or memory shared with
    another entry (tied weights), which it refuses."""
    out: dict[str, torch.Tensor] = {}
    seen: set[int] = set()
    for key, value in tensors.items():
        if not isinstance(value, torch.Tensor):
            raise WeightsError(f"Tensor {key!r} is a {type(value).__name__}, not a torch.Tensor")
        t = value.detach().cpu().contiguous()
        ptr = t.untyped_storage().data_ptr() if t.numel() else None
        if ptr is not None and ptr in seen:
            t = t.clone()
        elif ptr is not None:
            seen.add(ptr)
        out[str(key)] = t
    return out


def save_tensors(
    path: str | os.PathLike[str],
    tensors: Mapping[str, torch.Tensor],
    *,
    layout: str,
    nodes: Mapping[str, Mapping[str, Any]] | None = None,
    metadata: Mapping[str, str] | None = None,
) -> Path:
    """Write `tensors` to a .safetensors file atomically (temp file, fsync, rename) with dlstudio's metadata.

    layout: "node", "state_dict" or "tensors" (see the module docstring); nodes: the node map (id -> label,
    type, ...); metadata: extra string entries. Raises WeightsError when the file cannot be written."""
    from safetensors.torch import save

    from ..core.files import atomic_write_bytes

    if layout not in LAYOUTS:
        raise WeightsError(f"Unknown tensor layout {layout!r}: use one of {', '.join(LAYOUTS)}")
    meta = {str(k): str(v) for k, v in (metadata or {}).items()}
    meta.update(format=WEIGHTS_FORMAT, format_version=str(WEIGHTS_FORMAT_VERSION), layout=layout)
    if nodes:
        meta["nodes"] = json.dumps({str(k): dict(v) for k, v in nodes.items()}, sort_keys=True)
    data = _saveable(tensors)
    target = Path(path)
    try:
        # serialized in memory, then written through the atomic writer: safetensors' own save_file renames its
        # own temporary file (.tmpXXXXXX, mode 0600) into place, which a killed save leaves behind for good
        atomic_write_bytes(target, save(data, metadata=meta))
    except OSError as exc:
        raise WeightsError(f"{target}: cannot write the weights ({exc.strerror or exc})") from None
    except Exception as exc:  # safetensors refuses some tensors (e.g. sparse) with its own error types
        raise WeightsError(f"{target}: cannot write the weights ({exc})") from None
    return target


def _file_layout(meta: Mapping[str, str]) -> str:
    layout = meta.get("layout")
    if layout in LAYOUTS:
        return layout
    if meta.get("nodes"):  # version 1 had a node map only in the node layout
        return "node"
    return "state_dict"  # unversioned weights files (run weights, checkpoints, exports) held a state_dict


def load_tensors(path: str | os.PathLike[str]) -> TensorFile:
    """Read a .safetensors file written by any dlstudio version (or by anyone: no metadata reads as a
    state_dict). Raises WeightsError for a missing or unreadable file."""
    from safetensors import safe_open

    p = Path(path)
    if not p.is_file():
        raise WeightsError(f"{p}: no such weights file; save the weights first or pick another file")
    try:
        with safe_open(str(p), framework="pt") as fh:
            meta = dict(fh.metadata() or {})
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
    try:
        version = int(meta.get("format_version", 0))
    except ValueError:
        version = 0
    rest = {k: v for k, v in meta.items() if k not in ("format", "format_version", "layout", "nodes")}
    return TensorFile(tensors, _file_layout(meta), version, nodes, rest)


def node_map(graph: ModelGraph, node_ids: Any, paths: Mapping[str, str] | None = None) -> dict[str, dict[str, str]]:
    """The metadata's node map for these node ids: label and type, and the attribute path when `paths` is given."""
    out: dict[str, dict[str, str]] = {}
    for nid in sorted(set(node_ids)):
        if nid not in graph.nodes:
            continue
        entry = {"label": graph.nodes[nid].label, "type": graph.nodes[nid].type}
        if paths is not None and nid in paths:
            entry["path"] = paths[nid]
        out[nid] = entry
    return out


def save_weights(model: nn.Module, graph: ModelGraph, path: str | os.PathLike[str]) -> Path:
    """Write the model's weights to `path` (.safetensors), keyed by node id, atomically."""
    tensors = node_state(model, graph, copy=False)
    return save_tensors(path, tensors, layout="node", nodes=node_map(graph, (k.split(".", 1)[0] for k in tensors)))


def save_state_dict(model: nn.Module, graph: ModelGraph | None, path: str | os.PathLike[str]) -> Path:
    """Write the model's state_dict (attribute-path keys) with the node map that leads back to graph nodes."""
    plain = unwrap(model)
    paths = getattr(plain, "node_paths", None)
    nodes = node_map(graph, paths, paths) if graph is not None and isinstance(paths, dict) else None
    return save_tensors(path, plain.state_dict(), layout="state_dict", nodes=nodes)


def read_weights(path: str | os.PathLike[str]) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    """Tensors and the node table (id -> {label, type}) of a weights file. Raises WeightsError."""
    found = load_tensors(path)
    return found.tensors, found.nodes


def _node_keyed(found: TensorFile, model: nn.Module, paths: dict[str, str]) -> dict[str, torch.Tensor]:
    """A state_dict-layout file's tensors keyed by node id: through the file's own node map (so a file saved
    before a rename still fits), else through the model's attribute paths."""
    file_paths = {str(v["path"]): nid for nid, v in found.nodes.items() if isinstance(v, dict) and v.get("path")}
    if file_paths:
        prefixes = sorted(file_paths.items(), key=lambda t: -len(t[0]))
        out = {}
        for k, t in found.tensors.items():
            owner = _owner(k, prefixes)
            out[f"{owner[0]}.{owner[1]}" if owner else k] = t
        return out
    return _from_mapping(found.tensors, model, paths)


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
        found = load_tensors(source)
        file_nodes = found.nodes
        tensors = found.tensors if found.layout == "node" else _node_keyed(found, model, paths)
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
