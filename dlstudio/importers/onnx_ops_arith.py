"""ONNX elementwise arithmetic with a constant operand (Add/Sub/Mul/Div/Pow, Neg, Sqrt, Reciprocal) -> the
catalog's Arithmetic layer, which holds the constant as its tensor (learnable for add/sub/mul/div, the scale and
shift of a folded batch norm; fixed for powers and the unary ops)."""

from __future__ import annotations

from typing import Any

import numpy as np

from .base import Context, Unsupported, Value, handles
from .onnx_ops_common import attrs

_OPS = {"Add": "add", "Sub": "sub", "Mul": "mul", "Div": "div", "Pow": "pow"}
_NEUTRAL = {"add": 0.0, "sub": 0.0, "mul": 1.0, "div": 1.0, "pow": 1.0}


def arithmetic(
    ctx: Context, x: Value, op: str, c: np.ndarray, name: str, reverse: bool = False, learnable: bool | None = None
) -> Value:
    """x (op) c, or c (op) x when `reverse`, as one Arithmetic layer holding c."""
    c = np.asarray(c)
    if c.dtype.kind not in "fiu" or x.info.dtype != "float32":
        raise Unsupported(f"arithmetic on {x.info.dtype} with a {c.dtype} constant (the layer works on floats)")
    r = x.info.rank
    if c.ndim > r:
        raise Unsupported(f"the constant {c.shape} has more dimensions than the input {x.info}")
    if c.ndim == r:
        if c.shape[0] != 1:
            raise Unsupported(f"the constant {c.shape} differs per sample of the batch")
        c = c[0]
    while c.ndim and c.shape[0] == 1:  # leading 1s only broadcast
        c = c[0]
    c = c.astype(np.float32)
    flat = c.reshape(-1)
    init = float(flat[0]) if flat.size and bool(np.all(flat == flat[0])) else _NEUTRAL[op]
    params = {
        "op": op,
        "shape": tuple(int(d) for d in c.shape),
        "init": init,
        "learnable": op != "pow" if learnable is None else learnable,
        "reverse": reverse and op not in ("add", "mul"),
    }
    return ctx.add("Arithmetic", [x], params, {"weight": c}, label=name)[0]


def const_arith(ctx: Context, node: Any, name: str) -> bool:
    """A binary op with one constant and one layer operand: map it and return True; False when neither operand
    is a constant (the caller maps the op between two layer outputs)."""
    ins = [i for i in node.input if i]
    if len(ins) != 2 or node.op_type not in _OPS:
        return False
    a, b = ins
    if b in ctx.consts and a not in ctx.consts:
        x, c, reverse = ctx.value(a), ctx.const(b), False
    elif a in ctx.consts and b not in ctx.consts:
        x, c, reverse = ctx.value(b), ctx.const(a), True
    else:
        return False
    ctx.bind(node.output[0], arithmetic(ctx, x, _OPS[node.op_type], c, name, reverse))
    return True


@handles("Div", "Pow")
def _div_pow(ctx: Context, node: Any, name: str) -> None:
    if not const_arith(ctx, node, name):
        raise Unsupported(f"{node.op_type} of two computed tensors has no catalog layer (only with a constant)")


_UNARY = {"Neg": ("mul", -1.0, False), "Sqrt": ("pow", 0.5, False), "Reciprocal": ("div", 1.0, True)}


@handles(*_UNARY)
def _unary(ctx: Context, node: Any, name: str) -> None:
    op, value, reverse = _UNARY[node.op_type]
    x = ctx.value(node.input[0])
    v = arithmetic(ctx, x, op, np.asarray(value, dtype=np.float32), name, reverse, learnable=False)
    ctx.bind(node.output[0], v)


@handles("HardSigmoid", "HardSwish")
def _hard_sigmoid(ctx: Context, node: Any, name: str) -> None:
    """max(0, min(1, alpha * x + beta)) as scale, shift and Hardtanh(0, 1); HardSwish multiplies x by it."""

    at = attrs(node)
    swish = node.op_type == "HardSwish"
    alpha = 1.0 / 6.0 if swish else float(at.get("alpha", 0.2))
    beta = 0.5 if swish else float(at.get("beta", 0.5))
    x = ctx.value(node.input[0])
    v = arithmetic(ctx, x, "mul", np.float32(alpha), f"{name}_scale", learnable=False)
    v = arithmetic(ctx, v, "add", np.float32(beta), f"{name}_shift", learnable=False)
    v = ctx.add("Hardtanh", [v], {"min_val": 0.0, "max_val": 1.0}, label=name if not swish else f"{name}_gate")[0]
    if swish:
        v = ctx.add("Multiply", [x, v], label=name)[0]
    ctx.bind(node.output[0], v)
