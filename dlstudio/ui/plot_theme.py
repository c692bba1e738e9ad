"""Plots follow the theme: pyqtgraph's background and foreground per theme, for plots made later (its config
options) and for those already on screen (walked and restyled on a theme switch). Legends get a translucent
panel in the plot's own background, so curves stay visible under them."""

from __future__ import annotations

import pyqtgraph as pg
from PySide6.QtGui import QColor
from PySide6.QtWidgets import QWidget

from .theme import Theme

AXIS_WIDTH = 58  # room for labels such as "0.0001" on every left axis, before and after data arrive


def legend_brush(theme: Theme) -> QColor:
    colour = QColor(theme.plot_background)
    colour.setAlpha(170)
    return colour


def style_plot_item(plot: pg.PlotItem, theme: Theme) -> None:
    fg = theme.plot_foreground
    for name in ("left", "bottom", "right", "top"):
        axis = plot.getAxis(name)
        axis.setPen(fg)
        axis.setTextPen(fg)
        if name == "left":
            axis.setWidth(AXIS_WIDTH)
    title = plot.titleLabel
    if title.text:
        title.setText(title.text, color=fg)
    legend = plot.legend
    if legend is not None:
        legend.setLabelTextColor(fg)
        for _sample, label in legend.items:  # existing labels keep their old colour until drawn again
            label.setText(label.text, color=fg)
        legend.setBrush(legend_brush(theme))
        legend.setPen(pg.mkPen("#4a505c" if theme.name == "dark" else "#c9ced8"))


def apply_plot_theme(root: QWidget | None, theme: Theme) -> int:
    """Make new plots use `theme` and restyle the plots under `root`; returns how many plot widgets changed."""
    pg.setConfigOptions(background=theme.plot_background, foreground=theme.plot_foreground, antialias=True)
    if root is None:
        return 0
    views = root.findChildren(pg.GraphicsView)
    for view in views:
        view.setBackground(theme.plot_background)
        for item in view.scene().items():
            if isinstance(item, pg.PlotItem):
                style_plot_item(item, theme)
    return len(views)
