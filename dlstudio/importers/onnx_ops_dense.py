"""ONNX Gemm/MatMul -> Linear, and elementwise arithmetic -> the catalog's merge layers."""

from __future__ import annotations

from typing import Any

import numpy as np

from .base import Context, Unsupported, Value, handles
from .onnx_ops_arith import const_arith
from .onnx_ops_common import _opt, attrs


def _linear(ctx: Context, x: Value, w: np.ndarray, b: np.ndarray | None, name: str) -> Value:
    """w is (out, in) as torch stores it."""
    if x.info.rank < 2 or int(x.info.shape[-1]) != w.shape[1]:
        raise Unsupported(f"weight {w.shape} does not fit input {x.info}")
    weights = {"weight": w.astype(np.float32)}
    if b is not None:
        weights["bias"] = (
            np.broadcast_to(b.astype(np.float32).reshape(-1), (w.shape[0],)).copy()
            if b.size in (1, w.shape[0])
            else None
        )
        if weights["bias"] is None:
            raise Unsupported(f"bias of shape {b.shape} is not one value per output")
    return ctx.add("Linear", [x], {"out_features": int(w.shape[0]), "bias": b is not None}, weights, label=name)[0]


@handles("Gemm")
def _gemm(ctx: Context, node: Any, name: str) -> None:
    at = attrs(node)
    if at.get("transA", 0):
        raise Unsupported("transA=1 (transposed input) has no Linear equivalent")
    x = ctx.value(node.input[0])
    if x.info.rank != 2:
        raise Unsupported(f"Gemm input must be 2-D, got {x.info}")
    b = ctx.const(node.input[1]).astype(np.float32)
    w = (b if at.get("transB", 0) else b.T) * float(at.get("alpha", 1.0))
    c = ctx.const(node.input[2]).astype(np.float32) * float(at.get("beta", 1.0)) if _opt(node, 2) else None
    if c is not None and c.ndim == 2 and c.shape[0] != 1:
        raise Unsupported(f"bias C of shape {c.shape} varies per row (not a per-output bias)")
    ctx.bind(node.output[0], _linear(ctx, x, np.ascontiguousarray(w), c, name))


@handles("MatMul")
def _matmul(ctx: Context, node: Any, name: str) -> None:
    x = ctx.value(node.input[0])
    if node.input[1] in ctx.values:  # two computed operands (attention scores): per-sample matrix products
        ctx.bind(node.output[0], ctx.add("MatMul", [x, ctx.value(node.input[1])], label=name)[0])
        return
    w = ctx.const(node.input[1])
    if w.ndim != 2:
        raise Unsupported("only a constant 2-D right operand (a Linear weight) is supported")
    ctx.bind(node.output[0], _linear(ctx, x, np.ascontiguousarray(w.T.astype(np.float32)), None, name))


def _fuse_bias(ctx: Context, node: Any) -> bool:
    """MatMul + Add(constant) -> one Linear with bias, when the Linear's output feeds only this Add."""
    a, b = node.input[0], node.input[1]
    var, const = (a, b) if b in ctx.consts else (b, a) if a in ctx.consts else (None, None)
    if var is None or var not in ctx.values:
        return False
    v = ctx.values[var]
    n = ctx.graph.node(v.node_id)
    bias = ctx.consts[const]
    if n.type != "Linear" or n.params.get("bias") or ctx.consumers.get(var, 0) != 1:
        return False
    out = int(n.params["out_features"])
    if bias.size not in (1, out) or (bias.ndim > 1 and bias.shape[-1] != bias.size):
        return False
    ctx.set_param(n.id, "bias", True)
    ctx.weights[f"{n.id}.bias"] = np.broadcast_to(bias.astype(np.float32).reshape(-1), (out,)).copy()
    ctx.bind(node.output[0], v)
    return True


_MERGE = {"Add": "Add", "Sub": "Subtract", "Mul": "Multiply", "Sum": "Add", "Mean": "Mean", "Max": "Maximum"}


@handles(*_MERGE)
def _merge(ctx: Context, node: Any, name: str) -> None:
    if node.op_type == "Add" and _fuse_bias(ctx, node):
        return
    if const_arith(ctx, node, name):
        return
    ins = [i for i in node.input if i]
    if any(i in ctx.consts for i in ins):
        raise Unsupported(f"{node.op_type} of {len(ins)} inputs with a constant has no catalog layer")
    vals = [ctx.value(i) for i in ins]
    if len(vals) == 1:
        ctx.bind(node.output[0], vals[0])
        return
    ctx.bind(node.output[0], ctx.add(_MERGE[node.op_type], vals, label=name)[0])
