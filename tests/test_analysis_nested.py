"""Analysis of nested blocks: numbers summed deep, boundary ports, per-block convexity, diff block names."""

from __future__ import annotations

import dlstudio as dls
from dlstudio.analysis.blocks import block_boundary
from dlstudio.analysis.diff import block_of, diff_graphs
from dlstudio.analysis.report import check_graph
from dlstudio.analysis.structure import group_diagnostics
from dlstudio.core.edits import GroupNodes, SetParam, Ungroup


def nested() -> dls.Graph:
    """stem | encoder > (unit > conv_a relu_a, conv_b) | head."""
    g = dls.Graph()
    x = g.input("image", shape=(3, 8, 8))
    stem = g.add("Conv2d", x, out_channels=4, kernel_size=3, padding=1, label="stem")
    a = g.add("Conv2d", stem, out_channels=4, kernel_size=3, padding=1, label="conv_a")
    ra = g.add("ReLU", a, label="relu_a")
    b = g.add("Conv2d", ra, out_channels=6, kernel_size=3, padding=1, label="conv_b")
    flat = g.add("Flatten", b)
    g.output("logits", g.add("Linear", flat, out_features=5, label="head"))
    GroupNodes("g1", "unit", (a.node_id, ra.node_id)).apply(g)
    GroupNodes("g2", "encoder", (b.node_id,), group_ids=("g1",)).apply(g)
    return g


def test_block_numbers_are_summed_over_nested_blocks_and_ports_follow_the_boundary():
    g = nested()
    report = check_graph(g)
    by_label = {b.label: b for b in report.blocks}
    assert [b.label for b in report.blocks] == ["encoder", "unit"]  # parents first
    conv = {n.label: report.stats[nid] for nid, n in g.nodes.items()}
    assert by_label["unit"].params == conv["conv_a"].params
    assert by_label["encoder"].params == conv["conv_a"].params + conv["conv_b"].params
    assert by_label["encoder"].macs == sum(conv[k].macs for k in ("conv_a", "relu_a", "conv_b"))
    assert (by_label["encoder"].layers, by_label["encoder"].blocks, by_label["unit"].depth) == (3, 1, 1)
    assert [str(t) for t in by_label["encoder"].outputs] == ["(N, 6, 8, 8)"]
    assert [str(t) for t in by_label["unit"].inputs] == ["(N, 4, 8, 8)"]
    entering, leaving = block_boundary(g, "g2")
    assert [g.node(e.src).label for e in entering] == ["stem"] and [g.node(e.dst).label for e in leaving] == ["flatten"]
    text = report.format_table()
    assert "encoder" in text and "\n  unit" in text  # the tree is indented
    assert report.to_dict()["blocks"][1]["parent"] == "g2"


def test_a_block_that_holds_only_blocks_is_checked_for_convexity_over_its_contents():
    g = nested()
    assert group_diagnostics(g) == []
    # encoder keeps only unit, and conv_b leaves it: still self-contained (stem -> unit -> conv_b)
    Ungroup("g2").apply(g)
    GroupNodes("g3", "outer", (), group_ids=("g1",)).apply(g)
    assert group_diagnostics(g) == []
    # a block of stem and conv_b around unit's path is not: the path leaves it through unit and comes back
    ids = tuple(g.find(n).id for n in ("stem", "conv_b"))
    GroupNodes("g4", "broken", ids).apply(g)
    codes = [d.code for d in group_diagnostics(g)]
    assert codes == ["group_not_convex"]


def test_diff_names_nested_blocks_by_their_path():
    g = nested()
    assert block_of(g, g.node(g.find("conv_a").id)) == "encoder.unit"
    assert block_of(g, g.node(g.find("conv_b").id)) == "encoder"
    other = g.copy()
    SetParam(other.find("conv_a").id, "out_channels", 4).apply(other)  # unchanged value: same graph
    SetParam(other.find("conv_b").id, "out_channels", 8).apply(other)
    result = diff_graphs(g, other)
    assert [c.new.block for c in result.changed] == ["encoder"]
    assert result.changes_by_block() == {"encoder": 1}
