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
    """A named block of nodes that collapses on the canvas and compiles to a submodule."""

    id: str
    label: str
    node_ids: tuple[str, ...]
    collapsed: bool = True
    position: tuple[float, float] = (0.0, 0.0)

    def copy(self) -> Group:
        return replace(self)

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "label": self.label,
            "node_ids": list(self.node_ids),
            "collapsed": self.collapsed,
            "position": [float(self.position[0]), float(self.position[1])],
        }


def _jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    return value


class ModelGraph:
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
        self.group_changed = Signal()  # (group_id)
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
        if attr not in ("frozen", "type_version", "group"):
            raise GraphError(f"Attribute {attr!r} cannot be set this way")
        setattr(self.node(node_id), attr, value)
        self.node_changed.emit(node_id)
        self.changed.emit()

    def _insert_group(self, group: Group) -> None:
        if group.id in self._groups or group.id in self._nodes:
            raise GraphError(f"A group with id {group.id!r} already exists")
        for nid in group.node_ids:
            if self.node(nid).group is not None:
                raise GraphError(f"Node {nid!r} is already in group {self.node(nid).group!r}")
        self._groups[group.id] = group
        self._note_id(group.id)
        for nid in group.node_ids:
            self._nodes[nid].group = group.id
        self.group_added.emit(group)
        self.changed.emit()

    def _delete_group(self, group_id: str) -> Group:
        group = self.group(group_id)
        del self._groups[group_id]
        for nid in group.node_ids:
            if nid in self._nodes:
                self._nodes[nid].group = None
        self.group_removed.emit(group)
        self.changed.emit()
        return group

    def _set_group_attr(self, group_id: str, attr: str, value: Any) -> None:
        if attr not in ("label", "collapsed", "position"):
            raise GraphError(f"Group attribute {attr!r} cannot be set this way")
        setattr(self.group(group_id), attr, value)
        self.group_changed.emit(group_id)
        self.changed.emit()

    # -------------------------------------------------------- whole-graph I/O
    def to_dict(self) -> dict[str, Any]:
        """Canonical plain-data form (stable order): what files store and what tests compare."""
        return {
            "nodes": [node.to_dict() for node in self.nodes.values()],
            "edges": [e.to_dict() for e in sorted(self.edges())],
            "groups": [self._groups[gid].to_dict() for gid in sorted(self._groups)],
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
        for gd in data.get("groups", []):
            pos = gd.get("position", (0.0, 0.0))
            self._insert_group(
                Group(
                    id=gd["id"],
                    label=gd.get("label", gd["id"]),
                    node_ids=tuple(gd.get("node_ids", ())),
                    collapsed=bool(gd.get("collapsed", True)),
                    position=(float(pos[0]), float(pos[1])),
                )
            )

    def clear(self) -> None:
        for gid in list(self._groups):
            self._delete_group(gid)
        for e in list(self.edges()):
            self._delete_edge(e)
        for nid in list(self._nodes):
            self._delete_node(nid)

    def subgraph_dict(self, node_ids: Iterable[str]) -> dict[str, Any]:
        """Nodes and the wires among them (for copy/paste and groups)."""
        ids = set(node_ids)
        return {
            "nodes": [node.to_dict() for n, node in self.nodes.items() if n in ids],
            "edges": [e.to_dict() for e in sorted(self.edges()) if e.src in ids and e.dst in ids],
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
