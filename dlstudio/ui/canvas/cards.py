"""What node cards and block cards say: a node's label, key parameters, output shape, counts and diagnostics; a
block's boundary ports, totals and frame. Mixed into GraphScene (self is the scene)."""

from __future__ import annotations

from typing import Any

from ...core.errors import UnknownLayerError
from ...core.graph import Edge
from ...layers.registry import REGISTRY
from .items import HEADER_H
from .text import human, key_param_text


class CardsMixin:
    graph: Any
    engine: Any
    theme: Any
    nodes: Any
    blocks: dict[str, Any]
    edges: dict[Edge, Any]

    # ------------------------------------------------------------- blocks
    def _touch_groups(self, edge: Edge) -> None:
        for end in (edge.src, edge.dst):
            if end in self.graph and self.graph.node(end).group in self.blocks:
                self._update_block(self.graph.node(end).group)  # type: ignore[arg-type]

    def _update_block(self, group_id: str) -> None:
        grp = self.graph.group(group_id)
        item = self.blocks[group_id]
        members = set(grp.node_ids)
        # one block input per outside tensor (a skip connection and its branch share it), one output per
        # inside tensor that leaves the block
        sources: list[tuple[str, str]] = []
        ins: list[tuple[str, str, int]] = []
        outs: list[tuple[str, str]] = []
        pred, succ = self.graph.nx._pred, self.graph.nx._succ
        for nid in grp.node_ids:
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
        item.set_boundary(len(sources), ins, outs)
        params = sum(int(getattr(self.engine.stats(n), "params", 0) or 0) for n in members)
        frame = self.members_rect(group_id).adjusted(-20, -HEADER_H - 16, 20, 20).translated(-item.pos())
        item.set_collapsed(grp.collapsed, frame)
        last = [self.engine.outputs(n) for n, _ in outs[:1]]
        shape = f"\u2192 {last[0][0]}" if last and last[0] else ""
        item.set_info(
            grp.label,
            "Block",
            [f"Block  {len(members)} layers", f"{human(params)} params", shape],
            None,
            f"Block '{grp.label}': {len(members)} layers, {params:,} parameters. "
            "Double-click or Enter to open it; Ctrl+E to "
            + ("expand it in place." if grp.collapsed else "collapse it."),
        )
        self.sync_block_visibility(group_id)
        shown = [nid for nid in grp.node_ids if nid in self.nodes]
        for nid in shown:
            self._sync_visibility(nid)
        for e in set(self.wires_of(shown)):  # each wire once, not once per end
            item = self.edges.get(e)
            if item is not None:
                self._place_edge(item)

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
