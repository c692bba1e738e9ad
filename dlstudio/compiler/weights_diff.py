"""Weights diff: which layers did fine-tuning change, and by how much.

Per layer (the tensors of one node, or of one module path in a state_dict file): the L2 norm of the difference,
the change relative to the old weights' norm, and the cosine similarity of old and new; layers found on one side
only, and tensors whose shapes differ. A layer nobody touched (a frozen one) shows exactly 0: the sums run in
float64 over the exact stored values.
"""

from __future__ import annotations

import math
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import torch

from ..core.errors import WeightsError
from ..core.graph import ModelGraph
from .names import safe_identifier
from .weights import load_tensors, node_state


@dataclass(frozen=True)
class LayerWeights:
    """One layer's comparison. status: "same", "changed", "shape" (a tensor's shape differs), "old" / "new"
    (the layer is on that side only)."""

    layer: str  # key prefix on the new side (the old side's when only there)
    label: str
    status: str
    numel: int = 0
    l2: float = 0.0  # ||new - old||
    relative: float = 0.0  # ||new - old|| / ||old||
    cosine: float = 1.0
    shapes: tuple[tuple[str, tuple[int, ...], tuple[int, ...]], ...] = ()  # (tensor, old shape, new shape)

    def to_dict(self) -> dict[str, Any]:
        return {
            "layer": self.layer,
            "label": self.label,
            "status": self.status,
            "numel": self.numel,
            "l2": self.l2,
            "relative": self.relative,
            "cosine": self.cosine,
            "shapes": [{"tensor": t, "old": list(a), "new": list(b)} for t, a, b in self.shapes],
        }


@dataclass
class WeightsDiff:
    layers: list[LayerWeights] = field(default_factory=list)

    @property
    def same(self) -> bool:
        return all(x.status == "same" for x in self.layers)

    def count(self, status: str) -> int:
        return sum(1 for x in self.layers if x.status == status)

    def to_dict(self) -> dict[str, Any]:
        return {
            "same": self.same,
            "counts": {s: self.count(s) for s in ("same", "changed", "shape", "old", "new")},
            "layers": [x.to_dict() for x in self.layers],
        }

    def format(self, old_name: str = "a", new_name: str = "b") -> str:
        lines = [f"--- {old_name}", f"+++ {new_name}"]
        counts = ", ".join(
            f"{self.count(s)} {w}"
            for s, w in (
                ("changed", "changed"),
                ("same", "unchanged"),
                ("shape", "with shape mismatches"),
                ("old", "only in the old weights"),
                ("new", "only in the new weights"),
            )
            if self.count(s)
        )
        lines.append(f"{len(self.layers)} layer(s): {counts or 'none'}")
        moved = [x for x in self.layers if x.status in ("same", "changed") and x.l2 > 0]
        if moved:
            top = max(moved, key=lambda x: x.relative)
            lines.append(f"largest change: {top.label} ({100 * top.relative:.3g}% of its norm)")
        if not self.layers:
            return "\n".join(lines)
        width = max(len(x.label) for x in self.layers)
        lines.append(f"{'layer'.ljust(width)}  {'L2 of diff':>12}  {'relative':>9}  {'cosine':>9}")
        for x in self.layers:
            if x.status in ("same", "changed"):
                rel = f"{100 * x.relative:.3g}%"
                lines.append(f"{x.label.ljust(width)}  {x.l2:>12.6g}  {rel:>9}  {x.cosine:>9.6f}")
            elif x.status == "shape":
                what = "; ".join(f"{t} {list(a)} -> {list(b)}" for t, a, b in x.shapes)
                lines.append(f"{x.label.ljust(width)}  shape mismatch: {what}")
            else:
                lines.append(f"{x.label.ljust(width)}  only in the {'old' if x.status == 'old' else 'new'} weights")
        return "\n".join(lines)


def _layer_of(key: str) -> tuple[str, str]:
    """("n3", "weight") from "n3.weight"; ("block.conv1", "weight") from "block.conv1.weight"."""
    layer, _, name = key.rpartition(".")
    return (layer, name) if layer else (key, "")


def _natural(key: str) -> list[Any]:
    """Sort key that puts n2 before n11 and layer2 before layer10."""
    return [int(part) if part.isdigit() else part for part in re.split(r"(\d+)", key)]


def _group(tensors: Mapping[str, torch.Tensor]) -> dict[str, dict[str, torch.Tensor]]:
    out: dict[str, dict[str, torch.Tensor]] = {}
    for key, t in tensors.items():
        if not (t.is_floating_point() or t.is_complex()):
            continue  # counters such as BatchNorm's num_batches_tracked are not weights
        layer, name = _layer_of(key)
        out.setdefault(layer, {})[name] = t
    return out


def compare_layer(old: Mapping[str, torch.Tensor], new: Mapping[str, torch.Tensor]) -> tuple[float, float, float, int]:
    """(L2 of the difference, relative change, cosine similarity, element count) over the tensors both have."""
    diff_sq = old_sq = new_sq = dot = 0.0
    numel = 0
    for name in sorted(set(old) & set(new)):
        a = old[name].detach().to(torch.float64).flatten()
        b = new[name].detach().to(torch.float64).flatten()
        d = b - a
        diff_sq += float(d @ d)
        old_sq += float(a @ a)
        new_sq += float(b @ b)
        dot += float(a @ b)
        numel += a.numel()
    l2 = math.sqrt(diff_sq)
    relative = l2 / math.sqrt(old_sq) if old_sq > 0 else (0.0 if l2 == 0 else math.inf)
    if diff_sq == 0:
        cosine = 1.0
    elif old_sq > 0 and new_sq > 0:
        cosine = max(-1.0, min(1.0, dot / math.sqrt(old_sq * new_sq)))
    else:
        cosine = 0.0
    return l2, relative, cosine, numel


def diff_tensors(
    old: Mapping[str, torch.Tensor],
    new: Mapping[str, torch.Tensor],
    *,
    labels: Mapping[str, str] | None = None,
    layer_map: Mapping[str, str] | None = None,
    tolerance: float = 0.0,
) -> WeightsDiff:
    """Compare two tensor dicts layer by layer. `layer_map` renames old layers onto new ones (node ids of two
    graphs matched by structure); `labels` names layers (new side's keys, then old side's) for the report; a
    layer whose relative change is at most `tolerance` counts as the same (0: only exactly equal ones)."""
    labels = labels or {}
    old_layers = {(layer_map or {}).get(k, k): v for k, v in _group(old).items()}
    new_layers = _group(new)
    result = WeightsDiff()
    for layer in sorted(new_layers, key=_natural) + sorted(
        (k for k in old_layers if k not in new_layers), key=_natural
    ):
        label = labels.get(layer, layer)
        if layer not in old_layers:
            result.layers.append(LayerWeights(layer, label, "new", sum(t.numel() for t in new_layers[layer].values())))
            continue
        if layer not in new_layers:
            result.layers.append(LayerWeights(layer, label, "old", sum(t.numel() for t in old_layers[layer].values())))
            continue
        a, b = old_layers[layer], new_layers[layer]
        shapes = tuple(
            (n, tuple(a[n].shape), tuple(b[n].shape)) for n in sorted(set(a) & set(b)) if a[n].shape != b[n].shape
        )
        shapes += tuple((n, tuple(a[n].shape), ()) for n in sorted(set(a) - set(b)))
        shapes += tuple((n, (), tuple(b[n].shape)) for n in sorted(set(b) - set(a)))
        if shapes:
            result.layers.append(LayerWeights(layer, label, "shape", shapes=shapes))
            continue
        l2, rel, cos, numel = compare_layer(a, b)
        same = l2 == 0 or rel <= tolerance
        result.layers.append(LayerWeights(layer, label, "same" if same else "changed", numel, l2, rel, cos))
    return result


def read_layers(path: str | os.PathLike[str]) -> tuple[dict[str, torch.Tensor], dict[str, str]]:
    """A weights file's tensors keyed by node id where the file's node map allows (so a run's state_dict compares
    with a project's sidecar), and a label per layer. Raises WeightsError."""
    found = load_tensors(path)
    labels: dict[str, str] = {}
    by_path: dict[str, str] = {}
    for key, entry in found.nodes.items():
        if not isinstance(entry, Mapping):
            continue
        if entry.get("label"):
            labels[str(key)] = str(entry["label"])
        if found.layout == "state_dict" and entry.get("path"):
            by_path[str(entry["path"])] = str(key)
    tensors: dict[str, torch.Tensor] = {}
    for key, t in found.tensors.items():
        layer, name = _layer_of(key)
        tensors[f"{by_path[layer]}.{name}" if layer in by_path else key] = t
    return tensors, labels


def graph_weights(graph: ModelGraph, path: str | os.PathLike[str]) -> tuple[dict[str, torch.Tensor], dict[str, str]]:
    """A weights file of any layout as node-keyed tensors of `graph` (compiled, so the loader's mapping of
    state_dict paths to nodes applies), and each node's label. Raises WeightsError when they do not fit."""
    from .build import compile_graph

    try:
        model = compile_graph(graph, seed=0, weights=path)
    except WeightsError:
        raise
    except Exception as exc:  # a graph that does not compile cannot place the weights
        raise WeightsError(f"{path}: cannot be placed on its model ({type(exc).__name__}: {exc})") from None
    tensors = node_state(model, graph)
    return tensors, {nid: n.label for nid, n in graph.nodes.items()}


def fold_batchnorm(tensors: Mapping[str, torch.Tensor], folds: list[tuple[str, str, float]]) -> dict[str, torch.Tensor]:
    """Node-keyed weights with each (conv, BatchNorm, eps) fold applied as an eval-mode export does:
    w' = w * gamma / sqrt(var + eps), b' = (b - mean) * gamma / sqrt(var + eps) + beta; the BatchNorm's own
    tensors are dropped."""
    out = dict(tensors)
    for conv, norm, eps in folds:
        names = ("weight", "bias", "running_mean", "running_var")
        gamma, beta, mean, var = (out.get(f"{norm}.{n}") for n in names)
        weight = out.get(f"{conv}.weight")
        if weight is None or mean is None or var is None:
            continue
        w64 = weight.detach().to(torch.float64)
        scale = 1.0 / torch.sqrt(var.to(torch.float64) + eps)
        if gamma is not None:
            scale = scale * gamma.to(torch.float64)
        bias = out.get(f"{conv}.bias")
        b64 = bias.detach().to(torch.float64) if bias is not None else torch.zeros_like(scale)
        shift = beta.to(torch.float64) if beta is not None else torch.zeros_like(scale)
        out[f"{conv}.weight"] = (w64 * scale.reshape(-1, *([1] * (w64.dim() - 1)))).to(weight.dtype)
        out[f"{conv}.bias"] = ((b64 - mean.to(torch.float64)) * scale + shift).to(weight.dtype)
        for key in [k for k in out if k.startswith(f"{norm}.")]:
            del out[key]
    return out


def _by_label(tensors: Mapping[str, torch.Tensor], labels: Mapping[str, str]) -> dict[str, torch.Tensor]:
    """Node-keyed tensors ("n2.weight") keyed as a top-level state_dict would be ("c1.weight")."""
    out = {}
    for key, t in tensors.items():
        layer, name = _layer_of(key)
        out[f"{safe_identifier(labels[layer])}.{name}" if layer in labels else key] = t
    return out


def diff_weight_files(
    old_path: str | os.PathLike[str],
    new_path: str | os.PathLike[str],
    *,
    layer_map: Mapping[str, str] | None = None,
    tolerance: float = 0.0,
) -> WeightsDiff:
    """Compare two .safetensors files (any dlstudio layout, or plain state_dicts). A node-keyed file compared
    with a state_dict that has no node map is keyed by its labels. Raises WeightsError."""
    old, old_labels = read_layers(old_path)
    new, new_labels = read_layers(new_path)
    old_nodes = any(_layer_of(k)[0] in old_labels for k in old)
    new_nodes = any(_layer_of(k)[0] in new_labels for k in new)
    if old_nodes and not new_nodes:
        old, old_labels = _by_label(old, old_labels), {}
    elif new_nodes and not old_nodes:
        new, new_labels = _by_label(new, new_labels), {}
    return diff_tensors(old, new, labels={**old_labels, **new_labels}, layer_map=layer_map, tolerance=tolerance)
