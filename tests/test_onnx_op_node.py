"""The generic OnnxOp node: ops without a catalog layer import as-is, match onnxruntime,
re-derive their shapes through the compiler's shape oracle, train, save/load, and export to Python and ONNX."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import onnx
import pytest
import torch
from onnx import TensorProto, helper, numpy_helper

import dlstudio as dls
from dlstudio.analysis import oracle
from dlstudio.analysis.shapes import infer_all
from dlstudio.core.errors import ShapeError
from dlstudio.core.tensor import TensorInfo
from dlstudio.importers.onnx import convert
from dlstudio.layers.registry import get_spec
from dlstudio.nn.onnx_op import OnnxOp


def _model(nodes, inputs, outputs, inits=(), opset=17) -> onnx.ModelProto:
    g = helper.make_graph(nodes, "g", inputs, outputs, list(inits))
    return helper.make_model(g, opset_imports=[helper.make_opsetid("", opset)])


def _vi(name: str, shape, dtype=TensorProto.FLOAT) -> onnx.ValueInfoProto:
    return helper.make_tensor_value_info(name, dtype, shape)


def _i64(name: str, values) -> onnx.TensorProto:
    return numpy_helper.from_array(np.asarray(values, dtype=np.int64), name)


def _f32(name: str, values) -> onnx.TensorProto:
    return numpy_helper.from_array(np.asarray(values, dtype=np.float32), name)


CASES = {
    "expand": ([helper.make_node("Expand", ["x", "s"], ["y"])], (2, 3, 1), [_i64("s", [1, 3, 4])], 13),
    "tile": ([helper.make_node("Tile", ["x", "r"], ["y"])], (2, 3, 2), [_i64("r", [1, 2, 3])], 13),
    "pad_reflect": (
        [helper.make_node("Pad", ["x", "p"], ["y"], mode="reflect")],
        (2, 3, 5),
        [_i64("p", [0, 0, 1, 0, 1, 2])],
        13,
    ),
    "pad_value": (
        [helper.make_node("Pad", ["x", "p", "v"], ["y"])],
        (2, 3, 5),
        [_i64("p", [0, 1, 0, 0, 2, 1]), _f32("v", 1.5)],
        13,
    ),
    "softmax_opset11_rank4": ([helper.make_node("Softmax", ["x"], ["y"], axis=1)], (2, 3, 2, 2), [], 11),
    "reduce_l2": (
        [helper.make_node("ReduceL2", ["x"], ["y"], axes=[1, 2], keepdims=0)],
        (2, 3, 4),
        [],
        13,
    ),
    "topk_values": ([helper.make_node("TopK", ["x", "k"], ["y", "i"], axis=-1)], (2, 6), [_i64("k", [3])], 13),
    "split_then_mul": (
        [helper.make_node("Split", ["x"], ["a", "b"], axis=1), helper.make_node("Mul", ["a", "b"], ["y"])],
        (2, 6),
        [],
        13,
    ),
    "einsum": ([helper.make_node("Einsum", ["x", "w"], ["y"], equation="bij,jk->bik")], (2, 3, 4), [], 13),
    "depth_to_space": ([helper.make_node("DepthToSpace", ["x"], ["y"], blocksize=2, mode="CRD")], (2, 8, 2, 3), [], 13),
    "resize_nearest": (
        [helper.make_node("Resize", ["x", "", "sc"], ["y"], mode="nearest")],
        (2, 1, 3, 3),
        [_f32("sc", [1, 1, 2, 1.5])],
        13,
    ),
    "cumsum_reverse": (
        [helper.make_node("CumSum", ["x", "ax"], ["y"], reverse=1, exclusive=1)],
        (2, 5),
        [_i64("ax", 1)],
        13,
    ),
    "instance_norm": (
        [helper.make_node("InstanceNormalization", ["x", "sc", "b"], ["y"])],
        (2, 3, 4, 4),
        [_f32("sc", [1.0, 0.5, 2.0]), _f32("b", [0.1, 0.2, 0.3])],
        13,
    ),
    "lrn": ([helper.make_node("LRN", ["x"], ["y"], size=3)], (2, 5, 3, 3), [], 13),
    "trilu": ([helper.make_node("Trilu", ["x"], ["y"], upper=0)], (2, 4, 4), [], 14),
    "where_less": (
        [helper.make_node("Less", ["x", "z"], ["c"]), helper.make_node("Where", ["c", "x", "z"], ["y"])],
        (2, 4),
        [_f32("z", [0.0, 0.1, -0.1, 0.2])],
        13,
    ),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_generic_op_matches_onnxruntime(case: str) -> None:
    nodes, shape, inits, opset = CASES[case]
    rng = np.random.default_rng(0)
    if case == "einsum":
        inits = [_f32("w", rng.standard_normal((4, 5)))]
    m = _model(nodes, [_vi("x", ["N", *shape[1:]])], [_vi("y", None)], inits, opset)
    result = convert(m)  # a first-class handler may take the op; the import must be right either way
    x = rng.standard_normal(shape).astype(np.float32)
    want = _onnxruntime(m, x)
    with torch.no_grad():
        got = result.compile()(torch.from_numpy(x))
    np.testing.assert_allclose(got.numpy(), want, rtol=1e-4, atol=1e-5)
    if len(nodes) == 1:  # the runtime table itself, whatever the importer chose
        node = nodes[0]
        consts = {i.name: numpy_helper.to_array(i) for i in inits}
        layout = [
            "x" if i == "x" else None if not i else {"value": consts[i].tolist(), "dtype": _dtype(consts[i])}
            for i in node.input
        ]
        attrs = {a.name: _attr(a) for a in node.attribute}
        if len(node.output) > 1:
            attrs["_outputs"] = len(node.output)
        op = OnnxOp(node.op_type, attrs, layout, opset)
        with torch.no_grad():
            direct = op(torch.from_numpy(x))
        direct = direct[0] if isinstance(direct, tuple) else direct
        np.testing.assert_allclose(direct.numpy(), want, rtol=1e-4, atol=1e-5)


def _onnxruntime(m: onnx.ModelProto, x: np.ndarray) -> np.ndarray:
    import onnxruntime as ort

    sess = ort.InferenceSession(m.SerializeToString(), providers=["CPUExecutionProvider"])
    return sess.run(["y"], {"x": x})[0]


def _dtype(a: np.ndarray) -> str:
    return "float32" if a.dtype.kind == "f" else "int64"


def _attr(a: onnx.AttributeProto):
    v = helper.get_attribute_value(a)
    return v.decode() if isinstance(v, bytes) else v


def _erf_graph():
    m = _model(
        [helper.make_node("Erf", ["x"], ["a"]), helper.make_node("Einsum", ["a", "s"], ["y"], equation="bij,jk->bik")],
        [_vi("x", ["N", 3, 4])],
        [_vi("y", ["N", 3, 5])],
        [_f32("s", np.linspace(0.5, 1.5, 20).reshape(4, 5))],
    )
    return convert(m)


def _relabel_input(graph, shape) -> None:
    node = graph.nodes_of_type("Input")[0]
    graph._set_param(node.id, "shape", shape)


def test_shapes_are_recorded_and_rederived_by_the_oracle(monkeypatch) -> None:
    result = _erf_graph()
    g = result.graph
    op = next(n for n in g.nodes_of_type("OnnxOp") if n.params["op_type"] == "Erf")
    assert json.loads(op.params["shapes"])["out"] == [[["N", 3, 4], "float32"]]
    _relabel_input(g, (5, 7))
    mul = [n for n in g.nodes.values() if n.type not in ("Input", "Output") and n.id != op.id]
    shapes = infer_all(g)
    assert shapes.outputs[op.id] == [TensorInfo(("N", 5, 7))]  # the compiler registered the meta-device oracle
    assert all(n.id in shapes.errors for n in mul)  # the (4, 5) constant no longer fits 7 columns
    # pure analysis (no oracle registered): the shape is unknown, said clearly
    monkeypatch.setattr(oracle, "_ORACLES", {})
    monkeypatch.setattr(oracle, "_CACHE", {})
    shapes = infer_all(g)
    err = shapes.errors[op.id]
    assert isinstance(err, ShapeError) and "unknown" in str(err) and "recorded" in str(err)
    _relabel_input(g, (3, 4))
    assert infer_all(g).outputs[op.id] == [TensorInfo(("N", 3, 4))]


def test_float_constants_are_trainable_and_the_project_round_trips(tmp_path: Path) -> None:
    result = _erf_graph()
    model = result.compile().train()
    params = dict(model.named_parameters())
    assert any(k.endswith(".c1") for k in params), params.keys()  # Einsum's constant operand
    out = model(torch.randn(4, 3, 4))
    out.sum().backward()
    assert all(p.grad is not None for p in params.values())
    target = dls.save_import(result, tmp_path / "m.dlstudio", source="m.onnx")
    project = dls.Project.load(target)
    assert [n.type for n in project.graph.nodes.values()] == [n.type for n in result.graph.nodes.values()]
    x = torch.randn(2, 3, 4)
    reloaded = dls.compile(project.graph, weights=project.weights_path).eval()
    with torch.no_grad():
        torch.testing.assert_close(reloaded(x), result.compile()(x))


@pytest.mark.slow
def test_python_export_runs_standalone_and_onnx_export_matches(tmp_path: Path) -> None:
    import subprocess
    import sys

    import onnxruntime as ort

    m = _model(
        [
            helper.make_node("Erf", ["0"], ["a"]),
            helper.make_node("ReduceL2", ["a"], ["b"], axes=[2], keepdims=1),
            helper.make_node("Expand", ["b", "s"], ["c"]),
            helper.make_node("Add", ["c", "1"], ["2"]),
        ],
        [_vi("0", ["N", 3, 4]), _vi("1", ["N", 3, 4])],
        [_vi("2", ["N", 3, 4])],
        [_i64("s", [1, 3, 4])],
        13,
    )
    result = dls.import_onnx(m)
    assert {n.params["op_type"] for n in result.graph.nodes_of_type("OnnxOp")} >= {"Erf", "ReduceL2"}
    assert len(result.graph.nodes_of_type("Expand")) == 1  # a catalog layer, exported beside the generic ops
    target = dls.save_import(result, tmp_path / "m.dlstudio", source="m.onnx")
    project = dls.Project.load(target)
    dls.export_python(project, tmp_path / "model.py")
    text = (tmp_path / "model.py").read_text()
    assert "import dlstudio" not in text and "class OnnxOp" in text
    run = subprocess.run([sys.executable, str(tmp_path / "model.py")], capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr
    report = dls.export_onnx(project, tmp_path / "out.onnx")  # inputs named "0", "1": re-export still works
    assert report.max_abs_diff and report.worst_diff < 1e-4
    sess = ort.InferenceSession(str(tmp_path / "out.onnx"), providers=["CPUExecutionProvider"])
    assert len(sess.get_inputs()) == 2


def test_spec_is_torch_free_and_explained() -> None:
    spec = get_spec("OnnxOp")
    assert spec.explanation.startswith("An ONNX operation imported as-is")
    assert "imported" in spec.tags


def test_ops_that_mix_the_batch_work_at_the_files_fixed_batch() -> None:
    m = _model(
        [helper.make_node("Transpose", ["x"], ["t"], perm=[1, 0]), helper.make_node("Erf", ["t"], ["y"])],
        [_vi("x", [3, 4])],
        [_vi("y", [4, 3])],
    )
    result = dls.import_onnx(m)
    assert result.report.details["fixed_batch"] == 3
    assert any("works only at the batch size the file fixes (3)" in w for w in result.report.warnings)
    x = torch.randn(3, 4)
    with torch.no_grad():
        torch.testing.assert_close(result.compile()(x), torch.erf(x.t()))


def test_batch_only_inputs_import() -> None:
    m = _model([helper.make_node("Softsign", ["x"], ["y"])], [_vi("x", ["N"])], [_vi("y", ["N"])])
    result = dls.import_onnx(m)
    assert result.graph.nodes_of_type("Input")[0].params["shape"] == ()
    x = torch.randn(5)
    with torch.no_grad():
        torch.testing.assert_close(result.compile()(x), x / (1 + x.abs()))
