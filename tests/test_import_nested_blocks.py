"""Importers nest blocks after the module tree (ONNX name scopes, torch.export's nn_module_stack)."""

from __future__ import annotations

import importlib
import sys
import warnings
from pathlib import Path

import torch
from torch import nn

import dlstudio as dls
from dlstudio.core.edits import AddNode, Connect
from dlstudio.core.graph import Edge, ModelGraph, Node
from dlstudio.importers.block_tree import blocks_per_depth, nest_blocks


class Unit(nn.Module):
    def __init__(self, c: int) -> None:
        super().__init__()
        self.conv = nn.Conv2d(c, c, 3, padding=1)
        self.act = nn.ReLU()

    def forward(self, x):
        return self.act(self.conv(x))


class Res(nn.Module):
    def __init__(self, c: int) -> None:
        super().__init__()
        self.a = Unit(c)
        self.b = Unit(c)

    def forward(self, x):
        return self.b(self.a(x)) + x


class Net(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.stem = nn.Conv2d(3, 4, 3, padding=1)
        self.layer1 = nn.Sequential(Res(4), Res(4))
        self.head = nn.Linear(4 * 6 * 6, 3)

    def forward(self, x):
        return self.head(torch.flatten(self.layer1(self.stem(x)), 1))


def _tree(graph, level=None) -> list:
    return [(graph.group(g).label, _tree(graph, g)) for g in graph.child_groups(level)]


EXPECTED = [
    (
        "layer1",
        [
            ("layer1.0", [("layer1.0.a", []), ("layer1.0.b", [])]),
            ("layer1.1", [("layer1.1.a", []), ("layer1.1.b", [])]),
        ],
    )
]


def test_torch_import_nests_blocks_like_the_modules_and_python_export_keeps_the_nesting(tmp_path: Path):
    result = dls.import_torch(Net().eval(), [(3, 6, 6)])
    graph = result.graph
    assert _tree(graph) == EXPECTED
    assert all(g.collapsed for g in graph.groups.values())
    assert blocks_per_depth(graph) == {0: 1, 1: 2, 2: 4}
    assert result.report.worst_diff <= 1e-5
    # export Python, import the generated module: the same nesting (labels follow the generated attributes)
    dls.save_import(result, tmp_path / "net.dlstudio")
    project = dls.Project.load(tmp_path / "net.dlstudio")
    dls.export_python(project, tmp_path / "gen_net.py", weights_out=tmp_path / "gen_net.safetensors")
    again = _import_generated(tmp_path, "gen_net")
    assert _shape(again) == _shape(graph)


def _import_generated(folder: Path, name: str):
    sys.path.insert(0, str(folder))
    try:
        generated = importlib.import_module(name).load_model()
        return dls.import_torch(generated, [(3, 6, 6)]).graph
    finally:
        sys.path.remove(str(folder))
        sys.modules.pop(name, None)


def _shape(graph, level=None) -> list:
    """The block tree up to names: each block's direct layer count and its children."""
    return [(len(graph.group(c).node_ids), _shape(graph, c)) for c in graph.child_groups(level)]


def test_onnx_import_nests_blocks_by_name_scope(tmp_path: Path):
    path = tmp_path / "net.onnx"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(Net().eval(), (torch.randn(1, 3, 6, 6),), str(path), opset_version=17, dynamo=False)
    graph = dls.import_onnx(path).graph
    # a Unit holds one Conv and one Relu: a container of leaves, so each Unit is a block
    assert _tree(graph) == EXPECTED
    labels = {n.label for n in graph.nodes.values()}
    assert "layer1.0.a.conv" in labels  # layers keep their readable dotted labels
    # exported as Python, the nested classes import back (through torch.export) to the same nesting
    dls.export_python(graph, tmp_path / "gen_onnx_net.py", weights_out=tmp_path / "gen_onnx_net.safetensors")
    again = _import_generated(tmp_path, "gen_onnx_net")
    assert _shape(again) == _shape(graph)


def _chain(n: int) -> ModelGraph:
    g = ModelGraph()
    for i in range(1, n + 1):
        AddNode(Node(f"n{i}", "Linear", f"l{i}")).apply(g)
        if i > 1:
            Connect(Edge(f"n{i - 1}", "y", f"n{i}", "x")).apply(g)
    return g


def test_single_member_and_interleaved_modules_dissolve_into_their_parent():
    g = _chain(6)
    chains = {
        "n2": ("a", "a.only"),  # a.only holds one layer: dissolves into a
        "n3": ("a",),
        "n4": ("b", "b.x"),  # b.x = {n4, n6} with n5 (in b) between: not self-contained, dissolves into b
        "n5": ("b",),
        "n6": ("b", "b.x"),
    }
    made = nest_blocks(g, chains)
    assert sorted(g.group(m).label for m in made) == ["a", "b"]
    assert g.node("n4").group == g.node("n5").group
    assert g.owner_at("n1", None) == "n1"


def test_a_module_that_wraps_a_single_block_gives_way_to_it():
    g = _chain(4)
    chains = {"n2": ("outer", "outer.inner"), "n3": ("outer", "outer.inner")}
    made = nest_blocks(g, chains)
    assert [g.group(m).label for m in made] == ["outer.inner"]  # outer would hold one member: it dissolves
    assert g.group(made[0]).parent is None
