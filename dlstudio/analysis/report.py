"""check_graph: one full analysis as a plain report (what `dls.check` and `dlstudio check` return)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ..core.graph import ModelGraph
from ..core.tensor import TensorInfo
from .blocks import BlockSummary, block_summaries, format_block_tree
from .diagnostics import (
    Diagnostic,
    MemoryEstimate,
    NodeStats,
    Totals,
    human_bytes,
    human_count,
    memory_estimate,
    tensor_dict,
)
from .engine import AnalysisEngine
from .lints import TrainingFacts, training_facts


@dataclass
class CheckReport:
    """Diagnostics, inferred shapes and statistics of one graph.

    shapes: node id -> output tensors (None where they could not be inferred); stats: node id -> NodeStats.
    """

    diagnostics: list[Diagnostic]
    shapes: dict[str, list[TensorInfo] | None]
    stats: dict[str, NodeStats]
    totals: Totals
    rows: list[dict[str, Any]] = field(default_factory=list)  # the summary table: one dict per node
    facts: TrainingFacts = field(default_factory=TrainingFacts)
    blocks: list[BlockSummary] = field(default_factory=list)  # nested blocks, parents first, numbers summed deep

    @property
    def errors(self) -> list[Diagnostic]:
        return [d for d in self.diagnostics if d.severity == "error"]

    @property
    def warnings(self) -> list[Diagnostic]:
        return [d for d in self.diagnostics if d.severity == "warning"]

    @property
    def ok(self) -> bool:
        return not self.errors

    def for_node(self, node_id: str) -> list[Diagnostic]:
        return [d for d in self.diagnostics if d.node_id == node_id]

    def codes(self) -> list[str]:
        return [d.code for d in self.diagnostics]

    def memory_estimate(self, batch_size: int, optimizer: str = "adam") -> MemoryEstimate:
        return memory_estimate(self.totals, batch_size, optimizer)

    def to_dict(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "errors": len(self.errors),
            "warnings": len(self.warnings),
            "diagnostics": [d.to_dict() for d in self.diagnostics],
            "nodes": self.rows,
            "totals": self.totals.to_dict(),
            "blocks": [b.to_dict() for b in self.blocks],
        }

    def format_table(self, *, diagnostics: bool = True) -> str:
        """A plain-text summary: diagnostics, then layer / type / output shape / params / MACs, then totals."""
        lines: list[str] = []
        if diagnostics:
            for d in self.diagnostics:
                where = (
                    f" [{d.node_id}{'.' + d.port if d.port else ''}{' ' + d.param if d.param else ''}]"
                    if d.node_id
                    else ""
                )
                lines.append(f"{d.severity.upper():7}{where} {d.message} ({d.code})")
            if self.diagnostics:
                lines.append("")
        header = ("layer", "type", "output shape", "params", "MACs")
        body = [
            (r["label"], r["type"], r["output"], _count(r["params"], r["frozen"]), human_count(r["macs"]))
            for r in self.rows
        ]
        t = self.totals
        foot = (
            "total",
            f"{t.node_count} nodes",
            f"act {human_bytes(t.activation_bytes)}/sample",
            _count(t.params, t.frozen),
            human_count(t.macs),
        )
        widths = [max(len(str(row[i])) for row in [header, *body, foot]) for i in range(5)]

        def fmt(row: tuple[str, ...]) -> str:
            cells = [str(c).ljust(w) if i < 3 else str(c).rjust(w) for i, (c, w) in enumerate(zip(row, widths))]
            return "  ".join(cells).rstrip()

        rule = "  ".join("-" * w for w in widths)
        lines += [fmt(header), rule, *(fmt(r) for r in body), rule, fmt(foot)]
        lines.append(
            f"{t.params:,} parameters ({t.trainable:,} trainable, {t.frozen:,} frozen), "
            f"{t.macs:,} MACs per sample; {len(self.errors)} error(s), {len(self.warnings)} warning(s)"
        )
        if self.blocks:
            lines += ["", format_block_tree(self.blocks)]
        return "\n".join(lines)


def _count(params: int, frozen: int) -> str:
    return f"{params:,}" + (f" ({frozen:,} frozen)" if frozen else "")


def check_graph(
    graph: ModelGraph,
    *,
    training: Any = None,
    data: Any = None,
    loss: str | None = None,
    num_classes: int | None = None,
    num_rows: int | None = None,
    facts: TrainingFacts | None = None,
) -> CheckReport:
    """Analyse `graph` from scratch. `training`/`data`: a project's sections (or config objects, e.g. the
    training engine's TaskInfo) for the lints that depend on the loss, class count and row count; the keyword
    arguments override what they say, and `facts` replaces all of them."""
    if facts is None:
        facts = training_facts(training, data, loss=loss, num_classes=num_classes, num_rows=num_rows)
    eng = AnalysisEngine(graph, facts=facts)
    try:
        return report_from_engine(eng)
    finally:
        eng.close()


def report_from_engine(eng: AnalysisEngine) -> CheckReport:
    graph = eng.graph
    shapes: dict[str, list[TensorInfo] | None] = {}
    stats: dict[str, NodeStats] = {}
    rows: list[dict[str, Any]] = []
    for nid, node in graph.nodes.items():
        outs = eng.outputs(nid)
        shapes[nid] = outs
        st = eng.stats(nid)
        stats[nid] = st
        if outs is None:
            shown = "?"
        elif not outs:
            ins = eng.inputs(nid) or []
            shown = str(ins[0]) if ins and ins[0] is not None else "-"
        else:
            shown = ", ".join(str(t) for t in outs)
        rows.append(
            {
                "id": nid,
                "label": node.label,
                "type": node.type,
                "output": shown,
                "outputs": [tensor_dict(t) for t in outs] if outs is not None else None,
                "params": st.params,
                "trainable": st.trainable,
                "frozen": st.frozen,
                "macs": st.macs,
                "activation_bytes": st.activation_bytes,
            }
        )
    return CheckReport(
        diagnostics=eng.diagnostics(),
        shapes=shapes,
        stats=stats,
        totals=eng.totals(),
        rows=rows,
        facts=eng.facts,
        blocks=block_summaries(graph, stats, eng.edge_shape) if graph.groups else [],
    )
