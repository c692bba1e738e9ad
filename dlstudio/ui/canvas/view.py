"""The canvas view: zoom (wheel, Ctrl +/-), pan (middle drag, space+drag), fit (F), a minimap, drops from
the palette (on a wire: insert), and in-place rename (F2)."""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import QEvent, QPoint, QPointF, QRect, QRectF, Qt, QTimer, Signal
from PySide6.QtGui import (
    QColor,
    QDragEnterEvent,
    QDragMoveEvent,
    QDropEvent,
    QKeyEvent,
    QMouseEvent,
    QPainter,
    QPaintEvent,
    QPen,
    QPixmapCache,
    QTransform,
    QWheelEvent,
)
from PySide6.QtWidgets import QGraphicsView, QLineEdit, QWidget

from ...core.layout import X_STEP
from .items import NODE_W, BlockItem, NodeItem
from .minimap import Minimap
from .scene import GraphScene
from .view_fit import MAX_ZOOM, MIN_ZOOM, READABLE_ZOOM, FitMixin
from .view_levels import LevelsMixin

MIME_LAYER = "application/x-dlstudio-layer"
LOD_ZOOM = 0.4  # below this nodes draw as coloured boxes, wires as straight segments, ports take no aim
MATERIALIZE_BUDGET = 120  # a large graph makes at most this many node items per frame (the rest next frame)
# The view scrolls over a fixed, very large area, so adding, moving or removing nodes never re-centres or
# scrolls it (a scene rect that follows the items would shift the view after every drop).
WORLD = QRectF(-200_000.0, -200_000.0, 400_000.0, 400_000.0)


class GraphView(FitMixin, LevelsMixin, QGraphicsView):
    """Palette drops arrive as `layer_dropped(type, scene_pos)`; the window routes them to the controller."""

    layer_dropped = Signal(str, QPointF)
    files_dropped = Signal(list)
    zoom_changed = Signal(float)
    scene_set = Signal(object)  # a new GraphScene (the window opened a project): docks rebind

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setRenderHints(QPainter.RenderHint.Antialiasing | QPainter.RenderHint.TextAntialiasing)
        self.setDragMode(QGraphicsView.DragMode.RubberBandDrag)
        self.setRubberBandSelectionMode(Qt.ItemSelectionMode.IntersectsItemShape)
        self.setTransformationAnchor(QGraphicsView.ViewportAnchor.AnchorUnderMouse)
        self.setViewportUpdateMode(QGraphicsView.ViewportUpdateMode.MinimalViewportUpdate)
        self.setOptimizationFlag(QGraphicsView.OptimizationFlag.DontSavePainterState, True)
        self.setAcceptDrops(True)
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        self.setSceneRect(WORLD)
        self.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.setVerticalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self._refit_on_resize = False  # set by fit_readable() until the user zooms or pans
        # scrolling and edits re-place the minimap once per burst, not once per scroll step
        self._minimap_timer = QTimer(self, singleShot=True, interval=30, timeout=self._place_minimap)
        self._pan_from: QPoint | None = None
        self._space = False
        self._editor: QLineEdit | None = None
        self.minimap = Minimap(self)
        self.minimap_enabled = True
        self.minimap.show()
        from ..breadcrumb import Breadcrumb  # the trail of entered blocks, top left

        self.breadcrumb = Breadcrumb(self)
        self.breadcrumb.level_chosen.connect(self.enter_block)
        self._levels: dict[str | None, tuple[QTransform, QPointF]] = {}  # each level's zoom and centre
        self._hover: tuple[str, QRectF] | None = None  # the unit under the mouse while zoomed out
        self.setMouseTracking(True)
        self._band = QRectF()  # the last rubber band, in scene coordinates
        self.rubberBandChanged.connect(self._band_changed)
        QPixmapCache.setCacheLimit(max(QPixmapCache.cacheLimit(), 256 * 1024))  # node caches of a full screen

    # --------------------------------------------------------------- scene
    def set_scene(self, scene: GraphScene) -> None:
        old = self.scene()
        if old is not None:
            old.changed.disconnect(self._scene_changed)
            if isinstance(old, GraphScene):
                old.enter_requested.disconnect(self.enter_block)
                old.entered_changed.disconnect(self._entered_changed)
                old.outside_node_added.disconnect(self._left_for_new_node)
        self._levels = {}
        self.setScene(scene)
        scene.changed.connect(self._scene_changed)
        scene.enter_requested.connect(self.enter_block)
        scene.entered_changed.connect(self._entered_changed)
        scene.outside_node_added.connect(self._left_for_new_node, Qt.ConnectionType.QueuedConnection)
        self._hover = None
        self.breadcrumb.set_trail(scene)
        self.minimap.schedule()
        self.scene_set.emit(scene)
        self._place_minimap()
        self._share_layout_width()

    def _scene_changed(self, _rects: object) -> None:
        self.minimap.schedule()
        self._minimap_timer.start()

    def set_minimap(self, on: bool) -> None:
        self.minimap_enabled = on
        self._place_minimap()

    def _share_layout_width(self) -> None:
        """Tell the controller how wide a row of the auto-layout may be to fit this view at a readable zoom."""
        scene = self.scene()
        if isinstance(scene, GraphScene) and self.viewport().width() > 100:
            scene.controller.layout_width = max(3 * X_STEP, self.viewport().width() / (READABLE_ZOOM + 0.02) - 40)

    def _place_minimap(self) -> None:
        """Shown only while part of the graph is off-screen (then it is worth its corner), in the first corner
        (bottom right, bottom left, top right, top left) where it covers no node; hidden when none is free."""
        vw, vh = self.viewport().width(), self.viewport().height()
        scene = self.scene()
        has_nodes = isinstance(scene, GraphScene) and bool(scene.nodes)
        mw, mh, pad = self.minimap.width(), self.minimap.height(), 10
        want = (
            self.minimap_enabled
            and has_nodes
            and vw >= 3 * mw  # on a small canvas the overview would hide the graph itself
            and vh >= 2.5 * mh
            and not self.graph_fits()
        )
        if want:
            corners = self.minimap.corners(vw, vh, pad)  # the user's corner first
            trail = self.breadcrumb.geometry() if self.breadcrumb.isVisible() else QRect()
            spots = [QRect(x, y, mw, mh) for x, y in corners]
            free = [r.topLeft() for r in spots if not self._covers_a_node(r) and not trail.intersects(r)]
            if free:
                self.minimap.move(free[0])
            want = bool(free)
        if self.minimap.isVisible() != want:
            self.minimap.setVisible(want)

    def _covers_a_node(self, area: QRect) -> bool:
        scene = self.scene()
        if scene is None:
            return False
        rect = self.mapToScene(area.adjusted(-6, -6, 6, 6)).boundingRect()
        if isinstance(scene, GraphScene) and scene.large:
            return bool(scene.unit_index().in_rect(rect))
        items = scene.items(rect, Qt.ItemSelectionMode.IntersectsItemBoundingRect)
        return any(isinstance(i, NodeItem) and i.isVisible() for i in items)

    def graph_fits(self) -> bool:
        """Whether every visible node lies inside the viewport."""
        rect = self._visible_nodes_rect()
        if rect.isEmpty():
            return True
        return self.mapToScene(self.viewport().rect()).boundingRect().contains(rect)

    def resizeEvent(self, event: QEvent) -> None:  # noqa: N802
        super().resizeEvent(event)
        self.breadcrumb.move(8, 8)
        self._share_layout_width()
        if self._refit_on_resize:  # the window is still settling its size after opening a project
            self.fit_readable()
        self._place_minimap()

    def scrollContentsBy(self, dx: int, dy: int) -> None:  # noqa: N802
        super().scrollContentsBy(dx, dy)
        self.minimap.update()
        self._minimap_timer.start()

    # ------------------------------------------------------- level of detail
    def paintEvent(self, event: QPaintEvent) -> None:  # noqa: N802
        """Before each frame: the scene's level of detail follows the zoom, and a large graph gets the items of
        what is on screen (a bounded number per frame; the overview covers the rest meanwhile)."""
        scene = self.scene()
        if isinstance(scene, GraphScene):
            scene.set_detail("box" if self.zoom < LOD_ZOOM else "full")
            if scene.large and scene.detail == "full" and scene.overview is not None:
                area = self.mapToScene(self.viewport().rect()).boundingRect().adjusted(-250, -150, 250, 150)
                done = scene.materialize(area, MATERIALIZE_BUDGET)
                scene.overview.setVisible(not done)
                if self._editor is None:
                    scene.forget_far(area.adjusted(-2000, -2000, 2000, 2000))
                if not done:
                    QTimer.singleShot(0, self.viewport().update)
        super().paintEvent(event)

    def mouseMoveEvent(self, event: QMouseEvent) -> None:  # noqa: N802
        scene = self.scene()
        if self._pan_from is None and isinstance(scene, GraphScene) and scene.detail == "box":
            self._hover_at(scene, self.mapToScene(event.position().toPoint()))
        elif self._hover is not None:
            self._hover = None
            self.viewport().update()
        self._mouse_move(event)

    def _hover_at(self, scene: GraphScene, pos: QPointF) -> None:
        """Zoomed out, labels are gone: the unit under the mouse shows its label (drawn in drawForeground)."""
        unit = scene.unit_index().at(pos)
        hover = None
        if unit is not None:
            node = scene.graph.nodes.get(unit.key)
            label = unit.label if node is None else f"{node.label}  ({node.type})"
            hover = (label, unit.rect)
        if hover != self._hover:
            self._hover = hover
            self.viewport().update()

    def hover_label(self) -> str | None:
        return self._hover[0] if self._hover is not None else None

    def drawForeground(self, painter: QPainter, rect: QRectF) -> None:  # noqa: N802
        scene = self.scene()
        if self._hover is not None and isinstance(scene, GraphScene) and scene.detail == "box":
            text, unit_rect = self._hover
            at = self.mapFromScene(unit_rect.topLeft())
            painter.save()
            painter.resetTransform()
            fm = painter.fontMetrics()
            box = QRectF(at.x(), at.y() - fm.height() - 8, fm.horizontalAdvance(text) + 12, fm.height() + 6)
            painter.setPen(QPen(QColor(scene.theme.wire), 1))
            painter.setBrush(QColor(scene.theme.node))
            painter.drawRoundedRect(box, 4, 4)
            painter.setPen(QColor(scene.theme.node_text))
            painter.drawText(box, Qt.AlignmentFlag.AlignCenter, text)
            painter.restore()
        if isinstance(scene, GraphScene) and not scene.nodes and not scene.large and not scene.graph.nodes:
            # an empty canvas says what to do first
            painter.save()
            painter.resetTransform()
            painter.setPen(QColor(scene.theme.node_subtext))
            f = painter.font()
            f.setPointSizeF(f.pointSizeF() * 1.3)
            painter.setFont(f)
            painter.drawText(
                self.viewport().rect(),
                Qt.AlignmentFlag.AlignCenter,
                "Drag layers here from the palette on the left\n"
                "or start from an example: File \u25b8 New from template (Ctrl+Shift+N)",
            )
            painter.restore()

    # ---------------------------------------------------------------- zoom
    @property
    def zoom(self) -> float:
        return self.transform().m11()

    def set_zoom(self, factor: float) -> None:
        self._refit_on_resize = False
        target = min(MAX_ZOOM, max(MIN_ZOOM, self.zoom * factor))
        f = target / self.zoom
        self.scale(f, f)
        self.zoom_changed.emit(self.zoom)
        self.minimap.update()
        self._minimap_timer.start()

    def zoom_in(self) -> None:
        self.set_zoom(1.2)

    def zoom_out(self) -> None:
        self.set_zoom(1 / 1.2)

    def wheelEvent(self, event: QWheelEvent) -> None:  # noqa: N802
        if event.modifiers() & Qt.KeyboardModifier.ShiftModifier:
            super().wheelEvent(event)  # shift+wheel scrolls
            return
        delta = event.angleDelta().y()
        if delta:
            self.set_zoom(1.0015**delta)

    # ----------------------------------------------------------------- pan
    def keyPressEvent(self, event: QKeyEvent) -> None:  # noqa: N802
        if event.key() == Qt.Key.Key_F and event.modifiers() == Qt.KeyboardModifier.ShiftModifier:
            self.fit_selection()
            return
        scene = self.scene()
        if isinstance(scene, GraphScene) and event.modifiers() == Qt.KeyboardModifier.NoModifier:
            if event.key() in (Qt.Key.Key_Return, Qt.Key.Key_Enter):
                blocks = [g for g in scene.selected_group_ids() if scene.graph.group(g).collapsed]
                if len(blocks) == 1:
                    self.enter_block(blocks[0])
                    return
            # Escape goes up one level (Backspace is the window's Delete shortcut); a wire being drawn takes it first
            if event.key() == Qt.Key.Key_Escape and scene.entered is not None and scene.gesture is None:
                self.go_up()
                return
        if (
            isinstance(scene, GraphScene)
            and event.key() == Qt.Key.Key_Up
            and event.modifiers() == Qt.KeyboardModifier.AltModifier
        ):
            self.go_up()  # Alt+Up: up one level, as in file browsers
            return
        if event.key() == Qt.Key.Key_Space and not event.isAutoRepeat():
            self._space = True
            self.setDragMode(QGraphicsView.DragMode.ScrollHandDrag)
            return
        super().keyPressEvent(event)

    def keyReleaseEvent(self, event: QKeyEvent) -> None:  # noqa: N802
        if event.key() == Qt.Key.Key_Space and not event.isAutoRepeat():
            self._space = False
            self.setDragMode(QGraphicsView.DragMode.RubberBandDrag)
            return
        super().keyReleaseEvent(event)

    def mousePressEvent(self, event: QMouseEvent) -> None:  # noqa: N802
        self._refit_on_resize = False
        if event.button() == Qt.MouseButton.MiddleButton:
            self._pan_from = event.position().toPoint()
            self.viewport().setCursor(Qt.CursorShape.ClosedHandCursor)
            return
        super().mousePressEvent(event)

    def _mouse_move(self, event: QMouseEvent) -> None:
        if self._pan_from is not None:
            d = event.position().toPoint() - self._pan_from
            self._pan_from = event.position().toPoint()
            self.horizontalScrollBar().setValue(self.horizontalScrollBar().value() - d.x())
            self.verticalScrollBar().setValue(self.verticalScrollBar().value() - d.y())
            return
        super().mouseMoveEvent(event)

    def mouseReleaseEvent(self, event: QMouseEvent) -> None:  # noqa: N802
        if self._pan_from is not None and event.button() == Qt.MouseButton.MiddleButton:
            self._pan_from = None
            self.viewport().unsetCursor()
            return
        band, self._band = self._band, QRectF()
        super().mouseReleaseEvent(event)
        scene = self.scene()
        if isinstance(scene, GraphScene) and scene.large and scene.detail == "box" and not band.isEmpty():
            self.select_in(band)

    def _band_changed(self, rect: QRect, from_scene: QPointF, to_scene: QPointF) -> None:
        if not rect.isNull():
            self._band = QRectF(from_scene, to_scene).normalized()

    def select_in(self, area: QRectF) -> None:
        """Select the units inside a scene rectangle from the index: below the readable zoom a large graph's
        items are transparent, which Qt's own rubber band skips."""
        scene = self.scene()
        if not isinstance(scene, GraphScene):
            return
        scene.blockSignals(True)
        try:
            for u in scene.unit_index().in_rect(area):
                if not area.contains(u.rect):
                    continue
                item = scene.blocks.get(u.key) if u.is_block else scene.nodes[u.key]
                if item is not None:
                    item.setSelected(True)
        finally:
            scene.blockSignals(False)
        scene.selectionChanged.emit()

    # --------------------------------------------------------------- drops
    def dragEnterEvent(self, event: QDragEnterEvent) -> None:  # noqa: N802
        md = event.mimeData()
        if md.hasFormat(MIME_LAYER) or md.hasUrls():
            event.acceptProposedAction()
        else:
            super().dragEnterEvent(event)

    def dragMoveEvent(self, event: QDragMoveEvent) -> None:  # noqa: N802
        md = event.mimeData()
        if md.hasFormat(MIME_LAYER) or md.hasUrls():
            event.acceptProposedAction()
        else:
            super().dragMoveEvent(event)

    def dropEvent(self, event: QDropEvent) -> None:  # noqa: N802
        self._refit_on_resize = False
        md = event.mimeData()
        if md.hasFormat(MIME_LAYER):  # inside an entered block the window adds it to that block
            type_name = bytes(md.data(MIME_LAYER).data()).decode("utf-8")
            self.layer_dropped.emit(type_name, self.mapToScene(event.position().toPoint()))
            event.acceptProposedAction()
            return
        if md.hasUrls():
            self.files_dropped.emit([u.toLocalFile() for u in md.urls() if u.isLocalFile()])
            event.acceptProposedAction()
            return
        super().dropEvent(event)

    # -------------------------------------------------------------- rename
    def begin_rename(self, item: NodeItem, on_done: Callable[[str, str, bool], object]) -> QLineEdit:
        """A line edit over the node's title; Enter commits, Escape cancels."""
        if self._editor is not None:
            self._editor.deleteLater()
        top_left = self.mapFromScene(item.mapToScene(QPointF(4, 2)))
        editor = QLineEdit(item.label, self.viewport())
        editor.setGeometry(top_left.x(), top_left.y(), int((NODE_W - 30) * self.zoom), int(22 * max(self.zoom, 0.8)))
        editor.selectAll()
        editor.show()
        editor.setFocus()
        self._editor = editor
        done = {"v": False}

        def commit() -> None:
            if done["v"]:
                return
            done["v"] = True
            text = editor.text()
            editor.hide()
            editor.deleteLater()
            self._editor = None
            self.setFocus()
            if isinstance(item, BlockItem):
                on_done(item.key, text, True)
            else:
                on_done(item.key, text, False)

        editor.editingFinished.connect(commit)
        return editor
