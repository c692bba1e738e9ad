"""ONNX files in the styles people actually have import, train and re-export: small MobileNetV2, EfficientNet-style
SE blocks, a U-Net, a ResNet with a dynamic batch, a super-resolution net (DepthToSpace), a YOLO-style head, a ViT,
a BERT-style encoder (and one with the Hugging Face additive mask), a GPT block with a causal mask, one with
scaled_dot_product_attention and RMS norms, torch's own nn.TransformerEncoder and LSTM/GRU classifiers
(tests/onnx_zoo_models.py), each written by torch.onnx's TorchScript exporter at opsets 11, 13 and 17 (14 where
attention needs it) and by its dynamo exporter (opset 18, and 23 for some), some with a fixed batch of 1; and
hand-written
graphs in styles torch does not write (tests/onnx_zoo_graphs.py: tf2onnx-like NHWC, initializers listed as inputs,
If with a constant condition, assorted ops, symbolic spatial sizes, local functions, external data).

Each case imports through the CLI (`dlstudio import`, whose parity check compares with onnxruntime on the original
file), trains one step, and re-exports to an ONNX file that runs equal to the original in onnxruntime.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
import pytest
import torch
from onnx import helper, numpy_helper
from onnx_zoo_graphs import GRAPHS
from onnx_zoo_models import CASES, TORCH_MODELS, export_torch

import dlstudio as dls
from dlstudio.cli import run_cli

_NUMPY_TYPES = {"tensor(float)": np.float32, "tensor(int64)": np.int64, "tensor(int32)": np.int32, "tensor(bool)": bool}


def _session(path: Path) -> ort.InferenceSession:
    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    options.log_severity_level = 3
    return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])


def _run(path: Path, inputs: list[np.ndarray]) -> list[np.ndarray]:
    sess = _session(path)
    feed = {}
    for meta, arr in zip(sess.get_inputs(), inputs):
        want = _NUMPY_TYPES[meta.type]
        feed[meta.name] = arr.astype(want)
    return sess.run(None, feed)


def _batch_of(path: Path) -> int:
    """The batch the file fixes, else 3 (neither the export's batch nor 1)."""
    dim = _session(path).get_inputs()[0].shape[0]
    return dim if isinstance(dim, int) else 3


def _train_one_step(project: dls.Project, inputs: list[np.ndarray]) -> None:
    model = dls.compile(project.graph, weights=project.weights_path).train()
    params = dict(model.named_parameters())
    assert params, "the imported model has nothing to train"
    before = {k: p.detach().clone() for k, p in params.items()}
    outs = model(*(torch.from_numpy(a.astype(np.int64) if a.dtype == bool else a) for a in inputs))
    outs = outs if isinstance(outs, (tuple, list)) else [outs]
    loss = sum(o.float().pow(2).mean() for o in outs if o.is_floating_point())
    assert torch.isfinite(loss)
    loss.backward()
    torch.optim.SGD(model.parameters(), lr=0.01).step()
    moved = [k for k, p in params.items() if not torch.equal(p.detach(), before[k])]
    assert len(moved) >= len(params) // 2, f"parameters that did not train: {set(before) - set(moved)}"


def _import_train_reexport(source: Path, make, tmp_path: Path, capsys, *extra: str) -> dls.Project:
    project_path = tmp_path / "imported.dlstudio"
    rc = run_cli(["import", str(source), "-o", str(project_path), *extra])
    printed = capsys.readouterr()
    assert rc == 0, printed.err
    assert "compiled graph vs onnxruntime" in printed.out  # the CLI's parity check ran on the original file
    project = dls.Project.load(project_path)
    batch = _batch_of(source)
    inputs = make(batch, np.random.default_rng(7))
    _train_one_step(project, inputs)
    if "works only at the batch size the file fixes" in printed.out:
        # ops that mix the batch (a class token concatenated at the file's batch of 1) run only at that batch,
        # and the ONNX export traces at batch 2: the import and training above are what such a file gets
        assert batch == 1
        return project
    out = tmp_path / "reexported.onnx"
    dls.export_onnx(project, out)
    for got, want in zip(_run(out, inputs), _run(source, inputs)):
        np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-4)
    return project


@pytest.mark.parametrize(("name", "exporter"), CASES, ids=[f"{n}-{e}" for n, e in CASES])
def test_torch_exported_model_imports_trains_and_reexports(name: str, exporter: str, tmp_path: Path, capsys) -> None:
    source = tmp_path / f"{name}-{exporter}.onnx"
    export_torch(name, exporter, source)
    capsys.readouterr()  # the exporter's own progress lines
    _import_train_reexport(source, TORCH_MODELS[name][2], tmp_path, capsys)


@pytest.mark.parametrize("name", [n for n in GRAPHS if n != "symbolic_spatial"])
def test_handwritten_graph_imports_trains_and_reexports(name: str, tmp_path: Path, capsys) -> None:
    model, make = GRAPHS[name]()
    source = tmp_path / f"{name}.onnx"
    onnx.save(model, str(source))
    project = _import_train_reexport(source, make, tmp_path, capsys)
    types = {n.type for n in project.graph.nodes.values()}
    if name == "if_constant":  # the taken branches were inlined: ReLU (then) and Flatten (then), no Sigmoid/Neg
        assert "Sigmoid" not in types and "ReLU" in types, types
    if name == "tf2onnx_nhwc":
        assert "OnnxOp" not in types, types


def test_symbolic_sizes_get_defaults_or_the_given_shape(tmp_path: Path, capsys) -> None:
    model, make = GRAPHS["symbolic_spatial"]()
    source = tmp_path / "fcn.onnx"
    onnx.save(model, str(source))
    result = dls.import_onnx(source)
    assert result.graph.nodes_of_type("Input")[0].params["shape"] == (3, 224, 224)
    assert any("height=224, width=224" in w and "--input-shape 3,HEIGHT,WIDTH" in w for w in result.report.warnings)
    _import_train_reexport(source, make, tmp_path, capsys, "--input-shape", "3,32,32")
    assert dls.Project.load(tmp_path / "imported.dlstudio").graph.nodes_of_type("Input")[0].params["shape"] == [
        3,
        32,
        32,
    ]


def _function_model() -> tuple[onnx.ModelProto, object]:
    """Two calls of a local function (a custom-domain op defined in the file), as the dynamo exporter and
    onnxscript write them."""
    rng = np.random.default_rng(0)
    n = helper.make_node
    body = [
        n("Conv", ["x", "w", "b"], ["c"], kernel_shape=[3, 3], pads=[1, 1, 1, 1]),
        n("Relu", ["c"], ["y"]),
    ]
    fn = helper.make_function("pkg.custom", "ConvRelu", ["x", "w", "b"], ["y"], body, [helper.make_opsetid("", 18)], [])
    w1 = numpy_helper.from_array((rng.standard_normal((4, 3, 3, 3)) * 0.3).astype(np.float32), "w1")
    w2 = numpy_helper.from_array((rng.standard_normal((4, 4, 3, 3)) * 0.3).astype(np.float32), "w2")
    b = numpy_helper.from_array(np.zeros(4, np.float32), "b")
    graph = helper.make_graph(
        [
            n("ConvRelu", ["img", "w1", "b"], ["h"], domain="pkg.custom"),
            n("ConvRelu", ["h", "w2", "b"], ["out"], domain="pkg.custom"),
        ],
        "functions",
        [helper.make_tensor_value_info("img", onnx.TensorProto.FLOAT, ["N", 3, 8, 8])],
        [helper.make_tensor_value_info("out", onnx.TensorProto.FLOAT, ["N", 4, 8, 8])],
        [w1, w2, b],
    )
    model = helper.make_model(
        graph,
        opset_imports=[helper.make_opsetid("", 18), helper.make_opsetid("pkg.custom", 1)],
        functions=[fn],
    )
    model.ir_version = 8

    def make(batch: int, rng: np.random.Generator) -> list[np.ndarray]:
        return [rng.standard_normal((batch, 3, 8, 8)).astype(np.float32)]

    return model, make


def test_local_functions_are_inlined(tmp_path: Path, capsys) -> None:
    model, make = _function_model()
    source = tmp_path / "functions.onnx"
    onnx.save(model, str(source))
    project = _import_train_reexport(source, make, tmp_path, capsys)
    assert [n.type for n in project.graph.nodes.values()].count("Conv2d") == 2


def test_external_data_loads_relative_to_the_file_and_a_missing_file_is_named(tmp_path: Path, capsys) -> None:
    plain = tmp_path / "resnet.onnx"
    make = TORCH_MODELS["resnet"][2]
    export_torch("resnet", "ts13", plain)
    folder = tmp_path / "model"
    folder.mkdir()
    external = folder / "resnet_ext.onnx"
    onnx.save(
        onnx.load(str(plain)), str(external), save_as_external_data=True, location="weights.bin", size_threshold=0
    )
    _import_train_reexport(external, make, tmp_path, capsys)

    (folder / "weights.bin").rename(folder / "elsewhere.bin")
    target = tmp_path / "missing.dlstudio"
    assert run_cli(["import", str(external), "-o", str(target)]) == 2
    err = capsys.readouterr().err
    assert "'weights.bin', which is missing" in err and "Traceback" not in err, err
    assert not target.exists()


def test_weights_over_two_gigabytes_are_refused_with_a_message(tmp_path: Path, capsys) -> None:
    tensor = onnx.TensorProto(name="w", data_type=onnx.TensorProto.FLOAT, dims=[3 * 2**28])
    tensor.data_location = onnx.TensorProto.EXTERNAL
    for key, value in (("location", "big.bin"), ("offset", "0"), ("length", str(3 * 2**30))):
        entry = tensor.external_data.add()
        entry.key, entry.value = key, value
    graph = helper.make_graph(
        [helper.make_node("Add", ["x", "w"], ["y"])],
        "big",
        [helper.make_tensor_value_info("x", onnx.TensorProto.FLOAT, ["N", 3 * 2**28])],
        [helper.make_tensor_value_info("y", onnx.TensorProto.FLOAT, ["N", 3 * 2**28])],
        [tensor],
    )
    path = tmp_path / "big.onnx"
    path.write_bytes(helper.make_model(graph).SerializeToString())
    with open(tmp_path / "big.bin", "wb") as f:  # a sparse file: no disk space used
        f.truncate(3 * 2**30)
    target = tmp_path / "big.dlstudio"
    assert run_cli(["import", str(path), "-o", str(target)]) == 2
    err = capsys.readouterr().err
    assert "3.0 GiB in external data" in err and "Traceback" not in err, err
    assert not target.exists()


def test_operator_form_quantized_model_imports_as_its_float_model(tmp_path: Path, capsys) -> None:
    """QLinearConv and onnxruntime's QLinearConcat (QuantFormat.QOperator, as the model zoo's int8 files are
    written) become float convolutions on the dequantized weights, saturating where the integers do."""
    from onnxruntime.quantization import CalibrationDataReader, QuantFormat, QuantType, quantize_static

    float_path, quantized = tmp_path / "unet.onnx", tmp_path / "unet_int8.onnx"
    make = TORCH_MODELS["unet"][2]
    export_torch("unet", "ts13", float_path)

    class Reader(CalibrationDataReader):
        def __init__(self) -> None:
            self.batches = iter(make(2, np.random.default_rng(k)) for k in range(4))

        def get_next(self):
            batch = next(self.batches, None)
            return None if batch is None else {"x": batch[0]}

    quantize_static(
        str(float_path),
        str(quantized),
        Reader(),
        quant_format=QuantFormat.QOperator,
        activation_type=QuantType.QUInt8,
        weight_type=QuantType.QInt8,
    )
    assert {n.op_type for n in onnx.load(str(quantized)).graph.node} >= {"QLinearConv", "QLinearConcat"}
    project_path = tmp_path / "q.dlstudio"
    assert run_cli(["import", str(quantized), "-o", str(project_path)]) == 0, capsys.readouterr().err
    assert "float model it approximates" in capsys.readouterr().out
    project = dls.Project.load(project_path)
    types = [n.type for n in project.graph.nodes.values()]
    assert types.count("Conv2d") == 7 and "OnnxOp" not in types, types
    x = make(2, np.random.default_rng(9))
    got = dls.compile(project.graph, weights=project.weights_path).eval()(torch.from_numpy(x[0])).detach().numpy()
    want = _run(quantized, x)[0]
    assert np.abs(got - want).max() < 0.05 * max(1.0, float(np.abs(want).max()))
    _train_one_step(project, x)


class _TimeMajorRNN(torch.nn.Module):
    """torch's default recurrent layout (batch_first=False): the file's input is (T, N, F)."""

    def __init__(self) -> None:
        super().__init__()
        self.lstm = torch.nn.LSTM(6, 16)
        self.gru = torch.nn.GRU(16, 8)
        self.fc = torch.nn.Linear(8, 4)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out, _ = self.lstm(x)
        out, _ = self.gru(out)
        return self.fc(out[-1])


def test_time_major_input_imports_batch_first(tmp_path: Path, capsys) -> None:
    import warnings

    source = tmp_path / "time_major.onnx"
    torch.manual_seed(0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(
            _TimeMajorRNN().eval(),
            (torch.randn(12, 2, 6),),
            str(source),
            input_names=["x"],
            output_names=["y"],
            dynamic_axes={"x": {1: "batch"}, "y": {0: "batch"}},
            opset_version=13,
            dynamo=False,
        )
    project_path = tmp_path / "tm.dlstudio"
    assert run_cli(["import", str(source), "-o", str(project_path)]) == 0, capsys.readouterr().err
    printed = capsys.readouterr().out
    assert "compiled graph vs onnxruntime" in printed and "its batch is dim 1 in the file" in printed
    project = dls.Project.load(project_path)
    assert project.graph.nodes_of_type("Input")[0].params["shape"] == [12, 6]
    x = np.random.default_rng(3).standard_normal((3, 12, 6)).astype(np.float32)  # batch-first
    _train_one_step(project, [x])
    out = tmp_path / "reexported.onnx"
    dls.export_onnx(project, out)
    np.testing.assert_allclose(
        _run(out, [x])[0], _run(source, [np.ascontiguousarray(x.transpose(1, 0, 2))])[0], rtol=1e-4, atol=1e-4
    )
