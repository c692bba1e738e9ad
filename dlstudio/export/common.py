"""Helpers shared by the exporters: compile with weights. (I/O order and random batches: compiler/samples.py.)"""

from __future__ import annotations

from typing import Any

from torch import fx

from ..core.graph import ModelGraph


def build_model(graph: ModelGraph, weights: Any = None, seed: int | None = 0) -> fx.GraphModule:
    from ..compiler.build import compile_graph

    model = compile_graph(graph, seed=seed)
    if weights is not None:
        from .weights import apply_weights

        apply_weights(model, graph, weights)
    return model.eval()
