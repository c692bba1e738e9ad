"""Attention helpers that torch.nn lacks: positional encodings for sequence models (batch_first)."""

from __future__ import annotations

import math

import torch
from torch import nn


class PositionalEncoding(nn.Module):
    """Adds position information to a (N, L, embed_dim) sequence.

    kind="sinusoidal": the fixed sine/cosine table of "Attention Is All You Need" (a buffer, no parameters).
    kind="learned": a trainable (max_len, embed_dim) table, as in BERT/GPT.
    """

    def __init__(self, embed_dim: int, max_len: int = 512, kind: str = "sinusoidal", dropout: float = 0.0) -> None:
        super().__init__()
        if kind not in ("sinusoidal", "learned"):
            raise ValueError(f"kind must be 'sinusoidal' or 'learned', got {kind!r}")
        self.embed_dim = embed_dim
        self.max_len = max_len
        self.kind = kind
        self.dropout = nn.Dropout(dropout)
        if kind == "learned":
            self.weight = nn.Parameter(torch.zeros(max_len, embed_dim))
            nn.init.normal_(self.weight, std=0.02)
        else:
            position = torch.arange(max_len, dtype=torch.float32).unsqueeze(1)
            div_term = torch.exp(torch.arange(0, embed_dim, 2, dtype=torch.float32) * (-math.log(10000.0) / embed_dim))
            table = torch.zeros(max_len, embed_dim)
            table[:, 0::2] = torch.sin(position * div_term)
            # an odd embed_dim has one fewer cosine column than sine columns
            table[:, 1::2] = torch.cos(position * div_term)[:, : embed_dim // 2]
            self.register_buffer("pe", table, persistent=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        table = self.weight if self.kind == "learned" else self.pe
        return self.dropout(x + table[: x.size(1)])

    def extra_repr(self) -> str:
        return f"embed_dim={self.embed_dim}, max_len={self.max_len}, kind={self.kind!r}"
