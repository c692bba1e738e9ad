"""Queries over nested blocks, mixed into ModelGraph: children, ancestors, deep members, and which item stands
for a node when one looks at the contents of a block (the canvas, compiler, analysis and layout share these)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .graph import Group, Node


class BlockHierarchy:
    """Block tree queries. `Group.parent` is the enclosing block (None: top level); `Group.node_ids` are a
    block's direct nodes; `Node.group` is the innermost block holding a node."""

    _groups: dict[str, Group]
    _order_key: dict[str, float]
    _group_key: dict[str, float]
    _children_cache: dict[str | None, list[str]] | None

    def node(self, node_id: str) -> Node:  # pragma: no cover - provided by ModelGraph
        raise NotImplementedError

    def group(self, group_id: str) -> Group:  # pragma: no cover - provided by ModelGraph
        raise NotImplementedError

    def child_groups(self, parent: str | None) -> list[str]:
        """Direct child block ids of `parent` (None: the top-level blocks), in insertion order."""
        if self._children_cache is None:
            cache: dict[str | None, list[str]] = {}
            for gid in sorted(self._groups, key=self._group_key.__getitem__):
                cache.setdefault(self._groups[gid].parent, []).append(gid)
            self._children_cache = cache
        return list(self._children_cache.get(parent, ()))

    def group_ancestors(self, group_id: str) -> list[str]:
        """[parent, grandparent, ...] of a block, innermost first."""
        out: list[str] = []
        parent = self.group(group_id).parent
        while parent is not None:
            out.append(parent)
            parent = self._groups[parent].parent
        return out

    def group_path(self, group_id: str) -> list[str]:
        """[outermost, ..., group_id]: the blocks one enters, in order, to reach `group_id`."""
        return [*reversed(self.group_ancestors(group_id)), group_id]

    def group_depth(self, group_id: str) -> int:
        """0 for a top-level block, 1 for a block inside it, ..."""
        return len(self.group_ancestors(group_id))

    def group_descendants(self, group_id: str) -> list[str]:
        """Every block nested in `group_id` (not itself), parents before children."""
        out: list[str] = []
        stack = list(reversed(self.child_groups(group_id)))
        while stack:
            gid = stack.pop()
            out.append(gid)
            stack.extend(reversed(self.child_groups(gid)))
        return out

    def group_nodes_deep(self, group_id: str) -> list[str]:
        """Every node in the block and in all blocks nested in it, in graph order."""
        ids = [n for gid in (group_id, *self.group_descendants(group_id)) for n in self._groups[gid].node_ids]
        keys = self._order_key
        return sorted(ids, key=keys.__getitem__)

    def owner_at(self, node_id: str, level: str | None) -> str | None:
        """What stands for `node_id` when looking at the contents of block `level` (None: the top level): the
        node itself if it sits directly there, else the outermost block strictly inside `level` holding it;
        None when the node is not inside `level`."""
        inner = self.node(node_id).group
        if inner == level:
            return node_id
        while inner is not None:
            parent = self._groups[inner].parent
            if parent == level:
                return inner
            inner = parent
        return None

    def contains_group(self, outer: str | None, group_id: str) -> bool:
        """True if `group_id` is `outer` or nested (at any depth) in it; everything is inside None."""
        gid: str | None = group_id
        while gid is not None:
            if gid == outer:
                return True
            gid = self._groups[gid].parent
        return outer is None

    def _sorted_nodes(self, node_ids: Iterable[str]) -> tuple[str, ...]:
        keys = self._order_key
        return tuple(sorted(node_ids, key=keys.__getitem__))
