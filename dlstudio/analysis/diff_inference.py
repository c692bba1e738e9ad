"""The rewrites an inference export makes, applied to a copy of a graph so it compares fairly with a model read
back from such an export.

An ONNX export runs the model in eval mode: BatchNorm after a convolution or linear layer is folded into its
weights and bias, and layers that only act in training (Dropout, GaussianNoise) vanish. Compared with its own
re-imported export, a project would otherwise show every BatchNorm as removed. The diff applies these rewrites to
the side that did not come from an export and says how many it folded.
"""

from __future__ import annotations

from ..core.edits import Connect, RemoveNode, SetParam
from ..core.graph import Edge, ModelGraph
from ..layers.registry import REGISTRY

_FOLDS_INTO = ("Conv1d", "Conv2d", "Conv3d")  # what torch's ONNX export fuses a BatchNorm into
_NORMS = ("BatchNorm1d", "BatchNorm2d", "BatchNorm3d")


def _bypass(graph: ModelGraph, node_id: str) -> bool:
    """Remove a one-input node and feed its consumers from its source. False when it has not exactly one input."""
    ins = graph.in_edges(node_id)
    if len(ins) != 1:
        return False
    src = ins[0]
    outs = graph.out_edges(node_id)
    RemoveNode(node_id).apply(graph)
    for e in outs:
        Connect(Edge(src.src, src.src_port, e.dst, e.dst_port, e.slot)).apply(graph)
    return True


def fold_for_inference(graph: ModelGraph) -> tuple[ModelGraph, list[str], list[tuple[str, str, float]]]:
    """A copy of `graph` as an eval-mode export sees it, one note per kind of rewrite made, and the folds made
    as (conv id, BatchNorm id, eps), so the weights can be folded the same way."""
    out = graph.copy()
    folds: list[tuple[str, str, float]] = []
    folded: dict[str, int] = {}
    dropped: dict[str, int] = {}
    for nid in list(out.nodes):
        node = out.nodes[nid]
        spec = REGISTRY.get(node.type) if node.type in REGISTRY else None
        if spec is not None and spec.train_only:
            if _bypass(out, nid):
                dropped[node.type] = dropped.get(node.type, 0) + 1
            continue
        if node.type not in _NORMS:
            continue
        ins = out.in_edges(nid)
        if len(ins) != 1:
            continue
        producer = out.nodes[ins[0].src]
        if producer.type not in _FOLDS_INTO or len(out.out_edges(producer.id)) != 1:
            continue
        eps = node.params.get("eps", 1e-5)
        if _bypass(out, nid):
            SetParam(producer.id, "bias", True).apply(out)
            folded[node.type] = folded.get(node.type, 0) + 1
            folds.append((producer.id, nid, float(eps)))
    notes = [f"{n} {t} folded into the layer before it, as an inference export does" for t, n in folded.items()]
    notes += [f"{n} {t} left out: it only acts in training" for t, n in dropped.items()]
    return out, notes, folds
