"""Large graphs on the canvas, checked by behaviour (counts and states), never by timing: the level-of-detail
switch, culling of off-screen items, lazy items of a large model, entering and leaving a block (selection and
undo history kept), expand in place without overlaps, the outline dock and Ctrl+F find."""

from __future__ import annotations

import itertools

import pytest

pytest.importorskip("PySide6")
pytest.importorskip("pytestqt")

from PySide6.QtCore import QPointF, QRectF, Qt  # noqa: E402
from PySide6.QtTest import QTest  # noqa: E402

from dlstudio.core.layout import apply_layout  # noqa: E402
from dlstudio.io.project import Project  # noqa: E402
from dlstudio.layers.synthetic import transformer_model  # noqa: E402
from dlstudio.ui.canvas.items import NODE_W, BlockItem, EdgeItem  # noqa: E402
from dlstudio.ui.canvas.lazy import LARGE_GRAPH  # noqa: E402
from dlstudio.ui.canvas.view import LOD_ZOOM  # noqa: E402
from dlstudio.ui.find import find_nodes  # noqa: E402


def model(blocks: int, grouped: bool = True) -> Project:
    p = Project(meta={"name": f"t{blocks}"})
    p.graph.load_dict(transformer_model(blocks, grouped=grouped).to_dict())
    apply_layout(p.graph)
    return p


def chain(n: int) -> Project:
    p = Project(meta={"name": f"chain{n}"})
    h = p.graph.input("x", (16,))
    for i in range(n - 2):
        h = p.graph.add("Linear", h, out_features=16, label=f"fc{i}")
    p.graph.output("y", h)
    apply_layout(p.graph)  # one long row
    return p


@pytest.fixture
def win(quiet_window):
    return quiet_window


def show(win, project: Project) -> None:
    win.set_project(project)
    for _ in range(3):
        win.view.viewport().repaint()


def set_zoom(win, z: float) -> None:
    win.view.set_zoom(z / win.view.zoom)
    win.view.viewport().repaint()


def test_level_of_detail_switches_with_the_zoom(win):
    show(win, chain(12))
    scene = win.scene
    first = scene.nodes[win.project.graph.find("fc0").id]
    set_zoom(win, 1.0)
    win.view.centerOn(first.sceneBoundingRect().center())
    win.view.viewport().repaint()
    assert first.detail_level() == "full" and first.last_detail == "full"
    port_pos = first.out_ports["y"].scenePos()
    assert scene.port_at(port_pos) is not None  # ports are aimed at when readable
    set_zoom(win, LOD_ZOOM * 0.6)
    assert first.detail_level() == "box" and first.last_detail == "box"  # repainted as a box
    wire = next(iter(scene.edges.values()))
    assert wire.detail_level() == "box"
    assert scene.port_at(port_pos) is None  # port hit-tests are off
    set_zoom(win, 1.0)
    assert first.detail_level() == "full" and first.last_detail == "full"


def test_hovering_a_box_shows_its_label(win):
    show(win, chain(12))
    set_zoom(win, LOD_ZOOM * 0.5)
    node = win.project.graph.find("fc3")
    win.view._hover_at(win.scene, win.scene.node_rect(node.id).center())
    assert win.view.hover_label() is not None and "fc3" in win.view.hover_label()


def test_off_screen_items_are_not_painted(win):
    show(win, chain(40))
    scene, graph = win.scene, win.project.graph
    set_zoom(win, 1.0)
    first = scene.nodes[graph.find("fc0").id]
    win.view.centerOn(first.sceneBoundingRect().center())
    for item in itertools.chain(scene.nodes.values(), scene.edges.values()):
        item.paint_count = 0
        item.update()  # every item asks to be drawn again (its cached picture is dropped)
    win.view.viewport().repaint()
    visible = win.view.mapToScene(win.view.viewport().rect()).boundingRect()
    on = [i for i in scene.nodes.values() if i.sceneBoundingRect().intersects(visible)]
    off = [i for i in scene.nodes.values() if not i.sceneBoundingRect().intersects(visible)]
    assert on and len(off) > 20
    assert all(i.paint_count >= 1 for i in on)
    assert all(i.paint_count == 0 for i in off)
    off_wires = [e for e in scene.edges.values() if not e.sceneBoundingRect().intersects(visible)]
    assert off_wires and all(e.paint_count == 0 for e in off_wires)


def test_a_large_model_gets_items_only_for_what_is_shown(win):
    project = model(8, grouped=False)
    assert len(project.graph) >= LARGE_GRAPH
    show(win, project)
    scene = win.scene
    assert scene.large
    set_zoom(win, 1.0)
    first = project.graph.topological_order()[0]
    win.view.centerOn(scene.node_rect(first).center())
    for _ in range(20):  # items come in bounded batches, one per frame
        win.view.viewport().repaint()
    made = len(scene.nodes)
    assert 0 < made < len(project.graph) / 4
    visible = win.view.mapToScene(win.view.viewport().rect()).boundingRect()
    shown = scene.unit_index().in_rect(visible)
    assert all(u.key in scene.nodes for u in shown)
    assert scene.nodes[project.graph.find("b7_res2").id].key  # made on demand when asked for
    # below the readable zoom the overview draws; it culls to the cells on screen
    set_zoom(win, LOD_ZOOM * 0.5)
    assert scene.detail == "box" and scene.overview.isVisible()
    assert all(i.opacity() == 0.0 for i in scene.nodes.values())
    assert 0 < scene.overview.drawn_rects < len(project.graph)


def selected(win) -> tuple[list[str], list[str]]:
    return win.scene.selected_node_ids(expand_blocks=False), win.scene.selected_group_ids()


@pytest.mark.parametrize("blocks", [3, 8])  # 593 nodes: every item made; 1,578: a large (lazy) scene
def test_entering_and_leaving_a_block_keeps_selection_and_history(win, blocks):
    show(win, model(blocks))
    graph, scene, view = win.project.graph, win.scene, win.view
    assert scene.large == (len(graph) >= LARGE_GRAPH)
    assert all(g.collapsed for g in graph.groups.values())  # blocks open collapsed
    gid = sorted(graph.groups)[1]
    scene.blocks[gid].setSelected(True)
    history = win.controller.undo_stack.count()
    view.enter_block(gid)
    view.viewport().repaint()
    assert scene.entered == gid and view.breadcrumb.isVisible()
    assert view.breadcrumb.trail[-1] == graph.group(gid).label
    assert not any(b.isVisible() for b in scene.blocks.values())
    inner = graph.find("b1_h2_drop").id
    assert scene.nodes[inner].isVisible()
    scene.select_nodes([inner])
    win.controller.set_param([inner], "p", 0.25)
    assert win.controller.undo_stack.count() == history + 1
    view.setFocus()
    QTest.keyClick(view, Qt.Key.Key_Escape)  # Escape (or the breadcrumb) goes back out
    assert scene.entered is None and not view.breadcrumb.isVisible()
    assert selected(win) == ([], [gid])  # the outer selection is back
    assert win.controller.undo_stack.count() == history + 1
    view.enter_block(gid)
    assert selected(win) == ([inner], [])  # and the inner one
    win.controller.undo()  # the edit made inside is undone from inside
    assert graph.node(inner).params.get("p", 0.1) == 0.1
    view.enter_block(None)
    assert win.controller.undo_stack.index() == history


def card_rects(win) -> list[tuple[str, QRectF]]:
    """Each shown card (node or collapsed block) and each expanded block's frame, as scene rectangles."""
    scene, graph = win.scene, win.project.graph
    out = []
    for gid, grp in graph.groups.items():
        item = scene.blocks[gid]
        if grp.collapsed:
            out.append((gid, QRectF(item.pos(), QPointF(item.pos().x() + NODE_W, item.pos().y() + item._height))))
        else:
            out.append((gid, item.frame.translated(item.pos())))
    for nid, node in graph.nodes.items():
        if node.group is None:
            out.append((nid, scene.node_rect(nid)))
    inside = {
        nid: node.group for nid, node in graph.nodes.items() if node.group and not graph.group(node.group).collapsed
    }
    for nid, gid in inside.items():
        out.append((f"{gid}/{nid}", scene.node_rect(nid)))
    return out


def overlaps(rects: list[tuple[str, QRectF]]) -> list[tuple[str, str]]:
    bad = []
    rects = sorted(rects, key=lambda kr: kr[1].left())
    for i, (a, ra) in enumerate(rects):  # a sweep along x: only rectangles that overlap in x are compared
        for b, rb in rects[i + 1 :]:
            if rb.left() >= ra.right():
                break
            # a member sits inside its own block's frame; members of one block are checked against each other
            if a.startswith(b + "/") or b.startswith(a + "/"):
                continue
            if ra.intersects(rb):
                bad.append((a, b))
    return bad


def test_expanding_blocks_one_by_one_never_overlaps(win):
    show(win, model(4))
    graph = win.project.graph
    assert not overlaps(card_rects(win))
    for gid in sorted(graph.groups):
        assert win.controller.set_collapsed(gid, False)
        assert not overlaps(card_rects(win)), gid
    for gid in sorted(graph.groups):  # and collapsing them again
        assert win.controller.set_collapsed(gid, True)
        assert not overlaps(card_rects(win)), gid


def test_find_matches_label_type_and_parameter_values():
    g = transformer_model(2)
    by_label = find_nodes(g, "b1_h3_q")
    assert [g.nodes[n].label for n in by_label] == ["b1_h3_q"]
    gelus = find_nodes(g, "gelu")
    assert gelus and all(g.nodes[n].type == "GELU" for n in gelus)
    wide = find_nodes(g, "out_features=128")
    assert len(wide) == 2 * 30 and all(g.nodes[n].params["out_features"] == 128 for n in wide)
    assert find_nodes(g, "no such layer") == []


def test_find_jumps_into_the_block_that_holds_the_match(win):
    show(win, model(3))
    graph = win.project.graph
    bar = win.find_bar
    bar.open_bar()
    bar.edit.setText("b2_e7_down")
    assert len(bar.matches) == 1
    bar.next()
    target = graph.find("b2_e7_down")
    assert win.scene.entered == target.group
    assert win.scene.selected_node_ids(expand_blocks=False) == [target.id]
    visible = win.view.mapToScene(win.view.viewport().rect()).boundingRect()
    assert visible.contains(win.scene.node_rect(target.id).center())
    assert win.view.zoom >= 0.6


def test_outline_lists_blocks_with_counts_and_follows_both_ways(win):
    show(win, model(3))
    graph, outline = win.project.graph, win.outline
    tree = outline.tree
    assert tree.topLevelItemCount() == 3 + 1  # three blocks and the layers outside them
    row = tree.topLevelItem(1)
    gid = row.data(0, 0x0100)[1]
    assert row.text(1) == str(len(graph.group(gid).node_ids))
    tree.setCurrentItem(row)  # outline -> canvas
    assert win.scene.selected_group_ids() == [gid]
    inner = graph.find("b0_proj").id
    win.view.jump_to(inner)  # canvas -> outline
    assert tree.currentItem() is not None and tree.currentItem().data(0, 0x0100) == ("node", inner)
    assert isinstance(win.scene.blocks[gid], BlockItem)
    assert not any(isinstance(i, EdgeItem) and i.isSelected() for i in win.scene.items())


def test_the_overview_index_follows_edits_like_a_rebuild(win):
    project = model(8, grouped=False)
    show(win, project)
    scene, ctl = win.scene, win.controller
    set_zoom(win, LOD_ZOOM * 0.5)
    before = scene.unit_index()

    def same_as_rebuilt() -> bool:
        kept = scene.unit_index()
        fresh = scene._build_index()
        return set(kept.by_key) == set(fresh.by_key) and set(kept._wires) == set(fresh._wires)

    ids = list(project.graph.nodes)[1:120]
    pasted = ctl.paste_dict(ctl.copy_dict(ids))
    assert scene.unit_index() is before  # updated in place, not rebuilt
    assert all(n in scene.unit_index().by_key for n in pasted)
    assert same_as_rebuilt()
    ctl.undo()
    assert not any(n in scene.unit_index().by_key for n in pasted)
    assert same_as_rebuilt()


def test_an_area_selects_a_large_models_boxes_when_zoomed_out(win):
    project = model(8, grouped=False)
    show(win, project)
    set_zoom(win, LOD_ZOOM * 0.5)
    first = project.graph.topological_order()[0]
    area = win.scene.node_rect(first).adjusted(-10, -10, 2000, 2000)
    expected = {u.key for u in win.scene.unit_index().in_rect(area) if area.contains(u.rect)}
    win.view.select_in(area)
    assert expected and set(win.scene.selected_node_ids(expand_blocks=False)) == expected


def test_a_layer_added_while_inside_a_block_shows_at_the_model_level(qtbot, win):
    show(win, model(3))
    gid = sorted(win.project.graph.groups)[0]
    win.view.enter_block(gid)
    history = win.controller.undo_stack.count()
    nid = win.controller.add_node("ReLU", (0.0, 0.0))
    qtbot.waitUntil(lambda: win.scene.entered is None, timeout=2000)
    assert win.scene.nodes[nid].isVisible()
    assert win.controller.undo_stack.count() == history + 1


def test_a_long_pan_keeps_the_number_of_items_bounded(win, monkeypatch):
    import dlstudio.ui.canvas.lazy as lazy

    monkeypatch.setattr(lazy, "MAX_ITEMS", 300)
    project = model(8, grouped=False)
    show(win, project)
    scene, view = win.scene, win.view
    set_zoom(win, 0.5)
    order = project.graph.topological_order()
    for nid in order[:: len(order) // 12]:  # pan along the whole model
        view.centerOn(scene.node_rect(nid).center())
        for _ in range(4):
            view.viewport().repaint()
        assert len(scene.nodes) <= 300 + 2 * 120  # the cap plus at most two frames' batches
    assert order[1] not in scene.nodes  # made at the start of the pan, dropped once far behind
    visible = view.mapToScene(view.viewport().rect()).boundingRect()
    assert all(u.key in scene.nodes for u in scene.unit_index().in_rect(visible))
    # wires of the shown nodes are all there after items were dropped and made again
    shown = {u.key for u in scene.unit_index().in_rect(visible)}
    for nid in shown:
        for e in scene.wires_of((nid,)):
            if e.src in shown and e.dst in shown:
                assert e in scene.edges


def test_ctrl_f_opens_the_find_bar(win):
    show(win, model(2))
    win.view.setFocus()
    QTest.keyClick(win, Qt.Key.Key_F, Qt.KeyboardModifier.ControlModifier)
    assert win.find_bar.isVisible() and win.find_bar.edit.hasFocus()
