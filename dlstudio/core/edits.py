"""Reversible edits. Each changes the graph only through its primitives, and `revert` undoes `apply` exactly.

The studio wraps each edit in a thin QUndoCommand; scripts and tests call apply/revert directly.
Edits never push other edits.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import Any

from .errors import GraphError
from .graph import MISSING, Edge, Group, ModelGraph, Node


class Edit:
    """Base class: a named, reversible change."""

    name: str = "Edit"

    def apply(self, graph: ModelGraph) -> None:  # pragma: no cover - interface
        raise NotImplementedError

    def revert(self, graph: ModelGraph) -> None:  # pragma: no cover - interface
        raise NotImplementedError

    def merge_with(self, other: Edit) -> bool:
        """Absorb `other` (applied right after self) into self; True if merged. Default: never."""
        return False

    @property
    def text(self) -> str:
        return self.name


@dataclass
class AddNode(Edit):
    node: Node
    index: int | None = None

    @property
    def text(self) -> str:
        return f"Add {self.node.type} '{self.node.label}'"

    def apply(self, graph: ModelGraph) -> None:
        graph._insert_node(self.node.copy(), self.index)

    def revert(self, graph: ModelGraph) -> None:
        graph._delete_node(self.node.id)


@dataclass
class Connect(Edit):
    edge: Edge

    @property
    def text(self) -> str:
        return f"Connect {self.edge.src}.{self.edge.src_port} -> {self.edge.dst}.{self.edge.dst_port}"

    def apply(self, graph: ModelGraph) -> None:
        graph._insert_edge(self.edge)

    def revert(self, graph: ModelGraph) -> None:
        graph._delete_edge(self.edge)


@dataclass
class Disconnect(Edit):
    edge: Edge

    @property
    def text(self) -> str:
        return f"Disconnect {self.edge.src}.{self.edge.src_port} -> {self.edge.dst}.{self.edge.dst_port}"

    def apply(self, graph: ModelGraph) -> None:
        graph._delete_edge(self.edge)

    def revert(self, graph: ModelGraph) -> None:
        graph._insert_edge(self.edge)


@dataclass
class RemoveNode(Edit):
    """Removes a node with its wires; leaves its block (the block shrinks; a block left with no node and no
    child block goes too, and so on outwards) and restores all on revert."""

    node_id: str
    _node: Node | None = field(default=None, repr=False)
    _edges: list[Edge] = field(default_factory=list, repr=False)
    _index: float = 0.0
    # blocks emptied by the removal, innermost first, with their order keys
    _emptied: list[tuple[Group, float]] = field(default_factory=list, repr=False)

    @property
    def text(self) -> str:
        return f"Delete '{self._node.label}'" if self._node else f"Delete {self.node_id}"

    def apply(self, graph: ModelGraph) -> None:
        node = graph.node(self.node_id)
        self._node = node.copy()
        self._index = graph._node_index(self.node_id)
        # a wire from the node to itself is both an in- and an out-edge: capture it once
        self._edges = list(dict.fromkeys(graph.in_edges(self.node_id) + graph.out_edges(self.node_id)))
        for e in self._edges:
            graph._delete_edge(e)
        self._emptied = []
        block = node.group
        if block is not None:
            graph._move_node(self.node_id, None)
        while block is not None:
            grp = graph.group(block)
            if grp.node_ids or graph.child_groups(block):
                break
            self._emptied.append((grp.copy(), graph._group_index(block)))
            graph._delete_group(block)
            block = grp.parent
        graph._delete_node(self.node_id)

    def revert(self, graph: ModelGraph) -> None:
        assert self._node is not None
        node = self._node.copy()
        node.group = None
        graph._insert_node(node, order_key=self._index)
        for grp, key in reversed(self._emptied):
            graph._insert_group(grp.copy(), order_key=key)
        if self._node.group is not None:
            graph._move_node(self.node_id, self._node.group)
        for e in self._edges:
            graph._insert_edge(e)


@dataclass
class SetParam(Edit):
    """Sets one parameter. Consecutive SetParams of the same node and parameter merge into one undo step."""

    node_id: str
    param: str
    value: Any
    _old: Any = field(default=MISSING, repr=False)

    @property
    def text(self) -> str:
        return f"Set {self.param} = {self.value!r}"

    def apply(self, graph: ModelGraph) -> None:
        self._old = copy.deepcopy(graph._set_param(self.node_id, self.param, copy.deepcopy(self.value)))

    def revert(self, graph: ModelGraph) -> None:
        graph._set_param(self.node_id, self.param, copy.deepcopy(self._old))

    def merge_with(self, other: Edit) -> bool:
        if isinstance(other, SetParam) and other.node_id == self.node_id and other.param == self.param:
            self.value = other.value
            return True
        return False


@dataclass
class Move(Edit):
    """Moves one or several nodes; merges with a following Move of the same nodes (one drag = one step)."""

    positions: dict[str, tuple[float, float]]
    _old: dict[str, tuple[float, float]] = field(default_factory=dict, repr=False)

    @property
    def text(self) -> str:
        return f"Move {len(self.positions)} node(s)"

    def apply(self, graph: ModelGraph) -> None:
        self._old = {nid: graph.node(nid).position for nid in self.positions}
        for nid, pos in self.positions.items():
            graph._set_position(nid, pos)

    def revert(self, graph: ModelGraph) -> None:
        for nid, pos in self._old.items():
            graph._set_position(nid, pos)

    def merge_with(self, other: Edit) -> bool:
        if isinstance(other, Move) and set(other.positions) == set(self.positions):
            self.positions = dict(other.positions)
            return True
        return False


@dataclass
class Rename(Edit):
    node_id: str
    label: str
    _old: str = ""

    @property
    def text(self) -> str:
        return f"Rename to '{self.label}'"

    def apply(self, graph: ModelGraph) -> None:
        self._old = graph.node(self.node_id).label
        graph._set_label(self.node_id, self.label)

    def revert(self, graph: ModelGraph) -> None:
        graph._set_label(self.node_id, self._old)


@dataclass
class SetFrozen(Edit):
    node_id: str
    frozen: bool
    _old: bool = False

    @property
    def text(self) -> str:
        return "Freeze" if self.frozen else "Unfreeze"

    def apply(self, graph: ModelGraph) -> None:
        self._old = graph.node(self.node_id).frozen
        graph._set_node_attr(self.node_id, "frozen", self.frozen)

    def revert(self, graph: ModelGraph) -> None:
        graph._set_node_attr(self.node_id, "frozen", self._old)


@dataclass
class GroupNodes(Edit):
    """Makes a named block (a group) of nodes and blocks that sit directly in block `parent` (None: the top
    level); the new block goes inside `parent`. Wires are untouched; the block's ports are the wires that cross
    its boundary."""

    group_id: str
    label: str
    node_ids: tuple[str, ...]
    collapsed: bool = True
    position: tuple[float, float] | None = None
    group_ids: tuple[str, ...] = field(default=(), kw_only=True)
    parent: str | None = field(default=None, kw_only=True)

    @property
    def text(self) -> str:
        if self.group_ids:
            return f"Group {len(self.node_ids)} nodes and {len(self.group_ids)} blocks as '{self.label}'"
        return f"Group {len(self.node_ids)} nodes as '{self.label}'"

    def _check(self, graph: ModelGraph) -> None:
        if not self.node_ids and not self.group_ids:
            raise GraphError("Select at least one node or block to group")
        where = f"block '{graph.group(self.parent).label}'" if self.parent is not None else "the top level"
        for nid in self.node_ids:
            inner = graph.node(nid).group
            if inner != self.parent:
                raise GraphError(
                    f"'{graph.node(nid).label}' is not directly in {where}: a block can only gather items of one level"
                )
        for gid in self.group_ids:
            if gid == self.group_id:
                raise GraphError(f"Block {gid!r} cannot contain itself")
            if graph.group(gid).parent != self.parent:
                raise GraphError(
                    f"Block '{graph.group(gid).label}' is not directly in {where}: a block can only gather "
                    "items of one level"
                )
        if len(set(self.group_ids)) != len(self.group_ids):
            raise GraphError("A block is listed twice")

    def apply(self, graph: ModelGraph) -> None:
        self._check(graph)
        pos = self.position
        if pos is None:
            points = [graph.node(n).position for n in self.node_ids]
            points += [graph.group(g).position for g in self.group_ids]
            pos = (sum(p[0] for p in points) / len(points), sum(p[1] for p in points) / len(points))
        group = Group(self.group_id, self.label, tuple(self.node_ids), self.collapsed, pos, self.parent)
        graph._insert_group(group)
        for gid in self.group_ids:
            graph._set_group_attr(gid, "parent", self.group_id)

    def revert(self, graph: ModelGraph) -> None:
        for gid in reversed(self.group_ids):
            graph._set_group_attr(gid, "parent", self.parent)
        graph._delete_group(self.group_id)


@dataclass
class Ungroup(Edit):
    """Dissolves a block: its direct nodes and child blocks move to its parent."""

    group_id: str
    _group: Group | None = field(default=None, repr=False)
    _children: list[str] = field(default_factory=list, repr=False)
    _key: float = 0.0

    @property
    def text(self) -> str:
        return f"Ungroup '{self._group.label}'" if self._group else "Ungroup"

    def apply(self, graph: ModelGraph) -> None:
        group = graph.group(self.group_id)
        self._children = graph.child_groups(self.group_id)
        self._key = graph._group_index(self.group_id)
        for gid in self._children:
            graph._set_group_attr(gid, "parent", group.parent)
        self._group = graph._delete_group(self.group_id).copy()

    def revert(self, graph: ModelGraph) -> None:
        assert self._group is not None
        graph._insert_group(self._group.copy(), order_key=self._key)
        for gid in self._children:
            graph._set_group_attr(gid, "parent", self.group_id)


@dataclass
class SetGroup(Edit):
    """Renames, collapses/expands or moves a block, or puts it inside another block ("parent")."""

    group_id: str
    attr: str
    value: Any
    _old: Any = None

    @property
    def text(self) -> str:
        return {
            "label": "Rename block",
            "collapsed": "Collapse block" if self.value else "Expand block",
            "position": "Move block",
            "parent": "Move block into another" if self.value is not None else "Move block to the top level",
        }.get(self.attr, "Edit block")

    def apply(self, graph: ModelGraph) -> None:
        self._old = getattr(graph.group(self.group_id), self.attr)
        graph._set_group_attr(self.group_id, self.attr, self.value)

    def revert(self, graph: ModelGraph) -> None:
        graph._set_group_attr(self.group_id, self.attr, self._old)


@dataclass
class PutInBlock(Edit):
    """Moves nodes that sit at the top level into block `group_id` (a paste or a drop while a block is entered
    lands inside it). Through the graph's membership primitive, so undo puts them back exactly."""

    node_ids: tuple[str, ...]
    group_id: str | None
    _old: dict[str, str | None] = field(default_factory=dict, repr=False)

    @property
    def text(self) -> str:
        return f"Put {len(self.node_ids)} layer(s) in a block"

    def apply(self, graph: ModelGraph) -> None:
        self._old = {n: graph.node(n).group for n in self.node_ids}
        for n in self.node_ids:
            graph._set_node_attr(n, "group", self.group_id)

    def revert(self, graph: ModelGraph) -> None:
        for n in reversed(self.node_ids):
            graph._set_node_attr(n, "group", self._old[n])


@dataclass
class Composite(Edit):
    """Several edits as one step (paste, delete selection, insert on wire). Reverts in reverse order; if a
    step fails while applying, the steps already applied are rolled back before the error propagates."""

    label: str
    edits: list[Edit]

    @property
    def text(self) -> str:
        return self.label

    def apply(self, graph: ModelGraph) -> None:
        done: list[Edit] = []
        try:
            for e in self.edits:
                e.apply(graph)
                done.append(e)
        except Exception:
            for e in reversed(done):
                e.revert(graph)
            raise

    def revert(self, graph: ModelGraph) -> None:
        for e in reversed(self.edits):
            e.revert(graph)


def apply_edit(graph: ModelGraph, edit: Edit) -> Edit:
    """Apply and return the edit (convenience for scripts)."""
    edit.apply(graph)
    return edit


def remove_nodes(graph: ModelGraph, node_ids: list[str]) -> Composite:
    """A composite that deletes several nodes (their wires go with them)."""
    return Composite(f"Delete {len(node_ids)} node(s)", [RemoveNode(n) for n in node_ids])
