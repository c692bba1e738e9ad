"""The minimap is movable: dragged by its top bar (real mouse events) it follows the mouse, snaps to the nearest
corner, leaves the view underneath where it was, and the corner is remembered across sessions; a click on the map
still moves the view."""

from __future__ import annotations

import pytest
from conftest import studio_window

pytest.importorskip("PySide6")
pytest.importorskip("pytestqt")

from PySide6.QtCore import QPoint, QRect, QSettings, Qt  # noqa: E402

from dlstudio.io.project import Project  # noqa: E402
from dlstudio.ui.canvas.minimap import GRIP, SETTINGS_KEY  # noqa: E402

PAD = 10  # the view's margin around the minimap


def chain(n: int) -> Project:
    p = Project(meta={"name": f"chain{n}"})
    h = p.graph.input("x", (16,))
    for i in range(n - 2):
        h = p.graph.add("Linear", h, out_features=16, label=f"fc{i}")
    p.graph.output("y", h)
    return p


def view_state(win) -> tuple:
    v = win.view
    return v.transform(), v.horizontalScrollBar().value(), v.verticalScrollBar().value()


def covers_a_node(win, rect: QRect) -> bool:
    area = win.view.mapToScene(rect).boundingRect()
    nodes = [i for i in list(win.scene.nodes.values()) + list(win.scene.blocks.values()) if i.isVisible()]
    return any(area.intersects(i.sceneBoundingRect()) for i in nodes)


def test_the_minimap_is_dragged_to_a_corner_and_remembered(qtbot, tmp_path):
    win = studio_window(qtbot, tmp_path, lambda kind, text: "")
    qtbot.waitExposed(win)
    win.set_project(chain(14))  # too long to fit legibly: the overview shows
    qtbot.waitUntil(lambda: win.view.minimap.isVisible(), timeout=3000)
    qtbot.wait(300)  # the docks settle the canvas's height
    view, mm = win.view, win.view.minimap
    vp = view.viewport().geometry()
    assert mm.geometry().bottomRight() == QPoint(vp.width() - PAD - 1, vp.height() - PAD - 1)  # bottom right
    assert "Drag the bar" in mm.toolTip()
    assert mm.cursor().shape() == Qt.CursorShape.PointingHandCursor

    before = view_state(win)
    start = mm.geometry().topLeft()
    grip = QPoint(mm.width() // 2, GRIP // 2)
    qtbot.mouseMove(mm, grip - QPoint(3, 0))  # the pointer comes onto the bar
    qtbot.mouseMove(mm, grip)
    assert mm.cursor().shape() == Qt.CursorShape.OpenHandCursor  # the bar says it can be moved
    qtbot.mousePress(mm, Qt.MouseButton.LeftButton, pos=grip)
    assert mm.cursor().shape() == Qt.CursorShape.ClosedHandCursor
    for _ in range(6):  # towards the top left, in steps as a hand would (the pressed widget gets the moves)
        qtbot.mouseMove(mm, grip - QPoint(90, 80))
    moved = mm.geometry().topLeft()
    assert (moved.x(), moved.y()) == (start.x() - 540, start.y() - 480)  # it follows the mouse
    assert view_state(win) == before  # and the view underneath stays (no pan, no rubber band)
    qtbot.mouseRelease(mm, Qt.MouseButton.LeftButton, pos=grip)

    assert mm.corner == "top_left"  # the nearest corner to where it was dropped
    assert view_state(win) == before
    settings = QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat)
    assert settings.value(SETTINGS_KEY) == "top_left"
    top_left = QRect(PAD, PAD, mm.width(), mm.height())
    assert mm.isVisible()
    assert not covers_a_node(win, top_left)  # the chain runs through the middle: that corner is free
    assert mm.geometry().topLeft() == top_left.topLeft()  # so it sits there, snapped with the margin

    # a click on the map still moves the view, and the minimap stays put
    at = mm.geometry().topLeft()
    qtbot.mouseClick(mm, Qt.MouseButton.LeftButton, pos=QPoint(mm.width() - 5, mm.height() - 5))
    assert view_state(win)[1:] != before[1:]
    assert mm.geometry().topLeft() == at and mm.corner == "top_left"

    # the next session starts with the corner chosen
    again = studio_window(qtbot, tmp_path / "again", lambda kind, text: "")
    assert again.view.minimap.corner == "bottom_right"  # another settings file: the usual corner
    win.close()
    later = studio_window(qtbot, tmp_path, lambda kind, text: "")
    assert later.view.minimap.corner == "top_left"
    assert later.view.minimap.corners(1000, 800, PAD)[0] == (PAD, PAD)


def test_the_minimap_in_the_top_left_corner_leaves_the_trail_of_an_entered_block_free(qtbot, tmp_path):
    from dlstudio.core.edits import GroupNodes

    win = studio_window(qtbot, tmp_path, lambda kind, text: "")
    qtbot.waitExposed(win)
    project = chain(30)
    g = project.graph
    layers = tuple(n.id for n in g.nodes.values() if n.type == "Linear")
    GroupNodes(g.new_id("g"), "trunk", layers).apply(g)
    win.set_project(project)
    view, mm = win.view, win.view.minimap
    mm.corner = "top_left"  # the user's choice
    view.enter_block(next(iter(g.groups)))
    qtbot.waitUntil(lambda: view.breadcrumb.isVisible() and mm.isVisible(), timeout=3000)
    view._place_minimap()
    assert not mm.geometry().intersects(view.breadcrumb.geometry())  # another corner, not over the trail
