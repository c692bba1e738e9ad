"""Dense, convolution and pooling specs: exact shapes and parameter counts against torch, the diagnostics for
bad inputs (message, port, param), and the compiled code of the method-call layers."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from torch import nn

import dlstudio as dls
from dlstudio.analysis.shapes import infer_all
from dlstudio.core.errors import ShapeError
from dlstudio.core.tensor import batched
from dlstudio.layers import all_specs, get_spec

DENSE = [
    "Linear",
    "Bilinear",
    "Identity",
    "Flatten",
    "Unflatten",
    "Reshape",
    "Permute",
    "Squeeze",
    "Unsqueeze",
    "Select",
]
CONV = [
    "Conv1d",
    "Conv2d",
    "Conv3d",
    "DepthwiseSeparableConv2d",
    "ConvTranspose1d",
    "ConvTranspose2d",
    "Upsample",
    "PixelShuffle",
    "ZeroPad2d",
    "ReflectionPad2d",
]
POOL = [
    "MaxPool1d",
    "MaxPool2d",
    "AvgPool1d",
    "AvgPool2d",
    "MinPool2d",
    "AdaptiveAvgPool1d",
    "AdaptiveAvgPool2d",
    "AdaptiveMaxPool2d",
    "GlobalAvgPool",
    "GlobalMaxPool",
]


def shape_of(type_name: str, features: tuple[int, ...], dtype: str = "float32", **params) -> tuple:
    """Per-sample output shape from the pure-Python rule."""
    spec = get_spec(type_name)
    (out,) = spec.shape(spec.resolve_params(params), [batched(features, dtype)])
    return tuple(out.features)


def shape_error(type_name: str, features: tuple[int, ...], dtype: str = "float32", **params) -> ShapeError:
    spec = get_spec(type_name)
    with pytest.raises(ShapeError) as info:
        spec.shape(spec.resolve_params(params), [batched(features, dtype)])
    return info.value


def counts(type_name: str, features: tuple[int, ...], **params) -> tuple[int, int]:
    spec = get_spec(type_name)
    resolved = spec.resolve_params(params)
    inputs = [batched(features)]
    outs = spec.shape(resolved, inputs)
    return spec.param_count(resolved, inputs), spec.macs(resolved, inputs, outs)


# ------------------------------------------------------------------------------------------------ catalog
def test_every_type_is_registered_with_category_and_key_params() -> None:
    by_type = {s.type: s for s in all_specs()}
    for names, category in ((DENSE, "Dense"), (CONV, "Convolution"), (POOL, "Pooling")):
        for name in names:
            spec = by_type[name]
            assert spec.category == category, name
            assert spec.sample is not None and (spec.module or spec.emit), name
    for name in ("Conv2d", "ConvTranspose2d", "MaxPool2d", "Upsample", "Reshape", "Select"):
        assert by_type[name].key_params, name


def test_inferred_sizes_are_not_parameters() -> None:
    inferred = {"in_features", "in1_features", "in2_features", "in_channels", "num_features"}
    for name in DENSE + CONV + POOL:
        assert not inferred & {p.name for p in get_spec(name).params}, name


def test_rarely_changed_params_are_advanced() -> None:
    conv = get_spec("Conv2d")
    assert {p.name for p in conv.params if p.advanced} == {"dilation", "groups", "bias", "padding_mode"}
    assert get_spec("MaxPool2d").param("ceil_mode").advanced
    assert not get_spec("MaxPool2d").param("kernel_size").advanced


# ------------------------------------------------------------------------------------- LeNet-5, end to end
def test_lenet5_shapes_params_and_macs_match_torch() -> None:
    g = dls.Graph()
    x = g.input("image", shape=(1, 28, 28))
    c1 = g.add("Conv2d", x, out_channels=6, kernel_size=5, padding=2, label="c1")
    s2 = g.add("AvgPool2d", g.add("ReLU", c1), kernel_size=2, label="s2")
    c3 = g.add("Conv2d", s2, out_channels=16, kernel_size=5, label="c3")
    s4 = g.add("MaxPool2d", c3, kernel_size=2, label="s4")
    f = g.add("Flatten", s4, label="flat")
    g.output("logits", g.add("Linear", f, out_features=10, label="head"))
    shapes = infer_all(g)
    assert not shapes.errors
    out = {g.node(nid).label: tuple(o[0].features) for nid, o in shapes.outputs.items() if o}
    assert out["c1"] == (6, 28, 28)
    assert out["s2"] == (6, 14, 14)
    assert out["c3"] == (16, 10, 10)
    assert out["s4"] == (16, 5, 5)
    assert out["flat"] == (400,)
    c1_id = g.find("c1").id
    spec = get_spec("Conv2d")
    params, inputs = shapes.params[c1_id], shapes.inputs[c1_id]
    assert spec.param_count(params, inputs) == 156  # 6 x 1 x 5 x 5 weights + 6 biases
    assert spec.macs(params, inputs, shapes.outputs[c1_id]) == 6 * 28 * 28 * 25
    model = dls.compile(g)
    assert sum(p.numel() for p in model.c1.parameters()) == 156
    assert sum(p.numel() for p in model.c3.parameters()) == 16 * 6 * 25 + 16
    assert tuple(model(torch.randn(2, 1, 28, 28)).shape) == (2, 10)


# ------------------------------------------------------------------------------------- exact shapes/counts
@pytest.mark.parametrize(
    "type_name, features, params, expected",
    [
        ("Conv2d", (3, 32, 32), {"out_channels": 8, "kernel_size": 3, "padding": "same"}, (8, 32, 32)),
        ("Conv2d", (3, 32, 32), {"out_channels": 8, "kernel_size": 3, "stride": 2}, (8, 15, 15)),
        ("Conv2d", (3, 9, 9), {"out_channels": 4, "kernel_size": (3, 1), "dilation": 2}, (4, 5, 9)),
        ("Conv1d", (4, 100), {"out_channels": 2, "kernel_size": 7, "padding": "valid"}, (2, 94)),
        ("Conv3d", (2, 8, 8, 8), {"out_channels": 4, "kernel_size": 3, "padding": 1, "stride": 2}, (4, 4, 4, 4)),
        ("ConvTranspose2d", (16, 7, 7), {"out_channels": 8, "kernel_size": 4, "stride": 2, "padding": 1}, (8, 14, 14)),
        (
            "ConvTranspose2d",
            (4, 7, 7),
            {"out_channels": 1, "kernel_size": 3, "stride": 2, "padding": 1, "output_padding": 1},
            (1, 14, 14),
        ),
        ("ConvTranspose1d", (4, 10), {"out_channels": 2, "kernel_size": 2, "stride": 2}, (2, 20)),
        ("DepthwiseSeparableConv2d", (8, 16, 16), {"out_channels": 32, "kernel_size": 3, "padding": 1}, (32, 16, 16)),
        ("Upsample", (3, 5, 7), {"scale_factor": 2.0}, (3, 10, 14)),
        ("Upsample", (3, 5, 7), {"size": (9, 4), "mode": "bilinear"}, (3, 9, 4)),
        ("Upsample", (3, 5), {"scale_factor": 1.5, "mode": "linear"}, (3, 7)),
        ("PixelShuffle", (12, 4, 5), {"upscale_factor": 2}, (3, 8, 10)),
        ("ZeroPad2d", (3, 4, 4), {"padding": (1, 2, 0, 3)}, (3, 7, 7)),
        ("ReflectionPad2d", (3, 4, 4), {"padding": 3}, (3, 10, 10)),
        ("MaxPool2d", (6, 28, 28), {}, (6, 14, 14)),
        ("MaxPool2d", (6, 5, 5), {"kernel_size": 2}, (6, 2, 2)),
        ("MaxPool2d", (6, 5, 5), {"kernel_size": 2, "ceil_mode": True}, (6, 3, 3)),
        ("AvgPool2d", (6, 8, 8), {"kernel_size": 3, "stride": 1, "padding": 1}, (6, 8, 8)),
        ("AvgPool1d", (2, 9), {"kernel_size": 3}, (2, 3)),
        ("MinPool2d", (1, 6, 6), {"kernel_size": 3}, (1, 2, 2)),
        ("AdaptiveAvgPool2d", (512, 7, 7), {"output_size": 1}, (512, 1, 1)),
        ("AdaptiveMaxPool2d", (3, 5, 5), {"output_size": (2, 3)}, (3, 2, 3)),
        ("AdaptiveAvgPool1d", (3, 11), {"output_size": 4}, (3, 4)),
        ("GlobalAvgPool", (64, 7, 7), {}, (64,)),
        ("GlobalMaxPool", (32, 50), {}, (32,)),
        ("Reshape", (64,), {"shape": (4, -1)}, (4, 16)),
        ("Unflatten", (784,), {"unflattened_size": (1, 28, 28)}, (1, 28, 28)),
        ("Permute", (3, 5, 7), {"dims": (3, 1, 2)}, (7, 3, 5)),
        ("Squeeze", (1, 10, 1), {}, (10,)),
        ("Squeeze", (1, 10, 1), {"dim": -1}, (1, 10)),
        ("Unsqueeze", (28, 28), {"dim": 1}, (1, 28, 28)),
        ("Unsqueeze", (28, 28), {"dim": -1}, (28, 28, 1)),
        ("Select", (20, 32), {}, (32,)),
        ("Select", (20, 32), {"dim": 2, "index": 0}, (20,)),
    ],
)
def test_exact_shapes(type_name: str, features: tuple, params: dict, expected: tuple) -> None:
    assert shape_of(type_name, features, **params) == expected


def test_param_counts_and_macs() -> None:
    # conv MACs = output elements x (in_channels / groups) x kernel volume
    assert counts("Conv2d", (8, 10, 10), out_channels=16, kernel_size=3, padding=1, groups=4) == (
        16 * 2 * 9 + 16,
        16 * 10 * 10 * 2 * 9,
    )
    assert counts("Conv1d", (4, 20), out_channels=2, kernel_size=5, bias=False) == (40, 2 * 16 * 4 * 5)
    # depthwise 8x3x3 (+8) and pointwise 8x32 (+32) vs 32x8x3x3 (+32) for a full Conv2d
    ds = counts("DepthwiseSeparableConv2d", (8, 16, 16), out_channels=32, padding=1)
    full = counts("Conv2d", (8, 16, 16), out_channels=32, padding=1)
    assert ds == (8 * 9 + 8 + 8 * 32 + 32, 256 * 8 * 9 + 256 * 8 * 32)
    assert full[0] == 32 * 8 * 9 + 32 and ds[1] < full[1] / 4
    torch_ds = sum(p.numel() for p in nn.Sequential(nn.Conv2d(8, 8, 3, groups=8), nn.Conv2d(8, 32, 1)).parameters())
    assert ds[0] == torch_ds
    assert counts("ConvTranspose2d", (16, 7, 7), out_channels=8, kernel_size=4, stride=2, padding=1) == (
        16 * 8 * 16 + 8,
        16 * 7 * 7 * 8 * 16,
    )
    spec = get_spec("Bilinear")
    p = spec.resolve_params({"out_features": 3})
    bilinear = nn.Bilinear(5, 4, 3)
    assert spec.param_count(p, [batched((5,)), batched((4,))]) == sum(q.numel() for q in bilinear.parameters())
    assert counts("MaxPool2d", (6, 28, 28)) == (0, 6 * 14 * 14 * 4)
    g = dls.Graph()
    g.output("y", g.add("AvgPool2d", g.input("x", shape=(1, 4, 4)), kernel_size=2, divisor_override=1))
    x = torch.arange(16.0).reshape(1, 1, 4, 4)
    torch.testing.assert_close(dls.compile(g)(x), F.avg_pool2d(x, 2) * 4)  # window sums
    assert counts("GlobalAvgPool", (64, 7, 7)) == (0, 64 * 49)


# -------------------------------------------------------------------------------------- error messages
def test_wrong_rank_names_the_layout_and_the_fix() -> None:
    err = shape_error("Conv2d", (784,))
    assert str(err).startswith("Conv2d expects (C, H, W) per sample but receives (784,): insert Unflatten or Reshape")
    assert err.port == "x" and err.expected == "(C, H, W)" and err.got == "(784,)"
    err = shape_error("Conv2d", (3, 100))
    assert "use Conv1d" in str(err)
    err = shape_error("MaxPool1d", (3, 8, 8))
    assert "expects (C, L)" in str(err) and "use MaxPool2d" in str(err)
    assert "(C, D, H, W)" in str(shape_error("Conv3d", (3, 8, 8)))
    assert "(C, H, W)" in str(shape_error("PixelShuffle", (12,)))
    assert "GlobalAvgPool expects" in str(shape_error("GlobalAvgPool", (10,)))


def test_kernel_larger_than_padded_input() -> None:
    err = shape_error("Conv2d", (1, 3, 3), out_channels=4, kernel_size=5)
    assert "kernel_size 5 is larger than the 3x3 input plus padding: reduce kernel_size or add padding" in str(err)
    assert err.param == "kernel_size"
    assert shape_of("Conv2d", (1, 3, 3), out_channels=4, kernel_size=5, padding=1) == (4, 1, 1)
    err = shape_error("Conv1d", (1, 5), kernel_size=3, dilation=3)
    assert "dilation 3 (spanning 7)" in str(err) and err.param == "kernel_size"
    err = shape_error("MaxPool2d", (3, 2, 2), kernel_size=3)
    assert err.param == "kernel_size" and "larger than the 2x2 input" in str(err)


def test_groups_must_divide_channels() -> None:
    err = shape_error("Conv2d", (6, 8, 8), out_channels=8, groups=4)
    assert err.param == "groups" and "in_channels 6 is not divisible by groups=4" in str(err)
    err = shape_error("Conv2d", (8, 8, 8), out_channels=6, groups=4)
    assert err.param == "out_channels"
    assert shape_of("Conv2d", (8, 8, 8), out_channels=16, groups=8, padding=1) == (16, 8, 8)  # depthwise


def test_integer_input_into_float_layer() -> None:
    for name, feats in (
        ("Conv2d", (1, 8, 8)),
        ("MaxPool2d", (1, 8, 8)),
        ("GlobalAvgPool", (2, 4)),
        ("Upsample", (1, 4, 4)),
    ):
        err = shape_error(name, feats, "int64")
        assert err.port == "x" and err.expected == "float32" and "Embedding" in str(err), name
    err = shape_error("Linear", (4,), "int64", out_features=2)
    assert err.port == "x" and err.got == "int64"
    assert shape_error("Linear", (), out_features=2).port == "x"
    # layers that only move values accept integer token ids
    assert shape_of("Reshape", (12,), "int64", shape=(3, 4)) == (3, 4)
    assert shape_of("Select", (5, 3), "int64") == (3,)


def test_parameter_misfits() -> None:
    err = shape_error("Conv2d", (3, 8, 8), padding="same", stride=2)
    assert err.param == "padding" and "stride" in str(err)
    err = shape_error("Conv2d", (3, 4, 4), padding=4, padding_mode="reflect")
    assert err.param == "padding" and "reflect" in str(err)
    err = shape_error("MaxPool2d", (3, 8, 8), kernel_size=3, padding=2)
    assert err.param == "padding" and "half of kernel_size" in str(err)
    err = shape_error("ConvTranspose2d", (3, 4, 4), stride=2, output_padding=2)
    assert err.param == "output_padding" and "smaller than stride 2" in str(err)
    # torch would take output_padding < dilation too, but ONNX runtimes do not: the rule keeps graphs portable
    assert shape_error("ConvTranspose2d", (3, 4, 4), stride=1, dilation=2, output_padding=1).param == "output_padding"
    err = shape_error("PixelShuffle", (6, 4, 4), upscale_factor=2)
    assert err.param == "upscale_factor" and "divisible by 4" in str(err)
    err = shape_error("Upsample", (3, 8), mode="bilinear")
    assert err.param == "mode" and "'linear'" in str(err)
    err = shape_error("Upsample", (3, 8, 8), align_corners=True)
    assert err.param == "align_corners"
    err = shape_error("ReflectionPad2d", (3, 4, 4), padding=4)
    assert err.param == "padding"


def test_dense_shape_errors() -> None:
    err = shape_error("Reshape", (64,), shape=(7, 7))
    assert str(err).startswith("Reshape to (7, 7) needs 49 values per sample but receives 64: ")
    assert err.param == "shape" and err.expected == 64 and err.got == 49
    assert "more than one -1" in str(shape_error("Reshape", (64,), shape=(-1, -1)))
    assert shape_error("Reshape", (64,), shape=(5, -1)).param == "shape"
    err = shape_error("Unflatten", (64,), unflattened_size=(1, 28, 28))
    assert err.param == "unflattened_size" and "784" in str(err) and "64" in str(err)
    err = shape_error("Unsqueeze", (4,), dim=0)
    assert err.param == "dim" and "batch" in str(err)
    assert shape_error("Unsqueeze", (4,), dim=-3).param == "dim"  # -3 on (N, 4) lands on the batch
    err = shape_error("Squeeze", (3, 4), dim=1)
    assert err.param == "dim" and "size 3, not 1" in str(err)
    assert shape_error("Squeeze", (3, 4)).port == "x"
    err = shape_error("Select", (5, 3), index=5)
    assert err.param == "index" and "0..4" in str(err)
    assert shape_error("Select", (5, 3), dim=0).param == "dim"
    err = shape_error("Permute", (3, 4, 5), dims=(2, 1))
    assert err.param == "dims" and "all 3" in str(err)
    assert shape_error("Permute", (3, 4), dims=(1, 1)).param == "dims"
    assert shape_error("Flatten", (3, 4), start_dim=0).param == "start_dim"
    spec = get_spec("Bilinear")
    with pytest.raises(ShapeError) as info:
        spec.shape(spec.defaults(), [batched((2, 5)), batched((3, 4))])
    assert info.value.port == "x2"


def test_errors_reach_the_graph_diagnostics() -> None:
    g = dls.Graph()
    x = g.input("flat", shape=(784,))
    conv = g.add("Conv2d", x, out_channels=6, kernel_size=5)
    g.output("y", conv)
    shapes = infer_all(g)
    err = shapes.errors[conv.node_id]
    assert isinstance(err, ShapeError) and err.port == "x" and "insert Unflatten" in str(err)


# --------------------------------------------------------------------------- compiled code and numerics
def test_method_layers_compile_to_plain_tensor_calls() -> None:
    g = dls.Graph()
    x = g.input("seq", shape=(64,))
    h = g.add("Reshape", x, shape=(4, -1))  # (4, 16)
    h = g.add("Permute", h, dims=(2, 1))  # (16, 4)
    h = g.add("Unsqueeze", h, dim=1)  # (1, 16, 4)
    h = g.add("Squeeze", h, dim=1)  # (16, 4)
    last = g.add("Select", h)  # (4,)
    img = g.add("Unflatten", x, unflattened_size=(4, 4, 4))
    g.output("last", last)
    g.output("gap", g.add("GlobalAvgPool", img))
    g.output("gmp", g.add("GlobalMaxPool", img))
    model = dls.compile(g)
    code = model.code
    for snippet in (
        "seq.reshape(-1, 4, 16)",
        ".permute(0, 2, 1)",
        ".unsqueeze(1)",
        ".squeeze(1)",
        ".select(1, -1)",
        ".mean(dim = (2, 3))",
        ".amax(dim = (2, 3))",
    ):
        assert snippet in code, snippet
    assert {n for n, _ in model.named_children()} == {"unflatten"}
    seq = torch.randn(3, 64)
    got_last, gap, gmp = model(seq)
    torch.testing.assert_close(got_last, seq.reshape(3, 4, 16).permute(0, 2, 1)[:, -1])
    grid = seq.reshape(3, 4, 4, 4)
    torch.testing.assert_close(gap, torch.flatten(nn.AdaptiveAvgPool2d(1)(grid), 1))
    torch.testing.assert_close(gmp, torch.flatten(nn.AdaptiveMaxPool2d(1)(grid), 1))


def test_custom_modules_compute_what_they_claim() -> None:
    from dlstudio.nn.conv import DepthwiseSeparableConv2d
    from dlstudio.nn.pooling import MinPool2d

    x = torch.randn(2, 3, 7, 7)
    torch.testing.assert_close(MinPool2d(3, stride=2, padding=1)(x), -F.max_pool2d(-x, 3, 2, 1))
    ref = x.unfold(2, 2, 2).unfold(3, 2, 2).amin(dim=(-1, -2))
    torch.testing.assert_close(MinPool2d(2)(x), ref)
    ds = DepthwiseSeparableConv2d(3, 5, 3, padding=1)
    expected = F.conv2d(
        F.conv2d(x, ds.depthwise.weight, ds.depthwise.bias, padding=1, groups=3), ds.pointwise.weight, ds.pointwise.bias
    )
    torch.testing.assert_close(ds(x), expected)
    assert ds.depthwise.weight.shape == (3, 1, 3, 3)


def test_upsample_size_overrides_scale_and_modes_compile() -> None:
    g = dls.Graph()
    x = g.input("img", shape=(2, 5, 5))
    up = g.add("Upsample", x, size=(8, 9), mode="bilinear", align_corners=True)
    g.output("y", up)
    model = dls.compile(g)
    assert tuple(model(torch.randn(1, 2, 5, 5)).shape) == (1, 2, 8, 9)
    assert model.upsample.align_corners is True and model.upsample.scale_factor is None


def test_emitted_and_custom_layers_export(tmp_path) -> None:
    """Method-call emits and dlstudio.nn modules survive ONNX export (checked in onnxruntime) and standalone
    Python export (numerically compared by the exporters themselves)."""
    from dlstudio.export.onnx import export_onnx
    from dlstudio.export.python_code import export_python

    g = dls.Graph()
    x = g.input("flat", shape=(48,))
    img = g.add("Reshape", x, shape=(3, 4, -1))
    h = g.add("DepthwiseSeparableConv2d", img, out_channels=4, kernel_size=3, padding="same")
    h = g.add("MinPool2d", h, kernel_size=2)
    h = g.add("Upsample", h, scale_factor=2.0)
    g.output("gap", g.add("GlobalAvgPool", h))
    seq = g.add("Permute", g.add("Unflatten", x, unflattened_size=(6, 8)), dims=(2, 1))
    g.output("last", g.add("Select", g.add("Conv1d", seq, out_channels=2, kernel_size=3)))
    onnx_report = export_onnx(g, tmp_path / "m.onnx")
    py_report = export_python(g, tmp_path / "m.py")
    assert max(onnx_report.max_abs_diff.values()) < 1e-4
    assert max(py_report.max_abs_diff.values()) <= 1e-6
