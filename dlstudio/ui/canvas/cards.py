"""What node cards and block cards say: a node's label, key parameters, output shape, counts and diagnostics; a
block's boundary ports, totals and frame. Mixed into GraphScene (self is the scene)."""

from __future__ import annotations

from typing import Any

from ...core.errors import UnknownLayerError
from ...core.graph import Edge
from ...layers.registry import REGISTRY
from .text import human, key_param_text


class CardsMixin:
    graph: Any
    engine: Any
    theme: Any
    nodes: Any
    blocks: dict[str, Any]
    edges: dict[Edge, Any]
    _blocks_dirty: set[str]

    # ------------------------------------------------------------- blocks
    def _touch_groups(self, edge: Edge) -> None:
        """A wire came or went: the blocks around its ends (and the blocks around those) update their ports after
        the edit."""
        for end in (edge.src, edge.dst):
            if end in self.graph.nodes:
                grp = self.graph.nodes[end].group
                if grp is not None:
                    self._blocks_dirty.add(grp)

    def _update_block(self, group_id: str) -> None:
        """A block's card from everything inside it (boundary ports, deep totals, the worst diagnostic) and, when
        expanded, its frame around its direct nodes and child blocks; then what of it is shown at this level."""
        graph = self.graph
        grp = graph.group(group_id)
        item = self.blocks[group_id]
        deep = graph.group_nodes_deep(group_id)
        members = set(deep)
        # one block input per outside tensor (a skip connection and its branch share it), one output per
        # inside tensor that leaves the block
        sources: list[tuple[str, str]] = []
        ins: list[tuple[str, str, int]] = []
        outs: list[tuple[str, str]] = []
        pred, succ = graph.nx._pred, graph.nx._succ
        engine = self.engine
        params = macs = 0
        severity: str | None = None
        for nid in deep:
            if nid not in pred:
                continue
            crossing_in = [k for s_, keys in pred[nid].items() if s_ not in members for k in keys]
            for e in sorted(crossing_in, key=lambda e: (e.dst_port, e.slot)):
                if (e.src, e.src_port) not in sources:
                    sources.append((e.src, e.src_port))
                ins.append((e.dst, e.dst_port, sources.index((e.src, e.src_port))))
            crossing_out = [k for d_, keys in succ[nid].items() if d_ not in members for k in keys]
            for e in sorted(crossing_out):
                if (e.src, e.src_port) not in outs:
                    outs.append((e.src, e.src_port))
            stats = engine.stats(nid)
            params += int(getattr(stats, "params", 0) or 0)
            macs += int(getattr(stats, "macs", 0) or 0)
            if severity != "error":
                for d in engine.diagnostics_for(nid):
                    severity = "error" if d.severity == "error" else severity or "warning"
        item.set_boundary(len(sources), ins, outs)
        lm = self.level_map()
        frame = None if grp.collapsed else self.frame_rect(group_id).translated(-item.pos())  # a card needs none
        item.set_collapsed(grp.collapsed, frame, lm.depth.get(group_id, 0))
        last = [engine.outputs(n) for n, _ in outs[:1]]
        shape = f"\u2192 {last[0][0]}" if last and last[0] else ""
        children = graph.child_groups(group_id)
        blocks = f"{len(children)} block" + "s" * (len(children) > 1)
        count = f"Block  {len(deep)} layers" + (f" \u00b7 {blocks}" if children else "")
        totals = f"{human(params)} params" + (f" \u00b7 {human(macs)} MACs" if macs else "")
        inside = f", {blocks} inside" if children else ""
        problem = ""
        if severity is not None:
            problem = f"<br><span style='color:{self.theme.error if severity == 'error' else self.theme.warning}'>"
            problem += f"a layer inside has {'an error' if severity == 'error' else 'a warning'}: open the block</span>"
        item.set_info(
            grp.label,
            "Block",
            [count, totals, shape],
            severity,
            f"<b>Block '{grp.label}'</b>: {len(deep)} layers{inside}, {params:,} parameters, {macs:,} MACs. "
            "Double-click or Enter to open it; Ctrl+E to "
            + ("expand it in place." if grp.collapsed else "collapse it.")
            + problem,
        )
        self.sync_block_visibility(group_id)
        for gid in graph.group_descendants(group_id):
            self.sync_block_visibility(gid)
        shown = [nid for nid in deep if nid in self.nodes]
        for nid in shown:
            self._sync_visibility(nid)
        for e in set(self.wires_of(shown)):  # each wire once, not once per end
            wire = self.edges.get(e)
            if wire is not None:
                self._place_edge(wire)

    def _update_frame(self, group_id: str) -> None:
        """An expanded block's frame follows its contents (its members moved); nothing else changes."""
        item = self.blocks.get(group_id)
        if item is not None and not item.collapsed:
            item.set_collapsed(False, self.frame_rect(group_id).translated(-item.pos()), item.depth)

    def _refresh_item(self, node_id: str) -> None:
        node = self.graph.node(node_id)
        item = self.nodes[node_id]
        outs = self.engine.outputs(node_id)
        diags = self.engine.diagnostics_for(node_id)
        severity = "error" if any(d.severity == "error" for d in diags) else "warning" if diags else None
        stats = self.engine.stats(node_id)
        params = int(getattr(stats, "params", 0) or 0)
        macs = int(getattr(stats, "macs", 0) or 0)
        if outs is None:
            shape = "\u2192 ?"
        elif outs:
            shape = "\u2192 " + "  ".join(str(t) for t in outs)
        else:
            shape = ""
        line3 = f"{human(params)} params" + (f" \u00b7 {human(macs)} MACs" if macs else "") if params or macs else ""
        try:
            spec = REGISTRY.get(node.type)
            explanation = spec.summary()
        except UnknownLayerError:
            spec, explanation = None, ""
        header = node.type
        if spec is not None and "imported" in spec.tags:  # an op kept as the model had it (its op type is below)
            header = "imported op"
        tip = f"<b>{node.label}</b> ({header})<br>{explanation}"
        if diags:
            tip += "<br>" + "<br>".join(
                f"<span style='color:{self.theme.error if d.severity == 'error' else self.theme.warning}'>"
                f"{d.severity}: {d.message}</span>"
                for d in diags
            )
        item.set_info(node.label, header, [key_param_text(node), shape, line3], severity, tip, node.frozen)
