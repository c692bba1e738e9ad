"""Auto-layout of nested blocks: every level is laid out like the top one, a child block being one cell."""

from __future__ import annotations

from dlstudio.core.edits import AddNode, Connect, GroupNodes, SetGroup
from dlstudio.core.graph import Edge, ModelGraph, Node
from dlstudio.core.layout import CARD_H, CARD_W, X_STEP, apply_layout, make_room, plan_layout

Box = tuple[float, float, float, float]


def _graph() -> ModelGraph:
    """n1 -> layer1 > (layer1.0 > n2 n3, layer1.1 > n4 n5, n6) -> n7; n1 also feeds n6 (a skip)."""
    g = ModelGraph()
    for i in range(1, 8):
        AddNode(Node(f"n{i}", "Linear", f"fc{i}")).apply(g)
    for a, b in ((1, 2), (2, 3), (3, 4), (4, 5), (5, 6), (1, 6), (6, 7)):
        Connect(Edge(f"n{a}", "y", f"n{b}", "x" if (a, b) != (1, 6) else "x2")).apply(g)
    GroupNodes("g1", "layer1.0", ("n2", "n3")).apply(g)
    GroupNodes("g2", "layer1.1", ("n4", "n5")).apply(g)
    GroupNodes("g3", "layer1", ("n6",), group_ids=("g1", "g2")).apply(g)
    return g


def _card(p: tuple[float, float]) -> Box:
    return (p[0], p[1], p[0] + CARD_W, p[1] + CARD_H)


def _frame(g: ModelGraph, nodes: dict, groups: dict, gid: str) -> Box:
    """The area a block takes with the planned positions: its card when collapsed, else all it holds."""
    if g.group(gid).collapsed:
        return _card(groups[gid])
    boxes = [_card(nodes[n]) for n in g.group(gid).node_ids] + [
        _frame(g, nodes, groups, c) for c in g.child_groups(gid)
    ]
    return (min(b[0] for b in boxes), min(b[1] for b in boxes), max(b[2] for b in boxes), max(b[3] for b in boxes))


def _apart(a: Box, b: Box) -> bool:
    return a[2] <= b[0] or b[2] <= a[0] or a[3] <= b[1] or b[3] <= a[1]


def test_a_collapsed_nested_block_is_one_cell_and_its_contents_wait_at_its_card():
    g = _graph()
    nodes, groups = plan_layout(g)
    # layer1 is collapsed: the top level is n1, layer1, n7 in three columns
    assert nodes["n1"][0] < groups["g3"][0] < nodes["n7"][0]
    assert nodes["n7"][0] - groups["g3"][0] == X_STEP
    # inside, layer1.0 and layer1.1 are laid out too, starting at layer1's card
    inner = [groups["g1"], groups["g2"], nodes["n6"]]
    assert min(p[0] for p in inner) == groups["g3"][0]
    assert groups["g1"][0] < groups["g2"][0] < nodes["n6"][0]


def test_expanded_blocks_grow_with_their_expanded_children_and_nothing_overlaps():
    g = _graph()
    SetGroup("g3", "collapsed", False).apply(g)
    SetGroup("g2", "collapsed", False).apply(g)
    nodes, groups = plan_layout(g)
    layer1 = _frame(g, nodes, groups, "g3")
    # siblings inside layer1 are apart, and the top-level items are apart from layer1's frame
    inside = [_frame(g, nodes, groups, "g1"), _frame(g, nodes, groups, "g2"), _card(nodes["n6"])]
    assert all(_apart(a, b) for i, a in enumerate(inside) for b in inside[i + 1 :])
    assert _apart(_card(nodes["n1"]), layer1) and _apart(_card(nodes["n7"]), layer1)
    # layer1.1 is expanded: its two layers sit side by side inside it
    assert nodes["n5"][0] - nodes["n4"][0] == X_STEP
    # the same layout with layer1.1 collapsed is narrower
    narrow, _ = plan_layout(g, collapsed={"g2": True})
    assert narrow["n7"][0] < nodes["n7"][0]


def test_laying_out_one_level_moves_only_that_blocks_contents():
    g = _graph()
    apply_layout(g)
    nodes, groups = plan_layout(g, level="g3")
    assert set(nodes) == {"n2", "n3", "n4", "n5", "n6"} and set(groups) == {"g1", "g2"}


def test_expanding_a_nested_block_in_place_makes_room_at_its_level_and_around_its_parent():
    g = _graph()
    SetGroup("g3", "collapsed", False).apply(g)
    apply_layout(g)
    nodes, groups = make_room(g, "g1", collapsed=False)
    assert nodes["n2"] == g.group("g1").position  # the contents start at the card's corner
    # layer1.1, right of layer1.0 inside layer1, moves right with its contents
    assert groups["g2"][0] > g.group("g2").position[0] and nodes["n4"][0] > g.node("n4").position[0]
    # layer1 grew: n7, right of it at the top level, moves right clear of the new frame; n1, left of it, stays
    planned = {n: nodes.get(n, node.position) for n, node in g.nodes.items()}
    planned_groups = {k: groups.get(k, grp.position) for k, grp in g.groups.items()}
    SetGroup("g1", "collapsed", False).apply(g)
    assert _apart(_frame(g, planned, planned_groups, "g3"), _card(planned["n7"]))
    assert "n1" not in nodes
