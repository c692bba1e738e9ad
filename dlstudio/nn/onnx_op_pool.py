"""ONNX ops for OnnxOp: pooling with the ONNX padding rules (asymmetric pads, auto_pad, 1-3 spatial dims).

Each function takes (args, attributes, opset) and follows the ONNX operator specification (onnx.ai/onnx/operators).
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch
import torch.nn.functional as F

from .onnx_op_math import OnnxArgs


def _pool_pads(x: torch.Tensor, at: dict, kernel: list[int], strides: list[int], dil: list[int]) -> list[int]:
    """ONNX pads [x1_begin, x2_begin, ..., x1_end, x2_end, ...] with auto_pad resolved."""
    n = len(kernel)
    auto = at.get("auto_pad", "NOTSET")
    if auto in ("SAME_UPPER", "SAME_LOWER"):
        pads = [0] * (2 * n)
        for i in range(n):
            size = x.shape[2 + i]
            out = -(-size // strides[i])
            total = max(0, (out - 1) * strides[i] + (kernel[i] - 1) * dil[i] + 1 - size)
            small, big = total // 2, total - total // 2
            pads[i], pads[i + n] = (small, big) if auto == "SAME_UPPER" else (big, small)
        return pads
    if auto == "VALID":
        return [0] * (2 * n)
    return list(at.get("pads", [0] * (2 * n)))


def _torch_pads(pads: list[int]) -> list[int]:
    n = len(pads) // 2
    out: list[int] = []
    for i in reversed(range(n)):
        out += [pads[i], pads[i + n]]
    return out


def _pool(kind: str) -> Callable:
    def run(a: OnnxArgs, at: dict, op: int) -> torch.Tensor:
        x = a.t(0)
        kernel = list(at["kernel_shape"])
        n = len(kernel)
        if n not in (1, 2, 3):
            raise ValueError(f"{n}-D pooling is not supported")
        strides = list(at.get("strides", [1] * n))
        dil = list(at.get("dilations", [1] * n))
        pads = _torch_pads(_pool_pads(x, at, kernel, strides, dil))
        ceil = bool(at.get("ceil_mode", 0))
        if kind == "max":
            xp = F.pad(x, pads, value=-math.inf) if any(pads) else x
            fn = (F.max_pool1d, F.max_pool2d, F.max_pool3d)[n - 1]
            return fn(xp, kernel, strides, 0, dil, ceil_mode=ceil)
        if any(d != 1 for d in dil):
            return _dilated_avg(x, pads, kernel, strides, dil, bool(at.get("count_include_pad", 0)))
        fn = (F.avg_pool1d, F.avg_pool2d, F.avg_pool3d)[n - 1]
        if not any(pads) and not ceil:
            return fn(x, kernel, strides)
        ones = torch.ones_like(x[:1, :1])
        xp = F.pad(x, pads)
        count = F.pad(ones, pads, value=1.0 if at.get("count_include_pad", 0) else 0.0)
        return fn(xp, kernel, strides, 0, ceil) / fn(count, kernel, strides, 0, ceil)

    return run


def _dilated_avg(
    x: torch.Tensor, pads: list[int], kernel: list[int], strides: list[int], dil: list[int], include_pad: bool
) -> torch.Tensor:
    """Average pooling with dilation (torch has none): the mean over the dilated window via unfold."""
    ones = torch.ones_like(x[:1, :1])
    xp = F.pad(x, pads)
    cp = F.pad(ones, pads, value=1.0 if include_pad else 0.0)
    for i, (k, s, d) in enumerate(zip(kernel, strides, dil)):
        dim = 2 + i
        span = (k - 1) * d + 1
        xp = xp.unfold(dim, span, s)[..., ::d]
        cp = cp.unfold(dim, span, s)[..., ::d]
    n = len(kernel)
    dims = list(range(-n, 0))
    return xp.sum(dim=dims) / cp.sum(dim=dims)


def _lp_pool(a: OnnxArgs, at: dict, op: int) -> torch.Tensor:
    x = a.t(0)
    p = float(at.get("p", 2))
    kernel = list(at["kernel_shape"])
    n = len(kernel)
    strides = list(at.get("strides", [1] * n))
    pads = _torch_pads(_pool_pads(x, at, kernel, strides, [1] * n))
    xp = F.pad(x, pads) if any(pads) else x
    fn = (F.avg_pool1d, F.avg_pool2d, F.avg_pool3d)[n - 1]
    return (fn(xp.abs() ** p, kernel, strides) * math.prod(kernel)) ** (1.0 / p)


POOL_OPS: dict[str, Callable] = {
    "MaxPool": _pool("max"),
    "AveragePool": _pool("avg"),
    "LpPool": _lp_pool,
}
