"""OnnxOp kernels for Conv and ConvTranspose in the forms catalog layers do not take (3-D transposed convolutions,
weights computed by the model, any ONNX padding): torch's functional convolutions on the ONNX attributes.
`a` is onnx_op_math.OnnxArgs (not imported: the Python exporter inlines these modules in import order)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
import torch.nn.functional as F


def _same_pads(sizes: list[int], kernel: list[int], strides: list[int], dil: list[int], upper: bool) -> list[int]:
    begin, end = [], []
    for s, k, st, d in zip(sizes, kernel, strides, dil):
        out = -(-s // st)
        total = max(0, (out - 1) * st + (k - 1) * d + 1 - s)
        head = total // 2 if upper else total - total // 2
        begin.append(head)
        end.append(total - head)
    return begin + end


def _conv_inputs(a: Any, at: dict) -> tuple[torch.Tensor, torch.Tensor, Any, int, list, list, list]:
    """Conv and ConvTranspose alike: input, weight, optional bias, spatial rank, kernel, strides, dilations."""
    x, w = a.t(0), a.t(1)
    b = a.t(2) if a.has(2) else None
    nd = w.dim() - 2
    kernel = list(at.get("kernel_shape", w.shape[2:]))
    strides = list(at.get("strides", [1] * nd))
    dil = list(at.get("dilations", [1] * nd))
    return x, w, b, nd, kernel, strides, dil


def _conv(a: Any, at: dict, op: int) -> torch.Tensor:
    x, w, b, nd, kernel, strides, dil = _conv_inputs(a, at)
    auto = at.get("auto_pad", "NOTSET")
    if auto in ("SAME_UPPER", "SAME_LOWER"):
        pads = _same_pads(list(x.shape[2:]), kernel, strides, dil, auto == "SAME_UPPER")
    else:
        pads = list(at.get("pads", [0] * (2 * nd)))
    if any(pads):
        flat = [p for i in reversed(range(nd)) for p in (pads[i], pads[nd + i])]
        x = F.pad(x, flat)
    fn = (F.conv1d, F.conv2d, F.conv3d)[nd - 1]
    return fn(x, w, b, strides, 0, dil, int(at.get("group", 1)))


def _conv_transpose(a: Any, at: dict, op: int) -> torch.Tensor:
    x, w, b, nd, kernel, strides, dil = _conv_inputs(a, at)
    out_pad = list(at.get("output_padding", [0] * nd))
    sizes = list(x.shape[2:])
    full = [st * (s - 1) + op_ + (k - 1) * d + 1 for s, st, op_, k, d in zip(sizes, strides, out_pad, kernel, dil)]
    auto = at.get("auto_pad", "NOTSET")
    if "output_shape" in at or auto in ("SAME_UPPER", "SAME_LOWER"):
        target = list(at.get("output_shape", [s * st for s, st in zip(sizes, strides)]))[-nd:]
        begin, end = [], []
        for i, (f, t) in enumerate(zip(full, target)):
            total = f - int(t)
            if total < 0:  # larger than the full output: more output padding (positions only the bias reaches)
                out_pad[i] -= total
                total = 0
            begin.append(total // 2 if auto == "SAME_UPPER" else total - total // 2)
            end.append(total - begin[-1])
        pads = begin + end
    else:
        pads = list(at.get("pads", [0] * (2 * nd)))
    fn = (F.conv_transpose1d, F.conv_transpose2d, F.conv_transpose3d)[nd - 1]
    y = fn(x, w, b, strides, 0, out_pad, int(at.get("group", 1)), dil)
    index = [slice(None), slice(None)] + [slice(pads[i], y.shape[2 + i] - pads[nd + i]) for i in range(nd)]
    return y[tuple(index)]


CONV_OPS: dict[str, Callable] = {"Conv": _conv, "ConvTranspose": _conv_transpose}
