"""The analysis engine the window observes.

Uses `dlstudio.analysis.engine.AnalysisEngine` (incremental). When that module is not installed, a small
full-recompute stand-in with the same methods keeps the window usable (it is slower on big graphs).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ..core.graph import Edge, ModelGraph
from ..core.signals import Signal
from ..core.tensor import TensorInfo


@dataclass(frozen=True)
class SimpleDiagnostic:
    severity: str
    code: str
    message: str
    node_id: str | None = None
    port: str | None = None
    param: str | None = None


@dataclass
class SimpleStats:
    outputs: list[TensorInfo]
    params: int
    trainable: int
    frozen: int
    macs: int
    activation_bytes: int


@dataclass
class SimpleTotals:
    params: int = 0
    trainable: int = 0
    frozen: int = 0
    macs: int = 0
    activation_bytes: int = 0
    nodes: int = 0
    ok: bool = True


@dataclass
class SimpleMemory:
    total_bytes: int
    params_bytes: int
    grads_bytes: int
    optimizer_bytes: int
    activations_bytes: int


class FallbackEngine:
    """Full re-inference on each refresh, through `dlstudio.analysis.shapes.infer_all`."""

    def __init__(self, graph: ModelGraph) -> None:
        self.graph = graph
        self.changed = Signal()
        self._result: Any = None
        self._stats: dict[str, SimpleStats] = {}
        self._diags: list[SimpleDiagnostic] = []
        self.refresh()

    def refresh(self) -> set[str]:
        from ..analysis.shapes import infer_all, spec_of
        old = self._result
        res = infer_all(self.graph)
        diags: list[SimpleDiagnostic] = []
        if self.graph.has_cycle():
            diags.append(SimpleDiagnostic("error", "cycle", "The graph has a cycle: remove one of its wires"))
        for nid, exc in res.errors.items():
            diags.append(SimpleDiagnostic("error", type(exc).__name__, str(exc), nid,
                                          getattr(exc, "port", None), getattr(exc, "param", None)))
        stats: dict[str, SimpleStats] = {}
        for nid, node in self.graph.nodes.items():
            outs = res.outputs.get(nid)
            n_params = macs = 0
            if outs is not None:
                spec = spec_of(node)
                try:
                    n_params = int(spec.param_count(res.params[nid], res.inputs[nid]))
                    macs = int(spec.macs(res.params[nid], res.inputs[nid], outs))
                except Exception:  # a stats rule must not take the editor down
                    pass
            act = sum(4 * t.numel_per_sample() for t in outs or [] if all(isinstance(d, int) for d in t.shape[1:]))
            stats[nid] = SimpleStats(list(outs or []), n_params, 0 if node.frozen else n_params,
                                     n_params if node.frozen else 0, macs, act)
        changed: set[str] = set()
        for nid in self.graph.nodes:
            if old is None or old.outputs.get(nid) != res.outputs.get(nid) or \
                    str(old.errors.get(nid)) != str(res.errors.get(nid)):
                changed.add(nid)
        self._result, self._stats, self._diags = res, stats, diags
        if changed:
            self.changed.emit(changed)
        return changed

    def outputs(self, node_id: str) -> list[TensorInfo] | None:
        return self._result.outputs.get(node_id)

    def edge_shape(self, edge: Edge) -> TensorInfo | None:
        from ..analysis.ports import output_index
        from ..analysis.shapes import spec_of
        outs = self._result.outputs.get(edge.src)
        if outs is None or edge.src not in self.graph:
            return None
        i = output_index(self.graph, spec_of, edge)
        return outs[i] if 0 <= i < len(outs) else None

    def diagnostics(self) -> list[SimpleDiagnostic]:
        return list(self._diags)

    def diagnostics_for(self, node_id: str) -> list[SimpleDiagnostic]:
        return [d for d in self._diags if d.node_id == node_id]

    def stats(self, node_id: str) -> SimpleStats:
        return self._stats.get(node_id) or SimpleStats([], 0, 0, 0, 0, 0)

    def totals(self) -> SimpleTotals:
        t = SimpleTotals(nodes=len(self.graph), ok=not any(d.severity == "error" for d in self._diags))
        for s in self._stats.values():
            t.params += s.params
            t.trainable += s.trainable
            t.frozen += s.frozen
            t.macs += s.macs
            t.activation_bytes += s.activation_bytes
        return t

    def memory_estimate(self, batch_size: int, optimizer: str = "adam") -> SimpleMemory:
        t = self.totals()
        slots = {"adam": 2, "adamw": 2, "nadam": 2, "sgd_momentum": 1, "rmsprop": 1, "adagrad": 1}.get(optimizer, 0)
        p = 4 * t.params
        g = 4 * t.trainable
        o = slots * 4 * t.trainable
        a = t.activation_bytes * batch_size * 2  # forward values kept for backward
        return SimpleMemory(p + g + o + a, p, g, o, a)


def make_engine(graph: ModelGraph) -> Any:
    """The incremental engine when installed, else the stand-in."""
    try:
        from ..analysis.engine import AnalysisEngine
        return AnalysisEngine(graph)
    except Exception:  # not installed, or a broken build of it: the window must still open
        return FallbackEngine(graph)


def stat_value(obj: Any, *names: str, default: Any = 0) -> Any:
    """Reads the first attribute present: the engine's stat objects are duck-typed here so that small
    naming differences between engine versions do not break the window."""
    for n in names:
        if hasattr(obj, n):
            return getattr(obj, n)
    return default
