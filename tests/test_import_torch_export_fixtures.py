"""PyTorch models in the style of the official examples import through torch.export, train, export to ONNX (run in
onnxruntime) and to Python, and the round trip import -> export Python -> import gives the same graph."""

from __future__ import annotations

import importlib
import sys
from collections import Counter
from pathlib import Path

import numpy as np
import onnxruntime as ort
import pytest
import torch

import dlstudio as dls
from dlstudio.cli import run_cli
from dlstudio.layers import get_spec

FIXTURES = Path(__file__).parent / "fixtures" / "torch_models"

# id: (file, class, constructor kwargs, per-sample input shapes, dtypes, outputs that draw random numbers)
CASES = {
    "dcgan_generator": ("dcgan", "Generator", {}, [(16, 1, 1)], None, ()),
    "dcgan_discriminator": ("dcgan", "Discriminator", {}, [(3, 32, 32)], None, ()),
    "vae": ("vae", "VAE", {}, [(1, 28, 28)], None, (0,)),
    "lstm_language_model": ("word_language_model", "RNNModel", {}, [(5,)], ["int64"], ()),
    "gru_language_model": ("word_language_model", "GRUModel", {}, [(5,)], ["int64"], ()),
    "fast_neural_style": ("fast_neural_style", "TransformerNet", {}, [(3, 16, 16)], None, ()),
    "super_resolution": ("fast_neural_style", "SuperResolutionNet", {"upscale_factor": 3}, [(1, 8, 8)], None, ()),
    "mingpt": ("mingpt", "GPT", {}, [(8,)], ["int64"], ()),
    "mnist_rnn": ("mnist_rnn", "Net", {}, [(28, 28)], None, ()),
    "lenet": ("lenet", "LeNet", {}, [(1, 28, 28)], None, ()),
    # sequence first, nn.TransformerEncoder / nn.MultiheadAttention with a mask generated in forward
    "transformer_language_model": ("word_language_model", "TransformerModel", {}, [(5,)], ["int64"], ()),
    "transformer_lm": ("transformer_lm", "TransformerLM", {}, [(6,)], ["int64"], ()),
    "attention_tagger": ("transformer_lm", "AttentionTagger", {}, [(3, 12)], None, ()),
}


def _module(case: str) -> torch.nn.Module:
    file, cls, init, *_ = CASES[case]
    torch.manual_seed(0)
    return getattr(importlib.import_module(f"tests.fixtures.torch_models.{file}"), cls)(**init)


def _import(case: str, tmp_path: Path, capsys) -> dls.Project:
    """Through the CLI, as a user would: model.py:Class --input-shape ... [--input-dtype] [--init]."""
    file, cls, init, shapes, dtypes, _ = CASES[case]
    argv = ["import", f"{FIXTURES / file}.py:{cls}", "-o", str(tmp_path / f"{case}.dlstudio")]
    for s in shapes:
        argv += ["--input-shape", ",".join(map(str, s))]
    for d in dtypes or ():
        argv += ["--input-dtype", d]
    if init:
        import json

        argv += ["--init", json.dumps(init)]
    assert run_cli(argv) == 0, capsys.readouterr().err
    printed = capsys.readouterr().out
    assert "imported graph vs the original on the example input" in printed and "Traceback" not in printed
    return dls.Project.load(tmp_path / f"{case}.dlstudio")


def _inputs(project: dls.Project, batch: int, seed: int) -> list[torch.Tensor]:
    gen = torch.Generator().manual_seed(seed)
    out = []
    for node in project.graph.nodes_of_type("Input"):
        shape = (batch, *node.params["shape"])
        if node.params.get("dtype") == "int64":
            out.append(torch.randint(0, 40, shape, generator=gen))
        else:
            out.append(torch.randn(shape, generator=gen))
    return out


def _train_one_epoch(project: dls.Project, batch: int) -> None:
    """Four steps of SGD on a synthetic set: the loss stays finite and every parameter gets a gradient."""
    model = dls.compile(project.graph, weights=project.weights_path).train()
    before = {k: p.detach().clone() for k, p in model.named_parameters()}
    opt = torch.optim.SGD(model.parameters(), lr=0.01)
    for step in range(4):
        outs = model(*_inputs(project, batch, step))
        outs = outs if isinstance(outs, tuple) else (outs,)
        loss = sum(o.float().pow(2).mean() for o in outs if o.is_floating_point())
        assert torch.isfinite(loss)
        opt.zero_grad()
        loss.backward()
        opt.step()
    moved = {k for k, p in model.named_parameters() if not torch.equal(p, before[k])}
    assert moved, "no parameter trained"
    assert len(moved) >= 0.8 * len(before), f"parameters that did not train: {sorted(set(before) - moved)}"


def _signature(graph) -> tuple[Counter, Counter, list[int]]:
    """The graph up to names: node types with parameters, typed wires, block sizes."""
    nodes = {nid: n for nid, n in graph.nodes.items()}
    kinds = Counter()
    for n in nodes.values():
        params = get_spec(n.type).resolve_params(n.params)  # validated: tuples however the file spelled them
        kinds[(n.type, tuple(sorted((k, repr(v)) for k, v in params.items() if k != "shapes")))] += 1
    wires = Counter((nodes[e.src].type, e.src_port, nodes[e.dst].type, e.dst_port) for e in graph.edges())
    return kinds, wires, sorted(len(g.node_ids) for g in graph.groups.values())


@pytest.mark.parametrize("case", list(CASES))
def test_fixture_imports_trains_and_exports(case: str, tmp_path: Path, capsys) -> None:
    project = _import(case, tmp_path, capsys)
    random_outputs = CASES[case][5]
    graph_batch = 2  # the CLI's example batch: graphs whose ops mix the batch are fixed to it
    _train_one_epoch(project, graph_batch)

    # ONNX: the exported file runs in onnxruntime equal to the compiled project (random outputs aside)
    onnx_path = tmp_path / f"{case}.onnx"
    tolerance = float("inf") if random_outputs else 1e-4
    dls.export_onnx(project, onnx_path, tolerance=tolerance, check_batch=graph_batch)
    model = dls.compile(project.graph, weights=project.weights_path).eval()
    xs = _inputs(project, graph_batch, 7)
    with torch.no_grad():
        want = model(*xs)
    want = want if isinstance(want, tuple) else (want,)
    sess = ort.InferenceSession(str(onnx_path), providers=["CPUExecutionProvider"])
    got = sess.run(None, {i.name: x.numpy() for i, x in zip(sess.get_inputs(), xs)})
    for i, (a, b) in enumerate(zip(want, got)):
        if i not in random_outputs:
            np.testing.assert_allclose(b, a.numpy(), rtol=0, atol=1e-4)

    # Python: the generated module imports back to the same graph
    py_tolerance = float("inf") if random_outputs else 1e-6  # the exporter's check runs without a common seed
    dls.export_python(
        project, tmp_path / f"gen_{case}.py", weights_out=tmp_path / f"gen_{case}.safetensors", tolerance=py_tolerance
    )
    sys.path.insert(0, str(tmp_path))
    try:  # loaded while importing: the importer compares the inlined dlstudio classes by source
        generated = importlib.import_module(f"gen_{case}").load_model()
        again = dls.import_torch(generated, xs)
    finally:
        sys.path.remove(str(tmp_path))
        sys.modules.pop(f"gen_{case}", None)
    first, second = _signature(project.graph), _signature(again.graph)
    assert first == second, [(a - b, b - a) for a, b in zip(first[:2], second[:2])]


def test_branches_and_hierarchy_are_reported(tmp_path: Path) -> None:
    result = dls.import_torch(_module("dcgan_discriminator"), [(3, 32, 32)])
    branches = result.report.details["branches followed"]
    assert branches == ["dcgan.py:51 `if input.is_cuda and self.ngpu > 1:` took the else branch"]
    assert [g.label for g in result.graph.groups.values()] == ["main"]
    assert all(g.collapsed for g in result.graph.groups.values())
    style = dls.import_torch(_module("fast_neural_style"), [(3, 16, 16)])
    labels = {g.label for g in style.graph.groups.values()}
    # blocks named after the attribute paths and nested like the modules: a residual block holds its ConvLayers
    nested = {"res1.conv1", "res1.conv2", "res2.conv1", "res2.conv2"}
    assert labels == {"conv1", "conv2", "res1", "res2", "deconv1", "deconv2"} | nested
    res1 = next(gid for gid, g in style.graph.groups.items() if g.label == "res1")
    assert [style.graph.group(c).label for c in style.graph.child_groups(res1)] == ["res1.conv1", "res1.conv2"]
    assert [style.graph.node(n).type for n in style.graph.group_nodes_deep(res1)].count("Conv2d") == 2
    layers = {n.label: n for n in style.graph.nodes.values()}
    assert layers["conv2d"].type == "Conv2d" and layers["conv2d"].group is not None


def test_random_operator_parity_under_one_seed() -> None:
    """randn_like imports as a generic op; the parity check draws the same numbers in both runs (same seed)."""
    result = dls.import_torch(_module("vae"), [(1, 28, 28)])
    ops = {n.params["op"] for n in result.graph.nodes.values() if n.type == "AtenOp"}
    assert "aten.randn_like.default" in ops
    assert result.report.worst_diff <= 1e-5
