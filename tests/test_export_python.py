"""Python code export: standalone, readable, safe identifiers, parity with the compiled model, golden text; every
example exported once, with parity, and imported back."""

from __future__ import annotations

import ast
import importlib.util
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from examples_matrix import BIG, load, params

import dlstudio as dls
from dlstudio.compiler.samples import as_list, sample_inputs
from dlstudio.core.edits import GroupNodes
from dlstudio.export.python_code import export_python, generate_python

GOLDEN = Path(__file__).parent / "golden"


def mlp() -> dls.Graph:
    g = dls.Graph()
    x = g.input("features", (8,))
    h = g.add("Linear", x, out_features=16, label="hidden")
    h = g.add("ReLU", h)
    g.output("logits", g.add("Linear", h, out_features=3, label="head"))
    return g


def residual(label_in: str = "x", label_fc: str = "fc") -> dls.Graph:
    """A residual MLP whose block is a group (compiles to a nested module, generated as its own class)."""
    g = dls.Graph()
    x = g.input(label_in, (8,))
    h = g.add("Linear", x, out_features=16, label="stem")
    a = g.add("ReLU", h, label="act")
    b = g.add("Linear", a, out_features=16, label=label_fc)
    s = g.add("Add", h, b, label="join")
    g.output("logits", g.add("Linear", s, out_features=3, label="head"))
    GroupNodes(g.new_id("g"), "res block", (a.node_id, b.node_id, s.node_id)).apply(g)
    return g


def _example(name: str):
    return lambda: load(name).graph


@pytest.mark.parametrize(
    "name,build",
    [("mlp", mlp), ("residual", residual), ("lenet5", _example("lenet5")), ("resnet_mini", _example("resnet_mini"))],
)
def test_golden_text(name: str, build) -> None:
    text = generate_python(build(), weights_file=f"{name}.safetensors")
    golden = GOLDEN / f"{name}.py"
    if os.environ.get("DLSTUDIO_UPDATE_GOLDEN"):
        golden.write_text(text, encoding="utf-8")
    assert text == golden.read_text(encoding="utf-8"), (
        f"generated code changed; rerun with DLSTUDIO_UPDATE_GOLDEN=1 if intended and review the diff of {golden}"
    )


def test_group_becomes_class_and_no_dlstudio_import() -> None:
    text = generate_python(residual())
    tree = ast.parse(text)
    classes = [n.name for n in tree.body if isinstance(n, ast.ClassDef)]
    assert classes == ["ResBlock", "Model"]
    imported = [a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names]
    imported += [n.module for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)]
    assert not any(str(m).startswith("dlstudio") for m in imported)
    assert "self.res_block = ResBlock()" in text


def test_parity_and_weights_roundtrip(tmp_path: Path) -> None:
    g = residual()
    model = dls.compile(g, seed=3)
    from dlstudio.export.weights import save_weights_file

    wsrc = save_weights_file(model, g, tmp_path / "src.safetensors", layout="node")
    out = tmp_path / "gen" / "model.py"
    report = export_python(g, out, weights=wsrc, weights_out=tmp_path / "gen" / "model.safetensors")
    assert report.max_abs_diff["logits"] <= 1e-6
    # the generated file runs on its own in a fresh interpreter (no dlstudio on the path) with its weights
    code = (
        f"import sys; sys.path.insert(0, {str(out.parent)!r}); import torch, model; "
        f"m = model.load_model(); x = torch.arange(16.).reshape(2, 8) / 10; print(m(x).sum().item())"
    )
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    res = subprocess.run(
        [sys.executable, "-I", "-c", code], capture_output=True, text=True, env=env, cwd=tmp_path, timeout=120
    )
    assert res.returncode == 0, res.stderr
    with torch.no_grad():
        expected = model.eval()(torch.arange(16.0).reshape(2, 8) / 10).sum().item()
    assert abs(float(res.stdout.strip()) - expected) < 1e-5


def test_hostile_labels_yield_harmless_code(tmp_path: Path) -> None:
    hostile = "x); import os #"
    g = residual(label_in=hostile, label_fc="__import__('os').system('echo pwned')\n")
    g.find("head").label = 'def """\nimport os'
    (group,) = g.groups.values()
    group.label = "Block(nn.Module):\n    import os\nclass X"  # becomes a class name
    text = generate_python(g)
    tree = ast.parse(text)
    imports = {a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
    assert imports <= {"os", "sys", "torch", "torch.nn.functional"}  # os: only for the weights path helper
    # labels only ever become identifiers: no string literal carries them, no call reaches os/eval
    strings = [n.value for n in ast.walk(tree) if isinstance(n, ast.Constant) and isinstance(n.value, str)]
    assert not any("pwned" in s or "import os" in s for s in strings)
    named = {n.func.id for n in ast.walk(tree) if isinstance(n, ast.Call) and isinstance(n.func, ast.Name)}
    attrs = {n.func.attr for n in ast.walk(tree) if isinstance(n, ast.Call) and isinstance(n.func, ast.Attribute)}
    assert not named & {"eval", "exec", "__import__", "compile", "open"}
    assert not attrs & {"system", "popen", "remove"}
    report = export_python(g, tmp_path / "hostile.py")
    assert report.worst_diff <= 1e-6


def test_duplicate_labels_are_deduplicated() -> None:
    g = dls.Graph()
    x = g.input("x", (4,))
    a = g.add("Linear", x, out_features=4, label="fc")
    b = g.add("Linear", a, out_features=4, label="fc")  # unique_label makes fc_1; force a true duplicate
    g.node(b.node_id).label = "fc"
    g.output("y", b)
    text = generate_python(g)
    assert "self.fc = nn.Linear" in text and "self.fc_1 = nn.Linear" in text


@pytest.mark.parametrize("name", params(slow=BIG))
def test_example_python_export_parity_and_imports_back(name: str, tmp_path: Path) -> None:
    """The example's one Python export in the suite: the generated module (it defines classes) == the compiled
    model (<= 1e-6 on every output); the generated module traced back with dls.import_torch compiles to the same
    function (project -> Python -> import round trip, <= 1e-5)."""
    g = load(name).graph
    module_name = f"gen_{name}"
    path = tmp_path / f"{module_name}.py"
    report = export_python(g, path)
    assert report.max_abs_diff and report.worst_diff <= 1e-6, report.max_abs_diff
    assert "class" in path.read_text(encoding="utf-8")
    spec = importlib.util.spec_from_file_location(module_name, path)
    assert spec is not None and spec.loader is not None
    mod = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = mod  # as a normal import would: inspect finds the inlined classes' source
    try:
        spec.loader.exec_module(mod)
        module = mod.load_model()
        module.load_state_dict(dls.compile(g).state_dict())
        inputs = g.nodes_of_type("Input")
        result = dls.import_torch(
            module, [n.params["shape"] for n in inputs], dtypes=[n.params.get("dtype", "float32") for n in inputs]
        )
        args = sample_inputs(g, batch=3, seed=5)
        with torch.no_grad():
            want = as_list(dls.compile(g).eval()(*args))
            got = as_list(result.compile()(*args))
    finally:
        sys.modules.pop(module_name, None)
    diff = max(float((a - b).abs().max()) for a, b in zip(want, got))
    print(f"{name}: python parity {report.worst_diff:.3g}, round trip {diff:.3g}")
    assert diff <= 1e-5, f"round trip differs by {diff:.3g}"
