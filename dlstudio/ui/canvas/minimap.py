"""The minimap: an overview of the whole graph drawn from a cached image (remade after edits, never per frame),
with the main view's frame over it. The view places it in a free corner, translucent, and hides it while the
graph fits. The user moves it by its top bar to another corner (it snaps to the nearest one, remembered in the
window's settings); a click or drag on the map below moves the view."""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtCore import QPoint, QPointF, QRect, QRectF, QSettings, Qt, QTimer
from PySide6.QtGui import QColor, QImage, QMouseEvent, QPainter, QPen
from PySide6.QtWidgets import QWidget

from ..theme import category_colour
from .overview import UnitIndex
from .scene import GraphScene

if TYPE_CHECKING:
    from .view import GraphView


CORNERS = ("bottom_right", "bottom_left", "top_right", "top_left")  # the view tries them in this order
SETTINGS_KEY = "minimap_corner"
GRIP = 12  # height of the top bar it is moved by


class Minimap(QWidget):
    """An overview of the whole graph from a cached image (remade after edits, never per frame); the frame of
    the main view is drawn over it. Click or drag on the map to move the main view there; drag the top bar to
    move the minimap to another corner."""

    def __init__(self, main: GraphView) -> None:
        super().__init__(main)
        self.main = main
        self.setFixedSize(200, 130)
        self.corner = CORNERS[0]  # the user's corner: the view places it there first
        self._settings: QSettings | None = None
        self._grab: QPoint | None = None  # where the top bar was grabbed, while it is being moved
        self._navigating = False
        self.setMouseTracking(True)  # the cursor tells the bar (move it) from the map (move the view)
        self.setCursor(Qt.CursorShape.PointingHandCursor)
        self.setToolTip(
            "Overview of the whole graph: click or drag on it to move the view there.\n"
            "Drag the bar at its top to move the overview to another corner. M hides it."
        )
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

    # ------------------------------------------------------------------ where it sits
    def use_settings(self, settings: QSettings) -> None:
        """Read the corner the user chose last time, and save the next choice in `settings`."""
        self._settings = settings
        corner = str(settings.value(SETTINGS_KEY, CORNERS[0]))
        self.corner = corner if corner in CORNERS else CORNERS[0]

    def corners(self, width: int, height: int, pad: int) -> list[tuple[int, int]]:
        """Top-left positions in a viewport of `width` x `height` for the view to try, the user's corner first
        and then the others in the usual order (the view takes the first that covers no node)."""
        mw, mh = self.width(), self.height()
        at = {
            "bottom_right": (width - mw - pad, height - mh - pad),
            "bottom_left": (pad, height - mh - pad),
            "top_right": (width - mw - pad, pad),
            "top_left": (pad, pad),
        }
        return [at[self.corner]] + [at[c] for c in CORNERS if c != self.corner]

    def _nearest_corner(self) -> str:
        centre = self.geometry().center()
        area = self.main.viewport().geometry()
        vertical = "top" if centre.y() < area.center().y() else "bottom"
        horizontal = "left" if centre.x() < area.center().x() else "right"
        return f"{vertical}_{horizontal}"

    def _map_rect(self) -> QRect:
        """The part below the top bar that shows the graph."""
        return QRect(0, GRIP, self.width(), self.height() - GRIP)

    def _on_grip(self, p: QPointF) -> bool:
        return p.y() < GRIP

    def refit(self) -> None:
        scene = self.main.scene()
        if not isinstance(scene, GraphScene):
            return
        index = scene.unit_index()
        state = (id(index), index.version)
        if state != self._index or self._image.size() != self._map_rect().size():
            self._index = state
            self._render(index)
        self.refreshes += 1
        self.update()

    def _render(self, index: UnitIndex) -> None:
        rect = index.bounds.adjusted(-40, -40, 40, 40)
        if rect.isEmpty():
            rect = QRectF(0, 0, 400, 300)
        w, h = self._map_rect().width(), self._map_rect().height()
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
        area = self._map_rect()
        sx = self._source.width() / max(1, area.width())
        sy = self._source.height() / max(1, area.height())
        return QPointF(self._source.left() + p.x() * sx, self._source.top() + (p.y() - area.top()) * sy)

    def paintEvent(self, event: object) -> None:  # noqa: N802
        painter = QPainter(self)
        area = self._map_rect()
        painter.setOpacity(0.85)  # translucent: what little of the graph it may cover shows through
        if not self._image.isNull():
            painter.drawImage(area.topLeft(), self._image)
        # the top bar it is moved by, with a grip in its middle
        painter.fillRect(QRect(0, 0, self.width(), GRIP), QColor(128, 128, 128, 110))
        painter.setOpacity(1.0)
        painter.setPen(Qt.PenStyle.NoPen)
        scene = self.main.scene()
        light = isinstance(scene, GraphScene) and QColor(scene.theme.canvas).lightness() > 128
        dots = QColor(70, 70, 70, 230) if light else QColor(235, 235, 235, 230)
        painter.setBrush(dots if self._grab is None else QColor("#2f7cf6"))
        for i in range(-2, 3):
            for row in (GRIP / 2 - 2, GRIP / 2 + 2):
                painter.drawEllipse(QPointF(self.width() / 2 + 6 * i, row), 1.3, 1.3)
        visible = self.main.mapToScene(self.main.viewport().rect()).boundingRect()
        sx = area.width() / max(1e-6, self._source.width())
        sy = area.height() / max(1e-6, self._source.height())
        frame = QRectF(
            (visible.left() - self._source.left()) * sx,
            area.top() + (visible.top() - self._source.top()) * sy,
            visible.width() * sx,
            visible.height() * sy,
        )
        painter.setClipRect(area)
        painter.setPen(QPen(QColor("#2f7cf6"), 1))
        painter.setBrush(QColor(47, 124, 246, 40))
        painter.drawRect(frame)
        painter.setClipping(False)
        painter.setPen(QPen(QColor(128, 128, 128), 1))
        painter.setBrush(Qt.BrushStyle.NoBrush)
        painter.drawRect(self.rect().adjusted(0, 0, -1, -1))
        painter.end()

    # ------------------------------------------------------------------ mouse: the bar moves it, the map the view
    # every event is accepted here, so none reaches the view underneath (no rubber band, no pan)
    def mousePressEvent(self, event: QMouseEvent) -> None:  # noqa: N802
        event.accept()
        if event.button() != Qt.MouseButton.LeftButton:
            return
        if self._on_grip(event.position()):
            self._grab = event.position().toPoint()
            self.setCursor(Qt.CursorShape.ClosedHandCursor)
            self.update()
            return
        self._navigating = True
        self._navigate(event.position())

    def mouseMoveEvent(self, event: QMouseEvent) -> None:  # noqa: N802
        event.accept()
        if self._grab is not None:
            area = self.main.viewport().geometry()
            top_left = self.mapToParent(event.position().toPoint()) - self._grab
            x = min(max(top_left.x(), area.left()), area.right() - self.width())
            y = min(max(top_left.y(), area.top()), area.bottom() - self.height())
            self.move(x, y)
        elif self._navigating:
            self._navigate(event.position())
        else:
            grip = self._on_grip(event.position())
            self.setCursor(Qt.CursorShape.OpenHandCursor if grip else Qt.CursorShape.PointingHandCursor)

    def mouseReleaseEvent(self, event: QMouseEvent) -> None:  # noqa: N802
        event.accept()
        self._navigating = False
        if self._grab is None:
            return
        self._grab = None
        self.setCursor(Qt.CursorShape.OpenHandCursor)
        self.corner = self._nearest_corner()
        if self._settings is not None:
            self._settings.setValue(SETTINGS_KEY, self.corner)
            self._settings.sync()
        self.main.set_minimap(self.main.minimap_enabled)  # the view places it there (or in a corner left free)
        self.update()

    def _navigate(self, p: QPointF) -> None:
        self.main.centerOn(self._to_scene(p))
        self.update()


__all__ = ["CORNERS", "Minimap"]
