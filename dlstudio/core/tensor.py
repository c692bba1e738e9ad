"""Symbolic tensor descriptions used by shape inference (no torch).

Shapes include the batch dimension first, written as the symbol BATCH ("N"); every other dimension is an int.
"""

from __future__ import annotations

from dataclasses import dataclass

BATCH = "N"
DTYPES = ("float32", "int64", "bool")

Dim = int | str


@dataclass(frozen=True)
class TensorInfo:
    shape: tuple[Dim, ...]
    dtype: str = "float32"

    @property
    def rank(self) -> int:
        return len(self.shape)

    @property
    def features(self) -> tuple[Dim, ...]:
        """The shape without the batch dimension."""
        return self.shape[1:]

    def numel_per_sample(self) -> int:
        n = 1
        for d in self.shape[1:]:
            n *= int(d)
        return n

    def with_shape(self, shape: tuple[Dim, ...]) -> TensorInfo:
        return TensorInfo(tuple(shape), self.dtype)

    def __str__(self) -> str:
        dims = ", ".join(str(d) for d in self.shape)
        suffix = "" if self.dtype == "float32" else f" {self.dtype}"
        return f"({dims}){suffix}"


def batched(features: tuple[int, ...] | list[int], dtype: str = "float32") -> TensorInfo:
    return TensorInfo((BATCH, *tuple(int(f) for f in features)), dtype)
