"""Analysis cost follows the edit: the engine re-infers only the nodes an edit reaches (counted, not timed)."""

from __future__ import annotations

from dlstudio.analysis import diagnostics as D
from dlstudio.analysis.engine import AnalysisEngine
from dlstudio.analysis.structure import group_diagnostics
from dlstudio.core.edits import SetParam
from dlstudio.layers.builder import Ref
from dlstudio.layers.synthetic import nodes_per_block, transformer_model


def _node(g, label):
    return g.find(label).id


def test_synthetic_model_is_grouped_and_checks_clean():
    g = transformer_model(3)
    assert len(g.groups) == 3
    assert all(len(grp.node_ids) == nodes_per_block() for grp in g.groups.values())
    eng = AnalysisEngine(g)
    assert not eng.has_errors(), eng.diagnostics()[:3]
    assert eng.evaluations == len(g)  # the first check infers every node once


def test_shape_preserving_edit_reinfers_one_node():
    g = transformer_model(3)
    eng = AnalysisEngine(g)
    before = eng.evaluations
    SetParam(_node(g, "b1_h0_drop"), "p", 0.3).apply(g)
    eng.refresh()
    assert eng.evaluations - before == 1


def test_shape_changing_edit_reinfers_only_downstream():
    g = transformer_model(3)
    eng = AnalysisEngine(g)
    target = _node(g, "b1_e3_down")
    downstream = g.descendants(target)
    before = eng.evaluations
    SetParam(target, "out_features", 65).apply(g)  # breaks the experts' Add below it
    eng.refresh()
    evaluated = eng.evaluations - before
    assert 1 < evaluated <= 1 + len(downstream)
    assert evaluated < len(g) / 2  # blocks 0 (upstream) and the rest of block 1 are not touched
    assert eng.has_errors()
    SetParam(target, "out_features", 64).apply(g)
    eng.refresh()
    assert not eng.has_errors()


def test_ranked_block_check_matches_the_exhaustive_one():
    g = transformer_model(3)
    eng = AnalysisEngine(g)
    # an ungrouped node on a path that leaves block 0 and comes back into it (no cycle: the ranks stay valid)
    outside = g.add("GELU", Ref(g, _node(g, "b0_e0_down"), "y"), label="outside")
    g.connect(outside, g.find("b0_experts").id, "inputs")
    eng.refresh()
    assert not eng._blocked
    ranked = group_diagnostics(g, eng._rank)
    assert ranked == group_diagnostics(g)
    assert [d.code for d in ranked] == [D.GROUP_NOT_CONVEX]
    assert any(d.code == D.GROUP_NOT_CONVEX for d in eng.diagnostics())
