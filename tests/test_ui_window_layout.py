"""First start leaves the canvas most of the window: at least 55 % of it at 1440x900 and 1920x1080. The bottom
docks (diagnostics, summary, training) fold to their tabs and unfold; History does not squeeze the inspector."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import studio_window, wait_for


def canvas_share(win) -> float:
    v = win.view.geometry()
    return v.width() * v.height() / (win.width() * win.height())


@pytest.mark.parametrize("size", [(1440, 900), (1920, 1080)])
def test_canvas_has_most_of_the_window_at_first_start(qtbot, tmp_path: Path, size) -> None:
    win = studio_window(qtbot, tmp_path, lambda kind, text: "")
    win.resize(*size)
    wait_for(lambda: win.view.height() > 0 and not win._first_show, 10, "the first layout")
    qtbot.wait(50)
    assert canvas_share(win) >= 0.55, (size, win.view.geometry(), win.size())
    # History shares the left column: the inspector keeps its full height
    before = win.inspector_dock.height()
    win.show_history()
    qtbot.wait(50)
    assert win.history_dock.isVisible()
    assert win.inspector_dock.height() >= before * 0.95


def test_bottom_docks_fold_and_unfold(qtbot, tmp_path: Path) -> None:
    win = studio_window(qtbot, tmp_path, lambda kind, text: "", size=(1920, 1080))
    wait_for(lambda: not win._first_show, 10, "the first layout")
    win.set_bottom_collapsed(False)
    qtbot.wait(50)
    unfolded = canvas_share(win)
    win._actions["&Bottom panel"].trigger()
    qtbot.wait(50)
    assert win.bottom_collapsed and win.panel.height() == 0
    assert canvas_share(win) > unfolded + 0.05
    win._actions["&Bottom panel"].trigger()
    qtbot.wait(50)
    assert not win.bottom_collapsed and win.panel.height() > 80
