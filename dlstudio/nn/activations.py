"""Activations that torch.nn lacks."""

from __future__ import annotations

import torch
from torch import nn


class Step(nn.Module):
    """Heaviside step: 1.0 where x > 0, else 0.0 (the classic perceptron unit).

    The comparison has no gradient, so nothing upstream of a Step learns by backpropagation.
    """

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # equals (x > 0) as float; sign(relu(x)) keeps the autograd graph connected (gradient exactly zero)
        # so a loss behind a Step still backpropagates instead of failing with "does not require grad"
        return torch.sign(torch.relu(x))
