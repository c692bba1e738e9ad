"""ModelGraph: nodes with named ports and port-to-port edges, over a networkx MultiDiGraph.

The graph knows nothing about layer types: which ports a type has and what shapes flow are answered by
`dlstudio.layers` and `dlstudio.analysis`. Mutation goes through the reversible edits in `edits.py`; the
underscore methods here are the primitives those edits call, and each emits one change signal.
"""

from __future__ import annotations

import copy
import math
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field, replace
from typing import Any

import networkx as nx

from .errors import GraphError
from .hierarchy import BlockHierarchy
from .signals import Signal

_ID_RE = re.compile(r"^([a-z]+)(\d+)$")


@dataclass
class Node:
    id: str
    type: str
    label: str
    params: dict[str, Any] = field(default_factory=dict)
    position: tuple[float, float] = (0.0, 0.0)
    frozen: bool = False
    group: str | None = None
    type_version: int = 1

    def copy(self) -> Node:
        return replace(self, params=copy.deepcopy(self.params))

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "type": self.type,
            "label": self.label,
            "params": _jsonable(self.params),
            "position": [float(self.position[0]), float(self.position[1])],
            "frozen": self.frozen,
            "group": self.group,
            "type_version": self.type_version,
        }


@dataclass(frozen=True, order=True)
class Edge:
    """A wire from an output port to an input port. `slot` orders several wires into one many-port."""

    src: str
    src_port: str
    dst: str
    dst_port: str
    slot: int = 0

    def to_dict(self) -> dict[str, Any]:
        return {
            "src": self.src,
            "src_port": self.src_port,
            "dst": self.dst,
            "dst_port": self.dst_port,
            "slot": self.slot,
        }


@dataclass
class Group:
    """A named block that collapses on the canvas and compiles to a submodule. Blocks nest: `parent` is the
    enclosing block (None: top level) and `node_ids` are the block's direct member nodes only (kept in graph
    order); a block may hold only child blocks."""

    id: str
    label: str
    node_ids: tuple[str, ...]
    collapsed: bool = True
    position: tuple[float, float] = (0.0, 0.0)
    parent: str | None = None

    def copy(self) -> Group:
        return replace(self)

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "label": self.label,
            "node_ids": list(self.node_ids),
            "collapsed": self.collapsed,
            "position": [float(self.position[0]), float(self.position[1])],
            "parent": self.parent,
        }


def _jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    return value


class ModelGraph(BlockHierarchy):
    """The editable network. Signals are emitted after each primitive change, in past tense."""

    def __init__(self) -> None:
        self._g = nx.MultiDiGraph()
        # (dst, dst_port, slot) of every wire: an O(1) "input already wired" check instead of a scan per wire
        self._wired_inputs: set[tuple[str, str, int]] = set()
        self._nodes: dict[str, Node] = {}
        # each node's order key: insertion order, kept by a node that is removed and put back (undo), so restoring
        # many nodes costs one sort instead of one list rebuild per node
        self._order_key: dict[str, float] = {}
        self._next_key = 0
        self._unsorted = False
        self._groups: dict[str, Group] = {}
        # each block's order key (insertion order, kept by a block that is removed and put back) and a cache of
        # child block ids per parent, rebuilt after a block is added, removed or moved
        self._group_key: dict[str, float] = {}
        self._next_group_key = 0
        self._children_cache: dict[str | None, list[str]] | None = None
        self._counters: dict[str, int] = {}
        self.node_added = Signal()  # (node)
        self.node_removed = Signal()  # (node)
        self.edge_added = Signal()  # (edge)
        self.edge_removed = Signal()  # (edge)
        self.param_changed = Signal()  # (node_id, name, value)
        self.node_moved = Signal()  # (node_id, position)
        self.node_renamed = Signal()  # (node_id, label)
        self.node_changed = Signal()  # (node_id): frozen/type_version/group membership
        self.group_added = Signal()  # (group)
        self.group_removed = Signal()  # (group)
        self.group_changed = Signal()  # (group_id): label/collapsed/position/parent
        self.changed = Signal()  # () after any change

    # ---------------------------------------------------------------- queries
    @property
    def nx(self) -> nx.MultiDiGraph:
        """The underlying networkx graph (node ids; edge keys are Edge objects). Read only."""
        return self._g

    def __contains__(self, node_id: object) -> bool:
        return node_id in self._nodes

    def __len__(self) -> int:
        return len(self._nodes)

    @property
    def nodes(self) -> dict[str, Node]:
        if self._unsorted:
            keys = self._order_key
            self._nodes = dict(sorted(self._nodes.items(), key=lambda kv: keys[kv[0]]))
            self._unsorted = False
        return self._nodes

    @property
    def groups(self) -> dict[str, Group]:
        return self._groups

    def node(self, node_id: str) -> Node:
        try:
            return self._nodes[node_id]
        except KeyError:
            raise GraphError(f"No node with id {node_id!r}") from None

    def group(self, group_id: str) -> Group:
        try:
            return self._groups[group_id]
        except KeyError:
            raise GraphError(f"No group with id {group_id!r}") from None

    def edges(self) -> Iterator[Edge]:
        for _, _, key in self._g.edges(keys=True):
            yield key

    def has_edge(self, edge: Edge) -> bool:
        return self._g.has_edge(edge.src, edge.dst, key=edge)

    def in_edges(self, node_id: str) -> list[Edge]:
        return sorted((k for _, _, k in self._g.in_edges(node_id, keys=True)), key=lambda e: (e.dst_port, e.slot))

    def out_edges(self, node_id: str) -> list[Edge]:
        return sorted(
            (k for _, _, k in self._g.out_edges(node_id, keys=True)),
            key=lambda e: (e.src_port, e.dst, e.dst_port, e.slot),
        )

    def edges_into(self, node_id: str, port: str) -> list[Edge]:
        return sorted((e for e in self.in_edges(node_id) if e.dst_port == port), key=lambda e: e.slot)

    def successors(self, node_id: str) -> list[str]:
        return list(self._g.successors(node_id))

    def predecessors(self, node_id: str) -> list[str]:
        return list(self._g.predecessors(node_id))

    def topological_order(self) -> list[str]:
        """Node ids in a deterministic topological order (insertion order breaks ties); raises on cycles."""
        index = self._order_key
        try:
            return list(nx.lexicographical_topological_sort(self._g, key=lambda n: index[n]))
        except nx.NetworkXUnfeasible:
            raise GraphError("The graph has a cycle") from None

    def has_cycle(self) -> bool:
        return not nx.is_directed_acyclic_graph(self._g)

    def would_create_cycle(self, src: str, dst: str) -> bool:
        return src == dst or (dst in self._g and src in self._g and nx.has_path(self._g, dst, src))

    def descendants(self, node_id: str) -> set[str]:
        return nx.descendants(self._g, node_id)

    def next_slot(self, node_id: str, port: str) -> int:
        slots = [e.slot for e in self.edges_into(node_id, port)]
        return max(slots) + 1 if slots else 0

    def new_id(self, prefix: str = "n") -> str:
        """A fresh id that was never used in this graph (ids are never recycled)."""
        n = self._counters.get(prefix, 0) + 1
        existing = self._nodes if prefix != "g" else self._groups
        while f"{prefix}{n}" in existing or f"{prefix}{n}" in self._nodes or f"{prefix}{n}" in self._groups:
            n += 1
        self._counters[prefix] = n
        return f"{prefix}{n}"

    def unique_label(self, base: str) -> str:
        labels = {n.label for n in self._nodes.values()}
        if base not in labels:
            return base
        i = 1
        while f"{base}_{i}" in labels:
            i += 1
        return f"{base}_{i}"

    def nodes_of_type(self, type_name: str) -> list[Node]:
        return [n for n in self.nodes.values() if n.type == type_name]

    def group_members(self, group_id: str) -> list[str]:
        """The block's direct member nodes (not those of its child blocks: see `group_nodes_deep`)."""
        return list(self.group(group_id).node_ids)

    # ------------------------------------------------------------- primitives
    def _note_id(self, node_or_group_id: str) -> None:
        m = _ID_RE.match(node_or_group_id)
        if m:
            prefix, num = m.group(1), int(m.group(2))
            self._counters[prefix] = max(self._counters.get(prefix, 0), num)

    def _insert_node(self, node: Node, index: int | None = None, *, order_key: float | None = None) -> None:
        """Adds `node` at position `index` (None: last), or at `order_key` from `_node_index` (its old place)."""
        if node.id in self._nodes or node.id in self._groups:
            raise GraphError(f"A node with id {node.id!r} already exists")
        if order_key is not None:
            key = order_key
        elif index is None or index >= len(self._nodes):
            key = self._next_key
        else:
            keys = [self._order_key[n] for n in self.nodes]
            key = keys[index] - 1.0 if index <= 0 else (keys[index - 1] + keys[index]) / 2
        if key >= self._next_key:
            self._next_key = math.floor(key) + 1
        else:
            self._unsorted = True
        self._order_key[node.id] = key
        self._nodes[node.id] = node
        self._g.add_node(node.id)
        self._note_id(node.id)
        self.node_added.emit(node)
        self.changed.emit()

    def _delete_node(self, node_id: str) -> Node:
        node = self.node(node_id)
        if self._g.degree(node_id):
            raise GraphError(f"Node {node_id!r} still has wires; remove them first")
        if node.group is not None:
            raise GraphError(f"Node {node_id!r} is in group {node.group!r}; take it out first")
        del self._nodes[node_id]
        del self._order_key[node_id]
        self._g.remove_node(node_id)
        self.node_removed.emit(node)
        self.changed.emit()
        return node

    def _node_index(self, node_id: str) -> float:
        """The node's order key: `_insert_node(node, order_key=key)` puts a removed node back in its old place."""
        return self._order_key[node_id]

    def _insert_edge(self, edge: Edge) -> None:
        for end in (edge.src, edge.dst):
            if end not in self._nodes:
                raise GraphError(f"Cannot wire {edge}: no node {end!r}")
        if self.has_edge(edge):
            raise GraphError(f"Wire {edge.src}.{edge.src_port} -> {edge.dst}.{edge.dst_port} already exists")
        if (edge.dst, edge.dst_port, edge.slot) in self._wired_inputs:
            raise GraphError(f"Input {edge.dst}.{edge.dst_port} slot {edge.slot} is already wired")
        self._g.add_edge(edge.src, edge.dst, key=edge)
        self._wired_inputs.add((edge.dst, edge.dst_port, edge.slot))
        self.edge_added.emit(edge)
        self.changed.emit()

    def _delete_edge(self, edge: Edge) -> None:
        if not self.has_edge(edge):
            raise GraphError(f"No wire {edge.src}.{edge.src_port} -> {edge.dst}.{edge.dst_port}")
        self._g.remove_edge(edge.src, edge.dst, key=edge)
        self._wired_inputs.discard((edge.dst, edge.dst_port, edge.slot))
        self.edge_removed.emit(edge)
        self.changed.emit()

    def _set_param(self, node_id: str, name: str, value: Any) -> Any:
        """Sets a parameter; a value of `_MISSING` removes it. Returns the old value (or _MISSING)."""
        node = self.node(node_id)
        old = node.params.get(name, MISSING)
        if value is MISSING:
            node.params.pop(name, None)
        else:
            node.params[name] = value
        self.param_changed.emit(node_id, name, value)
        self.changed.emit()
        return old

    def _set_position(self, node_id: str, position: tuple[float, float]) -> None:
        node = self.node(node_id)
        node.position = (float(position[0]), float(position[1]))
        self.node_moved.emit(node_id, node.position)
        self.changed.emit()

    def _set_label(self, node_id: str, label: str) -> None:
        node = self.node(node_id)
        node.label = label
        self.node_renamed.emit(node_id, label)
        self.changed.emit()

    def _set_node_attr(self, node_id: str, attr: str, value: Any) -> None:
        if attr == "group":
            self._move_node(node_id, value)
            return
        if attr not in ("frozen", "type_version"):
            raise GraphError(f"Attribute {attr!r} cannot be set this way")
        setattr(self.node(node_id), attr, value)
        self.node_changed.emit(node_id)
        self.changed.emit()

    def _move_node(self, node_id: str, group_id: str | None) -> None:
        """Moves a node from its block (or the top level) into block `group_id` (None: the top level)."""
        node = self.node(node_id)
        if group_id is not None:
            self.group(group_id)
        old = node.group
        if old == group_id:
            return
        if old is not None:
            grp = self._groups[old]
            grp.node_ids = tuple(n for n in grp.node_ids if n != node_id)
        if group_id is not None:
            grp = self._groups[group_id]
            grp.node_ids = self._sorted_nodes((*grp.node_ids, node_id))
        node.group = group_id
        self.node_changed.emit(node_id)
        self.changed.emit()

    def _insert_group(self, group: Group, *, order_key: float | None = None) -> None:
        """Adds a block. Its nodes must sit directly in its parent block (or at the top level when the parent
        is None); they leave the parent for the new block. Child blocks join it by `_set_group_attr(child,
        "parent", group.id)` afterwards."""
        if group.id in self._groups or group.id in self._nodes:
            raise GraphError(f"A group with id {group.id!r} already exists")
        if group.parent is not None and group.parent not in self._groups:
            raise GraphError(f"Block {group.id!r}: no parent block {group.parent!r}")
        for nid in group.node_ids:
            where = self.node(nid).group
            if where != group.parent:
                here = f"block {where!r}" if where is not None else "the top level"
                there = f"block {group.parent!r}" if group.parent is not None else "the top level"
                raise GraphError(f"Node {nid!r} sits in {here}, not in {there} where block {group.id!r} goes")
        if len(set(group.node_ids)) != len(group.node_ids):
            raise GraphError(f"Block {group.id!r} lists a node twice")
        group.node_ids = self._sorted_nodes(group.node_ids)
        if group.parent is not None and group.node_ids:
            parent = self._groups[group.parent]
            taken = set(group.node_ids)
            parent.node_ids = tuple(n for n in parent.node_ids if n not in taken)
        key = order_key if order_key is not None else self._next_group_key
        self._next_group_key = max(self._next_group_key, math.floor(key) + 1)
        self._group_key[group.id] = key
        self._groups[group.id] = group
        self._children_cache = None
        self._note_id(group.id)
        for nid in group.node_ids:
            self._nodes[nid].group = group.id
        self.group_added.emit(group)
        self.changed.emit()

    def _group_index(self, group_id: str) -> float:
        """The block's order key: `_insert_group(group, order_key=key)` puts a removed block back in place."""
        return self._group_key[group_id]

    def _delete_group(self, group_id: str) -> Group:
        """Removes a block that holds no child blocks; its nodes go back to its parent block."""
        group = self.group(group_id)
        if self.child_groups(group_id):
            raise GraphError(f"Block {group_id!r} still holds blocks; move them out first")
        del self._groups[group_id]
        del self._group_key[group_id]
        self._children_cache = None
        back = [nid for nid in group.node_ids if nid in self._nodes]
        for nid in back:
            self._nodes[nid].group = group.parent
        if group.parent is not None and back:
            parent = self._groups[group.parent]
            parent.node_ids = self._sorted_nodes((*parent.node_ids, *back))
        self.group_removed.emit(group)
        self.changed.emit()
        return group

    def _set_group_attr(self, group_id: str, attr: str, value: Any) -> None:
        if attr not in ("label", "collapsed", "position", "parent"):
            raise GraphError(f"Group attribute {attr!r} cannot be set this way")
        group = self.group(group_id)
        if attr == "parent" and value != group.parent:
            if value is not None:
                self.group(value)
                if self.contains_group(group_id, value):
                    raise GraphError(f"Block {group_id!r} cannot go inside {value!r}: {value!r} is inside it")
            self._children_cache = None
        setattr(group, attr, value)
        self.group_changed.emit(group_id)
        self.changed.emit()

    # -------------------------------------------------------- whole-graph I/O
    def to_dict(self) -> dict[str, Any]:
        """Canonical plain-data form (stable order): what files store and what tests compare."""
        return {
            "nodes": [node.to_dict() for node in self.nodes.values()],
            "edges": [e.to_dict() for e in sorted(self.edges())],
            "groups": [self._groups[gid].to_dict() for gid in sorted(self._groups, key=self._group_key.__getitem__)],
        }

    def copy(self) -> ModelGraph:
        other = type(self)()
        other.load_dict(self.to_dict())
        return other

    def load_dict(self, data: dict[str, Any]) -> None:
        """Replace the contents from `to_dict()` output. Validates structure; raises GraphError."""
        self.clear()
        for nd in data.get("nodes", []):
            pos = nd.get("position", (0.0, 0.0))
            self._insert_node(
                Node(
                    id=nd["id"],
                    type=nd["type"],
                    label=nd.get("label", nd["id"]),
                    params=copy.deepcopy(nd.get("params", {})),
                    position=(float(pos[0]), float(pos[1])),
                    frozen=bool(nd.get("frozen", False)),
                    type_version=int(nd.get("type_version", 1)),
                )
            )
        for ed in data.get("edges", []):
            self._insert_edge(Edge(ed["src"], ed["src_port"], ed["dst"], ed["dst_port"], int(ed.get("slot", 0))))
        self._load_groups(data.get("groups", []))

    def _load_groups(self, group_dicts: list[dict[str, Any]]) -> None:
        """Inserts blocks parents first, each with all the nodes of its subtree: a child block then takes its
        own nodes from the parent, which keeps its direct ones. Order keys follow the file's order."""
        by_id = {gd["id"]: (i, gd) for i, gd in enumerate(group_dicts)}
        deep: dict[str, list[str]] = {gid: list(gd.get("node_ids", ())) for gid, (_, gd) in by_id.items()}
        ordered: list[str] = []
        state: dict[str, int] = {}  # 1: being visited, 2: done

        def visit(gid: str) -> None:
            if state.get(gid) == 2:
                return
            if state.get(gid) == 1:
                raise GraphError(f"Block {gid!r} is inside itself (a cycle of parents)")
            state[gid] = 1
            parent = by_id[gid][1].get("parent")
            if parent is not None:
                if parent not in by_id:
                    raise GraphError(f"Block {gid!r}: no parent block {parent!r}")
                visit(parent)
            state[gid] = 2
            ordered.append(gid)

        for gid in by_id:
            visit(gid)
        for gid in reversed(ordered):  # children before parents: each parent gathers its subtree's nodes
            parent = by_id[gid][1].get("parent")
            if parent is not None:
                deep[parent].extend(deep[gid])
        for gid in ordered:
            index, gd = by_id[gid]
            pos = gd.get("position", (0.0, 0.0))
            group = Group(
                id=gid,
                label=gd.get("label", gid),
                node_ids=tuple(deep[gid]),
                collapsed=bool(gd.get("collapsed", True)),
                position=(float(pos[0]), float(pos[1])),
                parent=gd.get("parent"),
            )
            self._insert_group(group, order_key=index)

    def clear(self) -> None:
        for gid in sorted(self._groups, key=self.group_depth, reverse=True):  # children first
            self._delete_group(gid)
        for e in list(self.edges()):
            self._delete_edge(e)
        for nid in list(self._nodes):
            self._delete_node(nid)

    def subgraph_dict(self, node_ids: Iterable[str]) -> dict[str, Any]:
        """Nodes, the wires among them, and the blocks whose whole contents are among them (a block whose
        parent is not taken along becomes top level; a node whose block is not taken along has group None)."""
        ids = set(node_ids)
        kept = {gid for gid in self._groups if (deep := self.group_nodes_deep(gid)) and all(n in ids for n in deep)}
        nodes = []
        for n, node in self.nodes.items():
            if n in ids:
                nd = node.to_dict()
                nd["group"] = node.group if node.group in kept else None
                nodes.append(nd)
        groups = []
        for gid in sorted(kept, key=self._group_key.__getitem__):
            gd = self._groups[gid].to_dict()
            gd["parent"] = gd["parent"] if gd["parent"] in kept else None
            groups.append(gd)
        return {
            "nodes": nodes,
            "edges": [e.to_dict() for e in sorted(self.edges()) if e.src in ids and e.dst in ids],
            "groups": groups,
        }


class _Missing:
    _instance: _Missing | None = None

    def __new__(cls) -> _Missing:
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "MISSING"

    def __deepcopy__(self, memo: dict) -> _Missing:
        return self


MISSING: Any = _Missing()
