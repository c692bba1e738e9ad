"""The torch.export import fallback: an operator without a catalog mapping becomes a generic AtenOp node.

Its arguments are written as JSON (dlstudio.nn.aten_op documents the encoding): tensors produced by mapped layers
become wires, parameters and buffers of the original module become the node's own tensors (trainable where the
original was a parameter), sizes that follow the batch become expressions in N. Its output shapes are recorded by
running the op (dlstudio.compiler.oracle.run_op_shapes).
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from typing import Any

import torch
from torch import fx

from ..compiler.oracle import BatchDependentShape, run_op_shapes
from ..core.errors import ShapeError
from ..layers.builtin.generic import encode_infos
from ..nn.aten_op import AtenOp
from .base import Context, Unsupported, Value


@dataclass
class Const:
    """A tensor known at import: a parameter, buffer or constant of the original module, or one computed only
    from those (folded). `trainable`: a parameter went into it, so the node that uses it keeps it trainable."""

    tensor: torch.Tensor
    trainable: bool


class BatchSymbols:
    """Which symbol of the exported graph is the batch (dimension 0 of the first input), to write sizes as N."""

    def __init__(self) -> None:
        self.symbol: Any = None

    def expression(self, value: Any) -> Any:
        """A SymInt as {"sym": "..."} in N, or a plain int when it is concrete."""
        node = getattr(value, "node", None)
        expr = getattr(node, "expr", None)
        if expr is None:
            return int(value)
        if getattr(expr, "is_number", False):
            return int(expr)
        free = getattr(expr, "free_symbols", set())
        if self.symbol is None or free - {self.symbol}:
            raise Unsupported(f"a size ({expr}) depends on something other than the batch size")
        import sympy

        return {"sym": str(expr.subs(self.symbol, sympy.Symbol("N")))}


def dtype_name(dtype: torch.dtype) -> str:
    return str(dtype).replace("torch.", "")


class ArgumentWriter:
    """Encodes one call's arguments; collects its wired Values and its own tensors."""

    def __init__(self, env: dict[fx.Node, Any], symbols: BatchSymbols) -> None:
        self.env = env
        self.symbols = symbols
        self.layout: list[Any] = []
        self.wired: list[Value] = []
        self.weights: dict[str, Any] = {}
        self.uses_batch = False

    def tensor_slot(self, value: Value | Const) -> dict[str, int]:
        i = len(self.layout)
        if isinstance(value, Value):
            self.layout.append("x")
            self.wired.append(value)
        else:
            t = value.tensor.detach()
            kind = "param" if value.trainable and t.is_floating_point() else "buffer"
            t = t.float() if t.is_floating_point() else t.long() if t.dtype != torch.bool else t
            self.layout.append({kind: list(t.shape), "dtype": dtype_name(t.dtype)})
            self.weights[f"c{i}"] = t.cpu()
        return {"tensor": i}

    def encode(self, a: Any) -> Any:
        if isinstance(a, fx.Node):
            v = self.env.get(a)
            if isinstance(v, (Value, Const)):
                return self.tensor_slot(v)
            if isinstance(v, tuple):
                return [self.encode_value(x) for x in v]
            return self.encode_value(v)
        if isinstance(a, (list, tuple)):
            return [self.encode(x) for x in a]
        return self.encode_value(a)

    def encode_value(self, v: Any) -> Any:
        if isinstance(v, (Value, Const)):
            return self.tensor_slot(v)
        if isinstance(v, (list, tuple)):
            return [self.encode_value(x) for x in v]
        if isinstance(v, bool) or v is None or isinstance(v, str):
            return v
        if isinstance(v, torch.SymInt):
            out = self.symbols.expression(v)
            self.uses_batch |= isinstance(out, dict)
            return out
        if isinstance(v, (torch.SymFloat, torch.SymBool)):
            raise Unsupported(f"a symbolic {type(v).__name__} argument ({v})")
        if isinstance(v, int):
            return v
        if isinstance(v, float):
            return v if math.isfinite(v) else {"float": str(v)}
        if isinstance(v, torch.dtype):
            return {"dtype": dtype_name(v)}
        if isinstance(v, torch.device):
            return {"device": str(v)}
        if isinstance(v, torch.layout):
            return {"layout": str(v).replace("torch.", "")}
        if isinstance(v, torch.memory_format):
            return {"memory_format": str(v).replace("torch.", "")}
        raise Unsupported(f"an argument of type {type(v).__name__} ({v!r}) cannot be written")


_AS_RESHAPE = {"aten.view.default": "aten.reshape.default", "aten._unsafe_view.default": "aten.reshape.default"}


def op_name(target: Any) -> str:
    """torch.ops.aten.mul.Tensor -> 'aten.mul.Tensor'."""
    name = getattr(target, "name", None)
    if callable(name):
        full = str(name())  # 'aten::mul.Tensor'
        ns, _, rest = full.partition("::")
        return f"{ns}.{rest}" if "." in rest else f"{ns}.{rest}.default"
    raise Unsupported(f"{target} is not a PyTorch operator")


def add_aten_op(
    ctx: Context,
    node: fx.Node,
    env: dict[fx.Node, Any],
    symbols: BatchSymbols,
    batch_value: Value | None,
    label: str,
    fixed_batch: int | None,
) -> list[Value]:
    """Add `node` as an AtenOp and return its output Values. Raises Unsupported with the reason."""
    op = op_name(node.target)
    # a view of a tensor made contiguous upstream (x.contiguous().view(...)) may not be contiguous once the
    # contiguous call maps to nothing: reshape is a view where it can be and a copy where it must
    op = _AS_RESHAPE.get(op, op)
    for t in node.meta.get("val") if isinstance(node.meta.get("val"), (list, tuple)) else [node.meta.get("val")]:
        if isinstance(t, torch.Tensor) and t.dtype.is_complex:
            raise Unsupported(
                f"gives a {dtype_name(t.dtype)} tensor: the graph's tensors are real (float32, int64, bool); "
                f"write complex arithmetic with real tensors (rotary embeddings as cos/sin products)"
            )
    w = ArgumentWriter(env, symbols)
    args = [w.encode(a) for a in node.args]
    kwargs = {k: w.encode(v) for k, v in node.kwargs.items()}
    arguments: dict[str, Any] = {"args": args, "kwargs": kwargs}
    batch_input = next((i for i, v in enumerate(w.wired) if v.info.shape[:1] == ("N",)), None)
    # the batch size is read from a wired input only for sizes written in N, and a creation op (zeros, arange)
    # needs one wire for its device: an op on wired tensors with concrete sizes takes no extra wire
    if batch_input is None and (w.uses_batch or not w.wired):
        if batch_value is None:
            raise Unsupported("no input comes from the model's inputs")
        # an op that only creates a tensor (zeros, randn, arange): wired to the input for its batch and device
        w.layout.append("x")
        w.wired.append(batch_value)
        batch_input = len(w.wired) - 1
    if batch_input and w.uses_batch:  # only where a size is read from it: the same node however it is wired
        arguments["batch_input"] = batch_input
    infos = [v.info for v in w.wired]
    try:
        module = AtenOp(op, arguments, w.layout)
        for k, t in w.weights.items():
            getattr(module, k).data = torch.as_tensor(t)
        batches = (fixed_batch, fixed_batch) if fixed_batch else (2, 3)
        outs = run_op_shapes(module, infos, batches)  # type: ignore[arg-type]
    except BatchDependentShape:
        raise
    except ShapeError as exc:
        raise Unsupported(str(exc)) from None
    except Exception as exc:  # the op rejects its recorded arguments: say so, with torch's reason
        raise Unsupported(f"{op} cannot run as imported: {exc}") from None
    params = {
        "op": op,
        "arguments": json.dumps(arguments, sort_keys=True),
        "layout": json.dumps(w.layout),
        "num_outputs": len(outs),
        "shapes": json.dumps({"in": encode_infos(infos), "out": encode_infos(list(outs))}),
    }
    outs = ctx.add("AtenOp", w.wired, params, label=label)
    for k, t in w.weights.items():
        ctx.weights[f"{outs[0].node_id}.{k}"] = t
    return outs
