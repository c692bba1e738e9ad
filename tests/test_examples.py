"""Every example project loads, checks without errors, compiles and runs forward and backward with the right
output shape; the files are exactly what examples/build_examples.py generates."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest
import torch

import dlstudio as dls
from dlstudio.core.tensor import BATCH
from dlstudio.training.config import TASKS, DataConfig, TrainingConfig
from dlstudio.training.data.builtin import BUILTINS

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
FILES = sorted(EXAMPLES.glob("*.dlstudio"))
REQUIRED = {"mlp_digits", "lenet5", "resnet_mini", "lstm_sequence", "conv_autoencoder"}

# output shape without the batch dimension, per example
OUTPUT_SHAPES = {
    "mlp_digits": (10,),
    "lenet5": (10,),
    "resnet_mini": (10,),
    "lstm_sequence": (2,),
    "conv_autoencoder": (1, 28, 28),
}


def _build_module():
    spec = importlib.util.spec_from_file_location("build_examples", EXAMPLES / "build_examples.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules.setdefault("build_examples", module)
    spec.loader.exec_module(module)
    return module


def _inputs(graph: dls.Graph, batch: int) -> list[torch.Tensor]:
    out = []
    for node in graph.nodes_of_type("Input"):
        shape = (batch, *node.params["shape"])
        if node.params.get("dtype") == "int64":
            high = next(n.params["num_embeddings"] for n in graph.nodes_of_type("Embedding"))
            out.append(torch.randint(0, high, shape))
        else:
            out.append(torch.rand(shape))
    return out


def test_the_required_examples_exist():
    assert REQUIRED <= {p.stem for p in FILES}


def test_files_match_the_generator():
    build = _build_module()
    assert set(build.EXAMPLES) == {p.stem for p in FILES}
    assert build.main(["--check"]) == 0


# the model-zoo templates (examples/zoo.py) have their own, wider tests in tests/test_zoo_*.py
@pytest.mark.parametrize("path", [p for p in FILES if p.stem in OUTPUT_SHAPES], ids=lambda p: p.stem)
def test_example_loads_checks_compiles_and_runs(path: Path) -> None:
    project = dls.Project.load(path)
    assert project.meta["name"] == path.stem
    assert len(project.meta["description"]) > 20 and len(project.meta["explanation"]) > 200
    # the sections are only hints, in the training engine's own vocabulary, and its configs accept them
    assert project.data["dataset"] in BUILTINS
    assert project.training["task"] in TASKS
    DataConfig.from_dict(project.data)
    TrainingConfig.from_dict(project.training)

    report = dls.check(project.graph)
    assert report.errors == [], [str(d) for d in report.errors]
    (out_node,) = project.graph.nodes_of_type("Output")
    (edge,) = project.graph.in_edges(out_node.id)
    expected = OUTPUT_SHAPES[path.stem]
    src_ports = [
        p
        for p in dls.layers.get_spec(project.graph.node(edge.src).type).output_ports(
            project.graph.node(edge.src).params
        )
    ]
    port_index = [p.name for p in src_ports].index(edge.src_port)
    assert report.shapes[edge.src][port_index].shape == (BATCH, *expected)

    model = dls.compile(project.graph, seed=0)
    assert report.totals.params == sum(p.numel() for p in model.parameters())
    model.train()
    xs = _inputs(project.graph, batch=3)
    y = model(*xs)
    assert tuple(y.shape) == (3, *expected)
    y.float().pow(2).mean().backward()
    grads = [p.grad for p in model.parameters()]
    assert all(g is not None and torch.isfinite(g).all() for g in grads)
    assert any(g.abs().sum() > 0 for g in grads)


def test_lenet5_is_the_classic_size():
    project = dls.Project.load(EXAMPLES / "lenet5.dlstudio")
    model = dls.compile(project.graph)
    assert sum(p.numel() for p in model.parameters()) == 61_706
    convs = project.graph.nodes_of_type("Conv2d")
    assert [(c.params["out_channels"], c.params["kernel_size"]) for c in convs] == [(6, 5), (16, 5)]
    assert convs[0].params["padding"] == 2


def test_resnet_mini_has_residual_blocks_as_groups():
    project = dls.Project.load(EXAMPLES / "resnet_mini.dlstudio")
    g = project.graph
    adds = g.nodes_of_type("Add")
    assert len(adds) == 2
    assert len(g.groups) >= 1
    for add in adds:
        assert add.group is not None
        sources = [e.src for e in g.edges_into(add.id, "inputs")]
        # one wire comes from inside the block, the skip from outside it
        assert {g.node(s).group == add.group for s in sources} == {True, False}
    model = dls.compile(g)
    group_label = next(iter(g.groups.values())).label
    assert isinstance(getattr(model, group_label), torch.fx.GraphModule)


def test_lstm_sequence_and_autoencoder_shapes():
    lstm = dls.Project.load(EXAMPLES / "lstm_sequence.dlstudio").graph
    assert lstm.nodes_of_type("LSTM") and lstm.nodes_of_type("Input")[0].params["dtype"] == "int64"
    ae = dls.Project.load(EXAMPLES / "conv_autoencoder.dlstudio").graph
    assert ae.nodes_of_type("ConvTranspose2d") and ae.nodes_of_type("Conv2d")
    assert tuple(ae.nodes_of_type("Input")[0].params["shape"]) == OUTPUT_SHAPES["conv_autoencoder"]


def test_weights_sidecar_round_trip_on_an_example(tmp_path):
    project = dls.Project.load(EXAMPLES / "resnet_mini.dlstudio")
    project.save(tmp_path / "resnet_mini.dlstudio")
    trained = dls.compile(project.graph, seed=7)
    project.save_weights(trained)
    again = dls.Project.load(tmp_path / "resnet_mini.dlstudio").compile(seed=0)
    x = torch.rand(2, 1, 8, 8)
    assert torch.equal(again.eval()(x), trained.eval()(x))
