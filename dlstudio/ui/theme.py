"""Light and dark themes: one palette for widgets (Fusion style) and one for the canvas."""

from __future__ import annotations

from dataclasses import dataclass

from PySide6.QtGui import QColor, QPalette
from PySide6.QtWidgets import QApplication

CATEGORY_COLOURS = {
    "Input/Output": "#5b8def",
    "Dense": "#e8a33d",
    "Convolution": "#3fb27f",
    "Pooling": "#28a0a8",
    "Normalization": "#a77bdb",
    "Regularization": "#9a9a9a",
    "Recurrent": "#e0679a",
    "Embedding & Attention": "#d4704a",
    "Activation": "#c9b33a",
    "Merge": "#6c8ebf",
    "Blocks": "#8d6e63",
}


@dataclass(frozen=True)
class Theme:
    name: str
    canvas: str
    grid: str
    grid_major: str
    node: str
    node_text: str
    node_subtext: str
    wire: str
    wire_label: str
    selection: str
    error: str
    warning: str
    block: str
    plot_background: str = "#ffffff"
    plot_foreground: str = "#3b4252"  # axes, tick labels, titles and legend text


LIGHT = Theme(
    "light",
    canvas="#f7f7f9",
    grid="#e9e9ee",
    grid_major="#dcdce4",
    node="#ffffff",
    node_text="#1f2330",
    node_subtext="#5d6475",
    wire="#7d8598",
    wire_label="#3b4252",
    selection="#2f7cf6",
    error="#d93025",
    warning="#e8900c",
    block="#eef1f8",
)
DARK = Theme(
    "dark",
    canvas="#1e2127",
    grid="#262a31",
    grid_major="#2e333b",
    node="#2b3038",
    node_text="#e6e9ef",
    node_subtext="#a3abba",
    wire="#8a93a6",
    wire_label="#d0d6e0",
    selection="#5c9bff",
    error="#ff6b5e",
    warning="#ffb340",
    block="#252a33",
    plot_background="#1e2127",
    plot_foreground="#c8ced8",
)
THEMES = {"light": LIGHT, "dark": DARK}


def category_colour(category: str) -> QColor:
    return QColor(CATEGORY_COLOURS.get(category, "#888888"))


def apply_app_theme(app: QApplication, theme: Theme) -> None:
    app.setStyle("Fusion")
    pal = QPalette()
    if theme.name == "dark":
        base, window, text, button = QColor("#23272e"), QColor("#2b3038"), QColor("#e6e9ef"), QColor("#353b45")
        pal.setColor(QPalette.ColorRole.Window, window)
        pal.setColor(QPalette.ColorRole.WindowText, text)
        pal.setColor(QPalette.ColorRole.Base, base)
        pal.setColor(QPalette.ColorRole.AlternateBase, window)
        pal.setColor(QPalette.ColorRole.Text, text)
        pal.setColor(QPalette.ColorRole.Button, button)
        pal.setColor(QPalette.ColorRole.ButtonText, text)
        pal.setColor(QPalette.ColorRole.ToolTipBase, QColor("#383e49"))
        pal.setColor(QPalette.ColorRole.ToolTipText, text)
        pal.setColor(QPalette.ColorRole.PlaceholderText, QColor("#8a93a6"))
        pal.setColor(QPalette.ColorRole.Highlight, QColor(theme.selection))
        pal.setColor(QPalette.ColorRole.HighlightedText, QColor("#ffffff"))
        pal.setColor(QPalette.ColorRole.Link, QColor(theme.selection))
        for role in (QPalette.ColorRole.Text, QPalette.ColorRole.ButtonText, QPalette.ColorRole.WindowText):
            pal.setColor(QPalette.ColorGroup.Disabled, role, QColor("#6b7280"))
    else:
        pal = app.style().standardPalette()
        pal.setColor(QPalette.ColorRole.Highlight, QColor(theme.selection))
    app.setPalette(pal)
