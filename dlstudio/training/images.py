"""Image grids of a generative run's samples, written as PNG without an imaging library."""

from __future__ import annotations

import math
import struct
import zlib
from pathlib import Path

import numpy as np
import torch

from ..core.files import atomic_write_bytes


def image_grid(
    images: torch.Tensor, nrow: int, pad: int = 2, value_range: tuple[float, float] = (0.0, 1.0)
) -> np.ndarray:
    """(N, C, H, W) or (N, F) images as one uint8 (H, W, C) mosaic; flat samples are shown as squares when
    F is a square number (8x8 digits), else as one-row strips."""
    x = images.detach().float().cpu()
    if x.dim() == 2:
        side = int(round(math.sqrt(x.shape[1])))
        x = x.reshape(len(x), 1, side, side) if side * side == x.shape[1] else x.reshape(len(x), 1, 1, -1)
    elif x.dim() == 3:
        x = x.unsqueeze(1)
    if x.shape[1] not in (1, 3):
        x = x[:, :1]
    lo, hi = value_range
    x = ((x - lo) / (hi - lo)).clamp(0, 1)
    n, c, h, w = x.shape
    ncol = min(nrow, n)
    rows = math.ceil(n / ncol)
    out = torch.ones(c, rows * (h + pad) + pad, ncol * (w + pad) + pad)
    for i in range(n):
        r, col = divmod(i, ncol)
        out[:, pad + r * (h + pad) : pad + r * (h + pad) + h, pad + col * (w + pad) : pad + col * (w + pad) + w] = x[i]
    return (out.permute(1, 2, 0).numpy() * 255).round().astype(np.uint8)


def write_png(path: Path, pixels: np.ndarray) -> Path:
    """A minimal PNG writer (8-bit grey or RGB, no filtering) so headless runs need no imaging library."""
    if pixels.ndim == 3 and pixels.shape[2] == 1:
        pixels = pixels[:, :, 0]
    h, w = pixels.shape[:2]
    color = 2 if pixels.ndim == 3 else 0
    raw = b"".join(b"\x00" + np.ascontiguousarray(pixels[y]).tobytes() for y in range(h))

    def chunk(tag: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + tag + data + struct.pack(">I", zlib.crc32(tag + data) & 0xFFFFFFFF)

    body = (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, color, 0, 0, 0))
        + chunk(b"IDAT", zlib.compress(raw, 6))
        + chunk(b"IEND", b"")
    )
    atomic_write_bytes(path, body)
    return path
