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
            helper.make_node("Det", ["x"], ["a"], name="det_1"),
            helper.make_node("Relu", ["a"], ["b"], name="relu_1"),
            helper.make_node("Det", ["x"], ["c"], name="det_2"),
            helper.make_node("Add", ["b", "c"], ["d"], name="add_1"),
            helper.make_node("Det", ["x"], ["e"], name="det_3"),
            helper.make_node("Det", ["x"], ["f"], name="det_4"),
            helper.make_node("Unique", ["x"], ["u"], name="uniq"),
            helper.make_node("Sum", ["d", "e", "f", "u"], ["y"], name="sum_1"),
        ],
        [_vi("x", ["N", 4, 4])],
        [_vi("y", ["N", 4, 4])],
    )
    with pytest.raises(ModelImportError) as info:
        import_onnx(m)
    text = str(info.value)
    # grouped by op, with counts and the first few node names
    assert "Det x4 (nodes 'det_1', 'det_2', 'det_3' and 1 more)" in text, text
    assert "Unique x1 (node 'uniq')" in text and "nothing was written" in text
    assert len(info.value.problems) == 5  # Relu/Add/Sum downstream are not blamed
    assert "Traceback" not in text
    path = tmp_path / "bad.onnx"
    onnx.save(m, str(path))
    out = tmp_path / "out.dlstudio"
    assert run_cli(["import", str(path), "-o", str(out)]) == 1
    assert list(tmp_path.iterdir()) == [path]


def test_generic_ops_import_and_match_onnxruntime() -> None:
    """Ops without a catalog layer become OnnxOp nodes; the import-time parity check passes."""
    m = _model(
        [
            helper.make_node("Erf", ["x"], ["a"], name="erf_1"),
            helper.make_node("Relu", ["a"], ["b"], name="relu_1"),
            helper.make_node("CumSum", ["x", "axis"], ["c"], name="cumsum_1"),
            helper.make_node("Add", ["b", "c"], ["y"], name="add_1"),
        ],
        [_vi("x", ["N", 4])],
        [_vi("y", ["N", 4])],
        [numpy_helper.from_array(np.array(1, dtype=np.int64), "axis")],
    )
    result = import_onnx(m)
    ops = sorted(n.params["op_type"] for n in result.graph.nodes_of_type("OnnxOp"))
    assert ops == ["CumSum", "Erf"]
    assert result.report.worst_diff < 1e-5
    assert result.report.details["generic_ops"] == {"CumSum": 1, "Erf": 1}
    assert any("imported as-is as generic ONNX ops" in w for w in result.report.warnings)


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", "the file is empty"),
        (b'{"not": "onnx"}', "not an ONNX model"),
        (b"\x08\x07\x12\x0cpytorch\x1a\xff\xff", "truncated or damaged"),
        (b"hello, this is a text file\n" * 4, "its bytes are not an ONNX protobuf"),
    ],
)
def test_unreadable_files_say_what_they_are(tmp_path: Path, data: bytes, message: str, capsys) -> None:
    path = tmp_path / "m.onnx"
    path.write_bytes(data)
    with pytest.raises(ModelImportError, match=message):
        import_onnx(path)
    out = tmp_path / "m.dlstudio"
    assert run_cli(["import", str(path), "-o", str(out)]) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err
    assert not out.exists()


def test_truncated_real_model_is_reported(tmp_path: Path) -> None:
    m = _model([helper.make_node("Relu", ["x"], ["y"])], [_vi("x", ["N", 4])], [_vi("y", ["N", 4])])
    data = m.SerializeToString()
    path = tmp_path / "cut.onnx"
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(ModelImportError, match="truncated or damaged: it starts like an ONNX model"):
        import_onnx(path)


def test_control_flow_is_named_as_such() -> None:
    branch = helper.make_graph([helper.make_node("Identity", ["x"], ["t"])], "b", [], [_vi("t", ["N", 4])])
    node = helper.make_node("If", ["c"], ["y"], then_branch=branch, else_branch=branch)
    cond = helper.make_tensor_value_info("c", TensorProto.BOOL, ["N"])
    m = _model([node], [_vi("x", ["N", 4]), cond], [_vi("y", ["N", 4])])
    with pytest.raises(ModelImportError, match=r"If x1 \(node .*control flow"):
        import_onnx(m)


def test_onnx_ml_and_string_ops_are_refused_by_name() -> None:
    x = _vi("x", ["N", 4])
    node = helper.make_node(
        "LinearClassifier",
        ["x"],
        ["label", "scores"],
        domain="ai.onnx.ml",
        coefficients=[1.0] * 8,
        classlabels_ints=[0, 1],
    )
    g = helper.make_graph([node], "g", [x], [helper.make_tensor_value_info("scores", TensorProto.FLOAT, None)])
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 17), helper.make_opsetid("ai.onnx.ml", 3)])
    with pytest.raises(ModelImportError, match=r"LinearClassifier x1 .*not neural-network layers"):
        import_onnx(m)


def test_parity_is_skipped_with_a_reason_when_onnxruntime_cannot_load_the_file(
    monkeypatch, tmp_path: Path, capsys
) -> None:
    import onnxruntime as ort

    m = _model([helper.make_node("Relu", ["x"], ["y"])], [_vi("x", ["N", 4])], [_vi("y", ["N", 4])])

    def refuse(*args, **kwargs):
        raise RuntimeError("Could not find an implementation for Relu(6) node with name ''")

    monkeypatch.setattr(ort, "InferenceSession", refuse)
    result = import_onnx(m)
    assert any("parity not checked" in w and "Could not find an implementation" in w for w in result.report.warnings)
    assert not result.report.max_abs_diff
    path = tmp_path / "m.onnx"
    onnx.save(m, str(path))
    assert run_cli(["import", str(path), "-o", str(tmp_path / "m.dlstudio")]) == 0
    out = capsys.readouterr()
    assert "parity not checked" in out.out and "Traceback" not in out.err


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
    # free sizes get a default, and the report names them with the option that chooses others
    result = import_onnx(path)
    assert result.graph.nodes_of_type("Input")[0].params["shape"] == (128, 4)
    warned = [w for w in result.report.warnings if "input 'x'" in w]
    assert warned and "C=128" in warned[0] and "--input-shape C,4" in warned[0], result.report.warnings
    out = tmp_path / "sym.dlstudio"
    assert run_cli(["import", str(path), "-o", str(out), "--input-shape", "2,4"]) == 0
    project = dls.Project.load(out)
    assert [n.type for n in project.graph.nodes.values()] == ["Input", "Flatten", "Sigmoid", "Output"]
    assert project.graph.nodes_of_type("Input")[0].params["shape"] == [2, 4]
