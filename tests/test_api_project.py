"""The Python API takes a project: `dls.compile(project)`, `dls.export_onnx(project, ...)` and
`dls.export_python(project, ...)` use the project's weights sidecar (trained or imported), not seeded weights;
`weights=` overrides it; a project without weights behaves like its graph. Plus the layering this relies on:
io and compiler import nothing above them."""

from __future__ import annotations

import ast
import importlib.util
import sys
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
import pytest
import torch
from onnx import TensorProto, helper, numpy_helper

import dlstudio as dls
from dlstudio.cli import run_cli
from dlstudio.compiler.weights import save_weights

PKG = Path(dls.__file__).resolve().parent


def conv_net() -> dls.Graph:
    g = dls.Graph()
    x = g.input("image", shape=(1, 6, 6))
    c = g.add("Conv2d", x, out_channels=3, kernel_size=3, label="conv")
    b = g.add("BatchNorm2d", c, label="bn")
    r = g.add("ReLU", b)
    g.output("logits", g.add("Linear", g.add("Flatten", r), out_features=4, label="head"))
    return g


def trained_project(tmp_path: Path) -> tuple[dls.Project, torch.nn.Module]:
    """A saved project whose sidecar holds weights unlike any seeded initialisation (buffers included)."""
    project = dls.Project(graph=conv_net())
    project.save(tmp_path / "net.dlstudio")
    model = dls.compile(project.graph, seed=7)
    with torch.no_grad():
        for t in list(model.parameters()) + [b for b in model.buffers() if b.is_floating_point()]:
            t.copy_(torch.rand_like(t) + 0.5)
    project.save_weights(model)
    return dls.Project.load(project.path), model.eval()


def sample_inputs(graph: dls.Graph, batch: int, seed: int) -> list[torch.Tensor]:
    """A random float batch for each Input node (the graphs here have float inputs only)."""
    gen = torch.Generator().manual_seed(seed)
    return [torch.randn((batch, *n.params["shape"]), generator=gen) for n in graph.nodes_of_type("Input")]


def run(model: torch.nn.Module, args: list[torch.Tensor]) -> list[torch.Tensor]:
    with torch.no_grad():
        out = model.eval()(*args)
    return list(out) if isinstance(out, (tuple, list)) else [out]


def assert_same(got: list[torch.Tensor], want: list[torch.Tensor], atol: float = 0.0) -> None:
    assert len(got) == len(want)
    for a, b in zip(got, want):
        torch.testing.assert_close(a, b, atol=atol, rtol=0.0 if atol == 0.0 else 1e-5)


def assert_differs(got: list[torch.Tensor], want: list[torch.Tensor]) -> None:
    assert any((a - b).abs().max().item() > 1e-3 for a, b in zip(got, want))


def test_compile_project_loads_its_sidecar(tmp_path: Path) -> None:
    project, trained = trained_project(tmp_path)
    args = sample_inputs(project.graph, batch=3, seed=1)
    via_project = run(dls.compile(project), args)
    assert_same(via_project, run(dls.compile(project.graph, weights=project.weights_path), args))
    assert_same(via_project, run(trained, args))
    assert_same(via_project, run(project.compile(), args))
    assert_differs(via_project, run(dls.compile(project.graph), args))  # the graph alone: seeded weights


def test_explicit_weights_override_the_sidecar(tmp_path: Path) -> None:
    project, _ = trained_project(tmp_path)
    args = sample_inputs(project.graph, batch=2, seed=2)
    seeded = run(dls.compile(project.graph, seed=3), args)
    assert_same(run(dls.compile(project, seed=3, weights=None), args), seeded)
    other = dls.compile(project.graph, seed=11)
    path = save_weights(other, project.graph, tmp_path / "other.safetensors")
    assert_same(run(dls.compile(project, weights=path), args), run(other, args))
    assert_same(run(dls.compile(project, weights=str(path)), args), run(other, args))


def _onnx_model() -> onnx.ModelProto:
    """Conv -> BatchNormalization -> Relu -> Flatten -> Gemm with random (not seeded-torch) weights."""
    rng = np.random.default_rng(0)

    def init(name: str, *shape: int, low: float = -1.0) -> onnx.TensorProto:
        return numpy_helper.from_array(rng.uniform(low, 1.0, shape).astype(np.float32), name)

    nodes = [
        helper.make_node("Conv", ["x", "cw", "cb"], ["c"], name="conv", kernel_shape=[3, 3]),
        helper.make_node("BatchNormalization", ["c", "g", "b", "m", "v"], ["n"], name="bn"),
        helper.make_node("Relu", ["n"], ["r"], name="relu"),
        helper.make_node("Flatten", ["r"], ["f"], name="flat", axis=1),
        helper.make_node("Gemm", ["f", "fw", "fb"], ["y"], name="fc", transB=1),
    ]
    inits = [
        init("cw", 3, 1, 3, 3),
        init("cb", 3),
        init("g", 3, low=0.5),
        init("b", 3),
        init("m", 3),
        init("v", 3, low=0.5),
        init("fw", 4, 48),
        init("fb", 4),
    ]
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 1, 6, 6])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, ["N", 4])
    graph = helper.make_graph(nodes, "g", [x], [y], inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    onnx.checker.check_model(model)
    return model


def test_imported_onnx_project_compiles_to_the_original_model(tmp_path: Path) -> None:
    source = tmp_path / "model.onnx"
    onnx.save(_onnx_model(), str(source))
    target = tmp_path / "imported.dlstudio"
    assert run_cli(["import", str(source), "-o", str(target)]) == 0  # the project and its weights sidecar
    project = dls.Project.load(target)
    assert project.saved_weights is not None
    x = np.random.default_rng(3).standard_normal((5, 1, 6, 6)).astype(np.float32)
    sess = ort.InferenceSession(str(source), providers=["CPUExecutionProvider"])
    (want,) = sess.run(None, {"x": x})
    (got,) = run(dls.compile(project), [torch.from_numpy(x)])
    np.testing.assert_allclose(got.numpy(), want, atol=1e-5, rtol=1e-5)
    (seeded,) = run(dls.compile(project.graph), [torch.from_numpy(x)])
    assert np.abs(seeded.numpy() - want).max() > 1e-2  # the bug this guards against: seeded weights


def test_export_onnx_of_a_project_uses_its_weights(tmp_path: Path) -> None:
    project, trained = trained_project(tmp_path)
    report = dls.export_onnx(project, tmp_path / "net.onnx")
    assert report.worst_diff <= 1e-4
    (x,) = sample_inputs(project.graph, batch=3, seed=4)
    sess = ort.InferenceSession(str(tmp_path / "net.onnx"), providers=["CPUExecutionProvider"])
    (got,) = sess.run(None, {sess.get_inputs()[0].name: x.numpy()})
    got_t = [torch.from_numpy(got)]
    assert_same(got_t, run(trained, [x]), atol=1e-4)
    assert_differs(got_t, run(dls.compile(project.graph), [x]))
    # weights=None overrides the sidecar: the seeded initialisation, as for the graph
    dls.export_onnx(project, tmp_path / "seeded.onnx", weights=None)
    sess = ort.InferenceSession(str(tmp_path / "seeded.onnx"), providers=["CPUExecutionProvider"])
    (seeded,) = sess.run(None, {sess.get_inputs()[0].name: x.numpy()})
    assert_same([torch.from_numpy(seeded)], run(dls.compile(project.graph), [x]), atol=1e-4)


def _load_generated(path: Path) -> torch.nn.Module:
    name = f"gen_{path.stem}"
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None
    mod = importlib.util.module_from_spec(spec)
    sys.modules[name] = mod
    try:
        spec.loader.exec_module(mod)
        return mod.load_model()  # loads the weights file named in the module, when there is one
    finally:
        sys.modules.pop(name, None)


def test_export_python_of_a_project_writes_and_uses_its_weights(tmp_path: Path) -> None:
    project, trained = trained_project(tmp_path)
    out = tmp_path / "gen" / "net_model.py"
    report = dls.export_python(project, out)
    assert report.worst_diff <= 1e-6
    assert (out.with_suffix(".safetensors")).is_file()
    assert f"# Source: {project.name!r}" in out.read_text(encoding="utf-8")  # titled as `dlstudio export` does
    args = sample_inputs(project.graph, batch=3, seed=5)
    got = run(_load_generated(out), args)
    assert_same(got, run(trained, args), atol=1e-6)
    assert_differs(got, run(dls.compile(project.graph), args))


def test_a_project_without_weights_behaves_like_its_graph(tmp_path: Path) -> None:
    project = dls.Project(graph=conv_net())
    assert project.saved_weights is None  # unsaved
    project.save(tmp_path / "fresh.dlstudio")
    assert project.saved_weights is None  # saved, never trained
    args = sample_inputs(project.graph, batch=2, seed=6)
    assert_same(run(dls.compile(project, seed=5), args), run(dls.compile(project.graph, seed=5), args))
    assert dls.check(project).ok == dls.check(project.graph).ok
    r_project = dls.export_onnx(project, tmp_path / "p.onnx")
    r_graph = dls.export_onnx(project.graph, tmp_path / "g.onnx")
    assert r_project.max_abs_diff.keys() == r_graph.max_abs_diff.keys()
    (x,) = args
    outs = []
    for name in ("p.onnx", "g.onnx"):
        sess = ort.InferenceSession(str(tmp_path / name), providers=["CPUExecutionProvider"])
        outs.append(sess.run(None, {sess.get_inputs()[0].name: x.numpy()})[0])
    np.testing.assert_array_equal(outs[0], outs[1])
    dls.export_python(project, tmp_path / "p_model.py")
    assert not (tmp_path / "p_model.safetensors").exists()  # nothing to write beside it, as for a graph
    dls.export_python(project.graph, tmp_path / "g_model.py")
    text = (tmp_path / "p_model.py").read_text(encoding="utf-8").replace(f"# Source: {project.name!r}\n", "")
    assert text == (tmp_path / "g_model.py").read_text(encoding="utf-8")  # only the title line is added


def test_graph_in_works_as_before(tmp_path: Path) -> None:
    g = conv_net()
    args = sample_inputs(g, batch=2, seed=8)
    model = dls.compile(g, seed=2)
    path = save_weights(model, g, tmp_path / "w.safetensors")
    assert_same(run(dls.compile(g, weights=path), args), run(model, args))
    assert_same(run(dls.compile(g, seed=2, weights=None), args), run(model, args))
    report = dls.export_python(g, tmp_path / "m.py", weights=path)
    assert report.worst_diff <= 1e-6 and not (tmp_path / "m.safetensors").exists()


# ---------------------------------------------------------------- layering this module relies on
# io may import compiler, layers, core (analysis through them); compiler may import analysis, layers, core.
ALLOWED = {
    "io": {"io", "compiler", "analysis", "layers", "core"},
    "compiler": {"compiler", "analysis", "layers", "core"},
}


def _dlstudio_imports(path: Path) -> set[str]:
    """Top-level dlstudio packages a module imports, at module level or inside functions."""
    rel = path.relative_to(PKG).parts
    out: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = list(rel[:-1])[: len(rel) - node.level]
                parts = base + (node.module.split(".") if node.module else [])
                if not parts:  # `from .. import x`: the names are the packages
                    out.update(a.name for a in node.names)
                else:
                    out.add(parts[0])
            elif node.module and node.module.split(".")[0] == "dlstudio":
                parts = node.module.split(".")
                out.update([parts[1]] if len(parts) > 1 else [a.name for a in node.names])
        elif isinstance(node, ast.Import):
            for a in node.names:
                parts = a.name.split(".")
                if parts[0] == "dlstudio" and len(parts) > 1:
                    out.add(parts[1])
    return out


@pytest.mark.parametrize("package", sorted(ALLOWED))
def test_package_imports_point_inward(package: str) -> None:
    offenders = {}
    for path in sorted((PKG / package).rglob("*.py")):
        upward = _dlstudio_imports(path) - ALLOWED[package]
        if upward:
            offenders[path.relative_to(PKG).as_posix()] = sorted(upward)
    assert offenders == {}


def test_export_onnx_of_a_project_uses_its_newest_run(tmp_path: Path) -> None:
    """Like File > Export and `dlstudio export`: a finished run newer than the project's weights is what the
    scripted export ships, and its report's model reproduces that run's best weights."""
    from dlstudio.training.project import train_project
    from dlstudio.training.runs import newest_finished, project_runs, run_state

    g = dls.Graph()
    g.output(
        "logits", g.add("Linear", g.add("ReLU", g.add("Linear", g.input("x", (4,)), out_features=8)), out_features=3)
    )
    project = dls.Project(graph=g, data={"dataset": "iris"}, training={"epochs": 3, "lr": 0.05})
    project.save(tmp_path / "iris.dlstudio")
    train_project(project, run_dir=tmp_path / "runs" / "iris-20261206-000000-1")
    newest = newest_finished(project_runs(tmp_path / "runs", project.name), project.graph.to_dict())
    assert newest is not None
    dls.export_onnx(project, tmp_path / "iris.onnx")
    args = sample_inputs(project.graph, 5, seed=3)
    want = run(dls.compile(project.graph, weights=run_state(newest)), args)
    sess = ort.InferenceSession(str(tmp_path / "iris.onnx"), providers=["CPUExecutionProvider"])
    got = sess.run(None, {sess.get_inputs()[0].name: args[0].numpy()})
    np.testing.assert_allclose(got[0], want[0].detach().numpy(), atol=1e-5)
    seeded = run(dls.compile(project.graph, weights=None), args)
    assert_differs([torch.from_numpy(got[0])], seeded)
