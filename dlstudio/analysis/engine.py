"""AnalysisEngine: live, incremental shapes, diagnostics and statistics for one ModelGraph.

The engine listens to the graph's change signals and only marks what an edit touched as dirty; `refresh()` then
re-evaluates the dirty nodes in topological order and follows the wires downstream only while a node's outputs
(or reachability) actually changed. The topological order is kept as integer ranks: adding a node appends a
rank, removing a node or a wire keeps the order valid, and only a wire that runs "backwards" in the current order
triggers an O(N) re-sort. Lints look at most LINT_RADIUS wires upstream, so they are re-run only within that
radius downstream of a structural edit. A property test checks that any edit sequence gives exactly what a
fresh engine computes.
"""

from __future__ import annotations

import gc
import heapq
from collections import deque
from collections.abc import Callable, Iterable
from typing import Any

from ..core.graph import Edge, Group, ModelGraph, Node
from ..core.signals import Signal
from ..core.tensor import TensorInfo
from ..layers.spec import LayerSpec
from . import diagnostics as D
from .diagnostics import Diagnostic, MemoryEstimate, NodeStats, Totals, memory_estimate
from .evaluate import NodeState, evaluate_node, pred_of, spec_or_error, succ_of
from .lints import LINT_RADIUS, TrainingFacts, lint_global, lint_node, training_facts

_SEVERITY_ORDER = {"error": 0, "warning": 1}


class AnalysisEngine:
    """Incremental analysis of `graph`. Queries answer from the last `refresh()` (the constructor runs one)."""

    def __init__(
        self, graph: ModelGraph, *, training: Any = None, data: Any = None, facts: TrainingFacts | None = None
    ) -> None:
        self.graph = graph
        self.changed = Signal()  # (set of node ids whose outputs, diagnostics or statistics changed)
        self._facts = facts if facts is not None else training_facts(training, data)
        self._states: dict[str, NodeState] = {}
        self._lints: dict[str, tuple[Diagnostic, ...]] = {}
        self._rank: dict[str, float] = {}
        self._next_rank = 0.0
        self._blocked: set[str] = set()
        self._type_count: dict[str, int] = {}
        self._global: tuple[Diagnostic, ...] = ()
        self._global_lints: tuple[Diagnostic, ...] = ()
        self._dirty: set[str] = set()
        self._relint_from: set[str] = set()
        self._relint_all = True
        self._relint_outputs = False
        self._removed: set[str] = set()
        self._order_dirty = True
        self._globals_dirty = True
        self._node_errors = 0
        self._sum = [0, 0, 0, 0, 0]  # params, trainable, frozen, macs, activation bytes
        # how many node inferences ran, ever: tests check that an edit re-infers only what it reaches
        self.evaluations = 0
        for node in graph.nodes.values():
            self._type_count[node.type] = self._type_count.get(node.type, 0) + 1
            self._dirty.add(node.id)
        self._connections: list[tuple[Signal, Callable[..., Any]]] = [
            (graph.node_added, self._on_node_added),
            (graph.node_removed, self._on_node_removed),
            (graph.edge_added, self._on_edge_added),
            (graph.edge_removed, self._on_edge_removed),
            (graph.param_changed, self._on_param_changed),
            (graph.node_renamed, self._on_node_renamed),
            (graph.node_changed, self._on_node_changed),
            (graph.group_added, self._on_group),
            (graph.group_removed, self._on_group),
            (graph.group_changed, self._on_group_changed),
        ]
        for signal, slot in self._connections:
            signal.connect(slot)
        self.refresh()

    def close(self) -> None:
        """Stop observing the graph (the studio calls this when it swaps projects)."""
        for signal, slot in self._connections:
            signal.disconnect(slot)

    # ------------------------------------------------------------ training facts
    @property
    def facts(self) -> TrainingFacts:
        return self._facts

    def set_training(self, training: Any = None, data: Any = None, *, facts: TrainingFacts | None = None) -> None:
        """New loss / class count / row count: every lint is re-run on the next refresh."""
        new = facts if facts is not None else training_facts(training, data)
        if new != self._facts:
            self._facts = new
            self._relint_all = True

    # ------------------------------------------------------------ signal slots
    def _on_node_added(self, node: Node) -> None:
        self._dirty.add(node.id)
        self._relint_from.add(node.id)
        self._removed.discard(node.id)
        self._rank[node.id] = self._next_rank
        self._next_rank += 1
        self._type_count[node.type] = self._type_count.get(node.type, 0) + 1
        self._globals_dirty = True
        if node.type == "Output":
            self._relint_outputs = True

    def _on_node_removed(self, node: Node) -> None:
        nid = node.id
        self._dirty.discard(nid)
        self._relint_from.discard(nid)
        self._removed.add(nid)
        self._rank.pop(nid, None)
        if nid in self._blocked:
            self._blocked.discard(nid)
            self._order_dirty = True
        st = self._states.pop(nid, None)
        if st is not None:
            self._account(st, -1)
        self._lints.pop(nid, None)
        self._type_count[node.type] -= 1
        if not self._type_count[node.type]:
            del self._type_count[node.type]
        self._globals_dirty = True
        if node.type == "Output":
            self._relint_outputs = True

    def _on_edge_added(self, edge: Edge) -> None:
        self._dirty.add(edge.dst)
        self._relint_from.add(edge.dst)
        rs, rd = self._rank.get(edge.src), self._rank.get(edge.dst)
        if self._blocked or rs is None or rd is None:
            self._order_dirty = True
        elif rs >= rd and not self._order_dirty and not self._slide(edge.src) and not self._slide(edge.dst):
            self._order_dirty = True
        if self.graph.groups:
            self._globals_dirty = True

    def _on_edge_removed(self, edge: Edge) -> None:
        self._dirty.add(edge.dst)
        self._relint_from.add(edge.dst)
        if self._blocked:
            self._order_dirty = True
        if self.graph.groups:
            self._globals_dirty = True

    def _on_param_changed(self, node_id: str, name: str, value: Any) -> None:
        self._dirty.add(node_id)

    def _on_node_renamed(self, node_id: str, label: str) -> None:
        # messages name nodes by label: this node's own, lints downstream, cycle and block messages
        self._dirty.add(node_id)
        self._relint_from.add(node_id)
        if self.graph.nodes[node_id].type == "Output":
            self._relint_outputs = True
        if self._blocked or self.graph.groups:
            self._globals_dirty = True

    def _on_node_changed(self, node_id: str) -> None:
        self._dirty.add(node_id)  # frozen moves parameters between trainable and frozen
        self._globals_dirty = True  # group membership

    def _on_group(self, group: Group) -> None:
        self._globals_dirty = True

    def _on_group_changed(self, group_id: str) -> None:
        self._globals_dirty = True

    # ----------------------------------------------------------------- refresh
    def refresh(self) -> set[str]:
        """Re-infer what the edits since the last refresh touched; returns the ids whose outputs, diagnostics or
        statistics changed (removed nodes included) and emits `changed` with them."""
        # refresh builds no reference cycles: keep the cyclic collector from walking a large heap meanwhile
        gc_was_enabled = gc.isenabled()
        gc.disable()
        try:
            changed = self._refresh()
        finally:
            if gc_was_enabled:
                gc.enable()
        if changed:
            self.changed.emit(changed)
        return changed

    def _refresh(self) -> set[str]:
        graph = self.graph
        changed: set[str] = set(self._removed)
        self._removed.clear()
        if self._order_dirty:
            self._recompute_order()
        if self._globals_dirty:
            self._globals_dirty = False
            new_global = tuple(self._structure_diagnostics())
            if new_global != self._global:
                changed.update(d.node_id for d in set(new_global) ^ set(self._global) if d.node_id)
                self._global = new_global

        processed = self._propagate(changed)

        anchors: Iterable[str]
        if self._relint_all:
            anchors = list(graph.nodes)
        else:
            anchors = processed | _downstream_within(graph, self._relint_from, LINT_RADIUS)
        self._relint_all = False
        self._relint_from.clear()
        if self._relint_outputs:  # which Output the loss judges may have changed
            self._relint_outputs = False
            anchors = set(anchors) | {n.id for n in graph.nodes_of_type("Output")}
        inputs_of = self.inputs
        n_outputs = self._type_count.get("Output", 0)
        for nid in anchors:
            if nid not in graph.nodes:
                continue
            new_l = tuple(lint_node(graph, nid, inputs_of, self._facts, n_outputs))
            if new_l != self._lints.get(nid, ()):
                changed.add(nid)
                if new_l:
                    self._lints[nid] = new_l
                else:
                    self._lints.pop(nid, None)
        self._global_lints = tuple(lint_global(self.totals(), self._facts))
        return changed

    def _propagate(self, changed: set[str]) -> set[str]:
        graph = self.graph
        nodes = graph.nodes
        states = self._states
        rank = self._rank
        blocked = self._blocked
        succ = succ_of(graph)
        upstream = states.get
        processed: set[str] = set()
        heap: list[tuple[float, str]] = []
        queued: set[str] = set()
        for nid in self._dirty:
            if nid not in nodes:
                continue
            if nid in blocked:
                self._store(nid, self._evaluate(nodes[nid], True), changed)
                processed.add(nid)
            else:
                heap.append((rank[nid], nid))
                queued.add(nid)
        self._dirty.clear()
        heapq.heapify(heap)
        while heap:
            _, nid = heapq.heappop(heap)
            queued.discard(nid)
            old = upstream(nid)
            new = self._evaluate(nodes[nid], False)
            self._store(nid, new, changed)
            processed.add(nid)
            if old is None or new.signature() != old.signature():
                for s in succ[nid]:
                    if s not in queued and s not in blocked:
                        queued.add(s)
                        heapq.heappush(heap, (rank[s], s))
        return processed

    def _evaluate(self, node: Node, blocked: bool) -> NodeState:
        self.evaluations += 1
        old = self._states.get(node.id)
        spec: LayerSpec | None
        spec_diag: Diagnostic | None
        if old is not None and old.spec is not None:
            spec, spec_diag = old.spec, None  # a node's type never changes: keep the looked-up spec
        else:
            spec, spec_diag = spec_or_error(node)
        return evaluate_node(self.graph, node, spec, spec_diag, self._states.get, blocked)

    def _store(self, nid: str, new: NodeState, changed: set[str]) -> None:
        old = self._states.get(nid)
        if old is not None:
            self._account(old, -1)
            if old.outputs != new.outputs or old.diags != new.diags or old.stats != new.stats:
                changed.add(nid)
        else:
            changed.add(nid)
        self._states[nid] = new
        self._account(new, 1)

    def _account(self, st: NodeState, sign: int) -> None:
        s = st.stats
        acc = self._sum
        acc[0] += sign * s.params
        acc[1] += sign * s.trainable
        acc[2] += sign * s.frozen
        acc[3] += sign * s.macs
        acc[4] += sign * s.activation_bytes
        if st.diags:
            self._node_errors += sign * sum(1 for d in st.diags if d.severity == "error")

    # ----------------------------------------------------------- graph order
    def _slide(self, nid: str) -> bool:
        """Give `nid` a rank strictly between its predecessors' and its successors' ranks, if there is room.
        Ranks are floats, so this fixes the common "wire a new node in front of an old one" in O(degree)
        instead of a full re-sort; when the gap gets too narrow, the caller falls back to re-sorting."""
        rank = self._rank
        preds, succs = pred_of(self.graph)[nid], succ_of(self.graph)[nid]
        if nid in preds:
            return False  # a self-loop: the re-sort reports it as a cycle
        lo = max((rank[p] for p in preds), default=None)
        hi = min((rank[s] for s in succs), default=None)
        if hi is None:
            if lo is None:
                return True
            new = lo + 1.0
        elif lo is None:
            new = hi - 1.0
        elif hi - lo > 1e-6:
            new = (lo + hi) / 2.0
        else:
            return False
        rank[nid] = new
        self._next_rank = max(self._next_rank, new + 1.0)
        return True

    def _recompute_order(self) -> None:
        """Kahn's algorithm over the whole graph: fresh ranks; nodes never freed are on or after a cycle."""
        self._order_dirty = False
        graph = self.graph
        pred, succ = pred_of(graph), succ_of(graph)
        indeg = {nid: len(pred[nid]) for nid in graph.nodes}
        ready = deque(nid for nid, d in indeg.items() if d == 0)
        rank: dict[str, float] = {}
        while ready:
            nid = ready.popleft()
            rank[nid] = len(rank)
            for s in succ[nid]:
                indeg[s] -= 1
                if indeg[s] == 0:
                    ready.append(s)
        blocked = {nid for nid in graph.nodes if nid not in rank}
        for nid in blocked ^ self._blocked:
            if nid in graph.nodes:
                self._dirty.add(nid)
        if blocked or blocked != self._blocked:
            self._globals_dirty = True  # the loops (and so their messages) may have changed
        self._blocked = blocked
        self._next_rank = float(len(rank))
        for nid in blocked:  # blocked nodes still need a rank slot for when the cycle is broken
            rank[nid] = self._next_rank
            self._next_rank += 1
        self._rank = rank

    # ------------------------------------------------- whole-graph diagnostics
    def _structure_diagnostics(self) -> list[Diagnostic]:
        from .structure import cycle_diagnostics, group_diagnostics

        out: list[Diagnostic] = []
        if not self._type_count.get("Input"):
            out.append(
                Diagnostic(
                    "error",
                    D.NO_INPUT,
                    "The graph has no Input node: add an Input with the shape of "
                    "one sample and wire it into the first layer",
                )
            )
        if not self._type_count.get("Output"):
            out.append(
                Diagnostic(
                    "error", D.NO_OUTPUT, "The graph has no Output node: add an Output and wire the last layer into it"
                )
            )
        if self._blocked:
            out.extend(cycle_diagnostics(self.graph, self._blocked))
        if self.graph.groups:
            # ranks bound the searches only while they are a true topological order (no cycles)
            out.extend(group_diagnostics(self.graph, None if self._blocked else self._rank))
        return out

    # ---------------------------------------------------------------- queries
    def state(self, node_id: str) -> NodeState | None:
        return self._states.get(node_id)

    def outputs(self, node_id: str) -> list[TensorInfo] | None:
        st = self._states.get(node_id)
        return None if st is None or st.outputs is None else list(st.outputs)

    def inputs(self, node_id: str) -> list[TensorInfo | None] | None:
        st = self._states.get(node_id)
        return None if st is None or st.inputs is None else list(st.inputs)

    def params(self, node_id: str) -> dict[str, Any] | None:
        """The node's resolved (validated, defaults filled in) parameters, or None when they are invalid."""
        st = self._states.get(node_id)
        return None if st is None or st.params is None else dict(st.params)

    def edge_shape(self, edge: Edge) -> TensorInfo | None:
        st = self._states.get(edge.src)
        if st is None or st.outputs is None:
            return None
        i = st.ports.get(edge.src_port)
        return st.outputs[i] if i is not None and i < len(st.outputs) else None

    def diagnostics_for(self, node_id: str) -> list[Diagnostic]:
        st = self._states.get(node_id)
        out = list(st.diags) if st is not None else []
        out.extend(d for d in self._global if d.node_id == node_id)
        out.extend(self._lints.get(node_id, ()))
        return out

    def diagnostics(self) -> list[Diagnostic]:
        """Every diagnostic: errors first, then warnings; within each, whole-graph ones, then in node order."""
        order = {nid: i for i, nid in enumerate(self.graph.nodes)}
        items: list[Diagnostic] = list(self._global) + list(self._global_lints)
        for st in self._states.values():
            items.extend(st.diags)
        for lints in self._lints.values():
            items.extend(lints)
        return sorted(
            items,
            key=lambda d: (
                _SEVERITY_ORDER[d.severity],
                -1 if d.node_id is None else order.get(d.node_id, len(order)),
                d.code,
                d.message,
            ),
        )

    def has_errors(self) -> bool:
        return self._node_errors > 0 or any(d.severity == "error" for d in self._global)

    def stats(self, node_id: str) -> NodeStats:
        st = self._states.get(node_id)
        return st.stats if st is not None else NodeStats(node_id)

    def totals(self) -> Totals:
        p, t, f, m, a = self._sum
        return Totals(
            params=p,
            trainable=t,
            frozen=f,
            macs=m,
            activation_bytes=a,
            node_count=len(self.graph),
            ok=not self.has_errors(),
        )

    def memory_estimate(self, batch_size: int, optimizer: str = "adam") -> MemoryEstimate:
        return memory_estimate(self.totals(), batch_size, optimizer)


def _downstream_within(graph: ModelGraph, starts: Iterable[str], radius: int) -> set[str]:
    """Nodes reachable from `starts` (included) in at most `radius` wires."""
    succ = succ_of(graph)
    seen = {s for s in starts if s in graph.nodes}
    frontier = list(seen)
    for _ in range(radius):
        nxt = []
        for nid in frontier:
            for s in succ[nid]:
                if s not in seen:
                    seen.add(s)
                    nxt.append(s)
        if not nxt:
            break
        frontier = nxt
    return seen


__all__ = ["AnalysisEngine", "Diagnostic", "MemoryEstimate", "NodeStats", "Totals"]
