"""The trail over the canvas while a block is entered: "Model > layer1 > layer1.0", one button per level above
the entered block. Clicking a level goes there; Escape or Alt+Up on the canvas goes up one level; the view keeps
each level's zoom and selection."""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QHBoxLayout, QLabel, QPushButton, QWidget

if TYPE_CHECKING:
    from .canvas.scene import GraphScene

SEPARATOR = "\u203a"  # ›


class Breadcrumb(QWidget):
    """Hidden at the top level; shown with one button per level above the entered block and the entered block's
    name (bold, with its counts) last."""

    level_chosen = Signal(object)  # a group id, or None for the whole model

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setAutoFillBackground(True)
        self.setStyleSheet(
            "Breadcrumb { background: palette(window); border: 1px solid palette(mid); border-radius: 4px; }"
            "QPushButton { padding: 1px 4px; }"
        )
        self._row = QHBoxLayout(self)
        self._row.setContentsMargins(6, 2, 6, 2)
        self._row.setSpacing(2)
        self.trail: list[str] = []  # the texts shown, for tests and screen readers
        self.levels: list[str | None] = []  # the level each entry goes to (None: the whole model)
        self.buttons: list[QPushButton] = []
        self.hide()

    def _clear(self) -> None:
        while self._row.count():
            w = self._row.takeAt(0).widget()
            if w is not None:
                w.hide()
                w.setParent(None)
                w.deleteLater()
        self.buttons = []

    def set_trail(self, scene: GraphScene) -> None:
        self._clear()
        # rebuilt while hidden: a child added to a shown widget is shown only later (queued), so the layout's size
        # hint would leave it out and the trail would shrink to its margins when going from one block to another
        self.hide()
        if scene.entered is None or scene.entered not in scene.graph.groups:
            self.trail, self.levels = [], []
            self.hide()
            return
        graph = scene.graph
        path = graph.group_path(scene.entered)
        self.levels = [None, *path]
        self.trail = ["Model", *(graph.group(g).label for g in path)]
        for i, (level, text) in enumerate(zip(self.levels[:-1], self.trail[:-1])):
            button = QPushButton(("\u2190 " if i == 0 else "") + text, self)
            button.setFlat(True)
            where = "the whole model" if level is None else f"block '{text}'"
            up = " (Escape)" if i == len(self.levels) - 2 else ""
            button.setToolTip(f"Go up to {where}{up}")
            button.clicked.connect(lambda _=False, lv=level: self.level_chosen.emit(lv))
            self._row.addWidget(button)
            self.buttons.append(button)
            sep = QLabel(SEPARATOR, self)
            self._row.addWidget(sep)
        here = graph.group(scene.entered)
        inner = graph.child_groups(scene.entered)
        counts = f"{len(graph.group_nodes_deep(scene.entered))} layers"
        if inner:
            counts += f", {len(inner)} block" + "s" * (len(inner) > 1)
        label = QLabel(f"<b>{here.label}</b>  ({counts})", self)
        self._row.addWidget(label)
        self.layout().activate()
        self.resize(self.sizeHint())
        self.move(8, 8)
        self.show()
        self.raise_()

    def go_up(self) -> None:
        """To the level above the entered block."""
        if len(self.levels) >= 2:
            self.level_chosen.emit(self.levels[-2])


__all__ = ["Breadcrumb"]
