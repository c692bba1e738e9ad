"""ONNX shape ops (Flatten, Reshape, Transpose, Squeeze, Concat, Split, Gather, ...) and reductions."""

from __future__ import annotations

from typing import Any

import numpy as np

from .base import Context, Unsupported, Value, handles
from .onnx_generic import batch_position, batch_view
from .onnx_ops_common import _axis, _opt, attrs


@handles("Flatten")
def _flatten(ctx: Context, node: Any, name: str) -> None:
    x = ctx.value(node.input[0])
    axis = attrs(node).get("axis", 1)
    axis = axis + x.info.rank if axis < 0 else axis
    if axis != 1:
        raise Unsupported(f"axis={axis} merges the batch with other dims (only axis 1 keeps the batch)")
    if x.info.rank == 2:
        ctx.bind(node.output[0], x)
        return
    ctx.bind(node.output[0], ctx.add("Flatten", [x], label=name)[0])


@handles("Reshape")
def _reshape(ctx: Context, node: Any, name: str) -> None:
    raw = ctx.raw_value(node.input[0])
    target = [int(v) for v in (ctx.const(node.input[1], batch_ok=True) if ctx.opset >= 5 else attrs(node)["shape"])]
    if ctx.opset >= 5 and node.input[1] in ctx.batch_tainted:
        target[0] = 0  # the stand-in batch entry: keep the batch
    if raw.layout in ("rnn_y1", "rnn_y0_t") and len(target) == 3 and target[2] in (-1, raw.info.shape[-1]):
        # (N, L, dirs, H) -> (N, L, dirs*H) is the layer's batch-first output; time-major -> seq_first
        ctx.bind(node.output[0], Value(raw.node_id, raw.port, raw.info, "" if raw.layout == "rnn_y1" else "seq_first"))
        return
    x = ctx.value(node.input[0])
    if attrs(node).get("allowzero", 0) and 0 in target:
        raise Unsupported("allowzero=1 with a zero size")
    src = ctx.static_shapes.get(node.input[0])
    batch_ok = target and (
        target[0] == 0 or (src is not None and target[0] == src[0]) or (target[0] == -1 and -1 not in target[1:])
    )
    if not batch_ok:
        raise Unsupported(f"target shape {target} does not keep the batch dimension first")
    feats = [int(x.info.shape[i + 1]) if v == 0 and i + 1 < x.info.rank else v for i, v in enumerate(target[1:])]
    if not feats:
        raise Unsupported("reshaping to the batch alone is not supported")
    if tuple(feats) == tuple(x.info.shape[1:]):
        ctx.bind(node.output[0], x)
        return
    ctx.bind(node.output[0], ctx.add("Reshape", [x], {"shape": tuple(feats)}, label=name)[0])


@handles("Transpose")
def _transpose(ctx: Context, node: Any, name: str) -> None:
    raw = ctx.raw_value(node.input[0])
    perm = list(attrs(node).get("perm", list(range(raw.info.rank))[::-1]))
    if raw.layout == "" and raw.info.rank == 3 and perm == [1, 0, 2]:
        ctx.bind(node.output[0], Value(raw.node_id, raw.port, raw.info, "seq_first"))  # for a time-major RNN
        return
    if raw.layout == "seq_first" and perm == [1, 0, 2]:
        ctx.bind(node.output[0], Value(raw.node_id, raw.port, raw.info))
        return
    if raw.layout == "rnn_y0" and perm == [0, 2, 1, 3]:
        ctx.bind(node.output[0], Value(raw.node_id, raw.port, raw.info, "rnn_y0_t", raw.dirs))
        return
    if raw.layout == "rnn_y0" and perm == [2, 0, 1, 3]:
        ctx.bind(node.output[0], Value(raw.node_id, raw.port, raw.info, "rnn_y1", raw.dirs))
        return
    # the port tensor is batch-first; the ONNX tensor may hold the batch elsewhere (batch_position): compose the
    # permutations, keep the port batch-first with a Permute, and read the result as a view when the batch moved
    at, rank = batch_position(raw), raw.info.rank
    order = [*range(1, at + 1), 0, *range(at + 1, rank)]  # ONNX input dim k is port dim order[k]
    composed = [order[p] for p in perm]  # ONNX output dim k is port dim composed[k]
    if composed.index(0) != 0 and ctx.file_batch is not None:
        raise Unsupported(f"perm {perm} moves the batch dimension")  # the generic op runs it at the file's batch
    port_perm = [0, *(d for d in composed if d != 0)]
    x = Value(raw.node_id, raw.port, raw.info)
    if port_perm != list(range(rank)):
        x = ctx.add("Permute", [x], {"dims": tuple(port_perm[1:])}, label=name)[0]
    ctx.bind(node.output[0], Value(x.node_id, x.port, x.info, batch_view(composed.index(0), rank)))


def _axes(ctx: Context, node: Any) -> list[int] | None:
    if ctx.opset >= 13:
        return [int(a) for a in ctx.const(node.input[1])] if _opt(node, 1) else None
    a = attrs(node).get("axes")
    return [int(v) for v in a] if a is not None else None


@handles("Squeeze")
def _squeeze(ctx: Context, node: Any, name: str) -> None:
    raw = ctx.raw_value(node.input[0])
    if raw.layout in ("rnn_y0", "rnn_y1") and raw.dirs == 1:
        axes = _axes(ctx, node)
        if axes is not None and [a % 4 for a in axes] == [1 if raw.layout == "rnn_y0" else 2]:
            ctx.bind(
                node.output[0], Value(raw.node_id, raw.port, raw.info, "seq_first" if raw.layout == "rnn_y0" else "")
            )
            return
    x = ctx.value(node.input[0])
    axes = _axes(ctx, node)
    if axes is None:
        axes = [i for i, d in enumerate(x.info.shape) if d == 1]
    axes = sorted((_axis(a, x.info.rank) for a in axes), reverse=True)
    for a in axes:
        x = ctx.add("Squeeze", [x], {"dim": a}, label=name)[0]
    ctx.bind(node.output[0], x)


@handles("Unsqueeze")
def _unsqueeze(ctx: Context, node: Any, name: str) -> None:
    x = ctx.value(node.input[0])
    axes = _axes(ctx, node) or []
    out_rank = x.info.rank + len(axes)
    for a in sorted(_axis(a, out_rank) for a in axes):
        x = ctx.add("Unsqueeze", [x], {"dim": a}, label=name)[0]
    ctx.bind(node.output[0], x)


@handles("Concat")
def _concat(ctx: Context, node: Any, name: str) -> None:
    vals = [ctx.value(i) for i in node.input if i]
    axis = _axis(attrs(node)["axis"], vals[0].info.rank)
    if len(vals) == 1:
        ctx.bind(node.output[0], vals[0])
        return
    ctx.bind(node.output[0], ctx.add("Concat", vals, {"dim": axis}, label=name)[0])


@handles("Split")
def _split(ctx: Context, node: Any, name: str) -> None:
    x = ctx.value(node.input[0])
    at = attrs(node)
    axis = _axis(at.get("axis", 0), x.info.rank)
    outs = [o for o in node.output]
    n = len(outs)
    sizes = at.get("split")
    if ctx.opset >= 13 and _opt(node, 1):
        sizes = [int(v) for v in ctx.const(node.input[1])]
    size = int(x.info.shape[axis])
    if sizes is not None and len(set(sizes)) > 1:
        raise Unsupported(f"unequal split sizes {list(sizes)}: the catalog Split cuts equal chunks")
    if size % n:
        raise Unsupported(f"dimension of size {size} does not split into {n} equal parts")
    parts = ctx.add("Split", [x], {"chunks": n, "dim": axis}, label=name)
    for o, v in zip(outs, parts):
        if o:
            ctx.bind(o, v)


@handles("Dropout")
def _dropout(ctx: Context, node: Any, name: str) -> None:
    x = ctx.value(node.input[0])
    if len([o for o in node.output if o]) > 1 and ctx.consumers.get(node.output[1], 0):
        raise Unsupported("the dropout mask output is used")
    ratio = attrs(node).get("ratio", 0.5)
    if ctx.opset >= 12 and _opt(node, 1):
        ratio = float(ctx.const(node.input[1]))
    if ctx.opset >= 12 and _opt(node, 2) and bool(ctx.const(node.input[2])):
        raise Unsupported("training_mode=true dropout is random at inference")
    ctx.bind(node.output[0], ctx.add("Dropout", [x], {"p": float(ratio)}, label=name)[0])


@handles("Gather")
def _gather(ctx: Context, node: Any, name: str) -> None:
    raw = ctx.values.get(node.input[0])
    if raw is not None and raw.layout == "seq_first" and node.input[1] in ctx.consts:
        # h_n[i] of a recurrent layer (ONNX's (dirs, N, H), the layer's batch-first (N, dirs, H)): Select on dim 1
        idx = ctx.const(node.input[1])
        if attrs(node).get("axis", 0) != 0 or idx.ndim != 0:
            raise Unsupported("gathering from a time-major recurrent tensor other than one index of dim 0")
        size = int(raw.info.shape[1])
        index = int(idx) + size if int(idx) < 0 else int(idx)
        plain = Value(raw.node_id, raw.port, raw.info)
        ctx.bind(node.output[0], ctx.add("Select", [plain], {"dim": 1, "index": index}, label=name)[0])
        return
    if node.input[0] in ctx.values and node.input[1] in ctx.consts:
        # x[:, i] with a constant scalar index: Select (e.g. the last time step)
        x = ctx.value(node.input[0])
        idx = ctx.const(node.input[1])
        axis = _axis(attrs(node).get("axis", 0), x.info.rank)
        if idx.ndim == 1 and idx.size:
            # a contiguous run of positions (x[:, 2:5] written as a gather): Narrow
            size = int(x.info.shape[axis])
            pos = [int(i) + size if int(i) < 0 else int(i) for i in idx]
            if pos == list(range(pos[0], pos[0] + len(pos))) and 0 <= pos[0] and pos[-1] < size:
                ctx.bind(node.output[0], _narrow(ctx, x, axis, pos[0], pos[-1] + 1, name))
                return
        if idx.ndim != 0:
            raise Unsupported("gathering several, non-contiguous positions of a tensor")
        ctx.bind(node.output[0], ctx.add("Select", [x], {"dim": axis, "index": int(idx)}, label=name)[0])
        return
    table = ctx.const(node.input[0])
    idx = ctx.value(node.input[1])
    if attrs(node).get("axis", 0) != 0 or table.ndim != 2 or idx.info.dtype != "int64":
        raise Unsupported("only an embedding lookup (constant 2-D table, integer indices, axis 0) is supported")
    ctx.bind(
        node.output[0],
        ctx.add(
            "Embedding",
            [idx],
            {"num_embeddings": int(table.shape[0]), "embedding_dim": int(table.shape[1])},
            {"weight": table.astype(np.float32)},
            label=name,
        )[0],
    )


@handles("DepthToSpace")
def _depth_to_space(ctx: Context, node: Any, name: str) -> None:
    at = attrs(node)
    b = int(at["blocksize"])
    x = ctx.value(node.input[0])
    if at.get("mode", "DCR") == "CRD":
        ctx.bind(node.output[0], ctx.add("PixelShuffle", [x], {"upscale_factor": b}, label=name)[0])
        return
    if x.info.rank != 4:
        raise Unsupported(f"depth to space of a rank-{x.info.rank} tensor")
    c, h, w = (int(d) for d in x.info.shape[1:])
    # DCR: (C, H, W) -> (b, b, C/b², H, W) -> (C/b², H, b, W, b) -> (C/b², H*b, W*b)
    v = ctx.add("Reshape", [x], {"shape": (b, b, c // (b * b), h, w)}, label=f"{name}_split")[0]
    v = ctx.add("Permute", [v], {"dims": (3, 4, 1, 5, 2)}, label=f"{name}_permute")[0]
    ctx.bind(node.output[0], ctx.add("Reshape", [v], {"shape": (c // (b * b), h * b, w * b)}, label=name)[0])


@handles("SpaceToDepth")
def _space_to_depth(ctx: Context, node: Any, name: str) -> None:
    b = int(attrs(node)["blocksize"])
    x = ctx.value(node.input[0])
    if x.info.rank != 4:
        raise Unsupported(f"space to depth of a rank-{x.info.rank} tensor")
    c, h, w = (int(d) for d in x.info.shape[1:])
    if h % b or w % b:
        raise Unsupported(f"height {h} and width {w} must be multiples of the block size {b}")
    # (C, H, W) -> (C, H/b, b, W/b, b) -> (b, b, C, H/b, W/b) -> (C*b², H/b, W/b)
    v = ctx.add("Reshape", [x], {"shape": (c, h // b, b, w // b, b)}, label=f"{name}_split")[0]
    v = ctx.add("Permute", [v], {"dims": (3, 5, 1, 2, 4)}, label=f"{name}_permute")[0]
    ctx.bind(node.output[0], ctx.add("Reshape", [v], {"shape": (c * b * b, h // b, w // b)}, label=name)[0])


_REDUCE_OPS = {"ReduceMean": "mean", "ReduceSum": "sum", "ReduceMax": "amax", "ReduceMin": "amin"}


@handles(*_REDUCE_OPS)
def _reduce(ctx: Context, node: Any, name: str) -> None:
    """Mean/max over every spatial dim: global pooling (keepdims=1 keeps (C, 1, 1): adaptive pooling to 1); other
    per-sample axes: the catalog's Reduce layer."""
    x = ctx.value(node.input[0])
    at = attrs(node)
    r = x.info.rank
    axes = at.get("axes")
    if axes is None and len(node.input) > 1 and node.input[1]:
        axes = list(ctx.const(node.input[1]))
    if axes is None:
        raise Unsupported("a reduction over every dim, the batch included")
    keep = bool(at.get("keepdims", 1))
    mean = node.op_type == "ReduceMean"
    spatial = r >= 3 and sorted(int(a) % r for a in axes) == list(range(2, r))
    layer = {(True, 3): "AdaptiveAvgPool1d", (True, 4): "AdaptiveAvgPool2d", (False, 4): "AdaptiveMaxPool2d"}
    if spatial and node.op_type in ("ReduceMean", "ReduceMax") and (not keep or (mean, r) in layer):
        if keep:
            ctx.bind(node.output[0], ctx.add(layer[(mean, r)], [x], {"output_size": 1}, label=name)[0])
        else:
            ctx.bind(node.output[0], ctx.add("GlobalAvgPool" if mean else "GlobalMaxPool", [x], label=name)[0])
        return
    dims = tuple(sorted(_axis(int(a), r) for a in axes))
    params = {"op": _REDUCE_OPS[node.op_type], "dim": dims, "keepdim": keep}
    ctx.bind(node.output[0], ctx.add("Reduce", [x], params, label=name)[0])


# ------------------------------------------------------------------------------ Slice, Expand, Tile -> catalog
def _narrow(ctx: Context, x: Value, axis: int, start: int, stop: int, name: str) -> Value:
    size = int(x.info.shape[axis])
    if start == 0 and stop == size:
        return x
    if stop <= start:
        raise Unsupported(f"an empty slice [{start}:{stop}] of a dim of size {size}")
    return ctx.add("Narrow", [x], {"dim": axis, "start": start, "length": stop - start}, label=name)[0]


@handles("Slice")
def _slice(ctx: Context, node: Any, name: str) -> None:
    """Step-1 slices of per-sample dims -> one Narrow per sliced dim (bounds clamped like ONNX does)."""
    x = ctx.value(node.input[0])
    r = x.info.rank
    if ctx.opset < 10:
        at = attrs(node)
        starts, ends, axes, steps = at["starts"], at["ends"], at.get("axes"), None
    else:
        starts, ends = ctx.const(node.input[1]), ctx.const(node.input[2])
        axes = ctx.const(node.input[3]) if _opt(node, 3) else None
        steps = ctx.const(node.input[4]) if _opt(node, 4) else None
    starts, ends = [int(v) for v in starts], [int(v) for v in ends]
    axes = [int(a) for a in axes] if axes is not None else list(range(len(starts)))
    if steps is not None and any(int(s) != 1 for s in steps):
        raise Unsupported(f"steps {[int(s) for s in steps]} (Narrow keeps contiguous ranges; step 1 only)")
    v = x
    for a, s, e in zip(axes, starts, ends):
        a = a + r if a < 0 else a
        if a == 0:
            if s in (0,) and e >= 2**31 - 1:
                continue  # the whole batch
            raise Unsupported("slicing the batch dimension")
        axis = _axis(a, r)
        size = int(x.info.shape[axis])
        s = min(max(s + size if s < 0 else s, 0), size)
        e = min(max(e + size if e < 0 else e, 0), size)
        v = _narrow(ctx, v, axis, s, e, name)
    ctx.bind(node.output[0], v)


@handles("Expand")
def _expand(ctx: Context, node: Any, name: str) -> None:
    x = ctx.value(node.input[0])
    target = [int(v) for v in ctx.const(node.input[1], batch_ok=True)]
    have = [int(d) for d in x.info.shape[1:]]
    if len(target) != len(have) + 1:
        raise Unsupported(f"expanding {x.info} to a different rank ({target})")
    sizes = [max(t, h) if t != 1 else h for t, h in zip(target[1:], have)]
    if sizes == have:
        ctx.bind(node.output[0], x)
        return
    ctx.bind(node.output[0], ctx.add("Expand", [x], {"sizes": tuple(sizes)}, label=name)[0])


@handles("Tile")
def _tile(ctx: Context, node: Any, name: str) -> None:
    x = ctx.value(node.input[0])
    reps = [int(v) for v in ctx.const(node.input[1])]
    if len(reps) != x.info.rank or reps[0] != 1:
        raise Unsupported(f"repeats {reps} tile the batch dimension")
    if all(r == 1 for r in reps):
        ctx.bind(node.output[0], x)
        return
    ctx.bind(node.output[0], ctx.add("Repeat", [x], {"repeats": tuple(reps[1:])}, label=name)[0])
