"""ONNX ops for OnnxOp: elementwise math, comparisons, reductions, activations and normalisation.

Each function takes (args, attributes, opset) and follows the ONNX operator specification (onnx.ai/onnx/operators).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import torch
import torch.nn.functional as F


class OnnxArgs:
    """The inputs of one ONNX node, in ONNX order: tensors (None where an optional input is left out), and the
    Python values of the constants written into the constructor."""

    def __init__(self, tensors: list, literals: dict[int, Any]) -> None:
        self.tensors = tensors
        self.literals = literals

    def __len__(self) -> int:
        return len(self.tensors)

    def has(self, i: int) -> bool:
        return i < len(self.tensors) and self.tensors[i] is not None

    def t(self, i: int) -> torch.Tensor:
        return self.tensors[i]

    def ints(self, i: int) -> list[int]:
        if i in self.literals:
            v = self.literals[i]
            return [int(x) for x in _flat(v)]
        return [int(x) for x in self.tensors[i].reshape(-1).tolist()]

    def floats(self, i: int) -> list[float]:
        if i in self.literals:
            return [float(x) for x in _flat(self.literals[i])]
        return [float(x) for x in self.tensors[i].reshape(-1).tolist()]

    def present(self) -> list[torch.Tensor]:
        return [t for t in self.tensors if t is not None]


def _flat(v: Any) -> list:
    if isinstance(v, (list, tuple)):
        return [x for item in v for x in _flat(item)]
    return [v]


def _axis(axis: int, rank: int) -> int:
    return axis + rank if axis < 0 else axis


def _float_like(x: torch.Tensor) -> torch.Tensor:
    return x if x.is_floating_point() else x.float()


# ----------------------------------------------------------------------------------------------- elementwise
def _unary(fn: Callable) -> Callable:
    return lambda a, at, op: fn(a.t(0))


def _unary_attr(fn: Callable) -> Callable:
    return lambda a, at, op: fn(a.t(0), at)


def _div(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    if x.is_floating_point() or y.is_floating_point():
        return x / y
    return torch.div(x, y, rounding_mode="trunc")


def _mod(a: OnnxArgs, at: dict, op: int) -> torch.Tensor:
    x, y = a.t(0), a.t(1)
    return torch.fmod(x, y) if at.get("fmod", 0) else torch.remainder(x, y)


def _binary(fn: Callable) -> Callable:
    return lambda a, at, op: fn(a.t(0), a.t(1))


def _variadic(fn: Callable) -> Callable:
    def run(a: OnnxArgs, at: dict, op: int) -> torch.Tensor:
        ts = a.present()
        out = ts[0]
        for t in ts[1:]:
            out = fn(out, t)
        return out

    return run


def _mean(a: OnnxArgs, at: dict, op: int) -> torch.Tensor:
    ts = a.present()
    out = ts[0]
    for t in ts[1:]:
        out = out + t
    return out / len(ts)


def _pow(a: OnnxArgs, at: dict, op: int) -> torch.Tensor:
    x, y = a.t(0), a.t(1)
    return torch.pow(x, y.to(x.dtype) if x.is_floating_point() else y).to(x.dtype)


def _clip(a: OnnxArgs, at: dict, op: int) -> torch.Tensor:
    x = a.t(0)
    if op < 11:
        lo, hi = at.get("min"), at.get("max")
    else:
        lo = a.floats(1)[0] if a.has(1) else None
        hi = a.floats(2)[0] if a.has(2) else None
    if not x.is_floating_point():
        lo = None if lo is None else int(lo)
        hi = None if hi is None else int(hi)
    return torch.clamp(x, lo, hi)


def _bitshift(a: OnnxArgs, at: dict, op: int) -> torch.Tensor:
    x, y = a.t(0), a.t(1)
    return torch.bitwise_left_shift(x, y) if at.get("direction") == "LEFT" else torch.bitwise_right_shift(x, y)


def _where(a: OnnxArgs, at: dict, op: int) -> torch.Tensor:
    return torch.where(a.t(0).bool(), a.t(1), a.t(2))


def _prelu(a: OnnxArgs, at: dict, op: int) -> torch.Tensor:
    x, s = a.t(0), a.t(1)
    return torch.where(x >= 0, x, x * s)


def _gelu(x: torch.Tensor, at: dict) -> torch.Tensor:
    return F.gelu(x, approximate=at.get("approximate", "none"))


def _selu(x: torch.Tensor, at: dict) -> torch.Tensor:
    alpha, gamma = at.get("alpha", 1.67326319217681884765625), at.get("gamma", 1.05070102214813232421875)
    return gamma * torch.where(x > 0, x, alpha * (torch.exp(x) - 1))


def _round(x: torch.Tensor) -> torch.Tensor:
    return torch.round(x)  # half to even, as ONNX


def _isinf(x: torch.Tensor, at: dict) -> torch.Tensor:
    pos = torch.isposinf(x) if at.get("detect_positive", 1) else torch.zeros_like(x, dtype=torch.bool)
    neg = torch.isneginf(x) if at.get("detect_negative", 1) else torch.zeros_like(x, dtype=torch.bool)
    return pos | neg


def _cast(a: OnnxArgs, at: dict, op: int) -> torch.Tensor:
    to = int(at.get("to", 1))
    x = a.t(0)
    if to == 9:
        return x.bool()
    if to in (1, 10, 11, 16):
        return x.float()
    return x.long() if x.is_floating_point() is False else torch.trunc(x).long()


def _cast_like(a: OnnxArgs, at: dict, op: int) -> torch.Tensor:
    return a.t(0).to(a.t(1).dtype)


_ELEMENTWISE: dict[str, Callable] = {
    "Identity": _unary(lambda x: x),
    "Abs": _unary(torch.abs),
    "Neg": _unary(torch.neg),
    "Sqrt": _unary(torch.sqrt),
    "Exp": _unary(torch.exp),
    "Log": _unary(torch.log),
    "Reciprocal": _unary(torch.reciprocal),
    "Floor": _unary(torch.floor),
    "Ceil": _unary(torch.ceil),
    "Round": _unary(_round),
    "Sign": _unary(torch.sign),
    "Erf": _unary(torch.erf),
    "Sin": _unary(torch.sin),
    "Cos": _unary(torch.cos),
    "Tan": _unary(torch.tan),
    "Asin": _unary(torch.asin),
    "Acos": _unary(torch.acos),
    "Atan": _unary(torch.atan),
    "Sinh": _unary(torch.sinh),
    "Cosh": _unary(torch.cosh),
    "Asinh": _unary(torch.asinh),
    "Acosh": _unary(torch.acosh),
    "Atanh": _unary(torch.atanh),
    "Not": _unary(torch.logical_not),
    "IsNaN": _unary(torch.isnan),
    "Sigmoid": _unary(torch.sigmoid),
    "Tanh": _unary(torch.tanh),
    "Relu": _unary(torch.relu),
    "Softplus": _unary(F.softplus),
    "Softsign": _unary(F.softsign),
    "Mish": _unary(F.mish),
    "HardSwish": _unary(F.hardswish),
    "IsInf": _unary_attr(_isinf),
    "LeakyRelu": _unary_attr(lambda x, at: F.leaky_relu(x, at.get("alpha", 0.01))),
    "Elu": _unary_attr(lambda x, at: F.elu(x, at.get("alpha", 1.0))),
    "Celu": _unary_attr(lambda x, at: F.celu(x, at.get("alpha", 1.0))),
    "Selu": _unary_attr(_selu),
    "Gelu": _unary_attr(_gelu),
    "ThresholdedRelu": _unary_attr(lambda x, at: torch.where(x > at.get("alpha", 1.0), x, torch.zeros_like(x))),
    "HardSigmoid": _unary_attr(lambda x, at: torch.clamp(at.get("alpha", 0.2) * x + at.get("beta", 0.5), 0, 1)),
    "Shrink": _unary_attr(
        lambda x, at: torch.where(
            x < -at.get("lambd", 0.5),
            x + at.get("bias", 0.0),
            torch.where(x > at.get("lambd", 0.5), x - at.get("bias", 0.0), torch.zeros_like(x)),
        )
    ),
    "Add": _binary(torch.add),
    "Sub": _binary(torch.sub),
    "Mul": _binary(torch.mul),
    "Div": _binary(_div),
    "Pow": _pow,
    "Mod": _mod,
    "BitShift": _bitshift,
    "Equal": _binary(torch.eq),
    "Less": _binary(torch.lt),
    "LessOrEqual": _binary(torch.le),
    "Greater": _binary(torch.gt),
    "GreaterOrEqual": _binary(torch.ge),
    "And": _binary(torch.logical_and),
    "Or": _binary(torch.logical_or),
    "Xor": _binary(torch.logical_xor),
    "BitwiseAnd": _binary(torch.bitwise_and),
    "BitwiseOr": _binary(torch.bitwise_or),
    "BitwiseXor": _binary(torch.bitwise_xor),
    "BitwiseNot": _unary(torch.bitwise_not),
    "Max": _variadic(torch.maximum),
    "Min": _variadic(torch.minimum),
    "Sum": _variadic(torch.add),
    "Mean": _mean,
    "Where": _where,
    "PRelu": _prelu,
    "Clip": _clip,
    "Cast": _cast,
    "CastLike": _cast_like,
}


# ------------------------------------------------------------------------------------------------ reductions
def _reduce_axes(a: OnnxArgs, at: dict, op: int, input_from: int) -> list[int] | None:
    if op >= input_from:
        return a.ints(1) if a.has(1) else []
    return list(at["axes"]) if "axes" in at else []


def _reduce(kind: str, input_from: int = 18) -> Callable:
    def run(a: OnnxArgs, at: dict, op: int) -> torch.Tensor:
        x = a.t(0)
        axes = _reduce_axes(a, at, op, input_from)
        keep = bool(at.get("keepdims", 1))
        if not axes:
            if at.get("noop_with_empty_axes", 0):
                return x
            axes = list(range(x.dim()))
        dims = sorted(_axis(d, x.dim()) for d in axes)
        if not dims:  # a 0-d tensor
            return _reduce_all(kind, x)
        if kind in ("max", "min"):
            out = x
            for d in reversed(dims):
                out = (out.amax if kind == "max" else out.amin)(dim=d, keepdim=keep)
            return out
        xf = x
        if kind == "mean":
            return xf.mean(dim=dims, keepdim=keep)
        if kind == "sum":
            return xf.sum(dim=dims, keepdim=keep)
        if kind == "prod":
            out = xf
            for d in reversed(dims):
                out = out.prod(dim=d, keepdim=keep)
            return out
        if kind == "l1":
            return xf.abs().sum(dim=dims, keepdim=keep)
        if kind == "l2":
            return torch.sqrt((xf * xf).sum(dim=dims, keepdim=keep))
        if kind == "sumsquare":
            return (xf * xf).sum(dim=dims, keepdim=keep)
        if kind == "logsum":
            return torch.log(xf.sum(dim=dims, keepdim=keep))
        return torch.logsumexp(xf, dim=dims, keepdim=keep)

    return run


def _reduce_all(kind: str, x: torch.Tensor) -> torch.Tensor:
    if kind in ("l1", "l2"):
        return x.abs()
    if kind == "sumsquare":
        return x * x
    if kind == "logsum":
        return torch.log(x)
    return x


def _arg(largest: bool) -> Callable:
    def run(a: OnnxArgs, at: dict, op: int) -> torch.Tensor:
        x = a.t(0)
        axis = _axis(int(at.get("axis", 0)), x.dim())
        keep = bool(at.get("keepdims", 1))
        if at.get("select_last_index", 0):
            flipped = x.flip(axis)
            idx = flipped.argmax(axis, keepdim=keep) if largest else flipped.argmin(axis, keepdim=keep)
            return x.shape[axis] - 1 - idx
        return x.argmax(axis, keepdim=keep) if largest else x.argmin(axis, keepdim=keep)

    return run


def _softmax(kind: str) -> Callable:
    def run(a: OnnxArgs, at: dict, op: int) -> torch.Tensor:
        x = a.t(0)
        if op < 13:  # flatten to 2-D at `axis`, normalise each row, reshape back
            axis = _axis(int(at.get("axis", 1)), x.dim())
            flat = x.reshape(int(math.prod(x.shape[:axis])), -1)
            return _norm_rows(kind, flat, 1).reshape(x.shape)
        return _norm_rows(kind, x, _axis(int(at.get("axis", -1)), x.dim()))

    return run


def _norm_rows(kind: str, x: torch.Tensor, dim: int) -> torch.Tensor:
    if kind == "softmax":
        return torch.softmax(x, dim)
    if kind == "logsoftmax":
        return torch.log_softmax(x, dim)
    idx = x.argmax(dim, keepdim=True)
    return torch.zeros_like(x).scatter(dim, idx, 1.0)


def _cumsum(a: OnnxArgs, at: dict, op: int) -> torch.Tensor:
    x = a.t(0)
    axis = _axis(a.ints(1)[0], x.dim())
    if at.get("reverse", 0):
        x = x.flip(axis)
    out = torch.cumsum(x, axis).to(x.dtype)
    if at.get("exclusive", 0):
        out = out - x
    return out.flip(axis) if at.get("reverse", 0) else out


def _topk(a: OnnxArgs, at: dict, op: int) -> tuple:
    x = a.t(0)
    k = a.ints(1)[0] if op >= 10 else int(at["k"])
    axis = _axis(int(at.get("axis", -1)), x.dim())
    v, i = torch.topk(x, k, dim=axis, largest=bool(at.get("largest", 1)), sorted=True)
    return v, i


def _einsum(a: OnnxArgs, at: dict, op: int) -> torch.Tensor:
    return torch.einsum(at["equation"].replace(" ", ""), *a.present())


def _matmul(a: OnnxArgs, at: dict, op: int) -> torch.Tensor:
    return torch.matmul(a.t(0), a.t(1))


def _gemm(a: OnnxArgs, at: dict, op: int) -> torch.Tensor:
    x, w = a.t(0), a.t(1)
    x = x.t() if at.get("transA", 0) else x
    w = w.t() if at.get("transB", 0) else w
    out = at.get("alpha", 1.0) * (x @ w)
    if a.has(2):
        out = out + at.get("beta", 1.0) * a.t(2)
    return out


# ------------------------------------------------------------------------------------------- normalisation
def _instance_norm(a: OnnxArgs, at: dict, op: int) -> torch.Tensor:
    return F.instance_norm(a.t(0), weight=a.t(1), bias=a.t(2), eps=at.get("epsilon", 1e-5))


def _batch_norm(a: OnnxArgs, at: dict, op: int) -> torch.Tensor:
    return F.batch_norm(a.t(0), a.t(3), a.t(4), weight=a.t(1), bias=a.t(2), training=False, eps=at.get("epsilon", 1e-5))


def _layer_norm(a: OnnxArgs, at: dict, op: int) -> Any:
    x = a.t(0)
    axis = _axis(int(at.get("axis", -1)), x.dim())
    dims = list(range(axis, x.dim()))
    mean = x.mean(dim=dims, keepdim=True)
    inv_std = torch.rsqrt(((x - mean) ** 2).mean(dim=dims, keepdim=True) + at.get("epsilon", 1e-5))
    y = (x - mean) * inv_std * a.t(1)
    if a.has(2):
        y = y + a.t(2)
    n_out = int(at.get("_outputs", 1))
    return (y, mean, inv_std)[:n_out] if n_out > 1 else y


def _lrn(a: OnnxArgs, at: dict, op: int) -> torch.Tensor:
    return F.local_response_norm(
        a.t(0), int(at["size"]), alpha=at.get("alpha", 1e-4), beta=at.get("beta", 0.75), k=at.get("bias", 1.0)
    )


def _mvn(a: OnnxArgs, at: dict, op: int) -> torch.Tensor:
    x = a.t(0)
    axes = list(at.get("axes", [0, 2, 3]))
    mean = x.mean(dim=axes, keepdim=True)
    var = ((x - mean) ** 2).mean(dim=axes, keepdim=True)
    return (x - mean) / torch.sqrt(var + 1e-9)


def _global_pool(kind: str) -> Callable:
    def run(a: OnnxArgs, at: dict, op: int) -> torch.Tensor:
        x = a.t(0)
        dims = list(range(2, x.dim()))
        return x.mean(dim=dims, keepdim=True) if kind == "avg" else x.amax(dim=dims, keepdim=True)

    return run


def _lp_norm(a: OnnxArgs, at: dict, op: int) -> torch.Tensor:
    x = a.t(0)
    return F.normalize(x, p=float(at.get("p", 2)), dim=int(at.get("axis", -1)), eps=0.0)


MATH_OPS: dict[str, Callable] = {
    **_ELEMENTWISE,
    "ReduceMean": _reduce("mean"),
    "ReduceSum": _reduce("sum", 13),
    "ReduceMax": _reduce("max"),
    "ReduceMin": _reduce("min"),
    "ReduceProd": _reduce("prod"),
    "ReduceL1": _reduce("l1"),
    "ReduceL2": _reduce("l2"),
    "ReduceSumSquare": _reduce("sumsquare"),
    "ReduceLogSum": _reduce("logsum"),
    "ReduceLogSumExp": _reduce("logsumexp"),
    "ArgMax": _arg(True),
    "ArgMin": _arg(False),
    "Softmax": _softmax("softmax"),
    "LogSoftmax": _softmax("logsoftmax"),
    "Hardmax": _softmax("hardmax"),
    "CumSum": _cumsum,
    "TopK": _topk,
    "Einsum": _einsum,
    "MatMul": _matmul,
    "Gemm": _gemm,
    "InstanceNormalization": _instance_norm,
    "BatchNormalization": _batch_norm,
    "LayerNormalization": _layer_norm,
    "LRN": _lrn,
    "MeanVarianceNormalization": _mvn,
    "GlobalAveragePool": _global_pool("avg"),
    "GlobalMaxPool": _global_pool("max"),
    "LpNormalization": _lp_norm,
}
