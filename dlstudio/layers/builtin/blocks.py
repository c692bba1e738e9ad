"""Ready-made blocks (ResNet, MobileNetV2, Inception, VGG, DCGAN). Each compiles to one submodule from
dlstudio.nn.blocks; the parameter and MAC rules below mirror those modules layer by layer."""

from __future__ import annotations

import random
from typing import Any

from ...core.errors import ShapeError
from ...core.tensor import TensorInfo
from ..registry import register
from ..shape_rules import conv_out, conv_transpose_out, expect_float, expect_rank, require
from ..spec import LayerSpec, ParamSpec, PortSpec

X = (PortSpec("x", doc="Feature maps (C, H, W)"),)
Y = (PortSpec("y"),)
_NN = "dlstudio.nn.blocks."


def _maps(layer: str, inputs: list) -> tuple[int, int, int]:
    t = require(inputs, layer, port="x")
    expect_float(t, layer, port="x")
    expect_rank(t, (4,), layer, "feature maps (C, H, W)", port="x")
    return int(t.shape[1]), int(t.shape[2]), int(t.shape[3])


def _conv(cin: int, cout: int, k: int, bias: bool = False, groups: int = 1) -> int:
    return cout * (cin // groups) * k * k + (cout if bias else 0)


def _bn(c: int) -> int:
    return 2 * c


def _conv_macs(cin: int, cout: int, k: int, h: int, w: int, groups: int = 1) -> int:
    """MACs of a convolution producing (cout, h, w)."""
    return cout * h * w * (cin // groups) * k * k


def _too_small(layer: str, h: int, w: int, need: int) -> None:
    if h < need or w < need:
        raise ShapeError(
            f"{layer} needs feature maps of at least {need}x{need}, got {h}x{w}: remove a downsampling step before it",
            port="x",
        )


def _stride_param() -> ParamSpec:
    return ParamSpec(
        "stride", "choice", 1, "2 halves height and width (and adds a 1x1 projection on the skip path)", choices=(1, 2)
    )


def _kwargs(*names: str):
    def kwargs(p: dict, i: list) -> dict[str, Any]:
        return {"in_channels": int(i[0].shape[1]), **{n: p[n] for n in names}}

    return kwargs


def _map_sample(rng: random.Random, cmax: int = 6, smin: int = 1, smax: int = 7) -> TensorInfo:
    return TensorInfo(("N", rng.randint(1, cmax), rng.randint(smin, smax), rng.randint(smin, smax)))


# ---------------------------------------------------------------------------------------------- ResNet
def _basic(params: dict, cin: int) -> tuple[int, bool]:
    cout = params["out_channels"]
    return cout, params["stride"] != 1 or cin != cout


def _basic_shape(params: dict, inputs: list) -> list[TensorInfo]:
    c, h, w = _maps("BasicBlock", inputs)
    s = params["stride"]
    return [inputs[0].with_shape(("N", params["out_channels"], conv_out(h, 3, s, 1), conv_out(w, 3, s, 1)))]


def _basic_count(params: dict, inputs: list) -> int:
    cin = int(inputs[0].shape[1])
    cout, down = _basic(params, cin)
    n = _conv(cin, cout, 3) + _bn(cout) + _conv(cout, cout, 3) + _bn(cout)
    return n + (_conv(cin, cout, 1) + _bn(cout) if down else 0)


def _basic_macs(params: dict, inputs: list, outputs: list) -> int:
    cin = int(inputs[0].shape[1])
    cout, down = _basic(params, cin)
    _, _, h, w = outputs[0].shape
    return (
        _conv_macs(cin, cout, 3, h, w)
        + _conv_macs(cout, cout, 3, h, w)
        + (_conv_macs(cin, cout, 1, h, w) if down else 0)
    )


register(
    LayerSpec(
        type="BasicBlock",
        category="Blocks",
        explanation=(
            "The ResNet-18/34 residual block: two 3x3 convolutions with BatchNorm and ReLU, added to the input "
            "(the skip connection) before the last ReLU. Stack them to build deep CNNs that still train; "
            "stride 2 halves the resolution. When stride or channels change, the skip path gets a 1x1 "
            "convolution + BatchNorm automatically, which adds parameters."
        ),
        inputs=X,
        outputs=Y,
        params=(ParamSpec("out_channels", "int", 64, "Output channels", min=1), _stride_param()),
        shape=_basic_shape,
        param_count=_basic_count,
        macs=_basic_macs,
        module=_NN + "BasicBlock",
        kwargs=_kwargs("out_channels", "stride"),
        key_params=("out_channels", "stride"),
        sample=lambda rng: ({"out_channels": rng.randint(1, 8), "stride": rng.choice([1, 2])}, [_map_sample(rng)]),
    )
)


def _bottleneck_shape(params: dict, inputs: list) -> list[TensorInfo]:
    c, h, w = _maps("Bottleneck", inputs)
    s = params["stride"]
    return [inputs[0].with_shape(("N", 4 * params["planes"], conv_out(h, 3, s, 1), conv_out(w, 3, s, 1)))]


def _bottleneck_count(params: dict, inputs: list) -> int:
    cin, p = int(inputs[0].shape[1]), params["planes"]
    cout = 4 * p
    n = _conv(cin, p, 1) + _bn(p) + _conv(p, p, 3) + _bn(p) + _conv(p, cout, 1) + _bn(cout)
    down = params["stride"] != 1 or cin != cout
    return n + (_conv(cin, cout, 1) + _bn(cout) if down else 0)


def _bottleneck_macs(params: dict, inputs: list, outputs: list) -> int:
    cin, h0, w0 = (int(d) for d in inputs[0].shape[1:])
    p = params["planes"]
    _, cout, h, w = outputs[0].shape
    down = params["stride"] != 1 or cin != cout
    return (
        _conv_macs(cin, p, 1, h0, w0)
        + _conv_macs(p, p, 3, h, w)
        + _conv_macs(p, cout, 1, h, w)
        + (_conv_macs(cin, cout, 1, h, w) if down else 0)
    )


register(
    LayerSpec(
        type="Bottleneck",
        category="Blocks",
        explanation=(
            "The ResNet-50/101/152 residual block: a 1x1 convolution reduces to planes channels, a 3x3 works "
            "there, and a 1x1 expands to planes x 4 output channels, plus the skip connection. It gives deep "
            "networks more depth for the same cost as BasicBlock. The output has 4 x planes channels, not "
            "planes; stride sits on the 3x3 convolution as in torchvision."
        ),
        inputs=X,
        outputs=Y,
        params=(
            ParamSpec("planes", "int", 64, "Width of the inner 3x3 convolution; output channels = 4 x planes", min=1),
            _stride_param(),
        ),
        shape=_bottleneck_shape,
        param_count=_bottleneck_count,
        macs=_bottleneck_macs,
        module=_NN + "Bottleneck",
        kwargs=_kwargs("planes", "stride"),
        key_params=("planes", "stride"),
        sample=lambda rng: ({"planes": rng.randint(1, 4), "stride": rng.choice([1, 2])}, [_map_sample(rng)]),
    )
)


# ------------------------------------------------------------------------------------------- MobileNetV2
def _ir_shape(params: dict, inputs: list) -> list[TensorInfo]:
    c, h, w = _maps("InvertedResidual", inputs)
    s = params["stride"]
    return [inputs[0].with_shape(("N", params["out_channels"], conv_out(h, 3, s, 1), conv_out(w, 3, s, 1)))]


def _ir_hidden(params: dict, cin: int) -> int:
    return int(round(cin * params["expand_ratio"]))


def _ir_count(params: dict, inputs: list) -> int:
    cin, cout = int(inputs[0].shape[1]), params["out_channels"]
    hid = _ir_hidden(params, cin)
    n = (_conv(cin, hid, 1) + _bn(hid)) if params["expand_ratio"] != 1 else 0
    return n + _conv(hid, hid, 3, groups=hid) + _bn(hid) + _conv(hid, cout, 1) + _bn(cout)


def _ir_macs(params: dict, inputs: list, outputs: list) -> int:
    cin, h0, w0 = (int(d) for d in inputs[0].shape[1:])
    _, cout, h, w = outputs[0].shape
    hid = _ir_hidden(params, cin)
    expand = _conv_macs(cin, hid, 1, h0, w0) if params["expand_ratio"] != 1 else 0
    return expand + _conv_macs(hid, hid, 3, h, w, groups=hid) + _conv_macs(hid, cout, 1, h, w)


register(
    LayerSpec(
        type="InvertedResidual",
        category="Blocks",
        explanation=(
            "The MobileNetV2 block: a 1x1 convolution expands the channels by expand_ratio, a cheap 3x3 "
            "depthwise convolution filters them, and a linear 1x1 convolution projects back down (ReLU6 "
            "between, no activation at the end). Use it for small, fast mobile networks. The skip connection "
            "exists only when stride is 1 and the channels stay the same."
        ),
        inputs=X,
        outputs=Y,
        params=(
            ParamSpec("out_channels", "int", 32, "Output channels", min=1),
            _stride_param(),
            ParamSpec("expand_ratio", "int", 6, "Channel expansion of the hidden layer (1 skips the expansion)", min=1),
        ),
        shape=_ir_shape,
        param_count=_ir_count,
        macs=_ir_macs,
        module=_NN + "InvertedResidual",
        kwargs=_kwargs("out_channels", "stride", "expand_ratio"),
        key_params=("out_channels", "stride", "expand_ratio"),
        sample=lambda rng: (
            {"out_channels": rng.randint(1, 8), "stride": rng.choice([1, 2]), "expand_ratio": rng.choice([1, 2, 6])},
            [_map_sample(rng)],
        ),
    )
)


# ------------------------------------------------------------------------------------------- Inception
_INCEPTION = ("ch1x1", "ch3x3red", "ch3x3", "ch5x5red", "ch5x5", "pool_proj")


def _inc_shape(params: dict, inputs: list) -> list[TensorInfo]:
    c, h, w = _maps("InceptionModule", inputs)
    out = params["ch1x1"] + params["ch3x3"] + params["ch5x5"] + params["pool_proj"]
    return [inputs[0].with_shape(("N", out, h, w))]


def _inc_units(params: dict, cin: int) -> list[tuple[int, int, int]]:
    """(in, out, kernel) of every conv unit."""
    p = params
    return [
        (cin, p["ch1x1"], 1),
        (cin, p["ch3x3red"], 1),
        (p["ch3x3red"], p["ch3x3"], 3),
        (cin, p["ch5x5red"], 1),
        (p["ch5x5red"], p["ch5x5"], p["branch3_kernel"]),
        (cin, p["pool_proj"], 1),
    ]


def _inc_count(params: dict, inputs: list) -> int:
    bn = params["batch_norm"]
    return sum(
        _conv(i, o, k, bias=not bn) + (_bn(o) if bn else 0) for i, o, k in _inc_units(params, int(inputs[0].shape[1]))
    )


def _inc_macs(params: dict, inputs: list, outputs: list) -> int:
    _, cin, h, w = inputs[0].shape
    return sum(_conv_macs(i, o, k, int(h), int(w)) for i, o, k in _inc_units(params, int(cin)))


register(
    LayerSpec(
        type="InceptionModule",
        category="Blocks",
        explanation=(
            "The GoogLeNet Inception module: four parallel branches (1x1; 1x1 then 3x3; 1x1 then 5x5; 3x3 max "
            "pool then 1x1) concatenated on channels, so the output has ch1x1 + ch3x3 + ch5x5 + pool_proj "
            "channels and the same height and width. The 1x1 'reduce' convolutions keep the wide kernels "
            "cheap. torchvision's GoogLeNet uses 3x3 in its '5x5' branch: set branch3_kernel=3 to load its "
            "weights."
        ),
        inputs=X,
        outputs=Y,
        params=tuple(
            ParamSpec(n, "int", d, doc, min=1)
            for n, d, doc in (
                ("ch1x1", 64, "Channels of the 1x1 branch"),
                ("ch3x3red", 96, "1x1 reduction before the 3x3"),
                ("ch3x3", 128, "Channels of the 3x3 branch"),
                ("ch5x5red", 16, "1x1 reduction before the 5x5"),
                ("ch5x5", 32, "Channels of the 5x5 branch"),
                ("pool_proj", 32, "1x1 projection after the max pool"),
            )
        )
        + (
            ParamSpec(
                "batch_norm",
                "bool",
                True,
                "Conv without bias + BatchNorm(eps=0.001) + ReLU (torchvision); "
                "off: conv with bias + ReLU (the 2014 paper)",
                advanced=True,
            ),
            ParamSpec(
                "branch3_kernel",
                "choice",
                5,
                "Kernel of the '5x5' branch: 5 as in the paper, 3 as in torchvision's GoogLeNet",
                choices=(5, 3),
                advanced=True,
            ),
        ),
        shape=_inc_shape,
        param_count=_inc_count,
        macs=_inc_macs,
        module=_NN + "InceptionModule",
        kwargs=_kwargs(*_INCEPTION, "batch_norm", "branch3_kernel"),
        key_params=_INCEPTION,
        sample=lambda rng: (
            {
                **{n: rng.randint(1, 4) for n in _INCEPTION},
                "batch_norm": rng.random() < 0.7,
                "branch3_kernel": rng.choice([5, 3]),
            },
            [_map_sample(rng)],
        ),
    )
)


# ---------------------------------------------------------------------------------------------------- VGG
def _vgg_shape(params: dict, inputs: list) -> list[TensorInfo]:
    c, h, w = _maps("VGGBlock", inputs)
    _too_small("VGGBlock", h, w, 2)
    return [inputs[0].with_shape(("N", params["out_channels"], h // 2, w // 2))]


def _vgg_count(params: dict, inputs: list) -> int:
    cin, cout = int(inputs[0].shape[1]), params["out_channels"]
    total = 0
    for i in range(params["num_convs"]):
        total += _conv(cin if i == 0 else cout, cout, 3, bias=True) + (_bn(cout) if params["batch_norm"] else 0)
    return total


def _vgg_macs(params: dict, inputs: list, outputs: list) -> int:
    cin, h, w = (int(d) for d in inputs[0].shape[1:])
    cout = params["out_channels"]
    return sum(_conv_macs(cin if i == 0 else cout, cout, 3, h, w) for i in range(params["num_convs"]))


register(
    LayerSpec(
        type="VGGBlock",
        category="Blocks",
        explanation=(
            "A VGG stage: num_convs 3x3 convolutions (padding 1) each followed by ReLU (and BatchNorm if "
            "chosen), then a 2x2 max pool that halves height and width. Stack a few with growing "
            "out_channels for a simple, strong image classifier. VGG layers are heavy: most of the "
            "parameters end up in the dense head, so keep the flattened size small."
        ),
        inputs=X,
        outputs=Y,
        params=(
            ParamSpec("out_channels", "int", 64, "Output channels of every convolution", min=1),
            ParamSpec("num_convs", "int", 2, "Number of 3x3 convolutions before the pool", min=1),
            ParamSpec("batch_norm", "bool", False, "BatchNorm after each convolution (VGG-BN)"),
        ),
        shape=_vgg_shape,
        param_count=_vgg_count,
        macs=_vgg_macs,
        module=_NN + "VGGBlock",
        kwargs=_kwargs("out_channels", "num_convs", "batch_norm"),
        key_params=("out_channels", "num_convs"),
        sample=lambda rng: (
            {"out_channels": rng.randint(1, 6), "num_convs": rng.randint(1, 3), "batch_norm": rng.random() < 0.5},
            [_map_sample(rng, smin=2)],
        ),
    )
)


# -------------------------------------------------------------------------------------------------- DCGAN
def _up_shape(params: dict, inputs: list) -> list[TensorInfo]:
    c, h, w = _maps("DCGANUpBlock", inputs)
    return [
        inputs[0].with_shape(
            ("N", params["out_channels"], conv_transpose_out(h, 4, 2, 1), conv_transpose_out(w, 4, 2, 1))
        )
    ]


register(
    LayerSpec(
        type="DCGANUpBlock",
        category="Blocks",
        explanation=(
            "A DCGAN generator step: a 4x4 transposed convolution with stride 2 (no bias) doubles height and "
            "width, followed by BatchNorm and ReLU. Chain them from a small (C, 4, 4) map up to the image "
            "size. The final generator layer should be a plain ConvTranspose2d with Tanh, not this block."
        ),
        inputs=X,
        outputs=Y,
        params=(ParamSpec("out_channels", "int", 64, "Output channels", min=1),),
        shape=_up_shape,
        param_count=lambda p, i: _conv(int(i[0].shape[1]), p["out_channels"], 4) + _bn(p["out_channels"]),
        # a transposed conv does in_channels x out_channels x 16 MACs per input position
        macs=lambda p, i, o: int(i[0].shape[1]) * p["out_channels"] * 16 * int(i[0].shape[2]) * int(i[0].shape[3]),
        module=_NN + "DCGANUpBlock",
        kwargs=_kwargs("out_channels"),
        key_params=("out_channels",),
        sample=lambda rng: ({"out_channels": rng.randint(1, 6)}, [_map_sample(rng, smax=4)]),
    )
)


def _down_shape(params: dict, inputs: list) -> list[TensorInfo]:
    c, h, w = _maps("DCGANDownBlock", inputs)
    _too_small("DCGANDownBlock", h, w, 2)
    return [inputs[0].with_shape(("N", params["out_channels"], conv_out(h, 4, 2, 1), conv_out(w, 4, 2, 1)))]


register(
    LayerSpec(
        type="DCGANDownBlock",
        category="Blocks",
        explanation=(
            "A DCGAN discriminator step: a 4x4 convolution with stride 2 (no bias) halves height and width, "
            "then optional BatchNorm and LeakyReLU(0.2). Chain them from the image down to a small map, then "
            "one output unit. Leave batch_norm off in the first block, as the DCGAN paper does."
        ),
        inputs=X,
        outputs=Y,
        params=(
            ParamSpec("out_channels", "int", 64, "Output channels", min=1),
            ParamSpec("batch_norm", "bool", True, "BatchNorm after the convolution (off for the first block)"),
        ),
        shape=_down_shape,
        param_count=lambda p, i: (
            _conv(int(i[0].shape[1]), p["out_channels"], 4) + (_bn(p["out_channels"]) if p["batch_norm"] else 0)
        ),
        macs=lambda p, i, o: _conv_macs(
            int(i[0].shape[1]), p["out_channels"], 4, int(o[0].shape[2]), int(o[0].shape[3])
        ),
        module=_NN + "DCGANDownBlock",
        kwargs=_kwargs("out_channels", "batch_norm"),
        key_params=("out_channels",),
        sample=lambda rng: (
            {"out_channels": rng.randint(1, 6), "batch_norm": rng.random() < 0.5},
            [_map_sample(rng, smin=2)],
        ),
    )
)
