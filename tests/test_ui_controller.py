"""The controller and its undo commands, driven without a window: every edit kind undoes and redoes to the
exact same graph, spin-box runs merge into one step, refused connections say why."""

from __future__ import annotations

import pytest

pytest.importorskip("PySide6")

import dlstudio as dls  # noqa: E402
from dlstudio.core.layout import layered_positions  # noqa: E402
from dlstudio.ui.analysis import make_engine  # noqa: E402
from dlstudio.ui.controller import Controller  # noqa: E402


@pytest.fixture
def mlp(qapp):
    g = dls.Graph()
    x = g.input("x", (4,))
    h = g.add("Linear", x, out_features=8, label="fc1")
    h = g.add("ReLU", h, label="act")
    y = g.add("Linear", h, out_features=3, label="fc2")
    g.output("y", y)
    return g


def ids(g, *labels):
    return [g.find(lab).id for lab in labels]


def roundtrip(ctl: Controller, action) -> None:
    """Run `action`, check it changed the graph, undo -> original, redo -> changed state again."""
    g = ctl.graph
    before = g.to_dict()
    assert action() not in (False, None, [])
    after = g.to_dict()
    assert after != before
    ctl.undo()
    assert g.to_dict() == before
    ctl.redo()
    assert g.to_dict() == after


def test_every_edit_kind_undoes_and_redoes(mlp):
    g = mlp
    ctl = Controller(g)
    fc1, act, fc2 = ids(g, "fc1", "act", "fc2")
    roundtrip(ctl, lambda: ctl.add_node("Dropout", (10.0, 20.0)))
    roundtrip(ctl, lambda: ctl.set_param([fc1], "out_features", 16))
    roundtrip(ctl, lambda: ctl.move({fc1: (500.0, 60.0)}))
    roundtrip(ctl, lambda: ctl.rename(fc1, "hidden"))
    roundtrip(ctl, lambda: ctl.set_frozen([fc2], True))
    e = g.in_edges(act)[0]
    roundtrip(ctl, lambda: ctl.remove([], [e]))
    drop = g.find("dropout").id
    roundtrip(ctl, lambda: ctl.connect(g.find("x").id, "out", drop, "x"))
    roundtrip(ctl, lambda: ctl.remove([act]))
    roundtrip(ctl, lambda: ctl.group([fc1, act]))
    gid = next(iter(g.groups))
    roundtrip(ctl, lambda: ctl.set_collapsed(gid, False))
    roundtrip(ctl, lambda: ctl.ungroup(gid))
    roundtrip(ctl, lambda: ctl.paste_dict(ctl.copy_dict([fc1, act])))
    roundtrip(ctl, lambda: ctl.insert_on_wire(g.out_edges(g.find("x").id)[0], type_name="Dropout", position=(0.0, 0.0)))
    roundtrip(ctl, lambda: ctl.auto_layout())
    texts = [ctl.undo_stack.text(i) for i in range(ctl.undo_stack.count())]
    assert "Set out_features = 16 on fc1" in texts and "Rename fc1 to 'hidden'" in texts and "Auto-layout" in texts
    assert "Disconnect hidden \u2192 act" in texts and "Delete act" in texts


def test_spin_box_run_is_one_undo_step(mlp):
    g = mlp
    ctl = Controller(g)
    fc1 = g.find("fc1").id
    for v in range(9, 15):
        ctl.set_param([fc1], "out_features", v)
    assert ctl.undo_stack.count() == 1
    assert ctl.undo_stack.text(0) == "Set out_features = 14 on fc1"
    ctl.undo()
    assert "out_features" in g.node(fc1).params and g.node(fc1).params["out_features"] == 8
    ctl.redo()
    assert g.node(fc1).params["out_features"] == 14
    # another parameter, or an explicit end of the run, starts a new step
    ctl.set_param([fc1], "bias", False)
    ctl.end_merge()
    ctl.set_param([fc1], "bias", True)
    assert ctl.undo_stack.count() == 3
    ctl._last_push -= 10.0  # a pause also ends the run
    ctl.set_param([fc1], "bias", False)
    assert ctl.undo_stack.count() == 4


def test_shared_parameter_edits_all_selected(mlp):
    g = mlp
    ctl = Controller(g)
    fc1, fc2 = ids(g, "fc1", "fc2")
    assert ctl.set_param([fc1, fc2], "out_features", 5)
    assert g.node(fc1).params["out_features"] == g.node(fc2).params["out_features"] == 5
    assert ctl.undo_stack.count() == 1
    ctl.set_param([fc1, fc2], "out_features", 6)
    assert ctl.undo_stack.count() == 1  # the run over several nodes merges too
    ctl.undo()
    assert g.node(fc1).params["out_features"] == 8 and g.node(fc2).params["out_features"] == 3


def test_invalid_value_is_refused_with_reason(mlp):
    ctl = Controller(mlp)
    reasons: list[str] = []
    ctl.refused.connect(reasons.append)
    assert not ctl.set_param([mlp.find("fc1").id], "out_features", 0)
    assert ctl.undo_stack.count() == 0
    assert "must be >= 1" in reasons[0]


def test_refused_connections_say_why(mlp):
    g = mlp
    ctl = Controller(g, engine=make_engine(g))
    fc1, act, fc2 = ids(g, "fc1", "act", "fc2")
    cycle = ctl.check_connection(fc2, "y", fc1, "x")
    assert cycle and "cycle" in cycle
    arity = ctl.check_connection(g.find("x").id, "out", act, "x")
    assert arity and "already has a wire" in arity
    assert ctl.check_connection(fc1, "y", fc1, "x") == "A node cannot feed itself"
    # dtype: integer token ids cannot feed a float-only layer
    tok = g.input("tokens", (12,), dtype="int64")
    lin = g.add("Linear", out_features=2, label="lin")
    reason = ctl.check_connection(tok.node_id, "out", lin.node_id, "x")
    assert reason and "takes float" in reason and "int64" in reason
    emb = g.add("Embedding", num_embeddings=50, embedding_dim=8, label="emb")
    assert ctl.check_connection(tok.node_id, "out", emb.node_id, "x") is None
    refusals: list[str] = []
    ctl.refused.connect(refusals.append)
    n = g.nx.number_of_edges()
    assert not ctl.connect(fc2, "y", fc1, "x")
    assert g.nx.number_of_edges() == n and "cycle" in refusals[-1]


def test_paste_keeps_inner_wires_and_makes_fresh_names(mlp):
    g = mlp
    ctl = Controller(g)
    fc1, act = ids(g, "fc1", "act")
    new = ctl.paste_dict(ctl.copy_dict([fc1, act]))
    assert len(new) == 2 and not set(new) & {fc1, act}
    labels = {g.node(n).label for n in new}
    assert labels == {"fc1_1", "act_1"}
    inner = [e for e in g.edges() if e.src in new and e.dst in new]
    assert len(inner) == 1
    assert g.node(new[0]).position == (g.node(fc1).position[0] + 40, g.node(fc1).position[1] + 40)


def test_copy_paste_keeps_a_whole_block_as_a_block_and_undoes_as_one_step(mlp):
    g = mlp
    ctl = Controller(g)
    fc1, act, fc2 = ids(g, "fc1", "act", "fc2")
    gid = ctl.group([fc1, act], "encoder")
    assert gid is not None
    before = g.to_dict()
    partial = ctl.paste_dict(ctl.copy_dict([fc1]))  # part of a block: just the layer
    assert len(partial) == 1 and g.node(partial[0]).group is None
    new = ctl.paste_dict(ctl.copy_dict([fc1, act, fc2]))  # the whole block plus a layer outside it
    blocks = [b for b in g.groups.values() if b.id != gid]
    assert len(blocks) == 1 and blocks[0].label == "encoder_1"  # numbered like pasted layers
    assert set(blocks[0].node_ids) == set(new[:2]) and g.node(new[2]).group is None
    ctl.undo_stack.undo()
    ctl.undo_stack.undo()
    assert g.to_dict() == before


def test_layered_layout_is_left_to_right(mlp):
    g = mlp
    pos = layered_positions(g)
    order = g.topological_order()
    xs = [pos[n][0] for n in order]
    assert xs == sorted(xs) and len(set(xs)) == len(xs)  # a chain: one column per layer
    b = g.input("b", (8,))
    add = g.add("Add", b, g.find("act").id and dls.api.Ref(g, g.find("act").id, "y"))
    pos = layered_positions(g)
    assert pos[add.node_id][0] > pos[g.find("act").id][0] > pos[g.find("fc1").id][0]
    assert pos[b.node_id][0] == pos[g.find("x").id][0]  # sources share the first column
    assert pos[b.node_id][1] != pos[g.find("x").id][1]
