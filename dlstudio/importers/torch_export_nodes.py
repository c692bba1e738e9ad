"""Graph-node helpers of the torch.export walk: regions run under no_grad/autocast (higher-order ops), `.item()`
calls, and the final hidden state of a recurrent layer (torch holds it layer-first, (layers*directions, N, H); the
catalog layer's h_n port holds it batch first, so the walk marks it as a view with dims 0 and 1 swapped)."""

from __future__ import annotations

import operator
from typing import Any

import torch
from torch import fx, nn

from .base import Unsupported, Value
from .torch_export_args import op_name
from .torch_export_modules import Leaf


def op_name_of(node: fx.Node) -> str:
    try:
        return op_name(node.target)
    except Unsupported:
        return getattr(node.target, "__name__", str(node.target))


ITEM_OPS = ("aten.item.default", "aten._local_scalar_dense.default")
_RECURRENT_OPS = ("aten.lstm.input", "aten.gru.input", "aten.rnn_tanh.input", "aten.rnn_relu.input")


def recurrent_state(leaf: Leaf, outs: list[fx.Node]) -> tuple[list[fx.Node], fx.Node | None] | None:
    """For a recurrent leaf whose final hidden state is used: ([the node standing for the layer's first port],
    the h_n node). None when the leaf is not recurrent or its state is not used (or its cell state is)."""
    if not set(leaf.types) & {"LSTM", "GRU", "RNN"}:
        return None
    op = next((n for n in leaf.nodes if op_name_of(n) in _RECURRENT_OPS), None)
    if op is None:
        return None
    parts = {int(u.args[1]): u for u in op.users if u.target is operator.getitem}  # type: ignore[call-overload]
    h_n = parts.get(1)
    if h_n is None or h_n not in outs or (parts.get(2) is not None and parts[2] in outs):
        return None
    others = [n for n in outs if n is not h_n]
    if len(others) > 1 or (others and others[0] is not parts.get(0)):
        return None
    return (others or [h_n]), h_n


def state_value(ports: list[Value], h_n: fx.Node) -> Value | None:
    """The layer's h_n port, marked as holding torch's (layers*directions, N, H) with dims 0 and 1 swapped."""
    port = next((p for p in ports if p.port == "h_n"), None)
    val = h_n.meta.get("val")
    if port is None or not isinstance(val, torch.Tensor) or val.dim() != 3:
        return None
    if tuple(int(d) for d in port.info.shape[1:]) != (int(val.shape[0]), int(val.shape[2])):
        return None
    return Value(port.node_id, port.port, port.info, layout="seq_first")


def is_swapped(v: Any) -> bool:
    return isinstance(v, Value) and v.layout == "seq_first"


_REGION_OPS = ("wrap_with_set_grad_enabled", "wrap_with_autocast", "wrap")


def is_region(node: fx.Node) -> bool:
    return isinstance(node.target, torch._ops.HigherOrderOperator) and node.target.name() in _REGION_OPS


def region_name(node: fx.Node) -> str:
    name = node.target.name()  # type: ignore[union-attr]
    if name == "wrap_with_set_grad_enabled":
        return "torch.no_grad()" if node.args and node.args[0] is False else "torch.enable_grad()"
    return "autocast" if "autocast" in name else name


def attribute(root: nn.Module, target: str) -> Any:
    out: Any = root
    for part in target.split("."):
        out = getattr(out, part)
    return out
