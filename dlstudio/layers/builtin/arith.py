"""Arithmetic with a stored tensor: one input combined element by element with a constant or learned tensor."""

from __future__ import annotations

import random

from ...core.errors import ShapeError
from ...core.tensor import TensorInfo
from ..registry import register
from ..shape_rules import elementwise_macs, expect_float, prod, require
from ..spec import LayerSpec, ParamSpec, PortSpec

OPS = ("add", "sub", "mul", "div", "pow")


def _shape(params: dict, inputs: list) -> list[TensorInfo]:
    t = require(inputs, "Arithmetic", port="x")
    expect_float(t, "Arithmetic", port="x")
    c = tuple(params["shape"])
    feats = t.shape[1:]
    if len(c) > len(feats):
        raise ShapeError(
            f"Arithmetic: the tensor shape {c} has more dimensions than the input's {len(feats)} per sample {t}: "
            f"drop leading 1s from shape",
            param="shape",
            expected=f"at most {len(feats)} dims",
            got=str(c),
        )
    c = (1,) * (len(feats) - len(c)) + c
    out = []
    for i, (d, k) in enumerate(zip(feats, c), start=1):
        if k == 1:
            out.append(d)
        elif d == 1 or d == k:
            out.append(k)
        else:
            raise ShapeError(
                f"Arithmetic: the tensor shape {tuple(params['shape'])} does not broadcast against the input {t}: "
                f"dimension {i} is {d} in the input and {k} in the tensor (each must match or be 1)",
                param="shape",
                expected=str(d),
                got=str(k),
            )
    return [t.with_shape((t.shape[0], *out))]


def _count(params: dict, inputs: list) -> int:
    return prod(params["shape"]) if params["learnable"] else 0


def _sample(rng: random.Random) -> tuple[dict, list[TensorInfo]]:
    feats = tuple(rng.randint(1, 5) for _ in range(rng.randint(1, 3)))
    k = rng.randint(0, len(feats))
    shape = tuple(1 if rng.random() < 0.4 else d for d in feats[len(feats) - k :])
    params = {
        "op": rng.choice(OPS),
        "shape": shape,
        "init": rng.choice([0.5, 1.0, 2.0]),
        "learnable": rng.random() < 0.5,
        "reverse": rng.random() < 0.3,
    }
    return params, [TensorInfo(("N", *feats))]


register(
    LayerSpec(
        type="Arithmetic",
        category="Merge",
        display_name="Arithmetic (with a tensor)",
        explanation=(
            "Combines every value of its input with a stored tensor: add, subtract, multiply, divide or raise to "
            "a power, the tensor stretching over the batch and over its size-1 dimensions. With learnable on, "
            "the tensor is trained like a weight (for instance a per-channel scale of shape (C, 1, 1)); off, it "
            "stays fixed, like a constant that normalises the input. Imported models use it for the scale and "
            "shift a folded batch norm leaves behind."
        ),
        inputs=(PortSpec("x"),),
        outputs=(PortSpec("y"),),
        params=(
            ParamSpec("op", "choice", "mul", "The operation: x + c, x - c, x * c, x / c or x ** c", choices=OPS),
            ParamSpec(
                "shape",
                "shape",
                (1,),
                "Shape of the stored tensor c, matched to the input's last dimensions; a size of 1 broadcasts",
            ),
            ParamSpec("init", "float", 1.0, "The value every entry of c starts from"),
            ParamSpec("learnable", "bool", True, "Train c with the other weights (off: a fixed buffer)"),
            ParamSpec("reverse", "bool", False, "c is the left operand: c - x, c / x, c ** x", advanced=True),
        ),
        shape=_shape,
        param_count=_count,
        macs=elementwise_macs,
        module="dlstudio.nn.arith.Arithmetic",
        key_params=("op", "shape"),
        sample=_sample,
    )
)
