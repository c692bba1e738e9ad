"""Every example project loads, checks without errors, compiles and runs forward and backward with the right
output shape, and the originals train for two epochs; the files are exactly what examples/build_examples.py
generates. Which test covers which example: tests/examples_matrix.py."""

from __future__ import annotations

import math

import pytest
import torch
from examples_matrix import ALL, EXAMPLES, FILES, ORIGINAL, build_module, load, params, zoo_names

import dlstudio as dls
from dlstudio.core.tensor import BATCH
from dlstudio.training.config import TASKS, DataConfig, TrainingConfig
from dlstudio.training.data.builtin import BUILTINS

REQUIRED = {"mlp_digits", "lenet5", "resnet_mini", "lstm_sequence", "conv_autoencoder"}

# output shape without the batch dimension, per example
OUTPUT_SHAPES = {
    "mlp_digits": (10,),
    "lenet5": (10,),
    "resnet_mini": (10,),
    "lstm_sequence": (2,),
    "conv_autoencoder": (1, 28, 28),
}


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
    build = build_module()
    assert set(build.EXAMPLES) == {p.stem for p in FILES}
    assert build.main(["--check"]) == 0


def test_every_example_is_an_original_or_a_zoo_template():
    """The parametrized tests cover every example: the originals here, the zoo templates in test_zoo_*.py."""
    assert set(ORIGINAL) == set(OUTPUT_SHAPES)
    assert not set(ORIGINAL) & set(zoo_names())
    assert set(ORIGINAL) | set(zoo_names()) == set(ALL)


# the model-zoo templates (examples/zoo.py) have their own, wider tests in tests/test_zoo_*.py
@pytest.mark.parametrize("name", params(ORIGINAL))
def test_example_loads_checks_compiles_and_runs(name: str) -> None:
    project = load(name)
    assert project.meta["name"] == name
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
    expected = OUTPUT_SHAPES[name]
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


@pytest.mark.train
@pytest.mark.usefixtures("one_torch_thread")
@pytest.mark.parametrize("name", params(ORIGINAL))
def test_original_example_trains_briefly(name: str) -> None:
    """Two epochs on the example's own dataset, with the settings the engine fills in around its hints: the run
    finishes and the training loss falls (the zoo templates train in test_zoo_*.py)."""
    from dlstudio.training.project import make_trainer

    events = list(make_trainer(load(name), use_run_dir=False, epochs=2).run())
    assert type(events[-1]).__name__ == "Finished", getattr(events[-1], "message", events[-1])
    losses = [e.metrics["loss"] for e in events if type(e).__name__ == "EpochEnd"]
    assert len(losses) == 2 and all(math.isfinite(v) for v in losses)
    assert losses[1] < losses[0], losses


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
