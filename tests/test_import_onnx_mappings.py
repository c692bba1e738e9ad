"""First-class ONNX mappings: common patterns become catalog layers (not generic op nodes) and the compiled import
matches onnxruntime. Fixtures are built here with onnx.helper or exported from small torch models."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
import pytest
import torch
from conftest import legacy_onnx_bytes
from onnx import TensorProto, helper, numpy_helper
from torch import nn

from dlstudio.importers.onnx import convert, import_onnx

GENERIC = ("OnnxOp", "AtenOp")


def _model(nodes, inputs, outputs, inits=(), opset=17) -> onnx.ModelProto:
    g = helper.make_graph(nodes, "g", inputs, outputs, list(inits))
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", opset)])
    m.ir_version = min(m.ir_version, 8)
    return m


def _vi(name: str, shape) -> onnx.ValueInfoProto:
    if shape is None:  # an output whose shape onnx infers
        return helper.make_empty_tensor_value_info(name)
    return helper.make_tensor_value_info(name, TensorProto.FLOAT, shape)


def _init(name: str, a) -> onnx.TensorProto:
    return numpy_helper.from_array(np.asarray(a, dtype=np.float32), name)


def _exported(module: nn.Module, shape: tuple[int, ...], opset: int) -> onnx.ModelProto:
    return onnx.load_from_string(legacy_onnx_bytes(module, shape, opset))


def _check(model: onnx.ModelProto, expect: dict[str, int], seed: int = 0) -> Counter:
    """Import, check the catalog node counts (at least `expect`, no generic op), compare with onnxruntime."""
    result = convert(model)
    types = Counter(n.type for n in result.graph.nodes.values())
    assert not any(t in types for t in GENERIC), f"generic op nodes in {dict(types)}"
    for t, n in expect.items():
        assert types[t] >= n, f"expected {n} x {t}, got {dict(types)}"
    rng = np.random.default_rng(seed)
    feeds = {}
    args = []
    for vi in model.graph.input:
        if vi.name in {i.name for i in model.graph.initializer}:
            continue
        dims = [d.dim_value if d.HasField("dim_value") else 2 for d in vi.type.tensor_type.shape.dim]
        a = rng.standard_normal([2, *dims[1:]]).astype(np.float32)
        feeds[vi.name] = a
        args.append(torch.from_numpy(a))
    sess = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    want = sess.run(None, feeds)
    with torch.no_grad():
        got = result.compile()(*args)
    got = list(got) if isinstance(got, (tuple, list)) else [got]
    assert len(got) == len(want)
    for g, w in zip(got, want):
        assert tuple(g.shape) == w.shape
        np.testing.assert_allclose(g.numpy(), w, rtol=0, atol=1e-5)
    return types


# ------------------------------------------------------------------------------------- asymmetric pads
def _pool_model(op: str, pads: list[int], opset: int = 11, relu: bool = False, **attrs) -> onnx.ModelProto:
    nodes = [helper.make_node("Conv", ["x", "w"], ["c"], kernel_shape=[3, 3], pads=[1, 1, 1, 1])]
    src = "c"
    if relu:
        nodes.append(helper.make_node("Relu", ["c"], ["r"]))
        src = "r"
    nodes.append(helper.make_node(op, [src], ["y"], kernel_shape=[3, 3], strides=[2, 2], pads=pads, **attrs))
    w = np.random.default_rng(1).standard_normal((4, 3, 3, 3))
    return _model(nodes, [_vi("x", ["N", 3, 13, 13])], [_vi("y", None)], [_init("w", w)], opset)


@pytest.mark.parametrize("opset", [7, 9, 11, 17])
@pytest.mark.parametrize("op", ["MaxPool", "AveragePool"])
def test_pool_with_end_padding_becomes_a_ceil_mode_pool(op: str, opset: int) -> None:
    """AlexNet/GoogLeNet (caffe-converted) pools pad [0, 0, 1, 1]: torch's ceil_mode gives the same windows."""
    types = _check(_pool_model(op, [0, 0, 1, 1], opset), {"MaxPool2d" if op == "MaxPool" else "AvgPool2d": 1})
    assert "ZeroPad2d" not in types


def test_average_pool_counting_the_padding_gets_a_pad_layer() -> None:
    m = _pool_model("AveragePool", [1, 0, 2, 1], count_include_pad=1)
    _check(m, {"ZeroPad2d": 1, "AvgPool2d": 1})


def test_max_pool_same_lower_after_relu_gets_a_pad_layer() -> None:
    m = _pool_model("MaxPool", [1, 1, 0, 0], relu=True)
    _check(m, {"ZeroPad2d": 1, "MaxPool2d": 1})


def test_auto_pad_same_upper_pools() -> None:
    nodes = [
        helper.make_node(op, ["x"], [f"y{i}"], kernel_shape=[3, 3], strides=[2, 2], auto_pad="SAME_UPPER")
        for i, op in enumerate(["MaxPool", "AveragePool"])
    ]
    m = _model(nodes, [_vi("x", ["N", 2, 8, 9])], [_vi("y0", None), _vi("y1", None)])
    _check(m, {"MaxPool2d": 1, "AvgPool2d": 1})


@pytest.mark.parametrize("opset", [7, 11, 17])
def test_max_pool_with_begin_padding_of_signed_values_pads_with_the_lowest_float(opset: int) -> None:
    """Zero padding would change a max over negative values: a ConstantPad2d fills with the lowest float32."""
    types = _check(_pool_model("MaxPool", [1, 1, 0, 0], opset), {"ConstantPad2d": 1, "MaxPool2d": 1})
    assert "ZeroPad2d" not in types
    pad = next(
        n
        for n in convert(_pool_model("MaxPool", [1, 1, 0, 0], opset)).graph.nodes.values()
        if n.type == "ConstantPad2d"
    )
    assert pad.params["value"] == float(np.finfo(np.float32).min)
    assert tuple(pad.params["padding"]) == (1, 0, 1, 0)


class _AlexNetStyle(nn.Module):
    """Strided conv, overlapping ceil-mode pools, dropout and a classifier, as in AlexNet/CaffeNet (torch's
    exporter writes LocalResponseNorm as a decomposition, not ONNX's LRN, so it is left out)."""

    def __init__(self) -> None:
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(3, 8, 5, stride=2, padding=2),
            nn.ReLU(),
            nn.MaxPool2d(3, 2, ceil_mode=True),
            nn.Conv2d(8, 8, 3, padding=1),
            nn.ReLU(),
            nn.AvgPool2d(3, 2, padding=1),
        )
        self.classifier = nn.Sequential(nn.Dropout(), nn.Linear(8 * 3 * 3, 10))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(torch.flatten(self.features(x), 1))


@pytest.mark.parametrize("opset", [7, 9, 11, 13, 17])
def test_alexnet_style_export(opset: int) -> None:
    torch.manual_seed(0)
    _check(_exported(_AlexNetStyle(), (3, 21, 21), opset), {"Conv2d": 2, "MaxPool2d": 1, "AvgPool2d": 1, "Linear": 1})


# ---------------------------------------------------------------------------------- arithmetic constants
class _FoldedNorm(nn.Module):
    """DenseNet/Inception-v2 style: conv, then a batch norm folded to a per-channel scale and shift."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, 4, 3)
        self.register_buffer("scale", torch.rand(1, 4, 1, 1) + 0.5)
        self.register_buffer("shift", torch.randn(1, 4, 1, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = torch.relu(self.conv(x) * self.scale + self.shift)
        return 1.0 - (y / 2.0) ** 2.0


@pytest.mark.parametrize("opset", [7, 9, 11, 13, 17])
def test_folded_batch_norm_scale_and_shift_become_arithmetic_layers(opset: int) -> None:
    torch.manual_seed(0)
    types = _check(_exported(_FoldedNorm(), (3, 8, 8), opset), {"Arithmetic": 4, "Conv2d": 1})
    assert "Multiply" not in types and "Add" not in types


@pytest.mark.parametrize(
    ("op", "const", "left"),
    [
        ("Mul", np.full((3, 1, 1), 0.5), False),
        ("Add", np.arange(5), True),
        ("Sub", np.arange(15).reshape(3, 1, 5), True),
        ("Sub", np.float32(2.0), False),
        ("Div", np.arange(1, 6), False),
        ("Div", np.float32(3.0), True),
        ("Pow", np.float32(3.0), False),
        ("Mul", np.ones((1, 3, 4, 5)) * 2, False),
    ],
)
def test_binary_op_with_a_constant(op: str, const, left: bool) -> None:
    ins = ["k", "x"] if left else ["x", "k"]
    m = _model([helper.make_node(op, ins, ["y"])], [_vi("x", ["N", 3, 4, 5])], [_vi("y", None)], [_init("k", const)])
    _check(m, {"Arithmetic": 1})


def test_unary_arithmetic_ops() -> None:
    nodes = [
        helper.make_node("Sigmoid", ["x"], ["s"]),
        helper.make_node("Sqrt", ["s"], ["a"]),
        helper.make_node("Neg", ["a"], ["b"]),
        helper.make_node("Reciprocal", ["s"], ["c"]),
        helper.make_node("Sub", ["b", "c"], ["y"]),
    ]
    m = _model(nodes, [_vi("x", ["N", 6])], [_vi("y", None)])
    _check(m, {"Arithmetic": 3})


def test_arithmetic_layer_trains_and_keeps_fixed_tensors_fixed() -> None:
    m = _model(
        [helper.make_node("Mul", ["x", "k"], ["a"]), helper.make_node("Pow", ["a", "e"], ["y"])],
        [_vi("x", ["N", 3])],
        [_vi("y", None)],
        [_init("k", [1.0, 2.0, 3.0]), _init("e", 2.0)],
    )
    model = convert(m).compile()
    trainable = {n for n, p in model.named_parameters() if p.requires_grad}
    assert len(trainable) == 1  # the scale learns; the exponent is a buffer
    assert len(dict(model.named_buffers())) >= 1


# ------------------------------------------------------------------------------------- softmax < opset 13
@pytest.mark.parametrize("opset", [9, 11, 13])
@pytest.mark.parametrize("op", ["Softmax", "LogSoftmax"])
def test_softmax_over_a_rank_4_tensor(op: str, opset: int) -> None:
    """Before opset 13, axis=1 normalises over the flattened C*H*W; from 13 over C alone."""
    m = _model([helper.make_node(op, ["x"], ["y"], axis=1)], [_vi("x", ["N", 3, 4, 5])], [_vi("y", None)], opset=opset)
    types = _check(m, {op: 1})
    assert ("Flatten" in types) == (opset < 13)


class _SqueezeHead(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, 5, 1)
        self.pool = nn.MaxPool2d(3, 2, ceil_mode=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.softmax(self.pool(torch.relu(self.conv(x))), dim=1)


@pytest.mark.parametrize("opset", [7, 9, 11, 13, 17])
def test_squeezenet_style_softmax_exported_by_torch(opset: int) -> None:
    torch.manual_seed(0)
    _check(_exported(_SqueezeHead(), (3, 9, 9), opset), {"Softmax": 1, "Conv2d": 1})


def test_softmax_over_trailing_ones_needs_no_flatten() -> None:
    m = _model(
        [helper.make_node("Softmax", ["x"], ["y"], axis=1)], [_vi("x", ["N", 7, 1, 1])], [_vi("y", None)], opset=11
    )
    types = _check(m, {"Softmax": 1})
    assert "Flatten" not in types


def test_imported_arithmetic_saves_and_exports(tmp_path) -> None:
    """The new layer goes through the project file, the Python exporter and the ONNX exporter."""
    import dlstudio as dls
    from dlstudio.io.project import Project

    torch.manual_seed(0)
    result = convert(_exported(_FoldedNorm(), (3, 8, 8), 13))
    path = dls.save_import(result, tmp_path / "folded.dlstudio")
    project = Project.load(path)
    assert any(n.type == "Arithmetic" for n in project.graph.nodes.values())
    py = dls.export_python(project, tmp_path / "model.py")
    onnx_report = dls.export_onnx(project, tmp_path / "model.onnx")
    assert py is not None and onnx_report is not None
    x = np.random.default_rng(0).standard_normal((2, 3, 8, 8)).astype(np.float32)
    sess = ort.InferenceSession(str(tmp_path / "model.onnx"), providers=["CPUExecutionProvider"])
    with torch.no_grad():
        want = result.compile()(torch.from_numpy(x)).numpy()
    np.testing.assert_allclose(sess.run(None, {sess.get_inputs()[0].name: x})[0], want, rtol=0, atol=1e-5)


# ---------------------------------------------------------------------------------------------- QDQ models
def _qdq_model(with_activation_qdq: bool) -> onnx.ModelProto:
    """Conv -> Relu -> Flatten -> Gemm with int8 weights behind DequantizeLinear (opset 19, per-channel conv
    weights) and, optionally, uint8 QuantizeLinear/DequantizeLinear pairs on the activations."""
    rng = np.random.default_rng(3)
    wq = rng.integers(-127, 128, (4, 3, 3, 3)).astype(np.int8)
    gq = rng.integers(-127, 128, (5, 4 * 36)).astype(np.int8)
    inits = [
        numpy_helper.from_array(wq, "wq"),
        _init("ws", rng.uniform(0.001, 0.01, 4)),
        numpy_helper.from_array(np.zeros(4, np.int8), "wz"),
        numpy_helper.from_array(gq, "gq"),
        _init("gs", 0.002),
        numpy_helper.from_array(np.int8(0), "gz"),
        _init("as", 0.05),
        numpy_helper.from_array(np.uint8(128), "az"),
    ]
    nodes = [
        helper.make_node("DequantizeLinear", ["wq", "ws", "wz"], ["w"], axis=0),
        helper.make_node("DequantizeLinear", ["gq", "gs", "gz"], ["g"]),
    ]

    def qdq(src: str) -> str:
        if not with_activation_qdq:
            return src
        nodes.append(helper.make_node("QuantizeLinear", [src, "as", "az"], [f"{src}_q"]))
        nodes.append(helper.make_node("DequantizeLinear", [f"{src}_q", "as", "az"], [f"{src}_dq"]))
        return f"{src}_dq"

    nodes.append(helper.make_node("Conv", [qdq("x"), "w"], ["c"], pads=[1, 1, 1, 1]))
    nodes.append(helper.make_node("Relu", ["c"], ["r"]))
    nodes.append(helper.make_node("Flatten", [qdq("r")], ["f"]))
    nodes.append(helper.make_node("Gemm", ["f", "g"], ["y"], transB=1))
    return _model(nodes, [_vi("x", ["N", 3, 6, 6])], [_vi("y", None)], inits, opset=19)


def test_qdq_model_imports_as_the_float_model_of_its_weights() -> None:
    """Weights are dequantized (folded), activation Quantize/Dequantize pairs dropped: the import equals
    onnxruntime on the same model without the activation pairs, and stays near the quantized model."""
    quantized = _qdq_model(True)
    result = convert(quantized)
    types = Counter(n.type for n in result.graph.nodes.values())
    assert types["Conv2d"] == 1 and types["Linear"] == 1 and not any(t in types for t in GENERIC)
    _check(_qdq_model(False), {"Conv2d": 1, "Linear": 1})
    x = np.random.default_rng(0).uniform(-2, 2, (2, 3, 6, 6)).astype(np.float32)
    with torch.no_grad():
        got = result.compile()(torch.from_numpy(x)).numpy()
    float_ref = ort.InferenceSession(_qdq_model(False).SerializeToString(), providers=["CPUExecutionProvider"])
    np.testing.assert_allclose(got, float_ref.run(None, {"x": x})[0], rtol=0, atol=1e-5)
    q_ref = ort.InferenceSession(quantized.SerializeToString(), providers=["CPUExecutionProvider"])
    assert np.max(np.abs(got - q_ref.run(None, {"x": x})[0])) < 0.5  # only the rounding of activations differs


def test_dequantize_folding_per_channel() -> None:
    from dlstudio.importers.onnx_ops_quant import dequantize

    node = helper.make_node("DequantizeLinear", ["a", "b", "c"], ["d"], axis=0)
    q = np.array([[1, 2], [3, 4]], np.int8)
    got = dequantize(node, q, np.array([0.5, 2.0], np.float32), np.array([1, 0], np.int8))
    np.testing.assert_array_equal(got, [[0.0, 0.5], [6.0, 8.0]])


# ----------------------------------------------------------------------- ops rebuilt from catalog layers
@pytest.mark.parametrize(("op", "mode"), [("DepthToSpace", "DCR"), ("DepthToSpace", "CRD"), ("SpaceToDepth", None)])
def test_depth_and_space_rearrangements(op: str, mode: str | None) -> None:
    kw = {"mode": mode} if mode else {}
    m = _model([helper.make_node(op, ["x"], ["y"], blocksize=2, **kw)], [_vi("x", ["N", 8, 4, 6])], [_vi("y", None)])
    types = _check(m, {})
    assert set(types) <= {"Input", "Output", "Reshape", "Permute", "PixelShuffle"}


def test_hard_sigmoid_and_hard_swish() -> None:
    nodes = [
        helper.make_node("HardSigmoid", ["x"], ["a"], alpha=0.3, beta=0.4),
        helper.make_node("HardSwish", ["x"], ["b"]),
    ]
    m = _model(nodes, [_vi("x", ["N", 3, 7])], [_vi("a", None), _vi("b", None)], opset=14)
    _check(m, {"Hardtanh": 2, "Arithmetic": 4, "Multiply": 1})


def test_selu_with_its_own_constants_is_an_elu_and_a_scale() -> None:
    m = _model([helper.make_node("Selu", ["x"], ["y"], alpha=2.0, gamma=3.0)], [_vi("x", ["N", 5])], [_vi("y", None)])
    _check(m, {"ELU": 1, "Arithmetic": 1})


@pytest.mark.parametrize("pads", [[1, 1, 0, 0], [1, 2, 1, 1], [0, 0, 0, 0]])
def test_conv_transpose_with_a_smaller_end_pad_uses_output_padding(pads: list[int]) -> None:
    w = np.random.default_rng(2).standard_normal((3, 4, 3, 3))
    node = helper.make_node("ConvTranspose", ["x", "w"], ["y"], strides=[2, 2], pads=pads)
    m = _model([node], [_vi("x", ["N", 3, 5, 6])], [_vi("y", None)], [_init("w", w)])
    _check(m, {"ConvTranspose2d": 1})


def test_a_model_quantized_by_onnxruntime_imports_as_its_float_model(tmp_path: Path) -> None:
    """onnxruntime's static quantizer writes QDQ at opset 13: weights dequantized at import (no reference
    DequantizeLinear before opset 19), activation rounding dropped, and the report says by how much it differs."""
    from onnxruntime.quantization import CalibrationDataReader, QuantFormat, quantize_static

    net = torch.nn.Sequential(torch.nn.Conv2d(1, 4, 3), torch.nn.ReLU(), torch.nn.Flatten(), torch.nn.Linear(64, 3))
    float_path, qdq_path = tmp_path / "float.onnx", tmp_path / "qdq.onnx"
    torch.onnx.export(
        net,
        (torch.randn(1, 1, 6, 6),),
        str(float_path),
        opset_version=13,
        dynamo=False,
        input_names=["x"],
        output_names=["y"],
        dynamic_axes={"x": {0: "n"}, "y": {0: "n"}},
    )

    class Reader(CalibrationDataReader):
        def __init__(self) -> None:
            self.batches = iter(
                [{"x": np.random.default_rng(i).standard_normal((1, 1, 6, 6)).astype(np.float32)} for i in range(8)]
            )

        def get_next(self):  # noqa: ANN201 - onnxruntime's interface
            return next(self.batches, None)

    quantize_static(str(float_path), str(qdq_path), Reader(), quant_format=QuantFormat.QDQ)
    result = import_onnx(str(qdq_path))
    types = {n.type for n in result.graph.nodes.values()}
    assert {"Conv2d", "Linear"} <= types and "OnnxOp" not in types, types
    assert any("float model it approximates" in w for w in result.report.warnings), result.report.warnings


# ------------------------------------------------------------------ Pad, Slice, Expand, Tile, Gather, BatchNorm3d
def _ints(name: str, values) -> onnx.TensorProto:
    return numpy_helper.from_array(np.asarray(values, dtype=np.int64), name)


@pytest.mark.parametrize(
    ("shape", "pads", "value", "layer"),
    [
        (["N", 2, 7], [0, 0, 1, 0, 0, 2], 1.5, "ConstantPad1d"),
        (["N", 2, 5, 6], [0, 0, 1, 0, 0, 0, 2, 3], -4.0, "ConstantPad2d"),
        (["N", 2, 5, 6], [0, 0, 1, 2, 0, 0, 2, 0], 0.0, "ZeroPad2d"),
        (["N", 2, 3, 4, 5], [0, 0, 1, 0, 2, 0, 0, 1, 0, 1], 0.25, "ConstantPad3d"),
    ],
)
@pytest.mark.parametrize("opset", [9, 13])
def test_constant_pad_with_a_value(shape, pads, value, layer, opset: int) -> None:
    if opset >= 11:
        nodes = [helper.make_node("Pad", ["x", "p", "v"], ["y"], mode="constant")]
        inits = [_ints("p", pads), _init("v", value)]
    else:
        nodes = [helper.make_node("Pad", ["x"], ["y"], mode="constant", pads=pads, value=value)]
        inits = []
    _check(_model(nodes, [_vi("x", shape)], [_vi("y", None)], inits, opset), {layer: 1})


@pytest.mark.parametrize("opset", [9, 13])
def test_slice_of_per_sample_dims_becomes_narrow(opset: int) -> None:
    starts, ends, axes = [1, -3, 0], [3, 10**9, 2**63 - 1], [1, 3, 0]  # clamped ends, a negative start, whole batch
    if opset >= 10:
        node = helper.make_node("Slice", ["x", "s", "e", "a"], ["y"])
        inits = [_ints("s", starts), _ints("e", ends), _ints("a", axes)]
    else:
        node = helper.make_node("Slice", ["x"], ["y"], starts=starts, ends=ends, axes=axes)
        inits = []
    m = _model([node], [_vi("x", ["N", 4, 3, 6])], [_vi("y", None)], inits, opset)
    _check(m, {"Narrow": 2})


def test_slice_with_a_step_stays_a_generic_op() -> None:
    node = helper.make_node("Slice", ["x", "s", "e", "a", "st"], ["y"])
    inits = [_ints("s", [0]), _ints("e", [6]), _ints("a", [2]), _ints("st", [2])]
    result = convert(_model([node], [_vi("x", ["N", 4, 6])], [_vi("y", None)], inits, 13))
    assert [n.params["op_type"] for n in result.graph.nodes_of_type("OnnxOp")] == ["Slice"]


def test_expand_tile_and_contiguous_gather() -> None:
    nodes = [
        helper.make_node("Expand", ["x", "shape"], ["e"]),
        helper.make_node("Tile", ["e", "reps"], ["t"]),
        helper.make_node("Gather", ["t", "idx"], ["y"], axis=3),
    ]
    inits = [_ints("shape", [1, 3, 4, 1]), _ints("reps", [1, 1, 2, 3]), _ints("idx", [1, 2])]
    m = _model(nodes, [_vi("x", ["N", 3, 1, 1])], [_vi("y", None)], inits, 13)
    _check(m, {"Expand": 1, "Repeat": 1, "Narrow": 1})


def test_batch_normalization_over_volumes_is_batchnorm3d() -> None:
    rng = np.random.default_rng(0)
    inits = [_init("s", rng.uniform(0.5, 2, 3)), _init("b", rng.normal(size=3))]
    inits += [_init("m", rng.normal(size=3)), _init("v", rng.uniform(0.5, 2, 3))]
    node = helper.make_node("BatchNormalization", ["x", "s", "b", "m", "v"], ["y"], epsilon=1e-3)
    types = _check(_model([node], [_vi("x", ["N", 3, 2, 4, 4])], [_vi("y", None)], inits, 15), {"BatchNorm3d": 1})
    assert types["BatchNorm3d"] == 1


def test_asymmetric_conv1d_pads_get_a_constant_pad() -> None:
    w = np.random.default_rng(1).normal(size=(4, 2, 3))
    node = helper.make_node("Conv", ["x", "w"], ["y"], kernel_shape=[3], pads=[0, 2])
    _check(_model([node], [_vi("x", ["N", 2, 9])], [_vi("y", None)], [_init("w", w)], 13), {"ConstantPad1d": 1})


# ------------------------------------------------------------------------------ MatMul of two tensors, reductions
def test_attention_scores_matmul_of_two_computed_tensors() -> None:
    """softmax(Q @ K^T) @ V over (N, heads, L, d): two MatMul layers, no generic op."""
    nodes = [
        helper.make_node("Transpose", ["k"], ["kt"], perm=[0, 1, 3, 2]),
        helper.make_node("MatMul", ["q", "kt"], ["s"]),
        helper.make_node("Softmax", ["s"], ["p"], axis=-1),
        helper.make_node("MatMul", ["p", "v"], ["y"]),
    ]
    inputs = [_vi(n, ["N", 2, 5, 4]) for n in ("q", "k", "v")]
    _check(_model(nodes, inputs, [_vi("y", None)], opset=13), {"MatMul": 2, "Permute": 1})


@pytest.mark.parametrize(
    ("op", "axes", "keep", "opset"),
    [
        ("ReduceSum", [1], 0, 11),
        ("ReduceSum", [-1, 2], 1, 13),
        ("ReduceMean", [1], 1, 13),
        ("ReduceMax", [2], 0, 13),
        ("ReduceMin", [1, 3], 1, 18),
    ],
)
def test_reductions_over_per_sample_axes(op: str, axes: list[int], keep: int, opset: int) -> None:
    axes_as_input = opset >= 18 or (op == "ReduceSum" and opset >= 13)
    if axes_as_input:
        node = helper.make_node(op, ["x", "axes"], ["y"], keepdims=keep)
        inits = [_ints("axes", axes)]
    else:
        node = helper.make_node(op, ["x"], ["y"], axes=axes, keepdims=keep)
        inits = []
    _check(_model([node], [_vi("x", ["N", 3, 4, 5])], [_vi("y", None)], inits, opset), {"Reduce": 1})


@pytest.mark.parametrize(("op", "attrs"), [("MaxPool", {}), ("AveragePool", {"count_include_pad": 1})])
def test_one_dimensional_pools_with_begin_padding(op: str, attrs: dict) -> None:
    node = helper.make_node(op, ["x"], ["y"], kernel_shape=[3], strides=[2], pads=[2, 0], **attrs)
    _check(_model([node], [_vi("x", ["N", 2, 9])], [_vi("y", None)], opset=13), {"ConstantPad1d": 1})
