"""Arithmetic with a stored tensor: x + c, x - c, x * c, x / c, x ** c (or c - x, c / x, c ** x)."""

from __future__ import annotations

import torch
from torch import nn

_OPS = {
    "add": torch.add,
    "sub": torch.sub,
    "mul": torch.mul,
    "div": torch.div,
    "pow": torch.pow,
}


class Arithmetic(nn.Module):
    """Combines its input element by element with a tensor of `shape` (broadcast over the batch and over
    every size-1 dimension). `learnable`: the tensor is a trained parameter, else a fixed buffer.
    `reverse`: the tensor is the left operand (c - x instead of x - c)."""

    def __init__(
        self,
        op: str = "mul",
        shape: tuple[int, ...] = (1,),
        init: float = 1.0,
        learnable: bool = True,
        reverse: bool = False,
    ) -> None:
        super().__init__()
        if op not in _OPS:
            raise ValueError(f"op must be one of {', '.join(_OPS)}, got {op!r}")
        self.op, self.shape, self.init, self.learnable, self.reverse = op, tuple(shape), init, learnable, reverse
        value = torch.full(self.shape, float(init))
        if learnable:
            self.weight = nn.Parameter(value)
        else:
            self.register_buffer("weight", value)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        fn = _OPS[self.op]
        return fn(self.weight, x) if self.reverse else fn(x, self.weight)

    def extra_repr(self) -> str:
        return (
            f"op={self.op!r}, shape={self.shape}, init={self.init}, learnable={self.learnable}, reverse={self.reverse}"
        )
