"""The fx compiler: readable names, several inputs/outputs, groups as submodules, frozen nodes, seeding."""

from __future__ import annotations

import pytest
import torch
import torch.fx as fx

import dlstudio as dls
from dlstudio.core.edits import GroupNodes, Rename, SetFrozen
from dlstudio.core.errors import CompileError


def mlp() -> dls.Graph:
    g = dls.Graph()
    x = g.input("features", shape=(8,))
    h = g.add("Linear", x, out_features=16, label="hidden")
    h = g.add("ReLU", h)
    g.output("logits", g.add("Linear", h, out_features=3, label="head"))
    return g


def test_compiles_to_graph_module_with_readable_names() -> None:
    model = dls.compile(mlp())
    assert isinstance(model, fx.GraphModule)
    names = [n for n, _ in model.named_children()]
    assert names == ["hidden", "relu", "head"]
    assert "self.hidden(features)" in model.code
    assert model(torch.randn(5, 8)).shape == (5, 3)


def test_parameter_count_matches_the_notes_worked_example() -> None:
    # 3 inputs, 5 hidden, 2 outputs: 15 + 10 weights + 5 + 2 biases = 32 parameters
    g = dls.Graph()
    h = g.add("ReLU", g.add("Linear", g.input("x", shape=(3,)), out_features=5))
    g.output("y", g.add("Linear", h, out_features=2))
    assert sum(p.numel() for p in dls.compile(g).parameters()) == 32


def test_hostile_labels_become_safe_unique_attributes() -> None:
    g = mlp()
    for nid in list(g.nodes):
        if g.node(nid).type == "Linear":
            Rename(nid, "x); import os #").apply(g)
    model = dls.compile(g)
    names = [n for n, _ in model.named_children()]
    assert len(set(names)) == len(names)
    assert all(n.isidentifier() for n in names)
    assert model(torch.randn(2, 8)).shape == (2, 3)


def test_several_inputs_and_outputs() -> None:
    g = dls.Graph()
    a = g.input("a", shape=(4,))
    b = g.input("b", shape=(4,))
    s = g.add("Add", a, b)
    g.output("sum", s)
    g.output("proj", g.add("Linear", s, out_features=2))
    model = dls.compile(g)
    xa, xb = torch.randn(3, 4), torch.randn(3, 4)
    out_sum, out_proj = model(xa, xb)
    assert torch.allclose(out_sum, xa + xb)
    assert out_proj.shape == (3, 2)


def test_group_compiles_to_submodule_with_same_outputs() -> None:
    g = mlp()
    flat = dls.compile(g, seed=3)
    hidden = g.find("hidden").id
    relu = g.find("relu").id
    GroupNodes(g.new_id("g"), "encoder block", (hidden, relu)).apply(g)
    grouped = dls.compile(g, seed=3)
    assert isinstance(grouped.get_submodule("encoder_block"), fx.GraphModule)
    assert grouped.node_paths[hidden] == "encoder_block.hidden"
    x = torch.randn(4, 8)
    assert torch.allclose(flat(x), grouped(x))
    assert sum(p.numel() for p in flat.parameters()) == sum(p.numel() for p in grouped.parameters())


def test_frozen_nodes_do_not_train() -> None:
    g = mlp()
    SetFrozen(g.find("hidden").id, True).apply(g)
    model = dls.compile(g)
    assert not any(p.requires_grad for p in model.hidden.parameters())
    assert all(p.requires_grad for p in model.head.parameters())


def test_seed_makes_initialisation_deterministic() -> None:
    a, b, c = dls.compile(mlp(), seed=1), dls.compile(mlp(), seed=1), dls.compile(mlp(), seed=2)
    assert torch.equal(a.hidden.weight, b.hidden.weight)
    assert not torch.equal(a.hidden.weight, c.hidden.weight)


def test_errors_name_the_node() -> None:
    g = dls.Graph()
    g.add("Linear", g.input("x", shape=(4,)), out_features=2, label="orphan_head")
    with pytest.raises(CompileError, match="no Output"):
        dls.compile(g)
    g2 = dls.Graph()
    a = g2.input("a", shape=(4,))
    b = g2.input("b", shape=(5,))
    g2.output("y", g2.add("Add", a, b, label="join"))
    with pytest.raises(CompileError, match="join") as info:
        dls.compile(g2)
    assert info.value.node_id == g2.find("join").id


def test_backward_runs_through_compiled_module() -> None:
    model = dls.compile(mlp())
    loss = model(torch.randn(6, 8)).square().mean()
    loss.backward()
    assert model.hidden.weight.grad is not None
