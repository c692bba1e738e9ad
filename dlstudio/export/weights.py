"""Weights for exports: safetensors in two layouts.

- state_dict layout: keys are the compiled (and generated) module's attribute paths, e.g. ``block.conv.weight``;
  ``Model().load_state_dict(load_file(path))`` works on the generated Python module.
- node layout: keys are ``<node id>.<tensor name>`` (stable across label edits), what project sidecars use.

Never pickle: only safetensors (tensors) and JSON.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Mapping

import torch
from torch import nn

from ..core.errors import ExportError
from ..core.graph import ModelGraph


def state_dict_tensors(model: nn.Module) -> dict[str, torch.Tensor]:
    """The module's state_dict as contiguous CPU tensors (safetensors refuses shared or strided storage)."""
    return {k: v.detach().cpu().contiguous().clone() for k, v in model.state_dict().items()}


def node_tensors(model: nn.Module, graph: ModelGraph) -> dict[str, torch.Tensor]:
    """Tensors keyed ``<node id>.<name>`` using the compiled model's `node_paths`."""
    paths: dict[str, str] = getattr(model, "node_paths", {})
    sd = state_dict_tensors(model)
    out: dict[str, torch.Tensor] = {}
    for nid, path in paths.items():
        prefix = path + "."
        for key, t in sd.items():
            if key.startswith(prefix):
                out[f"{nid}.{key[len(prefix):]}"] = t
    return out


def save_weights_file(model: nn.Module, graph: ModelGraph, path: str | os.PathLike[str],
                      layout: str = "state_dict") -> Path:
    """Write the model's tensors to a .safetensors file in `layout` ("state_dict" or "node")."""
    from safetensors.torch import save_file

    if layout not in ("state_dict", "node"):
        raise ExportError(f"Unknown weights layout {layout!r}: use 'state_dict' or 'node'")
    tensors = state_dict_tensors(model) if layout == "state_dict" else node_tensors(model, graph)
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    save_file(tensors, str(target), metadata={"format": "dlstudio-weights", "layout": layout})
    return target


def _read(weights: Any) -> dict[str, torch.Tensor]:
    if isinstance(weights, (str, os.PathLike)):
        from safetensors.torch import load_file
        p = Path(weights)
        if not p.exists():
            raise ExportError(f"Weights file {p} does not exist: give a .safetensors file saved by dlstudio")
        return load_file(str(p))
    if isinstance(weights, Mapping):
        flat: dict[str, torch.Tensor] = {}
        for k, v in weights.items():
            if isinstance(v, Mapping):  # {node id: {name: tensor}}
                for name, t in v.items():
                    flat[f"{k}.{name}"] = torch.as_tensor(t)
            else:
                flat[str(k)] = torch.as_tensor(v)
        return flat
    raise ExportError(f"Weights must be a .safetensors path or a dict of tensors, got {type(weights).__name__}")


def apply_weights(model: nn.Module, graph: ModelGraph, weights: Any) -> None:
    """Load weights in either layout into a compiled model; raises ExportError naming missing/extra keys."""
    tensors = _read(weights)
    sd = model.state_dict()
    paths: dict[str, str] = getattr(model, "node_paths", {})
    mapped: dict[str, torch.Tensor] = {}
    for key, t in tensors.items():
        if key in sd:
            mapped[key] = t
            continue
        nid, _, rest = key.partition(".")
        if nid in paths and f"{paths[nid]}.{rest}" in sd:
            mapped[f"{paths[nid]}.{rest}"] = t
    unknown = sorted(set(tensors) - set(mapped) - {k for k in tensors if k in sd})
    if unknown and not mapped:
        raise ExportError(f"None of the weight keys match the model (first: {unknown[0]!r}); "
                          f"the weights belong to another graph")
    missing = sorted(set(sd) - set(mapped))
    if missing:
        raise ExportError(f"The weights lack {len(missing)} tensor(s) of the model, e.g. {missing[0]!r}; "
                          f"save the weights from this graph again")
    for k, t in mapped.items():
        if tuple(t.shape) != tuple(sd[k].shape):
            raise ExportError(f"Weight {k!r} has shape {tuple(t.shape)} but the model expects "
                              f"{tuple(sd[k].shape)}: the layer's parameters changed since the weights were saved")
    model.load_state_dict(mapped, strict=True)
