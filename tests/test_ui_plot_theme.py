"""Plots follow the theme: light plots in the light theme, dark in the dark one, restyled on a switch; left axes
keep room for their labels."""

from __future__ import annotations

from pathlib import Path

import pyqtgraph as pg
from conftest import studio_window
from PySide6.QtGui import QColor

from dlstudio.ui.plot_theme import AXIS_WIDTH
from dlstudio.ui.theme import THEMES


def _backgrounds(win) -> set[str]:
    return {v.backgroundBrush().color().name() for v in win.training_dock.findChildren(pg.GraphicsView)}


def test_plots_follow_the_theme(qtbot, tmp_path: Path) -> None:
    win = studio_window(qtbot, tmp_path, lambda kind, text: "")
    win.set_theme("light")
    ws = win.training_workspace()
    try:
        assert _backgrounds(win) == {QColor(THEMES["light"].plot_background).name()}
        axis = ws.live.lr_plot.getAxis("left")
        assert axis.width() >= AXIS_WIDTH
        win.set_theme("dark")
        assert _backgrounds(win) == {QColor(THEMES["dark"].plot_background).name()}
        fg = QColor(THEMES["dark"].plot_foreground).name()
        assert ws.live.loss_plot.getAxis("bottom").textPen().color().name() == fg
        assert {label.opts["color"] for _s, label in ws.live.loss_plot.plotItem.legend.items} == {fg}
    finally:
        win.set_theme("light")
        ws.shutdown()
        win.controller.undo_stack.setClean()
