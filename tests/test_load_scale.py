"""Loading large projects: the bookkeeping behind the fast paths keeps the old behaviour."""

from __future__ import annotations

import gc
from pathlib import Path

import pytest

from dlstudio.core.errors import GraphError, ProjectFileError
from dlstudio.core.graph import Edge, ModelGraph, Node
from dlstudio.io.project import Project
from dlstudio.layers.synthetic import transformer_model


def _pair() -> ModelGraph:
    g = ModelGraph()
    for nid in ("a", "b", "c"):
        g._insert_node(Node(nid, "ReLU", nid))
    return g


def test_an_input_slot_takes_one_wire_until_that_wire_goes() -> None:
    g = _pair()
    g._insert_edge(Edge("a", "y", "c", "x"))
    with pytest.raises(GraphError, match="already wired"):
        g._insert_edge(Edge("b", "y", "c", "x"))
    g._insert_edge(Edge("b", "y", "c", "x", slot=1))  # another slot of the same port is free
    g._delete_edge(Edge("a", "y", "c", "x"))
    g._insert_edge(Edge("b", "y", "c", "x"))  # the slot is free again
    assert {(e.src, e.slot) for e in g.in_edges("c")} == {("b", 0), ("b", 1)}
    g.clear()
    g._insert_node(Node("a", "ReLU", "a"))
    g._insert_node(Node("c", "ReLU", "c"))
    g._insert_edge(Edge("a", "y", "c", "x"))  # clear() forgot the old wires


@pytest.mark.parametrize("enabled", [True, False])
def test_load_restores_the_collector_state(tmp_path: Path, enabled: bool) -> None:
    p = Project(meta={"name": "t"})
    p.graph.load_dict(transformer_model(1, grouped=True).to_dict())
    path = p.save(tmp_path / "t.dlstudio")
    (gc.enable if enabled else gc.disable)()
    try:
        loaded = Project.load(path)
        assert gc.isenabled() is enabled
        broken = tmp_path / "broken.dlstudio"
        broken.write_text(path.read_text().replace('"src_port"', '"src_prt"', 1))
        with pytest.raises(ProjectFileError, match="src_prt"):
            Project.load(broken)
        assert gc.isenabled() is enabled
    finally:
        gc.enable()
    assert loaded.graph.to_dict() == p.graph.to_dict()
