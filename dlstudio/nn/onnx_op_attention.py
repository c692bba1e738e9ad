"""OnnxOp kernels for transformer ops: Attention and RMSNormalization (opset 23), as torch's dynamo exporter writes
them for scaled_dot_product_attention and RMSNorm; and onnxruntime's com.microsoft fusions that optimized transformer
files hold (FastGelu, BiasGelu, QuickGelu, SkipLayerNormalization, SimplifiedLayerNormalization, FusedMatMul,
BiasAdd; MICROSOFT_OPS lists them). `a` is onnx_op_math.OnnxArgs (not imported:
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


def _tanh_gelu(x: torch.Tensor) -> torch.Tensor:
    return 0.5 * x * (1.0 + torch.tanh(0.7978845608028654 * (x + 0.044715 * x.pow(3))))


def _fast_gelu(a: Any, at: dict, op: int) -> torch.Tensor:
    x = a.t(0) + a.t(1) if a.has(1) else a.t(0)
    return _tanh_gelu(x)


def _bias_gelu(a: Any, at: dict, op: int) -> torch.Tensor:
    return F.gelu(a.t(0) + a.t(1))


def _quick_gelu(a: Any, at: dict, op: int) -> torch.Tensor:
    x = a.t(0)
    return x * torch.sigmoid(float(at.get("alpha", 1.702)) * x)


def _skip_sum(a: Any, bias_at: int) -> torch.Tensor:
    s = a.t(0) + a.t(1)
    return s + a.t(bias_at) if a.has(bias_at) else s


def _skip_layer_norm(a: Any, at: dict, op: int) -> Any:
    s = _skip_sum(a, 4)
    mean = s.mean(-1, keepdim=True)
    inv_std = torch.rsqrt((s - mean).pow(2).mean(-1, keepdim=True) + float(at.get("epsilon", 1e-12)))
    y = (s - mean) * inv_std * a.t(2)
    if a.has(3):
        y = y + a.t(3)
    n_out = int(at.get("_outputs", 1))
    return (y, mean, inv_std, s)[:n_out] if n_out > 1 else y


def _skip_rms_norm(a: Any, at: dict, op: int) -> Any:
    s = _skip_sum(a, 3)
    inv_std = torch.rsqrt(s.pow(2).mean(-1, keepdim=True) + float(at.get("epsilon", 1e-12)))
    y = s * inv_std * a.t(2)
    n_out = int(at.get("_outputs", 1))
    return (y, inv_std, inv_std, s)[:n_out] if n_out > 1 else y


def _fused_matmul(a: Any, at: dict, op: int) -> torch.Tensor:
    if at.get("transBatchA", 0) or at.get("transBatchB", 0):
        raise ValueError("FusedMatMul with transBatchA/transBatchB is not supported")
    x, y = a.t(0), a.t(1)
    x = x.transpose(-2, -1) if at.get("transA", 0) else x
    y = y.transpose(-2, -1) if at.get("transB", 0) else y
    return torch.matmul(x, y) * float(at.get("alpha", 1.0))


def _bias_add(a: Any, at: dict, op: int) -> torch.Tensor:
    return a.t(0) + a.t(1) + a.t(2)


ATTENTION_OPS: dict[str, Callable] = {
    "Attention": _attention,
    "RMSNormalization": _rms_norm,
    "FastGelu": _fast_gelu,
    "BiasGelu": _bias_gelu,
    "QuickGelu": _quick_gelu,
    "SkipLayerNormalization": _skip_layer_norm,
    "SkipSimplifiedLayerNormalization": _skip_rms_norm,
    "SimplifiedLayerNormalization": _rms_norm,
    "FusedMatMul": _fused_matmul,
    "BiasAdd": _bias_add,
}
# com.microsoft ops the importer takes under their own names (the same semantics as the op table's entry);
# onnxruntime's Attention (packed QKV weights) differs from opset 23's Attention and stays refused
MICROSOFT_OPS = frozenset(
    {
        "FastGelu",
        "BiasGelu",
        "QuickGelu",
        "SkipLayerNormalization",
        "SkipSimplifiedLayerNormalization",
        "SimplifiedLayerNormalization",
        "FusedMatMul",
        "BiasAdd",
        "Gelu",
        "LayerNormalization",
    }
)
