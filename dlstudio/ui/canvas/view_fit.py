"""The view's fitting: fit the graph (F) or the selection (Shift+F), and open a project at a readable zoom
(collapsing expanded blocks, or showing the beginning of a graph too big to read whole). Mixed into GraphView."""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import QPointF, QRectF, Qt

from .items import NodeItem
from .scene import GraphScene

MIN_ZOOM, MAX_ZOOM = 0.08, 3.0
READABLE_ZOOM = 0.6  # below this node text gets hard to read


class FitMixin:
    """Mixed into GraphView (self is the QGraphicsView)."""

    minimap: Any
    _refit_on_resize: bool

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
        that opens at `zoom` on its beginning (inputs on the left), and the minimap shows the rest; the blocks
        the user expanded stay expanded (a saved project reopens as it was saved). Below ~50 % nodes draw as
        plain boxes. Until the user zooms or pans, a resize (the window settling its size at start) fits again."""
        scene = self.scene()
        if scene is None:
            return
        self.fit(self._visible_nodes_rect())
        if self.zoom < min_zoom and isinstance(scene, GraphScene) and scene.boundary:
            # an entered block's port markers add ~600 units of width: when they are what pushes its layers
            # below a readable zoom, fit the layers (the markers' wires still lead out of the view)
            self.fit(self._visible_nodes_rect(with_markers=False))
        if self.zoom < min_zoom:
            # inside a block: its layers at the smallest readable zoom, from their start (its markers off to the
            # sides), so a level just too wide to fit shows nearly all of it rather than its first columns
            inside = isinstance(scene, GraphScene) and bool(scene.boundary)
            zoom = min_zoom if inside else zoom
            rect = self._visible_nodes_rect(with_markers=not inside)
            self.resetTransform()
            self.scale(zoom, zoom)
            half_w = self.viewport().width() / zoom / 2
            half_h = self.viewport().height() / zoom / 2
            # the beginning: the left edge, and the top row when a wrapped graph is taller than the view
            y = rect.center().y() if rect.height() / 2 + 40 <= half_h else rect.top() - 40 + half_h
            # whole columns only: the leading columns that fit are shown whole, the next one not cut in half
            view_w = 2 * half_w
            rects = self._visible_node_rects(with_markers=not inside)
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

    def _visible_node_rects(self, with_markers: bool = True) -> list[QRectF]:
        scene = self.scene()
        if not isinstance(scene, GraphScene):
            return []
        if scene.large:  # from the index: most of a large graph has no items
            return [u.rect for u in scene.unit_index().units]
        items: list[NodeItem] = [*scene.nodes.values(), *scene.blocks.values()]
        rects = [i.sceneBoundingRect() for i in items if i.isVisible()]
        if not with_markers:
            return rects
        return rects + [i.sceneBoundingRect() for i in scene.boundary.values()]  # an entered block's ports

    def _visible_nodes_rect(self, with_markers: bool = True) -> QRectF:
        scene = self.scene()
        if isinstance(scene, GraphScene) and scene.large:
            return scene.unit_index().bounds
        rect = QRectF()
        for r in self._visible_node_rects(with_markers):
            rect = rect.united(r)
        return rect

    def centre_on_node(self, item: NodeItem) -> None:
        self.centerOn(item.sceneBoundingRect().center())
