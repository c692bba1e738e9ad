"""Large synthetic models for the editor's scale benchmarks and tests, built through the `Graph` builder.

`transformer_model(48)` is a transformer-style stack: each block is a LayerNorm, eight attention heads (their own
q/k/v projections, attention and dropout), a concatenation, an output projection and residual, then a second
LayerNorm and a mixture of 30 small MLP experts summed back into the residual stream, ~200 nodes a block. With
`grouped=True` every block is a collapsed group (the hierarchical case); without, the same nodes are flat.
"""

from __future__ import annotations

from ..core.edits import GroupNodes
from .builder import Graph, Ref

SEQ, DIM, HEADS, EXPERTS = 16, 64, 8, 30


class _ScaleGraph(Graph):
    """A builder whose label lookup is O(1): the generic one scans every label (O(N^2) for 10,000 adds)."""

    def __init__(self) -> None:
        super().__init__()
        self._labels: set[str] = set()

    def unique_label(self, base: str) -> str:
        label, i = base, 1
        while label in self._labels:
            label, i = f"{base}_{i}", i + 1
        self._labels.add(label)
        return label


def _block(g: Graph, x: Ref, b: int) -> Ref:
    p = f"b{b}_"
    h = g.add("LayerNorm", x, label=p + "ln1")
    heads = []
    for i in range(HEADS):
        q = g.add("Linear", h, out_features=DIM // HEADS, label=f"{p}h{i}_q")
        k = g.add("Linear", h, out_features=DIM // HEADS, label=f"{p}h{i}_k")
        v = g.add("Linear", h, out_features=DIM // HEADS, label=f"{p}h{i}_v")
        a = g.add("MultiheadAttention", q, k, v, num_heads=1, label=f"{p}h{i}_attn")
        heads.append(g.add("Dropout", a, p=0.1, label=f"{p}h{i}_drop"))
    cat = g.add("Concat", *heads, dim=-1, label=p + "heads")
    proj = g.add("Linear", cat, out_features=DIM, label=p + "proj")
    r1 = g.add("Add", x, proj, label=p + "res1")
    h2 = g.add("LayerNorm", r1, label=p + "ln2")
    experts = []
    for e in range(EXPERTS):
        u = g.add("Linear", h2, out_features=2 * DIM, label=f"{p}e{e}_up")
        a = g.add("GELU", u, label=f"{p}e{e}_act")
        d = g.add("Dropout", a, p=0.1, label=f"{p}e{e}_drop")
        w = g.add("Linear", d, out_features=DIM, label=f"{p}e{e}_down")
        experts.append(g.add("SiLU", w, label=f"{p}e{e}_gate"))
    mix = g.add("Add", *experts, label=p + "experts")
    return g.add("Add", r1, mix, label=p + "res2")


def transformer_model(n_blocks: int = 48, grouped: bool = True) -> Graph:
    """Input (SEQ, DIM) -> n_blocks transformer-style blocks -> Output; blocks grouped (collapsed) or flat.
    Nodes are placed by the builder's left-to-right rule; callers lay them out (core.layout)."""
    g = _ScaleGraph()
    x = g.input("tokens", (SEQ, DIM))
    for b in range(n_blocks):
        before = set(g.nodes)
        x = _block(g, x, b)
        if grouped:
            members = tuple(n for n in g.nodes if n not in before)
            GroupNodes(g.new_id("g"), f"block{b}", members, collapsed=True).apply(g)
    g.output("logits", x)
    return g


def nodes_per_block() -> int:
    return 1 + 5 * HEADS + 4 + 5 * EXPERTS + 2


__all__ = ["DIM", "SEQ", "nodes_per_block", "transformer_model"]
