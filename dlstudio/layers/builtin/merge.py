"""Merge and arithmetic nodes: several inputs into one (Add, Concat, ...), or one into several (Split)."""
from __future__ import annotations

import operator
import random

from ...core.errors import ShapeError
from ...core.tensor import TensorInfo
from ..registry import register
from ..shape_rules import elementwise_macs
from ..spec import LayerSpec, PortSpec

MANY = (PortSpec("inputs", many=True),)
Y = (PortSpec("y"),)


def _broadcast(layer: str):
    def rule(params: dict, inputs: list) -> list[TensorInfo]:
        ts = [t for t in inputs if t is not None]
        if len(ts) < 2:
            raise ShapeError(f"{layer} needs at least two inputs; wire another tensor into it", port="inputs")
        first = ts[0]
        for i, t in enumerate(ts[1:], start=2):
            if t.shape != first.shape:
                raise ShapeError(
                    f"{layer} needs inputs of the same shape but input 1 is {first} and input {i} is {t}: "
                    f"match the channels/sizes (e.g. a 1x1 Conv2d on the skip path)",
                    port="inputs", expected=str(first), got=str(t))
        return [first]
    return rule


def _emit_fold(fn_name: str):
    def emit(ctx, args):
        fn = getattr(operator, fn_name)
        acc = args[0]
        for a in args[1:]:
            acc = ctx.call_function(fn, (acc, a))
        return [acc]
    return emit


def _sample_same(rng: random.Random) -> tuple[dict, list[TensorInfo]]:
    shape = ("N",) + tuple(rng.randint(1, 5) for _ in range(rng.randint(1, 3)))
    return {}, [TensorInfo(shape) for _ in range(rng.randint(2, 4))]


register(LayerSpec(
    type="Add", category="Merge",
    explanation=("Adds its inputs element by element: the join of a residual (skip) connection. All inputs "
                 "must have the same shape; when a block changes the channels, project the skip path with a "
                 "1x1 Conv2d first."),
    inputs=MANY, outputs=Y, params=(), shape=_broadcast("Add"), macs=elementwise_macs,
    emit=_emit_fold("add"), sample=_sample_same,
))
