"""Find the first graph node whose output goes non-finite, by re-running the batch through a torch.fx
Interpreter over the compiled module (blocks are searched inside)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
import torch.fx as fx

from ..core.graph import ModelGraph


def _finite(value: Any) -> bool:
    if isinstance(value, torch.Tensor):
        return not value.is_floating_point() or bool(torch.isfinite(value).all())
    if isinstance(value, (tuple, list)):
        return all(_finite(v) for v in value)
    return True


class _Finder(fx.Interpreter):
    def __init__(self, module: fx.GraphModule, prefix: str = "") -> None:
        super().__init__(module)
        self.prefix = prefix
        self.culprit: str | None = None  # attribute path of a module, or "fx:<node name>"
        self.bad_input: str | None = None

    def run_node(self, n: fx.Node) -> Any:
        result = super().run_node(n)
        if self.culprit is None and self.bad_input is None and not _finite(result):
            if n.op == "placeholder":
                self.bad_input = n.name
            elif n.op == "call_module":
                sub = self.module.get_submodule(str(n.target))
                path = f"{self.prefix}{n.target}"
                if isinstance(sub, fx.GraphModule):
                    args, kwargs = self.fetch_args_kwargs_from_env(n)
                    inner = _Finder(sub, path + ".")
                    inner.run(*args, **kwargs)
                    path = inner.culprit or path
                self.culprit = path
            elif n.op in ("call_function", "call_method"):
                self.culprit = f"fx:{self.prefix}{n.name}"
        return result


def find_nonfinite(
    model: torch.nn.Module,
    x: torch.Tensor,
    node_paths: dict[str, str],
    graph: ModelGraph,
    pick: Callable[[Any], torch.Tensor],
) -> tuple[str | None, str]:
    """Returns (graph node id or None, a sentence saying where the values went non-finite)."""
    if isinstance(x, torch.Tensor) and x.is_floating_point() and not bool(torch.isfinite(x).all()):
        return None, "the input batch itself contains NaN/Inf values (check the data or set data.missing)"
    if not isinstance(model, fx.GraphModule):
        return None, "the model is not a compiled graph, so the node cannot be named"
    finder = _Finder(model)
    with torch.no_grad():
        finder.run(x)
    if finder.culprit is None:
        return None, (
            "every node's output is finite, so the loss itself overflowed: check that the head fits "
            "the loss (logits vs probabilities) and that the targets are in range"
        )
    by_path = {p: nid for nid, p in node_paths.items()}
    nid = by_path.get(finder.culprit)
    if nid is not None and nid in graph.nodes:
        node = graph.node(nid)
        return nid, f"the first node whose output went non-finite is {node.type} '{node.label}'"
    return None, f"the first operation whose output went non-finite is {finder.culprit.removeprefix('fx:')}"
