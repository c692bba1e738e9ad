"""Nested blocks from a module tree, shared by the ONNX and PyTorch importers.

Each imported layer comes with the chain of modules it was made in, outermost first, as full dotted paths
(`layer1`, `layer1.0`, `layer1.0.downsample`). Every module in a chain is a candidate block, so a ResNet reads
`layer1` > `layer1.0` > its convolutions. A candidate dissolves into its parent (its layers and child blocks
move up one level) when it would hold a single member, or when it is not self-contained: a path leaves it and
comes back in, which the compiler cannot emit as one submodule call (as when a module's ops interleave with its
siblings'). Because a block's layers are the same whichever of its descendants dissolve, each candidate is
judged on its own; only the single-member rule looks at what the children left. Blocks start collapsed.
"""

from __future__ import annotations

from collections.abc import Callable

from ..core.edits import GroupNodes
from ..core.graph import ModelGraph

_UNGROUPABLE = ("Input", "Output")


def nest_blocks(
    graph: ModelGraph,
    chains: dict[str, tuple[str, ...]],
    *,
    label: Callable[[str], str] = lambda path: path,
) -> list[str]:
    """Group the graph's nodes into nested collapsed blocks after their module chains (node id -> module paths,
    outermost first; every path in a chain must extend the one before it). Returns the ids of the blocks made,
    parents after their children, siblings in graph order."""
    order = {nid: i for i, nid in enumerate(graph.nodes)}
    deep: dict[str, list[str]] = {}  # module path -> every node made inside it
    parent_of: dict[str, str | None] = {}
    direct: dict[str | None, list[str]] = {}  # module path (None: top) -> nodes made directly in it
    for nid, chain in chains.items():
        if nid not in graph.nodes or graph.node(nid).type in _UNGROUPABLE or not chain:
            continue
        for i, path in enumerate(chain):
            deep.setdefault(path, []).append(nid)
            parent_of.setdefault(path, chain[i - 1] if i else None)
        direct.setdefault(chain[-1], []).append(nid)
    if not deep:
        return []
    pos = {nid: i for i, nid in enumerate(graph.topological_order())}
    children: dict[str | None, list[str]] = {}
    for path, parent in parent_of.items():
        children.setdefault(parent, []).append(path)
    first = {path: min(order[n] for n in ids) for path, ids in deep.items()}

    kept: dict[str, tuple[list[str], list[str]]] = {}  # path -> (direct nodes, child block paths)

    def settle(path: str) -> tuple[list[str], list[str]]:
        """The members `path` contributes to its parent: itself when kept, else its own members."""
        nodes = list(direct.get(path, ()))
        blocks: list[str] = []
        for child in sorted(children.get(path, ()), key=first.__getitem__):
            child_nodes, child_blocks = settle(child)
            nodes += child_nodes
            blocks += child_blocks
        if len(nodes) + len(blocks) >= 2 and _convex(graph, set(deep[path]), pos):
            kept[path] = (nodes, blocks)
            return [], [path]
        return nodes, blocks

    made: dict[str, str] = {}  # path -> block id

    def create(path: str) -> None:
        nodes, blocks = kept[path]
        for child in blocks:
            create(child)
        gid = graph.new_id("g")
        ids = tuple(sorted(nodes, key=order.__getitem__))
        GroupNodes(gid, label(path), ids, collapsed=True, group_ids=tuple(made[c] for c in blocks)).apply(graph)
        made[path] = gid

    for top in sorted(children.get(None, ()), key=first.__getitem__):
        _, blocks = settle(top)
        for path in blocks:
            create(path)
    return list(made.values())


def _convex(graph: ModelGraph, members: set[str], pos: dict[str, int]) -> bool:
    """No path leaves the set and comes back into it (the compiler emits a block as one submodule call). Only
    nodes before the set's last member in topological order (`pos`) can lead back, so the search stops there."""
    last = max(pos[n] for n in members)
    frontier = [e.dst for nid in members for e in graph.out_edges(nid) if e.dst not in members and pos[e.dst] < last]
    seen: set[str] = set()
    while frontier:
        nid = frontier.pop()
        if nid in seen:
            continue
        seen.add(nid)
        for e in graph.out_edges(nid):
            if e.dst in members:
                return False
            if pos[e.dst] < last:
                frontier.append(e.dst)
    return True


def blocks_per_depth(graph: ModelGraph) -> dict[int, int]:
    """How many blocks sit at each nesting depth (0: top level): what import reports print."""
    out: dict[int, int] = {}
    for gid in graph.groups:
        depth = graph.group_depth(gid)
        out[depth] = out.get(depth, 0) + 1
    return dict(sorted(out.items()))
