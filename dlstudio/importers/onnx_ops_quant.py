"""QDQ-quantized ONNX models -> float layers.

Quantized weights reach the layers through DequantizeLinear nodes on constants, which the importer folds to
float tensors (the weights as the quantized model sees them). QuantizeLinear -> DequantizeLinear pairs on
activations simulate 8-bit rounding; they are dropped, so the import is the float model those weights belong to:
its outputs differ from the quantized model's by about the rounding steps. `dequantize` is the numpy folding of
DequantizeLinear, for opsets whose reference implementation onnx lacks (before 19).
"""

from __future__ import annotations

from typing import Any
from weakref import WeakKeyDictionary

import numpy as np

from .base import Context, Unsupported, handles
from .onnx_ops_common import attrs

_QUANTIZED: WeakKeyDictionary[Context, set[str]] = WeakKeyDictionary()  # values standing for a dropped Quantize


def dequantize(node: Any, x: np.ndarray, scale: np.ndarray, zero_point: np.ndarray | None) -> np.ndarray:
    """DequantizeLinear on constants: (x - zero_point) * scale, per tensor or per `axis` (no blocked form)."""
    at = attrs(node)
    if at.get("block_size", 0):
        raise Unsupported("blocked dequantization (block_size)")
    scale = np.asarray(scale, dtype=np.float32)
    zp = np.zeros((), dtype=np.float32) if zero_point is None else np.asarray(zero_point).astype(np.float32)
    xf = np.asarray(x).astype(np.float32)
    if scale.ndim == 1 and scale.size > 1:
        axis = int(at.get("axis", 1)) % xf.ndim
        shape = [1] * xf.ndim
        shape[axis] = scale.size
        scale, zp = scale.reshape(shape), (zp.reshape(shape) if zp.ndim == 1 else zp)
    return (xf - zp) * scale


def mark_quantized(ctx: Context, name: str) -> None:
    """`name` is the float value of a quantized activation (a rewritten QLinear op's output): a DequantizeLinear
    of it hands the value on."""
    _QUANTIZED.setdefault(ctx, set()).add(name)


@handles("QuantizeLinear")
def _quantize(ctx: Context, node: Any, name: str) -> None:
    x = ctx.value(node.input[0])
    if x.info.dtype != "float32":
        raise Unsupported(f"quantizing a {x.info.dtype} tensor")
    ctx.bind(node.output[0], x)  # the float value; the DequantizeLinear after it hands it on
    _QUANTIZED.setdefault(ctx, set()).add(node.output[0])


@handles("DequantizeLinear")
def _dequantize(ctx: Context, node: Any, name: str) -> None:
    if node.input[0] not in _QUANTIZED.get(ctx, set()):
        raise Unsupported("dequantizing a tensor that no QuantizeLinear of a layer output produced")
    ctx.bind(node.output[0], ctx.value(node.input[0]))
