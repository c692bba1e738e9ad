"""Weights for exports: safetensors in two layouts, written by dlstudio.compiler.weights.save_tensors (one
metadata format, atomic writes).

- state_dict layout: keys are the compiled (and generated) module's attribute paths, e.g. ``block.conv.weight``;
  ``Model().load_state_dict(load_file(path))`` works on the generated Python module. The metadata's node map
  (node id -> label, type, attribute path) still leads each tensor back to its graph node.
- node layout: keys are ``<node id>.<tensor name>`` (stable across label edits), what project sidecars use.

Never pickle: only safetensors (tensors) and JSON.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import torch
from torch import nn

from ..compiler.weights import load_weights, node_state, save_state_dict, save_weights
from ..core.errors import ExportError
from ..core.graph import ModelGraph


def state_dict_tensors(model: nn.Module) -> dict[str, torch.Tensor]:
    """The module's state_dict as contiguous CPU tensors (safetensors refuses shared or strided storage)."""
    return {k: v.detach().cpu().contiguous().clone() for k, v in model.state_dict().items()}


def node_tensors(model: nn.Module, graph: ModelGraph) -> dict[str, torch.Tensor]:
    """Tensors keyed ``<node id>.<name>`` (the project sidecar layout of dlstudio.compiler.weights)."""
    return node_state(model, graph)


def save_weights_file(
    model: nn.Module, graph: ModelGraph, path: str | os.PathLike[str], layout: str = "state_dict"
) -> Path:
    """Write the model's tensors to a .safetensors file in `layout` ("state_dict" or "node"), atomically."""
    if layout == "node":
        return save_weights(model, graph, path)
    if layout == "state_dict":
        return save_state_dict(model, graph, path)
    raise ExportError(f"Unknown weights layout {layout!r}: use 'state_dict' or 'node'")


def apply_weights(model: nn.Module, graph: ModelGraph, weights: Any) -> None:
    """Load weights (a .safetensors path or dict, node or state_dict layout) into a compiled model, strictly:
    raises WeightsError naming every missing, unexpected or mis-shaped tensor."""
    load_weights(model, graph, weights, strict=True)
