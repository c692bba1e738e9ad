"""ATen operators of a torch.export graph that map onto catalog layers.

Each mapper gets the walker (`Ops`) and the fx node and returns the output Value, or raises Unsupported when this
call does not fit the catalog layer (another argument, the batch dimension touched, a constant operand...); the
walker then keeps the operator as a generic AtenOp, so a refusal here never refuses the model.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol

import torch
from torch import fx

from .base import Unsupported, Value
from .torch_export_args import Const


class Ops(Protocol):
    """What a mapper may use from the walker."""

    def value(self, a: Any) -> Value: ...

    def const(self, a: Any) -> Const: ...

    def py(self, a: Any) -> Any: ...

    def is_batch(self, a: Any) -> bool: ...

    def outputs(self) -> list[Value]: ...

    def add(
        self, type_name: str, inputs: list[Value], params: dict | None = None, weights: dict | None = None
    ) -> Value: ...


Mapper = Callable[[Ops, fx.Node], Any]  # a Value, or a tuple of Values for an op with several outputs
MAPPERS: dict[str, Mapper] = {}


def maps(*ops: str) -> Callable[[Mapper], Mapper]:
    def deco(fn: Mapper) -> Mapper:
        for op in ops:
            MAPPERS[op] = fn
        return fn

    return deco


def _arg(node: fx.Node, i: int, name: str, default: Any = None) -> Any:
    if len(node.args) > i:
        return node.args[i]
    return node.kwargs.get(name, default)


def _dim(m: Ops, x: Value, d: Any) -> int:
    """A non-batch dimension, as a positive index."""
    d = int(m.py(d))
    d = d + x.info.rank if d < 0 else d
    if d == 0:
        raise Unsupported("the operation works on the batch dimension")
    return d


_UNARY = {
    "aten.relu.default": "ReLU",
    "aten.relu_.default": "ReLU",
    "aten.sigmoid.default": "Sigmoid",
    "aten.tanh.default": "Tanh",
    "aten.silu.default": "SiLU",
    "aten.mish.default": "Mish",
    "aten.selu.default": "SELU",
}


def _unary(m: Ops, node: fx.Node) -> Value:
    if len(node.args) != 1 or node.kwargs:
        raise Unsupported("extra arguments")
    return m.add(_UNARY[str(node.target)], [m.value(node.args[0])])


for _op in _UNARY:
    MAPPERS[_op] = _unary


@maps("aten.gelu.default")
def _gelu(m: Ops, node: fx.Node) -> Value:
    return m.add("GELU", [m.value(node.args[0])], {"approximate": node.kwargs.get("approximate", "none")})


@maps("aten.leaky_relu.default")
def _leaky(m: Ops, node: fx.Node) -> Value:
    return m.add("LeakyReLU", [m.value(node.args[0])], {"negative_slope": float(_arg(node, 1, "negative_slope", 0.01))})


@maps("aten.hardtanh.default")
def _hardtanh(m: Ops, node: fx.Node) -> Value:
    lo, hi = float(_arg(node, 1, "min_val", -1.0)), float(_arg(node, 2, "max_val", 1.0))
    return m.add("Hardtanh", [m.value(node.args[0])], {"min_val": lo, "max_val": hi})


_BINARY = {
    "aten.add.Tensor": ("Add", "add"),
    "aten.mul.Tensor": ("Multiply", "mul"),
    "aten.sub.Tensor": ("Subtract", "sub"),
}
_BINARY["aten.div.Tensor"] = ("", "div")


@maps(*_BINARY)
def _binary(m: Ops, node: fx.Node) -> Value:
    if node.kwargs or len(node.args) != 2:
        raise Unsupported("alpha or rounding arguments")
    layer, op = _BINARY[str(node.target)]
    a, b = node.args
    va, vb = (m.value(a) if _is_value(m, a) else None), (m.value(b) if _is_value(m, b) else None)
    if va is not None and vb is not None:
        if not layer or va.info.shape != vb.info.shape:
            raise Unsupported("operands of different shapes")
        return m.add(layer, [va, vb])
    x, other, reverse = (va, b, False) if va is not None else (vb, a, True)
    if x is None or x.info.dtype != "float32":
        raise Unsupported("no float tensor operand")
    if reverse and op in ("add", "mul"):
        reverse = False  # commutative
    if isinstance(other, (int, float)) and not isinstance(other, bool):
        params = {"op": op, "shape": (1,), "init": float(other), "learnable": False, "reverse": reverse}
        return m.add("Arithmetic", [x], params, {"weight": torch.full((1,), float(other))})
    c = m.const(other)
    shape = tuple(c.tensor.shape) or (1,)
    if len(shape) == x.info.rank and shape[0] == 1:
        shape = shape[1:] or (1,)  # (1, T, C): the same for every sample
    if not c.tensor.is_floating_point() or len(shape) >= x.info.rank:
        raise Unsupported("the constant operand does not broadcast per sample")
    flat = c.tensor.detach().flatten()
    init = float(flat[0]) if flat.numel() and bool((flat == flat[0]).all()) else 0.0  # the value it was built from
    params = {"op": op, "shape": shape, "init": init, "learnable": c.trainable, "reverse": reverse}
    return m.add("Arithmetic", [x], params, {"weight": c.tensor.detach().float().reshape(shape)})


def _is_value(m: Ops, a: Any) -> bool:
    try:
        m.value(a)
    except Unsupported:
        return False
    return True


@maps("aten.cat.default")
def _cat(m: Ops, node: fx.Node) -> Value:
    xs = [m.value(a) for a in node.args[0]]  # type: ignore[union-attr]
    return m.add("Concat", xs, {"dim": _dim(m, xs[0], _arg(node, 1, "dim", 0))})


@maps("aten.flatten.using_ints")
def _flatten(m: Ops, node: fx.Node) -> Value:
    x = m.value(node.args[0])
    start = _dim(m, x, _arg(node, 1, "start_dim", 0))
    end = int(_arg(node, 2, "end_dim", -1))
    return m.add("Flatten", [x], {"start_dim": start, "end_dim": end})


@maps("aten.view.default", "aten.reshape.default", "aten._unsafe_view.default")
def _reshape(m: Ops, node: fx.Node) -> Value:
    x = m.value(node.args[0])
    sizes = list(node.args[1])  # type: ignore[arg-type]
    rest = [int(m.py(s)) for s in sizes[1:]]
    per_sample = 1
    for d in x.info.shape[1:]:
        per_sample *= int(d)
    known = 1
    for d in rest:
        known *= d
    # view(-1, 784) keeps the batch first when the other sizes hold exactly one sample
    batch_first = m.is_batch(sizes[0]) or (m.py(sizes[0]) == -1 and -1 not in rest and known == per_sample)
    if not sizes or not batch_first:
        raise Unsupported("the new shape does not keep the batch first")
    out = node.meta.get("val")
    if isinstance(out, torch.Tensor) and out.dim() > 1:
        rest = [int(d) for d in out.shape[1:]]  # -1 written out: the same graph however the code spelled it
    if rest == list(x.info.shape[1:]):
        return x  # a view that changes nothing
    return m.add("Reshape", [x], {"shape": tuple(rest) or (-1,)})


@maps("aten.softmax.int", "aten._softmax.default", "aten.log_softmax.int", "aten._log_softmax.default")
def _softmax(m: Ops, node: fx.Node) -> Value:
    x = m.value(node.args[0])
    if str(node.target) in ("aten.softmax.int", "aten.log_softmax.int") and node.kwargs.get("dtype") is not None:
        raise Unsupported("a dtype argument")
    layer = "LogSoftmax" if "log" in str(node.target) else "Softmax"
    return m.add(layer, [x], {"dim": _dim(m, x, node.args[1])})


@maps("aten.dropout.default", "aten.feature_dropout.default")
def _dropout(m: Ops, node: fx.Node) -> Value:
    # F.dropout(x, p, self.training): the import is traced in eval mode; the layer keeps dropping while training
    layer = "Dropout2d" if "feature" in str(node.target) else "Dropout"
    return m.add(layer, [m.value(node.args[0])], {"p": float(_arg(node, 1, "p", 0.5))})


@maps("aten.clone.default", "aten.contiguous.default", "aten.alias.default", "aten.detach.default")
def _identity(m: Ops, node: fx.Node) -> Value:
    return m.value(node.args[0])


@maps("aten.upsample_nearest2d.vec", "aten.upsample_bilinear2d.vec")
def _upsample(m: Ops, node: fx.Node) -> Value:
    x = m.value(node.args[0])
    bilinear = "bilinear" in str(node.target)
    size = m.py(node.args[1])
    scales = m.py(node.args[3] if bilinear else node.args[2]) if len(node.args) > (3 if bilinear else 2) else None
    params: dict[str, Any] = {"mode": "bilinear" if bilinear else "nearest"}
    if bilinear:
        params["align_corners"] = bool(node.args[2])
    if scales is not None:
        params.update(scale_factor=tuple(float(s) for s in scales), size=None)
    elif size is not None:
        params.update(size=tuple(int(s) for s in size), scale_factor=None)
    return m.add("Upsample", [x], params)


@maps("aten.permute.default")
def _permute(m: Ops, node: fx.Node) -> Value:
    x = m.value(node.args[0])
    dims = [int(d) % x.info.rank for d in node.args[1]]  # type: ignore[union-attr]
    if dims[0] != 0:
        raise Unsupported("the permutation moves the batch dimension")
    return m.add("Permute", [x], {"dims": tuple(dims[1:])})


@maps("aten.transpose.int")
def _transpose(m: Ops, node: fx.Node) -> Value:
    x = m.value(node.args[0])
    a, b = _dim(m, x, node.args[1]), _dim(m, x, node.args[2])
    dims = list(range(x.info.rank))
    dims[a], dims[b] = dims[b], dims[a]
    return m.add("Permute", [x], {"dims": tuple(dims[1:])})


@maps("aten.select.int")
def _select(m: Ops, node: fx.Node) -> Value:
    x = m.value(node.args[0])
    return m.add("Select", [x], {"dim": _dim(m, x, node.args[1]), "index": int(m.py(node.args[2]))})


@maps("aten.unsqueeze.default", "aten.squeeze.dim")
def _squeeze(m: Ops, node: fx.Node) -> Value:
    x = m.value(node.args[0])
    un = "unsqueeze" in str(node.target)
    d = int(m.py(node.args[1]))
    d = d + x.info.rank + (1 if un else 0) if d < 0 else d
    if d == 0:
        raise Unsupported("the operation works on the batch dimension")
    return m.add("Unsqueeze" if un else "Squeeze", [x], {"dim": d})


@maps("aten.linear.default")
def _linear(m: Ops, node: fx.Node) -> Value:
    x = m.value(node.args[0])
    w = m.const(node.args[1])
    bias = _arg(node, 2, "bias")
    weights = {"weight": w.tensor}
    if bias is not None:
        weights["bias"] = m.const(bias).tensor
    if not w.trainable:
        raise Unsupported("the weight is not a parameter")
    return m.add("Linear", [x], {"out_features": int(w.tensor.shape[0]), "bias": bias is not None}, weights)


@maps("aten.conv2d.default", "aten.conv1d.default")
def _conv(m: Ops, node: fx.Node) -> Value:
    x = m.value(node.args[0])
    w = m.const(node.args[1])
    if not w.trainable:
        raise Unsupported("the weight is not a parameter")
    bias = _arg(node, 2, "bias")
    stride, padding, dilation = _arg(node, 3, "stride", 1), _arg(node, 4, "padding", 0), _arg(node, 5, "dilation", 1)
    nd = 2 if "conv2d" in str(node.target) else 1
    weights = {"weight": w.tensor} | ({"bias": m.const(bias).tensor} if bias is not None else {})
    params = {
        "out_channels": int(w.tensor.shape[0]),
        "kernel_size": tuple(int(k) for k in w.tensor.shape[2:]),
        "stride": _tuple(stride, nd),
        "padding": padding if isinstance(padding, str) else _tuple(padding, nd),
        "dilation": _tuple(dilation, nd),
        "groups": int(_arg(node, 6, "groups", 1)),
        "bias": bias is not None,
    }
    return m.add(f"Conv{nd}d", [x], params, weights)


def _tuple(v: Any, n: int) -> tuple[int, ...]:
    v = list(v) if isinstance(v, (list, tuple)) else [v]
    return tuple(int(a) for a in (v * n if len(v) == 1 else v))


@maps("aten.embedding.default")
def _embedding(m: Ops, node: fx.Node) -> Value:
    w = m.const(node.args[0])
    x = m.value(node.args[1])
    pad = int(_arg(node, 2, "padding_idx", -1))
    if not w.trainable or len(node.args) > 3:
        raise Unsupported("a fixed or sparse embedding table")
    params = {"num_embeddings": int(w.tensor.shape[0]), "embedding_dim": int(w.tensor.shape[1])}
    params["padding_idx"] = None if pad < 0 else pad
    return m.add("Embedding", [x], params, {"weight": w.tensor})


@maps("aten.max_pool2d.default", "aten.avg_pool2d.default")
def _pool2d(m: Ops, node: fx.Node) -> Value:
    x = m.value(node.args[0])
    is_max, raw = _pool_args(node, "divisor_override")
    params = {k: tuple(int(a) for a in v) if isinstance(v, (list, tuple)) else v for k, v in raw.items()}
    return m.add("MaxPool2d" if is_max else "AvgPool2d", [x], params)


def _pool_args(node: fx.Node, *avg_only: str) -> tuple[bool, dict[str, Any]]:
    """Whether a max_poolNd/avg_poolNd call is a max pool, and the arguments it passed (by torch keyword)."""
    is_max = "max" in str(node.target)
    names = ["kernel_size", "stride", "padding"] + (["dilation", "ceil_mode"] if is_max else ["ceil_mode"])
    if not is_max:
        names += ["count_include_pad", *avg_only]
    raw: dict[str, Any] = {}
    for i, k in enumerate(names, start=1):
        v = _arg(node, i, k)
        if v is not None and not (isinstance(v, (list, tuple)) and not v):
            raw[k] = v
    return is_max, raw


@maps("aten.adaptive_avg_pool2d.default")
def _adaptive_avg(m: Ops, node: fx.Node) -> Value:
    size = tuple(int(s) for s in m.py(node.args[1]))
    return m.add("AdaptiveAvgPool2d", [m.value(node.args[0])], {"output_size": size})


@maps("aten.elu.default")
def _elu(m: Ops, node: fx.Node) -> Value:
    if len(node.args) > 2:
        raise Unsupported("scale arguments")
    return m.add("ELU", [m.value(node.args[0])], {"alpha": float(_arg(node, 1, "alpha", 1.0))})


@maps("aten.softplus.default")
def _softplus(m: Ops, node: fx.Node) -> Value:
    params = {"beta": float(_arg(node, 1, "beta", 1.0)), "threshold": float(_arg(node, 2, "threshold", 20.0))}
    return m.add("Softplus", [m.value(node.args[0])], params)


@maps("aten.mean.dim", "aten.amax.default")
def _global_pool(m: Ops, node: fx.Node) -> Value:
    """x.mean(dim=(2, 3)) over every spatial dimension: the global pools; other per-sample dims: Reduce."""
    x = m.value(node.args[0])
    dims = m.py(_arg(node, 1, "dim"))
    dims = [dims] if isinstance(dims, int) else list(dims or [])
    keepdim = bool(_arg(node, 2, "keepdim", False))
    if node.kwargs.get("dtype") is not None or not dims or any(d % x.info.rank == 0 for d in dims):
        raise Unsupported("a reduction over the batch or with a dtype")
    spatial = sorted(d % x.info.rank for d in dims) == list(range(2, x.info.rank)) and x.info.rank >= 3
    if spatial and not keepdim:
        return m.add("GlobalAvgPool" if "mean" in str(node.target) else "GlobalMaxPool", [x])
    op = "mean" if "mean" in str(node.target) else "amax"
    return m.add("Reduce", [x], {"op": op, "dim": _dims(dims, x.info.rank), "keepdim": keepdim})


def _dims(dims: list, rank: int) -> tuple[int, ...]:
    """Positive dimension indices, sorted: the same layer however the code spelled them (-1 or 2)."""
    return tuple(sorted(int(d) % rank for d in dims))


@maps("aten.max_pool1d.default", "aten.avg_pool1d.default")
def _pool1d(m: Ops, node: fx.Node) -> Value:
    x = m.value(node.args[0])
    is_max, raw = _pool_args(node)
    params = {k: int(v[0]) if isinstance(v, (list, tuple)) else v for k, v in raw.items()}
    if not is_max:  # spelled as nn.AvgPool1d keeps them (1-tuples, stride defaulting to the kernel size)
        for k in ("kernel_size", "stride", "padding"):
            v = params.get(k, params["kernel_size"] if k == "stride" else 0)
            params[k] = tuple(v) if isinstance(v, tuple) else (int(v),)
    return m.add("MaxPool1d" if is_max else "AvgPool1d", [x], params)


@maps("aten.pixel_shuffle.default")
def _pixel_shuffle(m: Ops, node: fx.Node) -> Value:
    return m.add("PixelShuffle", [m.value(node.args[0])], {"upscale_factor": int(node.args[1])})  # type: ignore[arg-type]


@maps("aten.pad.default", "aten.constant_pad_nd.default", "aten.reflection_pad2d.default")
def _pad(m: Ops, node: fx.Node) -> Value:
    x = m.value(node.args[0])
    pad = [int(p) for p in m.py(node.args[1])]
    target = str(node.target)
    mode = (
        "reflect"
        if "reflection" in target
        else _arg(node, 2, "mode", "constant")
        if "aten.pad" in target
        else "constant"
    )
    value = float(_arg(node, 3 if "aten.pad" in target else 2, "value", 0.0) or 0.0)
    if x.info.rank != 4 or len(pad) != 4 or mode not in ("constant", "reflect"):
        raise Unsupported("only 4-sided padding of (C, H, W) maps")
    if mode == "reflect":
        return m.add("ReflectionPad2d", [x], {"padding": tuple(pad)})
    if value == 0.0:
        return m.add("ZeroPad2d", [x], {"padding": tuple(pad)})
    return m.add("ConstantPad2d", [x], {"padding": tuple(pad), "value": value})


@maps("aten.layer_norm.default")
def _layer_norm(m: Ops, node: fx.Node) -> Value:
    x = m.value(node.args[0])
    shape = [int(s) for s in m.py(node.args[1])]
    weight, bias = _arg(node, 2, "weight"), _arg(node, 3, "bias")
    if list(x.info.shape[-len(shape) :]) != shape or (weight is None and bias is not None):
        raise Unsupported("a normalized shape other than the trailing sizes")
    weights = {}
    if weight is not None:
        w = m.const(weight)
        if not w.trainable:
            raise Unsupported("a fixed scale")
        weights["weight"] = w.tensor
    if bias is not None:
        weights["bias"] = m.const(bias).tensor
    params = {
        "normalized_dims": len(shape),
        "eps": float(_arg(node, 4, "eps", 1e-5)),
        "elementwise_affine": weight is not None,
        "bias": bias is not None,
    }
    return m.add("LayerNorm", [x], params, weights)


@maps("aten.conv_transpose2d.input")
def _conv_transpose(m: Ops, node: fx.Node) -> Value:
    x = m.value(node.args[0])
    w = m.const(node.args[1])
    if not w.trainable:
        raise Unsupported("the weight is not a parameter")
    bias = _arg(node, 2, "bias")
    groups = int(_arg(node, 6, "groups", 1))
    params = {
        "out_channels": int(w.tensor.shape[1]) * groups,
        "kernel_size": tuple(int(k) for k in w.tensor.shape[2:]),
        "stride": _tuple(_arg(node, 3, "stride", 1), 2),
        "padding": _tuple(_arg(node, 4, "padding", 0), 2),
        "output_padding": _tuple(_arg(node, 5, "output_padding", 0), 2),
        "groups": groups,
        "dilation": _tuple(_arg(node, 7, "dilation", 1), 2),
        "bias": bias is not None,
    }
    weights = {"weight": w.tensor} | ({"bias": m.const(bias).tensor} if bias is not None else {})
    return m.add("ConvTranspose2d", [x], params, weights)


@maps("aten.matmul.default", "aten.bmm.default")
def _matmul(m: Ops, node: fx.Node) -> Value:
    """Two computed tensors (attention scores q @ k.T, weights @ v); a parameter operand stays generic."""
    return m.add("MatMul", [m.value(node.args[0]), m.value(node.args[1])])


@maps("aten.sum.dim_IntList", "aten.amin.default")
def _reduce(m: Ops, node: fx.Node) -> Value:
    x = m.value(node.args[0])
    dims = m.py(_arg(node, 1, "dim"))
    dims = [dims] if isinstance(dims, int) else list(dims or [])
    if not dims or node.kwargs.get("dtype") is not None or any(d % x.info.rank == 0 for d in dims):
        raise Unsupported("a reduction over the batch or with a dtype")
    op = "sum" if "sum" in str(node.target) else "amin"
    params = {"op": op, "dim": _dims(dims, x.info.rank), "keepdim": bool(_arg(node, 2, "keepdim", False))}
    return m.add("Reduce", [x], params)


@maps("aten.split.Tensor", "aten.chunk.default", "aten.tensor_split.sections", "aten.split_with_sizes.default")
def _split(m: Ops, node: fx.Node) -> tuple[Value, ...]:
    """x.split(n, dim), x.chunk(k, dim), torch.tensor_split(x, k, dim) into equal pieces: Split(chunks=k)."""
    x = m.value(node.args[0])
    d = _dim(m, x, _arg(node, 2, "dim", 0))
    size = int(x.info.shape[d])
    arg = m.py(node.args[1])
    target = str(node.target)
    if "split_with_sizes" in target:
        sizes = [int(a) for a in arg]
        if len(set(sizes)) != 1 or sum(sizes) != size:
            raise Unsupported("pieces of different sizes")
        chunks = len(sizes)
    elif "aten.split" in target:
        if size % int(arg):
            raise Unsupported("a last piece of another size")
        chunks = size // int(arg)
    else:
        chunks = int(arg)
        if size % chunks:
            raise Unsupported("pieces of different sizes")
    m.add("Split", [x], {"chunks": chunks, "dim": d})
    return tuple(m.outputs())
