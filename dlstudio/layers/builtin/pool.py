"""Pooling layers: MaxPool1d/2d, AvgPool1d/2d, MinPool2d, AdaptiveAvgPool1d/2d, AdaptiveMaxPool2d, GlobalAvgPool,
GlobalMaxPool. None of them has weights."""

from __future__ import annotations

import random
from collections.abc import Callable
from typing import Any

from ...core.errors import ShapeError
from ...core.tensor import TensorInfo
from ..registry import register
from ..shape_rules import expect_float, ntuple, pool_out, prod, require
from ..spec import LayerSpec, ParamSpec, PortSpec
from .conv import LAYOUTS, Sampler, as_text, expect_layout, image, rand_tuple, sample_valid, spatial_text

X = (PortSpec("x"),)
Y = (PortSpec("y"),)


# ------------------------------------------------------------------------------------------ windowed pools
def _pool_shape(layer: str, nd: int) -> Callable[[dict, list], list[TensorInfo]]:
    def rule(params: dict, inputs: list) -> list[TensorInfo]:
        t = require(inputs, layer, port="x")
        expect_layout(t, layer, nd)
        expect_float(t, layer, port="x")
        sizes = [int(s) for s in t.shape[2:]]
        k = ntuple(params["kernel_size"], nd)
        stride = params["stride"] if params["stride"] is not None else params["kernel_size"]
        s = ntuple(stride, nd)
        p = ntuple(params["padding"], nd)
        d = ntuple(params.get("dilation", 1), nd)
        for i in range(nd):
            if p[i] > k[i] // 2:
                raise ShapeError(
                    f"{layer}: padding {as_text(params['padding'])} is more than half of kernel_size "
                    f"{as_text(params['kernel_size'])}: reduce padding to at most {k[i] // 2}",
                    param="padding",
                    expected=f"<= {k[i] // 2}",
                    got=p[i],
                )
        span = [d[i] * (k[i] - 1) + 1 for i in range(nd)]
        if any(span[i] > sizes[i] + 2 * p[i] for i in range(nd)):
            raise ShapeError(
                f"{layer}: kernel_size {as_text(params['kernel_size'])} is larger than the "
                f"{spatial_text(sizes)} input plus padding: reduce kernel_size or add padding",
                param="kernel_size",
                expected=f"<= {spatial_text([sizes[i] + 2 * p[i] for i in range(nd)])}",
                got=spatial_text(span),
            )
        out = tuple(pool_out(sizes[i], k[i], s[i], p[i], d[i], params.get("ceil_mode", False)) for i in range(nd))
        return [t.with_shape((*t.shape[:2], *out))]

    return rule


def _pool_macs(nd: int) -> Callable[[dict, list, list], int]:
    """One comparison/addition per window element (pooling has no multiplies; this counts its work)."""

    def macs(params: dict, inputs: list, outputs: list) -> int:
        return outputs[0].numel_per_sample() * prod(ntuple(params["kernel_size"], nd))

    return macs


def _pool_param_specs(nd: int, is_max: bool) -> tuple[ParamSpec, ...]:
    specs = [
        ParamSpec("kernel_size", "int_or_tuple", 2, "Window size", min=1, length=nd),
        ParamSpec(
            "stride",
            "int_or_tuple",
            None,
            "Step between windows; empty means kernel_size (non-overlapping windows)",
            min=1,
            length=nd,
            nullable=True,
        ),
        ParamSpec(
            "padding",
            "int_or_tuple",
            0,
            "Border added on each side, at most half of kernel_size",
            min=0,
            length=nd,
            advanced=True,
        ),
    ]
    if is_max:
        specs.append(
            ParamSpec("dilation", "int_or_tuple", 1, "Gap between window elements", min=1, length=nd, advanced=True)
        )
    specs.append(
        ParamSpec(
            "ceil_mode",
            "bool",
            False,
            "Round the output size up, so a partial window at the border still produces an output",
            advanced=True,
        )
    )
    if not is_max:
        specs.append(ParamSpec("count_include_pad", "bool", True, "Count padded zeros in the average", advanced=True))
        if nd == 2:  # torch's AvgPool1d has no divisor_override
            specs.append(
                ParamSpec(
                    "divisor_override",
                    "int",
                    None,
                    "Divide every window sum by this number instead of the window size",
                    min=1,
                    nullable=True,
                    advanced=True,
                )
            )
    return tuple(specs)


def _pool_gen(nd: int, is_max: bool) -> Sampler:
    def gen(rng: random.Random) -> tuple[dict, list[TensorInfo]]:
        k = rand_tuple(rng, nd, 1, 4)
        kmin = min(ntuple(k, nd))
        params: dict[str, Any] = {
            "kernel_size": k,
            "stride": None if rng.random() < 0.4 else rand_tuple(rng, nd, 1, 3),
            "padding": rng.randint(0, kmin // 2),
            "ceil_mode": rng.random() < 0.3,
        }
        if is_max:
            params["dilation"] = rand_tuple(rng, nd, 1, 2)
        else:
            params["count_include_pad"] = rng.random() < 0.5
            if nd == 2:
                params["divisor_override"] = None if rng.random() < 0.7 else rng.randint(1, 9)
        return params, [image(rng, nd, s_hi=10)]

    return gen


_POOL_TEXT = {
    ("Max", 1): (
        "Keeps the largest value in each window along the sequence, shrinking its length by about "
        "stride. Use it after Conv1d to downsample signals while keeping the strongest responses. "
        "Large windows throw away where in the sequence a feature occurred."
    ),
    ("Max", 2): (
        "Keeps the largest value in each KxK window, e.g. halving height and width with kernel_size 2. "
        "Use it after convolutions to downsample and gain some translation tolerance. Stride defaults "
        "to kernel_size; when the size does not divide evenly the last row/column is dropped unless "
        "ceil_mode is on."
    ),
    ("Avg", 1): (
        "Averages each window along the sequence, smoothing and shortening it by about stride. Use it "
        "to downsample 1-D signals when every value should contribute. With padding, count_include_pad "
        "decides whether the padded zeros dilute the border averages."
    ),
    ("Avg", 2): (
        "Averages each KxK window, downsampling the feature map more smoothly than max pooling. LeNet-5 "
        "used it between its convolutions. With padding, count_include_pad decides whether the padded "
        "zeros pull the border averages down."
    ),
    ("Min", 2): (
        "Keeps the smallest value in each KxK window, computed as -maxpool(-x). Use it when dark or "
        "low responses are the signal, e.g. on inverted images. After a ReLU most windows already "
        "contain a zero, so it then mostly outputs zeros."
    ),
}

for (_kind, _nd), _text in _POOL_TEXT.items():
    _name = f"{_kind}Pool{_nd}d"
    _is_max = _kind != "Avg"
    _rule = _pool_shape(_name, _nd)
    register(
        LayerSpec(
            type=_name,
            category="Pooling",
            explanation=_text,
            inputs=X,
            outputs=Y,
            params=_pool_param_specs(_nd, _is_max),
            shape=_rule,
            macs=_pool_macs(_nd),
            module="dlstudio.nn.pooling.MinPool2d" if _kind == "Min" else f"torch.nn.{_name}",
            key_params=("kernel_size", "stride"),
            sample=sample_valid(_rule, _pool_gen(_nd, _is_max)),
        )
    )


# ------------------------------------------------------------------------------------------ adaptive pools
def _adaptive_shape(layer: str, nd: int) -> Callable[[dict, list], list[TensorInfo]]:
    def rule(params: dict, inputs: list) -> list[TensorInfo]:
        t = require(inputs, layer, port="x")
        expect_layout(t, layer, nd)
        expect_float(t, layer, port="x")
        return [t.with_shape((*t.shape[:2], *ntuple(params["output_size"], nd)))]

    return rule


def _input_macs(params: dict, inputs: list, outputs: list) -> int:
    """Every input element is read once (one add or compare each)."""
    return inputs[0].numel_per_sample()


def _adaptive_gen(nd: int) -> Sampler:
    def gen(rng: random.Random) -> tuple[dict, list[TensorInfo]]:
        return {"output_size": rand_tuple(rng, nd, 1, 6)}, [image(rng, nd, s_hi=10)]

    return gen


_ADAPTIVE_TEXT = {
    ("Avg", 1): (
        "Averages the sequence down to exactly output_size steps, whatever its length. Use it to feed "
        "variable-length signals into a fixed-size head. With output_size 1 it is a global average, "
        "which discards the order of the steps."
    ),
    ("Avg", 2): (
        "Averages each feature map down to exactly output_size (H, W), whatever the input size; e.g. "
        "output_size 1 gives one value per channel. Use it before the classifier so the network accepts "
        "any image size. If the input is smaller than output_size, values are repeated, not invented."
    ),
    ("Max", 2): (
        "Takes the maximum over adaptive windows so each feature map comes out exactly output_size "
        "(H, W). Use it before a fixed-size head when the strongest response matters more than the "
        "average. Windows overlap when the size does not divide evenly."
    ),
}

for (_kind, _nd), _text in _ADAPTIVE_TEXT.items():
    _name = f"Adaptive{_kind}Pool{_nd}d"
    _rule = _adaptive_shape(_name, _nd)
    register(
        LayerSpec(
            type=_name,
            category="Pooling",
            explanation=_text,
            inputs=X,
            outputs=Y,
            params=(
                ParamSpec(
                    "output_size",
                    "int_or_tuple",
                    1,
                    "Size of each output feature map"
                    + ("; ONNX export needs the input size to be a multiple of it" if _kind == "Max" else ""),
                    min=1,
                    length=_nd,
                ),
            ),
            shape=_rule,
            macs=_input_macs,
            module=f"torch.nn.{_name}",
            key_params=("output_size",),
            sample=_adaptive_gen(_nd),
        )
    )


# -------------------------------------------------------------------------------------------- global pools
def _global_shape(layer: str) -> Callable[[dict, list], list[TensorInfo]]:
    def rule(params: dict, inputs: list) -> list[TensorInfo]:
        t = require(inputs, layer, port="x")
        if t.rank - 2 not in LAYOUTS:
            raise ShapeError(
                f"{layer} expects (C, L), (C, H, W) or (C, D, H, W) per sample but receives "
                f"{tuple(t.features)}: it pools the spatial dims, so the input needs channels plus at "
                f"least one spatial dim; insert Unflatten or Reshape",
                port="x",
                expected="(C, H, W)",
                got=str(tuple(t.features)),
            )
        expect_float(t, layer, port="x")
        return [t.with_shape(t.shape[:2])]

    return rule


def _global_emit(method: str) -> Callable[[Any, list], list[Any]]:
    """x.mean(dim=(2, 3)) / x.amax(dim=(2, 3)): what a hand-written model does for global pooling."""

    def emit(ctx: Any, args: list) -> list[Any]:
        dims = tuple(range(2, ctx.inputs[0].rank))
        return [ctx.call_method(method, (args[0],), {"dim": dims})]

    return emit


def _global_gen(rng: random.Random) -> tuple[dict, list[TensorInfo]]:
    return {}, [image(rng, rng.choice([1, 2, 2, 3]), s_hi=8)]


for _name, _method, _text in (
    (
        "GlobalAvgPool",
        "mean",
        "Averages each channel over all spatial positions, turning (C, H, W) into (C,): adaptive average pooling "
        "to size 1 plus Flatten. Use it instead of Flatten before the classifier head (ResNet, MobileNet) to cut "
        "parameters and accept any input size. It discards where a feature occurred, which is usually fine for "
        "classification.",
    ),
    (
        "GlobalMaxPool",
        "amax",
        "Keeps each channel's largest value over all spatial positions, turning (C, H, W) into (C,). Use it when "
        "the presence of a feature anywhere matters, e.g. detecting a motif in a sequence. Only one position per "
        "channel gets a gradient, so it can learn more slowly than GlobalAvgPool.",
    ),
):
    register(
        LayerSpec(
            type=_name,
            category="Pooling",
            explanation=_text,
            inputs=X,
            outputs=Y,
            params=(),
            shape=_global_shape(_name),
            macs=_input_macs,
            emit=_global_emit(_method),
            sample=_global_gen,
        )
    )
