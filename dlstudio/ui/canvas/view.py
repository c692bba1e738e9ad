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
    QPen,
    QWheelEvent,
)
from PySide6.QtWidgets import QGraphicsOpacityEffect, QGraphicsView, QLineEdit, QWidget

from ...core.layout import X_STEP
from .items import NODE_W, BlockItem, NodeItem
from .scene import GraphScene

MIME_LAYER = "application/x-dlstudio-layer"
MIN_ZOOM, MAX_ZOOM = 0.08, 3.0
READABLE_ZOOM = 0.6  # below this node text gets hard to read
# The view scrolls over a fixed, very large area, so adding, moving or removing nodes never re-centres or
# scrolls it (a scene rect that follows the items would shift the view after every drop).
WORLD = QRectF(-200_000.0, -200_000.0, 400_000.0, 400_000.0)


class Minimap(QGraphicsView):
    """An overview of the whole scene; click or drag to move the main view there."""

    def __init__(self, main: GraphView) -> None:
        super().__init__(main)
        self.main = main
        self.setInteractive(False)
        self.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.setVerticalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.setFixedSize(200, 130)
        self.setStyleSheet("border: 1px solid palette(mid); border-radius: 4px;")
        self.setViewportUpdateMode(QGraphicsView.ViewportUpdateMode.NoViewportUpdate)
        # translucent, so what little of the graph it may cover shows through
        self._opacity = QGraphicsOpacityEffect(self)
        self._opacity.setOpacity(0.85)
        self.setGraphicsEffect(self._opacity)
        self._timer = QTimer(self, singleShot=True, interval=150, timeout=self.refit)
        self.refreshes = 0  # how often it redrew after an edit (tests)

    def schedule(self) -> None:
        self._timer.start()

    def refit(self) -> None:
        if self.scene() is None:
            return
        rect = self.scene().itemsBoundingRect().adjusted(-40, -40, 40, 40)
        if rect.isEmpty():
            rect = QRectF(0, 0, 400, 300)
        self.fitInView(rect, Qt.AspectRatioMode.KeepAspectRatio)
        self.resetCachedContent()
        self.viewport().update()
        self.refreshes += 1

    def drawForeground(self, painter: QPainter, rect: QRectF) -> None:  # noqa: N802
        visible = self.main.mapToScene(self.main.viewport().rect()).boundingRect()
        painter.setPen(QPen(QColor("#2f7cf6"), 0))
        painter.setBrush(QColor(47, 124, 246, 40))
        painter.drawRect(visible)

    def mousePressEvent(self, event: QMouseEvent) -> None:  # noqa: N802
        self.main.centerOn(self.mapToScene(event.position().toPoint()))
        self.viewport().update()

    def mouseMoveEvent(self, event: QMouseEvent) -> None:  # noqa: N802
        if event.buttons() & Qt.MouseButton.LeftButton:
            self.mousePressEvent(event)


class GraphView(QGraphicsView):
    """Palette drops arrive as `layer_dropped(type, scene_pos)`; the window routes them to the controller."""

    layer_dropped = Signal(str, QPointF)
    files_dropped = Signal(list)
    zoom_changed = Signal(float)

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

    # --------------------------------------------------------------- scene
    def set_scene(self, scene: GraphScene) -> None:
        old = self.scene()
        if old is not None:
            old.changed.disconnect(self._scene_changed)
        self.setScene(scene)
        self.minimap.setScene(scene)
        scene.changed.connect(self._scene_changed)
        self.minimap.schedule()
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
            corners = [(vw - mw - pad, vh - mh - pad), (pad, vh - mh - pad), (vw - mw - pad, pad), (pad, pad)]
            free = [c for c in corners if not self._covers_a_node(QRect(c[0], c[1], mw, mh))]
            if free:
                self.minimap.move(*free[0])
            want = bool(free)
        if self.minimap.isVisible() != want:
            self.minimap.setVisible(want)

    def _covers_a_node(self, area: QRect) -> bool:
        scene = self.scene()
        if scene is None:
            return False
        rect = self.mapToScene(area.adjusted(-6, -6, 6, 6)).boundingRect()
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
        self._share_layout_width()
        if self._refit_on_resize:  # the window is still settling its size after opening a project
            self.fit_readable()
        self._place_minimap()

    def scrollContentsBy(self, dx: int, dy: int) -> None:  # noqa: N802
        super().scrollContentsBy(dx, dy)
        self.minimap.viewport().update()
        self._minimap_timer.start()

    def drawForeground(self, painter: QPainter, rect: QRectF) -> None:  # noqa: N802
        scene = self.scene()
        if isinstance(scene, GraphScene) and not scene.nodes:
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
        self.minimap.viewport().update()
        self._minimap_timer.start()

    def zoom_in(self) -> None:
        self.set_zoom(1.2)

    def zoom_out(self) -> None:
        self.set_zoom(1 / 1.2)

    def fit(self, rect: QRectF | None = None) -> None:
        """Fit `rect`, by default the whole graph whatever is selected (F); `fit_selection` is Shift+F."""
        if self.scene() is None:
            return
        if rect is None:
            rect = self._visible_nodes_rect()
        self._fit_rect(rect)

    def fit_selection(self) -> None:
        """Fit the selected nodes and blocks (Shift+F); with nothing selected, the whole graph."""
        if self.scene() is None:
            return
        rect = QRectF()
        for i in self.scene().selectedItems():
            if isinstance(i, NodeItem) and i.isVisible():
                rect = rect.united(i.sceneBoundingRect())
        self._fit_rect(rect if not rect.isEmpty() else self._visible_nodes_rect())

    def _fit_rect(self, rect: QRectF) -> None:
        if rect.isEmpty():
            return
        self._refit_on_resize = False
        self.fitInView(rect.adjusted(-60, -60, 60, 60), Qt.AspectRatioMode.KeepAspectRatio)
        if self.zoom > 1.25 or self.zoom < MIN_ZOOM:
            z = min(1.25, max(MIN_ZOOM, self.zoom))
            self.resetTransform()
            self.scale(z, z)
            self.centerOn(rect.center())
        self.zoom_changed.emit(self.zoom)
        self.minimap.refit()
        self._place_minimap()

    def fit_readable(self, min_zoom: float = READABLE_ZOOM, zoom: float = 0.8) -> None:
        """Fit the whole graph when that leaves its nodes readable (at least `min_zoom`). A graph too big for
        that first has its expanded blocks collapsed (one undo step that does not mark the project modified);
        if it is still too big it opens at `zoom` on its beginning (inputs on the left), and the minimap shows
        the rest. Below ~50 % nodes draw as plain boxes. Until the user zooms or pans, a resize (the window
        settling its size at start) fits again."""
        scene = self.scene()
        if scene is None:
            return
        self.fit(self._visible_nodes_rect())
        if self.zoom < min_zoom and isinstance(scene, GraphScene) and self._collapse_for_fit(scene):
            self.fit(self._visible_nodes_rect())
        if self.zoom < min_zoom:
            rect = self._visible_nodes_rect()
            self.resetTransform()
            self.scale(zoom, zoom)
            half_w = self.viewport().width() / zoom / 2
            half_h = self.viewport().height() / zoom / 2
            # the beginning: the left edge, and the top row when a wrapped graph is taller than the view
            y = rect.center().y() if rect.height() / 2 + 40 <= half_h else rect.top() - 40 + half_h
            # whole columns only: the leading columns that fit are shown whole, the next one not cut in half
            view_w = 2 * half_w
            rects = self._visible_node_rects()
            fitting = [r.right() for r in rects if r.right() - rect.left() <= view_w - 40]
            margin = 40.0
            if fitting:
                span = max(fitting) - rect.left()
                margin = (view_w - span) / 2
                beyond = [r.left() for r in rects if r.left() > max(fitting)]
                if beyond:  # keep the next column wholly out of view rather than cut
                    margin = min(max(margin, view_w - (min(beyond) - rect.left()) + 12), view_w - span - 20)
            self.centerOn(QPointF(rect.left() - margin + half_w, y))
            self.zoom_changed.emit(self.zoom)
            self.minimap.refit()
            self._place_minimap()
        self._refit_on_resize = True

    def _collapse_for_fit(self, scene: GraphScene) -> bool:
        graph, controller = scene.graph, scene.controller
        expanded = {gid: True for gid, grp in graph.groups.items() if not grp.collapsed}
        if not expanded:
            return False
        stack = controller.undo_stack
        was_clean = stack.isClean()
        done = controller.set_collapsed_many(expanded)
        if done and was_clean:
            stack.setClean()
        scene.apply_analysis(set())
        return done

    def _visible_node_rects(self) -> list[QRectF]:
        scene = self.scene()
        if not isinstance(scene, GraphScene):
            return []
        items: list[NodeItem] = [*scene.nodes.values(), *scene.blocks.values()]
        return [i.sceneBoundingRect() for i in items if i.isVisible()]

    def _visible_nodes_rect(self) -> QRectF:
        rect = QRectF()
        for r in self._visible_node_rects():
            rect = rect.united(r)
        return rect

    def centre_on_node(self, item: NodeItem) -> None:
        self.centerOn(item.sceneBoundingRect().center())

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

    def mouseMoveEvent(self, event: QMouseEvent) -> None:  # noqa: N802
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
        super().mouseReleaseEvent(event)

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
        if md.hasFormat(MIME_LAYER):
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
