"""The view's hierarchy: entering a block (its inside as its own view, with the breadcrumb trail), going back
out, and jumping to a node or block wherever it is. Mixed into GraphView."""

from __future__ import annotations

from typing import Any

from .scene import GraphScene
from .view_fit import READABLE_ZOOM


class LevelsMixin:
    """Mixed into GraphView (self is the QGraphicsView)."""

    minimap: Any
    breadcrumb: Any
    _levels: dict[str | None, Any]

    def enter_block(self, group_id: str | None) -> None:
        """Show a block's inside as its own view (None: back to the whole model). Each level keeps its zoom,
        scroll and selection; the undo history is the project's, whatever the level."""
        scene = self.scene()
        if not isinstance(scene, GraphScene) or group_id == scene.entered:
            return
        self._levels[scene.entered] = (self.transform(), self.mapToScene(self.viewport().rect().center()))
        scene.enter(group_id)
        saved = self._levels.get(group_id)
        if saved is not None:
            self.setTransform(saved[0])
            self.centerOn(saved[1])
            self.zoom_changed.emit(self.zoom)
        else:
            self.fit_readable()
        self._place_minimap()
        self.minimap.schedule()

    def jump_to(self, node_id: str) -> None:
        """Show and select `node_id` wherever it is: enter its collapsed block (or leave one it is not in),
        select it and centre it at a readable zoom."""
        scene = self.scene()
        if not isinstance(scene, GraphScene) or node_id not in scene.graph.nodes:
            return
        grp = scene.graph.nodes[node_id].group
        if grp is not None and grp in scene.graph.groups and scene.graph.groups[grp].collapsed:
            self.enter_block(grp)
        elif scene.entered is not None and grp != scene.entered:
            self.enter_block(None)
        scene.select_nodes([node_id])
        if self.zoom < READABLE_ZOOM:
            self.set_zoom(0.8 / self.zoom)
        self.centerOn(scene.node_rect(node_id).center())

    def jump_to_block(self, group_id: str) -> None:
        """Select a block's card (at the top level) and centre it."""
        scene = self.scene()
        if not isinstance(scene, GraphScene) or group_id not in scene.blocks:
            return
        if scene.entered is not None:
            self.enter_block(None)
        scene.clearSelection()
        item = scene.blocks[group_id]
        if item.isVisible():
            item.setSelected(True)
        self.centerOn(item.sceneBoundingRect().center())

    def _left_for_new_node(self) -> None:
        """A layer was added at the model level (palette, paste) while a block was entered: show it."""
        scene = self.scene()
        if isinstance(scene, GraphScene) and scene.entered is not None:
            self.enter_block(None)

    def _entered_changed(self) -> None:
        scene = self.scene()
        if isinstance(scene, GraphScene):
            self.breadcrumb.set_trail(scene)
