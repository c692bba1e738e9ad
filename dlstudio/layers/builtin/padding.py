"""Constant padding: ConstantPad1d/2d/3d pad the last 1, 2 or 3 dims of (C, *spatial) maps with a fixed value.

ZeroPad2d and ReflectionPad2d live in resize.py; these add any fill value and the 1-D and 3-D variants, which ONNX
`Pad` nodes (and pools whose padding must not win a max) need.
"""

from __future__ import annotations

import random
from typing import Any

from ...core.errors import ShapeError
from ...core.tensor import TensorInfo
from ..registry import register
from ..shape_rules import require
from ..spec import LayerSpec, ParamSpec, PortSpec
from .conv import LAYOUTS, as_text, expect_layout, image, sample_valid

X = (PortSpec("x"),)
Y = (PortSpec("y"),)


def _pads(value: Any, nd: int) -> tuple[int, ...]:
    """torch's order: (left, right) for the last dim, then (top, bottom), then (front, back)."""
    return tuple(int(v) for v in value) if isinstance(value, (list, tuple)) else (int(value),) * (2 * nd)


def _shape(layer: str, nd: int):
    def rule(params: dict, inputs: list) -> list[TensorInfo]:
        t = require(inputs, layer, port="x")
        expect_layout(t, layer, nd)
        pads = _pads(params["padding"], nd)
        sizes = [int(s) for s in t.shape[2:]]
        out = list(sizes)
        for i in range(nd):  # pads[2i], pads[2i+1] apply to the i-th dim from the end
            out[-1 - i] = sizes[-1 - i] + pads[2 * i] + pads[2 * i + 1]
        if any(s < 1 for s in out):
            raise ShapeError(f"{layer}: padding {as_text(params['padding'])} leaves an empty map", param="padding")
        return [t.with_shape(("N", t.shape[1], *out))]

    return rule


def _gen(nd: int):
    def gen(rng: random.Random) -> tuple[dict, list[TensorInfo]]:
        pad = rng.randint(0, 3) if rng.random() < 0.4 else tuple(rng.randint(0, 3) for _ in range(2 * nd))
        value = rng.choice([0.0, 1.5, -2.0, -3.0e38])
        return {"padding": pad, "value": value}, [image(rng, nd, s_hi=8)]

    return gen


_SIDES = {1: "(left, right)", 2: "(left, right, top, bottom)", 3: "(left, right, top, bottom, front, back)"}
_TEXT = {
    1: "Adds a fixed value before and after each sequence (C, L); ONNX files pad this way with any value. Use it "
    "for explicit, asymmetric padding of 1-D signals. A non-zero fill shifts the averages of the layers after it.",
    2: "Adds rows and columns of one fixed value around each feature map (C, H, W). A very negative fill pads for a "
    "max pool (the padding never wins the maximum), a zero fill is ZeroPad2d. The fill is part of the data the "
    "next layer sees, so pick it for that layer.",
    3: "Adds a fixed value around each volume (C, D, H, W) on all three axes. Use it for explicit or asymmetric "
    "padding of 3-D data such as video clips or scans. Each extra slice costs memory in every layer after it.",
}

for _nd in (1, 2, 3):
    _name = f"ConstantPad{_nd}d"
    _rule = _shape(_name, _nd)
    register(
        LayerSpec(
            type=_name,
            category="Convolution",
            explanation=_TEXT[_nd],
            inputs=X,
            outputs=Y,
            params=(
                ParamSpec(
                    "padding",
                    "int_or_tuple",
                    1,
                    f"One number for all sides, or {_SIDES[_nd]} in {'/'.join(LAYOUTS[_nd][1:])} order from the last",
                    min=0,
                    length=2 * _nd,
                ),
                ParamSpec("value", "float", 0.0, "The number written into the padded positions"),
            ),
            shape=_rule,
            module=f"torch.nn.{_name}",
            key_params=("padding", "value"),
            sample=sample_valid(_rule, _gen(_nd)),
        )
    )
