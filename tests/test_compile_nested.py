"""Nested blocks compile to nested GraphModules; weights keep following nodes across regrouping."""

from __future__ import annotations

import pytest
import torch
from torch import fx

import dlstudio as dls
from dlstudio.compiler.weights import load_weights, save_state_dict, save_weights
from dlstudio.core.edits import GroupNodes, Ungroup
from dlstudio.core.errors import CompileError


def resnet_like() -> dls.Graph:
    """stem | layer1 > (layer1.0 > conv_a relu_a, layer1.1 > conv_b) + join | head."""
    g = dls.Graph()
    x = g.input("image", shape=(3, 8, 8))
    stem = g.add("Conv2d", x, out_channels=4, kernel_size=3, padding=1, label="stem")
    a = g.add("Conv2d", stem, out_channels=4, kernel_size=3, padding=1, label="conv_a")
    ra = g.add("ReLU", a, label="relu_a")
    b = g.add("Conv2d", ra, out_channels=4, kernel_size=3, padding=1, label="conv_b")
    join = g.add("Add", b, stem, label="join")
    flat = g.add("Flatten", join)
    g.output("logits", g.add("Linear", flat, out_features=5, label="head"))
    GroupNodes("g1", "layer1.0", (a.node_id, ra.node_id)).apply(g)
    GroupNodes("g2", "layer1.1", (b.node_id,)).apply(g)
    GroupNodes("g3", "layer1", (join.node_id,), group_ids=("g1", "g2")).apply(g)
    return g


def test_blocks_compile_to_nested_graph_modules_with_the_same_outputs_as_flat():
    g = resnet_like()
    model = dls.compile(g)
    assert isinstance(model.layer1, fx.GraphModule)
    assert isinstance(model.layer1.layer1_0, fx.GraphModule) and isinstance(model.layer1.layer1_1, fx.GraphModule)
    assert model.node_paths[g.find("conv_a").id] == "layer1.layer1_0.conv_a"
    assert "layer1.layer1_0.conv_a.weight" in model.state_dict()
    flat = g.copy()
    for gid in ("g3", "g1", "g2"):
        Ungroup(gid).apply(flat)
    flat_model = dls.compile(flat)
    load_weights(flat_model, flat, {k: v for k, v in _node_state(model, g).items()})
    x = torch.randn(2, 3, 8, 8)
    torch.testing.assert_close(model(x), flat_model(x))


def _node_state(model, graph):
    from dlstudio.compiler.weights import node_state

    return node_state(model, graph)


def test_weights_round_trip_through_both_file_layouts(tmp_path):
    g = resnet_like()
    model = dls.compile(g, seed=1)
    x = torch.randn(1, 3, 8, 8)
    expected = model(x)
    node_file = save_weights(model, g, tmp_path / "w.safetensors")
    state_file = save_state_dict(model, g, tmp_path / "s.safetensors")
    for source in (node_file, state_file):
        fresh = dls.compile(g, seed=2)
        assert not torch.allclose(fresh(x), expected)
        assert load_weights(fresh, g, source).ok
        torch.testing.assert_close(fresh(x), expected)
    # a file saved from the flat graph loads into the nested one: keys follow nodes, not paths
    flat = g.copy()
    for gid in ("g3", "g1", "g2"):
        Ungroup(gid).apply(flat)
    flat_model = dls.compile(flat, seed=3)
    flat_file = save_state_dict(flat_model, flat, tmp_path / "flat.safetensors")
    nested = dls.compile(g, seed=4)
    assert load_weights(nested, g, flat_file).ok
    torch.testing.assert_close(nested(x), flat_model(x))


def test_a_child_block_that_is_not_self_contained_in_its_parent_is_named():
    g = resnet_like()
    # layer1.0 gets conv_a and conv_b while relu_a (between them) stays directly in layer1
    Ungroup("g2").apply(g)
    Ungroup("g1").apply(g)
    ids = [g.find(n).id for n in ("conv_a", "conv_b")]
    GroupNodes("g9", "split", tuple(ids), parent="g3").apply(g)
    with pytest.raises(CompileError, match=r"Block 'split' \(in block 'layer1'\)"):
        dls.compile(g)


def test_an_input_inside_a_nested_block_is_refused():
    g = resnet_like()
    x = g.find("image").id
    GroupNodes("g9", "wrap", (x,)).apply(g)
    with pytest.raises(CompileError, match="cannot be inside a block"):
        dls.compile(g)


def test_nested_graph_exports_to_python_and_onnx_that_match(tmp_path):
    import numpy as np
    import onnxruntime as ort

    g = resnet_like()
    report = dls.export_python(g, tmp_path / "nested_model.py")
    text = (tmp_path / "nested_model.py").read_text()
    assert "class Layer1_0(nn.Module)" in text and "self.layer1_0 = Layer1_0()" in text
    assert report.worst_diff <= 1e-5
    dls.export_onnx(g, tmp_path / "nested.onnx")
    model = dls.compile(g).eval()
    x = torch.randn(2, 3, 8, 8)
    sess = ort.InferenceSession(str(tmp_path / "nested.onnx"), providers=["CPUExecutionProvider"])
    (got,) = sess.run(None, {sess.get_inputs()[0].name: x.numpy()})
    with torch.no_grad():
        np.testing.assert_allclose(got, model(x).numpy(), rtol=0, atol=1e-5)
