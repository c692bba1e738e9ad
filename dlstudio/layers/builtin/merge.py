"""Merge and arithmetic nodes: several inputs into one (Add, Concat, ...), or one into several (Split)."""

from __future__ import annotations

import operator
import random
from collections.abc import Callable
from typing import Any

from ...core.errors import ShapeError
from ...core.tensor import TensorInfo
from ..registry import register
from ..shape_rules import elementwise_macs, require
from ..spec import LayerSpec, ParamSpec, PortSpec

MANY = (PortSpec("inputs", many=True),)
Y = (PortSpec("y"),)


def _gather(layer: str, inputs: list) -> list[TensorInfo]:
    ts = [t for t in inputs if t is not None]
    if len(ts) < 2:
        raise ShapeError(f"{layer} needs at least two inputs; wire another tensor into it", port="inputs")
    return ts


def _broadcast(layer: str):
    """Inputs must have exactly the same shape (Add, Mean)."""

    def rule(params: dict, inputs: list) -> list[TensorInfo]:
        ts = _gather(layer, inputs)
        first = ts[0]
        for i, t in enumerate(ts[1:], start=2):
            if t.shape != first.shape:
                raise ShapeError(
                    f"{layer} needs inputs of the same shape but input 1 is {first} and input {i} is {t}: "
                    f"match the channels/sizes (e.g. a 1x1 Conv2d on the skip path)",
                    port="inputs",
                    expected=str(first),
                    got=str(t),
                )
        # int64 + float32 gives float32 in torch (type promotion)
        return [first if all(t.dtype == first.dtype for t in ts) else TensorInfo(first.shape, "float32")]

    return rule


def _broadcast_pair(layer: str, a: TensorInfo, b: TensorInfo, port: str, ia: str, ib: str) -> TensorInfo:
    """torch broadcasting over the per-sample dims (same rank; a size of 1 stretches), batch kept at 0."""
    if a.rank != b.rank:
        raise ShapeError(
            f"{layer} needs inputs with the same number of dimensions but {ia} is {a} and {ib} is {b}: "
            f"Reshape/Unsqueeze one of them (a size of 1 broadcasts)",
            port=port,
            expected=str(a),
            got=str(b),
        )
    dims: list[Any] = [a.shape[0]]
    for da, db in zip(a.shape[1:], b.shape[1:]):
        if da != db and da != 1 and db != 1:
            raise ShapeError(
                f"{layer} cannot combine {ia} {a} with {ib} {b}: each dimension must match or be 1 (broadcasting)",
                port=port,
                expected=str(a),
                got=str(b),
            )
        dims.append(da if db == 1 else db)
    dtype = a.dtype if a.dtype == b.dtype else "float32"
    return TensorInfo(tuple(dims), dtype)


def _broadcast_many(layer: str):
    def rule(params: dict, inputs: list) -> list[TensorInfo]:
        ts = _gather(layer, inputs)
        out = ts[0]
        for i, t in enumerate(ts[1:], start=2):
            out = _broadcast_pair(layer, out, t, "inputs", "input 1" if i == 2 else "the inputs before", f"input {i}")
        return [out]

    return rule


def _emit_fold(fn: Callable) -> Callable:
    def emit(ctx: Any, args: list) -> list:
        acc = args[0]
        for a in args[1:]:
            acc = ctx.call_function(fn, (acc, a))
        return [acc]

    return emit


def _sample_same(rng: random.Random) -> tuple[dict, list[TensorInfo]]:
    shape = ("N",) + tuple(rng.randint(1, 5) for _ in range(rng.randint(1, 3)))
    return {}, [TensorInfo(shape) for _ in range(rng.randint(2, 4))]


def _sample_broadcast(count: int | None = None):
    def sample(rng: random.Random) -> tuple[dict, list[TensorInfo]]:
        shape = tuple(rng.randint(1, 5) for _ in range(rng.randint(1, 3)))
        n = count or rng.randint(2, 4)
        ts = [TensorInfo(("N",) + tuple(1 if rng.random() < 0.3 else d for d in shape)) for _ in range(n)]
        return {}, ts

    return sample


register(
    LayerSpec(
        type="Add",
        category="Merge",
        explanation=(
            "Adds its inputs element by element: the join of a residual (skip) connection. All inputs "
            "must have the same shape; when a block changes the channels, project the skip path with a "
            "1x1 Conv2d first."
        ),
        inputs=MANY,
        outputs=Y,
        params=(),
        shape=_broadcast("Add"),
        macs=elementwise_macs,
        emit=_emit_fold(operator.add),
        sample=_sample_same,
    )
)


# ------------------------------------------------------------------------------------------------ Concat
def _concat_shape(params: dict, inputs: list) -> list[TensorInfo]:
    ts = _gather("Concat", inputs)
    first = ts[0]
    rank, d = first.rank, params["dim"]
    if not -rank <= d < rank:
        raise ShapeError(
            f"Concat dim={d} is out of range for {rank - 1}-D inputs {first}: use 1 for channels or "
            f"-1 for the last dimension",
            param="dim",
        )
    d %= rank
    if d == 0:
        raise ShapeError("Concat dim=0 would join along the batch dimension: use 1 (channels) or higher", param="dim")
    total = 0
    for i, t in enumerate(ts, start=1):
        if t.rank != rank:
            raise ShapeError(
                f"Concat needs inputs with the same number of dimensions but input 1 is {first} and "
                f"input {i} is {t}: Reshape or Flatten one of them",
                port="inputs",
                expected=str(first),
                got=str(t),
            )
        if t.dtype != first.dtype:
            raise ShapeError(
                f"Concat needs inputs of one dtype but input 1 is {first.dtype} and input {i} is {t.dtype}",
                port="inputs",
                expected=first.dtype,
                got=t.dtype,
            )
        other = [k for k in range(1, rank) if k != d and t.shape[k] != first.shape[k]]
        if other:
            k = other[0]
            raise ShapeError(
                f"Concat along dim {d} needs every other dimension to match, but dimension {k} is "
                f"{first.shape[k]} in input 1 {first} and {t.shape[k]} in input {i} {t}: resize or "
                f"pad the inputs, or concatenate along dim {k}",
                port="inputs",
                expected=str(first),
                got=str(t),
            )
        total += int(t.shape[d])
    return [first.with_shape((*first.shape[:d], total, *first.shape[d + 1 :]))]


def _concat_emit(ctx: Any, args: list) -> list:
    cat = ctx.resolve("torch.cat")  # the compiler hands torch over: this package never imports it
    return [ctx.call_function(cat, ([a for a in args if a is not None],), {"dim": ctx.params["dim"]})]


def _concat_sample(rng: random.Random) -> tuple[dict, list[TensorInfo]]:
    shape = [rng.randint(1, 5) for _ in range(rng.randint(1, 3))]
    d = rng.randint(1, len(shape))
    ts = []
    for _ in range(rng.randint(2, 4)):
        s = list(shape)
        s[d - 1] = rng.randint(1, 5)
        ts.append(TensorInfo(("N", *s)))
    return {"dim": rng.choice([d, d - len(shape) - 1])}, ts


register(
    LayerSpec(
        type="Concat",
        category="Merge",
        explanation=(
            "Joins its inputs along dim (torch.cat; the batch is dimension 0, channels are 1): (16, H, W) and "
            "(32, H, W) become (48, H, W). Use it for Inception/DenseNet-style branches and U-Net skips. "
            "Every dimension except dim must match, so resize or pad the branches first."
        ),
        inputs=MANY,
        outputs=Y,
        params=(
            ParamSpec(
                "dim", "int", 1, "Dimension to join along (1 = channels; negative counts from the end)", torch=False
            ),
        ),
        shape=_concat_shape,
        emit=_concat_emit,
        function="torch.cat",
        key_params=("dim",),
        sample=_concat_sample,
    )
)


register(
    LayerSpec(
        type="Multiply",
        category="Merge",
        explanation=(
            "Multiplies its inputs element by element, broadcasting sizes of 1 (same number of dimensions): "
            "a gate such as (C, 1, 1) channel weights times (C, H, W) features. Use it for gating and "
            "attention masks (squeeze-and-excitation, GLU). The product of several activations can shrink "
            "or explode, so gates are usually squashed with Sigmoid first."
        ),
        inputs=MANY,
        outputs=Y,
        params=(),
        shape=_broadcast_many("Multiply"),
        macs=elementwise_macs,
        emit=_emit_fold(operator.mul),
        sample=_sample_broadcast(),
    )
)


def _sub_shape(params: dict, inputs: list) -> list[TensorInfo]:
    a = require(inputs, "Subtract", 0, port="a")
    b = require(inputs, "Subtract", 1, port="b")
    return [_broadcast_pair("Subtract", a, b, "b", "a", "b")]


register(
    LayerSpec(
        type="Subtract",
        category="Merge",
        explanation=(
            "Computes a - b element by element, broadcasting sizes of 1. Use it for differences between two "
            "branches, e.g. comparing the two embeddings of a siamese network. The order matters: a is the "
            "port on top."
        ),
        inputs=(PortSpec("a"), PortSpec("b")),
        outputs=Y,
        params=(),
        shape=_sub_shape,
        macs=elementwise_macs,
        emit=_emit_fold(operator.sub),
        sample=_sample_broadcast(2),
    )
)


def _mean_shape(params: dict, inputs: list) -> list[TensorInfo]:
    (first,) = _broadcast("Mean")(params, inputs)
    return [TensorInfo(first.shape, "float32")]  # the division makes integer inputs float, as in torch


def _mean_emit(ctx: Any, args: list) -> list:
    total = _emit_fold(operator.add)(ctx, args)[0]
    return [ctx.call_function(operator.truediv, (total, len(args)))]


register(
    LayerSpec(
        type="Mean",
        category="Merge",
        explanation=(
            "Averages its inputs element by element: their sum divided by the number of inputs. Use it "
            "to ensemble parallel branches or heads. All inputs must have the same shape; unlike Add it keeps "
            "the scale of a single input."
        ),
        inputs=MANY,
        outputs=Y,
        params=(),
        shape=_mean_shape,
        macs=elementwise_macs,
        emit=_mean_emit,
        sample=_sample_same,
    )
)


def _maximum_emit(ctx: Any, args: list) -> list:
    return _emit_fold(ctx.resolve("torch.maximum"))(ctx, args)


register(
    LayerSpec(
        type="Maximum",
        category="Merge",
        explanation=(
            "Takes the element-wise maximum of its inputs, broadcasting sizes of 1 (maxout-style merging). "
            "Use it to combine branches where the strongest response should win. Only the winning input "
            "receives gradient at each element."
        ),
        inputs=MANY,
        outputs=Y,
        params=(),
        shape=_broadcast_many("Maximum"),
        macs=elementwise_macs,
        emit=_maximum_emit,
        sample=_sample_broadcast(),
    )
)


# ------------------------------------------------------------------------------------------------- Split
def _split_ports(params: dict) -> tuple[PortSpec, ...]:
    n = params.get("chunks", 2)
    n = n if isinstance(n, int) and not isinstance(n, bool) and n >= 1 else 2
    return tuple(PortSpec(f"y{i}") for i in range(n))


def _split_shape(params: dict, inputs: list) -> list[TensorInfo]:
    t = require(inputs, "Split", port="x")
    n, d = params["chunks"], params["dim"]
    if not -t.rank <= d < t.rank:
        raise ShapeError(f"Split dim={d} is out of range for a {t.rank - 1}-D input {t}", param="dim")
    d %= t.rank
    if d == 0:
        raise ShapeError("Split dim=0 would split the batch: use 1 or higher", param="dim")
    size = int(t.shape[d])
    if n > size:
        raise ShapeError(
            f"Split chunks={n} is larger than dimension {d} of {t} (size {size}): use at most {size} chunks",
            param="chunks",
            expected=f"<= {size}",
            got=n,
        )
    # torch.tensor_split: the first size % n pieces get one extra element
    sizes = [size // n + (1 if i < size % n else 0) for i in range(n)]
    return [t.with_shape((*t.shape[:d], s, *t.shape[d + 1 :])) for s in sizes]


def _split_emit(ctx: Any, args: list) -> list:
    split = ctx.resolve("torch.tensor_split")
    parts = ctx.call_function(split, (args[0], ctx.params["chunks"]), {"dim": ctx.params["dim"]})
    return [ctx.getitem(parts, i) for i in range(ctx.params["chunks"])]


def _split_sample(rng: random.Random) -> tuple[dict, list[TensorInfo]]:
    shape = [rng.randint(1, 6) for _ in range(rng.randint(1, 3))]
    d = rng.randint(1, len(shape))
    return (
        {"chunks": rng.randint(1, shape[d - 1]), "dim": rng.choice([d, d - len(shape) - 1])},
        [TensorInfo(("N", *shape))],
    )


register(
    LayerSpec(
        type="Split",
        category="Merge",
        explanation=(
            "Cuts one tensor into chunks pieces along dim, one output port per piece (torch.tensor_split): "
            "(6, L) with chunks=3, dim=1 gives three (2, L) outputs. Use it to route channel groups to "
            "different branches or to split gates. When the size does not divide evenly the first pieces "
            "are one element larger."
        ),
        inputs=(PortSpec("x", dtype="any"),),
        outputs=(PortSpec("y0"), PortSpec("y1")),
        params=(
            ParamSpec("chunks", "int", 2, "Number of pieces (one output port each)", min=1, max=64, torch=False),
            ParamSpec("dim", "int", 1, "Dimension to split (1 = channels)", torch=False),
        ),
        shape=_split_shape,
        emit=_split_emit,
        function="torch.tensor_split",
        dynamic_outputs=_split_ports,
        key_params=("chunks", "dim"),
        sample=_split_sample,
    )
)
