"""ONNX activations (and softmax) -> catalog activation layers."""

from __future__ import annotations

from typing import Any

import numpy as np

from ..layers.registry import REGISTRY
from .base import Context, Unsupported, handles
from .onnx_ops_arith import arithmetic
from .onnx_ops_common import _axis, _opt, attrs

_SIMPLE = {
    "Relu": "ReLU",
    "Sigmoid": "Sigmoid",
    "Tanh": "Tanh",
    "Softsign": "Softsign",
    "Mish": "Mish",
    "Identity": "Identity",
}


@handles(*_SIMPLE)
def _simple(ctx: Context, node: Any, name: str) -> None:
    ctx.bind(node.output[0], ctx.add(_SIMPLE[node.op_type], [ctx.value(node.input[0])], label=name)[0])


@handles("Softplus")
def _softplus(ctx: Context, node: Any, name: str) -> None:
    # torch Softplus switches to identity above `threshold` (20); ONNX does not, a difference under 2e-9
    ctx.bind(node.output[0], ctx.add("Softplus", [ctx.value(node.input[0])], {"threshold": 20.0}, label=name)[0])


@handles("LeakyRelu")
def _leaky(ctx: Context, node: Any, name: str) -> None:
    a = attrs(node).get("alpha", 0.01)
    ctx.bind(
        node.output[0], ctx.add("LeakyReLU", [ctx.value(node.input[0])], {"negative_slope": float(a)}, label=name)[0]
    )


@handles("Elu")
def _elu(ctx: Context, node: Any, name: str) -> None:
    a = attrs(node).get("alpha", 1.0)
    ctx.bind(node.output[0], ctx.add("ELU", [ctx.value(node.input[0])], {"alpha": float(a)}, label=name)[0])


@handles("Selu")
def _selu(ctx: Context, node: Any, name: str) -> None:
    at = attrs(node)
    if (
        abs(at.get("alpha", 1.67326319) - 1.6732632423543772) > 1e-5
        or abs(at.get("gamma", 1.05070102) - 1.0507009873554805) > 1e-5
    ):
        # gamma * ELU_alpha(x): an ELU and a fixed scale
        x = ctx.add("ELU", [ctx.value(node.input[0])], {"alpha": float(at.get("alpha", 1.67326319))}, label=name)[0]
        gamma = np.float32(at.get("gamma", 1.05070102))
        ctx.bind(node.output[0], arithmetic(ctx, x, "mul", gamma, f"{name}_gamma", learnable=False))
        return
    ctx.bind(node.output[0], ctx.add("SELU", [ctx.value(node.input[0])], label=name)[0])


@handles("Gelu")
def _gelu(ctx: Context, node: Any, name: str) -> None:
    approx = attrs(node).get("approximate", "none")
    ctx.bind(node.output[0], ctx.add("GELU", [ctx.value(node.input[0])], {"approximate": approx}, label=name)[0])


@handles("PRelu")
def _prelu(ctx: Context, node: Any, name: str) -> None:
    x = ctx.value(node.input[0])
    slope = ctx.const(node.input[1]).astype(np.float32)
    if slope.size == 1:
        params, w = {"per_channel": False}, slope.reshape(1)
    else:
        c = int(x.info.shape[1]) if x.info.rank > 1 else -1
        if slope.size != c or slope.reshape(-1).shape[0] != c or (slope.ndim >= 1 and slope.shape[0] != c):
            raise Unsupported(f"slope of shape {slope.shape} is not one per channel (channels: {c})")
        params, w = {"per_channel": True}, slope.reshape(c)
    ctx.bind(node.output[0], ctx.add("PReLU", [x], params, {"weight": w}, label=name)[0])


@handles("Clip")
def _clip(ctx: Context, node: Any, name: str) -> None:
    at = attrs(node)
    lo, hi = at.get("min"), at.get("max")
    if ctx.opset >= 11:
        lo = float(ctx.const(node.input[1])) if _opt(node, 1) else None
        hi = float(ctx.const(node.input[2])) if _opt(node, 2) else None
    x = ctx.value(node.input[0])
    if lo is None and hi is None:
        v = ctx.add("Identity", [x], label=name)[0]
    elif lo == 0.0 and hi is None:
        v = ctx.add("ReLU", [x], label=name)[0]
    elif lo is not None and hi is not None and lo <= hi:
        v = ctx.add("Hardtanh", [x], {"min_val": float(lo), "max_val": float(hi)}, label=name)[0]
    else:
        raise Unsupported(f"clip bounds min={lo}, max={hi} have no catalog layer (needs both, min <= max)")
    ctx.bind(node.output[0], v)


@handles("Softmax", "LogSoftmax")
def _softmax(ctx: Context, node: Any, name: str) -> None:
    x = ctx.value(node.input[0])
    r = x.info.rank
    default = -1 if ctx.opset >= 13 else 1
    axis = _axis(attrs(node).get("axis", default), r)
    layer = "Softmax" if node.op_type == "Softmax" else "LogSoftmax"
    tail = tuple(int(d) for d in x.info.shape[axis:])
    if ctx.opset < 13 and any(d != 1 for d in tail[1:]):
        # before opset 13 the input is flattened to 2-D at `axis`: the softmax runs over every dim from `axis` on,
        # i.e. Flatten those dims, normalise over the merged dim, Unflatten back
        flat = ctx.add("Flatten", [x], {"start_dim": axis, "end_dim": -1}, label=f"{name}_flatten")[0]
        y = ctx.add(layer, [flat], {"dim": axis}, label=name)[0]
        v = ctx.add("Unflatten", [y], {"dim": axis, "unflattened_size": tail}, label=f"{name}_unflatten")[0]
        ctx.bind(node.output[0], v)
        return
    ctx.bind(node.output[0], ctx.add(layer, [x], {"dim": axis}, label=name)[0])


@handles("Sign")
def _sign(ctx: Context, node: Any, name: str) -> None:
    """sign(relu(x)) is the Heaviside step (how dlstudio's Step exports): the ReLU node becomes a Step."""
    v = ctx.value(node.input[0])
    src = ctx.graph.node(v.node_id)
    if src.type != "ReLU" or ctx.consumers.get(node.input[0], 0) != 1 or "Step" not in REGISTRY:
        raise Unsupported("sign of a value that is not a ReLU output (only sign(relu(x)), a Step, maps)")
    src.type = "Step"  # same ports, no parameters: retype in place while the graph is still being built
    from ..analysis.shapes import infer_node

    infer_node(ctx.graph, src, ctx.shapes)
    ctx.bind(node.output[0], v)
