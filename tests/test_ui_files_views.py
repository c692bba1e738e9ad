"""More of the window through its widgets: mouse drags, template gallery, export/import menus, settings
persistence, and the PySide6 None-refcount workaround that keeps long sessions alive."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from conftest import studio_window

pytest.importorskip("PySide6")
pytest.importorskip("pytestqt")

from PySide6.QtCore import QPointF, Qt  # noqa: E402

from dlstudio.io.project import Project  # noqa: E402
from dlstudio.ui.main_window import MainWindow  # noqa: E402
from tests.test_ui_window import Answers, mlp_project, node, vp  # noqa: E402

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


@pytest.fixture
def win(qtbot, tmp_path):
    w = studio_window(qtbot, tmp_path, Answers(), size=(1200, 800))
    w.set_project(mlp_project())
    w.auto_layout()
    w.view.fit()
    w.controller.undo_stack.clear()
    w.controller.undo_stack.setClean()
    yield w
    w.controller.undo_stack.setClean()


def test_drag_node_with_mouse_is_one_undo_step_and_snaps(qtbot, win):
    fc1 = node(win, "fc1")
    item = win.scene.nodes[fc1.id]
    start = item.mapToScene(QPointF(60, 8))  # on the title bar, away from ports
    vport = win.view.viewport()
    qtbot.mousePress(vport, Qt.MouseButton.LeftButton, pos=vp(win, start))
    for k in range(1, 6):
        qtbot.mouseMove(vport, pos=vp(win, start + QPointF(0, 30 * k)))
    qtbot.mouseRelease(vport, Qt.MouseButton.LeftButton, pos=vp(win, start + QPointF(0, 150)))
    x, y = fc1.position
    assert y > 100 and x % 20 == 0 and y % 20 == 0  # moved, on the grid
    assert win.controller.undo_stack.count() == 1
    # the wires followed the node
    e = win.project.graph.in_edges(fc1.id)[0]
    end = win.scene.edges[e].path().currentPosition()
    assert abs(end.y() - item.in_ports["x"].scenePos().y()) < 1e-6
    win.undo()
    assert fc1.position[1] < y and item.pos().y() == fc1.position[1]


def test_shift_click_adds_to_selection_and_rubber_band(qtbot, win):
    a, b = node(win, "fc1"), node(win, "fc2")
    vport = win.view.viewport()
    qtbot.mouseClick(vport, Qt.MouseButton.LeftButton, pos=vp(win, win.scene.nodes[a.id].mapToScene(QPointF(60, 8))))
    qtbot.mouseClick(
        vport,
        Qt.MouseButton.LeftButton,
        Qt.KeyboardModifier.ShiftModifier,
        pos=vp(win, win.scene.nodes[b.id].mapToScene(QPointF(60, 8))),
    )
    assert sorted(win.scene.selected_node_ids()) == sorted([a.id, b.id])
    win.select_all()
    assert len(win.scene.selected_node_ids()) == len(win.project.graph)
    # rubber band from an empty corner over everything
    win.scene.clearSelection()
    rect = win.scene.itemsBoundingRect()
    p0 = vp(win, rect.topLeft() - QPointF(30, 30))
    p1 = vp(win, rect.bottomRight() + QPointF(30, 30))
    qtbot.mousePress(vport, Qt.MouseButton.LeftButton, pos=p0)
    qtbot.mouseMove(vport, pos=(p0 + p1) / 2)
    qtbot.mouseMove(vport, pos=p1)
    qtbot.mouseRelease(vport, Qt.MouseButton.LeftButton, pos=p1)
    assert len(win.scene.selected_node_ids()) == len(win.project.graph)


@pytest.mark.skipif(not (EXAMPLES / "lenet5.dlstudio").exists(), reason="examples not built")
def test_template_gallery_previews_every_example(qtbot, win):
    from dlstudio.ui.gallery import TemplateGallery

    dlg = TemplateGallery(win, win.theme)
    qtbot.addWidget(dlg)
    names = [dlg.list.item(i).text() for i in range(dlg.list.count())]
    assert len(names) == len(list(EXAMPLES.glob("*.dlstudio"))) and "lenet5" in names
    row = names.index("lenet5")
    dlg.list.setCurrentRow(row)
    pix = dlg.preview.pixmap()
    assert not pix.isNull() and pix.width() > 100
    img = pix.toImage()
    colours = {img.pixelColor(x, y).name() for x in range(0, img.width(), 5) for y in range(0, img.height(), 5)}
    assert len(colours) > 5  # nodes in category colours were drawn
    assert "14 layers" in dlg.about.text()
    assert dlg.chosen == EXAMPLES / "lenet5.dlstudio"


def test_settings_persist_theme_recent_and_layout(qtbot, win, tmp_path):
    path = tmp_path / "a.dlstudio"
    win.ask.replies["save"] = [str(path)]
    win.controller.set_param([node(win, "fc1").id], "out_features", 9)
    assert win.save()
    win.set_theme("dark")
    win.panel_dock.hide()
    win.close()
    w2 = MainWindow(settings=win.settings, recovery_dir=tmp_path / "r2")
    qtbot.addWidget(w2)
    assert w2.theme.name == "dark"
    assert w2.recent_files()[0] == str(path.resolve())
    assert w2.panel_dock.isHidden()  # dock layout came back
    w2.set_theme("light")


def test_export_menu_writes_python_and_weights_and_onnx_roundtrip(win, tmp_path):
    py = tmp_path / "model.py"
    win.ask.replies["export"] = [str(py)]
    assert win.export_dialog("python"), win.ask.asked
    assert "class" in py.read_text() and "nn.Linear" in py.read_text()
    st = tmp_path / "w.safetensors"
    win.ask.replies["export"] = [str(st)]
    assert win.export_dialog("weights"), win.ask.asked
    from safetensors import safe_open

    with safe_open(str(st), "pt") as f:
        assert any(k.endswith("weight") for k in f.keys())
    onnx_path = tmp_path / "m.onnx"
    win.ask.replies["export"] = [str(onnx_path)]
    assert win.export_dialog("onnx"), win.ask.asked
    # dropping the .onnx back onto the window imports it as an editable graph
    win.open_dropped([str(onnx_path)])
    types = sorted(n.type for n in win.project.graph.nodes.values())
    assert types.count("Linear") == 2 and "Input" in types and "Output" in types
    proj = tmp_path / "imported.dlstudio"
    win.ask.replies["save"] = [str(proj)]
    assert win.save()
    assert proj.with_suffix(".safetensors").exists()  # imported weights kept beside the project


def test_none_refcount_survives_many_qt_calls(win):
    """PySide6 6.12 on Python 3.11 drops a None reference per void call; dlstudio.ui pins it."""
    item = next(iter(win.scene.nodes.values()))
    before = sys.getrefcount(None)
    for _ in range(50_000):
        item.update()
    assert sys.getrefcount(None) > 1 << 20 or sys.version_info >= (3, 12)
    assert before > 0


def test_moving_a_collapsed_block_moves_its_members(qtbot, win):
    g = win.project.graph
    ids = [node(win, "fc1").id, node(win, "act").id]
    win.scene.select_nodes(ids)
    gid = win.group_selection()
    block = win.scene.blocks[gid]
    before = {n: g.node(n).position for n in ids}
    start = block.mapToScene(QPointF(60, 8))
    vport = win.view.viewport()
    qtbot.mousePress(vport, Qt.MouseButton.LeftButton, pos=vp(win, start))
    qtbot.mouseMove(vport, pos=vp(win, start + QPointF(0, 100)))
    qtbot.mouseMove(vport, pos=vp(win, start + QPointF(0, 200)))
    qtbot.mouseRelease(vport, Qt.MouseButton.LeftButton, pos=vp(win, start + QPointF(0, 200)))
    dy = g.group(gid).position[1] - block.pos().y() + 0  # model and item agree
    assert dy == 0
    moved = {n: g.node(n).position for n in ids}
    shift = moved[ids[0]][1] - before[ids[0]][1]
    assert shift > 100 and moved[ids[1]][1] - before[ids[1]][1] == shift
    assert win.controller.undo_stack.text(win.controller.undo_stack.index() - 1) == "Move block"
    win.undo()
    assert {n: g.node(n).position for n in ids} == before


def test_context_menu_and_escape_cancels_a_wire(qtbot, win):
    fc1 = node(win, "fc1")
    item = win.scene.nodes[fc1.id]
    win.scene.clearSelection()
    win._context_menu(vp(win, item.mapToScene(QPointF(60, 30))))
    assert item.isSelected()
    texts = [a.text() for a in win._menu.actions() if not a.isSeparator()]
    assert "Re&name" in texts and "&Group selection" in texts
    win._menu.close()
    port = item.out_ports["y"].scenePos()
    vport = win.view.viewport()
    n = win.project.graph.nx.number_of_edges()
    qtbot.mousePress(vport, Qt.MouseButton.LeftButton, pos=vp(win, port))
    qtbot.mouseMove(vport, pos=vp(win, port + QPointF(80, 80)))
    assert win.scene.gesture is not None
    qtbot.keyClick(vport, Qt.Key.Key_Escape)
    assert win.scene.gesture is None
    qtbot.mouseRelease(vport, Qt.MouseButton.LeftButton, pos=vp(win, port + QPointF(80, 80)))
    assert win.project.graph.nx.number_of_edges() == n


def test_export_diagram_png_and_svg(win, tmp_path):
    png, svg = tmp_path / "d.png", tmp_path / "d.svg"
    win.ask.replies["export"] = [str(png), str(svg)]
    assert win.export_dialog("png"), win.ask.asked
    assert win.export_dialog("svg"), win.ask.asked
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "<svg" in svg.read_text("utf-8")[:2000]


def test_param_edit_stays_incremental_on_a_long_chain(qtbot, win):
    """A parameter edit re-checks and redraws the few nodes it affects, not the whole graph: counted in nodes
    re-inferred and items refreshed (a time bound would measure the machine, not the work)."""
    p = Project(meta={"name": "chain"})
    g = p.graph
    h = g.input("x", (16,))
    for i in range(150):
        h = g.add("Linear", h, out_features=16) if i % 2 == 0 else g.add("ReLU", h)
    g.output("y", h)
    win.set_project(p)
    mid = [n.id for n in g.nodes.values() if n.type == "Linear"][40]
    touched: list[str] = []
    orig = win.scene._refresh_item
    win.scene._refresh_item = lambda nid: (touched.append(nid), orig(nid))[1]
    inferred: list[str] = []
    evaluate = win.engine._evaluate
    win.engine._evaluate = lambda node, blocked: (inferred.append(node.id), evaluate(node, blocked))[1]
    win.controller.set_param([mid], "out_features", 20)
    assert 1 <= len(inferred) <= 4, inferred  # re-inferred: the node, its ReLU, the next Linear (of 152)
    assert 1 <= len(touched) <= 4, touched  # redrawn: the same few
    assert mid in inferred and mid in touched
    win.controller.undo_stack.setClean()


def test_wheel_zoom_middle_drag_and_space_drag_pan(qtbot, win):
    from PySide6.QtCore import QPoint
    from PySide6.QtGui import QWheelEvent

    vport = win.view.viewport()
    win.view.set_zoom(1.0 / win.view.zoom)  # 100 %
    centre = QPointF(vport.rect().center())
    ev = QWheelEvent(
        centre,
        QPointF(vport.mapToGlobal(centre.toPoint())),
        QPoint(0, 0),
        QPoint(0, 240),
        Qt.MouseButton.NoButton,
        Qt.KeyboardModifier.NoModifier,
        Qt.ScrollPhase.NoScrollPhase,
        False,
    )
    win.view.wheelEvent(ev)
    assert win.view.zoom > 1.3
    win.view.set_zoom(1.0 / win.view.zoom)
    win.view.setSceneRect(-5000, -5000, 10000, 10000)  # room to scroll
    h = win.view.horizontalScrollBar()
    before = h.value()
    c = vport.rect().center()
    qtbot.mousePress(vport, Qt.MouseButton.MiddleButton, pos=c)
    qtbot.mouseMove(vport, pos=c + QPoint(-120, 0))
    qtbot.mouseRelease(vport, Qt.MouseButton.MiddleButton, pos=c + QPoint(-120, 0))
    assert h.value() - before == 120
    qtbot.keyPress(win.view, Qt.Key.Key_Space)
    assert win.view.dragMode() == win.view.DragMode.ScrollHandDrag
    qtbot.keyRelease(win.view, Qt.Key.Key_Space)
    assert win.view.dragMode() == win.view.DragMode.RubberBandDrag
