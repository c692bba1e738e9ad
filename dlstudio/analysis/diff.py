"""Structural diff of two model graphs: which nodes were added, removed or changed, which wires moved, and what
that did to shapes, parameter counts and MACs downstream.

Nodes are matched by id when the two graphs share a lineage (a copy, a Save As, a template and the project made
from it keep their ids). Otherwise they are matched by hierarchy and order: the blocks (groups, or the module path
an importer wrote into the labels) are aligned by name in topological order, then the nodes inside each pair of
blocks by (type, label) and, in what is left, by type alone: a sequence alignment (difflib), never a graph edit
distance, so two 10,000-node graphs diff in well under a second. Pure Python: shapes and statistics come from the
analysis engine, so this module runs without torch.
"""

from __future__ import annotations

import heapq
from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass, field
from difflib import SequenceMatcher
from typing import Any

from ..core.graph import Edge, ModelGraph, Node
from ..core.tensor import TensorInfo
from .engine import AnalysisEngine
from .evaluate import pred_of, succ_of

TOP = ""  # the block of nodes outside every group
LINEAGE_SHARE = 0.5  # share of ids (with the same type and label) above which two graphs count as one lineage
UNRELATED_BELOW = 0.5  # similarity under which the report summarises instead of listing every node
_GAP_LIMIT = 1_000_000  # len(a) * len(b) above which one gap is aligned window by window
_WINDOW = 400
_SMALL_GAP = 2_500  # an unmatched stretch this small (len(a) * len(b)) left by the banded alignment is retried


@dataclass(frozen=True)
class NodeRef:
    """One node as the report names it: the id in its own graph, label, type and block."""

    id: str
    label: str
    type: str
    block: str

    def to_dict(self) -> dict[str, str]:
        return {"id": self.id, "label": self.label, "type": self.type, "block": self.block}


@dataclass(frozen=True)
class NodeChange:
    """A matched node whose parameters, frozen flag or block differ (label-only changes are `renamed`)."""

    old: NodeRef
    new: NodeRef
    params: tuple[tuple[str, Any, Any], ...] = ()  # (name, old, new)
    frozen: tuple[bool, bool] | None = None
    block: tuple[str, str] | None = None

    def describe(self) -> list[str]:
        out = [f"{name}: {_show(old)} -> {_show(new)}" for name, old, new in self.params]
        if self.frozen is not None:
            out.append(f"frozen: {self.frozen[0]} -> {self.frozen[1]}")
        if self.block is not None:
            out.append(f"block: {self.block[0] or '(top level)'} -> {self.block[1] or '(top level)'}")
        return out

    def to_dict(self) -> dict[str, Any]:
        return {
            "old": self.old.to_dict(),
            "new": self.new.to_dict(),
            "params": [{"name": n, "old": _jsonable(o), "new": _jsonable(v)} for n, o, v in self.params],
            "frozen": list(self.frozen) if self.frozen else None,
            "block": list(self.block) if self.block else None,
        }


@dataclass(frozen=True)
class Rewire:
    """An input of a node present on both sides that is now fed from somewhere else."""

    node: NodeRef  # on the new side
    port: str
    slot: int
    old_source: str | None  # "label.port" (or None: was unwired)
    new_source: str | None

    def describe(self) -> str:
        return f"{self.node.label}.{self.port}: {self.old_source or '(unwired)'} -> {self.new_source or '(unwired)'}"

    def to_dict(self) -> dict[str, Any]:
        return {
            "node": self.node.to_dict(),
            "port": self.port,
            "slot": self.slot,
            "old_source": self.old_source,
            "new_source": self.new_source,
        }


@dataclass(frozen=True)
class ShapeChange:
    """A matched node whose output shapes differ: the consequence of a change upstream (or of its own)."""

    node: NodeRef
    old: str
    new: str

    def to_dict(self) -> dict[str, Any]:
        return {"node": self.node.to_dict(), "old": self.old, "new": self.new}


@dataclass(frozen=True)
class CountDelta:
    """Parameter count and MACs of one node on each side (0 for a side it is missing from)."""

    node: NodeRef
    params_old: int
    params_new: int
    macs_old: int
    macs_new: int

    def to_dict(self) -> dict[str, Any]:
        return {
            "node": self.node.to_dict(),
            "params": [self.params_old, self.params_new],
            "macs": [self.macs_old, self.macs_new],
        }


@dataclass
class GraphDiff:
    """Everything that differs between graph A (old) and graph B (new)."""

    matched_by: str  # "id" or "structure"
    nodes_old: int
    nodes_new: int
    matches: dict[str, str]  # A id -> B id
    added: list[NodeRef] = field(default_factory=list)
    removed: list[NodeRef] = field(default_factory=list)
    changed: list[NodeChange] = field(default_factory=list)
    renamed: list[tuple[NodeRef, NodeRef]] = field(default_factory=list)
    rewired: list[Rewire] = field(default_factory=list)
    shapes: list[ShapeChange] = field(default_factory=list)
    counts: list[CountDelta] = field(default_factory=list)
    params: tuple[int, int] = (0, 0)
    macs: tuple[int, int] = (0, 0)
    block_order: list[str] = field(default_factory=list)
    type_counts: tuple[dict[str, int], dict[str, int]] = ({}, {})
    notes: list[str] = field(default_factory=list)

    @property
    def same(self) -> bool:
        """No structural change: labels, positions and notes do not count."""
        return not (self.added or self.removed or self.changed or self.rewired)

    @property
    def similarity(self) -> float:
        """Share of nodes matched without a change (1.0: the same structure)."""
        total = self.nodes_old + self.nodes_new
        unchanged = len(self.matches) - len(self.changed)
        return 1.0 if total == 0 else 2.0 * unchanged / total

    @property
    def unrelated(self) -> bool:
        return self.matched_by == "structure" and self.similarity < UNRELATED_BELOW

    def changes_by_block(self) -> dict[str, int]:
        """Block -> number of added, removed and changed nodes in it (what a collapsed block's badge says)."""
        out: dict[str, int] = {}
        for ref in [*self.added, *self.removed, *(c.new for c in self.changed)]:
            out[ref.block] = out.get(ref.block, 0) + 1
        return out

    def to_dict(self) -> dict[str, Any]:
        return {
            "same": self.same,
            "matched_by": self.matched_by,
            "similarity": round(self.similarity, 4),
            "nodes": [self.nodes_old, self.nodes_new],
            "params": list(self.params),
            "macs": list(self.macs),
            "added": [r.to_dict() for r in self.added],
            "removed": [r.to_dict() for r in self.removed],
            "changed": [c.to_dict() for c in self.changed],
            "renamed": [{"old": a.to_dict(), "new": b.to_dict()} for a, b in self.renamed],
            "rewired": [r.to_dict() for r in self.rewired],
            "shapes": [s.to_dict() for s in self.shapes],
            "counts": [c.to_dict() for c in self.counts],
            "changes_by_block": self.changes_by_block(),
            "type_counts": [dict(sorted(self.type_counts[0].items())), dict(sorted(self.type_counts[1].items()))],
            "notes": list(self.notes),
        }


# --------------------------------------------------------------------------------------------- hierarchy
def block_of(graph: ModelGraph, node: Node) -> str:
    """The node's block: its innermost group's path name (see `block_path_name`), or the module path an importer
    wrote into an ONNX-style label ("/layer1/0/conv1/Conv" sits in block "layer1/0"), or TOP."""
    if node.group is not None and node.group in graph.groups:
        return block_path_name(graph, node.group)
    if node.label.startswith("/"):
        parts = [p for p in node.label.split("/") if p]
        return "/".join(parts[:-2])
    return TOP


def block_path_name(graph: ModelGraph, group_id: str) -> str:
    """A nested block's name with its ancestors': 'encoder' > 'block' is "encoder.block". Labels that already
    spell their path (imports label blocks 'layer1' > 'layer1.0') are not repeated: that one is "layer1.0"."""
    name = ""
    for gid in graph.group_path(group_id):
        label = graph.groups[gid].label
        name = label if not name or label == name or label.startswith(name + ".") else f"{name}.{label}"
    return name


def _match_name(node: Node) -> str:
    """The label as comparable across formats: an ONNX-style label is named by its module ("/a/conv1/Conv" ->
    "conv1"), separators and case ignored."""
    label = node.label
    if label.startswith("/"):
        parts = [p for p in label.split("/") if p]
        label = parts[-2] if len(parts) >= 2 else (parts[-1] if parts else "")
    return label.replace(".", "_").lower()


# --------------------------------------------------------------------------------------------- matching
def lineage_share(a: ModelGraph, b: ModelGraph) -> float:
    """Share of the smaller graph's nodes whose id exists on the other side with the same type and label."""
    if not len(a) or not len(b):
        return 0.0
    common = sum(1 for nid, n in a.nodes.items() if (m := b.nodes.get(nid)) and m.type == n.type and m.label == n.label)
    return common / min(len(a), len(b))


def match_by_id(a: ModelGraph, b: ModelGraph) -> dict[str, str]:
    return {nid: nid for nid, n in a.nodes.items() if nid in b.nodes and b.nodes[nid].type == n.type}


def _block_key(block: str) -> str:
    """Block names as comparable across formats: "layer1/0", "layer1.0" and "layer1_0" are one block."""
    return block.replace("/", ".").replace("_", ".").lower()


def _blocks_in_order(graph: ModelGraph, order: list[str]) -> dict[str, list[str]]:
    blocks: dict[str, list[str]] = {}
    for nid in order:
        blocks.setdefault(block_of(graph, graph.nodes[nid]), []).append(nid)
    return blocks


def _align(
    a_ids: Sequence[str], b_ids: Sequence[str], key_a: Callable[[str], Hashable], key_b: Callable[[str], Hashable]
) -> tuple[list[tuple[str, str]], list[tuple[list[str], list[str]]]]:
    """Pairs matched by equal keys in order, and the unmatched gaps between them (a part, b part)."""
    ka, kb = [key_a(x) for x in a_ids], [key_b(x) for x in b_ids]
    pairs: list[tuple[str, str]] = []
    gaps: list[tuple[list[str], list[str]]] = []
    for tag, i1, i2, j1, j2 in SequenceMatcher(None, ka, kb, autojunk=False).get_opcodes():
        if tag == "equal":
            pairs.extend(zip(a_ids[i1:i2], b_ids[j1:j2]))
        else:
            gaps.append((list(a_ids[i1:i2]), list(b_ids[j1:j2])))
    return pairs, gaps


def _align_nodes(a: ModelGraph, b: ModelGraph, a_ids: list[str], b_ids: list[str]) -> list[tuple[str, str]]:
    """Nodes of one pair of blocks: first by (type, label), then what is left between those anchors by type."""
    pairs, gaps = _align(
        a_ids,
        b_ids,
        lambda x: (a.nodes[x].type, _match_name(a.nodes[x])),
        lambda x: (b.nodes[x].type, _match_name(b.nodes[x])),
    )
    type_a, type_b = (lambda x: a.nodes[x].type), (lambda x: b.nodes[x].type)
    pa, pb, sa, sb = pred_of(a), pred_of(b), succ_of(a), succ_of(b)
    wired_a = lambda x: (a.nodes[x].type, len(pa[x]), len(sa[x]))  # noqa: E731
    wired_b = lambda x: (b.nodes[x].type, len(pb[x]), len(sb[x]))  # noqa: E731
    for ga, gb in gaps:
        if ga and gb and len(ga) * len(gb) <= _GAP_LIMIT:
            pairs.extend(_align(ga, gb, type_a, type_b)[0])
        elif ga and gb:  # long runs of a few layer types: the wiring makes the keys less ambiguous
            banded = _align_banded(ga, gb, wired_a, wired_b)
            pairs.extend(banded)
            pairs.extend(_fill_small_gaps(ga, gb, banded, type_a, type_b))
    return pairs


def _fill_small_gaps(
    a_ids: list[str],
    b_ids: list[str],
    pairs: list[tuple[str, str]],
    key_a: Callable[[str], Hashable],
    key_b: Callable[[str], Hashable],
) -> list[tuple[str, str]]:
    """Between consecutive matched pairs, short unmatched stretches aligned by `key` (a node whose wiring
    changed next to an edit keeps its type)."""
    pos_a = {x: i for i, x in enumerate(a_ids)}
    pos_b = {x: i for i, x in enumerate(b_ids)}
    bounds = [(-1, -1)] + sorted((pos_a[x], pos_b[y]) for x, y in pairs) + [(len(a_ids), len(b_ids))]
    out: list[tuple[str, str]] = []
    for (i0, j0), (i1, j1) in zip(bounds, bounds[1:]):
        ga, gb = a_ids[i0 + 1 : i1], b_ids[j0 + 1 : j1]
        if ga and gb and len(ga) * len(gb) <= _SMALL_GAP:
            out.extend(_align(ga, gb, key_a, key_b)[0])
    return out


def _align_banded(
    a_ids: list[str], b_ids: list[str], key_a: Callable[[str], Hashable], key_b: Callable[[str], Hashable]
) -> list[tuple[str, str]]:
    """A long gap (a large flat graph whose labels all differ) aligned window by window along the topological
    order: each window's matches are kept up to three quarters of it, and the next window starts after the last
    kept pair, so an insertion only shifts the band instead of costing a quadratic alignment."""
    pos_a = {x: i for i, x in enumerate(a_ids)}
    pos_b = {x: i for i, x in enumerate(b_ids)}
    pairs: list[tuple[str, str]] = []
    i = j = 0
    while i < len(a_ids) and j < len(b_ids):
        last = i + _WINDOW >= len(a_ids) or j + _WINDOW >= len(b_ids)
        found, _ = _align(a_ids[i : i + _WINDOW], b_ids[j : j + _WINDOW], key_a, key_b)
        if last:
            pairs.extend(found)
            break
        cut = _WINDOW * 3 // 4
        keep = [(x, y) for x, y in found if pos_a[x] - i < cut and pos_b[y] - j < cut] or found[:1]
        if not keep:  # nothing alike in this stretch: step over it
            i, j = i + cut, j + cut
            continue
        pairs.extend(keep)
        i, j = pos_a[keep[-1][0]] + 1, pos_b[keep[-1][1]] + 1
    return pairs


def match_by_structure(a: ModelGraph, b: ModelGraph, order_a: list[str], order_b: list[str]) -> dict[str, str]:
    """Blocks aligned by name in topological order; nodes inside aligned blocks, and inside runs of blocks that
    did not align (a renamed block), aligned by type and label."""
    blocks_a, blocks_b = _blocks_in_order(a, order_a), _blocks_in_order(b, order_b)
    names_a, names_b = list(blocks_a), list(blocks_b)
    block_pairs, block_gaps = _align(names_a, names_b, _block_key, _block_key)
    matches: dict[str, str] = {}
    for name_a, name_b in block_pairs:
        matches.update(_align_nodes(a, b, blocks_a[name_a], blocks_b[name_b]))
    for ga, gb in block_gaps:
        nodes_a = [n for name in ga for n in blocks_a[name]]
        nodes_b = [n for name in gb for n in blocks_b[name]]
        if nodes_a and nodes_b:
            matches.update(_align_nodes(a, b, nodes_a, nodes_b))
    return matches


# --------------------------------------------------------------------------------------------- comparing
def same_value(old: Any, new: Any) -> bool:
    """Parameter equality that ignores spelling: 3 == (3, 3) == [3, 3], 1 == 1.0."""
    if isinstance(old, (list, tuple)) and isinstance(new, (list, tuple)):
        return len(old) == len(new) and all(same_value(x, y) for x, y in zip(old, new))
    if isinstance(old, (list, tuple)) and not isinstance(new, (list, tuple, dict)):
        return len(old) > 0 and all(same_value(x, new) for x in old)
    if isinstance(new, (list, tuple)) and not isinstance(old, (list, tuple, dict)):
        return same_value(new, old)
    if isinstance(old, bool) or isinstance(new, bool):
        return old is new or (isinstance(old, bool) and isinstance(new, bool) and old == new)
    return bool(old == new)


def _params_of(engine: AnalysisEngine, node: Node) -> dict[str, Any]:
    resolved = engine.params(node.id)
    return resolved if resolved is not None else dict(node.params)


def _shape_text(outs: list[TensorInfo] | None) -> str:
    return "(unknown)" if outs is None else ", ".join(str(t) for t in outs)


def _source_name(graph: ModelGraph, src: str, src_port: str) -> str:
    node = graph.nodes[src]
    return node.label if src_port in ("out", "output", "y") else f"{node.label}.{src_port}"


def diff_graphs(
    a: ModelGraph,
    b: ModelGraph,
    *,
    match: str = "auto",
    engines: tuple[AnalysisEngine, AnalysisEngine] | None = None,
) -> GraphDiff:
    """Compare graph `a` (old) with graph `b` (new). match: "id", "structure" or "auto" (id when the graphs
    share a lineage). Pass `engines` to reuse analyses the caller already has."""
    if match not in ("auto", "id", "structure"):
        raise ValueError(f"match must be 'auto', 'id' or 'structure', not {match!r}")
    if match == "auto":
        match = "id" if lineage_share(a, b) >= LINEAGE_SHARE else "structure"
    if engines is None:  # our own analyses: they observe the graphs, so stop them when done
        own = (AnalysisEngine(a), AnalysisEngine(b))
        try:
            return diff_graphs(a, b, match=match, engines=own)
        finally:
            for engine in own:
                engine.close()
    eng_a, eng_b = engines
    order_a, order_b = _safe_order(a), _safe_order(b)
    matches = match_by_id(a, b) if match == "id" else match_by_structure(a, b, order_a, order_b)
    back = {v: k for k, v in matches.items()}
    preds = (pred_of(a), pred_of(b))

    def ref(graph: ModelGraph, nid: str) -> NodeRef:
        n = graph.nodes[nid]
        return NodeRef(nid, n.label, n.type, block_of(graph, n))

    result = GraphDiff(match, len(a), len(b), matches)
    totals_a, totals_b = eng_a.totals(), eng_b.totals()
    result.params = (totals_a.params, totals_b.params)
    result.macs = (totals_a.macs, totals_b.macs)
    result.type_counts = (_type_counts(a), _type_counts(b))
    result.block_order = list(dict.fromkeys([block_of(b, b.nodes[n]) for n in order_b]))
    result.block_order += [
        blk for blk in dict.fromkeys(block_of(a, a.nodes[n]) for n in order_a) if blk not in result.block_order
    ]
    result.removed = [ref(a, n) for n in order_a if n not in matches]
    result.added = [ref(b, n) for n in order_b if n not in back]
    for nid in result.removed:
        st = eng_a.stats(nid.id)
        if st.params or st.macs:
            result.counts.append(CountDelta(nid, st.params, 0, st.macs, 0))
    for nid in result.added:
        st = eng_b.stats(nid.id)
        if st.params or st.macs:
            result.counts.append(CountDelta(nid, 0, st.params, 0, st.macs))

    for b_id in order_b:
        a_id = back.get(b_id)
        if a_id is None:
            continue
        na, nb = a.nodes[a_id], b.nodes[b_id]
        ra, rb = ref(a, a_id), ref(b, b_id)
        pa, pb = _params_of(eng_a, na), _params_of(eng_b, nb)
        params = tuple(
            (name, pa.get(name), pb.get(name))
            for name in sorted(set(pa) | set(pb))
            if not same_value(pa.get(name), pb.get(name))
        )
        frozen = (na.frozen, nb.frozen) if na.frozen != nb.frozen else None
        block = (ra.block, rb.block) if match == "id" and ra.block != rb.block else None
        if params or frozen or block:
            result.changed.append(NodeChange(ra, rb, params, frozen, block))
        elif na.label != nb.label:
            result.renamed.append((ra, rb))
        outs_a, outs_b = eng_a.outputs(a_id), eng_b.outputs(b_id)
        if outs_a != outs_b:
            result.shapes.append(ShapeChange(rb, _shape_text(outs_a), _shape_text(outs_b)))
        st_a, st_b = eng_a.stats(a_id), eng_b.stats(b_id)
        if (st_a.params, st_a.macs) != (st_b.params, st_b.macs):
            result.counts.append(CountDelta(rb, st_a.params, st_b.params, st_a.macs, st_b.macs))
        result.rewired.extend(_rewires(a, b, (a_id, b_id), matches, rb, preds))
    return result


def _in_edges(pred: dict[str, dict[str, dict[Edge, dict]]], nid: str) -> list[Edge]:
    return [e for edges in pred[nid].values() for e in edges]


def _rewires(
    a: ModelGraph, b: ModelGraph, ids: tuple[str, str], matches: dict[str, str], rb: NodeRef, preds: tuple[Any, Any]
) -> list[Rewire]:
    """Inputs of a matched node whose source differs. A source is compared through the matching, so an
    inserted node shows as 'x -> dropout' and a removed one as 'relu -> x'."""
    old: dict[tuple[str, int], tuple[str, str]] = {}
    for e in _in_edges(preds[0], ids[0]):
        old[(e.dst_port, e.slot)] = (matches.get(e.src, "\0" + e.src), e.src_port)
    new = {(e.dst_port, e.slot): (e.src, e.src_port) for e in _in_edges(preds[1], ids[1])}
    if old == new:
        return []
    out = []
    for key in sorted(set(old) | set(new)):
        if old.get(key) == new.get(key):
            continue
        before = after = None
        if key in old:
            src, port = old[key]
            before = _source_name(a, src[1:], port) if src.startswith("\0") else _source_name(b, src, port)
        if key in new:
            after = _source_name(b, *new[key])
        out.append(Rewire(rb, key[0], key[1], before, after))
    return out


def _safe_order(graph: ModelGraph) -> list[str]:
    """Topological order (insertion order breaks ties, as ModelGraph.topological_order), computed on the raw
    adjacency for speed; insertion order for a graph with a cycle (a diff still has something to say)."""
    index = {nid: i for i, nid in enumerate(graph.nodes)}
    succ = succ_of(graph)
    waiting = {nid: len(preds) for nid, preds in pred_of(graph).items()}
    ready = [index[n] for n, k in waiting.items() if k == 0]
    heapq.heapify(ready)
    ids = list(graph.nodes)
    order: list[str] = []
    while ready:
        nid = ids[heapq.heappop(ready)]
        order.append(nid)
        for s in succ[nid]:
            waiting[s] -= 1
            if waiting[s] == 0:
                heapq.heappush(ready, index[s])
    return order if len(order) == len(ids) else ids


def _type_counts(graph: ModelGraph) -> dict[str, int]:
    out: dict[str, int] = {}
    for n in graph.nodes.values():
        out[n.type] = out.get(n.type, 0) + 1
    return out


def _jsonable(value: Any) -> Any:
    if isinstance(value, tuple):
        return [_jsonable(v) for v in value]
    if isinstance(value, (str, int, float, bool, list, dict)) or value is None:
        return value
    return str(value)


def _show(value: Any) -> str:
    if value is None:
        return "(unset)"
    if isinstance(value, (list, tuple)):
        return "(" + ", ".join(_show(v) for v in value) + ("," if len(value) == 1 else "") + ")"
    return repr(value) if isinstance(value, str) else str(value)
