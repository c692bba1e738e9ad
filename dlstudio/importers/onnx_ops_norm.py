"""ONNX normalization ops -> the catalog's norm layers."""

from __future__ import annotations

from typing import Any

import numpy as np

from .base import Context, Unsupported, handles
from .onnx_ops_common import _axis, _one_output, _opt, attrs


@handles("BatchNormalization")
def _batchnorm(ctx: Context, node: Any, name: str) -> None:
    _one_output(node)
    x = ctx.value(node.input[0])
    at = attrs(node)
    if at.get("training_mode", 0):
        raise Unsupported("training_mode=1")
    layer = {2: "BatchNorm1d", 3: "BatchNorm1d", 4: "BatchNorm2d", 5: "BatchNorm3d"}.get(x.info.rank)
    if layer is None:
        raise Unsupported(f"batch norm over a rank-{x.info.rank} input")
    scale, bias, mean, var = (ctx.const(node.input[i]).astype(np.float32) for i in range(1, 5))
    weights = {
        "weight": scale,
        "bias": bias,
        "running_mean": mean,
        "running_var": var,
        "num_batches_tracked": np.zeros((), dtype=np.int64),
    }
    params = {"eps": float(at.get("epsilon", 1e-5)), "momentum": round(1.0 - float(at.get("momentum", 0.9)), 6)}
    ctx.bind(node.output[0], ctx.add(layer, [x], params, weights, label=name)[0])


@handles("InstanceNormalization")
def _instancenorm(ctx: Context, node: Any, name: str) -> None:
    x = ctx.value(node.input[0])
    if x.info.rank != 4:
        raise Unsupported(f"instance norm over a rank-{x.info.rank} input (the catalog has InstanceNorm2d)")
    weights = {"weight": ctx.const(node.input[1]), "bias": ctx.const(node.input[2])}
    params = {"eps": float(attrs(node).get("epsilon", 1e-5)), "affine": True}
    ctx.bind(node.output[0], ctx.add("InstanceNorm2d", [x], params, weights, label=name)[0])


@handles("LayerNormalization")
def _layernorm(ctx: Context, node: Any, name: str) -> None:
    _one_output(node)
    x = ctx.value(node.input[0])
    at = attrs(node)
    axis = _axis(at.get("axis", -1), x.info.rank)
    norm_shape = tuple(int(d) for d in x.info.shape[axis:])
    scale = np.broadcast_to(ctx.const(node.input[1]).astype(np.float32), norm_shape).copy()
    bias = np.broadcast_to(ctx.const(node.input[2]).astype(np.float32), norm_shape).copy() if _opt(node, 2) else None
    params = {
        "normalized_dims": x.info.rank - axis,
        "eps": float(at.get("epsilon", 1e-5)),
        "elementwise_affine": True,
        "bias": bias is not None,
    }
    weights = {"weight": scale} | ({"bias": bias} if bias is not None else {})
    ctx.bind(node.output[0], ctx.add("LayerNorm", [x], params, weights, label=name)[0])


@handles("GroupNormalization")
def _groupnorm(ctx: Context, node: Any, name: str) -> None:
    x = ctx.value(node.input[0])
    at = attrs(node)
    groups = int(at["num_groups"])
    c = int(x.info.shape[1])
    scale = ctx.const(node.input[1]).astype(np.float32).reshape(-1)
    bias = ctx.const(node.input[2]).astype(np.float32).reshape(-1)
    if scale.size == groups and groups != c:  # opset 18: one scale per group
        scale, bias = np.repeat(scale, c // groups), np.repeat(bias, c // groups)
    params = {"num_groups": groups, "eps": float(at.get("epsilon", 1e-5)), "affine": True}
    ctx.bind(node.output[0], ctx.add("GroupNorm", [x], params, {"weight": scale, "bias": bias}, label=name)[0])


@handles("LRN")
def _lrn(ctx: Context, node: Any, name: str) -> None:
    at = attrs(node)
    params = {
        "size": int(at["size"]),
        "alpha": float(at.get("alpha", 1e-4)),
        "beta": float(at.get("beta", 0.75)),
        "k": float(at.get("bias", 1.0)),
    }
    ctx.bind(node.output[0], ctx.add("LocalResponseNorm", [ctx.value(node.input[0])], params, label=name)[0])
