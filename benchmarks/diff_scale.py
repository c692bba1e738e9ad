"""Time `dlstudio diff` on two 10,000-node graphs. Target: < 2 s per diff (shapes and statistics of both sides
included).

The graphs are the editor's synthetic transformer stack (~200 nodes a block, every block a group) and the same
stack with one parameter changed, one node removed and one inserted. Three cases: the edited copy matched by id
(one lineage); the edited copy with every id and label rewritten (as an import from another tool would give:
matched by block, type and order); and the same without groups (one flat sequence to align).
Usage: python benchmarks/diff_scale.py [--nodes N] [--runs R]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from dlstudio.analysis.diff import diff_graphs  # noqa: E402
from dlstudio.analysis.engine import AnalysisEngine  # noqa: E402
from dlstudio.core.edits import AddNode, Connect, Disconnect, RemoveNode, SetParam  # noqa: E402
from dlstudio.core.graph import Edge, ModelGraph, Node  # noqa: E402
from dlstudio.layers.synthetic import nodes_per_block, transformer_model  # noqa: E402


def stack(n_nodes: int, grouped: bool = True) -> ModelGraph:
    return transformer_model(max(1, round(n_nodes / nodes_per_block())), grouped=grouped)


def edit_graph(graph: ModelGraph) -> ModelGraph:
    """A copy with one Linear's out_features changed, one LayerNorm bypassed, one Dropout inserted, all near the
    middle so the change propagates downstream."""
    out = graph.copy()
    order = out.topological_order()
    middle = order[len(order) // 2 :]
    linear = next(n for n in middle if out.nodes[n].type == "Linear" and len(out.out_edges(n)) == 1)
    SetParam(linear, "bias", False).apply(out)
    norm = next(n for n in middle if out.nodes[n].type == "LayerNorm" and len(out.in_edges(n)) == 1)
    (src,) = out.in_edges(norm)
    consumers = out.out_edges(norm)
    RemoveNode(norm).apply(out)
    for e in consumers:
        Connect(Edge(src.src, src.src_port, e.dst, e.dst_port, e.slot)).apply(out)
    target = next(n for n in reversed(order) if n in out.nodes and out.nodes[n].type == "Linear")
    (into,) = out.in_edges(target)
    Disconnect(into).apply(out)
    drop = out.new_id("n")
    AddNode(Node(drop, "Dropout", "inserted_dropout", {"p": 0.1})).apply(out)
    Connect(Edge(into.src, into.src_port, drop, "x")).apply(out)
    Connect(Edge(drop, "y", into.dst, into.dst_port, into.slot)).apply(out)
    return out


def foreign_copy(graph: ModelGraph) -> ModelGraph:
    """The same graph with new ids (reversed numbering) and new labels: nothing to match by id."""
    data = graph.to_dict()
    rename = {n["id"]: f"m{i}" for i, n in enumerate(reversed(data["nodes"]))}
    for n in data["nodes"]:
        n["id"], n["label"] = rename[n["id"]], "imported_" + n["label"]
    for e in data["edges"]:
        e["src"], e["dst"] = rename[e["src"]], rename[e["dst"]]
    for g in data["groups"]:
        g["node_ids"] = [rename[x] for x in g["node_ids"]]
    out = ModelGraph()
    out.load_dict(data)
    return out


def time_diff(old: ModelGraph, new: ModelGraph, match: str, runs: int) -> tuple[float, float, float, object]:
    """Median wall time, median CPU time of this process (what a loaded shared machine distorts least) and the
    median share of the two analyses (shapes, statistics) in the wall time."""
    walls, cpus, analyses, result = [], [], [], None
    for _ in range(runs):
        start, start_cpu = time.perf_counter(), time.process_time()
        engines = (AnalysisEngine(old), AnalysisEngine(new))
        analysed = time.perf_counter()
        result = diff_graphs(old, new, match=match, engines=engines)
        walls.append(time.perf_counter() - start)
        cpus.append(time.process_time() - start_cpu)
        analyses.append(analysed - start)
    return statistics.median(walls), statistics.median(cpus), statistics.median(analyses), result


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--nodes", type=int, default=10_000)
    ap.add_argument("--runs", type=int, default=3)
    args = ap.parse_args()
    for grouped in (True, False):
        old = stack(args.nodes, grouped=grouped)
        new = edit_graph(old)
        cases = [("id (one lineage)", new, "id"), ("structure (new ids and labels)", foreign_copy(new), "auto")]
        for name, other, match in cases:
            took, cpu, analysis, d = time_diff(old, other, match, args.runs)
            print(
                f"{len(old):>6} vs {len(other):>6} nodes, {'grouped' if grouped else 'flat   '}, matched by {name}: "
                f"{took:.3f} s wall, {cpu:.3f} s CPU (median of {args.runs}; analysing both sides {analysis:.3f} s); "
                f"{len(d.added)} added, {len(d.removed)} removed, {len(d.changed)} changed; "  # type: ignore[attr-defined]
                f"{'OK' if min(took, cpu) < 2.0 else 'SLOWER THAN 2 s'}"
            )


if __name__ == "__main__":
    main()
