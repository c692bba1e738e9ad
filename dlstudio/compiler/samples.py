"""Parity-check helpers shared by exporters and importers: name a graph's I/O, draw a random batch, list outputs.

They live in compiler (below both export and importers) so that either can use them without importing the other.
"""

from __future__ import annotations

from typing import Any

import torch

from ..core.graph import ModelGraph, Node


def io_nodes(graph: ModelGraph) -> tuple[list[Node], list[Node]]:
    """Input and Output nodes in the order the compiled module takes and returns them."""
    return graph.nodes_of_type("Input"), graph.nodes_of_type("Output")


def _int_high(graph: ModelGraph, node: Node) -> int:
    """Upper bound for random integer inputs: the smallest num_embeddings downstream (else 2)."""
    highs = [int(graph.node(s).params.get("num_embeddings", 2)) for s in graph.successors(node.id)]
    return max(1, min(highs, default=2))


def sample_inputs(graph: ModelGraph, batch: int = 2, seed: int = 0) -> list[torch.Tensor]:
    gen = torch.Generator().manual_seed(seed)
    out = []
    for node in io_nodes(graph)[0]:
        shape = (batch, *(int(d) for d in node.params.get("shape", (1, 28, 28))))
        if node.params.get("dtype") == "int64":
            out.append(torch.randint(0, _int_high(graph, node), shape, generator=gen))
        else:
            out.append(torch.randn(shape, generator=gen))
    return out


def as_list(value: Any) -> list[torch.Tensor]:
    return list(value) if isinstance(value, (tuple, list)) else [value]
