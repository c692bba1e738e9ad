"""OnnxOp kernels for the transformer ops of recent opsets: Attention and RMSNormalization (opset 23), as torch's
dynamo exporter writes them for scaled_dot_product_attention and RMSNorm. `a` is onnx_op_math.OnnxArgs (not imported:
the Python exporter inlines these modules in import order)."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import torch
from torch.nn import functional as F


def _heads(x: torch.Tensor, heads: int) -> torch.Tensor:
    """(N, S, heads*H) -> (N, heads, S, H); 4-D inputs are already split."""
    if x.dim() == 4:
        return x
    n, s, width = x.shape
    return x.reshape(n, s, heads, width // heads).transpose(1, 2)


def _attention(a: Any, at: dict, op: int) -> Any:
    q3 = a.t(0).dim() == 3
    q = _heads(a.t(0), int(at.get("q_num_heads", 1)))
    k = _heads(a.t(1), int(at.get("kv_num_heads", 1)))
    v = _heads(a.t(2), int(at.get("kv_num_heads", 1)))
    if a.has(4):  # past key and value: the new ones follow them along the sequence
        k = torch.cat([a.t(4), k], dim=2)
    if a.has(5):
        v = torch.cat([a.t(5), v], dim=2)
    present_k, present_v = k, v
    if k.shape[1] != q.shape[1]:  # grouped-query attention: each key/value head serves several query heads
        k = k.repeat_interleave(q.shape[1] // k.shape[1], dim=1)
        v = v.repeat_interleave(q.shape[1] // v.shape[1], dim=1)
    scale = at.get("scale") or 1.0 / math.sqrt(q.shape[-1])
    scores = torch.matmul(q, k.transpose(-2, -1)) * scale
    if a.has(3):
        mask = a.t(3)
        scores = scores.masked_fill(~mask, float("-inf")) if mask.dtype == torch.bool else scores + mask
    if at.get("is_causal", 0):
        sq, sk = scores.shape[-2], scores.shape[-1]
        keep = torch.ones(sq, sk, dtype=torch.bool, device=scores.device).tril(sk - sq)
        scores = scores.masked_fill(~keep, float("-inf"))
    softcap = float(at.get("softcap", 0.0) or 0.0)
    if softcap > 0:
        scores = softcap * torch.tanh(scores / softcap)
    y = torch.matmul(F.softmax(scores, dim=-1), v)
    if q3:
        y = y.transpose(1, 2).reshape(y.shape[0], y.shape[2], -1)
    n_out = int(at.get("_outputs", 1))
    return (y, present_k, present_v, scores)[:n_out] if n_out > 1 else y


def _rms_norm(a: Any, at: dict, op: int) -> torch.Tensor:
    x = a.t(0)
    axis = int(at.get("axis", -1))
    axis = axis + x.dim() if axis < 0 else axis
    dims = list(range(axis, x.dim()))
    y = x * torch.rsqrt(x.pow(2).mean(dim=dims, keepdim=True) + float(at.get("epsilon", 1e-5)))
    return y * a.t(1)


ATTENTION_OPS: dict[str, Callable] = {"Attention": _attention, "RMSNormalization": _rms_norm}
