"""Small ready graphs for a dataset (used by the benchmark, the tests and the docs): an MLP sized from a
built-in dataset, and LeNet-5 for 1x28x28 images."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ..layers.builder import Graph
from .data.builtin import BUILTINS


def mlp_graph(
    in_shape: Sequence[int],
    hidden: Sequence[int],
    out_features: int,
    *,
    activation: str = "ReLU",
    input_name: str = "x",
    output_name: str = "y",
) -> Graph:
    g = Graph()
    h = g.input(input_name, tuple(in_shape))
    if len(in_shape) > 1:
        h = g.add("Flatten", h)
    for i, width in enumerate(hidden):
        h = g.add("Linear", h, out_features=int(width), label=f"fc{i + 1}")
        h = g.add(activation, h)
    h = g.add("Linear", h, out_features=int(out_features), label="head")
    g.output(output_name, h)
    return g


def mlp_for(dataset: str, hidden: Sequence[int] = (64,), **kw: Any) -> Graph:
    """An MLP whose input and head fit a built-in dataset (logits for classification, one value for
    regression)."""
    b = BUILTINS[dataset]
    out = len(b.class_names) if b.class_names else 1
    return mlp_graph(b.shape, hidden, out, **kw)


def lenet5_graph() -> Graph:
    """LeNet-5 on 1x28x28 (padding 2 on the first conv, as in the original 32x32 input)."""
    g = Graph()
    x = g.input("image", (1, 28, 28))
    h = g.add("Conv2d", x, out_channels=6, kernel_size=5, padding=2, label="c1")
    h = g.add("ReLU", h)
    h = g.add("MaxPool2d", h, kernel_size=2, label="s2")
    h = g.add("Conv2d", h, out_channels=16, kernel_size=5, label="c3")
    h = g.add("ReLU", h)
    h = g.add("MaxPool2d", h, kernel_size=2, label="s4")
    h = g.add("Flatten", h)
    h = g.add("Linear", h, out_features=120, label="f5")
    h = g.add("ReLU", h)
    h = g.add("Linear", h, out_features=84, label="f6")
    h = g.add("ReLU", h)
    h = g.add("Linear", h, out_features=10, label="head")
    g.output("logits", h)
    return g
