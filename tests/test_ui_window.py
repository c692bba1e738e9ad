"""The studio window driven through its real widgets (offscreen): palette drop, wiring with the mouse, a
refused wire, inspector edits that move shape labels downstream, groups, clipboard, files and recovery."""

from __future__ import annotations

import pytest
from conftest import studio_window

pytest.importorskip("PySide6")
pytest.importorskip("pytestqt")

from PySide6.QtCore import QMimeData, QPoint, QPointF, QSettings, Qt, QUrl  # noqa: E402
from PySide6.QtGui import QDropEvent  # noqa: E402
from PySide6.QtWidgets import QSpinBox  # noqa: E402

from dlstudio.io.project import Project  # noqa: E402
from dlstudio.ui.canvas.items import BlockItem  # noqa: E402
from dlstudio.ui.main_window import MainWindow  # noqa: E402
from dlstudio.ui.palette import layer_mime  # noqa: E402


def mlp_project() -> Project:
    p = Project(meta={"name": "tiny"})
    g = p.graph
    x = g.input("x", (1, 8, 8))
    h = g.add("Flatten", x, label="flat")
    h = g.add("Linear", h, out_features=16, label="fc1")
    h = g.add("ReLU", h, label="act")
    h = g.add("Linear", h, out_features=10, label="fc2")
    g.output("logits", h)
    return p


class Answers:
    """Scripted replies to the window's questions (file dialogs, prompts)."""

    def __init__(self) -> None:
        self.replies: dict[str, list[str]] = {}
        self.asked: list[tuple[str, str]] = []

    def __call__(self, kind: str, text: str) -> str:
        self.asked.append((kind, text))
        queue = self.replies.get(kind.split(":")[0], [])
        return queue.pop(0) if queue else ""


@pytest.fixture
def win(qtbot, tmp_path):
    w = studio_window(qtbot, tmp_path, Answers(), size=(1200, 800))
    w.set_project(mlp_project())
    w.auto_layout()
    w.controller.undo_stack.clear()
    w.controller.undo_stack.setClean()
    yield w
    w.controller.undo_stack.setClean()  # no unsaved prompt at teardown


def node(win: MainWindow, label: str):
    return win.project.graph.find(label)


def vp(win: MainWindow, scene_pos: QPointF) -> QPoint:
    return win.view.mapFromScene(scene_pos)


def drop(win: MainWindow, md: QMimeData, at: QPoint) -> None:
    ev = QDropEvent(
        QPointF(at), Qt.DropAction.CopyAction, md, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier
    )
    win.view.dropEvent(ev)


def drag_wire(qtbot, win: MainWindow, a: QPointF, b: QPointF) -> None:
    port = win.view.viewport()
    qtbot.mousePress(port, Qt.MouseButton.LeftButton, pos=vp(win, a))
    qtbot.mouseMove(port, pos=vp(win, (a + b) / 2))
    qtbot.mouseMove(port, pos=vp(win, b))
    qtbot.mouseRelease(port, Qt.MouseButton.LeftButton, pos=vp(win, b))


def shape_label(win: MainWindow, src: str, dst: str) -> str:
    g = win.project.graph
    e = next(e for e in g.out_edges(node(win, src).id) if e.dst == node(win, dst).id)
    return win.scene.edges[e].text


def test_palette_search_and_drop_adds_a_node(win):
    visible = win.palette.filter("dropout")
    assert "Dropout" in visible and "Linear" not in visible
    visible = win.palette.filter("fully connected")  # matches the explanation text
    assert "Linear" in visible
    win.palette.filter("")
    item = win.palette.items["Dropout"]
    win.palette.tree.setCurrentItem(item)
    md = layer_mime(item.data(0, Qt.ItemDataRole.UserRole + 1))
    n = len(win.project.graph)
    drop(win, md, QPoint(40, 40))  # empty corner of the canvas
    assert len(win.project.graph) == n + 1
    new = win.project.graph.find("dropout")
    assert new.id in win.scene.nodes and win.scene.nodes[new.id].isSelected()
    assert win.inspector.node_ids == [new.id]
    win.undo()
    assert len(win.project.graph) == n and new.id not in win.scene.nodes


def test_drop_on_wire_inserts_the_layer(win):
    g = win.project.graph
    e = next(iter(g.out_edges(node(win, "act").id)))
    mid = win.scene.edges[e].path().pointAtPercent(0.5)
    drop(win, layer_mime("Dropout"), vp(win, mid))
    d = g.find("dropout")
    assert [x.src for x in g.in_edges(d.id)] == [node(win, "act").id]
    assert [x.dst for x in g.out_edges(d.id)] == [node(win, "fc2").id]
    assert shape_label(win, "dropout", "fc2") == "(N, 16)"
    win.undo()
    assert g.has_edge(e)


def test_connect_ports_with_the_mouse_and_a_refused_wire(qtbot, win):
    g = win.project.graph
    fc1, act = node(win, "fc1"), node(win, "act")
    e = g.in_edges(act.id)[0]
    win.controller.remove([], [e])
    assert not g.in_edges(act.id)
    a = win.scene.nodes[fc1.id].out_ports["y"].scenePos()
    b = win.scene.nodes[act.id].in_ports["x"].scenePos()
    drag_wire(qtbot, win, a, b)
    assert g.has_edge(e)
    assert win.scene.edges[e].text == "(N, 16)"
    # a wire that would make a cycle is refused, and the status bar says why
    fc2 = node(win, "fc2")
    a = win.scene.nodes[fc2.id].out_ports["y"].scenePos()
    b = win.scene.nodes[fc1.id].in_ports["x"].scenePos()
    n = g.nx.number_of_edges()
    drag_wire(qtbot, win, a, b)
    assert g.nx.number_of_edges() == n
    assert "cycle" in win.statusBar().currentMessage()


def test_inspector_edit_changes_downstream_shape_labels(qtbot, win):
    fc1 = node(win, "fc1")
    win.scene.select_nodes([fc1.id])
    assert win.inspector.node_ids == [fc1.id]
    assert "16 (inferred)" not in win.inspector.derived.text()
    assert "64 (inferred)" in win.inspector.derived.text()  # in_features from the 1x8x8 input
    spin = win.inspector.editors["out_features"].widgets[0]
    assert isinstance(spin, QSpinBox)
    for v in (17, 18, 19, 20):
        spin.setValue(v)
    assert fc1.params["out_features"] == 20
    assert shape_label(win, "fc1", "act") == "(N, 20)"
    assert shape_label(win, "act", "fc2") == "(N, 20)"  # downstream too
    assert win.controller.undo_stack.count() == 1  # one step for the whole spin run
    win.undo()
    assert shape_label(win, "act", "fc2") == "(N, 16)"
    assert spin.value() == 16  # the form follows the model
    # an invalid value typed into a line editor is refused inline
    inp = node(win, "x")
    win.scene.select_nodes([inp.id])
    ed = win.inspector.editors["shape"]
    ed.widgets[0].setText("1, -8")
    ed.widgets[0].editingFinished.emit()
    assert "positive" in win.inspector.errors["shape"].text()
    assert inp.params["shape"] == (1, 8, 8)


def test_error_marks_node_and_diagnostic_click_selects_it(win):
    fc1 = node(win, "fc1")
    win.scene.select_nodes([fc1.id])
    win.controller.remove([node(win, "flat").id])
    win.panel.refresh()
    x = node(win, "x")
    win.controller.connect(x.id, "out", fc1.id, "x")  # Linear now sees (N, 1, 8, 8): still valid
    g = win.project.graph
    fc2 = node(win, "fc2")
    win.controller.remove([], g.in_edges(fc2.id))  # unconnected input -> an error somewhere
    win.panel.refresh()
    errors = [d for d in win.engine.diagnostics() if d.severity == "error"]
    assert errors
    target = next(d.node_id for d in errors if d.node_id)
    assert win.scene.nodes[target].severity == "error"
    assert win.panel.diag_list.count() >= 1
    row = next(
        i
        for i in range(win.panel.diag_list.count())
        if win.panel.diag_list.item(i).data(Qt.ItemDataRole.UserRole + 7) == target
    )
    win.scene.clearSelection()
    win.panel._diag_clicked(win.panel.diag_list.item(row))
    assert win.scene.selected_node_ids() == [target]
    assert "error" in win.status_valid.text()


def test_group_collapse_expand_ungroup(win):
    g = win.project.graph
    ids = [node(win, "fc1").id, node(win, "act").id]
    win.scene.select_nodes(ids)
    gid = win.group_selection()
    assert gid in g.groups and g.group(gid).collapsed
    block = win.scene.blocks[gid]
    assert isinstance(block, BlockItem) and block.collapsed
    assert not win.scene.nodes[ids[0]].isVisible()
    assert len(block.in_ports) == 1 and len(block.out_ports) == 1
    assert "1.04K params" in block.lines[1]  # 64*16+16 weights in the block
    inner = g.out_edges(ids[0])[0]
    assert not win.scene.edges[inner].isVisible()
    win.toggle_collapse()
    assert not g.group(gid).collapsed and win.scene.nodes[ids[0]].isVisible()
    win.ungroup_selection()
    assert gid not in g.groups and gid not in win.scene.blocks
    win.undo()
    assert gid in win.scene.blocks
    win.undo()
    win.undo()
    assert not g.groups


def test_copy_paste_cut_duplicate(win):
    g = win.project.graph
    win.scene.select_nodes([node(win, "fc1").id, node(win, "act").id])
    assert win.copy()
    n = len(g)
    pasted = win.paste()
    assert len(g) == n + 2 and len(pasted) == 2
    assert sorted(win.scene.selected_node_ids()) == sorted(pasted)
    assert sum(1 for e in g.edges() if e.src in pasted and e.dst in pasted) == 1
    dup = win.duplicate()
    assert len(g) == n + 4 and len(dup) == 2
    win.cut()
    assert len(g) == n + 2
    win.undo()
    assert len(g) == n + 4


def test_rename_in_place_and_delete(qtbot, win):
    fc1 = node(win, "fc1")
    win.scene.select_nodes([fc1.id])
    win.rename_selected()
    editor = win.view._editor
    assert editor is not None and editor.text() == "fc1"
    editor.setText("hidden")
    qtbot.keyClick(editor, Qt.Key.Key_Return)
    assert fc1.label == "hidden" and win.scene.nodes[fc1.id].label == "hidden"
    win.scene.select_nodes([fc1.id])
    win.delete_selection()
    assert fc1.id not in win.project.graph and fc1.id not in win.scene.nodes
    win.undo()
    assert fc1.id in win.scene.nodes and win.project.graph.node(fc1.id).label == "hidden"
    assert len(win.project.graph.in_edges(fc1.id)) == 1


def test_save_open_round_trip_and_title(win, tmp_path):
    path = tmp_path / "net.dlstudio"
    win.controller.set_param([node(win, "fc1").id], "out_features", 12)
    assert win.isWindowModified()
    win.ask.replies["save"] = [str(path)]
    assert win.save()
    assert not win.isWindowModified() and path.exists()
    assert win.windowTitle().startswith("net.dlstudio")
    win.controller.set_param([node(win, "fc1").id], "out_features", 11)
    assert win.isWindowModified() and "[*]" in win.windowTitle()  # Qt shows the * there
    assert win.save()
    before = win.project.graph.to_dict()
    win.set_project(Project())
    assert win.open_path(path)
    assert win.project.graph.to_dict() == before
    assert str(path.resolve()) == win.recent_files()[0]
    # unsaved prompt: cancel keeps the document, discard drops it
    win.controller.set_param([node(win, "fc1").id], "out_features", 13)
    win.ask.replies["unsaved"] = ["cancel"]
    win.new_blank()
    assert len(win.project.graph) == 6
    win.ask.replies["unsaved"] = ["discard"]
    win.new_blank()
    assert len(win.project.graph) == 0


def test_autosave_and_crash_recovery(qtbot, win, tmp_path):
    assert not win.autosave()  # nothing unsaved: no recovery file
    win.controller.set_param([node(win, "fc1").id], "out_features", 33)
    assert win.autosave()
    assert win.recovery.data_path.exists()
    # pretend that window crashed: its recovery names a process that is gone
    import json

    info = json.loads(win.recovery.info_path.read_text())
    info["pid"] = 2**22 + 12345
    win.recovery.info_path.write_text(json.dumps(info))
    settings = QSettings(str(tmp_path / "settings2.ini"), QSettings.Format.IniFormat)
    w2 = MainWindow(settings=settings, recovery_dir=win.recovery.directory)
    qtbot.addWidget(w2)
    w2.ask = Answers()
    w2.ask.replies["restore"] = ["yes"]
    assert w2.offer_recovery()
    assert w2.project.graph.find("fc1").params["out_features"] == 33
    assert w2.isWindowModified()
    assert not win.recovery.data_path.exists()
    w2.controller.undo_stack.setClean()


def test_drop_project_file_opens_it(win, tmp_path):
    p = mlp_project()
    p.graph.find("fc1").params["out_features"] = 7
    path = p.save(tmp_path / "dropped.dlstudio")
    md = QMimeData()
    md.setUrls([QUrl.fromLocalFile(str(path))])
    drop(win, md, QPoint(50, 50))
    assert win.project.path == path
    assert win.project.graph.find("fc1").params["out_features"] == 7


def test_multi_selection_edits_shared_parameter(win):
    ids = [node(win, "fc1").id, node(win, "fc2").id]
    win.scene.select_nodes(ids)
    assert sorted(win.inspector.node_ids) == sorted(ids)
    assert set(win.inspector.editors) == {"out_features", "bias"}
    win.inspector.editors["out_features"].widgets[0].setValue(5)
    assert all(win.project.graph.node(n).params["out_features"] == 5 for n in ids)


def test_view_zoom_fit_layout_theme(win):
    z = win.view.zoom
    win.view.zoom_in()
    assert win.view.zoom > z
    win.view.zoom_out()
    win.view.zoom_out()
    assert win.view.zoom < z
    g = win.project.graph
    win.controller.move({node(win, "act").id: (900.0, 900.0)})
    win.auto_layout()
    xs = [g.node(n).position[0] for n in g.topological_order()]
    assert xs == sorted(xs)
    win.set_theme("dark")
    assert win.scene.theme.name == "dark" and win.settings.value("theme") == "dark"
    win.set_theme("light")
    # the history dock lists the edits by name
    assert win.controller.undo_stack.text(win.controller.undo_stack.count() - 1) == "Auto-layout"


def test_a_failed_export_gives_a_clear_message(win, tmp_path):
    win.ask.replies["export"] = [str(tmp_path / "diagram.gif")]  # no such diagram format
    assert not win.export_dialog("png")
    kind, text = win.ask.asked[-1]
    assert kind == "error" and text.startswith("Export failed:") and ".gif" in text


def test_a_broken_exporter_import_fails_loudly(win, monkeypatch):
    """Every exporter is a hard dependency: a module that cannot be imported is an error, not a menu message."""
    import sys

    monkeypatch.setitem(sys.modules, "dlstudio.ui.diagram", None)  # importing it now raises ImportError
    with pytest.raises(ImportError):
        win.export_dialog("svg")
    assert not any(kind == "error" for kind, _ in win.ask.asked)


def test_pick_up_a_wire_from_its_input_reroute_and_delete(qtbot, win):
    g = win.project.graph
    act, fc2 = node(win, "act"), node(win, "fc2")
    old = g.in_edges(fc2.id)[0]  # act -> fc2
    drop = win.controller.add_node("Dropout", (act.position[0] + 100, act.position[1] + 300))
    a = win.scene.nodes[fc2.id].in_ports["x"].scenePos()
    b = win.scene.nodes[drop].in_ports["x"].scenePos()
    drag_wire(qtbot, win, a, b)  # re-route: act -> dropout, fc2 unwired
    assert not g.has_edge(old) and [e.src for e in g.in_edges(drop)] == [act.id]
    assert not g.in_edges(fc2.id)
    assert win.controller.undo_stack.undoText().startswith("Reconnect")
    win.undo()
    assert g.has_edge(old) and win.scene.edges[old].isVisible()
    # dragged from the input onto empty canvas: the wire is deleted
    drag_wire(qtbot, win, a, a + QPointF(0, 400))
    assert not g.has_edge(old)
    win.undo()
    assert g.has_edge(old)


def test_palette_double_click_adds_at_view_centre(win):
    n = len(win.project.graph)
    win.palette._double_clicked(win.palette.items["BatchNorm1d"], 0)
    assert len(win.project.graph) == n + 1
    new = win.project.graph.find("batchnorm1d")
    centre = win.view.mapToScene(win.view.viewport().rect().center())
    item = win.scene.nodes[new.id]
    assert item.sceneBoundingRect().adjusted(-40, -40, 40, 40).contains(centre)


def test_drag_an_unwired_node_onto_a_wire_inserts_it(qtbot, win):
    g = win.project.graph
    act = node(win, "act")
    e = g.out_edges(act.id)[0]
    nid = win.controller.add_node("Dropout", (act.position[0], act.position[1] + 300))
    item = win.scene.nodes[nid]
    grab = item.mapToScene(QPointF(60, 8))
    target = win.scene.edges[e].path().pointAtPercent(0.5)
    delta = target - item.sceneBoundingRect().center()
    vport = win.view.viewport()
    qtbot.mousePress(vport, Qt.MouseButton.LeftButton, pos=vp(win, grab))
    qtbot.mouseMove(vport, pos=vp(win, grab + delta / 2))
    qtbot.mouseMove(vport, pos=vp(win, grab + delta))
    qtbot.mouseRelease(vport, Qt.MouseButton.LeftButton, pos=vp(win, grab + delta))
    assert [x.src for x in g.in_edges(nid)] == [act.id]
    assert [x.dst for x in g.out_edges(nid)] == [node(win, "fc2").id]


def test_a_valid_graph_says_so_in_the_diagnostics_list(win):
    assert win.engine.diagnostics() == []
    assert win.panel.diag_list.count() == 1
    assert win.panel.diag_list.item(0).text().endswith("No errors or warnings: every wire's shape fits.")
    assert win.panel.tabText(0) == "Diagnostics"


def test_a_long_graph_opens_readable_at_its_beginning(qtbot, win):
    """A chain too long to fit legibly opens at 80 % on its inputs (the minimap shows the rest); a short one
    is fitted whole."""
    from pathlib import Path

    root = Path(__file__).resolve().parents[1]
    win.resize(1200, 800)
    win.show()
    win.set_project(Project.load(root / "examples" / "lenet5.dlstudio"))
    qtbot.waitUntil(lambda: abs(win.view.zoom - 0.8) < 1e-6, timeout=5000)
    first = win.scene.nodes[win.project.graph.topological_order()[0]]
    visible = win.view.mapToScene(win.view.viewport().rect()).boundingRect()
    node = first.sceneBoundingRect()
    assert visible.contains(node.center()) and visible.left() <= node.left() + 1  # the input node is on screen
    win.view.fit()  # F still fits everything
    assert win.view.zoom < 0.6
    small = Project(meta={"name": "small"})
    small.graph.output("y", small.graph.add("Linear", small.graph.input("x", (4,)), out_features=2))
    win.set_project(small)
    qtbot.waitUntil(lambda: win.view.zoom >= 0.6 and abs(win.view.zoom - 0.8) > 1e-6, timeout=5000)
