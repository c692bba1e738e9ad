"""Batch image augmentation on tensors (training batches only): random horizontal flip, rotation and shift in
one affine resample, then Gaussian noise. Uses torch's global RNG, which checkpoints save, so resume is exact."""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from ..config import Augment


def augment_batch(x: torch.Tensor, aug: Augment) -> torch.Tensor:
    """`x`: (N, C, H, W) float images. Returns a new tensor; `x` is left alone."""
    if not aug.active():
        return x
    if x.dim() != 4 or not x.is_floating_point():
        return x  # augmentation only makes sense for float images
    n, _, h, w = x.shape
    out = x
    if aug.flip:
        mask = torch.rand(n, device=x.device) < 0.5
        out = torch.where(mask[:, None, None, None], out.flip(-1), out)
    if aug.rotation > 0 or aug.shift > 0:
        angle = (torch.rand(n, device=x.device) * 2 - 1) * math.radians(aug.rotation)
        tx = (torch.rand(n, device=x.device) * 2 - 1) * (2 * aug.shift / max(w, 1))
        ty = (torch.rand(n, device=x.device) * 2 - 1) * (2 * aug.shift / max(h, 1))
        cos, sin = torch.cos(angle), torch.sin(angle)
        theta = torch.stack([torch.stack([cos, -sin, tx], 1), torch.stack([sin, cos, ty], 1)], 1)
        grid = F.affine_grid(theta.to(out.dtype), list(out.shape), align_corners=False)
        out = F.grid_sample(out, grid, mode="bilinear", padding_mode="zeros", align_corners=False)
    if aug.noise > 0:
        out = out + torch.randn_like(out) * aug.noise
    return out
