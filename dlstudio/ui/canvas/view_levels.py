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
        """Show a block's inside as its own view, at any depth (None: back to the whole model). Each level keeps
        its zoom, scroll and selection; the undo history is the project's, whatever the level. Going up to a
        level that holds the block just left selects that block's card and keeps it in view."""
        scene = self.scene()
        if not isinstance(scene, GraphScene) or group_id == scene.entered:
            return
        if group_id is not None and group_id not in scene.graph.groups:
            return
        left = scene.entered
        self._levels[left] = (self.transform(), self.mapToScene(self.viewport().rect().center()))
        scene.enter(group_id)
        saved = self._levels.get(group_id)
        if saved is not None:
            self.setTransform(saved[0])
            self.centerOn(saved[1])
            self.zoom_changed.emit(self.zoom)
        else:
            self.fit_readable()
        card = self._card_left(scene, left)
        if card is not None:  # up: the block one came out of is selected and on screen
            scene.select_blocks([card])
            rect = scene.blocks[card].sceneBoundingRect()
            if not self.mapToScene(self.viewport().rect()).boundingRect().contains(rect):
                self.centerOn(rect.center())
        self._place_minimap()
        self.minimap.schedule()

    @staticmethod
    def _card_left(scene: GraphScene, left: str | None) -> str | None:
        """The card, at the level now shown, of the block that was shown before (None if that is not inside)."""
        if left is None or left not in scene.graph.groups:
            return None
        for gid in scene.graph.group_path(left):
            if gid in scene.level_map().shown:
                return gid
        return None

    def go_up(self) -> bool:
        """One level up (Escape, Alt+Up, the trail): from an entered block to the block around it."""
        scene = self.scene()
        if not isinstance(scene, GraphScene) or scene.entered is None:
            return False
        parent = scene.graph.groups[scene.entered].parent if scene.entered in scene.graph.groups else None
        self.enter_block(parent)
        return True

    def level_of_node(self, scene: GraphScene, node_id: str) -> str | None:
        """The level to show a node at: this one if the node is drawn here (in a frame, say), else its own
        block's inside."""
        if scene.shown_end(node_id) == node_id:
            return scene.entered
        return scene.graph.nodes[node_id].group

    def jump_to(self, node_id: str) -> None:
        """Show and select `node_id` wherever it is: enter its block chain down to the block that holds it (or go
        up to it), select it and centre it at a readable zoom."""
        scene = self.scene()
        if not isinstance(scene, GraphScene) or node_id not in scene.graph.nodes:
            return
        self.enter_block(self.level_of_node(scene, node_id))
        scene.select_nodes([node_id])
        if self.zoom < READABLE_ZOOM:
            self.set_zoom(0.8 / self.zoom)
        self.centerOn(scene.node_rect(node_id).center())

    def jump_to_block(self, group_id: str) -> None:
        """Select a block (its card or frame) at the level that shows it, and centre it."""
        scene = self.scene()
        if not isinstance(scene, GraphScene) or group_id not in scene.blocks:
            return
        if not scene.block_shown(group_id):
            self.enter_block(scene.graph.group(group_id).parent)
        scene.select_blocks([group_id])
        item = scene.blocks[group_id]
        self.centerOn(item.sceneBoundingRect().center())

    def _left_for_new_node(self, node_id: str) -> None:
        """A layer was added outside the level shown (a paste at the model level while a block is entered):
        go to the level that holds it."""
        scene = self.scene()
        if isinstance(scene, GraphScene) and node_id in scene.graph.nodes and scene.shown_end(node_id) is None:
            grp = scene.graph.nodes[node_id].group
            self.enter_block(grp if grp in scene.graph.groups else None)

    def _entered_changed(self) -> None:
        scene = self.scene()
        if isinstance(scene, GraphScene):
            self.breadcrumb.set_trail(scene)
