"""Nested blocks in the studio, through the real window: each level shows its direct layers and its child blocks,
entering goes as deep as the tree with a trail back, expand in place nests frames without overlaps at any depth,
grouping nests where the members sit, ungroup moves them up one level, paste keeps the tree, the outline is the
tree, jumps enter the chain, and cards carry deep totals and the worst diagnostic inside."""

from __future__ import annotations

import pytest

pytest.importorskip("PySide6")
pytest.importorskip("pytestqt")

from PySide6.QtCore import Qt  # noqa: E402
from PySide6.QtTest import QTest  # noqa: E402
from PySide6.QtWidgets import QLabel  # noqa: E402

from dlstudio.core.edits import GroupNodes  # noqa: E402
from dlstudio.core.layout import READING_WIDTH, apply_layout  # noqa: E402
from dlstudio.io.project import Project  # noqa: E402
from dlstudio.layers.builder import Graph  # noqa: E402
from dlstudio.ui.canvas.view_fit import READABLE_ZOOM  # noqa: E402


def nested_resnet(stages: int = 2, blocks: int = 2) -> Project:
    """A ResNet-style model: stem, then stages `layer{s}` each holding residual blocks `layer{s}.{b}` (conv, batch
    norm, relu, conv, batch norm, add), then the head; blocks nest two deep, collapsed."""
    g = Graph()
    x = g.input("x", (3, 32, 32))
    h = g.add("Conv2d", x, out_channels=16, kernel_size=3, padding=1, label="conv1")
    h = g.add("BatchNorm2d", h, label="bn1")
    h = g.add("ReLU", h, label="relu")
    for s in range(stages):
        inner = []
        for b in range(blocks):
            before = set(g.nodes)
            p = f"layer{s + 1}.{b}."
            y = g.add("Conv2d", h, out_channels=16, kernel_size=3, padding=1, label=p + "conv1")
            y = g.add("BatchNorm2d", y, label=p + "bn1")
            y = g.add("ReLU", y, label=p + "relu")
            y = g.add("Conv2d", y, out_channels=16, kernel_size=3, padding=1, label=p + "conv2")
            y = g.add("BatchNorm2d", y, label=p + "bn2")
            h = g.add("Add", h, y, label=p + "add")
            gid = g.new_id("g")
            GroupNodes(gid, f"layer{s + 1}.{b}", tuple(n for n in g.nodes if n not in before)).apply(g)
            inner.append(gid)
        GroupNodes(g.new_id("g"), f"layer{s + 1}", (), group_ids=tuple(inner)).apply(g)
    h = g.add("AdaptiveAvgPool2d", h, output_size=1, label="avgpool")
    h = g.add("Flatten", h, label="flatten")
    h = g.add("Linear", h, out_features=10, label="fc")
    g.output("y", h)
    project = Project(meta={"name": "nested_resnet"})
    project.graph.load_dict(g.to_dict())
    apply_layout(project.graph, max_width=READING_WIDTH)
    return project


@pytest.fixture
def win(quiet_window):
    return quiet_window


def show(win, project: Project) -> None:
    win.set_project(project)
    win.view.viewport().repaint()


def block(win, label: str) -> str:
    return next(gid for gid, g in win.project.graph.groups.items() if g.label == label)


def node(win, label: str) -> str:
    return win.project.graph.find(label).id


def shown(win) -> tuple[set[str], set[str]]:
    """Labels of the visible layers and of the visible blocks (cards or frames)."""
    graph, scene = win.project.graph, win.scene
    layers = {graph.nodes[k].label for k, i in scene.nodes.items() if i.isVisible()}
    blocks = {graph.groups[k].label for k, b in scene.blocks.items() if b.isVisible()}
    return layers, blocks


def overlaps(win) -> list[tuple[str, str]]:
    """Shown cards (layers, collapsed blocks) that intersect, and expanded frames that cover a card or a frame
    that is not inside them, at every depth."""
    scene, graph = win.scene, win.project.graph
    cards = [(k, i.sceneBoundingRect().adjusted(4, 4, -4, -4)) for k, i in scene.nodes.items() if i.isVisible()]
    cards += [
        (g, b.sceneBoundingRect().adjusted(4, 4, -4, -4))
        for g, b in scene.blocks.items()
        if b.collapsed and b.isVisible()
    ]
    bad = [(a, b) for i, (a, ra) in enumerate(cards) for b, rb in cards[i + 1 :] if ra.intersects(rb)]
    frames = [(g, b.frame.translated(b.pos())) for g, b in scene.blocks.items() if not b.collapsed and b.isVisible()]
    for gid, frame in frames:
        inside = set(graph.group_nodes_deep(gid)) | set(graph.group_descendants(gid))
        bad += [(gid, k) for k, r in cards if k not in inside and k != gid and frame.intersects(r)]
        for other, r in frames:
            nested = other in inside or gid in graph.group_descendants(other) or other == gid
            if not nested and frame.intersects(r):
                bad.append((gid, other))
    return bad


def test_each_level_shows_its_layers_and_child_blocks_as_cards(win):
    show(win, nested_resnet())
    view, scene = win.view, win.scene
    layers, blocks = shown(win)
    assert blocks == {"layer1", "layer2"}
    assert layers == {"x", "conv1", "bn1", "relu", "avgpool", "flatten", "fc", "y"}
    # the stem's last layer wires into the first stage's card, and that card into the next stage's
    visible_wires = [e for e, i in scene.edges.items() if i.isVisible()]
    assert scene.shown_end(node(win, "layer1.0.conv1")) == block(win, "layer1")
    assert any(
        scene.shown_end(e.src) == block(win, "layer1") and scene.shown_end(e.dst) == block(win, "layer2")
        for e in visible_wires
    )

    view.enter_block(block(win, "layer1"))
    layers, blocks = shown(win)
    assert layers == set() and blocks == {"layer1.0", "layer1.1"}
    assert view.breadcrumb.isVisible() and view.breadcrumb.trail == ["Model", "layer1"]
    # the two residual blocks are wired to each other as cards, at their ports
    between = [e for e, i in scene.edges.items() if i.isVisible() and scene.shown_end(e.src) and scene.shown_end(e.dst)]
    assert between and all(
        {scene.shown_end(e.src), scene.shown_end(e.dst)} == {block(win, "layer1.0"), block(win, "layer1.1")}
        for e in between
    )
    wire = scene.edges[between[0]]
    card = scene.blocks[block(win, "layer1.1")]
    assert card.sceneBoundingRect().adjusted(-10, -10, 10, 10).contains(wire.path().pointAtPercent(1.0))
    # what crosses the entered block's boundary runs to a port marker named after the layer outside
    relu = node(win, "relu")
    marker = scene.boundary[(relu, "y", True)]
    assert "relu" in marker.text and marker.isVisible()
    into = next(e for e in scene.edges if e.src == relu and e.dst == node(win, "layer1.0.conv1"))
    assert scene.edges[into].isVisible() and scene.edges[into].path().pointAtPercent(0.0) == marker.anchor()
    assert any(not is_input for (_n, _p, is_input) in scene.boundary)  # and an output marker, on the right
    assert marker.anchor().x() < card.sceneBoundingRect().left()

    view.enter_block(block(win, "layer1.0"))
    layers, blocks = shown(win)
    assert layers == {f"layer1.0.{n}" for n in ("conv1", "bn1", "relu", "conv2", "bn2", "add")} and not blocks
    assert view.breadcrumb.trail == ["Model", "layer1", "layer1.0"]
    view.viewport().repaint()
    visible = view.mapToScene(view.viewport().rect()).boundingRect()
    assert visible.contains(scene.nodes[node(win, "layer1.0.conv1")].sceneBoundingRect())  # opened on its beginning
    assert view.zoom >= 0.6 - 1e-6


def test_the_trail_and_escape_go_up_one_level_and_select_the_block_left(win):
    show(win, nested_resnet())
    view, scene = win.view, win.scene
    view.enter_block(block(win, "layer2"))
    view.enter_block(block(win, "layer2.1"))
    crumb = view.breadcrumb
    assert [b.text().lstrip("\u2190 ") for b in crumb.buttons] == ["Model", "layer2"]
    crumb.buttons[1].click()  # the middle crumb
    assert scene.entered == block(win, "layer2")
    assert scene.selected_group_ids() == [block(win, "layer2.1")]  # the block one came out of
    view.enter_block(block(win, "layer2.1"))
    view.setFocus()
    QTest.keyClick(view, Qt.Key.Key_Up, Qt.KeyboardModifier.AltModifier)
    assert scene.entered == block(win, "layer2")
    QTest.keyClick(view, Qt.Key.Key_Escape)
    assert scene.entered is None and not crumb.isVisible()
    assert scene.selected_group_ids() == [block(win, "layer2")]
    # Enter on a selected card goes in again
    QTest.keyClick(view, Qt.Key.Key_Return)
    assert scene.entered == block(win, "layer2")


def test_the_trail_is_wide_enough_for_every_level_after_going_deeper(win):
    """Going from one block into a child block rebuilds the trail while it is shown; it must still size itself
    to all its entries (it once shrank to its margins, an invisible 12 x 4 box)."""
    show(win, nested_resnet())
    view = win.view
    view.enter_block(block(win, "layer2"))
    view.enter_block(block(win, "layer2.1"))
    crumb = view.breadcrumb
    assert crumb.isVisible() and crumb.trail == ["Model", "layer2", "layer2.1"]
    parts = [*crumb.buttons, *crumb.findChildren(QLabel)]
    assert all(w.isVisibleTo(crumb) for w in parts)
    assert crumb.width() >= sum(w.sizeHint().width() for w in parts)
    assert crumb.height() >= max(w.sizeHint().height() for w in parts)


def test_cards_carry_deep_totals_and_the_worst_diagnostic_inside(win):
    show(win, nested_resnet())
    graph, scene, engine = win.project.graph, win.scene, win.engine
    outer = block(win, "layer1")
    deep = graph.group_nodes_deep(outer)
    params = sum(int(getattr(engine.stats(n), "params", 0) or 0) for n in deep)
    assert params > 0 and len(deep) == 12
    card = scene.blocks[outer]
    assert card.lines[0].startswith("Block  12 layers") and "2 blocks" in card.lines[0]
    assert f"{params:,}" in card.toolTip()
    assert card.severity is None
    # break a layer two blocks deep: the stage's card shows the error at the top, the inner card one level in
    bad = node(win, "layer1.0.conv2")
    win.controller.set_param([bad], "kernel_size", 40)
    assert engine.diagnostics_for(bad)
    assert scene.blocks[outer].severity == "error"
    assert scene.blocks[block(win, "layer2")].severity != "error"
    win.view.enter_block(outer)
    assert scene.blocks[block(win, "layer1.0")].severity == "error"
    assert scene.blocks[block(win, "layer1.1")].severity is None
    win.controller.undo()
    assert scene.blocks[outer].severity is None


def test_expanding_at_every_depth_nests_frames_without_overlaps(win):
    show(win, nested_resnet())
    graph, scene, ctl = win.project.graph, win.scene, win.controller
    assert not overlaps(win)
    for label in ("layer1", "layer1.0", "layer1.1", "layer2", "layer2.1"):
        assert ctl.set_collapsed(block(win, label), False)
        win.view.viewport().repaint()
        assert not overlaps(win), (label, overlaps(win))
    outer, inner = scene.blocks[block(win, "layer1")], scene.blocks[block(win, "layer1.0")]
    assert outer.isVisible() and inner.isVisible() and not inner.collapsed
    assert outer.frame.translated(outer.pos()).contains(inner.frame.translated(inner.pos()))
    assert inner.zValue() > outer.zValue()  # the inner frame draws over the outer one
    assert scene.nodes[node(win, "layer1.0.conv1")].isVisible()
    assert scene.blocks[block(win, "layer2.0")].collapsed and scene.blocks[block(win, "layer2.0")].isVisible()
    for label in ("layer1.0", "layer1", "layer2.1", "layer2", "layer1.1"):
        assert ctl.set_collapsed(block(win, label), True)
        assert not overlaps(win), (label, overlaps(win))
    assert not any(scene.nodes[n].isVisible() for n in graph.group_nodes_deep(block(win, "layer1")))


def test_grouping_inside_a_block_nests_and_ungroup_moves_up_one_level(win):
    show(win, nested_resnet())
    graph, scene, view, ctl = win.project.graph, win.scene, win.view, win.controller
    stage, res = block(win, "layer1"), block(win, "layer1.0")
    view.enter_block(res)
    pair = [node(win, "layer1.0.conv1"), node(win, "layer1.0.bn1")]
    scene.select_nodes(pair)
    before = ctl.undo_stack.index()
    gid = win.group_selection()
    assert gid is not None and graph.group(gid).parent == res
    assert set(graph.group(gid).node_ids) == set(pair)
    assert scene.selected_group_ids() == [gid] and scene.blocks[gid].isVisible()
    layers, blocks = shown(win)
    assert "layer1.0.conv1" not in layers and graph.group(gid).label in blocks
    # block cards among the selection: the two residual blocks of a stage become one block inside it
    view.enter_block(stage)
    scene.select_blocks([res, block(win, "layer1.1")])
    pair_block = win.group_selection()
    assert graph.group(pair_block).parent == stage
    assert set(graph.child_groups(pair_block)) == {res, block(win, "layer1.1")}
    assert graph.group(res).parent == pair_block and graph.group(gid).parent == res
    # a selection across levels is refused with the reason
    view.enter_block(None)
    scene.select_nodes([node(win, "conv1")])
    scene.blocks[block(win, "layer2")].setSelected(True)
    scene.blocks[block(win, "layer1")].setSelected(True)
    assert win.group_selection() is not None  # both blocks and the layer sit at the top: allowed
    ctl.undo()
    # ungroup moves the contents up one level; rename; every step undoes
    ctl.ungroup(pair_block)
    assert graph.group(res).parent == stage and pair_block not in graph.groups
    assert ctl.rename_group(res, "residual0") and graph.group(res).label == "residual0"
    while ctl.undo_stack.index() > before:
        ctl.undo()
    assert gid not in graph.groups and graph.group(res).parent == stage and graph.group(res).label == "layer1.0"
    assert all(graph.node(n).group == res for n in pair)


def test_ungrouping_the_entered_block_shows_its_contents_one_level_up(win):
    show(win, nested_resnet())
    graph, scene, view = win.project.graph, win.scene, win.view
    stage, res = block(win, "layer2"), block(win, "layer2.0")
    view.enter_block(res)
    scene.clearSelection()
    win.controller.ungroup(res)
    assert scene.entered == stage
    assert graph.node(node(win, "layer2.0.conv1")).group == stage
    layers, blocks = shown(win)
    assert "layer2.0.conv1" in layers and blocks == {"layer2.1"}


def test_paste_keeps_the_nesting_and_lands_in_the_entered_block(win):
    show(win, nested_resnet())
    graph, scene, view = win.project.graph, win.scene, win.view
    stage = block(win, "layer1")
    scene.select_blocks([stage])
    assert win.copy()
    pasted = win.paste()
    assert len(pasted) == 12
    new_stage = {graph.node(n).group for n in pasted}
    copies = {gid for gid in graph.groups if gid not in (stage, *graph.group_descendants(stage))}
    tops = [g for g in copies if graph.group(g).parent is None and g not in (block(win, "layer2"),)]
    assert len(tops) == 1 and graph.group(tops[0]).label == "layer1_1"
    # every pasted block is named apart from its original, at every depth
    labels = [g.label for g in graph.groups.values()]
    assert len(labels) == len(set(labels))
    assert len(graph.child_groups(tops[0])) == 2 and new_stage <= set(graph.child_groups(tops[0]))
    # inside a block, a paste goes into that block
    win.controller.undo()
    view.enter_block(stage)
    scene.select_blocks([block(win, "layer1.1")])
    assert win.copy()
    pasted = win.paste()
    assert pasted and scene.entered == stage
    copy_block = graph.node(pasted[0]).group
    assert graph.group(copy_block).parent == stage and scene.blocks[copy_block].isVisible()
    win.controller.undo()
    assert all(n not in graph.nodes for n in pasted) and scene.entered == stage


def test_outline_is_the_block_tree_and_a_deep_row_enters_its_chain(win):
    show(win, nested_resnet())
    tree, graph = win.outline.tree, win.project.graph
    tops = [tree.topLevelItem(i).text(0) for i in range(tree.topLevelItemCount())]
    assert tops == ["layer1", "layer2", "Layers outside blocks"]
    stage_row = tree.topLevelItem(0)
    assert stage_row.text(1) == "12"
    stage_row.setExpanded(True)
    children = [stage_row.child(i).text(0) for i in range(stage_row.childCount())]
    assert children == ["layer1.0", "layer1.1"]
    inner_row = stage_row.child(1)
    inner_row.setExpanded(True)
    target = next(inner_row.child(i) for i in range(inner_row.childCount()) if "relu" in inner_row.child(i).text(0))
    tree.setCurrentItem(target)  # outline -> canvas: two blocks entered
    nid = node(win, "layer1.1.relu")
    assert win.scene.entered == block(win, "layer1.1")
    assert win.scene.selected_node_ids(expand_blocks=False) == [nid]
    assert win.view.breadcrumb.trail == ["Model", "layer1", "layer1.1"]
    tree.setCurrentItem(tree.topLevelItem(1))  # a top-level block row: its card at the top level
    assert win.scene.entered is None and win.scene.selected_group_ids() == [block(win, "layer2")]
    deep = node(win, "layer2.1.bn2")
    win.view.jump_to(deep)  # canvas -> outline: the rows open down to the layer
    assert tree.currentItem() is not None and tree.currentItem().data(0, 0x0100) == ("node", deep)
    assert graph.node(deep).group == win.scene.entered


def test_find_and_the_diagnostics_list_enter_the_chain(win):
    show(win, nested_resnet())
    bar = win.find_bar
    bar.open_bar()
    bar.edit.setText("layer2.1.conv2")
    assert len(bar.matches) == 1
    bar.next()
    nid = node(win, "layer2.1.conv2")
    assert win.scene.entered == block(win, "layer2.1")
    assert win.scene.selected_node_ids(expand_blocks=False) == [nid]
    visible = win.view.mapToScene(win.view.viewport().rect()).boundingRect()
    assert visible.contains(win.scene.node_rect(nid).center())
    win.view.enter_block(None)
    win.focus_node(node(win, "layer1.0.add"))  # what the diagnostics and error lists call
    assert win.scene.entered == block(win, "layer1.0")


def test_a_layer_dropped_inside_an_entered_block_joins_it(win):
    show(win, nested_resnet())
    graph, view = win.project.graph, win.view
    res = block(win, "layer1.1")
    view.enter_block(res)
    nid = win.add_at_centre("ReLU")
    assert nid is not None and graph.node(nid).group == res
    assert win.scene.entered == res and win.scene.nodes[nid].isVisible()
    win.controller.undo()
    assert nid not in graph.nodes and res in graph.groups


def test_a_moved_card_carries_everything_inside(win):
    show(win, nested_resnet())
    graph, scene = win.project.graph, win.scene
    stage = block(win, "layer2")
    before = {n: graph.node(n).position for n in graph.group_nodes_deep(stage)}
    inner_before = {g: graph.group(g).position for g in graph.group_descendants(stage)}
    card = scene.blocks[stage]
    old = graph.group(stage).position
    card.setPos(card.pos().x() + 100, card.pos().y() + 60)  # a drag (snapped to the grid)
    scene.commit_moves()
    dx, dy = graph.group(stage).position[0] - old[0], graph.group(stage).position[1] - old[1]
    assert abs(dx - 100) <= 20 and abs(dy - 60) <= 20
    assert all(graph.node(n).position == (p[0] + dx, p[1] + dy) for n, p in before.items())
    assert all(graph.group(g).position == (p[0] + dx, p[1] + dy) for g, p in inner_before.items())
    win.controller.undo()
    assert all(graph.node(n).position == p for n, p in before.items())


@pytest.fixture(scope="module")
def imported_resnet() -> dict:
    """A ResNet-18-layout module (two basic blocks a stage, downsample branches) imported through torch.export:
    its module tree becomes blocks three deep (layer2 > layer2.0 > layer2.0.downsample)."""
    pytest.importorskip("torch")
    from fixtures.torch_models.resnet import ResNet

    import dlstudio.api as dls

    result = dls.import_torch(ResNet().eval(), [(3, 32, 32)])
    return result.graph.to_dict()


def test_an_imported_resnet_expands_every_block_at_every_depth_without_overlaps(win, imported_resnet):
    project = Project(meta={"name": "resnet18"})
    project.graph.load_dict(imported_resnet)
    show(win, project)
    graph, ctl = win.project.graph, win.controller
    depths = {gid: graph.group_depth(gid) for gid in graph.groups}
    assert max(depths.values()) >= 2  # blocks nest (stage > residual block > downsample)
    assert not overlaps(win)
    order = sorted(graph.groups, key=lambda g: (depths[g], list(graph.groups).index(g)))
    for gid in order:  # outer blocks first, so each inner one expands inside a shown frame
        assert ctl.set_collapsed(gid, False)
        assert not overlaps(win), (graph.group(gid).label, overlaps(win))
    assert all(b.isVisible() and not b.collapsed for b in win.scene.blocks.values())
    assert all(i.isVisible() for i in win.scene.nodes.values())
    win.view.enter_block(next(g for g in graph.groups if graph.group(g).label == "layer2"))
    assert not overlaps(win)
    win.view.enter_block(None)
    for gid in reversed(order):  # and collapsed again, innermost first
        assert ctl.set_collapsed(gid, True)
        assert not overlaps(win), (graph.group(gid).label, overlaps(win))
    ctl.undo()  # one undo step restores the block and its neighbours
    assert not overlaps(win)


def test_auto_layout_lays_out_every_level_with_blocks_as_units(win):
    show(win, nested_resnet())
    graph, ctl = win.project.graph, win.controller
    for label in ("layer1", "layer1.0"):
        ctl.set_collapsed(block(win, label), False)
    before = {n: graph.node(n).position for n in graph.nodes}
    scatter = {n: (float(i * 37 % 500), float(i * 53 % 400)) for i, n in enumerate(graph.nodes)}
    ctl.move(scatter)  # a mess to start from
    assert overlaps(win)
    win.auto_layout()
    assert not overlaps(win), overlaps(win)
    for level in ("layer1.0", "layer2", "layer2.1"):
        win.view.enter_block(block(win, level))
        assert not overlaps(win), (level, overlaps(win))
    win.view.enter_block(None)
    ctl.undo()
    ctl.undo()
    assert {n: graph.node(n).position for n in graph.nodes} == before
    # a selection inside an entered block is laid out among itself, where it is
    res = block(win, "layer2.1")
    win.view.enter_block(res)
    mine = list(graph.group(res).node_ids)
    ctl.move({n: (0.0, 0.0) for n in mine})
    win.scene.select_nodes(mine)
    win.auto_layout(selection=True)
    assert len({graph.node(n).position for n in mine}) == len(mine)
    assert not overlaps(win), overlaps(win)


def test_the_inspector_shows_a_selected_block_with_its_place_and_totals(win):
    from PySide6.QtWidgets import QLabel, QLineEdit, QPushButton

    show(win, nested_resnet())
    graph, scene, view = win.project.graph, win.scene, win.view
    view.enter_block(block(win, "layer1"))
    res = block(win, "layer1.0")
    scene.select_blocks([res])
    insp = win.inspector
    assert insp.block_id == res
    path = insp.findChild(QLabel, "block_path").text()
    assert path.endswith("Model \u203a layer1 \u203a layer1.0")
    assert "6 layers" in insp.findChild(QLabel, "block_stats").text()
    edit = insp.findChild(QLineEdit, "block_label_edit")
    edit.setText("residual0")
    edit.editingFinished.emit()
    assert graph.group(res).label == "residual0"
    insp.findChild(QPushButton, "block_toggle").click()  # expand in place from the inspector
    assert not graph.group(res).collapsed
    scene.select_blocks([res])
    insp.findChild(QPushButton, "block_open").click()
    assert scene.entered == res


def test_a_large_nested_model_makes_items_only_for_the_level_shown(win):
    from dlstudio.layers.synthetic import transformer_model
    from dlstudio.ui.canvas.lazy import LARGE_GRAPH

    g = transformer_model(8)  # 1,578 nodes in 8 blocks: pairs of them go into 4 stages
    tops = g.child_groups(None)
    for i in range(0, len(tops), 2):
        GroupNodes(g.new_id("g"), f"stage{i // 2}", (), group_ids=(tops[i], tops[i + 1])).apply(g)
    project = Project(meta={"name": "nested8"})
    project.graph.load_dict(g.to_dict())
    apply_layout(project.graph, max_width=READING_WIDTH)
    show(win, project)
    graph, scene, view = win.project.graph, win.scene, win.view
    assert scene.large and len(graph) >= LARGE_GRAPH
    units = {u.key for u in scene.unit_index().units}
    stages = set(graph.child_groups(None))
    assert stages <= units and not any(u in graph.groups and u not in stages for u in units)
    stage = sorted(stages)[1]
    view.enter_block(stage)
    assert {u.key for u in scene.unit_index().units} == set(graph.child_groups(stage))
    inner = graph.child_groups(stage)[0]
    view.enter_block(inner)
    view.viewport().repaint()
    made = [n for n, i in scene.nodes.items() if i.isVisible()]
    assert made and all(graph.node(n).group == inner for n in made)
    assert len(scene.nodes) < len(graph) // 2  # items only for what this level shows
    view.go_up()
    view.go_up()
    assert scene.entered is None and scene.selected_group_ids() == [stage]
    assert win.controller.set_collapsed(stage, False)  # a stage expanded at the top: its blocks as cards
    units = {u.key for u in scene.unit_index().units}
    assert set(graph.child_groups(stage)) <= units and stage not in units
    assert not overlaps(win)


def test_a_change_two_blocks_deep_badges_the_card_shown_at_each_level(win, tmp_path):
    from dlstudio.core.edits import Connect, RemoveNode
    from dlstudio.core.graph import Edge

    nested_resnet().save(tmp_path / "before.dlstudio")
    edited = Project.load(tmp_path / "before.dlstudio")
    g = edited.graph
    relu, bn1, conv2 = (g.find(f"layer1.0.{n}").id for n in ("relu", "bn1", "conv2"))
    src_port = g.out_edges(bn1)[0].src_port
    dst_port = g.in_edges(conv2)[0].dst_port
    RemoveNode(relu).apply(g)
    Connect(Edge(bn1, src_port, conv2, dst_port)).apply(g)
    edited.save(tmp_path / "after.dlstudio")
    assert win.open_path(tmp_path / "after.dlstudio", ask_save=False)
    overlay = win.compare_overlay
    overlay.compare_with(tmp_path / "before.dlstudio")
    stage, res = block(win, "layer1"), block(win, "layer1.0")
    assert list(overlay.badges) == [stage] and not overlay.ghosts  # the card drawn at the top level
    win.view.enter_block(stage)  # one level in, the residual block's card carries it
    assert list(overlay.badges) == [res]
    win.view.enter_block(res)  # inside it, the ghost of the removed layer sits where it was
    assert not overlay.badges and len(overlay.ghosts) == 1


def test_entering_a_block_shows_all_its_layers_readable_even_when_its_port_markers_do_not_fit(win, imported_resnet):
    """An imported residual block's 7 layers wrap into two rows; with its port markers beside them the level is
    too wide for a readable zoom, so entering it fits its layers (before, it opened on the first two columns at
    80 %, the rest cut off on the right)."""
    project = Project(meta={"name": "resnet18"})
    project.graph.load_dict(imported_resnet)
    show(win, project)
    view, scene = win.view, win.scene
    view.enter_block(block(win, "layer1"))
    view.enter_block(block(win, "layer1.0"))
    assert scene.boundary  # markers are drawn, and with them the level does not fit readably
    assert view._visible_nodes_rect().width() * READABLE_ZOOM > view.viewport().width()
    assert view.zoom >= READABLE_ZOOM
    shown_rect = view.mapToScene(view.viewport().rect()).boundingRect()
    cards = {k: i for k, i in scene.nodes.items() if i.isVisible()}
    assert len(cards) == len(win.project.graph.group(block(win, "layer1.0")).node_ids) == 7
    cut = [win.project.graph.nodes[k].label for k, i in cards.items() if not shown_rect.contains(i.sceneBoundingRect())]
    assert not cut


def test_expanding_a_block_in_a_wrapped_top_level_keeps_the_other_rows_whole(win, imported_resnet):
    """The imported ResNet's top level wraps into rows. Expanding layer2 in place moves only what is right of it
    in its own row sideways; the rows above stay put and each row below moves down as a whole (before, the row
    above lost its last card to the right, and the row below split: part down, part right). Collapsing puts
    everything back."""
    project = Project(meta={"name": "resnet18"})
    project.graph.load_dict(imported_resnet)
    show(win, project)
    graph = win.project.graph
    layer2 = block(win, "layer2")
    top = [n for n, nd in graph.nodes.items() if nd.group is None] + list(graph.child_groups(None))

    def where(k: str) -> tuple[float, float]:
        return graph.nodes[k].position if k in graph.nodes else graph.group(k).position

    before = {k: where(k) for k in top}
    row_y = before[layer2][1]
    assert {y for _x, y in before.values()} > {row_y}  # wrapped: more than one row
    win.scene.select_blocks([layer2])  # the inspector's block section, as a user expands it
    expand_button(win, "Expand in place").click()
    assert not graph.group(layer2).collapsed
    assert not overlaps(win)
    after = {k: where(k) for k in top}
    for y in sorted({y for _x, y in before.values()}):
        row = [k for k in top if before[k][1] == y]
        if y < row_y:
            assert all(after[k] == before[k] for k in row), [
                graph.group(k).label if k in graph.groups else graph.nodes[k].label for k in row
            ]
        elif y > row_y:
            assert len({after[k][1] for k in row}) == 1 and all(after[k][0] == before[k][0] for k in row)
            assert after[row[0]][1] > y
    expand_button(win, "Collapse").click()
    assert graph.group(layer2).collapsed
    assert {k: where(k) for k in top} == before


def expand_button(win, text: str):
    from PySide6.QtWidgets import QPushButton

    return next(b for b in win.findChildren(QPushButton) if b.text() == text and b.isVisible())


def test_a_long_dotted_block_name_keeps_its_last_part_on_the_card(win):
    """Imported blocks are named by module path ('layer1.0.downsample.shortcut'): a card too narrow for the whole
    name drops its leading parts, not the end that tells sibling blocks apart."""
    show(win, nested_resnet())
    inner = block(win, "layer1.0")
    assert win.controller.rename_group(inner, "layer1.0.downsample.shortcut")
    win.view.enter_block(block(win, "layer1"))
    card = win.scene.blocks[inner]
    win.view.viewport().repaint()
    title = card._elided()[0]
    assert title != "layer1.0.downsample.shortcut" and "\u2026" in title  # it did not fit
    assert title.startswith("\u2026") and title.endswith("shortcut")  # whole leading parts went first
    sibling = win.scene.blocks[block(win, "layer1.1")]
    assert sibling._elided()[0] == "layer1.1"  # a short name is untouched


def test_a_saved_project_reopens_with_its_blocks_expanded_and_in_place(win, imported_resnet, tmp_path):
    """Expanded blocks (a stage, and a residual block inside it) are saved; reopening shows them expanded at the
    same positions, unmodified and with nothing to undo, even though the expanded model is too wide to fit at a
    readable zoom (before, opening collapsed every block to make it fit)."""
    project = Project(meta={"name": "resnet18"})
    project.graph.load_dict(imported_resnet)
    show(win, project)
    graph = win.project.graph
    for label in ("layer2", "layer2.0", "layer3"):
        assert win.controller.set_collapsed(block(win, label), False)
    path = tmp_path / "expanded.dlstudio"
    win.project.save(path)
    saved = {k: n.position for k, n in graph.nodes.items()}
    states = {k: (g.collapsed, g.position) for k, g in graph.groups.items()}
    win.controller.undo_stack.setClean()
    win.open_path(path)
    QTest.qWait(50)  # the fit on open runs once the window has settled
    graph = win.project.graph
    assert {k: (g.collapsed, g.position) for k, g in graph.groups.items()} == states
    assert {k: n.position for k, n in graph.nodes.items()} == saved
    assert not win.modified and win.controller.undo_stack.count() == 0
    frames = [k for k, b in win.scene.blocks.items() if b.isVisible() and not b.collapsed]
    assert sorted(graph.group(k).label for k in frames) == ["layer2", "layer2.0", "layer3"]
    assert win.view.zoom >= 0.6  # opened readable on its beginning rather than shrunk


def test_a_block_too_wide_to_fit_opens_at_the_smallest_readable_zoom_on_its_layers(win):
    """A residual block's 6 layers in one row are too wide for a readable fit even without its port markers: it
    opens at the smallest readable zoom from its first layer, so nearly all of it shows, whole cards only
    (before, 80 % from its left marker: three layers)."""
    show(win, nested_resnet())
    view, scene = win.view, win.scene
    view.enter_block(block(win, "layer1"))
    view.enter_block(block(win, "layer1.0"))
    assert view._visible_nodes_rect(with_markers=False).width() * READABLE_ZOOM > view.viewport().width()
    assert view.zoom == pytest.approx(READABLE_ZOOM)
    shown_rect = view.mapToScene(view.viewport().rect()).boundingRect()
    cards = [i.sceneBoundingRect() for i in scene.nodes.values() if i.isVisible()]
    whole = [r for r in cards if shown_rect.contains(r)]
    assert len(cards) == 6 and len(whole) >= 4
    assert all(shown_rect.contains(r) or not shown_rect.intersects(r) for r in cards)  # none cut in half
    first = min(cards, key=lambda r: r.left())
    assert first in whole


def test_the_inspector_counts_child_blocks_as_the_card_does_and_adds_the_deep_total(win):
    """A stage holding two residual blocks, one of which holds a block of its own: the card says '2 blocks' and
    the inspector says the same, with the total at every depth beside it (before: '3 blocks inside' next to a
    card saying '2 blocks')."""
    from PySide6.QtWidgets import QLabel

    show(win, nested_resnet())
    graph, scene, view = win.project.graph, win.scene, win.view
    view.enter_block(block(win, "layer1"))
    view.enter_block(block(win, "layer1.0"))
    scene.select_nodes([node(win, "layer1.0.conv1"), node(win, "layer1.0.bn1")])
    QTest.keyClick(view, Qt.Key.Key_G, Qt.KeyboardModifier.ControlModifier)  # a block inside layer1.0
    assert len(graph.child_groups(block(win, "layer1.0"))) == 1
    view.enter_block(None)
    scene.select_blocks([block(win, "layer1")])
    stats = win.inspector.findChild(QLabel, "block_stats").text()
    assert "2 blocks in it (3 at every depth)" in stats
    assert "2 blocks" in " ".join(scene.blocks[block(win, "layer1")].lines)
    scene.select_blocks([block(win, "layer2")])
    assert "2 blocks in it<" in win.inspector.findChild(QLabel, "block_stats").text()
