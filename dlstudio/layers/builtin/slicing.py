"""Slicing and tiling: Narrow (a contiguous range of one dim), Expand (broadcast size-1 dims), Repeat (tile).

They compile to the tensor methods of the same names (`x.narrow`, `x.expand`, `x.repeat`); the batch dim is
never cut, broadcast or tiled. ONNX `Slice`, `Expand` and `Tile` import as these layers.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from typing import Any

from ...core.errors import ShapeError
from ...core.tensor import TensorInfo
from ..registry import register
from ..shape_rules import require
from ..spec import LayerSpec, ParamSpec
from .dense import X_ANY, Y_ANY, _axis, _features_text, _rand_features


def _method(build: Callable[[dict, TensorInfo], tuple[str, tuple]]) -> Callable[[Any, list], list[Any]]:
    def emit(ctx: Any, args: list) -> list[Any]:
        method, extra = build(ctx.params, ctx.inputs[0])
        return [ctx.call_method(method, (args[0], *extra))]

    return emit


# ------------------------------------------------------------------------------------------------- Narrow
def _narrow_range(params: dict, t: TensorInfo) -> tuple[int, int, int]:
    d = _axis("Narrow", params["dim"], t.rank)
    size = int(t.shape[d])
    start = params["start"] + size if params["start"] < 0 else params["start"]
    if not 0 <= start < size or start + params["length"] > size:
        raise ShapeError(
            f"Narrow: start {params['start']} and length {params['length']} do not fit dim {params['dim']} of size "
            f"{size} in {_features_text(t)}: keep start + length <= {size}",
            param="length",
        )
    return d, start, int(params["length"])


def _narrow_shape(params: dict, inputs: list) -> list[TensorInfo]:
    t = require(inputs, "Narrow", port="x")
    d, _, length = _narrow_range(params, t)
    return [t.with_shape((*t.shape[:d], length, *t.shape[d + 1 :]))]


def _narrow_sample(rng: random.Random) -> tuple[dict, list[TensorInfo]]:
    t = _rand_features(rng, 1, 3, 6)
    d = rng.randint(1, t.rank - 1)
    size = int(t.shape[d])
    start = rng.randint(0, size - 1)
    length = rng.randint(1, size - start)
    return {"dim": d, "start": start if rng.random() < 0.7 else start - size, "length": length}, [t]


register(
    LayerSpec(
        type="Narrow",
        category="Dense",
        explanation=(
            "Keeps a contiguous range of positions along one dimension, like x[:, start:start+length] in Python. "
            "Use it to crop feature maps, take the first channels, or cut a window out of a sequence. Positions "
            "count from 0 and a negative start counts from the end."
        ),
        inputs=X_ANY,
        outputs=Y_ANY,
        params=(
            ParamSpec("dim", "int", 1, "Dimension to cut (1 = first per-sample dim)"),
            ParamSpec("start", "int", 0, "First position kept (negative counts from the end)"),
            ParamSpec("length", "int", 1, "How many positions are kept", min=1),
        ),
        shape=_narrow_shape,
        emit=_method(lambda p, t: ("narrow", _narrow_range(p, t))),
        key_params=("dim", "start", "length"),
        sample=_narrow_sample,
    )
)


# ------------------------------------------------------------------------------------------------- Expand
def _expand_sizes(params: dict, t: TensorInfo) -> tuple[int, ...]:
    sizes = tuple(int(s) for s in params["sizes"])
    have = [int(d) for d in t.shape[1:]]
    if len(sizes) != len(have):
        raise ShapeError(
            f"Expand: sizes {sizes} must give one size per dimension of {_features_text(t)} (-1 keeps one)",
            param="sizes",
        )
    out = []
    for s, h in zip(sizes, have):
        if s == -1 or s == h:
            out.append(h)
        elif h == 1 and s > 0:
            out.append(s)
        else:
            raise ShapeError(
                f"Expand: only dims of size 1 can grow; {_features_text(t)} cannot become {sizes}", param="sizes"
            )
    return tuple(out)


def _expand_shape(params: dict, inputs: list) -> list[TensorInfo]:
    t = require(inputs, "Expand", port="x")
    return [t.with_shape(("N", *_expand_sizes(params, t)))]


def _expand_sample(rng: random.Random) -> tuple[dict, list[TensorInfo]]:
    t = _rand_features(rng, 1, 3, 4)
    shape = ["N"] + [1 if rng.random() < 0.5 else int(d) for d in t.shape[1:]]
    t = TensorInfo(tuple(shape), t.dtype)
    sizes = [rng.choice([-1, rng.randint(1, 4)]) if d == 1 else rng.choice([-1, d]) for d in shape[1:]]
    return {"sizes": tuple(sizes)}, [t]


register(
    LayerSpec(
        type="Expand",
        category="Dense",
        explanation=(
            "Stretches dimensions of size 1 to a larger size without copying data, e.g. (C, 1, 1) to (C, H, W) "
            "so a per-channel value meets every pixel. Give one size per dimension; -1 keeps a size. Only size-1 "
            "dimensions can grow, and the repeated values share memory."
        ),
        inputs=X_ANY,
        outputs=Y_ANY,
        params=(ParamSpec("sizes", "ints", (-1,), "Size per dimension after the batch (-1 keeps it)"),),
        shape=_expand_shape,
        emit=_method(lambda p, t: ("expand", (-1, *_expand_sizes(p, t)))),
        key_params=("sizes",),
        sample=_expand_sample,
    )
)


# ------------------------------------------------------------------------------------------------- Repeat
def _repeats(params: dict, t: TensorInfo) -> tuple[int, ...]:
    reps = tuple(int(r) for r in params["repeats"])
    if len(reps) != t.rank - 1 or any(r < 1 for r in reps):
        raise ShapeError(
            f"Repeat: repeats {reps} must give one count of at least 1 per dimension of {_features_text(t)}",
            param="repeats",
        )
    return reps


def _repeat_shape(params: dict, inputs: list) -> list[TensorInfo]:
    t = require(inputs, "Repeat", port="x")
    reps = _repeats(params, t)
    return [t.with_shape(("N", *(int(d) * r for d, r in zip(t.shape[1:], reps))))]


def _repeat_sample(rng: random.Random) -> tuple[dict, list[TensorInfo]]:
    t = _rand_features(rng, 1, 3, 4)
    return {"repeats": tuple(rng.randint(1, 3) for _ in t.shape[1:])}, [t]


register(
    LayerSpec(
        type="Repeat",
        category="Dense",
        explanation=(
            "Tiles the tensor: each dimension is copied end to end as many times as its count, so (2, 3) with "
            "repeats (1, 2) becomes (2, 6). ONNX calls it Tile. Unlike Expand it really copies the data, so "
            "memory grows with every repeat."
        ),
        inputs=X_ANY,
        outputs=Y_ANY,
        params=(ParamSpec("repeats", "ints", (1,), "Copies per dimension after the batch"),),
        shape=_repeat_shape,
        emit=_method(lambda p, t: ("repeat", (1, *_repeats(p, t)))),
        key_params=("repeats",),
        sample=_repeat_sample,
    )
)
