"""The one place edits are pushed. Views and gestures call these methods with intent; the controller builds
the core edit, applies it, and records it on the QUndoStack wrapped in a thin command.

Edits are applied before the command is pushed, so an edit that raises never reaches the stack and the user
sees the reason instead.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from typing import Any

from PySide6.QtCore import QObject, Signal
from PySide6.QtGui import QUndoCommand, QUndoStack

from ..core.edits import (
    AddNode,
    Composite,
    Connect,
    Disconnect,
    Edit,
    GroupNodes,
    Move,
    PutInBlock,
    RemoveNode,
    Rename,
    SetFrozen,
    SetGroup,
    SetParam,
    Ungroup,
)
from ..core.errors import DlstudioError, GraphError, ParamError, UnknownLayerError
from ..core.graph import Edge, ModelGraph, Node
from ..core.layout import make_room, plan_layout
from ..layers.registry import REGISTRY
from .controller_paste import PASTE_OFFSET, PasteMixin  # noqa: F401 - PASTE_OFFSET kept here

MIME_NODES = "application/x-dlstudio-nodes"
MERGE_WINDOW_S = 2.0


def _merge_key(edit: Edit) -> tuple | None:
    """Edits with equal keys merge into one undo step (spin-box runs, one drag)."""
    if isinstance(edit, SetParam):
        return ("param", edit.node_id, edit.param)
    if isinstance(edit, Move):
        return ("move", tuple(sorted(edit.positions)))
    if isinstance(edit, Composite) and edit.edits and all(isinstance(e, SetParam) for e in edit.edits):
        return ("params",) + tuple((e.node_id, e.param) for e in edit.edits)  # type: ignore[attr-defined]
    return None


class EditCommand(QUndoCommand):
    """A QUndoCommand around one core edit. redo() skips the first call: the controller already applied it."""

    MERGE_ID = 0x0D15

    def __init__(
        self, controller: Controller, edit: Edit, mergeable: bool, text: str | None = None, joinable: bool = True
    ) -> None:
        super().__init__(text or edit.text)
        self.controller = controller
        self.edit = edit
        self.key = _merge_key(edit) if mergeable else None
        self.joinable = joinable  # False: may absorb later edits, but starts a new step itself
        self._applied = True

    def id(self) -> int:  # noqa: A003 - Qt override
        return self.MERGE_ID if self.key is not None else -1

    def mergeWith(self, other: QUndoCommand) -> bool:  # noqa: N802 - Qt override
        if not isinstance(other, EditCommand) or other.key != self.key or self.key is None or not other.joinable:
            return False
        if isinstance(self.edit, Composite):
            for mine, theirs in zip(self.edit.edits, other.edit.edits):  # type: ignore[attr-defined]
                mine.merge_with(theirs)
        elif not self.edit.merge_with(other.edit):
            return False
        self.setText(other.text())
        return True

    def redo(self) -> None:
        if self._applied:
            self._applied = False
            return
        self.edit.apply(self.controller.graph)
        self.controller.edited.emit()

    def undo(self) -> None:
        self.edit.revert(self.controller.graph)
        self.controller.edited.emit()


class Controller(PasteMixin, QObject):
    """Turns user intent into edits. `edited` fires after every apply/undo/redo (the window re-checks then);
    `refused(str)` carries the reason an intent was not carried out."""

    edited = Signal()
    refused = Signal(str)
    select_requested = Signal(list)

    def __init__(self, graph: ModelGraph, parent: QObject | None = None, engine: Any = None) -> None:
        super().__init__(parent)
        self.graph = graph
        self.engine = engine
        self.undo_stack = QUndoStack(self)
        # how wide (scene units) a laid-out row may be before auto-layout wraps it into another band; the view
        # keeps it at what its viewport shows at a readable zoom (None: never wrap)
        self.layout_width: float | None = None
        self._barrier = False
        self._last_push = 0.0

    def dtype_of(self, edge: Edge) -> str | None:
        """The dtype the wire would carry, from the analysis engine (None when unknown)."""
        if self.engine is None or edge.src not in self.graph:
            return None
        self.engine.refresh()  # incremental: nothing to do unless an edit is pending
        t = self.engine.edge_shape(edge)
        return t.dtype if t is not None else None

    # ------------------------------------------------------------------ core
    def push(self, edit: Edit, mergeable: bool = True) -> bool:
        """Apply `edit` and record it. Returns False (and emits `refused`) when the graph rejects it."""
        text = self.describe(edit)  # before applying: a deleted node's name is still known
        try:
            edit.apply(self.graph)
        except DlstudioError as exc:
            self.refused.emit(str(exc))
            return False
        now = time.monotonic()
        # a pause ends a run: spinning a value now and again a minute later are two undo steps
        fresh = now - self._last_push > MERGE_WINDOW_S
        cmd = EditCommand(self, edit, mergeable, text, joinable=not (self._barrier or fresh))
        self._barrier = False
        self._last_push = now
        self.undo_stack.push(cmd)
        self.edited.emit()
        return True

    def _label(self, node_id: str) -> str:
        return self.graph.node(node_id).label if node_id in self.graph else node_id

    def describe(self, edit: Edit) -> str:
        """History text with layer names rather than ids."""
        if isinstance(edit, SetParam):
            return f"Set {edit.param} = {edit.value!r} on {self._label(edit.node_id)}"
        if isinstance(edit, (Connect, Disconnect)):
            e = edit.edge
            verb = "Connect" if isinstance(edit, Connect) else "Disconnect"
            return f"{verb} {self._label(e.src)} \u2192 {self._label(e.dst)}"
        if isinstance(edit, RemoveNode):
            return f"Delete {self._label(edit.node_id)}"
        if isinstance(edit, Move):
            ids = list(edit.positions)
            return f"Move {self._label(ids[0])}" if len(ids) == 1 else f"Move {len(ids)} layers"
        if isinstance(edit, Rename):
            return f"Rename {self._label(edit.node_id)} to '{edit.label}'"
        if isinstance(edit, SetFrozen):
            return f"{'Freeze' if edit.frozen else 'Unfreeze'} {self._label(edit.node_id)}"
        if isinstance(edit, Composite) and edit.edits and all(isinstance(e, SetParam) for e in edit.edits):
            first = edit.edits[0]
            assert isinstance(first, SetParam)
            return f"Set {first.param} = {first.value!r} on {len(edit.edits)} layers"
        return edit.text

    def end_merge(self) -> None:
        """The next edit starts a new undo step even if it would merge (editor lost focus, drag ended)."""
        self._barrier = True

    def undo(self) -> None:
        self.undo_stack.undo()

    def redo(self) -> None:
        self.undo_stack.redo()

    # ----------------------------------------------------------------- nodes
    def new_node(self, type_name: str, position: tuple[float, float], params: dict[str, Any] | None = None) -> Node:
        spec = REGISTRY.get(type_name)
        return Node(
            id=self.graph.new_id("n"),
            type=spec.type,
            label=self.graph.unique_label(spec.type.lower()),
            params=dict(params or {}),
            position=(float(position[0]), float(position[1])),
            type_version=spec.version,
        )

    def add_node(self, type_name: str, position: tuple[float, float], level: str | None = None) -> str | None:
        """A new layer at `position`, inside block `level` (None: the top level)."""
        try:
            node = self.new_node(type_name, position)
        except UnknownLayerError as exc:
            self.refused.emit(str(exc))
            return None
        if level is not None and level in self.graph.groups:
            edit: Edit = Composite(f"Add {node.type} '{node.label}'", [AddNode(node), PutInBlock((node.id,), level)])
        else:
            edit = AddNode(node)
        if self.push(edit):
            self.select_requested.emit([node.id])
            return node.id
        return None

    def remove(self, node_ids: Iterable[str], edges: Iterable[Edge] = ()) -> bool:
        nodes = [n for n in node_ids if n in self.graph]
        gone = set(nodes)
        wires = [e for e in edges if self.graph.has_edge(e) and e.src not in gone and e.dst not in gone]
        if not nodes and not wires:
            return False
        edits: list[Edit] = [Disconnect(e) for e in wires] + [RemoveNode(n) for n in nodes]
        label = f"Delete {len(nodes)} node(s)" if nodes else f"Delete {len(wires)} wire(s)"
        return self.push(Composite(label, edits) if len(edits) > 1 else edits[0])

    def move(self, positions: dict[str, tuple[float, float]]) -> bool:
        moved = {n: p for n, p in positions.items() if n in self.graph and self.graph.node(n).position != p}
        if not moved:
            return False
        ok = self.push(Move(moved))
        self.end_merge()  # one drag is one step; the next drag is another
        return ok

    def rename(self, node_id: str, label: str) -> bool:
        label = label.strip()
        if not label or node_id not in self.graph or self.graph.node(node_id).label == label:
            return False
        if any(n.label == label for n in self.graph.nodes.values()):
            self.refused.emit(f"The name {label!r} is taken: node names must be unique")
            return False
        return self.push(Rename(node_id, label))

    def set_frozen(self, node_ids: list[str], frozen: bool) -> bool:
        edits: list[Edit] = [SetFrozen(n, frozen) for n in node_ids if self.graph.node(n).frozen != frozen]
        if not edits:
            return False
        return self.push(edits[0] if len(edits) == 1 else Composite("Freeze" if frozen else "Unfreeze", edits))

    def set_param(self, node_ids: list[str], name: str, value: Any) -> bool:
        """Validates against the spec first: an invalid value is refused with the reason (ParamError)."""
        edits: list[Edit] = []
        for nid in node_ids:
            node = self.graph.node(nid)
            spec = REGISTRY.get(node.type)
            try:
                value_ok = spec.param(name).validate(value)
            except KeyError:
                continue
            except ParamError as exc:
                self.refused.emit(f"{node.label}: {exc}")
                return False
            if node.params.get(name, spec.param(name).default) != value_ok or name not in node.params:
                edits.append(SetParam(nid, name, value_ok))
        if not edits:
            return False
        if len(edits) == 1:
            return self.push(edits[0])
        return self.push(Composite(f"Set {name} on {len(edits)} nodes", edits))

    # ----------------------------------------------------------------- wires
    def check_connection(self, src: str, src_port: str, dst: str, dst_port: str) -> str | None:
        """None when the wire is allowed, else the reason it is refused."""
        g = self.graph
        if src not in g or dst not in g:
            return "That node no longer exists"
        if src == dst:
            return "A node cannot feed itself"
        try:
            sspec, dspec = REGISTRY.get(g.node(src).type), REGISTRY.get(g.node(dst).type)
            port = dspec.input_port(dst_port)
            out = next(p for p in sspec.output_ports(g.node(src).params) if p.name == src_port)
        except (KeyError, StopIteration, UnknownLayerError):
            return f"No port {dst_port!r} on {g.node(dst).label}"
        if g.would_create_cycle(src, dst):
            return f"Refused: {g.node(src).label} -> {g.node(dst).label} would make a cycle"
        wired = g.edges_into(dst, dst_port)
        if any(e.src == src and e.src_port == src_port for e in wired):
            return "These ports are already wired"
        if wired and not port.many:
            return (
                f"Refused: input '{dst_port}' of {g.node(dst).label} already has a wire and takes only one; "
                f"delete that wire first or use a merge layer (Add, Concat)"
            )
        have = self.dtype_of(Edge(src, src_port, dst, dst_port)) or out.dtype
        want = port.dtype
        kind = {"int64": "int", "float32": "float", "bool": "int"}.get(have, have)
        if want != "any" and kind not in ("any", want):
            return (
                f"Refused: {g.node(dst).label}.{dst_port} takes {want} tensors but "
                f"{g.node(src).label}.{src_port} gives {have}"
                + (" (an Embedding turns indices into floats)" if want == "float" else "")
            )
        return None

    def connect(self, src: str, src_port: str, dst: str, dst_port: str) -> bool:
        reason = self.check_connection(src, src_port, dst, dst_port)
        if reason:
            self.refused.emit(reason)
            return False
        spec = REGISTRY.get(self.graph.node(dst).type)
        slot = self.graph.next_slot(dst, dst_port) if spec.input_port(dst_port).many else 0
        return self.push(Connect(Edge(src, src_port, dst, dst_port, slot)))

    def reconnect(self, old: Edge, src: str, src_port: str, dst: str, dst_port: str) -> bool:
        """Move a wire to new ends as one undo step."""
        reason = self.check_connection(src, src_port, dst, dst_port)
        if reason:
            self.refused.emit(reason)
            return False
        spec = REGISTRY.get(self.graph.node(dst).type)
        many = spec.input_port(dst_port).many
        slot = self.graph.next_slot(dst, dst_port) if many else 0
        new = Edge(src, src_port, dst, dst_port, slot)
        return self.push(
            Composite(f"Reconnect {self._label(src)} \u2192 {self._label(dst)}", [Disconnect(old), Connect(new)])
        )

    def insert_on_wire(
        self,
        edge: Edge,
        type_name: str | None = None,
        node_id: str | None = None,
        position: tuple[float, float] | None = None,
        level: str | None = None,
    ) -> str | None:
        """Splits `edge` with a new node of `type_name` (palette drop, inside block `level`) or an existing
        unwired `node_id`."""
        g = self.graph
        edits: list[Edit] = [Disconnect(edge)]
        if node_id is None:
            assert type_name is not None and position is not None
            node = self.new_node(type_name, position)
            edits.insert(0, AddNode(node))
            if level is not None and level in g.groups:
                edits.insert(1, PutInBlock((node.id,), level))
        else:
            node = g.node(node_id)
        spec = REGISTRY.get(node.type)
        outs = spec.output_ports(node.params)
        if not spec.inputs or not outs:
            self.refused.emit(f"{node.type} has no input or no output: it cannot go on a wire")
            return None
        edits += [
            Connect(Edge(edge.src, edge.src_port, node.id, spec.inputs[0].name, 0)),
            Connect(Edge(node.id, outs[0].name, edge.dst, edge.dst_port, edge.slot)),
        ]
        if self.push(Composite(f"Insert {node.type} on wire", edits)):
            self.select_requested.emit([node.id])
            return node.id
        return None

    # --------------------------------------------------------------- groups
    def group(self, node_ids: list[str], label: str | None = None, group_ids: Iterable[str] = ()) -> str | None:
        """A new block of layers and blocks that sit side by side in one block (or at the top level); it goes
        where they were, so grouping inside an entered block nests the new block there."""
        graph = self.graph
        ids = [n for n in node_ids if n in graph]
        gids = [g for g in group_ids if g in graph.groups]
        if not ids and not gids:
            self.refused.emit("Select the layers or blocks to group first")
            return None
        levels = {graph.node(n).group for n in ids} | {graph.group(g).parent for g in gids}
        if len(levels) != 1:
            self.refused.emit(
                "The selection spans several levels of blocks: select layers and blocks that sit side by side "
                "(open a block to group inside it)"
            )
            return None
        parent = levels.pop()
        gid = self._fresh_ids("g", 1)[0]
        used = {g.label for g in graph.groups.values()}
        name = label or "block"
        i = 1
        while name in used:
            name, i = f"{label or 'block'}_{i}", i + 1
        edit = GroupNodes(gid, name, tuple(ids), collapsed=True, group_ids=tuple(gids), parent=parent)
        return gid if self.push(edit) else None

    def ungroup(self, group_id: str) -> bool:
        return self.push(Ungroup(group_id))

    def set_collapsed(self, group_id: str, collapsed: bool) -> bool:
        """Collapse or expand a block and re-lay out the graph around it in the same undo step, so an expanded
        frame never covers its neighbours (and a collapse closes the gap). The block stays where it was."""
        return self.set_collapsed_many({group_id: collapsed})

    def set_collapsed_many(self, states: dict[str, bool]) -> bool:
        states = {g: c for g, c in states.items() if g in self.graph.groups and self.graph.group(g).collapsed != c}
        if not states:
            return False
        anchor = next(iter(states))
        if len(states) == 1:  # one block: make room around it at every depth, no full re-layout
            pos, blocks = make_room(self.graph, anchor, states[anchor])
        else:
            pos, blocks = plan_layout(self.graph, collapsed=states, max_width=self.layout_width)
        if len(states) > 1 and anchor in blocks:  # keep the toggled block under the user's eye
            old, new = self.graph.group(anchor).position, blocks[anchor]
            dx, dy = old[0] - new[0], old[1] - new[1]
            pos = {n: (p[0] + dx, p[1] + dy) for n, p in pos.items()}
            blocks = {g: (p[0] + dx, p[1] + dy) for g, p in blocks.items()}
        edits: list[Edit] = [SetGroup(g, "collapsed", c) for g, c in states.items()]
        moved = {n: p for n, p in pos.items() if self.graph.node(n).position != p}
        if moved:
            edits.append(Move(moved))
        edits += [SetGroup(g, "position", p) for g, p in blocks.items() if self.graph.group(g).position != p]
        label = edits[0].text if len(states) == 1 else ("Collapse blocks" if all(states.values()) else "Expand blocks")
        return self.push(Composite(label, edits), mergeable=False)

    def rename_group(self, group_id: str, label: str) -> bool:
        return bool(label.strip()) and self.push(SetGroup(group_id, "label", label.strip()), mergeable=False)

    # --------------------------------------------------------------- layout
    def auto_layout(self, node_ids: list[str] | None = None, level: str | None = None) -> bool:
        """Layered layout of the graph, level by level (a collapsed block counts as one node), or of `node_ids`
        as they sit in block `level` (the block shown: a selection inside an entered block)."""
        if level is not None and level not in self.graph.groups:
            level = None
        pos, blocks = plan_layout(
            self.graph, node_ids or None, max_width=None if node_ids else self.layout_width, level=level
        )
        moved = {n: p for n, p in pos.items() if self.graph.node(n).position != p}
        edits: list[Edit] = [SetGroup(g, "position", p) for g, p in blocks.items() if self.graph.group(g).position != p]
        if moved:
            edits.insert(0, Move(moved))
        if not edits:
            return False
        return self.push(Composite("Auto-layout" if not node_ids else "Layout selection", edits), mergeable=False)


def group_of(graph: ModelGraph, node_id: str) -> str | None:
    try:
        return graph.node(node_id).group
    except GraphError:
        return None
