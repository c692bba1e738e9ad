"""ONNX ops for OnnxOp: shapes, indexing, padding and resizing.

Each function takes (args, attributes, opset) and follows the ONNX operator specification (onnx.ai/onnx/operators).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
import torch.nn.functional as F

from .onnx_op_math import OnnxArgs, _axis


def _shape(a: OnnxArgs, at: dict, op: int) -> torch.Tensor:
    dims = list(a.t(0).shape)
    start, end = int(at.get("start", 0)), at.get("end")
    return torch.tensor(dims[start : None if end is None else int(end)], dtype=torch.int64)


def _size(a: OnnxArgs, at: dict, op: int) -> torch.Tensor:
    return torch.tensor(a.t(0).numel(), dtype=torch.int64)


def _reshape(a: OnnxArgs, at: dict, op: int) -> torch.Tensor:
    x = a.t(0)
    shape = list(at["shape"]) if op < 5 else a.ints(1)
    if not at.get("allowzero", 0):
        shape = [x.shape[i] if s == 0 else s for i, s in enumerate(shape)]
    return x.reshape(shape)


def _flatten(a: OnnxArgs, at: dict, op: int) -> torch.Tensor:
    x = a.t(0)
    axis = _axis(int(at.get("axis", 1)), x.dim())
    lead = 1
    for d in x.shape[:axis]:
        lead *= d
    return x.reshape(lead, -1)


def _transpose(a: OnnxArgs, at: dict, op: int) -> torch.Tensor:
    x = a.t(0)
    perm = at.get("perm") or list(reversed(range(x.dim())))
    return x.permute(*perm)


def _axes(a: OnnxArgs, at: dict, op: int, input_from: int = 13) -> list[int] | None:
    if op >= input_from:
        return a.ints(1) if a.has(1) else None
    return list(at["axes"]) if "axes" in at else None


def _squeeze(a: OnnxArgs, at: dict, op: int) -> torch.Tensor:
    x = a.t(0)
    axes = _axes(a, at, op)
    if axes is None:
        return x.squeeze()
    for d in sorted((_axis(d, x.dim()) for d in axes), reverse=True):
        x = x.squeeze(d)
    return x


def _unsqueeze(a: OnnxArgs, at: dict, op: int) -> torch.Tensor:
    x = a.t(0)
    axes = _axes(a, at, op) or []
    rank = x.dim() + len(axes)
    for d in sorted(_axis(d, rank) for d in axes):
        x = x.unsqueeze(d)
    return x


def _expand(a: OnnxArgs, at: dict, op: int) -> torch.Tensor:
    x = a.t(0)
    shape = a.ints(1)
    rank = max(len(shape), x.dim())
    shape = [1] * (rank - len(shape)) + shape
    xs = [1] * (rank - x.dim()) + list(x.shape)
    target = [s if s != 1 else d for s, d in zip(shape, xs)]
    return x.reshape(xs).expand(target)


def _tile(a: OnnxArgs, at: dict, op: int) -> torch.Tensor:
    if op < 6:
        return a.t(0).repeat_interleave(a.ints(1)[0], dim=a.ints(2)[0])
    return a.t(0).repeat(*a.ints(1))


def _slice(a: OnnxArgs, at: dict, op: int) -> torch.Tensor:
    x = a.t(0)
    if op < 10:
        starts, ends = list(at["starts"]), list(at["ends"])
        axes = list(at.get("axes", range(len(starts))))
        steps = [1] * len(starts)
    else:
        starts, ends = a.ints(1), a.ints(2)
        axes = a.ints(3) if a.has(3) else list(range(len(starts)))
        steps = a.ints(4) if a.has(4) else [1] * len(starts)
    index: list = [slice(None)] * x.dim()
    flips = []
    for s, e, ax, st in zip(starts, ends, axes, steps):
        ax = _axis(ax, x.dim())
        n = x.shape[ax]
        if st > 0:
            s = max(0, min(n, s + n if s < 0 else s))
            e = max(0, min(n, e + n if e < 0 else e))
            index[ax] = slice(s, max(s, e), st)
        else:  # negative step: slice the flipped axis
            s = max(-1, min(n - 1, s + n if s < 0 else s))
            e = max(-1, min(n - 1, e + n if e < 0 else e))
            index[ax] = slice(n - 1 - s, max(n - 1 - s, n - 1 - e), -st)
            flips.append(ax)
    if flips:
        x = x.flip(flips)
    return x[tuple(index)]


def _split(a: OnnxArgs, at: dict, op: int, n_out: int = 0) -> tuple:
    x = a.t(0)
    axis = _axis(int(at.get("axis", 0)), x.dim())
    if op >= 13 and a.has(1):
        sizes = a.ints(1)
    elif op < 13 and "split" in at:
        sizes = list(at["split"])
    else:
        n = int(at.get("num_outputs", 0)) or int(at.get("_outputs", 1))
        size = -(-x.shape[axis] // n)
        sizes = [min(size, x.shape[axis] - i * size) for i in range(n)]
    return tuple(torch.split(x, sizes, dim=axis))


def _concat(a: OnnxArgs, at: dict, op: int) -> torch.Tensor:
    ts = a.present()
    return torch.cat(ts, dim=_axis(int(at.get("axis", 0)), ts[0].dim()))


def _gather(a: OnnxArgs, at: dict, op: int) -> torch.Tensor:
    x, idx = a.t(0), a.t(1).long()
    axis = _axis(int(at.get("axis", 0)), x.dim())
    idx = torch.where(idx < 0, idx + x.shape[axis], idx)
    out = torch.index_select(x, axis, idx.reshape(-1))
    return out.reshape(*x.shape[:axis], *idx.shape, *x.shape[axis + 1 :])


def _gather_elements(a: OnnxArgs, at: dict, op: int) -> torch.Tensor:
    x, idx = a.t(0), a.t(1).long()
    axis = _axis(int(at.get("axis", 0)), x.dim())
    idx = torch.where(idx < 0, idx + x.shape[axis], idx)
    return torch.gather(x, axis, idx)


def _gather_nd(a: OnnxArgs, at: dict, op: int) -> torch.Tensor:
    x, idx = a.t(0), a.t(1).long()
    b = int(at.get("batch_dims", 0))
    if b:
        raise ValueError("GatherND with batch_dims is not supported")
    k = idx.shape[-1]
    flat = idx.reshape(-1, k)
    out = x[tuple(flat[:, i] for i in range(k))]
    return out.reshape(*idx.shape[:-1], *x.shape[k:])


def _scatter_elements(a: OnnxArgs, at: dict, op: int) -> torch.Tensor:
    x, idx, upd = a.t(0), a.t(1).long(), a.t(2)
    axis = _axis(int(at.get("axis", 0)), x.dim())
    idx = torch.where(idx < 0, idx + x.shape[axis], idx)
    red = at.get("reduction", "none")
    if red == "none":
        return x.scatter(axis, idx, upd)
    return x.scatter_reduce(axis, idx, upd, {"add": "sum", "mul": "prod", "max": "amax", "min": "amin"}[red])


def _scatter_nd(a: OnnxArgs, at: dict, op: int) -> torch.Tensor:
    x, idx, upd = a.t(0), a.t(1).long(), a.t(2)
    k = idx.shape[-1]
    out = x.clone()
    flat = idx.reshape(-1, k)
    out[tuple(flat[:, i] for i in range(k))] = upd.reshape(-1, *x.shape[k:])
    return out


def _range(a: OnnxArgs, at: dict, op: int) -> torch.Tensor:
    start, limit, delta = a.t(0), a.t(1), a.t(2)
    return torch.arange(start.item(), limit.item(), delta.item(), dtype=start.dtype)


def _constant_of_shape(a: OnnxArgs, at: dict, op: int) -> torch.Tensor:
    value = at.get("value", {"value": [0.0], "dtype": "float32"})
    dtype = {"float32": torch.float32, "int64": torch.int64, "bool": torch.bool}[value["dtype"]]
    fill = value["value"][0] if isinstance(value["value"], list) else value["value"]
    return torch.full(a.ints(0), fill, dtype=dtype)


def _one_hot(a: OnnxArgs, at: dict, op: int) -> torch.Tensor:
    idx = a.t(0).long()
    depth = int(a.floats(1)[0])
    off, on = a.t(2).reshape(-1)[0], a.t(2).reshape(-1)[1]
    idx = torch.where(idx < 0, idx + depth, idx)
    hot = F.one_hot(idx.clamp(0, depth - 1), depth) * ((idx >= 0) & (idx < depth)).unsqueeze(-1)
    axis = int(at.get("axis", -1))
    out = torch.where(hot.bool(), on, off)
    return out.movedim(-1, axis) if axis != -1 else out


def _trilu(a: OnnxArgs, at: dict, op: int) -> torch.Tensor:
    k = a.ints(1)[0] if a.has(1) else 0
    return torch.triu(a.t(0), k) if at.get("upper", 1) else torch.tril(a.t(0), k)


def _depth_to_space(a: OnnxArgs, at: dict, op: int) -> torch.Tensor:
    x = a.t(0)
    bs = int(at["blocksize"])
    n, c, h, w = x.shape
    if at.get("mode", "DCR") == "DCR":
        y = x.reshape(n, bs, bs, c // (bs * bs), h, w).permute(0, 3, 4, 1, 5, 2)
    else:
        y = x.reshape(n, c // (bs * bs), bs, bs, h, w).permute(0, 1, 4, 2, 5, 3)
    return y.reshape(n, c // (bs * bs), h * bs, w * bs)


def _space_to_depth(a: OnnxArgs, at: dict, op: int) -> torch.Tensor:
    x = a.t(0)
    bs = int(at["blocksize"])
    n, c, h, w = x.shape
    y = x.reshape(n, c, h // bs, bs, w // bs, bs).permute(0, 3, 5, 1, 2, 4)
    return y.reshape(n, c * bs * bs, h // bs, w // bs)


def _pad(a: OnnxArgs, at: dict, op: int) -> torch.Tensor:
    x = a.t(0)
    mode = at.get("mode", "constant")
    if op < 11:
        pads, value = list(at.get("pads", at.get("paddings", []))), float(at.get("value", 0.0))
        axes = list(range(x.dim()))
    else:
        pads = a.ints(1)
        value = a.floats(2)[0] if a.has(2) and a.floats(2) else 0.0
        axes = [_axis(d, x.dim()) for d in a.ints(3)] if a.has(3) else list(range(x.dim()))
    n = len(axes)
    before, after = dict(zip(axes, pads[:n])), dict(zip(axes, pads[n:]))
    torch_pads: list[int] = []
    for d in reversed(range(x.dim())):
        torch_pads += [before.get(d, 0), after.get(d, 0)]
    while torch_pads[-2:] == [0, 0] and len(torch_pads) > 2:
        torch_pads = torch_pads[:-2]
    if mode == "constant":
        return F.pad(x, torch_pads, value=value)
    if mode == "edge":
        mode = "replicate"
    if mode == "wrap":
        mode = "circular"
    batch = x.dim() - len(torch_pads) // 2
    if batch < 1 or batch > 2:  # torch pads the last 1-3 dims of a batched tensor
        raise ValueError(f"Pad mode {mode} over these axes is not supported")
    y = x if batch == 2 else x.unsqueeze(0)
    out = F.pad(y, torch_pads, mode=mode)
    return out if batch == 2 else out.squeeze(0)


def _resize(a: OnnxArgs, at: dict, op: int) -> torch.Tensor:
    x = a.t(0)
    rank = x.dim()
    axes = [_axis(d, rank) for d in at.get("axes", range(rank))]
    if at.get("_upsample") or op < 10:
        scales = a.floats(1) if op >= 9 else list(at["scales"])
        sizes = None
    else:
        scale_i, size_i = (1, None) if op == 10 else (2, 3)
        sizes = a.ints(size_i) if size_i is not None and a.has(size_i) and a.ints(size_i) else None
        scales = a.floats(scale_i) if sizes is None and a.has(scale_i) else None
    if sizes is not None:
        policy = at.get("keep_aspect_ratio_policy", "stretch")
        ratios = [sz / x.shape[d] for sz, d in zip(sizes, axes)]
        if policy != "stretch":
            r = min(ratios) if policy == "not_larger" else max(ratios)
            ratios = [r] * len(axes)
            sizes = [int(r * x.shape[d] + 0.5) for d in axes]
        per_axis = {d: (int(sz), r) for d, sz, r in zip(axes, sizes, ratios)}
    else:
        assert scales is not None
        per_axis = {d: (int(x.shape[d] * sc), float(sc)) for d, sc in zip(axes, scales)}
    mode = at.get("mode", "nearest")
    ctm = at.get("coordinate_transformation_mode", "half_pixel" if op >= 11 else "asymmetric")
    if mode == "cubic":
        return _resize_cubic(x, per_axis, ctm)
    for d, (out_len, scale) in per_axis.items():
        if out_len == x.shape[d] and scale == 1.0:
            continue
        coord = _resize_coords(x.shape[d], out_len, scale, ctm, x.device)
        x = _resize_axis(x, d, coord, mode, at.get("nearest_mode", "round_prefer_floor"), op)
    return x


def _resize_coords(length: int, out_len: int, scale: float, ctm: str, device: torch.device) -> torch.Tensor:
    y = torch.arange(out_len, dtype=torch.float64, device=device)
    if ctm == "half_pixel":
        return (y + 0.5) / scale - 0.5
    if ctm == "pytorch_half_pixel":
        return (y + 0.5) / scale - 0.5 if out_len > 1 else torch.zeros_like(y)
    if ctm == "align_corners":
        resized = length * scale  # ONNX divides by the unrounded resized length
        return y * (length - 1) / (resized - 1) if resized > 1 else torch.zeros_like(y)
    if ctm == "asymmetric":
        return y / scale
    if ctm == "half_pixel_symmetric":
        adj = out_len / (scale * length)
        center = length / 2
        return center * (1 - adj) + (y + 0.5) / scale - 0.5
    raise ValueError(f"Resize coordinate_transformation_mode {ctm} is not supported")


def _resize_axis(x: torch.Tensor, d: int, coord: torch.Tensor, mode: str, nearest: str, op: int) -> torch.Tensor:
    length = x.shape[d]
    if mode == "nearest":
        if op < 11:
            idx = torch.floor(coord)
        elif nearest == "round_prefer_floor":
            idx = torch.ceil(coord - 0.5)
        elif nearest == "round_prefer_ceil":
            idx = torch.floor(coord + 0.5)
        elif nearest == "floor":
            idx = torch.floor(coord)
        else:
            idx = torch.ceil(coord)
        return torch.index_select(x, d, idx.clamp(0, length - 1).long())
    if mode != "linear":
        raise ValueError(f"Resize mode {mode} is not supported")
    c = coord.clamp(0, length - 1)
    i0 = torch.floor(c).long()
    i1 = (i0 + 1).clamp(max=length - 1)
    shape = [1] * x.dim()
    shape[d] = -1
    w = (c - i0).to(x.dtype).reshape(shape)
    return torch.index_select(x, d, i0) * (1 - w) + torch.index_select(x, d, i1) * w


def _resize_cubic(x: torch.Tensor, per_axis: dict, ctm: str) -> torch.Tensor:
    if sorted(per_axis) != [2, 3] and sorted(d for d, (n, s) in per_axis.items() if n != x.shape[d]) != [2, 3]:
        raise ValueError("cubic Resize is supported over the two spatial axes of a 4-D tensor")
    if ctm not in ("half_pixel", "align_corners") or x.dim() != 4:
        raise ValueError(f"cubic Resize with {ctm} is not supported")
    size = [per_axis[2][0], per_axis[3][0]]
    return F.interpolate(x, size=size, mode="bicubic", align_corners=ctm == "align_corners")


def _upsample(a: OnnxArgs, at: dict, op: int) -> torch.Tensor:
    return _resize(a, {**at, "_upsample": True, "coordinate_transformation_mode": "asymmetric"}, op)


def _eye_like(a: OnnxArgs, at: dict, op: int) -> torch.Tensor:
    x = a.t(0)
    k = int(at.get("k", 0))
    out = torch.zeros_like(x, dtype=torch.float32 if int(at.get("dtype", 1)) == 1 else torch.int64)
    n, m = x.shape
    for i in range(n):
        if 0 <= i + k < m:
            out[i, i + k] = 1
    return out


def _nonzero(a: OnnxArgs, at: dict, op: int) -> torch.Tensor:
    return torch.nonzero(a.t(0)).t()


def _dropout(a: OnnxArgs, at: dict, op: int) -> Any:
    """Inference semantics (as onnxruntime without training_mode): the input, and an all-true mask."""
    x = a.t(0)
    if int(at.get("_outputs", 1)) > 1:
        return x, torch.ones_like(x, dtype=torch.bool)
    return x


SHAPE_OPS: dict[str, Callable] = {
    "Shape": _shape,
    "Size": _size,
    "Reshape": _reshape,
    "Flatten": _flatten,
    "Transpose": _transpose,
    "Squeeze": _squeeze,
    "Unsqueeze": _unsqueeze,
    "Expand": _expand,
    "Tile": _tile,
    "Slice": _slice,
    "Split": _split,
    "Concat": _concat,
    "Gather": _gather,
    "GatherElements": _gather_elements,
    "GatherND": _gather_nd,
    "ScatterElements": _scatter_elements,
    "ScatterND": _scatter_nd,
    "Range": _range,
    "ConstantOfShape": _constant_of_shape,
    "OneHot": _one_hot,
    "Trilu": _trilu,
    "DepthToSpace": _depth_to_space,
    "SpaceToDepth": _space_to_depth,
    "Pad": _pad,
    "Resize": _resize,
    "Upsample": _upsample,
    "EyeLike": _eye_like,
    "NonZero": _nonzero,
    "Dropout": _dropout,
}
