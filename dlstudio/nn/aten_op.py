"""AtenOp: one PyTorch operator (an ATen op such as ``aten.mul.Tensor``) imported as-is from a torch.export graph.

`arguments` is ``{"args": [...], "kwargs": {...}}`` as the exported graph called the op, in JSON form:
- ``{"tensor": i}``: the i-th tensor slot; `layout[i]` says where it comes from: ``"x"`` the next wired input
  (forward's positional arguments), ``{"param": shape}`` a trainable parameter ``c<i>``, ``{"buffer": shape,
  "dtype": ...}`` a buffer ``c<i>`` (masks, integer tables);
- ``{"sym": "2*N"}``: a size that follows the batch, N being dimension 0 of wired input `batch_input` (0);
- ``{"dtype": "float32"}``, ``{"layout": "strided"}``, ``{"memory_format": "contiguous_format"}``;
- ``{"device": ...}``: the device of the op's inputs (so the model moves between CPU and GPU);
- ``{"float": "inf"}`` / ``"-inf"`` / ``"nan"``; plain numbers, booleans, strings, None and lists as themselves.
"""

from __future__ import annotations

import ast
import operator
from typing import Any

import torch
from torch import nn

_DTYPES = {"float32": torch.float32, "int64": torch.int64, "bool": torch.bool}
_SYM_OPS: dict[type, Any] = {
    ast.Add: operator.add,
    ast.Sub: operator.sub,
    ast.Mult: operator.mul,
    ast.FloorDiv: operator.floordiv,
    ast.Mod: operator.mod,
}
_SYM_CALLS: dict[str, Any] = {
    "Max": torch.sym_max,
    "Min": torch.sym_min,
    "FloorDiv": operator.floordiv,
    "Mod": operator.mod,
}


def _to_copy(x: torch.Tensor, *, dtype: Any = None, **_: Any) -> torch.Tensor:
    """`x.float()`, `x.to(torch.long)`; the device is always the input's (see the module docstring)."""
    return x.to(dtype) if dtype is not None and dtype != x.dtype else x.clone()


# Internal ATen ops that torch.export records for public calls (`x.float()` -> _to_copy, `F.softmax` inside library
# code -> _softmax): run as the public call, which computes the same and which the ONNX exporter knows.
_PUBLIC_FORMS: dict[str, Any] = {
    "aten._to_copy.default": _to_copy,
    "aten._softmax.default": lambda x, dim, half_to_float=False: torch.softmax(x, dim),
    "aten._log_softmax.default": lambda x, dim, half_to_float=False: torch.log_softmax(x, dim),
    "aten.lift_fresh_copy.default": torch.clone,
    "aten.alias.default": lambda x: x,
}
# recurrent ops: (input, hx, params, has_biases, num_layers, dropout, train, bidirectional, batch_first)
_RECURRENT = ("aten.lstm.input", "aten.gru.input", "aten.rnn_tanh.input", "aten.rnn_relu.input")


def _check_recurrent_state(op: str, args: list) -> None:
    """torch's CPU kernels do not check that the initial state's batch matches the input's (and crash the
    process when it does not): check it here."""
    x, hx = args[0], args[1]
    states = hx if isinstance(hx, (list, tuple)) else [hx]
    batch = x.shape[0] if args[8] else x.shape[1]
    for h in states:
        if isinstance(h, torch.Tensor) and x.dim() == 3 and (h.dim() != 3 or h.shape[1] != batch):
            raise ValueError(f"{op}: the initial state {tuple(h.shape)} does not match the batch {batch} of the input")


def resolve_op(name: str) -> Any:
    """`aten.mul.Tensor` -> torch.ops.aten.mul.Tensor. Raises ValueError for an unknown op."""
    parts = name.split(".")
    target: Any = torch.ops
    try:
        for part in parts:
            target = getattr(target, part)
    except (AttributeError, RuntimeError):
        raise ValueError(f"torch has no operator {name!r}") from None
    return target


def eval_size(expr: str, batch: int) -> int:
    """A size expression in the batch N (`2*N`, `N - 1`, `(N//2)`), with integer arithmetic only."""

    def ev(node: ast.AST) -> int:
        if isinstance(node, ast.Expression):
            return ev(node.body)
        if isinstance(node, ast.Constant) and isinstance(node.value, int):
            return node.value
        if isinstance(node, ast.Name) and node.id == "N":
            return batch
        if isinstance(node, ast.BinOp) and type(node.op) in _SYM_OPS:
            return _SYM_OPS[type(node.op)](ev(node.left), ev(node.right))
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
            return -ev(node.operand)
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in _SYM_CALLS:
            return _SYM_CALLS[node.func.id](*(ev(a) for a in node.args))
        raise ValueError(f"unsupported size expression {expr!r}")

    return ev(ast.parse(expr, mode="eval"))


class AtenOp(nn.Module):
    """A PyTorch operator imported as-is (op name + constant arguments)."""

    def __init__(self, op: str, arguments: dict, layout: list) -> None:
        super().__init__()
        self.op = op
        self.arguments = dict(arguments)
        self.layout = list(layout)
        self._fn = _PUBLIC_FORMS.get(op) or resolve_op(op)
        for i, entry in enumerate(self.layout):
            if isinstance(entry, dict):
                dtype = _DTYPES[entry.get("dtype", "float32")]
                if "param" in entry:
                    self.register_parameter(f"c{i}", nn.Parameter(torch.zeros(entry["param"], dtype=dtype)))
                else:
                    self.register_buffer(f"c{i}", torch.zeros(entry["buffer"], dtype=dtype))

    def _decode(self, value: Any, tensors: list[torch.Tensor], batch: int, device: torch.device) -> Any:
        if isinstance(value, list):
            return [self._decode(v, tensors, batch, device) for v in value]
        if not isinstance(value, dict):
            return value
        if "tensor" in value:
            return tensors[value["tensor"]]
        if "sym" in value:
            return eval_size(value["sym"], batch)
        if "dtype" in value:
            return getattr(torch, value["dtype"])
        if "device" in value:
            return device
        if "layout" in value:
            return getattr(torch, value["layout"])
        if "memory_format" in value:
            return getattr(torch, value["memory_format"])
        if "float" in value:
            return float(value["float"])
        raise ValueError(f"{self.op}: unknown argument encoding {value!r}")

    def forward(self, *xs: torch.Tensor) -> Any:
        tensors: list[torch.Tensor] = []
        k = 0
        for i, entry in enumerate(self.layout):
            if entry == "x":
                tensors.append(xs[k])
                k += 1
            else:
                tensors.append(getattr(self, f"c{i}"))
        source = self.arguments.get("batch_input", 0)  # the wired input whose dimension 0 is the batch
        # kept symbolic (no int()): a model exported again with torch.export keeps its batch dynamic
        batch = xs[source].shape[0] if source < len(xs) and xs[source].dim() else 1
        device = xs[0].device if xs else torch.device("cpu")
        args = self._decode(self.arguments.get("args", []), tensors, batch, device)
        kwargs = {k: self._decode(v, tensors, batch, device) for k, v in self.arguments.get("kwargs", {}).items()}
        if self.op in _RECURRENT and len(args) == 9:
            _check_recurrent_state(self.op, args)
        out = self._fn(*args, **kwargs)
        if isinstance(out, (tuple, list)):
            return tuple(_plain_dtype(t) for t in out)
        return _plain_dtype(out)

    def extra_repr(self) -> str:
        return f"{self.op}, arguments={self.arguments}"


def _plain_dtype(t: Any) -> Any:
    """dlstudio tensors are float32, int64 or bool."""
    if not isinstance(t, torch.Tensor) or t.dtype in (torch.float32, torch.int64, torch.bool):
        return t
    return t.float() if t.is_floating_point() else t.long()
