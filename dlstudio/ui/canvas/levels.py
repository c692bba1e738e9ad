"""What one level of the block tree shows. Looking at level L (None: the whole model; a block id: that block
entered as its own view), the canvas draws L's direct nodes and L's child blocks; a collapsed child block is one
card standing for everything inside it, an expanded one a frame around its own direct nodes and child blocks, at
any depth. `LevelMap` answers, for one level, which nodes draw as themselves, which card stands for a hidden
node, and which blocks draw at all. It is rebuilt in O(blocks) after a structural change (no Qt)."""

from __future__ import annotations

from typing import Any

OPEN = ""  # LevelMap.card value of a block whose direct members draw as themselves


class LevelMap:
    """For one level: `card[g]` is OPEN when block g's direct nodes draw as themselves, the id of the collapsed
    card that stands for them, or None when g lies outside the level (nothing of it is drawn); `shown` are the
    blocks drawn (as a card or an expanded frame) and `depth[g]` their nesting below the level (0: a child)."""

    def __init__(self, graph: Any, level: str | None) -> None:
        self.level = level
        self.top_open = level is None  # the top level's own nodes draw as themselves
        self.card: dict[str, str | None] = {}
        self.shown: set[str] = set()
        self.depth: dict[str, int] = {}
        groups = graph.groups
        stack = [(gid, None) for gid in reversed(graph.child_groups(None))]
        while stack:
            gid, parent = stack.pop()
            grp = groups[gid]
            if gid == level:
                self.card[gid] = OPEN
            else:
                above = self.top_open if parent is None else self.card.get(parent) == OPEN
                if above:  # drawn: as a card, or as a frame whose direct members draw too
                    self.shown.add(gid)
                    self.depth[gid] = 0 if parent is None or parent == level else self.depth[parent] + 1
                    self.card[gid] = OPEN if not grp.collapsed else gid
                else:
                    self.card[gid] = None if parent is None else self.card.get(parent)
            stack.extend((child, gid) for child in reversed(graph.child_groups(gid)))

    def node_open(self, group: str | None) -> bool:
        """Whether the direct nodes of `group` (None: the top level) draw as themselves."""
        if group is None:
            return self.top_open
        return self.card.get(group) == OPEN

    def unit_of(self, node_id: str, group: str | None) -> str | None:
        """What draws for a node sitting directly in `group`: the node itself, a collapsed card, or None."""
        if group is None:
            return node_id if self.top_open else None
        card = self.card.get(group)
        if card == OPEN:
            return node_id
        return card


__all__ = ["OPEN", "LevelMap"]
