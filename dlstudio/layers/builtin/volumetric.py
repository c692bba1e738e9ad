"""Layers for volumes (C, D, H, W): BatchNorm3d. Its helpers are BatchNorm1d/2d's (norm.py)."""

from __future__ import annotations

from ..registry import register
from ..spec import LayerSpec
from .norm import X, Y, _affine_count, _bn_kwargs, _bn_params, _bn_sample, _checked, _norm_macs

register(
    LayerSpec(
        type="BatchNorm3d",
        category="Normalization",
        explanation=(
            "Normalizes each channel of (C, D, H, W) volumes over the batch and all positions of the volume, then "
            "applies a learned per-channel scale and shift. It follows Conv3d in video and medical-scan models. "
            "Volumes are large, so batches are small and the statistics noisy; GroupNorm is the usual fallback."
        ),
        inputs=X,
        outputs=Y,
        params=_bn_params(),
        shape=_checked("BatchNorm3d", (5,), "volumes (C, D, H, W)"),
        param_count=_affine_count("affine"),
        macs=_norm_macs,
        module="torch.nn.BatchNorm3d",
        kwargs=_bn_kwargs,
        sample=_bn_sample((5,)),
    )
)
