"""The scene's large-graph side: which units are shown (a node, or a collapsed block), a spatial index of them,
items made only for what the view shows at a readable zoom, the overview drawn below that zoom, and the
"entered" block whose inside is shown as its own view.

A graph of LARGE_GRAPH nodes or more is large: its scene starts with block items only; node and wire items
are made when the view first shows them at a readable zoom (or when code asks `scene.nodes[id]`). Below the
readable zoom, made items turn transparent (kept selected, skipped by painting and hit-tests) and the overview
item draws every unit as a rectangle. A small graph keeps every item and the items draw boxes themselves.
"""

from __future__ import annotations

import gc
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QPointF, QRectF, Qt
from PySide6.QtWidgets import QGraphicsItem, QGraphicsSceneMouseEvent

from ...core.errors import UnknownLayerError
from ...layers.registry import REGISTRY
from .items import HEADER_H, NODE_W, NodeItem
from .levels import OPEN, LevelMap
from .overview import OverviewItem, Unit, UnitIndex, node_height

if TYPE_CHECKING:
    from ...core.graph import Edge

LARGE_GRAPH = 1500  # nodes; below this every item exists from the start
MAX_ITEMS = 3000  # node items a large graph keeps; beyond, those far off screen are dropped (made again on demand)
WIRE_Y = 40.0  # where an overview wire meets a card (about its first port)
_GONE = object()  # LevelMap.card's answer for a block it does not know


class NodeItems(dict):  # type: ignore[type-arg]
    """node id -> NodeItem. Reading a missing id makes the item (a large graph's items are made on demand);
    `in`, `get` and iteration see only the items made so far."""

    def __init__(self, factory: Callable[[str], NodeItem | None]) -> None:
        super().__init__()
        self._factory = factory

    def __missing__(self, key: str) -> NodeItem:
        item = self._factory(key)
        if item is None:
            raise KeyError(key)
        return item


class LazyItemsMixin:
    """Mixed into GraphScene (self is the QGraphicsScene with graph, nodes, edges, blocks)."""

    graph: Any
    nodes: NodeItems
    edges: dict[Edge, Any]
    blocks: dict[str, Any]
    theme: Any

    def init_lazy(self) -> None:
        self.large = len(self.graph) >= LARGE_GRAPH
        self.detail = "full"  # "box" below the readable zoom (the view sets it)
        self.entered: str | None = None
        self._level_map: LevelMap | None = None
        self._index: UnitIndex | None = None
        self._edges_done: set[str] = set()
        self._categories: dict[str, str] = {}
        self._heights: dict[str, float] = {}
        self._saved_selection: dict[str | None, tuple[list[str], list[str]]] = {}
        self.overview: OverviewItem | None = None
        if self.large:
            self.overview = OverviewItem()
            self.addItem(self.overview)  # type: ignore[attr-defined]
            self.overview.setVisible(False)
            self.selectionChanged.connect(self._overview_selection)  # type: ignore[attr-defined]

    def structure_changed(self) -> None:
        """Something shown moved, appeared or went: the index is rebuilt and wires re-made on next use."""
        self._index = None
        self._level_map = None
        self._edges_done.clear()

    def prepare_item(self, item: QGraphicsItem) -> None:
        if self.large and self.detail == "box":
            item.setOpacity(0.0)

    # ----------------------------------------------------------- what is shown
    def level_map(self) -> LevelMap:
        """What the entered level shows (levels.py), rebuilt after a structural change."""
        if self._level_map is None:
            self._level_map = LevelMap(self.graph, self.entered)
        return self._level_map

    def node_shown(self, node_id: str) -> bool:
        return self.shown_end(node_id) == node_id

    def shown_end(self, node_id: str) -> str | None:
        """The unit that shows `node_id`: itself, the outermost collapsed block around it that is drawn at this
        level, or None (outside the entered block). Called per wire end while wires are made: kept to lookups."""
        node = self.graph.nodes.get(node_id)
        if node is None:
            return None
        lm = self._level_map or self.level_map()
        grp = node.group
        if grp is not None:
            card = lm.card.get(grp, _GONE)
            if card is not _GONE:
                return node_id if card == OPEN else card  # type: ignore[return-value]
        return node_id if lm.top_open else None  # at the top level (or in a block being removed)

    def block_shown(self, group_id: str) -> bool:
        return group_id in self.level_map().shown

    def sync_block_visibility(self, group_id: str) -> None:
        item = self.blocks.get(group_id)
        shown = group_id in self.level_map().shown
        if item is not None and item.isVisible() != shown:
            item.setVisible(shown)
            if not shown:
                item.setSelected(False)

    def _card_height(self, node_id: str) -> float:
        item = self.nodes.get(node_id)
        if item is not None:
            return float(item._height)
        node = self.graph.nodes[node_id]
        h = self._heights.get(node.type)
        if h is not None:
            return h
        try:
            spec = REGISTRY.get(node.type)
            n = max(len(spec.inputs), len(spec.output_ports(node.params)))
            dynamic = spec.dynamic_outputs is not None
        except UnknownLayerError:
            n, dynamic = 1, True
        h = node_height(n)
        if not dynamic:
            self._heights[node.type] = h
        return h

    def _category(self, type_name: str) -> str:
        cat = self._categories.get(type_name)
        if cat is None:
            try:
                cat = REGISTRY.get(type_name).category
            except UnknownLayerError:
                cat = "Blocks"
            self._categories[type_name] = cat
        return cat

    def node_rect(self, node_id: str) -> QRectF:
        x, y = self.graph.nodes[node_id].position
        return QRectF(x, y, NODE_W, self._card_height(node_id))

    def block_rect(self, group_id: str) -> QRectF:
        """A block as drawn: its card when collapsed, its frame when expanded (scene coordinates)."""
        grp = self.graph.group(group_id)
        if grp.collapsed:
            item = self.blocks.get(group_id)
            height = float(item._height) if item is not None else node_height(1)
            return QRectF(grp.position[0], grp.position[1], NODE_W, height)
        return self.frame_rect(group_id)

    def frame_rect(self, group_id: str) -> QRectF:
        """An expanded block's frame: around its direct nodes and its child blocks (cards, or frames in turn),
        with room above for its title."""
        return self.members_rect(group_id).adjusted(-20, -HEADER_H - 16, 20, 20)

    def members_rect(self, group_id: str) -> QRectF:
        """The union of a block's direct nodes and its child blocks as drawn."""
        rect = QRectF()
        graph = self.graph
        for nid in graph.group(group_id).node_ids:
            if nid in graph.nodes:
                rect = rect.united(self.node_rect(nid))
        for child in graph.child_groups(group_id):
            rect = rect.united(self.block_rect(child))
        if rect.isNull():  # an empty block: its frame around its place
            x, y = graph.group(group_id).position
            rect = QRectF(x, y, NODE_W, node_height(1))
        return rect

    def unit_index(self) -> UnitIndex:
        """The shown units and wires, bucketed (rebuilt after a structural edit)."""
        if self._index is None:
            # the build makes no reference cycles: keep the cyclic collector off a 10,000-node heap meanwhile
            gc_was_enabled = gc.isenabled()
            gc.disable()
            try:
                self._index = self._build_index()
            finally:
                if gc_was_enabled:
                    gc.enable()
            if self.overview is not None:
                self.overview.set_index(self._index, self.theme.wire, self.theme.selection)
                self._overview_selection()
        return self._index

    def _build_index(self) -> UnitIndex:
        """One pass over nodes (which unit shows each) and one over wires (plain loops: this runs after every
        structural edit of a 10,000-node model)."""
        graph = self.graph
        groups = graph.groups
        lm = self.level_map()
        units: list[Unit] = []
        shown_by: dict[str, str] = {}  # node id -> the unit that shows it
        rects: dict[str, QRectF] = {}
        category = self._category
        height = self._card_height
        top_open, card = lm.top_open, lm.card
        for nid, node in graph.nodes.items():
            grp = node.group
            if grp is None or grp not in groups:
                if not top_open:
                    continue
            else:
                unit = card.get(grp)
                if unit is None:
                    continue
                if unit:  # a collapsed card stands for it
                    shown_by[nid] = unit
                    continue
            x, y = node.position
            r = QRectF(x, y, NODE_W, height(nid))
            units.append(Unit(nid, False, r, category(node.type), node.label))
            shown_by[nid] = nid
            rects[nid] = r
        for gid in lm.shown:
            g = groups[gid]
            item = self.blocks.get(gid)
            if g.collapsed and item is not None:
                p = item.pos()
                r = QRectF(p.x(), p.y(), NODE_W, item._height)
                units.append(Unit(gid, True, r, "Blocks", g.label))
                rects[gid] = r
        wires: list[tuple[object, float, float, float, float]] = []
        for src, nbrs in graph.nx._succ.items():
            a = shown_by.get(src)
            if a is None:
                continue
            ra = rects.get(a)
            if ra is None:
                continue
            for dst, keys in nbrs.items():
                b = shown_by.get(dst)
                if b is None or b == a:
                    continue
                rb = rects.get(b)
                if rb is not None:
                    for e in keys:
                        wires.append((e, ra.right(), ra.top() + WIRE_Y, rb.left(), rb.top() + WIRE_Y))
        return UnitIndex(units, wires)

    # ------------------------------------------- incremental index updates
    def index_node_added(self, node: Any) -> None:
        """A node added outside any block joins the index without a rebuild (pasting 1,000 nodes into a
        10,000-node model); anything else rebuilds it."""
        idx = self._index
        if idx is None:
            return
        if node.group is not None:
            self.structure_changed()
            return
        if self.node_shown(node.id):
            r = self.node_rect(node.id)
            idx.add_unit(Unit(node.id, False, r, self._category(node.type), node.label))
            self._index_touched()

    def index_node_removed(self, node: Any) -> None:
        self._edges_done.discard(node.id)
        if self._index is not None:
            self._index.remove_unit(node.id)
            self._index_touched()

    def index_edge_changed(self, edge: Edge, added: bool) -> None:
        for end in (edge.src, edge.dst):
            self._edges_done.discard(end)
            grp = self.graph.nodes[end].group if end in self.graph.nodes else None
            if grp is not None:
                self._edges_done.discard(grp)
        idx = self._index
        if idx is None:
            return
        if not added:
            idx.remove_wire(edge)
        else:
            a, b = self.shown_end(edge.src), self.shown_end(edge.dst)
            if a is not None and b is not None and a != b:
                ua, ub = idx.by_key.get(a), idx.by_key.get(b)
                if ua is None or ub is None:
                    self.structure_changed()
                    return
                ra, rb = ua.rect, ub.rect
                idx.add_wire(edge, ra.right(), ra.top() + WIRE_Y, rb.left(), rb.top() + WIRE_Y)
        self._index_touched()

    def _index_touched(self) -> None:
        if self.overview is not None and self._index is not None:
            self.overview.prepareGeometryChange()
            self.overview.update()

    # ------------------------------------------------------ made on demand
    def _materialize_node(self, node_id: str) -> NodeItem | None:
        if node_id not in self.graph.nodes:
            return None
        item = self._create_node_item(self.graph.nodes[node_id])  # type: ignore[attr-defined]
        self._refresh_item(node_id)  # type: ignore[attr-defined]
        self._sync_visibility(node_id)  # type: ignore[attr-defined]
        return item  # type: ignore[no-any-return]

    def _make_wires(self, edges: list[Edge]) -> None:
        for e in edges:
            if e in self.edges:
                continue
            a, b = self.shown_end(e.src), self.shown_end(e.dst)
            if a is None or b is None or a == b:
                continue
            for end in (a, b):
                if end not in self.blocks and end not in self.nodes:
                    self.nodes[end]  # noqa: B018 - made on read
            self._create_edge_item(e)  # type: ignore[attr-defined]

    def wires_of(self, node_ids: list[str] | tuple[str, ...]) -> list[Edge]:
        """Every wire into or out of `node_ids` (read from networkx's adjacency dicts: its edge views cost
        more than the walk)."""
        pred, succ = self.graph.nx._pred, self.graph.nx._succ
        out: list[Edge] = []
        for nid in node_ids:
            if nid in pred:
                for keys in pred[nid].values():
                    out.extend(keys)
                for keys in succ[nid].values():
                    out.extend(keys)
        return out

    def materialize(self, rect: QRectF, budget: int | None = None) -> bool:
        """Make the items (and their wires) of the units in `rect`; at most `budget` new nodes. Returns whether
        everything in `rect` now has its items."""
        if not self.large:
            return True
        made = 0
        for u in self.unit_index().in_rect(rect):
            if u.key in self._edges_done:
                continue
            if u.is_block:
                self._make_wires(self.wires_of(self.graph.group_nodes_deep(u.key)))
            else:
                if u.key not in self.nodes:
                    self.nodes[u.key]  # noqa: B018 - made on read
                    made += 1
                self._make_wires(self.wires_of((u.key,)))
            self._edges_done.add(u.key)
            if budget is not None and made >= budget:
                return False
        return True

    def forget_far(self, keep: QRectF, cap: int | None = None) -> int:
        """Drop the items of nodes far from `keep` (not selected) once more than `cap` exist, down to half of it, so
        a long pan over a large graph does not end with every item made. Returns how many were dropped."""
        cap = MAX_ITEMS if cap is None else cap
        if not self.large or len(self.nodes) <= cap or getattr(self, "gesture", None) is not None:
            return 0
        dropped = 0
        for nid, item in list(self.nodes.items()):
            if len(self.nodes) <= cap // 2:
                break
            if item.isSelected() or keep.intersects(item.sceneBoundingRect()):
                continue
            for e in self.wires_of((nid,)):
                wire = self.edges.pop(e, None)
                if wire is not None:
                    self._quiet_remove(wire)  # type: ignore[attr-defined]
                for end in (e.src, e.dst):
                    unit = self.shown_end(end)
                    if unit is not None:
                        self._edges_done.discard(unit)  # its wires are made again when it is shown
            del self.nodes[nid]
            self._quiet_remove(item)  # type: ignore[attr-defined]
            self._edges_done.discard(nid)
            dropped += 1
        return dropped

    def materialize_all_shown(self) -> None:
        if self.large:
            self.materialize(self.unit_index().bounds.adjusted(-10, -10, 10, 10))

    # ----------------------------------------------------------- level of detail
    def set_detail(self, level: str) -> None:
        """ "box" below the readable zoom, "full" above; items report it (detail_level())."""
        if level == self.detail:
            return
        self.detail = level
        if self.large:
            opacity = 0.0 if level == "box" else 1.0
            for item in [*self.nodes.values(), *self.edges.values(), *self.blocks.values()]:
                item.setOpacity(opacity)
            if self.overview is not None:
                self.unit_index()
                self.overview.setVisible(level == "box")
        else:
            for item in [*self.nodes.values(), *self.edges.values(), *self.blocks.values()]:
                item.update()

    def _overview_selection(self) -> None:
        if self.overview is None or self._index is None:
            return
        rects = []
        for item in self.selectedItems():  # type: ignore[attr-defined]
            key = getattr(item, "key", None)
            u = self._index.by_key.get(key) if key is not None else None
            if u is not None:
                rects.append(u.rect)
        self.overview.selected = rects
        self.overview.update()

    def overview_item_at(self, pos: QPointF) -> Any:
        if not (self.large and self.detail == "box"):
            return None
        u = self.unit_index().at(pos)
        if u is None:
            return None
        return self.blocks.get(u.key) if u.is_block else self.nodes[u.key]

    def overview_click(self, event: QGraphicsSceneMouseEvent) -> bool:
        """Below the readable zoom a large graph's items are transparent: a click selects the unit under it."""
        if not (self.large and self.detail == "box") or event.button() != Qt.MouseButton.LeftButton:
            return False
        item = self.overview_item_at(event.scenePos())
        add = bool(event.modifiers() & (Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.ShiftModifier))
        if not add:
            self.clearSelection()  # type: ignore[attr-defined]
        if item is not None:
            item.setSelected(True)
        event.accept()
        return True

    # ------------------------------------------------------------ entered block
    def enter(self, group_id: str | None) -> None:
        """Show `group_id`'s inside as its own view (None: the whole model), at any depth. Each level keeps its
        selection."""
        if group_id == self.entered or (group_id is not None and group_id not in self.graph.groups):
            return
        self._saved_selection[self.entered] = (
            self.selected_node_ids(expand_blocks=False),  # type: ignore[attr-defined]
            self.selected_group_ids(),  # type: ignore[attr-defined]
        )
        self.entered = group_id
        self.structure_changed()
        self.blockSignals(True)  # type: ignore[attr-defined]
        try:
            for nid, item in list(self.nodes.items()):
                if nid in self.graph.nodes:
                    item.setVisible(self.node_shown(nid))
            lm = self.level_map()
            for gid, block in self.blocks.items():
                self.sync_block_visibility(gid)
                if gid in lm.shown and not block.collapsed:  # nested frames stack by their depth below this level
                    block.set_collapsed(False, None, lm.depth[gid])
            self.rebuild_boundary()  # type: ignore[attr-defined]
            for item in self.edges.values():
                self._place_edge(item)  # type: ignore[attr-defined]
            nodes, groups = self._saved_selection.get(group_id, ([], []))
            self.clearSelection()  # type: ignore[attr-defined]
            for nid in nodes:
                if nid in self.graph.nodes and self.node_shown(nid):
                    self.nodes[nid].setSelected(True)
            for gid in groups:
                if gid in self.blocks and self.blocks[gid].isVisible():
                    self.blocks[gid].setSelected(True)
        finally:
            self.blockSignals(False)  # type: ignore[attr-defined]
        self.selectionChanged.emit()  # type: ignore[attr-defined]
        self.entered_changed.emit()  # type: ignore[attr-defined]

    def shown_rect(self) -> QRectF:
        """Everything shown at this level (what F fits)."""
        return self.unit_index().bounds


__all__ = ["LARGE_GRAPH", "LazyItemsMixin", "NodeItems"]
