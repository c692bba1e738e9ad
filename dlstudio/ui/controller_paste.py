"""Copy and paste for the controller: a selection with the wires among it and the block tree around it, pasted
with fresh ids and unique names inside the block shown (nested blocks come back nested). Mixed into Controller."""

from __future__ import annotations

import copy
from collections.abc import Iterable
from typing import Any

from ..core.edits import AddNode, Composite, Connect, Edit, GroupNodes, PutInBlock
from ..core.errors import UnknownLayerError
from ..core.graph import Edge, ModelGraph, Node
from ..layers.registry import REGISTRY

PASTE_OFFSET = 40.0


class PasteMixin:
    """Mixed into Controller (self has graph, push, refused and select_requested)."""

    graph: ModelGraph
    refused: Any
    select_requested: Any

    def push(self, edit: Edit, mergeable: bool = True) -> bool:  # pragma: no cover - the Controller's
        raise NotImplementedError

    # ------------------------------------------------------- copy and paste
    def copy_dict(self, node_ids: Iterable[str]) -> dict[str, Any]:
        """The nodes, the wires among them, and every block (at any depth) whose layers are all in the selection,
        with its place in the block tree."""
        ids = set(node_ids)
        data = self.graph.subgraph_dict(ids)
        graph = self.graph
        data["groups"] = [
            graph.groups[gid].to_dict()
            for gid in graph.groups
            if (deep := graph.group_nodes_deep(gid)) and set(deep) <= ids
        ]
        return data

    def _fresh_ids(self, prefix: str, n: int) -> list[str]:
        """`n` ids unused in the graph (edits not yet applied cannot reserve them through new_id)."""
        out: list[str] = []
        k = 0
        first = self.graph.new_id(prefix)
        start = int(first[len(prefix) :]) if first[len(prefix) :].isdigit() else 1
        while len(out) < n:
            cand = f"{prefix}{start + k}"
            k += 1
            if cand not in self.graph.nodes and cand not in self.graph.groups:
                out.append(cand)
        return out

    def paste_dict(
        self,
        data: dict[str, Any],
        offset: tuple[float, float] = (PASTE_OFFSET, PASTE_OFFSET),
        level: str | None = None,
    ) -> list[str]:
        """Adds copies of the nodes (fresh ids, unique labels) with the wires among them, inside block `level`
        (None: the top level); copied blocks come back as blocks around the copies, nested as they were."""
        nodes = data.get("nodes", [])
        if not nodes:
            return []
        if level is not None and level not in self.graph.groups:
            level = None
        remap: dict[str, str] = {}
        labels = {n.label for n in self.graph.nodes.values()}
        edits: list[Edit] = []
        new_ids = iter(self._fresh_ids("n", len(nodes)))
        for nd in nodes:
            try:
                spec = REGISTRY.get(nd["type"])
            except (KeyError, UnknownLayerError) as exc:
                self.refused.emit(f"Cannot paste: {exc}")
                return []
            new_id = next(new_ids)
            remap[nd["id"]] = new_id
            base, label, i = nd.get("label", spec.type.lower()), nd.get("label", spec.type.lower()), 1
            while label in labels:
                label, i = f"{base}_{i}", i + 1
            labels.add(label)
            pos = nd.get("position", (0.0, 0.0))
            edits.append(
                AddNode(
                    Node(
                        new_id,
                        spec.type,
                        label,
                        copy.deepcopy(nd.get("params", {})),
                        (float(pos[0]) + offset[0], float(pos[1]) + offset[1]),
                        bool(nd.get("frozen", False)),
                        None,
                        spec.version,
                    )
                )
            )
        for ed in data.get("edges", []):
            if ed["src"] in remap and ed["dst"] in remap:
                edits.append(
                    Connect(
                        Edge(remap[ed["src"]], ed["src_port"], remap[ed["dst"]], ed["dst_port"], int(ed.get("slot", 0)))
                    )
                )
        if level is not None:
            edits.append(PutInBlock(tuple(remap.values()), level))
        edits += self._pasted_blocks(data.get("groups", []), remap, offset, level)
        if self.push(Composite(f"Paste {len(nodes)} node(s)", edits)):
            ids = list(remap.values())
            self.select_requested.emit(ids)
            return ids
        return []

    def _pasted_blocks(
        self, groups: list[dict[str, Any]], remap: dict[str, str], offset: tuple[float, float], level: str | None
    ) -> list[Edit]:
        """GroupNodes edits that rebuild the copied block tree around the pasted nodes, innermost blocks first (a
        block gathers its child blocks once they exist)."""
        kept = {
            gd["id"]: gd
            for gd in groups
            if isinstance(gd, dict) and "id" in gd and all(n in remap for n in gd.get("node_ids", []))
        }
        parent_of = {gid: (gd.get("parent") if gd.get("parent") in kept else None) for gid, gd in kept.items()}

        def depth(gid: str) -> int:
            d, p = 0, parent_of[gid]
            while p is not None and d < 64:
                d, p = d + 1, parent_of[p]
            return d

        new_gid = dict(zip(kept, self._fresh_ids("g", len(kept))))
        children: dict[str, list[str]] = {}
        for gid, p in parent_of.items():
            if p is not None:
                children.setdefault(p, []).append(gid)
        edits: list[Edit] = []
        # a pasted block whose name is taken gets a number, as pasted layers do (two 'layer1.1' read as one)
        taken = {g.label for g in self.graph.groups.values()}
        for gid in sorted(kept, key=depth, reverse=True):
            gd = kept[gid]
            label = base = str(gd.get("label", "block"))
            k = 1
            while label in taken:
                label, k = f"{base}_{k}", k + 1
            taken.add(label)
            pos = gd.get("position", (0.0, 0.0))
            inner = tuple(new_gid[c] for c in children.get(gid, []))
            members = tuple(remap[n] for n in gd.get("node_ids", []))
            if not members and not inner:
                continue
            edits.append(
                GroupNodes(
                    new_gid[gid],
                    label,
                    members,
                    collapsed=bool(gd.get("collapsed", True)),
                    position=(float(pos[0]) + offset[0], float(pos[1]) + offset[1]),
                    group_ids=inner,
                    parent=level,
                )
            )
        return edits
