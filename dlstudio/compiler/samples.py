"""Parity-check helpers shared by exporters and importers: name a graph's I/O, draw a random batch, list outputs.

They live in compiler (below both export and importers) so that either can use them without importing the other.
Parity batches are small (1 or 2 samples), and a batch above MAX_SAMPLE_VALUES values is refused with a message
before anything is allocated: an Input of shape (100000, 100000) would otherwise ask for tens of gigabytes.
"""

from __future__ import annotations

from typing import Any

import torch

from ..core.errors import DlstudioError
from ..core.graph import ModelGraph, Node

MAX_SAMPLE_VALUES = 1 << 25  # 32 Mi values, 128 MiB of float32 for the whole parity batch


class SampleTooLargeError(DlstudioError):
    """The random batch a parity check needs would be too large to allocate; names the Input to shrink."""


def io_nodes(graph: ModelGraph) -> tuple[list[Node], list[Node]]:
    """Input and Output nodes in the order the compiled module takes and returns them."""
    return graph.nodes_of_type("Input"), graph.nodes_of_type("Output")


def _int_high(graph: ModelGraph, node: Node) -> int:
    """Upper bound for random integer inputs: the smallest num_embeddings downstream (else 2)."""
    highs = [int(graph.node(s).params.get("num_embeddings", 2)) for s in graph.successors(node.id)]
    return max(1, min(highs, default=2))


def sample_values(graph: ModelGraph, batch: int) -> list[tuple[Node, tuple[int, ...], int]]:
    """Each Input with its batch shape and number of values (Python integers: nothing is allocated)."""
    out = []
    for node in io_nodes(graph)[0]:
        shape = (batch, *(int(d) for d in node.params.get("shape", (1, 28, 28))))
        count = 1
        for d in shape:
            count *= d
        out.append((node, shape, count))
    return out


def check_sample_size(graph: ModelGraph, batch: int, limit: int = MAX_SAMPLE_VALUES) -> None:
    """Raise SampleTooLargeError when a random batch of `batch` samples would exceed `limit` values."""
    sizes = sample_values(graph, batch)
    total = sum(count for _, _, count in sizes)
    if total <= limit:
        return
    node, shape, count = max(sizes, key=lambda item: item[2])
    gib = total * 4 / (1 << 30)
    raise SampleTooLargeError(
        f"Input '{node.label}' has shape {tuple(shape[1:])}: a parity check batch of {batch} would hold "
        f"{total:,} values (about {gib:,.1f} GiB of float32), more than the {limit:,} allowed; "
        "make the Input shape smaller (set its shape in the inspector) to export or check this model"
    )


def sample_inputs(graph: ModelGraph, batch: int = 2, seed: int = 0) -> list[torch.Tensor]:
    """A random batch for every Input (integer inputs stay below the embedding size they feed). Raises
    SampleTooLargeError above MAX_SAMPLE_VALUES values, before allocating."""
    check_sample_size(graph, batch)
    gen = torch.Generator().manual_seed(seed)
    out = []
    for node, shape, _ in sample_values(graph, batch):
        if node.params.get("dtype") == "int64":
            out.append(torch.randint(0, _int_high(graph, node), shape, generator=gen))
        else:
            out.append(torch.randn(shape, generator=gen))
    return out


def as_list(value: Any) -> list[torch.Tensor]:
    return list(value) if isinstance(value, (tuple, list)) else [value]
