"""The trail over the canvas while a block is entered: "Model > block7". Clicking "Model" (or Backspace on the
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
        self._row = QHBoxLayout(self)
        self._row.setContentsMargins(6, 2, 6, 2)
        self._row.setSpacing(4)
        self.trail: list[str] = []  # the texts shown, for tests and screen readers
        self.hide()

    def set_trail(self, scene: GraphScene) -> None:
        while self._row.count():
            w = self._row.takeAt(0).widget()
            if w is not None:
                w.deleteLater()
        self.trail = []
        if scene.entered is None:
            self.hide()
            return
        name = scene.graph.meta_name if hasattr(scene.graph, "meta_name") else "Model"
        up = QPushButton(f"\u2190 {name}")
        up.setFlat(True)
        up.setToolTip("Back to the whole model (Backspace)")
        up.clicked.connect(lambda: self.level_chosen.emit(None))
        self._row.addWidget(up)
        grp = scene.graph.group(scene.entered)
        here = QLabel(f"\u25b8  <b>{grp.label}</b>  ({len(grp.node_ids)} layers)")
        self._row.addWidget(here)
        self.trail = [name, grp.label]
        self.adjustSize()
        self.move(8, 8)
        self.show()
        self.raise_()

    def go_up(self) -> None:
        self.level_chosen.emit(None)


__all__ = ["Breadcrumb"]
