"""Nested blocks in the core model: hierarchy queries, edits that build and dissolve levels, exact reverts."""

from __future__ import annotations

import random

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dlstudio.core.edits import (
    AddNode,
    Composite,
    Connect,
    GroupNodes,
    RemoveNode,
    SetGroup,
    Ungroup,
)
from dlstudio.core.errors import GraphError
from dlstudio.core.graph import Edge, ModelGraph, Node


def _chain(n: int) -> ModelGraph:
    g = ModelGraph()
    for i in range(1, n + 1):
        AddNode(Node(f"n{i}", "Linear", f"fc{i}", position=(float(i), 0.0))).apply(g)
        if i > 1:
            Connect(Edge(f"n{i - 1}", "y", f"n{i}", "x")).apply(g)
    return g


def _resnet_like() -> ModelGraph:
    """n1 | layer1 > (layer1.0 > n2 n3, layer1.1 > n4 n5) | n6."""
    g = _chain(6)
    GroupNodes("g1", "layer1.0", ("n2", "n3")).apply(g)
    GroupNodes("g2", "layer1.1", ("n4", "n5")).apply(g)
    GroupNodes("g3", "layer1", (), group_ids=("g1", "g2")).apply(g)
    return g


def test_hierarchy_queries_on_a_two_level_tree() -> None:
    g = _resnet_like()
    assert g.child_groups(None) == ["g3"]
    assert g.child_groups("g3") == ["g1", "g2"]
    assert g.child_groups("g1") == []
    assert g.group("g3").node_ids == () and g.group_members("g3") == []
    assert g.group_members("g1") == ["n2", "n3"]
    assert g.group_ancestors("g1") == ["g3"] and g.group_ancestors("g3") == []
    assert g.group_path("g2") == ["g3", "g2"]
    assert g.group_nodes_deep("g3") == ["n2", "n3", "n4", "n5"]
    assert g.node("n4").group == "g2"  # the innermost block
    # what stands for a node at each level
    assert g.owner_at("n4", None) == "g3"
    assert g.owner_at("n4", "g3") == "g2"
    assert g.owner_at("n4", "g2") == "n4"
    assert g.owner_at("n4", "g1") is None
    assert g.owner_at("n1", None) == "n1" and g.owner_at("n1", "g3") is None
    assert g.group_depth("g2") == 1 and g.group_descendants("g3") == ["g1", "g2"]


def test_group_nodes_refuses_items_from_another_level_and_changes_nothing() -> None:
    g = _resnet_like()
    before = g.to_dict()
    with pytest.raises(GraphError, match="one level"):
        GroupNodes("g9", "mixed", ("n1", "n2")).apply(g)  # n2 sits in layer1.0, n1 at the top
    with pytest.raises(GraphError, match="one level"):
        GroupNodes("g9", "mixed", ("n1",), group_ids=("g1",)).apply(g)  # g1 sits in layer1
    with pytest.raises(GraphError, match="at least one"):
        GroupNodes("g9", "empty", ()).apply(g)
    assert g.to_dict() == before


def test_group_inside_a_block_takes_the_nodes_out_of_it_and_revert_puts_them_back() -> None:
    g = _resnet_like()
    before = g.to_dict()
    edit = GroupNodes("g9", "inner", ("n3",), parent="g1")
    edit.apply(g)
    assert g.group("g9").parent == "g1" and g.group_members("g1") == ["n2"]
    assert g.child_groups("g1") == ["g9"] and g.node("n3").group == "g9"
    assert g.owner_at("n3", "g3") == "g1" and g.group_path("g9") == ["g3", "g1", "g9"]
    edit.revert(g)
    assert g.to_dict() == before


def test_ungroup_moves_nodes_and_child_blocks_to_the_parent_and_reverts_exactly() -> None:
    g = _resnet_like()
    before = g.to_dict()
    edit = Ungroup("g3")
    edit.apply(g)
    assert "g3" not in g.groups and g.child_groups(None) == ["g1", "g2"]
    assert g.group("g1").parent is None
    edit.revert(g)
    assert g.to_dict() == before and g.child_groups("g3") == ["g1", "g2"]
    inner = Ungroup("g1")
    inner.apply(g)
    assert g.group_members("g3") == ["n2", "n3"] and g.node("n2").group == "g3"
    inner.revert(g)
    assert g.to_dict() == before


def test_set_group_parent_moves_a_block_and_refuses_cycles() -> None:
    g = _resnet_like()
    SetGroup("g2", "parent", "g1").apply(g)
    assert g.group_path("g2") == ["g3", "g1", "g2"] and g.group_nodes_deep("g1") == ["n2", "n3", "n4", "n5"]
    before = g.to_dict()
    with pytest.raises(GraphError, match="inside it"):
        SetGroup("g3", "parent", "g2").apply(g)
    with pytest.raises(GraphError, match="inside it"):
        SetGroup("g1", "parent", "g1").apply(g)
    with pytest.raises(GraphError):
        SetGroup("g1", "parent", "nope").apply(g)
    assert g.to_dict() == before


def test_group_changed_fires_when_a_parent_changes() -> None:
    g = _resnet_like()
    seen: list[str] = []
    g.group_changed.connect(seen.append)
    SetGroup("g2", "parent", None).apply(g)
    assert seen == ["g2"]


def test_removing_the_last_node_of_nested_blocks_drops_the_emptied_blocks_and_revert_restores_them() -> None:
    g = _chain(3)
    GroupNodes("g1", "inner", ("n2",)).apply(g)
    GroupNodes("g2", "outer", (), group_ids=("g1",)).apply(g)
    before = g.to_dict()
    edit = RemoveNode("n2")
    edit.apply(g)
    assert g.groups == {}  # inner emptied, then outer held nothing
    edit.revert(g)
    assert g.to_dict() == before
    g2 = _resnet_like()
    before2 = g2.to_dict()
    edit2 = Composite("delete", [RemoveNode("n2"), RemoveNode("n3")])
    edit2.apply(g2)
    assert "g1" not in g2.groups and g2.child_groups("g3") == ["g2"]  # layer1 still holds layer1.1
    edit2.revert(g2)
    assert g2.to_dict() == before2


def test_save_load_copy_and_clear_keep_the_tree() -> None:
    g = _resnet_like()
    GroupNodes("g4", "late_top", ("n6",)).apply(g)
    SetGroup("g1", "parent", "g4").apply(g)  # a child listed before its parent in insertion order
    data = g.to_dict()
    assert [gd["id"] for gd in data["groups"]] == ["g1", "g2", "g3", "g4"]
    other = ModelGraph()
    other.load_dict(data)
    assert other.to_dict() == data
    assert other.child_groups("g4") == ["g1"] and other.group_members("g4") == ["n6"]
    assert other.copy().to_dict() == data
    other.clear()
    assert other.to_dict() == {"nodes": [], "edges": [], "groups": []}


def test_load_refuses_a_parent_cycle_and_an_unknown_parent() -> None:
    g = _resnet_like()
    data = g.to_dict()
    data["groups"][2]["parent"] = "g1"  # layer1 inside layer1.0, which is inside layer1
    with pytest.raises(GraphError, match="cycle"):
        ModelGraph().load_dict(data)
    data["groups"][2]["parent"] = "ghost"
    with pytest.raises(GraphError, match="ghost"):
        ModelGraph().load_dict(data)


def test_subgraph_dict_carries_whole_blocks_only() -> None:
    g = _resnet_like()
    sub = g.subgraph_dict(["n2", "n3", "n4"])
    assert [gd["id"] for gd in sub["groups"]] == ["g1"]
    assert sub["groups"][0]["parent"] is None  # layer1 is not taken along
    assert {nd["id"]: nd["group"] for nd in sub["nodes"]} == {"n2": "g1", "n3": "g1", "n4": None}


def _random_nested_edit(g: ModelGraph, rng: random.Random):
    nodes = list(g.nodes)
    kind = rng.choice(["add", "add", "remove", "group", "group", "ungroup", "reparent", "connect"])
    if kind == "add" or not nodes:
        nid = g.new_id("n")
        return AddNode(Node(nid, "ReLU", f"r{nid}"), index=rng.choice([None, 0]))
    if kind == "remove":
        return RemoveNode(rng.choice(nodes))
    if kind == "connect" and len(nodes) >= 2:
        a, b = rng.sample(nodes, 2)
        return None if g.would_create_cycle(a, b) else Connect(Edge(a, "y", b, "x", g.next_slot(b, "x")))
    if kind == "group":
        level = rng.choice([None, *g.groups])
        free = [n for n in nodes if g.node(n).group == level]
        blocks = g.child_groups(level)
        picked_nodes = tuple(rng.sample(free, min(len(free), rng.randint(0, 2))))
        picked_blocks = tuple(rng.sample(blocks, min(len(blocks), rng.randint(0, 2))))
        if rng.random() < 0.1:  # sometimes an invalid mix, which must be refused without a trace
            picked_nodes = tuple(rng.sample(nodes, 1))
        return GroupNodes(g.new_id("g"), "b", picked_nodes, group_ids=picked_blocks, parent=level)
    if kind == "ungroup" and g.groups:
        return Ungroup(rng.choice(list(g.groups)))
    if kind == "reparent" and g.groups:
        return SetGroup(rng.choice(list(g.groups)), "parent", rng.choice([None, *g.groups]))
    return None


def _consistent(g: ModelGraph) -> None:
    for gid, grp in g.groups.items():
        assert all(g.node(n).group == gid for n in grp.node_ids)
        assert gid not in g.group_ancestors(gid)
    for nid, node in g.nodes.items():
        if node.group is not None:
            assert nid in g.group(node.group).node_ids
    assert sorted(x for p in [None, *g.groups] for x in g.child_groups(p)) == sorted(g.groups)


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(rng=st.randoms(use_true_random=False), steps=st.integers(1, 40))
def test_random_nested_edits_revert_and_redo_to_identical_graphs(rng: random.Random, steps: int) -> None:
    g = ModelGraph()
    applied, snapshots = [], [g.to_dict()]
    for _ in range(steps):
        edit = _random_nested_edit(g, rng)
        if edit is None:
            continue
        before = g.to_dict()
        try:
            edit.apply(g)
        except GraphError:
            assert g.to_dict() == before, f"a refused {type(edit).__name__} changed the graph"
            continue
        _consistent(g)
        applied.append(edit)
        snapshots.append(g.to_dict())
        copy = ModelGraph()
        copy.load_dict(snapshots[-1])
        assert copy.to_dict() == snapshots[-1]
    for edit, snap in zip(reversed(applied), reversed(snapshots[:-1])):
        edit.revert(g)
        assert g.to_dict() == snap
        _consistent(g)
    for edit in applied:
        edit.apply(g)
    assert g.to_dict() == snapshots[-1]
