"""The minimap: an overview of the whole graph drawn from a cached image (remade after edits, never per frame),
with the main view's frame over it. The view places it in a free corner, translucent, and hides it while the
graph fits."""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtCore import QPointF, QRectF, Qt, QTimer
from PySide6.QtGui import QColor, QImage, QMouseEvent, QPainter, QPen
from PySide6.QtWidgets import QWidget

from ..theme import category_colour
from .overview import UnitIndex
from .scene import GraphScene

if TYPE_CHECKING:
    from .view import GraphView


class Minimap(QWidget):
    """An overview of the whole graph from a cached image (remade after edits, never per frame); the frame of
    the main view is drawn over it. Click or drag to move the main view there."""

    def __init__(self, main: GraphView) -> None:
        super().__init__(main)
        self.main = main
        self.setFixedSize(200, 130)
        # not WA_OpaquePaintEvent: the image is drawn translucent, so Qt must paint what lies under it first (an
        # opaque widget would blend the image with uninitialised pixels)
        self._timer = QTimer(self, singleShot=True, interval=150, timeout=self.refit)
        self._image = QImage()
        self._source = QRectF(0, 0, 400, 300)  # scene rect the image shows
        self._index: object = None
        self.refreshes = 0  # how often it caught up with an edit (tests)
        self.renders = 0  # how often the image was redrawn

    def schedule(self) -> None:
        self._timer.start()

    def refit(self) -> None:
        scene = self.main.scene()
        if not isinstance(scene, GraphScene):
            return
        index = scene.unit_index()
        state = (id(index), index.version)
        if state != self._index or self._image.size() != self.size():
            self._index = state
            self._render(index)
        self.refreshes += 1
        self.update()

    def _render(self, index: UnitIndex) -> None:
        rect = index.bounds.adjusted(-40, -40, 40, 40)
        if rect.isEmpty():
            rect = QRectF(0, 0, 400, 300)
        w, h = self.width(), self.height()
        scale = min(w / rect.width(), h / rect.height())
        # centre the graph in the image
        self._source = QRectF(
            rect.center().x() - w / scale / 2, rect.center().y() - h / scale / 2, w / scale, h / scale
        )
        theme = self.main.scene().theme  # type: ignore[union-attr]
        image = QImage(w, h, QImage.Format.Format_RGB32)
        image.fill(QColor(theme.canvas))
        painter = QPainter(image)
        painter.scale(scale, scale)
        painter.translate(-self._source.topLeft())
        colours: dict[str, QColor] = {}
        for u in index.units:
            c = colours.get(u.category)
            if c is None:
                c = colours[u.category] = category_colour(u.category)
            painter.fillRect(u.rect, c)
        painter.end()
        self._image = image
        self.renders += 1

    def _to_scene(self, p: QPointF) -> QPointF:
        sx = self._source.width() / max(1, self.width())
        sy = self._source.height() / max(1, self.height())
        return QPointF(self._source.left() + p.x() * sx, self._source.top() + p.y() * sy)

    def paintEvent(self, event: object) -> None:  # noqa: N802
        painter = QPainter(self)
        painter.setOpacity(0.85)  # translucent: what little of the graph it may cover shows through
        if not self._image.isNull():
            painter.drawImage(0, 0, self._image)
        painter.setOpacity(1.0)
        visible = self.main.mapToScene(self.main.viewport().rect()).boundingRect()
        sx = self.width() / max(1e-6, self._source.width())
        sy = self.height() / max(1e-6, self._source.height())
        frame = QRectF(
            (visible.left() - self._source.left()) * sx,
            (visible.top() - self._source.top()) * sy,
            visible.width() * sx,
            visible.height() * sy,
        )
        painter.setPen(QPen(QColor("#2f7cf6"), 1))
        painter.setBrush(QColor(47, 124, 246, 40))
        painter.drawRect(frame)
        painter.setPen(QPen(QColor(128, 128, 128), 1))
        painter.setBrush(Qt.BrushStyle.NoBrush)
        painter.drawRect(self.rect().adjusted(0, 0, -1, -1))
        painter.end()

    def mousePressEvent(self, event: QMouseEvent) -> None:  # noqa: N802
        self.main.centerOn(self._to_scene(event.position()))
        self.update()

    def mouseMoveEvent(self, event: QMouseEvent) -> None:  # noqa: N802
        if event.buttons() & Qt.MouseButton.LeftButton:
            self.mousePressEvent(event)


__all__ = ["Minimap"]
