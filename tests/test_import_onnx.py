"""ONNX import: op mapping, constant folding, bias fusion, one error listing every unsupported op, no partial
project, and the round trip project -> ONNX -> import -> compile."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
import pytest
import torch
from onnx import TensorProto, helper, numpy_helper

import dlstudio as dls
from dlstudio.cli import run_cli
from dlstudio.core.errors import ModelImportError
from dlstudio.importers.onnx import import_onnx
from dlstudio.io.imported import save_import


def _model(nodes, inputs, outputs, inits=(), opset=17) -> onnx.ModelProto:
    g = helper.make_graph(nodes, "g", inputs, outputs, list(inits))
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", opset)])
    onnx.checker.check_model(m)
    return m


def _vi(name: str, shape) -> onnx.ValueInfoProto:
    return helper.make_tensor_value_info(name, TensorProto.FLOAT, shape)


def test_every_unsupported_op_is_listed_and_nothing_is_written(tmp_path: Path) -> None:
    m = _model(
        [
            helper.make_node("Erf", ["x"], ["a"], name="erf_1"),
            helper.make_node("Relu", ["a"], ["b"], name="relu_1"),
            helper.make_node("Exp", ["x"], ["c"], name="exp_1"),
            helper.make_node("Add", ["b", "c"], ["y"], name="add_1"),
        ],
        [_vi("x", ["N", 4])],
        [_vi("y", ["N", 4])],
    )
    with pytest.raises(ModelImportError) as info:
        import_onnx(m)
    text = str(info.value)
    assert "Erf (node 'erf_1')" in text and "Exp (node 'exp_1')" in text and "nothing was written" in text
    assert len(info.value.problems) == 2  # Relu/Add downstream are not blamed
    path = tmp_path / "bad.onnx"
    onnx.save(m, str(path))
    out = tmp_path / "out.dlstudio"
    assert run_cli(["import", str(path), "-o", str(out)]) == 1
    assert list(tmp_path.iterdir()) == [path]


def test_constant_subgraph_is_folded_into_linear_weights() -> None:
    rng = np.random.default_rng(0)
    w = rng.standard_normal((5, 3)).astype(np.float32)  # stored transposed, scaled at run time
    nodes = [
        helper.make_node("Constant", [], ["w_raw"], value=numpy_helper.from_array(w, "w_raw")),
        helper.make_node("Transpose", ["w_raw"], ["w_t"]),
        helper.make_node("Mul", ["w_t", "two"], ["w"]),
        helper.make_node("MatMul", ["x", "w"], ["h"], name="mm"),
        helper.make_node("Add", ["h", "bias"], ["z"], name="bias_add"),
        helper.make_node("Relu", ["z"], ["y"], name="act"),
    ]
    inits = [
        numpy_helper.from_array(np.float32(2.0).reshape(()), "two"),
        numpy_helper.from_array(rng.standard_normal(5).astype(np.float32), "bias"),
    ]
    m = _model(nodes, [_vi("x", ["N", 3])], [_vi("y", ["N", 5])], inits)
    result = import_onnx(m)  # checks against onnxruntime, raises above 1e-4
    types = [n.type for n in result.graph.nodes.values()]
    assert types == ["Input", "Linear", "ReLU", "Output"]  # MatMul + Add fused, the weight folded
    lin = result.graph.nodes_of_type("Linear")[0]
    assert lin.params["bias"] is True
    np.testing.assert_allclose(result.weights[f"{lin.id}.weight"].numpy(), w * 2, rtol=1e-6)
    assert result.report.worst_diff < 1e-5


def _reference_graph() -> dls.Graph:
    g = dls.Graph()
    x = g.input("image", (3, 12, 12))
    c = g.add("Conv2d", x, out_channels=8, kernel_size=3, padding=1)
    c = g.add("BatchNorm2d", c)
    c = g.add("ReLU", c)
    d = g.add("Conv2d", c, out_channels=8, kernel_size=3, padding=1, groups=2)
    s = g.add("Add", c, d)
    p = g.add("MaxPool2d", s, kernel_size=2)
    q = g.add("AvgPool2d", s, kernel_size=2)
    cat = g.add("Concat", p, q, dim=1)
    f = g.add("Flatten", cat)
    h = g.add("Dropout", g.add("LeakyReLU", g.add("Linear", f, out_features=32), negative_slope=0.1), p=0.2)
    g.output("logits", g.add("Linear", h, out_features=5))
    g.output("probs", g.add("Softmax", g.add("Linear", h, out_features=3), dim=1))
    return g


def test_roundtrip_project_onnx_import_compile(tmp_path: Path) -> None:
    g = _reference_graph()
    original = dls.compile(g, seed=4).eval()
    with torch.no_grad():  # non-trivial batch-norm statistics
        bn = original.get_submodule(original.node_paths[g.nodes_of_type("BatchNorm2d")[0].id])
        bn.running_mean.uniform_(-0.5, 0.5)
        bn.running_var.uniform_(0.5, 2.0)
    from dlstudio.compiler.weights import save_weights

    wpath = save_weights(original, g, tmp_path / "w.safetensors")
    dls.export_onnx(g, tmp_path / "m.onnx", weights=wpath)
    result = dls.import_onnx(tmp_path / "m.onnx")
    imported_types = sorted(n.type for n in result.graph.nodes.values())
    # the TorchScript exporter folds eval-mode BatchNorm into the Conv before it and drops Dropout
    expected = sorted(n.type for n in g.nodes.values() if n.type not in ("BatchNorm2d", "Dropout"))
    assert imported_types == expected
    x = torch.randn(4, 3, 12, 12)
    with torch.no_grad():
        want = original(x)
        got = result.compile()(x)
    for a, b in zip(want, got):
        assert (a - b).abs().max().item() <= 1e-4
    # the written project reloads and compiles with its weights sidecar
    target = save_import(result, tmp_path / "imported.dlstudio", source="m.onnx")
    project = dls.Project.load(target)
    reloaded = dls.compile(project.graph, weights=project.weights_path).eval()
    with torch.no_grad():
        assert (reloaded(x)[0] - want[0]).abs().max().item() <= 1e-4
    positions = {n.position for n in project.graph.nodes.values()}
    assert len(positions) == len(project.graph)  # laid out: no two nodes on top of each other


def test_cli_import_and_symbolic_shapes(tmp_path: Path) -> None:
    m = _model(
        [helper.make_node("Flatten", ["x"], ["f"], axis=1), helper.make_node("Sigmoid", ["f"], ["y"])],
        [_vi("x", ["N", "C", 4])],
        [_vi("y", ["N", "F"])],
    )
    path = tmp_path / "sym.onnx"
    onnx.save(m, str(path))
    with pytest.raises(ModelImportError, match="fixed sizes"):
        import_onnx(path)
    out = tmp_path / "sym.dlstudio"
    assert run_cli(["import", str(path), "-o", str(out), "--input-shape", "2,4"]) == 0
    project = dls.Project.load(out)
    assert [n.type for n in project.graph.nodes.values()] == ["Input", "Flatten", "Sigmoid", "Output"]
    assert project.graph.nodes_of_type("Input")[0].params["shape"] == [2, 4]
