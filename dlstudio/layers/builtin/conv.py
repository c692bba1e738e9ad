"""Convolution layers: Conv1d/2d/3d, DepthwiseSeparableConv2d, ConvTranspose1d/2d (Upsample, PixelShuffle and the
2-D paddings are in resize.py).

Shapes follow torch's formulas exactly (the harness checks them against real forwards). The layout helpers at
the top are shared with pool.py, resize.py and padding.py.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence
from typing import Any

from ...core.errors import ShapeError
from ...core.tensor import TensorInfo
from ..registry import REGISTRY, register
from ..shape_rules import conv_out, conv_transpose_out, expect_float, ntuple, prod, require
from ..spec import LayerSpec, ParamSpec, PortSpec

X = (PortSpec("x"),)
Y = (PortSpec("y"),)

# Per-sample layouts by number of spatial dimensions.
LAYOUTS: dict[int, tuple[str, ...]] = {1: ("C", "L"), 2: ("C", "H", "W"), 3: ("C", "D", "H", "W")}

Sampler = Callable[[random.Random], tuple[dict, list[TensorInfo]]]


# --------------------------------------------------------------------------------------------- shared helpers
def expect_layout(t: TensorInfo, layer: str, nd: int, port: str = "x") -> None:
    """Raise unless `t` is (N, C, *spatial) with `nd` spatial dims, naming the layout the layer wants."""
    names = LAYOUTS[nd]
    if t.rank == nd + 2:
        return
    want = "(" + ", ".join(names) + ")"
    got_nd = t.rank - 2
    hint = "insert Unflatten or Reshape before it"
    variant = f"{layer[:-2]}{got_nd}d"
    if got_nd in LAYOUTS and layer[-2:] in ("1d", "2d", "3d") and variant in REGISTRY:
        hint += f", or use {variant}"
    raise ShapeError(
        f"{layer} expects {want} per sample but receives {tuple(t.features)}: {hint}",
        port=port,
        expected=want,
        got=str(tuple(t.features)),
    )


def spatial_text(sizes: Sequence[Any]) -> str:
    """(3, 3) -> '3x3' for messages."""
    return "x".join(str(s) for s in sizes)


def as_text(value: Any) -> str:
    return str(tuple(value)) if isinstance(value, (list, tuple)) else str(value)


def sample_valid(rule: Callable[[dict, list], Any], gen: Sampler, tries: int = 500) -> Sampler:
    """A sampler that draws from `gen` until the shape rule accepts the draw, so the harness gets varied but
    always valid parameters without each generator encoding every constraint."""

    def sample(rng: random.Random) -> tuple[dict, list[TensorInfo]]:
        for _ in range(tries):
            params, inputs = gen(rng)
            try:
                rule(params, inputs)
            except ShapeError:
                continue
            return params, inputs
        raise RuntimeError("sampler found no valid draw")  # a bug in the generator, caught by the harness

    return sample


def rand_tuple(rng: random.Random, nd: int, lo: int, hi: int) -> int | tuple[int, ...]:
    """An int or, sometimes, a tuple: both forms must work."""
    if nd > 1 and rng.random() < 0.3:
        return tuple(rng.randint(lo, hi) for _ in range(nd))
    return rng.randint(lo, hi)


def image(rng: random.Random, nd: int, c_max: int = 6, s_lo: int = 1, s_hi: int = 12) -> TensorInfo:
    hi = s_hi if nd < 3 else min(s_hi, 7)
    return TensorInfo(("N", rng.randint(1, c_max)) + tuple(rng.randint(s_lo, hi) for _ in range(nd)))


# ----------------------------------------------------------------------------------------------- ConvNd
PADDING_MODES = ("zeros", "reflect", "replicate", "circular")


def _conv_geometry(layer: str, nd: int, params: dict, t: TensorInfo) -> tuple[int, ...]:
    """Output spatial sizes of a ConvNd; raises ShapeError with the parameter to change."""
    sizes = [int(s) for s in t.shape[2:]]
    k = ntuple(params["kernel_size"], nd)
    s = ntuple(params["stride"], nd)
    d = ntuple(params["dilation"], nd)
    pad = params["padding"]
    if pad == "same":
        if any(v != 1 for v in s):
            raise ShapeError(
                f"{layer}: padding='same' keeps the size only with stride 1 but stride is "
                f"{as_text(params['stride'])}: set stride to 1 or give padding as a number",
                param="padding",
            )
        # torch pads dilation*(kernel_size-1) in total, the odd one on the right
        sides = [(d[i] * (k[i] - 1) // 2, d[i] * (k[i] - 1) - d[i] * (k[i] - 1) // 2) for i in range(nd)]
        p = (0,) * nd
    else:
        p = (0,) * nd if pad == "valid" else ntuple(pad, nd)
        sides = [(v, v) for v in p]
    mode = params.get("padding_mode", "zeros")
    for i in range(nd):
        widest = max(sides[i])
        if mode == "reflect" and widest >= sizes[i]:
            raise ShapeError(
                f"{layer}: padding_mode='reflect' needs padding smaller than the input "
                f"({widest} vs {spatial_text(sizes)}): reduce padding or use 'replicate'",
                param="padding",
            )
        if mode == "circular" and widest > sizes[i]:
            raise ShapeError(
                f"{layer}: padding_mode='circular' cannot wrap more than the input size "
                f"({widest} vs {spatial_text(sizes)}): reduce padding",
                param="padding",
            )
    if pad == "same":
        return tuple(sizes)
    span = [d[i] * (k[i] - 1) + 1 for i in range(nd)]
    if any(span[i] > sizes[i] + 2 * p[i] for i in range(nd)):
        what = f"kernel_size {as_text(params['kernel_size'])}"
        if any(v != 1 for v in d):
            what += f" with dilation {as_text(params['dilation'])} (spanning {spatial_text(span)})"
        raise ShapeError(
            f"{layer}: {what} is larger than the {spatial_text(sizes)} input plus padding: "
            f"reduce kernel_size or add padding",
            param="kernel_size",
            expected=f"<= {spatial_text([sizes[i] + 2 * p[i] for i in range(nd)])}",
            got=spatial_text(span),
        )
    return tuple(conv_out(sizes[i], k[i], s[i], p[i], d[i]) for i in range(nd))


def _check_groups(layer: str, channels: int, params: dict, out_channels: int) -> None:
    g = params["groups"]
    if channels % g:
        raise ShapeError(
            f"{layer}: in_channels {channels} is not divisible by groups={g}: choose groups that "
            f"divides {channels} (groups={channels} makes it depthwise)",
            param="groups",
            expected=f"a divisor of {channels}",
            got=g,
        )
    if out_channels % g:
        raise ShapeError(
            f"{layer}: out_channels {out_channels} is not divisible by groups={g}: make out_channels a multiple of {g}",
            param="out_channels",
        )


def _conv_shape(layer: str, nd: int) -> Callable[[dict, list], list[TensorInfo]]:
    def rule(params: dict, inputs: list) -> list[TensorInfo]:
        t = require(inputs, layer, port="x")
        expect_layout(t, layer, nd)
        expect_float(t, layer, port="x")
        _check_groups(layer, int(t.shape[1]), params, params["out_channels"])
        out = _conv_geometry(layer, nd, params, t)
        return [t.with_shape(("N", params["out_channels"], *out))]

    return rule


def _kvol(params: dict, nd: int) -> int:
    return prod(ntuple(params["kernel_size"], nd))


def _conv_params(nd: int) -> Callable[[dict, list], int]:
    def count(params: dict, inputs: list) -> int:
        cin = int(inputs[0].shape[1])
        w = params["out_channels"] * (cin // params["groups"]) * _kvol(params, nd)
        return w + (params["out_channels"] if params["bias"] else 0)

    return count


def _conv_macs(nd: int) -> Callable[[dict, list, list], int]:
    def macs(params: dict, inputs: list, outputs: list) -> int:
        cin = int(inputs[0].shape[1])
        return outputs[0].numel_per_sample() * (cin // params["groups"]) * _kvol(params, nd)

    return macs


def _conv_param_specs(nd: int) -> tuple[ParamSpec, ...]:
    return (
        ParamSpec("out_channels", "int", 16, "Number of filters (output channels)", min=1),
        ParamSpec("kernel_size", "int_or_tuple", 3, "Window size of each filter", min=1, length=nd),
        ParamSpec("stride", "int_or_tuple", 1, "Step between windows; 2 halves the size", min=1, length=nd),
        ParamSpec(
            "padding",
            "int_or_tuple",
            0,
            "Zeros added on each side; 'same' keeps the size (stride 1), 'valid' adds none",
            min=0,
            length=nd,
            choices=("same", "valid"),
        ),
        ParamSpec(
            "dilation",
            "int_or_tuple",
            1,
            "Gap between kernel taps (atrous convolution)",
            min=1,
            length=nd,
            advanced=True,
        ),
        ParamSpec(
            "groups",
            "int",
            1,
            "Split channels into independent groups; groups = in_channels (and "
            "out_channels a multiple of it) gives a depthwise convolution",
            min=1,
            advanced=True,
        ),
        ParamSpec(
            "bias", "bool", True, "Learn an additive bias per output channel (off before BatchNorm)", advanced=True
        ),
        ParamSpec(
            "padding_mode", "choice", "zeros", "What the padding is filled with", choices=PADDING_MODES, advanced=True
        ),
    )


def _conv_gen(nd: int) -> Sampler:
    def gen(rng: random.Random) -> tuple[dict, list[TensorInfo]]:
        t = image(rng, nd)
        divisors = [g for g in range(1, int(t.shape[1]) + 1) if int(t.shape[1]) % g == 0]
        groups = rng.choice(divisors) if rng.random() < 0.4 else 1
        pad: Any = rng.choice(["same", "valid", 0, 1, 2, rand_tuple(rng, nd, 0, 2)])
        stride = 1 if pad == "same" else rand_tuple(rng, nd, 1, 3)
        params = {
            "out_channels": groups * rng.randint(1, 4),
            "kernel_size": rand_tuple(rng, nd, 1, 5),
            "stride": stride,
            "padding": pad,
            "dilation": rand_tuple(rng, nd, 1, 2),
            "groups": groups,
            "bias": rng.random() < 0.7,
            "padding_mode": rng.choice(PADDING_MODES),
        }
        return params, [t]

    return gen


_CONV_TEXT = {
    1: (
        "Slides learned filters along one axis, e.g. over time steps or a signal: input (C, L). Use it for "
        "audio, sensor data or token sequences laid out as channels x length. A sequence stored as (L, C), as "
        "recurrent layers use it, must be permuted to (C, L) first."
    ),
    2: (
        "Slides learned KxK filters over an image and outputs one feature map per filter: input (C, H, W). "
        "It is the workhorse of image models; in_channels follows from the input. Without padding every layer "
        "shrinks the map by kernel_size - 1, so use padding='same' to keep it."
    ),
    3: (
        "Slides learned filters over a volume: input (C, D, H, W), e.g. video frames or medical scans. Use it "
        "when the third axis carries spatial or temporal structure. Costs grow with the cube of kernel_size, "
        "so keep kernels and channel counts small."
    ),
}

for _nd in (1, 2, 3):
    _name = f"Conv{_nd}d"
    _rule = _conv_shape(_name, _nd)
    register(
        LayerSpec(
            type=_name,
            category="Convolution",
            explanation=_CONV_TEXT[_nd],
            inputs=X,
            outputs=Y,
            params=_conv_param_specs(_nd),
            shape=_rule,
            param_count=_conv_params(_nd),
            macs=_conv_macs(_nd),
            module=f"torch.nn.{_name}",
            kwargs=lambda p, i: {"in_channels": int(i[0].shape[1]), **p},
            key_params=("out_channels", "kernel_size", "stride", "padding"),
            sample=sample_valid(_rule, _conv_gen(_nd)),
        )
    )


# ----------------------------------------------------------------------------- DepthwiseSeparableConv2d
def _dsconv_shape(params: dict, inputs: list) -> list[TensorInfo]:
    layer = "DepthwiseSeparableConv2d"
    t = require(inputs, layer, port="x")
    expect_layout(t, layer, 2)
    expect_float(t, layer, port="x")
    out = _conv_geometry(layer, 2, params, t)
    return [t.with_shape(("N", params["out_channels"], *out))]


def _dsconv_params(params: dict, inputs: list) -> int:
    cin = int(inputs[0].shape[1])
    b = params["bias"]
    depthwise = cin * _kvol(params, 2) + (cin if b else 0)
    pointwise = cin * params["out_channels"] + (params["out_channels"] if b else 0)
    return depthwise + pointwise


def _dsconv_macs(params: dict, inputs: list, outputs: list) -> int:
    cin = int(inputs[0].shape[1])
    positions = prod(outputs[0].shape[2:])
    return positions * cin * _kvol(params, 2) + positions * cin * params["out_channels"]


_DS_PARAMS = tuple(p for p in _conv_param_specs(2) if p.name != "groups")


def _dsconv_gen(rng: random.Random) -> tuple[dict, list[TensorInfo]]:
    params, inputs = _conv_gen(2)(rng)
    params.pop("groups")
    params["out_channels"] = rng.randint(1, 12)
    return params, inputs


register(
    LayerSpec(
        type="DepthwiseSeparableConv2d",
        category="Convolution",
        explanation=(
            "A per-channel KxK convolution followed by a 1x1 convolution that mixes channels, as in "
            "MobileNet. It needs roughly kernel_size squared times fewer weights and MACs than a Conv2d of "
            "the same size, which suits small or mobile models. It is a little less expressive, so "
            "networks built from it are usually made wider or deeper."
        ),
        inputs=X,
        outputs=Y,
        params=_DS_PARAMS,
        shape=_dsconv_shape,
        param_count=_dsconv_params,
        macs=_dsconv_macs,
        module="dlstudio.nn.conv.DepthwiseSeparableConv2d",
        kwargs=lambda p, i: {"in_channels": int(i[0].shape[1]), **p},
        key_params=("out_channels", "kernel_size", "stride"),
        sample=sample_valid(_dsconv_shape, _dsconv_gen),
    )
)


# --------------------------------------------------------------------------------------- ConvTransposeNd
def _convt_shape(layer: str, nd: int) -> Callable[[dict, list], list[TensorInfo]]:
    def rule(params: dict, inputs: list) -> list[TensorInfo]:
        t = require(inputs, layer, port="x")
        expect_layout(t, layer, nd)
        expect_float(t, layer, port="x")
        _check_groups(layer, int(t.shape[1]), params, params["out_channels"])
        k = ntuple(params["kernel_size"], nd)
        s = ntuple(params["stride"], nd)
        p = ntuple(params["padding"], nd)
        op = ntuple(params["output_padding"], nd)
        d = ntuple(params["dilation"], nd)
        for i in range(nd):
            # torch also accepts output_padding < dilation, but ONNX runtimes require < stride: keep it portable
            if op[i] >= s[i]:
                raise ShapeError(
                    f"{layer}: output_padding {as_text(params['output_padding'])} must be smaller "
                    f"than stride {as_text(params['stride'])}: reduce output_padding or raise stride",
                    param="output_padding",
                    expected=f"< {s[i]}",
                    got=op[i],
                )
        out = tuple(conv_transpose_out(int(t.shape[2 + i]), k[i], s[i], p[i], op[i], d[i]) for i in range(nd))
        if any(o < 1 for o in out):
            raise ShapeError(
                f"{layer}: padding {as_text(params['padding'])} removes more than the "
                f"{spatial_text(t.shape[2:])} input grows to: reduce padding",
                param="padding",
            )
        return [t.with_shape(("N", params["out_channels"], *out))]

    return rule


def _convt_params(nd: int) -> Callable[[dict, list], int]:
    def count(params: dict, inputs: list) -> int:
        cin = int(inputs[0].shape[1])
        w = cin * (params["out_channels"] // params["groups"]) * _kvol(params, nd)
        return w + (params["out_channels"] if params["bias"] else 0)

    return count


def _convt_macs(nd: int) -> Callable[[dict, list, list], int]:
    def macs(params: dict, inputs: list, outputs: list) -> int:
        # every input element is scattered through (out_channels / groups) kernels
        return inputs[0].numel_per_sample() * (params["out_channels"] // params["groups"]) * _kvol(params, nd)

    return macs


def _convt_param_specs(nd: int) -> tuple[ParamSpec, ...]:
    return (
        ParamSpec("out_channels", "int", 16, "Number of output channels", min=1),
        ParamSpec("kernel_size", "int_or_tuple", 2, "Window size of each filter", min=1, length=nd),
        ParamSpec("stride", "int_or_tuple", 2, "Upsampling factor: 2 roughly doubles the size", min=1, length=nd),
        ParamSpec("padding", "int_or_tuple", 0, "Rows/columns removed from each side of the output", min=0, length=nd),
        ParamSpec(
            "output_padding",
            "int_or_tuple",
            0,
            "Extra rows/columns on one side to hit an exact size (smaller than stride)",
            min=0,
            length=nd,
            advanced=True,
        ),
        ParamSpec("dilation", "int_or_tuple", 1, "Gap between kernel taps", min=1, length=nd, advanced=True),
        ParamSpec("groups", "int", 1, "Independent channel groups", min=1, advanced=True),
        ParamSpec("bias", "bool", True, "Learn an additive bias per output channel", advanced=True),
    )


def _convt_gen(nd: int) -> Sampler:
    def gen(rng: random.Random) -> tuple[dict, list[TensorInfo]]:
        t = image(rng, nd, s_hi=8)
        c = int(t.shape[1])
        groups = rng.choice([g for g in range(1, c + 1) if c % g == 0]) if rng.random() < 0.3 else 1
        return {
            "out_channels": groups * rng.randint(1, 4),
            "kernel_size": rand_tuple(rng, nd, 1, 4),
            "stride": rand_tuple(rng, nd, 1, 3),
            "padding": rand_tuple(rng, nd, 0, 2),
            "output_padding": rand_tuple(rng, nd, 0, 1),
            "dilation": rand_tuple(rng, nd, 1, 2),
            "groups": groups,
            "bias": rng.random() < 0.7,
        }, [t]

    return gen


_CONVT_TEXT = {
    1: (
        "The learned opposite of a strided Conv1d: spreads every input step over kernel_size outputs, growing "
        "the length by about stride. Use it in sequence decoders and 1-D autoencoders. Overlapping windows "
        "(kernel_size not a multiple of stride) can leave periodic artifacts."
    ),
    2: (
        "A learned upsampling ('deconvolution'): each input pixel paints a KxK patch, so stride 2 roughly "
        "doubles height and width. Use it in decoders, autoencoders and GAN generators. Choose kernel_size as "
        "a multiple of stride (e.g. 4 with stride 2, padding 1) to avoid checkerboard artifacts."
    ),
}

for _nd in (1, 2):
    _name = f"ConvTranspose{_nd}d"
    _rule = _convt_shape(_name, _nd)
    register(
        LayerSpec(
            type=_name,
            category="Convolution",
            explanation=_CONVT_TEXT[_nd],
            inputs=X,
            outputs=Y,
            params=_convt_param_specs(_nd),
            shape=_rule,
            param_count=_convt_params(_nd),
            macs=_convt_macs(_nd),
            module=f"torch.nn.{_name}",
            kwargs=lambda p, i: {"in_channels": int(i[0].shape[1]), **p},
            key_params=("out_channels", "kernel_size", "stride"),
            sample=sample_valid(_rule, _convt_gen(_nd)),
        )
    )
