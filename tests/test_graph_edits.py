"""The graph core and its reversible edits: any random sequence of edits, reverted in reverse order, restores
the identical graph; signals fire; bad edits raise GraphError and change nothing."""

from __future__ import annotations

import random

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dlstudio.core.edits import (
    AddNode,
    Composite,
    Connect,
    Disconnect,
    GroupNodes,
    Move,
    RemoveNode,
    Rename,
    SetFrozen,
    SetGroup,
    SetParam,
    Ungroup,
)
from dlstudio.core.errors import GraphError
from dlstudio.core.graph import Edge, ModelGraph, Node

TYPES = ["Linear", "ReLU", "Add", "Conv2d"]


def random_edit(g: ModelGraph, rng: random.Random):
    """A valid edit for the current graph, chosen at random (None when nothing applies)."""
    nodes = list(g.nodes)
    kind = rng.choice(
        [
            "add",
            "add",
            "remove",
            "connect",
            "disconnect",
            "param",
            "move",
            "rename",
            "freeze",
            "group",
            "ungroup",
            "setgroup",
            "composite",
        ]
    )
    if kind == "add" or not nodes:
        nid = g.new_id("n")
        return AddNode(
            Node(
                nid,
                rng.choice(TYPES),
                f"l{nid}",
                {"out_features": rng.randint(1, 9)},
                (rng.uniform(-100, 100), rng.uniform(-100, 100)),
            ),
            index=rng.choice([None, 0, len(nodes) // 2]),
        )
    if kind == "remove":
        return RemoveNode(rng.choice(nodes))
    if kind == "connect" and len(nodes) >= 2:
        a, b = rng.sample(nodes, 2)
        if g.would_create_cycle(a, b):
            return None
        port = rng.choice(["x", "inputs"])
        return Connect(Edge(a, "y", b, port, g.next_slot(b, port)))
    if kind == "disconnect":
        edges = list(g.edges())
        return Disconnect(rng.choice(edges)) if edges else None
    if kind == "param":
        return SetParam(
            rng.choice(nodes), rng.choice(["out_features", "bias", "p"]), rng.choice([1, 2.5, True, [3, 3], "same"])
        )
    if kind == "move":
        picked = rng.sample(nodes, min(len(nodes), rng.randint(1, 3)))
        return Move({n: (rng.uniform(-50, 50), rng.uniform(-50, 50)) for n in picked})
    if kind == "rename":
        return Rename(rng.choice(nodes), rng.choice(["conv", "x); import os #", "ünïcode", ""]))
    if kind == "freeze":
        return SetFrozen(rng.choice(nodes), rng.random() < 0.5)
    free = [n for n in nodes if g.node(n).group is None]
    if kind == "group" and free:
        return GroupNodes(g.new_id("g"), "block", tuple(rng.sample(free, min(len(free), rng.randint(1, 3)))))
    if kind == "ungroup" and g.groups:
        return Ungroup(rng.choice(list(g.groups)))
    if kind == "setgroup" and g.groups:
        gid = rng.choice(list(g.groups))
        attr = rng.choice(["label", "collapsed", "position"])
        value = {"label": "renamed", "collapsed": rng.random() < 0.5, "position": (1.0, 2.0)}[attr]
        return SetGroup(gid, attr, value)
    if kind == "composite" and nodes:
        nid = g.new_id("n")
        return Composite("insert", [AddNode(Node(nid, "ReLU", "r")), Connect(Edge(nodes[0], "y", nid, "x"))])
    return None


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(rng=st.randoms(use_true_random=False), steps=st.integers(1, 40))
def test_random_edits_revert_to_identical_graph(rng: random.Random, steps: int) -> None:
    g = ModelGraph()
    applied = []
    snapshots = [g.to_dict()]
    for _ in range(steps):
        edit = random_edit(g, rng)
        if edit is None:
            continue
        before = g.to_dict()
        try:
            edit.apply(g)
        except GraphError:
            assert g.to_dict() == before, f"a refused {type(edit).__name__} changed the graph"
            continue
        applied.append(edit)
        snapshots.append(g.to_dict())
    for edit, snap in zip(reversed(applied), reversed(snapshots[:-1])):
        edit.revert(g)
        assert g.to_dict() == snap
    assert g.to_dict() == {"nodes": [], "edges": [], "groups": []}
    # and redo replays to the final state
    for edit in applied:
        edit.apply(g)
    assert g.to_dict() == snapshots[-1]


def _three() -> ModelGraph:
    g = ModelGraph()
    for i in range(3):
        AddNode(Node(f"n{i + 1}", "Linear", f"fc{i + 1}")).apply(g)
    Connect(Edge("n1", "y", "n2", "x")).apply(g)
    Connect(Edge("n2", "y", "n3", "x")).apply(g)
    return g


def test_remove_node_restores_wires_group_and_order() -> None:
    g = _three()
    GroupNodes("g1", "block", ("n2", "n3")).apply(g)
    before = g.to_dict()
    e = RemoveNode("n2")
    e.apply(g)
    assert "n2" not in g and g.group("g1").node_ids == ("n3",)
    assert [x.to_dict() for x in g.edges()] == []
    e.revert(g)
    assert g.to_dict() == before


def test_signals_fire_in_past_tense() -> None:
    g = ModelGraph()
    seen: list[tuple] = []
    g.node_added.connect(lambda n: seen.append(("added", n.id)))
    g.param_changed.connect(lambda nid, k, v: seen.append(("param", nid, k, v)))
    g.edge_added.connect(lambda e: seen.append(("edge", e.src, e.dst)))
    AddNode(Node("n1", "Linear", "a")).apply(g)
    AddNode(Node("n2", "ReLU", "b")).apply(g)
    Connect(Edge("n1", "y", "n2", "x")).apply(g)
    SetParam("n1", "out_features", 4).apply(g)
    assert seen == [("added", "n1"), ("added", "n2"), ("edge", "n1", "n2"), ("param", "n1", "out_features", 4)]


def test_setparam_merges_a_run_of_changes_into_one_step() -> None:
    g = _three()
    first = SetParam("n1", "out_features", 5)
    first.apply(g)
    second = SetParam("n1", "out_features", 6)
    second.apply(g)
    assert first.merge_with(second)
    assert not first.merge_with(SetParam("n2", "out_features", 1))
    first.revert(g)
    assert "out_features" not in g.node("n1").params


def test_bad_edits_raise_and_change_nothing() -> None:
    g = _three()
    before = g.to_dict()
    with pytest.raises(GraphError):
        Connect(Edge("n1", "y", "n2", "x")).apply(g)  # already wired, same slot
    with pytest.raises(GraphError):
        Connect(Edge("n1", "y", "missing", "x")).apply(g)
    with pytest.raises(GraphError):
        AddNode(Node("n1", "ReLU", "dup")).apply(g)
    with pytest.raises(GraphError):
        Composite("half", [AddNode(Node("n9", "ReLU", "r")), Connect(Edge("n9", "y", "nope", "x"))]).apply(g)
    assert g.to_dict() == before
    assert g.would_create_cycle("n3", "n1") and not g.would_create_cycle("n1", "n3")


def test_ids_are_never_recycled() -> None:
    g = ModelGraph()
    a = g.new_id()
    AddNode(Node(a, "ReLU", "r")).apply(g)
    RemoveNode(a).apply(g)
    assert g.new_id() != a


def test_remove_node_with_a_self_wire_reverts_cleanly() -> None:
    g = ModelGraph()
    AddNode(Node("n1", "Add", "loop")).apply(g)
    Connect(Edge("n1", "y", "n1", "inputs", 0)).apply(g)
    before = g.to_dict()
    e = RemoveNode("n1")
    e.apply(g)
    assert len(g) == 0
    e.revert(g)
    assert g.to_dict() == before
