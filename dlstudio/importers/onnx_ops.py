"""ONNX op -> catalog layer mapping. One handler per op type; each adds layers through the import Context, or
raises Unsupported with the reason (which the importer lists with the node's name).

Conventions: ONNX dim 0 is the batch; dlstudio dims in parameters count from 1 for the first per-sample dim.
Weights are given in torch's layout (Linear weight is (out, in): ONNX Gemm's B transposed unless transB).
"""

from __future__ import annotations

from typing import Any

import numpy as np
from onnx import helper

from ..layers.registry import REGISTRY
from .base import Context, Unsupported, Value, handles


def attrs(node: Any) -> dict[str, Any]:
    out = {}
    for a in node.attribute:
        v = helper.get_attribute_value(a)
        out[a.name] = v.decode() if isinstance(v, bytes) else v
    return out


def _ins(node: Any) -> list[str]:
    return list(node.input)


def _opt(node: Any, i: int) -> str | None:
    return node.input[i] if len(node.input) > i and node.input[i] else None


def _axis(axis: int, rank: int, what: str = "axis") -> int:
    a = axis + rank if axis < 0 else axis
    if not 0 <= a < rank:
        raise Unsupported(f"{what} {axis} is out of range for rank {rank}")
    if a == 0:
        raise Unsupported(f"{what} 0 is the batch dimension; dlstudio layers act per sample")
    return a


def _one_output(node: Any) -> None:
    if len([o for o in node.output if o]) > 1:
        raise Unsupported("its extra outputs (training statistics, indices or masks) are not supported")


# ------------------------------------------------------------------------------------------ activations
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
        raise Unsupported("SELU with non-standard alpha/gamma has no catalog layer")
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
    if ctx.opset < 13 and axis != r - 1:
        # before opset 13 the input is flattened to 2-D at `axis`: only the last axis means the same in torch
        raise Unsupported(f"opset {ctx.opset} softmax over axis {axis} of a rank-{r} tensor flattens the tail")
    layer = "Softmax" if node.op_type == "Softmax" else "LogSoftmax"
    ctx.bind(node.output[0], ctx.add(layer, [x], {"dim": axis}, label=name)[0])


# -------------------------------------------------------------------------------------------- dense
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
    ins = [i for i in node.input if i]
    if any(i in ctx.consts for i in ins):
        raise Unsupported("arithmetic with a constant tensor has no catalog layer (only the bias after a MatMul)")
    vals = [ctx.value(i) for i in ins]
    if len(vals) == 1:
        ctx.bind(node.output[0], vals[0])
        return
    ctx.bind(node.output[0], ctx.add(_MERGE[node.op_type], vals, label=name)[0])


@handles("Flatten")
def _flatten(ctx: Context, node: Any, name: str) -> None:
    x = ctx.value(node.input[0])
    axis = attrs(node).get("axis", 1)
    axis = axis + x.info.rank if axis < 0 else axis
    if axis != 1:
        raise Unsupported(f"axis={axis} merges the batch with other dims (only axis 1 keeps the batch)")
    if x.info.rank == 2:
        ctx.bind(node.output[0], x)
        return
    ctx.bind(node.output[0], ctx.add("Flatten", [x], label=name)[0])


@handles("Reshape")
def _reshape(ctx: Context, node: Any, name: str) -> None:
    raw = ctx.raw_value(node.input[0])
    target = [int(v) for v in (ctx.const(node.input[1], batch_ok=True) if ctx.opset >= 5 else attrs(node)["shape"])]
    if ctx.opset >= 5 and node.input[1] in ctx.batch_tainted:
        target[0] = 0  # the stand-in batch entry: keep the batch
    if raw.layout in ("rnn_y1", "rnn_y0_t") and len(target) == 3 and target[2] in (-1, raw.info.shape[-1]):
        # (N, L, dirs, H) -> (N, L, dirs*H) is the layer's batch-first output; time-major -> seq_first
        ctx.bind(node.output[0], Value(raw.node_id, raw.port, raw.info, "" if raw.layout == "rnn_y1" else "seq_first"))
        return
    x = ctx.value(node.input[0])
    if attrs(node).get("allowzero", 0) and 0 in target:
        raise Unsupported("allowzero=1 with a zero size")
    src = ctx.static_shapes.get(node.input[0])
    batch_ok = target and (
        target[0] == 0 or (src is not None and target[0] == src[0]) or (target[0] == -1 and -1 not in target[1:])
    )
    if not batch_ok:
        raise Unsupported(f"target shape {target} does not keep the batch dimension first")
    feats = [int(x.info.shape[i + 1]) if v == 0 and i + 1 < x.info.rank else v for i, v in enumerate(target[1:])]
    if not feats:
        raise Unsupported("reshaping to the batch alone is not supported")
    if tuple(feats) == tuple(x.info.shape[1:]):
        ctx.bind(node.output[0], x)
        return
    ctx.bind(node.output[0], ctx.add("Reshape", [x], {"shape": tuple(feats)}, label=name)[0])


@handles("Transpose")
def _transpose(ctx: Context, node: Any, name: str) -> None:
    raw = ctx.raw_value(node.input[0])
    perm = list(attrs(node).get("perm", list(range(raw.info.rank))[::-1]))
    if raw.layout == "" and raw.info.rank == 3 and perm == [1, 0, 2]:
        ctx.bind(node.output[0], Value(raw.node_id, raw.port, raw.info, "seq_first"))  # for a time-major RNN
        return
    if raw.layout == "seq_first" and perm == [1, 0, 2]:
        ctx.bind(node.output[0], Value(raw.node_id, raw.port, raw.info))
        return
    if raw.layout == "rnn_y0" and perm == [0, 2, 1, 3]:
        ctx.bind(node.output[0], Value(raw.node_id, raw.port, raw.info, "rnn_y0_t", raw.dirs))
        return
    if raw.layout == "rnn_y0" and perm == [2, 0, 1, 3]:
        ctx.bind(node.output[0], Value(raw.node_id, raw.port, raw.info, "rnn_y1", raw.dirs))
        return
    x = ctx.value(node.input[0])
    if perm[0] != 0:
        raise Unsupported(f"perm {perm} moves the batch dimension")
    if perm == list(range(len(perm))):
        ctx.bind(node.output[0], x)
        return
    ctx.bind(node.output[0], ctx.add("Permute", [x], {"dims": tuple(perm[1:])}, label=name)[0])


def _axes(ctx: Context, node: Any) -> list[int] | None:
    if ctx.opset >= 13:
        return [int(a) for a in ctx.const(node.input[1])] if _opt(node, 1) else None
    a = attrs(node).get("axes")
    return [int(v) for v in a] if a is not None else None


@handles("Squeeze")
def _squeeze(ctx: Context, node: Any, name: str) -> None:
    raw = ctx.raw_value(node.input[0])
    if raw.layout in ("rnn_y0", "rnn_y1") and raw.dirs == 1:
        axes = _axes(ctx, node)
        if axes is not None and [a % 4 for a in axes] == [1 if raw.layout == "rnn_y0" else 2]:
            ctx.bind(
                node.output[0], Value(raw.node_id, raw.port, raw.info, "seq_first" if raw.layout == "rnn_y0" else "")
            )
            return
    x = ctx.value(node.input[0])
    axes = _axes(ctx, node)
    if axes is None:
        axes = [i for i, d in enumerate(x.info.shape) if d == 1]
    axes = sorted((_axis(a, x.info.rank) for a in axes), reverse=True)
    for a in axes:
        x = ctx.add("Squeeze", [x], {"dim": a}, label=name)[0]
    ctx.bind(node.output[0], x)


@handles("Unsqueeze")
def _unsqueeze(ctx: Context, node: Any, name: str) -> None:
    x = ctx.value(node.input[0])
    axes = _axes(ctx, node) or []
    out_rank = x.info.rank + len(axes)
    for a in sorted(_axis(a, out_rank) for a in axes):
        x = ctx.add("Unsqueeze", [x], {"dim": a}, label=name)[0]
    ctx.bind(node.output[0], x)


@handles("Concat")
def _concat(ctx: Context, node: Any, name: str) -> None:
    vals = [ctx.value(i) for i in node.input if i]
    axis = _axis(attrs(node)["axis"], vals[0].info.rank)
    if len(vals) == 1:
        ctx.bind(node.output[0], vals[0])
        return
    ctx.bind(node.output[0], ctx.add("Concat", vals, {"dim": axis}, label=name)[0])


@handles("Split")
def _split(ctx: Context, node: Any, name: str) -> None:
    x = ctx.value(node.input[0])
    at = attrs(node)
    axis = _axis(at.get("axis", 0), x.info.rank)
    outs = [o for o in node.output]
    n = len(outs)
    sizes = at.get("split")
    if ctx.opset >= 13 and _opt(node, 1):
        sizes = [int(v) for v in ctx.const(node.input[1])]
    size = int(x.info.shape[axis])
    if sizes is not None and len(set(sizes)) > 1:
        raise Unsupported(f"unequal split sizes {list(sizes)}: the catalog Split cuts equal chunks")
    if size % n:
        raise Unsupported(f"dimension of size {size} does not split into {n} equal parts")
    parts = ctx.add("Split", [x], {"chunks": n, "dim": axis}, label=name)
    for o, v in zip(outs, parts):
        if o:
            ctx.bind(o, v)


@handles("Dropout")
def _dropout(ctx: Context, node: Any, name: str) -> None:
    x = ctx.value(node.input[0])
    if len([o for o in node.output if o]) > 1 and ctx.consumers.get(node.output[1], 0):
        raise Unsupported("the dropout mask output is used")
    ratio = attrs(node).get("ratio", 0.5)
    if ctx.opset >= 12 and _opt(node, 1):
        ratio = float(ctx.const(node.input[1]))
    if ctx.opset >= 12 and _opt(node, 2) and bool(ctx.const(node.input[2])):
        raise Unsupported("training_mode=true dropout is random at inference")
    ctx.bind(node.output[0], ctx.add("Dropout", [x], {"p": float(ratio)}, label=name)[0])


@handles("Gather")
def _gather(ctx: Context, node: Any, name: str) -> None:
    if node.input[0] in ctx.values and node.input[1] in ctx.consts:
        # x[:, i] with a constant scalar index: Select (e.g. the last time step)
        x = ctx.value(node.input[0])
        idx = ctx.const(node.input[1])
        if idx.ndim != 0:
            raise Unsupported("gathering several positions of a tensor")
        axis = _axis(attrs(node).get("axis", 0), x.info.rank)
        ctx.bind(node.output[0], ctx.add("Select", [x], {"dim": axis, "index": int(idx)}, label=name)[0])
        return
    table = ctx.const(node.input[0])
    idx = ctx.value(node.input[1])
    if attrs(node).get("axis", 0) != 0 or table.ndim != 2 or idx.info.dtype != "int64":
        raise Unsupported("only an embedding lookup (constant 2-D table, integer indices, axis 0) is supported")
    ctx.bind(
        node.output[0],
        ctx.add(
            "Embedding",
            [idx],
            {"num_embeddings": int(table.shape[0]), "embedding_dim": int(table.shape[1])},
            {"weight": table.astype(np.float32)},
            label=name,
        )[0],
    )


# -------------------------------------------------------------------------------------- convolution
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


def _symmetric_or_pad(ctx: Context, x: Value, pads: list[int], name: str) -> tuple[Value, tuple[int, ...]]:
    """Symmetric pads become the layer's padding; asymmetric 2-D pads get a ZeroPad2d in front."""
    n = len(pads) // 2
    begin, end = pads[:n], pads[n:]
    if begin == end:
        return x, tuple(begin)
    if n == 2:
        zp = ctx.add("ZeroPad2d", [x], {"padding": (begin[1], end[1], begin[0], end[0])}, label=f"{name}_pad")[0]
        return zp, (0, 0)
    raise Unsupported(f"asymmetric pads {pads}")


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
    if "output_shape" in at or at.get("auto_pad", "NOTSET") not in ("NOTSET", "", "VALID"):
        raise Unsupported("output_shape / auto_pad SAME on ConvTranspose")
    groups = int(at.get("group", 1))
    pads = list(at.get("pads", [0] * (2 * nd)))
    if pads[:nd] != pads[nd:]:
        raise Unsupported(f"asymmetric pads {pads}")
    params = {
        "out_channels": int(w.shape[1]) * groups,
        "kernel_size": tuple(at.get("kernel_shape", w.shape[2:])),
        "stride": tuple(at.get("strides", [1] * nd)),
        "padding": tuple(pads[:nd]),
        "output_padding": tuple(at.get("output_padding", [0] * nd)),
        "dilation": tuple(at.get("dilations", [1] * nd)),
        "groups": groups,
        "bias": b is not None,
    }
    weights = {"weight": w} | ({"bias": b} if b is not None else {})
    ctx.bind(node.output[0], ctx.add(f"ConvTranspose{nd}d", [x], params, weights, label=name)[0])


# ------------------------------------------------------------------------------------------ pooling
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
    if pads[:nd] != pads[nd:]:
        raise Unsupported(f"asymmetric pads {pads}")
    kind = "MaxPool" if node.op_type == "MaxPool" else "AvgPool"
    if nd not in (1, 2):
        raise Unsupported(f"{nd}-D pooling has no catalog layer")
    params: dict[str, Any] = {
        "kernel_size": tuple(kernel),
        "stride": tuple(strides),
        "padding": tuple(pads[:nd]),
        "ceil_mode": bool(at.get("ceil_mode", 0)),
    }
    if kind == "MaxPool":
        params["dilation"] = tuple(dil)
        if at.get("storage_order", 0):
            raise Unsupported("storage_order=1")
    else:
        if any(d != 1 for d in dil):
            raise Unsupported("dilated average pooling")
        params["count_include_pad"] = bool(at.get("count_include_pad", 0))
        if at.get("auto_pad", "NOTSET") not in ("NOTSET", "", "VALID") and any(pads):
            raise Unsupported("auto_pad SAME average pooling excludes the pad from the count per window edge")
    ctx.bind(node.output[0], ctx.add(f"{kind}{nd}d", [x], params, label=name)[0])


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


# ------------------------------------------------------------------------------------ normalization
@handles("BatchNormalization")
def _batchnorm(ctx: Context, node: Any, name: str) -> None:
    _one_output(node)
    x = ctx.value(node.input[0])
    at = attrs(node)
    if at.get("training_mode", 0):
        raise Unsupported("training_mode=1")
    layer = {2: "BatchNorm1d", 3: "BatchNorm1d", 4: "BatchNorm2d"}.get(x.info.rank)
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


# --------------------------------------------------------------------------------- resize / pad / misc
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
    if r != 4 or any(begin[:2]) or any(end[:2]) or any(p < 0 for p in pads):
        raise Unsupported(f"pads {pads}: only padding the last two dims of an image is supported")
    layer = {"constant": "ZeroPad2d", "reflect": "ReflectionPad2d"}.get(mode)
    if layer is None or (mode == "constant" and value != 0.0):
        raise Unsupported(f"{mode} padding with value {value}")
    ctx.bind(node.output[0], ctx.add(layer, [x], {"padding": (begin[3], end[3], begin[2], end[2])}, label=name)[0])


@handles("DepthToSpace")
def _depth_to_space(ctx: Context, node: Any, name: str) -> None:
    at = attrs(node)
    if at.get("mode", "DCR") != "CRD":
        raise Unsupported("DCR mode (PixelShuffle is CRD)")
    ctx.bind(
        node.output[0],
        ctx.add("PixelShuffle", [ctx.value(node.input[0])], {"upscale_factor": int(at["blocksize"])}, label=name)[0],
    )


@handles("ReduceMean", "ReduceMax")
def _reduce(ctx: Context, node: Any, name: str) -> None:
    """Mean/max over every spatial dim: global pooling (keepdims=1 keeps (C, 1, 1): adaptive pooling to 1)."""
    x = ctx.value(node.input[0])
    at = attrs(node)
    r = x.info.rank
    axes = at.get("axes")
    if axes is None and len(node.input) > 1 and node.input[1]:
        axes = list(ctx.const(node.input[1]))
    if axes is None or sorted(int(a) % r for a in axes) != list(range(2, r)) or r < 3:
        raise Unsupported(f"reduction over axes {axes} (only all spatial dims, i.e. global pooling, maps)")
    keep = bool(at.get("keepdims", 1))
    mean = node.op_type == "ReduceMean"
    if keep:
        layer = {(True, 3): "AdaptiveAvgPool1d", (True, 4): "AdaptiveAvgPool2d", (False, 4): "AdaptiveMaxPool2d"}
        t = layer.get((mean, r))
        if t is None:
            raise Unsupported(f"keepdims reduction of a rank-{r} tensor")
        ctx.bind(node.output[0], ctx.add(t, [x], {"output_size": 1}, label=name)[0])
    else:
        ctx.bind(node.output[0], ctx.add("GlobalAvgPool" if mean else "GlobalMaxPool", [x], label=name)[0])


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


from . import onnx_rnn  # noqa: E402,F401  (registers LSTM/GRU/RNN; kept apart to keep this module short)
