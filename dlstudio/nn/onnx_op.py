"""OnnxOp: one ONNX operation imported as-is, run with torch functions.

The op table lives in two modules split by op family (`onnx_op_math`: elementwise, reductions, activations,
normalisation; `onnx_op_shape`: shapes, indexing, padding, resizing). Each entry is a small function
``fn(a: Args, attrs: dict, opset: int)`` returning a tensor or a tuple of tensors.

`layout` says where each ONNX input comes from, in ONNX input order:
- ``"x"``: the next tensor wired into the node (forward's positional arguments);
- ``{"x": d}``: the same, batch-first, where the ONNX op expects the batch at dim ``d`` (moved there first);
- ``None``: an optional input left out;
- ``{"value": nested list, "dtype": ...}``: a small constant written into the constructor;
- ``{"param": shape, "dtype": "float32"}``: a float constant stored as a trainable parameter ``c<index>``;
- ``{"buffer": shape, "dtype": ...}``: a large integer constant stored as a buffer ``c<index>``;
- any constant entry with ``"batch": true``: one row (batch 1) of a constant the model repeats over the batch
  (``Expand(cls_token, [N, -1, -1])``, ``ConstantOfShape(Shape(x))``), expanded to the batch of the first wired
  tensor when the op runs.

The attribute ``_batch_at`` (one entry per output) marks outputs whose batch the op moves out of dim 0 (a Transpose
to sequence-first: the dim; a Reshape to (T, N*H, D): [dim, H], or [dim, -T] for (T*N, E)): they are returned
with the batch as dim 0.
An input entry ``{"x": d, "merged": H}`` is the reverse: the batch-first tensor is merged back into dim ``d``.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from .onnx_op_attention import ATTENTION_OPS
from .onnx_op_conv import CONV_OPS
from .onnx_op_math import MATH_OPS, OnnxArgs
from .onnx_op_pool import POOL_OPS
from .onnx_op_shape import SHAPE_OPS


def onnx_ops() -> dict[str, Any]:
    """The op table (built on use: the code exporter may inline the op-family modules after this one)."""
    return {**MATH_OPS, **SHAPE_OPS, **POOL_OPS, **ATTENTION_OPS, **CONV_OPS}


# inputs read as Python values (shapes, axes, sizes): always written as literals, never trained
STATIC_INPUTS: dict[str, tuple[int, ...]] = {
    "Reshape": (1,),
    "Expand": (1,),
    "Tile": (1, 2),
    "Squeeze": (1,),
    "Unsqueeze": (1,),
    "Split": (1,),
    "Slice": (1, 2, 3, 4),
    "Pad": (1, 2, 3),
    "Resize": (1, 2, 3),
    "Upsample": (1,),
    "TopK": (1,),
    "OneHot": (1, 2),
    "Range": (0, 1, 2),
    "ConstantOfShape": (0,),
    "CumSum": (1,),
    "Trilu": (1,),
    "Clip": (1, 2),
    "ReduceMean": (1,),
    "ReduceSum": (1,),
    "ReduceMax": (1,),
    "ReduceMin": (1,),
    "ReduceProd": (1,),
    "ReduceL1": (1,),
    "ReduceL2": (1,),
    "ReduceLogSum": (1,),
    "ReduceLogSumExp": (1,),
    "ReduceSumSquare": (1,),
    "EyeLike": (),
}

_DTYPES = {"float32": torch.float32, "int64": torch.int64, "bool": torch.bool}


def onnx_supported(op_type: str) -> bool:
    """Whether OnnxOp can run this ONNX op type."""
    return op_type in onnx_ops()


class OnnxOp(nn.Module):
    """An ONNX operation imported as-is (op type + attributes), computed with torch functions."""

    def __init__(self, op_type: str, attributes: dict, layout: list, opset: int = 13) -> None:
        super().__init__()
        table = onnx_ops()
        if op_type not in table:
            raise ValueError(f"ONNX op {op_type!r} has no torch implementation in dlstudio")
        self.op_type = op_type
        self.attributes = dict(attributes)
        self.layout = list(layout)
        self.opset = int(opset)
        self._fn = table[op_type]
        self._literals: dict[int, Any] = {}
        self._batched = {i for i, e in enumerate(self.layout) if isinstance(e, dict) and e.get("batch")}
        self._batch_at = list(self.attributes.get("_batch_at", []))
        for i, entry in enumerate(self.layout):
            if isinstance(entry, dict) and "x" not in entry:
                dtype = _DTYPES[entry.get("dtype", "float32")]
                if "value" in entry:
                    if i not in self._batched:  # a batch row is a tensor, never read as a Python value
                        self._literals[i] = entry["value"]
                    self.register_buffer(f"k{i}", torch.tensor(entry["value"], dtype=dtype), persistent=False)
                elif "param" in entry:
                    self.register_parameter(f"c{i}", nn.Parameter(torch.zeros(entry["param"], dtype=dtype)))
                else:
                    self.register_buffer(f"c{i}", torch.zeros(entry["buffer"], dtype=dtype))

    def forward(self, *xs: torch.Tensor) -> Any:
        tensors: list[torch.Tensor | None] = []
        k = 0
        for i, entry in enumerate(self.layout):
            if entry == "x":
                tensors.append(xs[k])
                k += 1
            elif isinstance(entry, dict) and "x" in entry:  # a batch-first tensor whose ONNX form has it elsewhere
                at, merged = int(entry["x"]), int(entry.get("merged", 0))
                t = xs[k].movedim(0, at + 1 if merged < 0 else at)  # merged < 0: the batch is the inner factor
                tensors.append(t.flatten(at, at + 1) if merged else t)
                k += 1
            elif entry is None:
                tensors.append(None)
            else:
                t = getattr(self, f"k{i}" if "value" in entry else f"c{i}")
                if i in self._batched and xs:
                    t = t.expand(xs[0].shape[0], *t.shape[1:])
                tensors.append(t)
        out = self._fn(OnnxArgs(tensors, self._literals), self.attributes, self.opset)
        if self._batch_at:  # outputs whose batch the op moved out of dim 0 are stored batch-first
            outs = list(out) if isinstance(out, (tuple, list)) else [out]
            outs = [_batch_first(t, d) for t, d in zip(outs, self._batch_at)] + outs[len(self._batch_at) :]
            out = tuple(outs) if isinstance(out, (tuple, list)) else outs[0]
        if isinstance(out, (tuple, list)):
            return tuple(_plain_dtype(t) for t in out)
        return _plain_dtype(out)

    def extra_repr(self) -> str:
        return f"{self.op_type}, attributes={self.attributes}, opset={self.opset}"


def _batch_first(t: torch.Tensor, at: Any) -> torch.Tensor:
    """An output with its batch at dim `at` (or merged into dim at[0] as batch * at[1]) moved to dim 0."""
    if isinstance(at, (list, tuple)):
        dim, size = int(at[0]), int(at[1])
        if size < 0:  # (size*N): the batch is the inner factor
            return t.unflatten(dim, (-size, -1)).movedim(dim + 1, 0)
        return t.unflatten(dim, (-1, size)).movedim(dim, 0)
    return t.movedim(int(at), 0) if at else t


def _plain_dtype(t: torch.Tensor) -> torch.Tensor:
    """dlstudio tensors are float32, int64 or bool."""
    if t.dtype in (torch.float32, torch.int64, torch.bool):
        return t
    return t.float() if t.is_floating_point() else t.long()
