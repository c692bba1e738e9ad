"""The trail over the canvas while a block is entered: "Model > block7". Clicking "Model" (or Escape on the
canvas) goes back out; the view keeps each level's zoom and selection."""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QHBoxLayout, QLabel, QPushButton, QWidget

if TYPE_CHECKING:
    from .canvas.scene import GraphScene


class Breadcrumb(QWidget):
    """Hidden at the top level; shown with one button per level above the entered block."""

    level_chosen = Signal(object)  # a group id, or None for the whole model

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setAutoFillBackground(True)
        self.setStyleSheet(
            "Breadcrumb { background: palette(window); border: 1px solid palette(mid); border-radius: 4px; }"
        )
        row = QHBoxLayout(self)
        row.setContentsMargins(6, 2, 6, 2)
        row.setSpacing(4)
        self._up = QPushButton("\u2190 Model")
        self._up.setFlat(True)
        self._up.setToolTip("Back to the whole model (Escape)")
        self._up.clicked.connect(self.go_up)
        self._here = QLabel()
        row.addWidget(self._up)
        row.addWidget(self._here)
        self.trail: list[str] = []  # the texts shown, for tests and screen readers
        self.hide()

    def set_trail(self, scene: GraphScene) -> None:
        if scene.entered is None:
            self.trail = []
            self.hide()
            return
        grp = scene.graph.group(scene.entered)
        self._here.setText(f"\u25b8  <b>{grp.label}</b>  ({len(grp.node_ids)} layers)")
        self.trail = ["Model", grp.label]
        self.layout().activate()
        self.resize(self.sizeHint())
        self.move(8, 8)
        self.show()
        self.raise_()

    def go_up(self) -> None:
        self.level_chosen.emit(None)


__all__ = ["Breadcrumb"]
