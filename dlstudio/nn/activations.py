"""Activations that torch.nn lacks."""
from __future__ import annotations

import torch
from torch import nn


class Step(nn.Module):
    """Heaviside step: 1.0 where x > 0, else 0.0 (the classic perceptron unit).

    The comparison has no gradient, so nothing upstream of a Step learns by backpropagation.
    """

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return (x > 0).to(x.dtype)
