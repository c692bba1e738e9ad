"""ONNX convolution, pooling, resize and pad -> the catalog's conv/pool/upsample/pad layers."""

from __future__ import annotations

from typing import Any

import numpy as np

from ..layers.shape_rules import pool_out
from .base import Context, Unsupported, Value, handles
from .onnx_ops_common import _one_output, _opt, attrs


def _pads(ctx: Context, node: Any, x: Value, kernel: list[int], strides: list[int], dilations: list[int]) -> list[int]:
    """Explicit begin+end pads, resolving auto_pad from the static input size."""
    at = attrs(node)
    n = len(kernel)
    auto = at.get("auto_pad", "NOTSET")
    if auto in ("NOTSET", ""):
        return list(at.get("pads", [0] * (2 * n)))
    if auto == "VALID":
        return [0] * (2 * n)
    spatial = [int(d) for d in x.info.shape[2:]]
    begin, end = [], []
    for s, k, st, d in zip(spatial, kernel, strides, dilations):
        out = -(-s // st)
        total = max(0, (out - 1) * st + (k - 1) * d + 1 - s)
        small, big = total // 2, total - total // 2
        begin.append(big if auto == "SAME_LOWER" else small)
        end.append(small if auto == "SAME_LOWER" else big)
    return begin + end


# the fill that pads a max pool: no real value loses to it (finite, so project files and exports stay plain JSON)
LOWEST_FLOAT32 = float(np.finfo(np.float32).min)


def pad_layer(
    ctx: Context, x: Value, begin: list[int], end: list[int], value: float, name: str, label: str = ""
) -> Value:
    """A padding layer for the spatial dims (ONNX order: begin/end per dim, first dim first); torch's padding
    tuples list the last dim first."""
    nd = len(begin)
    torch_pads = tuple(int(p) for i in reversed(range(nd)) for p in (begin[i], end[i]))
    if nd == 2 and value == 0.0:
        return ctx.add("ZeroPad2d", [x], {"padding": torch_pads}, label=label or f"{name}_pad")[0]
    if nd not in (1, 2, 3):
        raise Unsupported(f"padding {nd} spatial dims")
    params = {"padding": torch_pads, "value": float(value)}
    return ctx.add(f"ConstantPad{nd}d", [x], params, label=label or f"{name}_pad")[0]


def _symmetric_or_pad(ctx: Context, x: Value, pads: list[int], name: str) -> tuple[Value, tuple[int, ...]]:
    """Symmetric pads become the layer's padding; asymmetric pads get a zero-padding layer in front."""
    n = len(pads) // 2
    begin, end = pads[:n], pads[n:]
    if begin == end:
        return x, tuple(begin)
    return pad_layer(ctx, x, begin, end, 0.0, name), (0,) * n


@handles("Conv")
def _conv(ctx: Context, node: Any, name: str) -> None:
    x = ctx.value(node.input[0])
    w = ctx.const(node.input[1]).astype(np.float32)
    b = ctx.const(node.input[2]).astype(np.float32) if _opt(node, 2) else None
    at = attrs(node)
    nd = w.ndim - 2
    if nd not in (1, 2, 3):
        raise Unsupported(f"{nd}-D convolution")
    kernel = list(at.get("kernel_shape", w.shape[2:]))
    strides = list(at.get("strides", [1] * nd))
    dil = list(at.get("dilations", [1] * nd))
    groups = int(at.get("group", 1))
    x, pad = _symmetric_or_pad(ctx, x, _pads(ctx, node, x, kernel, strides, dil), name)
    params = {
        "out_channels": int(w.shape[0]),
        "kernel_size": tuple(kernel),
        "stride": tuple(strides),
        "padding": pad,
        "dilation": tuple(dil),
        "groups": groups,
        "bias": b is not None,
    }
    weights = {"weight": w} | ({"bias": b} if b is not None else {})
    ctx.bind(node.output[0], ctx.add(f"Conv{nd}d", [x], params, weights, label=name)[0])


@handles("ConvTranspose")
def _conv_t(ctx: Context, node: Any, name: str) -> None:
    x = ctx.value(node.input[0])
    w = ctx.const(node.input[1]).astype(np.float32)
    b = ctx.const(node.input[2]).astype(np.float32) if _opt(node, 2) else None
    at = attrs(node)
    nd = w.ndim - 2
    groups = int(at.get("group", 1))
    pads = list(at.get("pads", [0] * (2 * nd)))
    strides = list(at.get("strides", [1] * nd))
    dil = list(at.get("dilations", [1] * nd))
    auto = at.get("auto_pad", "NOTSET")
    if "output_shape" in at or auto in ("SAME_UPPER", "SAME_LOWER"):
        pads, extra = _conv_t_pads(x, w, at, strides, dil)
        at["output_padding"] = [int(o) + e for o, e in zip(at.get("output_padding", [0] * nd), extra)]
    # both crop `begin` from the full transposed output and end where the size says: a smaller end pad is
    # torch's output_padding (which must stay below the stride or dilation)
    out_pad = [int(o) + b - e for o, b, e in zip(at.get("output_padding", [0] * nd), pads[:nd], pads[nd:])]
    crop = [max(0, -o) for o in out_pad]  # more cropped at the end than at the begin: a Narrow after the layer
    out_pad = [max(0, o) for o in out_pad]
    if any(not 0 <= o < max(s, d) for o, s, d in zip(out_pad, strides, dil)):
        raise Unsupported(f"pads {pads}: an end pad larger than the begin pad (or by a stride or more) crops")
    params = {
        "out_channels": int(w.shape[1]) * groups,
        "kernel_size": tuple(at.get("kernel_shape", w.shape[2:])),
        "stride": tuple(strides),
        "padding": tuple(pads[:nd]),
        "output_padding": tuple(out_pad),
        "dilation": tuple(dil),
        "groups": groups,
        "bias": b is not None,
    }
    weights = {"weight": w} | ({"bias": b} if b is not None else {})
    y = ctx.add(f"ConvTranspose{nd}d", [x], params, weights, label=name)[0]
    for i, c in enumerate(crop):
        if c:
            size = int(y.info.shape[2 + i])
            y = ctx.add("Narrow", [y], {"dim": 2 + i, "start": 0, "length": size - c}, label=f"{name}_crop")[0]
    ctx.bind(node.output[0], y)


def _conv_t_pads(x: Any, w: np.ndarray, at: dict, strides: list[int], dil: list[int]) -> tuple[list[int], list[int]]:
    """ConvTranspose pads for an output_shape or auto_pad SAME (the ONNX specification's total padding, split
    begin/end by auto_pad), and the output padding a negative total needs."""
    nd = w.ndim - 2
    sizes = [int(d) for d in x.info.shape[2:]]
    kernel = list(at.get("kernel_shape", w.shape[2:]))
    out_pad = list(at.get("output_padding", [0] * nd))
    target = list(at.get("output_shape", [s * st for s, st in zip(sizes, strides)]))[-nd:]
    begin, end, extra = [], [], []
    for i in range(nd):
        total = strides[i] * (sizes[i] - 1) + out_pad[i] + (kernel[i] - 1) * dil[i] + 1 - int(target[i])
        more = max(0, -total)
        total = max(0, total)
        head = total // 2 if at.get("auto_pad") == "SAME_UPPER" else total - total // 2
        begin.append(head)
        end.append(total - head)
        extra.append(more)
    return begin + end, extra


@handles("MaxPool", "AveragePool")
def _pool(ctx: Context, node: Any, name: str) -> None:
    _one_output(node)
    x = ctx.value(node.input[0])
    at = attrs(node)
    kernel = list(at["kernel_shape"])
    nd = len(kernel)
    strides = list(at.get("strides", [1] * nd))
    dil = list(at.get("dilations", [1] * nd))
    pads = _pads(ctx, node, x, kernel, strides, dil)
    kind = "MaxPool" if node.op_type == "MaxPool" else "AvgPool"
    if nd not in (1, 2):
        raise Unsupported(f"{nd}-D pooling has no catalog layer")
    ceil = bool(at.get("ceil_mode", 0))
    params: dict[str, Any] = {"kernel_size": tuple(kernel), "stride": tuple(strides), "ceil_mode": ceil}
    include_pad = bool(at.get("count_include_pad", 0))
    if kind == "MaxPool":
        params["dilation"] = tuple(dil)
        if at.get("storage_order", 0):
            raise Unsupported("storage_order=1")
    else:
        if any(d != 1 for d in dil):
            raise Unsupported("dilated average pooling")
        params["count_include_pad"] = include_pad
        if at.get("auto_pad", "NOTSET") not in ("NOTSET", "", "VALID") and any(pads) and include_pad:
            raise Unsupported("auto_pad SAME average pooling with count_include_pad=1")
    begin, end = pads[:nd], pads[nd:]
    fits = all(2 * b <= k for b, k in zip(begin, kernel))  # torch pads at most half a window
    if begin == end and fits:
        params["padding"] = tuple(begin)
    elif not ceil and fits and not include_pad and _ceil_mode_equivalent(x, kernel, strides, dil, begin, end):
        # extra padding at the end only: torch's ceil_mode adds the same last, partial windows, which see just
        # the real values (what -inf padding gives MaxPool, and count_include_pad=0 gives AveragePool)
        params["padding"], params["ceil_mode"] = tuple(begin), True
    elif kind == "AvgPool" and include_pad and not ceil:
        # zeros count in the average (count_include_pad=1): a zero-padding layer, then an unpadded pool
        x = pad_layer(ctx, x, begin, end, 0.0, name)
        params["padding"] = (0,) * nd
    elif kind == "MaxPool":
        # a max over non-negative values ignores zero padding; otherwise pad with the lowest float, which never wins
        x = pad_layer(ctx, x, begin, end, 0.0 if _non_negative(ctx, x) else LOWEST_FLOAT32, name)
        params["padding"] = (0,) * nd
    else:
        raise Unsupported(
            f"pads {pads} (asymmetric, or more than half the kernel) need a padding layer the catalog lacks here"
        )
    ctx.bind(node.output[0], ctx.add(f"{kind}{nd}d", [x], params, label=name)[0])


def _ceil_mode_equivalent(
    x: Value, kernel: list[int], strides: list[int], dil: list[int], begin: list[int], end: list[int]
) -> bool:
    """Explicit pads (begin <= end) give the windows of symmetric `begin` padding with torch's ceil_mode."""
    for size, k, s, d, b, e in zip(x.info.shape[2:], kernel, strides, dil, begin, end):
        if b > e:
            return False
        span = int(size) - d * (k - 1) - 1
        onnx_out = (span + b + e) // s + 1
        if pool_out(int(size), k, s, b, d, ceil_mode=True) != onnx_out or (onnx_out - 1) * s >= int(size) + b:
            return False
    return True


_NON_NEGATIVE = ("ReLU", "Sigmoid", "Softmax", "Softplus", "Step")


def _non_negative(ctx: Context, x: Value) -> bool:
    node = ctx.graph.node(x.node_id)
    if node.type in _NON_NEGATIVE:
        return True
    if node.type == "Hardtanh":
        return float(node.params.get("min_val", -1.0)) >= 0.0
    return False


@handles("GlobalAveragePool", "GlobalMaxPool")
def _global(ctx: Context, node: Any, name: str) -> None:
    x = ctx.value(node.input[0])
    nd = x.info.rank - 2
    kind = "Avg" if node.op_type == "GlobalAveragePool" else "Max"
    layer = {("Avg", 1): "AdaptiveAvgPool1d", ("Avg", 2): "AdaptiveAvgPool2d", ("Max", 2): "AdaptiveMaxPool2d"}.get(
        (kind, nd)
    )
    if layer is None:
        raise Unsupported(f"global {kind.lower()} pooling over {nd} spatial dims")
    ctx.bind(node.output[0], ctx.add(layer, [x], {"output_size": 1}, label=name)[0])


@handles("Resize", "Upsample")
def _resize(ctx: Context, node: Any, name: str) -> None:
    x = ctx.value(node.input[0])
    at = attrs(node)
    mode = at.get("mode", "nearest")
    nd = x.info.rank - 2
    scales = sizes = None
    if node.op_type == "Upsample":
        scales = at.get("scales") if ctx.opset < 9 else ctx.const(node.input[1])
    else:
        if at.get("axes") is not None:
            raise Unsupported("the axes attribute")
        if _opt(node, 2):
            scales = ctx.const(node.input[2])
        if _opt(node, 3):
            sizes = ctx.const(node.input[3])
        if ctx.opset == 10 and _opt(node, 1):
            scales = ctx.const(node.input[1])
    coord = at.get(
        "coordinate_transformation_mode", "half_pixel" if node.op_type == "Resize" and ctx.opset >= 11 else "asymmetric"
    )
    default_nearest = "round_prefer_floor" if node.op_type == "Resize" and ctx.opset >= 11 else "floor"
    spatial = [int(d) for d in x.info.shape[2:]]
    if (
        sizes is not None
        and len(sizes)
        and mode == "nearest"
        and all(int(o) % i == 0 and int(o) >= i for o, i in zip(sizes[2:], spatial))
    ):
        # an exact integer upscale given as sizes: the same as a scale factor, which torch handles like ONNX
        scales, sizes = [1.0, 1.0, *(int(o) / i for o, i in zip(sizes[2:], spatial))], None
    if scales is not None and len(scales) and mode == "linear" and coord == "align_corners":
        # align_corners depends only on the output size; torch's scale path would reuse the raw factor
        sizes = [1, 1, *(int(np.floor(i * float(s))) for i, s in zip(spatial, list(scales)[2:]))]
        scales = None
        if 1 in sizes[2:]:
            raise Unsupported("align_corners resize to a size of 1 is defined differently in torch")
        sizes_given_as_scales = True
    else:
        sizes_given_as_scales = False
    params: dict[str, Any] = {}
    if scales is not None and len(scales):
        s = [float(v) for v in scales]
        if s[:2] != [1.0, 1.0]:
            raise Unsupported(f"scales {s} resize the batch or channel dims")
        params["scale_factor"] = s[2] if len(set(s[2:])) == 1 else tuple(s[2:])
        params["size"] = None
    elif sizes is not None and len(sizes):
        sz = [int(v) for v in sizes]
        if not sizes_given_as_scales and sz[:2] != [
            int(d) for d in ctx.static_shapes.get(node.input[0], (sz[0], x.info.shape[1]))[:2]
        ]:
            raise Unsupported(f"sizes {sz} resize the batch or channel dims")
        params["size"] = tuple(sz[2:])
        params["scale_factor"] = None
    else:
        raise Unsupported("needs constant scales or sizes")
    if mode == "nearest":
        nearest = at.get("nearest_mode", default_nearest)
        if not (
            (coord == "asymmetric" and nearest == "floor")
            or (
                coord in ("half_pixel", "pytorch_half_pixel")
                and nearest == "round_prefer_floor"
                and params["scale_factor"] is not None
                and float(np.max(params["scale_factor"])) >= 1
                and all(float(v).is_integer() for v in np.atleast_1d(params["scale_factor"]))
            )
        ):
            raise Unsupported(f"nearest resize with coordinate_transformation_mode={coord}, nearest_mode={nearest}")
        params["mode"] = "nearest"
    elif mode == "linear":
        params["mode"] = {1: "linear", 2: "bilinear", 3: "trilinear"}[nd]
        if coord == "align_corners":
            params["align_corners"] = True
        elif coord in ("half_pixel", "pytorch_half_pixel") and not at.get("antialias", 0):
            params["align_corners"] = False
        else:
            raise Unsupported(f"linear resize with coordinate_transformation_mode={coord}")
    else:
        raise Unsupported(f"resize mode {mode!r}")
    ctx.bind(node.output[0], ctx.add("Upsample", [x], params, label=name)[0])


@handles("Pad")
def _pad(ctx: Context, node: Any, name: str) -> None:
    x = ctx.value(node.input[0])
    at = attrs(node)
    mode = at.get("mode", "constant")
    if ctx.opset >= 11:
        pads = [int(v) for v in ctx.const(node.input[1])]
        value = float(ctx.const(node.input[2])) if _opt(node, 2) else 0.0
        if _opt(node, 3):
            raise Unsupported("the axes input")
    else:
        pads, value = list(at.get("pads", at.get("paddings", []))), float(at.get("value", 0.0))
    r = x.info.rank
    begin, end = pads[:r], pads[r:]
    if any(begin[:2]) or any(end[:2]) or any(p < 0 for p in pads) or r not in (3, 4, 5):
        raise Unsupported(f"pads {pads}: only padding (growing) the spatial dims of (N, C, ...) maps is supported")
    if mode == "reflect" and r == 4:
        pads2d = (begin[3], end[3], begin[2], end[2])
        ctx.bind(node.output[0], ctx.add("ReflectionPad2d", [x], {"padding": pads2d}, label=name)[0])
        return
    if mode != "constant":
        raise Unsupported(f"{mode} padding of a rank-{r} tensor")
    ctx.bind(node.output[0], pad_layer(ctx, x, begin[2:], end[2:], value, name, label=name))
