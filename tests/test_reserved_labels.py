"""Node labels that are nn.Module attribute names (load_state_dict, forward, to, ...) compile, export and run:
the compiler takes its reserved names from torch, not from a hand-kept list."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import onnxruntime as ort
import pytest
import torch
from safetensors.torch import load_file

import dlstudio as dls
from dlstudio.compiler.names import module_attributes, safe_identifier
from dlstudio.core.edits import GroupNodes

LABELS = ("load_state_dict", "forward", "parameters", "to", "train", "state_dict")


def _graph() -> dls.Graph:
    """A chain of layers labelled with the names above, two of them grouped into a block labelled 'modules'; the
    Input is labelled 'parameters' and the Output 'state_dict'."""
    g = dls.Graph()
    h = g.input("parameters", (6,))
    for i, label in enumerate(LABELS):
        h = g.add("Linear" if i % 2 == 0 else "Tanh", h, label=label, **({"out_features": 6} if i % 2 == 0 else {}))
    g.output("state_dict", h)
    GroupNodes("g1", "modules", (g.find("to").id, g.find("train").id)).apply(g)
    return g


def test_every_nn_module_attribute_is_reserved() -> None:
    names = module_attributes()
    assert {n for n in dir(torch.nn.Module) if not n.startswith("_")} <= names
    assert {"training", "graph", "code", "meta", "node_paths"} <= names
    for label in LABELS:
        assert safe_identifier(label) != label


@pytest.mark.slow
def test_graphs_labelled_with_module_attributes_compile_export_and_run(tmp_path: Path) -> None:
    g = _graph()
    model = dls.compile(g, seed=4).eval()
    x = torch.randn(2, 6)
    with torch.no_grad():
        want = model(x)
    assert want.shape == (2, 6)
    model.load_state_dict(model.state_dict())  # the module's own methods are not shadowed
    assert isinstance(model.to(torch.float32), torch.nn.Module) and callable(model.parameters)

    onnx_report = dls.export_onnx(g, tmp_path / "m.onnx", weights=model.state_dict())
    assert onnx_report.max_abs_diff
    sess = ort.InferenceSession(str(tmp_path / "m.onnx"), providers=["CPUExecutionProvider"])
    np.testing.assert_allclose(sess.run(None, {"parameters": x.numpy()})[0], want.numpy(), atol=1e-5)

    py = tmp_path / "m.py"
    dls.export_python(g, py, weights=model.state_dict(), weights_out=tmp_path / "m.safetensors")
    spec = importlib.util.spec_from_file_location("reserved_labels_export", py)
    assert spec is not None and spec.loader is not None
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    generated = mod.Model()
    generated.load_state_dict(load_file(str(tmp_path / "m.safetensors")))
    generated.train(False)
    with torch.no_grad():
        torch.testing.assert_close(generated(x), want)
