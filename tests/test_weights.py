"""Weights sidecar: node-keyed safetensors files that load into compiled graphs, with readable mismatch errors."""

from __future__ import annotations

import json

import pytest
import torch
from safetensors import safe_open

import dlstudio as dls
from dlstudio.compiler.weights import load_weights, node_state, save_weights
from dlstudio.core.edits import GroupNodes, Rename
from dlstudio.core.errors import WeightsError


def conv_net(in_channels: int = 1, classes: int = 4, group: bool = False) -> dls.Graph:
    g = dls.Graph()
    x = g.input("image", shape=(in_channels, 8, 8))
    c = g.add("Conv2d", x, out_channels=6, kernel_size=5, label="conv1")
    b = g.add("BatchNorm2d", c, label="bn1")
    r = g.add("ReLU", b)
    f = g.add("Flatten", r)
    g.output("logits", g.add("Linear", f, out_features=classes, label="head"))
    if group:
        GroupNodes("g1", "stem", (c.node_id, b.node_id, r.node_id)).apply(g)
    return g


def randomize_buffers(model: torch.nn.Module) -> None:
    # running stats start at 0/1; give them values so a round trip that skipped buffers would show
    for buf in model.buffers():
        if buf.is_floating_point():
            buf.copy_(torch.rand_like(buf) + 0.5)


def test_round_trip_keys_metadata_and_outputs(tmp_path):
    g = conv_net()
    model = dls.compile(g, seed=1)
    randomize_buffers(model)
    path = save_weights(model, g, tmp_path / "w.safetensors")
    conv_id = g.find("conv1").id
    bn_id = g.find("bn1").id
    with safe_open(str(path), framework="pt") as fh:
        keys = set(fh.keys())
        meta = fh.metadata()
    assert f"{conv_id}.weight" in keys and f"{conv_id}.bias" in keys
    assert {f"{bn_id}.running_mean", f"{bn_id}.running_var", f"{bn_id}.num_batches_tracked"} <= keys
    nodes = json.loads(meta["nodes"])
    assert nodes[conv_id] == {"label": "conv1", "type": "Conv2d"}
    assert meta["format"] == "dlstudio-weights"

    other = dls.compile(g, seed=2, weights=path)
    x = torch.randn(3, 1, 8, 8)
    model.eval(), other.eval()
    assert not torch.equal(dls.compile(g, seed=2).eval()(x), model(x))  # the seeds really differ
    assert torch.equal(other(x), model(x))


def test_weights_survive_grouping_and_renaming(tmp_path):
    flat = conv_net()
    model = dls.compile(flat, seed=3)
    path = save_weights(model, flat, tmp_path / "w.safetensors")
    grouped = conv_net(group=True)
    Rename(grouped.find("conv1").id, "first_conv").apply(grouped)
    loaded = dls.compile(grouped, seed=4, weights=path)
    assert loaded.node_paths[grouped.find("first_conv").id].startswith("stem.")
    x = torch.randn(2, 1, 8, 8)
    assert torch.equal(loaded.eval()(x), model.eval()(x))
    # and back: grouped -> flat
    path2 = save_weights(loaded, grouped, tmp_path / "w2.safetensors")
    back = dls.compile(flat, seed=5, weights=path2)
    assert torch.equal(back.eval()(x), model(x))


def test_shape_mismatch_names_node_and_both_shapes(tmp_path):
    g1 = conv_net(in_channels=1)
    path = save_weights(dls.compile(g1), g1, tmp_path / "w.safetensors")
    g3 = conv_net(in_channels=3)
    with pytest.raises(WeightsError) as info:
        dls.compile(g3, weights=path)
    conv_id = g3.find("conv1").id
    assert f"conv1 ({conv_id}): weight is (6, 1, 5, 5) in the file but the layer needs (6, 3, 5, 5)" in str(info.value)
    assert str(path) in str(info.value)
    assert len(info.value.problems) == 1


def test_missing_and_unexpected_are_listed(tmp_path):
    g = conv_net()
    path = save_weights(dls.compile(g), g, tmp_path / "w.safetensors")
    # a graph without the BatchNorm: the file has tensors for a node this graph lacks
    small = dls.Graph()
    x = small.input("image", shape=(1, 8, 8))
    c = small.add("Conv2d", x, out_channels=6, kernel_size=5, label="conv1")
    f = small.add("Flatten", small.add("ReLU", c))
    small.output("logits", small.add("Linear", f, out_features=4, label="head"))
    extra = small.add("Linear", f, out_features=2, label="aux")
    small.output("aux_out", extra)
    with pytest.raises(WeightsError) as info:
        dls.compile(small, weights=path)
    text = str(info.value)
    bn_id = g.find("bn1").id
    # ids decide: in `small`, the BatchNorm's id belongs to the ReLU
    assert small.node(bn_id).type == "ReLU"
    assert f"running_mean is in the file for bn1, a BatchNorm2d, but {bn_id} is now a ReLU" in text
    aux_id = extra.node_id
    assert aux_id not in {k.split(".")[0] for k in node_state(dls.compile(g), g)}
    assert f"aux ({aux_id}): bias is missing from the file; weight is missing from the file" in text
    # a node id the file has and the graph lacks entirely
    tiny = dls.Graph()
    tiny.output("y", tiny.add("Linear", tiny.input("x", shape=(3,)), out_features=2, label="fc"))
    ids = dict(node_state(dls.compile(g), g))
    ids.update(node_state(dls.compile(tiny), tiny))
    with pytest.raises(WeightsError) as info:
        dls.compile(tiny, weights=ids)
    assert "is not a node of this graph" in str(info.value)


def test_strict_failure_changes_nothing_and_non_strict_loads_what_fits(tmp_path):
    g4 = conv_net(classes=4)
    src = dls.compile(g4, seed=1)
    path = save_weights(src, g4, tmp_path / "w.safetensors")
    g7 = conv_net(classes=7)  # new head: transfer learning
    target = dls.compile(g7, seed=2)
    before = {k: v.clone() for k, v in target.state_dict().items()}
    with pytest.raises(WeightsError):
        load_weights(target, g7, path)
    assert all(torch.equal(before[k], v) for k, v in target.state_dict().items())
    report = load_weights(target, g7, path, strict=False)
    head = g7.find("head").id
    assert sorted(report.mismatched) == [f"{head}.bias", f"{head}.weight"]
    assert not report.missing and not report.unexpected
    conv_path = target.node_paths[g7.find("conv1").id]
    assert torch.equal(
        target.get_parameter(f"{conv_path}.weight"), src.get_parameter(f"{src.node_paths[g4.find('conv1').id]}.weight")
    )
    head_path = target.node_paths[head]
    assert torch.equal(target.get_parameter(f"{head_path}.weight"), before[f"{head_path}.weight"])


def test_dict_sources_node_keyed_nested_and_state_dict():
    g = conv_net()
    src = dls.compile(g, seed=1)
    flat = node_state(src, g)
    nested: dict[str, dict[str, torch.Tensor]] = {}
    for key, t in flat.items():
        nid, name = key.split(".", 1)
        nested.setdefault(nid, {})[name] = t.numpy()  # arrays are accepted too
    x = torch.randn(2, 1, 8, 8)
    expected = src.eval()(x)
    for source in (flat, nested, src.state_dict()):
        m = dls.compile(g, seed=9, weights=source)
        assert torch.equal(m.eval()(x), expected)
    with pytest.raises(WeightsError, match="not a tensor"):
        dls.compile(g, weights={"n2": {"weight": "abc"}})


def test_unreadable_and_missing_files(tmp_path):
    g = conv_net()
    bad = tmp_path / "bad.safetensors"
    bad.write_bytes(b"\xff" * 64)
    with pytest.raises(WeightsError, match="not a readable"):
        dls.compile(g, weights=bad)
    with pytest.raises(WeightsError, match="no such weights file"):
        dls.compile(g, weights=tmp_path / "nope.safetensors")
    with pytest.raises(WeightsError, match="must be a .safetensors path"):
        dls.compile(g, weights=42)


def test_frozen_flags_survive_loading(tmp_path):
    g = conv_net()
    g.node(g.find("conv1").id).frozen = True
    model = dls.compile(g)
    path = save_weights(model, g, tmp_path / "w.safetensors")
    loaded = dls.compile(g, seed=3, weights=path)
    conv_path = loaded.node_paths[g.find("conv1").id]
    assert not loaded.get_parameter(f"{conv_path}.weight").requires_grad
    assert loaded.get_parameter(f"{loaded.node_paths[g.find('head').id]}.weight").requires_grad


def test_project_sidecar(tmp_path):
    g = conv_net()
    project = dls.Project(graph=g)
    with pytest.raises(dls.ProjectFileError):
        project.save_weights(dls.compile(g))
    project.save(tmp_path / "net.dlstudio")
    assert project.weights_path == tmp_path / "net.safetensors"
    assert not project.weights_path.exists()
    fresh = project.compile(seed=5)  # no sidecar yet: seeded initialisation
    trained = dls.compile(g, seed=11)
    project.save_weights(trained)
    again = dls.Project.load(tmp_path / "net.dlstudio").compile(seed=5)
    x = torch.randn(2, 1, 8, 8)
    assert torch.equal(again.eval()(x), trained.eval()(x))
    assert not torch.equal(fresh.eval()(x), trained(x))


def test_wrapped_models_are_unwrapped(tmp_path):
    g = conv_net()
    model = dls.compile(g, seed=1)

    class Wrapper(torch.nn.Module):  # what DistributedDataParallel looks like from outside: `.module`
        def __init__(self, inner: torch.nn.Module) -> None:
            super().__init__()
            self.module = inner

    path = save_weights(Wrapper(model), g, tmp_path / "w.safetensors")
    target = dls.compile(g, seed=2)
    load_weights(Wrapper(target), g, path)
    x = torch.randn(2, 1, 8, 8)
    assert torch.equal(target.eval()(x), model.eval()(x))
    with pytest.raises(WeightsError, match="no node_paths"):
        save_weights(torch.nn.Linear(2, 2), g, tmp_path / "x.safetensors")
