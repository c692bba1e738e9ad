"""Weightless layers that change the spatial size of feature maps: Upsample, PixelShuffle, ZeroPad2d,
ReflectionPad2d.

Shapes follow torch's formulas exactly (the harness checks them against real forwards); the layout helpers come
from conv.py.
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable
from typing import Any

from ...core.errors import ShapeError
from ...core.tensor import TensorInfo
from ..registry import register
from ..shape_rules import expect_float, require
from ..spec import LayerSpec, ParamSpec, PortSpec
from .conv import LAYOUTS, as_text, expect_layout, image, sample_valid, spatial_text

X = (PortSpec("x"),)
Y = (PortSpec("y"),)


# ------------------------------------------------------------------------------------------------ Upsample
_UPSAMPLE_MODES = ("nearest", "linear", "bilinear", "bicubic", "trilinear")
_MODE_ND = {"linear": 1, "bilinear": 2, "bicubic": 2, "trilinear": 3}


def _upsample_shape(params: dict, inputs: list) -> list[TensorInfo]:
    t = require(inputs, "Upsample", port="x")
    nd = t.rank - 2
    if nd not in LAYOUTS:
        raise ShapeError(
            f"Upsample expects (C, L), (C, H, W) or (C, D, H, W) per sample but receives "
            f"{tuple(t.features)}: insert Unflatten or Reshape before it",
            port="x",
            expected="(C, H, W)",
            got=str(tuple(t.features)),
        )
    expect_float(t, "Upsample", port="x")
    mode = params["mode"]
    if mode in _MODE_ND and _MODE_ND[mode] != nd:
        fit = [m for m, n in _MODE_ND.items() if n == nd]
        raise ShapeError(
            f"Upsample mode '{mode}' works on {LAYOUTS[_MODE_ND[mode]]} inputs but receives "
            f"{tuple(t.features)}: use mode 'nearest' or '{fit[0]}'",
            param="mode",
        )
    if params["align_corners"] and mode == "nearest":
        raise ShapeError(
            "Upsample: align_corners only applies to the linear modes: turn it off or pick 'bilinear'",
            param="align_corners",
        )
    size, scale = params["size"], params["scale_factor"]
    if size is None and scale is None:
        raise ShapeError("Upsample needs a size or a scale_factor: set one of them", param="scale_factor")
    spatial = [int(s) for s in t.shape[2:]]
    if size is not None:
        out = tuple(size) if len(size) > 1 else tuple(size) * nd
        if len(out) != nd:
            raise ShapeError(
                f"Upsample size {as_text(size)} has {len(size)} values but the input has {nd} "
                f"spatial dims: give {nd} values",
                param="size",
            )
    else:
        sf = scale if isinstance(scale, tuple) else (scale,) * nd
        if len(sf) != nd:
            raise ShapeError(
                f"Upsample scale_factor {as_text(scale)} has {len(sf)} values but the input has "
                f"{nd} spatial dims: give one or {nd} values",
                param="scale_factor",
            )
        out = tuple(math.floor(float(s) * f) for s, f in zip(spatial, sf))  # torch's own rounding
        if any(o < 1 for o in out):
            raise ShapeError(
                f"Upsample scale_factor {as_text(scale)} shrinks {spatial_text(spatial)} to "
                f"nothing: use a larger factor",
                param="scale_factor",
            )
    return [t.with_shape((*t.shape[:2], *out))]


def _upsample_macs(params: dict, inputs: list, outputs: list) -> int:
    mode = params["mode"]
    if mode == "nearest":
        return 0
    taps = 4 if mode == "bicubic" else 2  # neighbours blended per spatial axis
    return outputs[0].numel_per_sample() * taps ** (outputs[0].rank - 2)


def _upsample_kwargs(p: dict, inputs: list) -> dict:
    kw: dict[str, Any] = {"mode": p["mode"]}
    if p["size"] is not None:
        kw["size"] = p["size"] if len(p["size"]) > 1 else p["size"][0]
    else:
        kw["scale_factor"] = p["scale_factor"]
    if p["mode"] != "nearest":  # torch rejects align_corners for nearest
        kw["align_corners"] = p["align_corners"]
    return kw


def _upsample_gen(rng: random.Random) -> tuple[dict, list[TensorInfo]]:
    nd = rng.choice([1, 2, 2, 3])
    t = image(rng, nd, s_hi=6)
    mode = rng.choice(["nearest"] + [m for m, n in _MODE_ND.items() if n == nd])
    params: dict[str, Any] = {"mode": mode, "align_corners": mode != "nearest" and rng.random() < 0.5, "size": None}
    if rng.random() < 0.4:
        params["size"] = tuple(rng.randint(1, 12) for _ in range(nd if rng.random() < 0.6 else 1))
        params["scale_factor"] = None if rng.random() < 0.7 else 2.0  # a given size overrides the factor
    else:
        params["scale_factor"] = (
            rng.choice([2.0, 3.0, 1.5, 0.5])
            if rng.random() < 0.8
            else tuple(rng.choice([1.0, 2.0, 2.5]) for _ in range(nd))
        )
    return params, [t]


register(
    LayerSpec(
        type="Upsample",
        category="Convolution",
        explanation=(
            "Enlarges feature maps by a fixed rule with no weights: 'nearest' repeats pixels, "
            "'bilinear'/'bicubic' interpolate. Use it in decoders and segmentation heads, often followed by "
            "a Conv2d that learns to smooth the result. A given size overrides scale_factor, and 'bilinear' "
            "needs (C, H, W) input while 'linear' needs (C, L)."
        ),
        inputs=X,
        outputs=Y,
        params=(
            ParamSpec(
                "scale_factor", "float_or_tuple", 2.0, "Multiplier for each spatial size", min=0.0, nullable=True
            ),
            ParamSpec(
                "size", "ints", None, "Exact output size; overrides scale_factor when given", min=1, nullable=True
            ),
            ParamSpec("mode", "choice", "nearest", "How new values are computed", choices=_UPSAMPLE_MODES),
            ParamSpec(
                "align_corners", "bool", False, "Linear modes: map corner pixels exactly onto each other", advanced=True
            ),
        ),
        shape=_upsample_shape,
        macs=_upsample_macs,
        module="torch.nn.Upsample",
        kwargs=_upsample_kwargs,
        key_params=("scale_factor", "size", "mode"),
        sample=sample_valid(_upsample_shape, _upsample_gen),
    )
)


# -------------------------------------------------------------------------------------------- PixelShuffle
def _pixel_shuffle_shape(params: dict, inputs: list) -> list[TensorInfo]:
    t = require(inputs, "PixelShuffle", port="x")
    expect_layout(t, "PixelShuffle", 2)
    r = params["upscale_factor"]
    c, h, w = (int(v) for v in t.shape[1:])
    if c % (r * r):
        raise ShapeError(
            f"PixelShuffle with upscale_factor {r} needs channels divisible by {r * r} but receives "
            f"{c}: give the Conv2d before it out_channels = {r * r} x (output channels)",
            param="upscale_factor",
            expected=f"a multiple of {r * r}",
            got=c,
        )
    return [t.with_shape(("N", c // (r * r), h * r, w * r))]


def _pixel_shuffle_gen(rng: random.Random) -> tuple[dict, list[TensorInfo]]:
    r = rng.randint(1, 3)
    return {"upscale_factor": r}, [TensorInfo(("N", r * r * rng.randint(1, 3), rng.randint(1, 6), rng.randint(1, 6)))]


register(
    LayerSpec(
        type="PixelShuffle",
        category="Convolution",
        explanation=(
            "Rearranges channels into space: (C*r*r, H, W) becomes (C, H*r, W*r). Put it after a Conv2d "
            "to upsample in super-resolution models (sub-pixel convolution) without checkerboard "
            "artifacts. The incoming channel count must be a multiple of upscale_factor squared."
        ),
        inputs=X,
        outputs=Y,
        params=(ParamSpec("upscale_factor", "int", 2, "Factor r by which height and width grow", min=1),),
        shape=_pixel_shuffle_shape,
        module="torch.nn.PixelShuffle",
        key_params=("upscale_factor",),
        sample=_pixel_shuffle_gen,
    )
)


# ------------------------------------------------------------------------------------------------- padding
def _pad4(value: Any) -> tuple[int, int, int, int]:
    return tuple(value) if isinstance(value, tuple) else (value,) * 4


def _pad_shape(layer: str, reflect: bool) -> Callable[[dict, list], list[TensorInfo]]:
    def rule(params: dict, inputs: list) -> list[TensorInfo]:
        t = require(inputs, layer, port="x")
        expect_layout(t, layer, 2)
        left, right, top, bottom = _pad4(params["padding"])
        h, w = int(t.shape[2]), int(t.shape[3])
        if reflect and (max(left, right) >= w or max(top, bottom) >= h):
            raise ShapeError(
                f"{layer}: padding {as_text(params['padding'])} must be smaller than the {h}x{w} "
                f"input it mirrors: reduce padding or use ZeroPad2d",
                param="padding",
            )
        return [t.with_shape(("N", t.shape[1], h + top + bottom, w + left + right))]

    return rule


_PAD_PARAM = ParamSpec(
    "padding", "int_or_tuple", 1, "One number for all sides, or (left, right, top, bottom)", min=0, length=4
)


def _pad_gen(rng: random.Random) -> tuple[dict, list[TensorInfo]]:
    pad = rng.randint(0, 3) if rng.random() < 0.5 else tuple(rng.randint(0, 3) for _ in range(4))
    return {"padding": pad}, [image(rng, 2, s_hi=8)]


for _name, _reflect, _text in (
    (
        "ZeroPad2d",
        False,
        "Adds rows and columns of zeros around each feature map. Use it for explicit or asymmetric padding, e.g. "
        "to make an odd size even before a stride-2 layer. The zeros form an artificial dark border that the next "
        "convolution sees.",
    ),
    (
        "ReflectionPad2d",
        True,
        "Pads each feature map with a mirror image of its own border instead of zeros. Common in style transfer "
        "and image-to-image models because it avoids dark edges. The padding must be smaller than the input size "
        "on that axis.",
    ),
):
    _rule = _pad_shape(_name, _reflect)
    register(
        LayerSpec(
            type=_name,
            category="Convolution",
            explanation=_text,
            inputs=X,
            outputs=Y,
            params=(_PAD_PARAM,),
            shape=_rule,
            module=f"torch.nn.{_name}",
            key_params=("padding",),
            sample=sample_valid(_rule, _pad_gen),
        )
    )
