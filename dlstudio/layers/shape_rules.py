"""Helpers shared by the pure-Python shape, parameter and MAC rules."""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from typing import Any

from ..core.errors import ShapeError
from ..core.tensor import BATCH, Dim, TensorInfo


def ntuple(value: Any, n: int) -> tuple[int, ...]:
    """An int or tuple parameter as a tuple of length n."""
    if isinstance(value, (list, tuple)):
        if len(value) != n:
            raise ShapeError(f"expects {n} values, got {len(value)}")
        return tuple(value)
    return (value,) * n


def prod(values: Iterable[Dim]) -> int:
    """Product of feature sizes (symbolic Dims past the batch dimension are always ints)."""
    return math.prod(int(v) for v in values)


def require(inputs: Sequence[TensorInfo | None], layer: str, index: int = 0, port: str = "input") -> TensorInfo:
    """The tensor on input `index`; raises if the port is unwired (diagnostics report that separately)."""
    t = inputs[index] if index < len(inputs) else None
    if t is None:
        raise ShapeError(f"{layer} has nothing connected to '{port}'", port=port)
    return t


def expect_rank(t: TensorInfo, ranks: Sequence[int], layer: str, what: str, port: str = "input") -> None:
    """Raise a ShapeError unless t has one of `ranks` dimensions (batch included)."""
    if t.rank not in ranks:
        want = " or ".join(f"{r - 1}-D" for r in ranks)
        raise ShapeError(
            f"{layer} expects {what} ({want} per sample) but receives {t.rank - 1}-D {t}: "
            f"insert Reshape/Flatten/Unsqueeze before it or pick the matching layer",
            port=port,
            expected=want,
            got=str(t),
        )


def expect_float(t: TensorInfo, layer: str, port: str = "input") -> None:
    if t.dtype != "float32":
        raise ShapeError(
            f"{layer} expects float values but receives {t.dtype}: only Embedding takes integer "
            f"indices; feed it through Embedding or make the Input float",
            port=port,
            expected="float32",
            got=t.dtype,
        )


def conv_out(size: int, kernel: int, stride: int = 1, padding: int = 0, dilation: int = 1) -> int:
    return (size + 2 * padding - dilation * (kernel - 1) - 1) // stride + 1


def conv_transpose_out(
    size: int, kernel: int, stride: int = 1, padding: int = 0, output_padding: int = 0, dilation: int = 1
) -> int:
    return (size - 1) * stride - 2 * padding + dilation * (kernel - 1) + output_padding + 1


def pool_out(size: int, kernel: int, stride: int, padding: int = 0, dilation: int = 1, ceil_mode: bool = False) -> int:
    num = size + 2 * padding - dilation * (kernel - 1) - 1
    out = (-(-num // stride) if ceil_mode else num // stride) + 1
    if ceil_mode and (out - 1) * stride >= size + padding:
        out -= 1
    return out


def same_shape(params: dict, inputs: Sequence[TensorInfo | None]) -> list[TensorInfo]:
    """Output equals input (activations, dropout, ...)."""
    t = require(inputs, "This layer")
    return [t]


def elementwise_macs(params: dict, inputs: Sequence[TensorInfo | None], outputs: Sequence[TensorInfo]) -> int:
    """One operation per output element (activations, merges)."""
    return sum(o.numel_per_sample() for o in outputs)


def batch(*dims: int) -> tuple:
    return (BATCH, *dims)
