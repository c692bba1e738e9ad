"""The canvas scene. It creates, updates and removes items from the graph's change signals only, and turns
mouse gestures into intent for the controller (it never edits the graph itself)."""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import QPointF, Signal
from PySide6.QtGui import QColor
from PySide6.QtWidgets import QGraphicsScene

from ...core.errors import UnknownLayerError
from ...core.graph import Edge, Group, ModelGraph, Node
from ...layers.registry import REGISTRY
from ..controller import Controller
from ..theme import LIGHT, Theme
from .boundary import BoundaryMixin
from .cards import CardsMixin
from .interactions import WireGesture
from .items import HEADER_H, NODE_W, BlockItem, EdgeItem, NodeItem
from .lazy import LazyItemsMixin, NodeItems
from .scene_input import GRID, SceneInputMixin  # noqa: F401 - GRID: the snap step, kept importable here
from .text import human, key_param_text  # noqa: F401 - the window, inspector and summary take them from here


class GraphScene(SceneInputMixin, CardsMixin, BoundaryMixin, LazyItemsMixin, QGraphicsScene):
    """Items follow the graph. A large graph (LARGE_GRAPH nodes or more) gets items only for what is shown at a
    readable zoom (lazy.py); below that zoom it draws as one overview item. `entered` is the block whose
    inside is shown as its own view (None: the whole model)."""

    refused_wire = Signal(str)
    rename_requested = Signal(str)
    analysed = Signal()  # after apply_analysis: the outline and the view follow
    entered_changed = Signal()
    enter_requested = Signal(str)  # double-click / Enter on a collapsed block
    outside_node_added = Signal(str)  # a node appeared outside the level shown (the view goes to its level)

    def __init__(self, graph: ModelGraph, controller: Controller, engine: Any, theme: Theme = LIGHT) -> None:
        super().__init__()
        self.graph = graph
        self.controller = controller
        self.engine = engine
        self.theme = theme
        self.grid_snap = True
        self.show_grid = True
        self.nodes: NodeItems = NodeItems(self._materialize_node)
        self.edges: dict[Edge, EdgeItem] = {}
        self.blocks: dict[str, BlockItem] = {}
        self._dirty: set[str] = set()
        self._pending_wires: set[str] = set()
        self._blocks_dirty: set[str] = set()  # blocks whose card (ports, totals) and frame update after the edit
        self._frames_dirty: set[str] = set()  # expanded blocks whose members moved: only their frame follows
        # the block each node and the parent each block had when last seen: a move between blocks updates both
        self._member_of: dict[str, str | None] = {nid: n.group for nid, n in graph.nodes.items()}
        self._parent_of: dict[str, str | None] = {}
        self._refan_pending: set[tuple[str, str]] = set()
        self._selection_dirty = False
        self._syncing = False
        self.gesture: WireGesture | None = None
        self.setItemIndexMethod(QGraphicsScene.ItemIndexMethod.BspTreeIndex)
        # a fixed scene rect: one that grows with the items makes the index rebuild itself on each geometry
        # change (expanding a block in a 800-node model took seconds)
        self.setSceneRect(-200_000.0, -200_000.0, 400_000.0, 400_000.0)
        self.setBackgroundBrush(QColor(theme.canvas))
        self.init_lazy()
        self.init_boundary()
        g = graph
        g.node_added.connect(self._on_node_added)
        g.node_removed.connect(self._on_node_removed)
        g.edge_added.connect(self._on_edge_added)
        g.edge_removed.connect(self._on_edge_removed)
        g.param_changed.connect(self._on_param_changed)
        g.node_moved.connect(self._on_node_moved)
        g.node_renamed.connect(self._on_renamed)
        g.node_changed.connect(self._on_node_changed)
        g.group_added.connect(self._on_group_added)
        g.group_removed.connect(self._on_group_removed)
        g.group_changed.connect(self._on_group_changed)
        if not self.large:
            for node in g.nodes.values():
                self._on_node_added(node)
            for e in g.edges():
                self._on_edge_added(e)
        for grp in g.groups.values():
            self._on_group_added(grp)  # with its totals: the engine has already checked the graph
        self.apply_analysis(set(self.nodes))

    def detach(self) -> None:
        """Stop observing the graph (the window replaces the scene when a file is opened)."""
        g = self.graph
        for sig, slot in (
            (g.node_added, self._on_node_added),
            (g.node_removed, self._on_node_removed),
            (g.edge_added, self._on_edge_added),
            (g.edge_removed, self._on_edge_removed),
            (g.param_changed, self._on_param_changed),
            (g.node_moved, self._on_node_moved),
            (g.node_changed, self._on_node_changed),
            (g.group_added, self._on_group_added),
            (g.group_removed, self._on_group_removed),
            (g.group_changed, self._on_group_changed),
            (g.node_renamed, self._on_renamed),
        ):
            sig.disconnect(slot)

    def set_theme(self, theme: Theme) -> None:
        self.theme = theme
        self.setBackgroundBrush(QColor(theme.canvas))
        for item in list(self.nodes.values()) + list(self.blocks.values()):
            item.update()
        self.update()

    # ------------------------------------------------------------- signals
    def _on_node_added(self, node: Node) -> None:
        self.index_node_added(node)
        self._member_of[node.id] = node.group
        if node.group is not None:
            self._blocks_dirty.add(node.group)
        if self.entered is not None and self.shown_end(node.id) is None:
            self.outside_node_added.emit(node.id)
        if self.large:  # created when shown (lazy.py)
            return
        self._create_node_item(node)

    def _create_node_item(self, node: Node) -> NodeItem:
        try:
            spec = REGISTRY.get(node.type)
            ins, outs, cat = list(spec.inputs), list(spec.output_ports(node.params)), spec.category
        except UnknownLayerError:
            ins, outs, cat = [], [], "Blocks"
        item = NodeItem(node.id, cat, ins, outs)
        self._syncing = True
        item.setPos(QPointF(*node.position))
        self._syncing = False
        self.addItem(item)
        self.nodes[node.id] = item
        self._dirty.add(node.id)  # drawn with its shapes by apply_analysis() after the edit
        self.prepare_item(item)
        return item

    def _on_renamed(self, node_id: str, label: str) -> None:
        self._dirty.add(node_id)

    def _quiet_remove(self, item: Any) -> None:
        """Remove without a selectionChanged per item (deleting 1,000 selected nodes would rebuild the
        inspector 1,000 times); the window asks `take_selection_dirty()` once after the edit."""
        if item.isSelected():
            self._selection_dirty = True
        self.blockSignals(True)
        try:
            self.removeItem(item)
        finally:
            self.blockSignals(False)

    def take_selection_dirty(self) -> bool:
        dirty, self._selection_dirty = self._selection_dirty, False
        return dirty

    def _on_node_removed(self, node: Node) -> None:
        self.index_node_removed(node)
        old = self._member_of.pop(node.id, None)
        if old is not None:
            self._blocks_dirty.add(old)
        item = self.nodes.pop(node.id, None)
        if item is not None:
            self._quiet_remove(item)
        self._dirty.discard(node.id)

    def _on_edge_added(self, edge: Edge) -> None:
        self.index_edge_changed(edge, True)
        self._touch_groups(edge)
        if self.large:
            if self.shown_end(edge.src) is None or self.shown_end(edge.dst) is None:
                return  # an end has no item yet: the wire is made when both are shown
            if edge.src not in self.nodes and edge.dst not in self.nodes:
                return
        self._create_edge_item(edge)

    def _create_edge_item(self, edge: Edge) -> EdgeItem:
        item = EdgeItem(edge)
        self.prepare_item(item)
        self.addItem(item)
        self.edges[edge] = item
        self._place_edge(item)
        self._update_edge_label(item)
        self._refan(edge)
        return item

    def _on_edge_removed(self, edge: Edge) -> None:
        self.index_edge_changed(edge, False)
        item = self.edges.pop(edge, None)
        if item is not None:
            self._quiet_remove(item)
        self._touch_groups(edge)
        self._refan(edge)

    def _refan(self, edge: Edge) -> None:
        """A wire joined or left a merge port: its siblings move to keep the fan even."""
        item = self.nodes.get(edge.dst)
        port = item.in_ports.get(edge.dst_port) if item is not None else None
        if port is not None and port.many:
            # once per port after the edit: removing a 30-way merge re-fanned 30 x 30 wires
            self._refan_pending.add((edge.dst, edge.dst_port))

    def _on_param_changed(self, node_id: str, name: str, value: Any) -> None:
        self._dirty.add(node_id)
        node = self.graph.node(node_id)
        try:
            spec = REGISTRY.get(node.type)
        except UnknownLayerError:
            return
        if spec.dynamic_outputs is not None and node_id in self.nodes:  # e.g. a Split with `chunks` outputs
            self.structure_changed()
            self.nodes[node_id].set_ports(list(spec.inputs), list(spec.output_ports(node.params)))
            self._place_edges_of(node_id)

    def _on_node_moved(self, node_id: str, position: tuple[float, float]) -> None:
        self.structure_changed()
        item = self.nodes.get(node_id)
        if item is not None and (item.pos().x(), item.pos().y()) != position:
            self._syncing = True
            item.setPos(QPointF(*position))  # item_moved() queues its wires; flush_wires() places them
            self._syncing = False
        grp = self.graph.nodes[node_id].group
        if grp in self.blocks and not self.graph.groups[grp].collapsed:
            self._frames_dirty.add(grp)  # its frame (and the frames around it) follow once, after the edit

    def _on_node_changed(self, node_id: str) -> None:
        """Frozen, type version or block membership changed: a node that moved between blocks updates both."""
        self._dirty.add(node_id)
        grp = self.graph.node(node_id).group
        old = self._member_of.get(node_id)
        if old != grp:
            self._member_of[node_id] = grp
            self.structure_changed()
            if old is not None:
                self._blocks_dirty.add(old)
            self._pending_wires.add(node_id)
        self._sync_visibility(node_id)
        if grp in self.blocks:
            self._blocks_dirty.add(grp)  # type: ignore[arg-type]

    def _on_group_added(self, group: Group) -> None:
        self.structure_changed()
        item = BlockItem(group.id)
        self.prepare_item(item)
        self.addItem(item)
        self.blocks[group.id] = item
        self._parent_of[group.id] = group.parent
        self._syncing = True
        item.setPos(QPointF(*group.position))
        self._syncing = False
        item.setVisible(self.block_shown(group.id))
        self._blocks_dirty.add(group.id)  # drawn with its totals after the edit (flush_wires)
        for nid in group.node_ids:
            self._member_of[nid] = group.id

    def _on_group_removed(self, group: Group) -> None:
        self.structure_changed()
        self._parent_of.pop(group.id, None)
        if self.entered == group.id:  # ungrouped from inside: show where its contents went
            self.enter(group.parent if group.parent in self.graph.groups else None)
        item = self.blocks.pop(group.id, None)
        if item is not None:
            self._quiet_remove(item)
        self._blocks_dirty.discard(group.id)
        self._frames_dirty.discard(group.id)
        if group.parent is not None:
            self._blocks_dirty.add(group.parent)
        for nid in group.node_ids:
            if nid in self.graph.nodes:
                self._member_of[nid] = self.graph.nodes[nid].group
            if nid in self.nodes:
                self._sync_visibility(nid)
                self._pending_wires.add(nid)  # placed once after the edit (an undone paste deletes them next)

    def _on_group_changed(self, group_id: str) -> None:
        self.structure_changed()
        item = self.blocks.get(group_id)
        if item is None:
            return
        grp = self.graph.group(group_id)
        old_parent = self._parent_of.get(group_id)
        if old_parent != grp.parent:  # moved into another block (grouped, ungrouped): both update
            self._parent_of[group_id] = grp.parent
            if old_parent is not None:
                self._blocks_dirty.add(old_parent)
            self._blocks_dirty.add(group_id)
        if (item.pos().x(), item.pos().y()) != grp.position:
            self._syncing = True
            item.setPos(QPointF(*grp.position))
            self._syncing = False
            if item.collapsed == grp.collapsed and item.label == grp.label:
                if grp.collapsed:
                    if grp.parent is not None:  # a card moved inside an expanded block: that frame follows
                        self._frames_dirty.add(grp.parent)
                else:  # moved only: a frame follows after the edit
                    self._frames_dirty.add(group_id)
                return
        self._blocks_dirty.add(group_id)

    def _sync_visibility(self, node_id: str) -> None:
        item = self.nodes.get(node_id)
        if item is None:
            return
        hidden = not self.node_shown(node_id)
        item.setVisible(not hidden)
        if hidden:
            item.setSelected(False)

    # -------------------------------------------------------------- edges
    def anchor(self, node_id: str, port: str, is_output: bool) -> QPointF:
        unit = self.shown_end(node_id)
        if unit is not None and unit != node_id and unit in self.blocks:  # the card of a block around it
            block = self.blocks[unit]
            name = block.anchor_ports.get((node_id, port, is_output))
            if name is not None:
                return block.port_anchor(name, is_output)
            return block.mapToScene(QPointF(NODE_W if is_output else 0.0, HEADER_H))
        return self.nodes[node_id].port_anchor(port, is_output)

    def _place_edge(self, item: EdgeItem) -> None:
        e = item.edge
        a, b = self.shown_end(e.src), self.shown_end(e.dst)
        if self.boundary and (a is None) != (b is None):  # one end outside the entered block: to its marker
            start = self.boundary_anchor(e.src, e.src_port, True) if a is None else None
            stop = self.boundary_anchor(e.dst, e.dst_port, False) if b is None else None
            if start is not None or stop is not None:
                item.setVisible(True)
                item.set_ends(
                    start if start is not None else self.anchor(e.src, e.src_port, True),
                    stop if stop is not None else self.anchor(e.dst, e.dst_port, False),
                )
                return
        shown = a is not None and b is not None and a != b
        item.setVisible(shown)
        if shown:
            end = self.anchor(e.dst, e.dst_port, False)
            dst_item = self.nodes.get(e.dst)
            port = dst_item.in_ports.get(e.dst_port) if dst_item is not None else None
            if port is not None and port.many and dst_item is not None and dst_item.isVisible():
                # wires into a merge port fan out along it, in slot order, so each stays distinguishable
                slots = [x.slot for x in self.graph.edges_into(e.dst, e.dst_port)]
                n, rank = len(slots), slots.index(e.slot)
                end = QPointF(end.x(), end.y() + (rank - (n - 1) / 2) * min(6.0, 14.0 / max(n - 1, 1)))
            item.set_ends(self.anchor(e.src, e.src_port, True), end)

    def _place_edges_of(self, node_id: str) -> None:
        if node_id not in self.graph:
            return
        nxg = self.graph.nx
        for _, _, e in [*nxg.in_edges(node_id, keys=True), *nxg.out_edges(node_id, keys=True)]:
            item = self.edges.get(e)
            if item is not None:
                self._place_edge(item)

    def _update_edge_label(self, item: EdgeItem) -> None:
        t = self.engine.edge_shape(item.edge)
        item.set_text(str(t) if t is not None else "?", t is None)
        e = item.edge
        item.setToolTip(
            f"{self.graph.node(e.src).label}.{e.src_port} \u2192 {self.graph.node(e.dst).label}.{e.dst_port}"
            f": {t if t is not None else 'shape unknown (fix the upstream error)'}"
        )

    # ---------------------------------------------------------- analysis
    def apply_analysis(self, changed: set[str]) -> None:
        """Update only the items touched by the last edit: `changed` from the engine plus nodes whose own
        text changed (parameters, name)."""
        self.flush_wires()
        ids = (set(changed) | self._dirty) & self.graph.nodes.keys()
        self._dirty.clear()
        groups: set[str] = set()
        nxg = self.graph.nx
        for nid in ids:
            if nid in self.nodes:
                self._refresh_item(nid)
                for _, _, e in nxg.out_edges(nid, keys=True):
                    if e in self.edges:
                        self._update_edge_label(self.edges[e])
            grp = self.graph.nodes[nid].group
            if grp in self.blocks:
                groups.add(grp)  # type: ignore[arg-type]
        if groups:  # their cards' totals and badges, and those of the blocks around them
            self._blocks_dirty |= groups
            self._flush_blocks()
        if self.entered is not None and not self.large:
            self.show_boundary()
        self.analysed.emit()

    def show_boundary(self) -> None:
        """(Re)make the entered block's boundary markers and run its crossing wires to them."""
        old = set(self.boundary)
        self.rebuild_boundary()
        for node_id, _port, _is_input in old | set(self.boundary):
            self._place_edges_of(node_id)

    def _flush_blocks(self) -> None:
        """Update the blocks marked during the edit and every block around them (their totals and frames
        include them), innermost first so a frame is sized around its child blocks' final frames."""
        graph = self.graph
        dirty, self._blocks_dirty = self._blocks_dirty, set()
        frames, self._frames_dirty = self._frames_dirty, set()
        full: set[str] = set()
        for gid in dirty:
            if gid in self.blocks and gid in graph.groups:
                full.add(gid)
                full.update(graph.group_ancestors(gid))
        only_frame: set[str] = set()
        for gid in frames:
            if gid in self.blocks and gid in graph.groups and gid not in full:
                only_frame.add(gid)
                only_frame.update(g for g in graph.group_ancestors(gid) if not graph.groups[g].collapsed)
        depth = {gid: graph.group_depth(gid) for gid in full | only_frame}
        for gid in sorted(full | only_frame, key=lambda g: -depth[g]):
            if gid in full:
                self._update_block(gid)
            else:
                self._update_frame(gid)

    def flush_wires(self) -> None:
        """Place the wires of nodes the model moved (once per wire, however many ends moved), and update the
        blocks whose members moved."""
        if self._blocks_dirty or self._frames_dirty:
            self._flush_blocks()
        pending_fans, self._refan_pending = self._refan_pending, set()
        for dst, port in pending_fans:
            if dst in self.graph.nodes:
                for e in self.graph.edges_into(dst, port):
                    if e in self.edges:
                        self._place_edge(self.edges[e])
        if not self._pending_wires:
            return
        pending, self._pending_wires = self._pending_wires, set()
        ids: set[str] = set()
        for key in pending:
            ids.update(self.graph.group_nodes_deep(key) if key in self.blocks else (key,))
        # only wires that have items move: look them up from whichever side is smaller
        if len(ids) * 3 > len(self.edges):
            edges = [e for e in self.edges if e.src in ids or e.dst in ids]
        else:
            edges = self.wires_of(list(ids))
        for e in set(edges):
            item = self.edges.get(e)
            if item is not None:
                self._place_edge(item)

    # ----------------------------------------------------------- queries
    def selected_node_ids(self, expand_blocks: bool = True) -> list[str]:
        ids: list[str] = []
        for item in self.selectedItems():
            if isinstance(item, BlockItem):
                if expand_blocks:
                    ids.extend(self.graph.group_nodes_deep(item.key))
            elif isinstance(item, NodeItem):
                ids.append(item.key)
        seen: set[str] = set()
        return [i for i in ids if not (i in seen or seen.add(i))]

    def selected_edges(self) -> list[Edge]:
        return [i.edge for i in self.selectedItems() if isinstance(i, EdgeItem)]

    def selected_group_ids(self) -> list[str]:
        return [i.key for i in self.selectedItems() if isinstance(i, BlockItem)]

    def select_nodes(self, node_ids: list[str]) -> None:
        """Select exactly these nodes; observers hear one selectionChanged, not one per node."""
        self.blockSignals(True)
        try:
            self._select(node_ids)
        finally:
            self.blockSignals(False)
        self.selectionChanged.emit()

    def select_blocks(self, group_ids: list[str]) -> None:
        """Select exactly these blocks (those drawn at this level), with one selectionChanged."""
        self.blockSignals(True)
        try:
            self.clearSelection()
            for gid in group_ids:
                item = self.blocks.get(gid)
                if item is not None and item.isVisible():
                    item.setSelected(True)
        finally:
            self.blockSignals(False)
        self.selectionChanged.emit()

    def select_all(self) -> None:
        self.materialize_all_shown()
        self.blockSignals(True)
        try:
            for item in list(self.nodes.values()) + list(self.blocks.values()):
                if item.isVisible():
                    item.setSelected(True)
        finally:
            self.blockSignals(False)
        self.selectionChanged.emit()

    def _select(self, node_ids: list[str]) -> None:
        self.clearSelection()
        for nid in node_ids:
            if nid not in self.graph:
                continue
            unit = self.shown_end(nid)
            if unit == nid:
                self.nodes[nid].setSelected(True)  # made on demand for a large graph
            elif unit in self.blocks:  # inside a collapsed block: its card stands for it
                self.blocks[unit].setSelected(True)  # type: ignore[index]
