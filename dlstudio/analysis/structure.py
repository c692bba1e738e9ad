"""Whole-graph structure checks: cycles (naming the nodes on each) and blocks (groups) that are not convex."""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable, Mapping

import networkx as nx

from ..core.graph import ModelGraph
from . import diagnostics as D
from .diagnostics import Diagnostic
from .evaluate import label_of, pred_of, succ_of


def _cycle_through(graph: ModelGraph, start: str, members: set[str], order: dict[str, int]) -> list[str]:
    """A shortest cycle start -> ... -> start inside `members`, visiting successors in graph order so the
    answer does not depend on how the graph was edited."""
    succ = succ_of(graph)
    parent: dict[str, str] = {}
    queue = deque([start])
    seen = {start}
    while queue:
        cur = queue.popleft()
        for s in sorted((s for s in succ[cur] if s in members), key=order.__getitem__):
            if s == start:
                path = [cur]
                while path[-1] != start:
                    path.append(parent[path[-1]])
                return list(reversed(path))
            if s not in seen:
                seen.add(s)
                parent[s] = cur
                queue.append(s)
    return [start]  # pragma: no cover - members form a strongly connected component


def cycle_diagnostics(graph: ModelGraph, blocked: set[str]) -> list[Diagnostic]:
    """One error per cycle-carrying strongly connected component among `blocked` (nodes on or after a cycle),
    pinned to its first node in graph order and naming the nodes along one loop."""
    order = {nid: i for i, nid in enumerate(graph.nodes)}
    sub = graph.nx.subgraph(blocked)
    out: list[Diagnostic] = []
    comps = []
    for comp in nx.strongly_connected_components(sub):
        first = min(comp, key=order.__getitem__)
        if len(comp) > 1 or sub.has_edge(first, first):
            comps.append((order[first], first, set(comp)))
    for _, first, comp in sorted(comps):
        loop = _cycle_through(graph, first, comp, order)
        names = " -> ".join(label_of(graph.nodes[n]) for n in loop + [loop[0]])
        out.append(
            Diagnostic(
                "error",
                D.CYCLE,
                f"The wires form a loop: {names}. Data must flow one way; remove one of these "
                f"wires (use an RNN/LSTM layer for recurrence)",
                first,
            )
        )
    return out


def group_diagnostics(graph: ModelGraph, rank: Mapping[str, float] | None = None) -> list[Diagnostic]:
    """Blocks must be self-contained (no path leaves and re-enters them) and hold no Input/Output node.

    `rank`, a topological order of an acyclic graph, bounds each search: a node ranked after every member
    cannot lead back into the block (nor one ranked before every member out of it), so a stack of blocks
    costs its boundaries, not blocks x nodes."""
    out: list[Diagnostic] = []
    succ, pred = succ_of(graph), pred_of(graph)
    for gid in sorted(graph.groups):
        group = graph.groups[gid]
        # a block's contents are its nodes and its child blocks' (nested blocks are checked each on its own)
        members = graph.group_nodes_deep(gid)
        if not members:
            continue
        mset = set(members)
        io = [n for n in group.node_ids if graph.nodes[n].type in ("Input", "Output")]
        for n in io:
            out.append(
                Diagnostic(
                    "error",
                    D.GROUP_HAS_IO,
                    f"{label_of(graph.nodes[n])} is inside block '{group.label}': a block cannot hold "
                    f"Input or Output nodes; take it out of the block",
                    n,
                )
            )
        lo = hi = None
        if rank is not None:
            lo, hi = min(rank[n] for n in members), max(rank[n] for n in members)
        after = _reach(members, succ, mset, rank, None, hi)
        if after:
            before = _reach(members, pred, mset, rank, lo, None)
            between = after & before
            if between:
                order = {nid: i for i, nid in enumerate(graph.nodes)}
                example = min(between, key=order.__getitem__)
                out.append(
                    Diagnostic(
                        "error",
                        D.GROUP_NOT_CONVEX,
                        f"Block '{group.label}' is not self-contained: {len(between)} node(s) outside it, e.g. "
                        f"{label_of(graph.nodes[example])}, sit on a path that leaves the block and comes back in; "
                        f"add them to the block or ungroup it",
                        members[0],
                    )
                )
    return out


def _reach(
    starts: list[str],
    adj: Mapping[str, Iterable[str]],
    exclude: set[str],
    rank: Mapping[str, float] | None = None,
    lo: float | None = None,
    hi: float | None = None,
) -> set[str]:
    """Nodes outside `exclude` reachable from `starts` along `adj` (succ or pred), not following nodes ranked
    outside (lo, hi) when a rank is given."""
    seen: set[str] = set()
    queue = deque(starts)
    while queue:
        cur = queue.popleft()
        for s in adj[cur]:
            if rank is not None and ((hi is not None and rank[s] > hi) or (lo is not None and rank[s] < lo)):
                continue
            if s not in exclude and s not in seen:
                seen.add(s)
                queue.append(s)
    return seen
