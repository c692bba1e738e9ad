"""Tensor math on per-sample dims: MatMul (torch.matmul of two computed tensors) and Reduce (mean, sum, max or
min over chosen dims). Attention scores (Q K^T) and reductions in exported models import as these layers."""

from __future__ import annotations

import random
from typing import Any

from ...core.errors import ShapeError
from ...core.tensor import TensorInfo
from ..registry import register
from ..shape_rules import expect_float, prod, require
from ..spec import LayerSpec, ParamSpec, PortSpec
from .dense import X_ANY, Y_ANY, _axis, _features_text

Y = (PortSpec("y"),)


# ------------------------------------------------------------------------------------------------- MatMul
def _matmul_shape(params: dict, inputs: list) -> list[TensorInfo]:
    a = require(inputs, "MatMul", 0, port="input")
    b = require(inputs, "MatMul", 1, port="other")
    expect_float(a, "MatMul", port="input")
    expect_float(b, "MatMul", port="other")
    if a.rank < 3 or b.rank != a.rank:
        raise ShapeError(
            f"MatMul multiplies per-sample matrices of the same rank (at least (n, k) and (k, m)), got {a} and {b}: "
            "reshape or unsqueeze one side",
            port="other",
        )
    n, k = a.shape[-2], a.shape[-1]
    k2, m = b.shape[-2], b.shape[-1]
    if k != k2:
        raise ShapeError(
            f"MatMul: the last dim of input ({k}) must equal the second-to-last of other ({k2}) in {a} @ {b}: "
            "transpose one side with Permute",
            port="other",
            expected=str(k),
            got=str(k2),
        )
    lead = []
    for i, (x, y) in enumerate(zip(a.shape[1:-2], b.shape[1:-2])):
        if x != y and 1 not in (x, y):
            raise ShapeError(f"MatMul: dim {i + 1} is {x} in input and {y} in other; they must match or be 1")
        lead.append(y if x == 1 else x)
    return [a.with_shape(("N", *lead, n, m))]


def _matmul_macs(params: dict, inputs: list, outputs: list) -> int:
    return int(outputs[0].numel_per_sample()) * int(inputs[0].shape[-1])


def _matmul_sample(rng: random.Random) -> tuple[dict, list[TensorInfo]]:
    lead = tuple(rng.randint(1, 3) for _ in range(rng.randint(0, 2)))
    n, k, m = (rng.randint(1, 5) for _ in range(3))
    other_lead = tuple(1 if rng.random() < 0.3 else d for d in lead)
    return {}, [TensorInfo(("N", *lead, n, k)), TensorInfo(("N", *other_lead, k, m))]


register(
    LayerSpec(
        type="MatMul",
        category="Merge",
        explanation=(
            "Multiplies two computed matrices per sample, (n, k) @ (k, m) -> (n, m), batched over any leading dims "
            "(torch.matmul). It is the heart of attention: scores are queries @ keys transposed, and the output is "
            "weights @ values. Unlike Linear it has no weights of its own; both sides come from other layers."
        ),
        inputs=(PortSpec("input"), PortSpec("other")),
        outputs=Y,
        params=(),
        shape=_matmul_shape,
        macs=_matmul_macs,
        function="torch.matmul",
        sample=_matmul_sample,
    )
)


# ------------------------------------------------------------------------------------------------- Reduce
REDUCTIONS = ("mean", "sum", "amax", "amin")


def _reduce_dims(params: dict, t: TensorInfo) -> tuple[int, ...]:
    dims = tuple(sorted({_axis("Reduce", int(d), t.rank) for d in params["dim"]}))
    if not dims:
        raise ShapeError("Reduce: give at least one dim to reduce over", param="dim")
    return dims


def _reduce_shape(params: dict, inputs: list) -> list[TensorInfo]:
    t = require(inputs, "Reduce", port="x")
    if params["op"] in ("mean",):
        expect_float(t, "Reduce", port="x")
    dims = _reduce_dims(params, t)
    if params["keepdim"]:
        shape = tuple(1 if i in dims else d for i, d in enumerate(t.shape))
    else:
        shape = tuple(d for i, d in enumerate(t.shape) if i not in dims)
    if len(shape) < 1:
        raise ShapeError(f"Reduce over every dim of {_features_text(t)} leaves no per-sample value", param="dim")
    return [t.with_shape(shape)]


def _reduce_macs(params: dict, inputs: list, outputs: list) -> int:
    return int(prod(int(d) for d in inputs[0].shape[1:]))


def _reduce_emit(ctx: Any, args: list) -> list[Any]:
    dims = _reduce_dims(ctx.params, ctx.inputs[0])
    return [ctx.call_method(ctx.params["op"], (args[0],), {"dim": dims, "keepdim": bool(ctx.params["keepdim"])})]


def _reduce_sample(rng: random.Random) -> tuple[dict, list[TensorInfo]]:
    t = TensorInfo(("N", *(rng.randint(1, 5) for _ in range(rng.randint(1, 3)))))
    dims = rng.sample(range(1, t.rank), rng.randint(1, t.rank - 1))
    return {"op": rng.choice(REDUCTIONS), "dim": tuple(dims), "keepdim": rng.random() < 0.5}, [t]


register(
    LayerSpec(
        type="Reduce",
        category="Merge",
        explanation=(
            "Collapses the chosen dims of each sample to one number each: their mean, sum, maximum (amax) or "
            "minimum (amin), like x.mean(dim). Use it for global pooling over any axes or to sum a sequence. "
            "keepdim keeps the reduced dims as size 1 so the result still broadcasts against the input."
        ),
        inputs=X_ANY,
        outputs=Y_ANY,
        params=(
            ParamSpec("op", "choice", "mean", "What to compute over the dims", choices=REDUCTIONS),
            ParamSpec("dim", "ints", (-1,), "Dims to reduce (1 = first per-sample dim; negative from the end)"),
            ParamSpec("keepdim", "bool", False, "Keep the reduced dims with size 1"),
        ),
        shape=_reduce_shape,
        macs=_reduce_macs,
        emit=_reduce_emit,
        key_params=("op", "dim"),
        sample=_reduce_sample,
    )
)
