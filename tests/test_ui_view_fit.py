"""The canvas view helps rather than fights: opening and auto-layout end fitted at a readable zoom, F fits
everything whatever is selected, Shift+F the selection, drops land where released without scrolling, expanding
any block re-lays out its neighbours (no overlaps), and the minimap stays off a graph that fits."""

from __future__ import annotations

from pathlib import Path

import pytest

pytest.importorskip("PySide6")
pytest.importorskip("pytestqt")

from PySide6.QtCore import QPoint, QPointF, QRectF, Qt  # noqa: E402
from PySide6.QtGui import QDropEvent  # noqa: E402

from dlstudio.io.project import Project  # noqa: E402
from dlstudio.ui.canvas.items import BlockItem, NodeItem  # noqa: E402
from dlstudio.ui.palette import layer_mime  # noqa: E402

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
READABLE = 0.6


def chain(n: int) -> Project:
    p = Project(meta={"name": f"chain{n}"})
    g = p.graph
    h = g.input("x", (16,))
    for i in range(n - 2):
        h = g.add("Linear", h, out_features=16, label=f"fc{i}")
    g.output("y", h)
    return p


@pytest.fixture
def win(quiet_window):
    return quiet_window


def visible_rect(win) -> QRectF:
    v = win.view
    return v.mapToScene(v.viewport().rect()).boundingRect()


def shown_items(win) -> list[NodeItem]:
    return [i for i in list(win.scene.nodes.values()) + list(win.scene.blocks.values()) if i.isVisible()]


def all_in_view(win) -> bool:
    vis = visible_rect(win)
    return all(vis.contains(i.sceneBoundingRect()) for i in shown_items(win))


def fits_at_readable_zoom(win) -> bool:
    rect = QRectF()
    for i in shown_items(win):
        rect = rect.united(i.sceneBoundingRect())
    vp = win.view.viewport().rect()
    return rect.width() * READABLE <= vp.width() - 40 and rect.height() * READABLE <= vp.height() - 40


def settle(qtbot) -> None:
    qtbot.wait(50)


@pytest.mark.parametrize("name", ["perceptron", "lstm_forecaster", "dcgan", "resnet_mini", "lenet5"])
def test_open_ends_readable(qtbot, win, name):
    win.set_project(Project.load(EXAMPLES / f"{name}.dlstudio"))
    settle(qtbot)
    assert win.view.zoom >= READABLE - 1e-6
    if fits_at_readable_zoom(win):
        assert all_in_view(win), name
    else:  # too long to fit legibly: its beginning is on screen
        first = win.scene.nodes[win.project.graph.topological_order()[0]]
        vis = visible_rect(win)
        assert vis.contains(first.sceneBoundingRect())
        cut = [
            i
            for i in shown_items(win)
            if vis.intersects(i.sceneBoundingRect()) and not vis.contains(i.sceneBoundingRect())
        ]
        assert not cut  # no card cut in half at the edge
    assert win.controller.undo_stack.isClean()


def test_open_refits_while_the_window_settles(qtbot, win):
    win.resize(700, 500)
    win.set_project(chain(4))
    settle(qtbot)
    win.resize(1440, 900)  # the start screen: the window reaches its size after the first fit
    qtbot.waitUntil(lambda: all_in_view(win) and win.view.zoom >= READABLE, timeout=3000)
    win.view.set_zoom(1.3)  # once the user zooms, a resize leaves the view alone
    z = win.view.zoom
    win.resize(1300, 850)
    settle(qtbot)
    assert win.view.zoom == pytest.approx(z)


def test_auto_layout_with_a_selection_fits_everything(qtbot, win):
    win.set_project(chain(4))
    settle(qtbot)
    first = win.project.graph.topological_order()[0]
    win.scene.select_nodes([first])
    win.auto_layout()
    settle(qtbot)
    assert all_in_view(win)
    assert win.view.zoom >= READABLE


def test_f_fits_all_with_a_selection_and_shift_f_fits_the_selection(qtbot, win):
    win.set_project(chain(6))
    settle(qtbot)
    order = win.project.graph.topological_order()
    win.scene.select_nodes([order[2]])
    win.view.setFocus()
    qtbot.keyClick(win.view, Qt.Key.Key_F)
    assert all_in_view(win)
    whole = win.view.zoom
    qtbot.keyClick(win.view, Qt.Key.Key_F, Qt.KeyboardModifier.ShiftModifier)
    sel = win.scene.nodes[order[2]].sceneBoundingRect()
    assert visible_rect(win).contains(sel)
    assert abs(visible_rect(win).center().x() - sel.center().x()) < 5
    assert win.view.zoom > whole
    assert not all_in_view(win)


def drop(win, type_name: str, at: QPoint) -> None:
    md = layer_mime(type_name)  # kept alive while the event uses it
    ev = QDropEvent(
        QPointF(at), Qt.DropAction.CopyAction, md, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier
    )
    win.view.dropEvent(ev)


def test_dropped_nodes_land_where_released_and_the_view_stays(qtbot, win):
    win.set_project(chain(3))
    settle(qtbot)
    v = win.view
    for k, at in enumerate([QPoint(120, 400), QPoint(700, 60), QPoint(60, 520), QPoint(800, 500)]):
        h, vv, t = v.horizontalScrollBar().value(), v.verticalScrollBar().value(), v.transform()
        before = set(win.project.graph.nodes)
        drop(win, "ReLU", at)
        settle(qtbot)
        (nid,) = set(win.project.graph.nodes) - before
        assert (v.horizontalScrollBar().value(), v.verticalScrollBar().value()) == (h, vv), k
        assert v.transform() == t
        scene_pt = v.mapToScene(at)
        item = win.scene.nodes[nid]
        # the window places the card's title under the cursor (offset, snapped to the grid)
        assert item.sceneBoundingRect().contains(scene_pt), k
        node = win.project.graph.node(nid)
        assert abs(node.position[0] - (scene_pt.x() - 90)) <= 10 and abs(node.position[1] - (scene_pt.y() - 40)) <= 10
        assert item.pos() == QPointF(*node.position)


def overlaps(win) -> list[tuple[str, str]]:
    """Pairs of shown cards (nodes, collapsed blocks) that intersect, and cards inside a foreign expanded frame."""
    scene, graph = win.scene, win.project.graph
    cards = [(k, i.sceneBoundingRect().adjusted(4, 4, -4, -4)) for k, i in scene.nodes.items() if i.isVisible()]
    cards += [(g, b.sceneBoundingRect().adjusted(4, 4, -4, -4)) for g, b in scene.blocks.items() if b.collapsed]
    bad = [(a, b) for i, (a, ra) in enumerate(cards) for b, rb in cards[i + 1 :] if ra.intersects(rb)]
    for gid, block in scene.blocks.items():
        if block.collapsed or not block.isVisible():
            continue
        frame = block.sceneBoundingRect()
        members = set(graph.group(gid).node_ids)
        bad += [(gid, k) for k, r in cards if k not in members and k != gid and frame.intersects(r)]
    return bad


TEMPLATES = sorted(p.stem for p in EXAMPLES.glob("*.dlstudio") if Project.load(p).graph.groups)


@pytest.mark.parametrize("name", TEMPLATES)
def test_expanding_every_block_overlaps_nothing(qtbot, win, name):
    win.set_project(Project.load(EXAMPLES / f"{name}.dlstudio"))
    settle(qtbot)
    graph = win.project.graph
    assert not overlaps(win)
    for gid in list(graph.groups):  # one at a time, each time a new layout
        win.controller.set_collapsed(gid, False)
        settle(qtbot)
        assert not graph.group(gid).collapsed
        assert not overlaps(win), (name, gid, overlaps(win))
    for gid in list(graph.groups):
        win.controller.set_collapsed(gid, True)
        assert not overlaps(win), (name, gid, overlaps(win))
    win.controller.undo_stack.undo()  # one undo step restores the block and its neighbours
    assert not overlaps(win)


def test_expanding_keeps_the_block_in_place(qtbot, win):
    win.set_project(Project.load(EXAMPLES / "resnet_mini.dlstudio"))
    settle(qtbot)
    graph = win.project.graph
    gid = next(iter(graph.groups))
    before = graph.group(gid).position
    win.controller.set_collapsed(gid, False)
    assert graph.group(gid).position == before
    assert win.controller.undo_stack.count() == 1


def minimap_covers_a_node(win) -> bool:
    mm = win.view.minimap
    area = win.view.mapToScene(mm.geometry()).boundingRect()
    return any(area.intersects(i.sceneBoundingRect()) for i in shown_items(win))


def test_minimap_hidden_while_the_graph_fits_and_redrawn_after_edits(qtbot, win):
    win.set_project(chain(3))
    settle(qtbot)
    assert all_in_view(win)
    assert not win.view.minimap.isVisible()
    win.set_project(chain(14))  # too long to fit legibly: opens on its inputs, the overview shows the rest
    settle(qtbot)
    assert not all_in_view(win)
    assert win.view.minimap.isVisible()
    assert not minimap_covers_a_node(win)
    for _ in range(8):  # zoomed in and panned about, it moves to a free corner or steps aside
        win.view.set_zoom(1.3)
        win.view.horizontalScrollBar().setValue(win.view.horizontalScrollBar().value() + 150)
        settle(qtbot)
        assert not (win.view.minimap.isVisible() and minimap_covers_a_node(win))
    before = win.view.minimap.refreshes
    x = win.project.graph.topological_order()[0]
    win.controller.set_param([x], "shape", (32,))
    qtbot.waitUntil(lambda: win.view.minimap.refreshes > before, timeout=2000)
    win.view.fit()
    settle(qtbot)
    assert not win.view.minimap.isVisible()


def test_a_collapsed_block_is_one_card(qtbot, win):
    win.set_project(Project.load(EXAMPLES / "resnet_mini.dlstudio"))
    settle(qtbot)
    assert any(isinstance(i, BlockItem) and i.isVisible() for i in shown_items(win))


def test_auto_layout_wraps_a_long_chain_to_fit_readably(qtbot, win):
    win.set_project(chain(12))
    settle(qtbot)
    win.scene.select_nodes([win.project.graph.topological_order()[3]])
    win.auto_layout()
    settle(qtbot)
    assert win.view.zoom >= READABLE
    assert all_in_view(win)
    assert not overlaps(win)


def test_plan_layout_wraps_only_long_graphs():
    from dlstudio.core.layout import X_STEP, plan_layout

    short, long_ = chain(6).graph, chain(12).graph
    pos, _ = plan_layout(short, max_width=3 * X_STEP)
    assert len({p[1] for p in pos.values()}) == 1  # one row
    pos, _ = plan_layout(long_, max_width=4 * X_STEP)
    order = long_.topological_order()
    rows = sorted({p[1] for p in pos.values()})
    assert len(rows) == 3 and max(p[0] for p in pos.values()) < 4 * X_STEP
    assert [pos[n][1] for n in order] == sorted(pos[n][1] for n in order)  # bands top to bottom, in order
    assert plan_layout(long_)[0] == plan_layout(long_, max_width=None)[0]


def test_a_wrapped_graph_taller_than_the_view_opens_on_its_inputs(qtbot, win):
    from dlstudio.core.layout import apply_layout

    p = chain(60)
    apply_layout(p.graph, max_width=1400)
    win.set_project(p)
    settle(qtbot)
    assert win.view.zoom >= READABLE
    first = win.scene.nodes[p.graph.topological_order()[0]]
    assert visible_rect(win).contains(first.sceneBoundingRect())


def test_an_imported_onnx_op_is_badged_on_its_card(win) -> None:
    """A generic op kept from an ONNX file reads "imported op" where a catalog node shows its type, and its op
    type is the card's key parameter."""
    import json

    from dlstudio.core.tensor import BATCH, TensorInfo
    from dlstudio.layers.builtin.generic import encode_infos

    p = Project(meta={"name": "imported"})
    x = p.graph.input("x", (4,))
    shapes = {"in": encode_infos([TensorInfo((BATCH, 4))]), "out": encode_infos([TensorInfo((BATCH, 4))])}
    op = p.graph.add("OnnxOp", x, op_type="Erf", layout='["x"]', shapes=json.dumps(shapes))
    p.graph.output("y", op)
    win.set_project(p)
    item = win.scene.nodes[op.node_id]
    assert item.type_name == "imported op"
    assert item.lines[0].startswith("op_type=")
    lin = win.scene.nodes[p.graph.find("x").id]
    assert lin.type_name == "Input"
