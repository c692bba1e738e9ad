"""The ONNX import fallback: a node without a first-class handler becomes a generic OnnxOp node.

The node keeps the op type, its attributes (as JSON) and the opset; its constant inputs are written into the node
(small integer values and shape-like inputs as literals, float tensors as trainable parameters, large integer
tensors as buffers), and its output shapes are recorded by running the op (dlstudio.compiler.oracle).
"""

from __future__ import annotations

import json
from typing import Any

import numpy as np

from ..compiler.oracle import BatchDependentShape, run_op_shapes
from ..core.errors import ShapeError
from ..layers.builtin.generic import encode_infos
from ..nn.onnx_op import STATIC_INPUTS, OnnxOp
from .base import Context, Unsupported, Value

_NOT_NN = (
    "an ONNX-ML / string op (trees, linear classifiers, encoders, tokenizers, text): these are not neural-network "
    "layers and dlstudio does not import them; export only the neural-network part of the pipeline"
)
_STRING_OPS = frozenset(
    {
        "StringNormalizer",
        "StringSplit",
        "StringConcat",
        "RegexFullMatch",
        "TfIdfVectorizer",
        "Tokenizer",
        "TreeEnsembleClassifier",
        "TreeEnsembleRegressor",
        "TreeEnsemble",
        "LinearClassifier",
        "LinearRegressor",
        "SVMClassifier",
        "SVMRegressor",
        "ZipMap",
        "LabelEncoder",
        "CategoryMapper",
        "DictVectorizer",
        "OneHotEncoder",
        "Imputer",
        "Normalizer",
        "Scaler",
        "Binarizer",
        "ArrayFeatureExtractor",
        "FeatureVectorizer",
    }
)
_LITERAL_LIMIT = 256  # integer constants up to this many elements are written as literals


def _dtype(arr: np.ndarray) -> str:
    if arr.dtype == np.bool_:
        return "bool"
    return "float32" if arr.dtype.kind in "fc" else "int64"


def _plain(arr: np.ndarray) -> Any:
    kind = _dtype(arr)
    a = arr.astype(np.float32 if kind == "float32" else bool if kind == "bool" else np.int64)
    return a.tolist()


def attributes(n: Any) -> dict[str, Any]:
    """The node's attributes as JSON-able values. Raises Unsupported for subgraphs (control flow)."""
    from onnx import AttributeProto, helper, numpy_helper

    out: dict[str, Any] = {}
    for a in n.attribute:
        if a.type in (AttributeProto.GRAPH, AttributeProto.GRAPHS):
            raise Unsupported(f"attribute {a.name!r} is a subgraph (control flow is not supported)")
        if a.type == AttributeProto.TENSOR:
            arr = numpy_helper.to_array(a.t)
            if arr.dtype.kind in "SUO":
                raise Unsupported(f"attribute {a.name!r} is a string tensor")
            out[a.name] = {"value": _plain(arr), "dtype": _dtype(arr)}
            continue
        if a.type in (AttributeProto.SPARSE_TENSOR, AttributeProto.SPARSE_TENSORS, AttributeProto.TENSORS):
            raise Unsupported(f"attribute {a.name!r} of this kind is not supported")
        v = helper.get_attribute_value(a)
        if isinstance(v, bytes):
            v = v.decode("utf-8", "replace")
        elif isinstance(v, list):
            v = [x.decode("utf-8", "replace") if isinstance(x, bytes) else x for x in v]
        out[a.name] = v
    return out


def add_generic(ctx: Context, n: Any, name: str) -> None:
    """Add `n` as an OnnxOp node and bind its outputs. Raises Unsupported with the reason."""
    attrs = attributes(n)
    static = set(STATIC_INPUTS.get(n.op_type, ()))
    n_out = len(n.output)
    while n_out and not n.output[n_out - 1]:
        n_out -= 1
    if n_out > 1 or n.op_type == "Split":
        attrs["_outputs"] = n_out
    layout: list[Any] = []
    wired: list[Value] = []
    weights: dict[str, np.ndarray] = {}
    for i, inp in enumerate(n.input):
        if not inp:
            layout.append(None)
        elif inp in ctx.consts:
            row = _batch_row(ctx, inp)
            arr = np.asarray(ctx.consts[inp] if row is None else row)
            if n.op_type == "Reshape" and i == 1 and inp in ctx.batch_tainted:
                arr, row = _batch_free_target(ctx, inp), None
            elif inp in ctx.batch_tainted and (row is None or i in static):
                raise Unsupported(f"input {inp!r} depends on the batch size")
            if arr.dtype.kind in "SUO":
                raise Unsupported(f"input {inp!r} is a string tensor")
            kind = _dtype(arr)
            entry: dict[str, Any]
            if i in static or (kind != "float32" and arr.size <= _LITERAL_LIMIT):
                entry = {"value": _plain(arr), "dtype": kind}
            else:
                entry = {"param" if kind == "float32" else "buffer": list(arr.shape), "dtype": kind}
                weights[f"c{i}"] = arr.astype(np.float32) if kind == "float32" else arr
            if row is not None:
                entry["batch"] = True  # one row, expanded to the batch the op runs on
            layout.append(entry)
        else:
            if i in static:
                raise Unsupported(f"input {inp!r} (a shape or size) must be a constant")
            v = ctx.raw_value(inp)
            at, merged = batch_view_of(v)
            wired.append(Value(v.node_id, v.port, v.info))
            # the op sees the ONNX tensor: the batch moved back to dim `at` (and merged into the dim after it)
            layout.append({"x": at, "merged": merged} if merged else {"x": at} if at else "x")
    if not wired:
        raise Unsupported("no input comes from the model's inputs")
    params: dict[str, Any] = {
        "op_type": n.op_type,
        "attributes": json.dumps(attrs, sort_keys=True),
        "opset": ctx.opset,
        "layout": json.dumps(layout),
        "num_outputs": max(1, n_out),
    }
    infos = [v.info for v in wired]
    try:
        module = OnnxOp(n.op_type, attrs, layout, ctx.opset)
        try:
            outs = run_op_shapes(module, infos)
        except BatchDependentShape as exc:
            batch = _file_batch(ctx, n)
            moved = _batch_dims(module, infos) if batch is None else None
            if moved is not None and any(moved):
                # an op that moves the batch out of dim 0 (a Transpose to sequence-first, a permute of q/k/v):
                # its outputs are stored batch-first and read as views of the ONNX tensors
                attrs["_batch_at"] = moved
                params["attributes"] = json.dumps(attrs, sort_keys=True)
                module = OnnxOp(n.op_type, attrs, layout, ctx.opset)
                outs = run_op_shapes(module, infos)
                values = ctx.add("OnnxOp", wired, _with_shapes(params, infos, outs, n_out), weights, _label(n, name))
                for o, v, at in zip(n.output, values, moved):
                    if o:
                        view = batch_view(at[0], v.info.rank, at[1]) if isinstance(at, list) else batch_view(at, 0)
                        ctx.bind(o, Value(v.node_id, v.port, v.info, view))
                return
            if batch is None:
                raise
            outs = run_op_shapes(module, infos, (batch, batch))
            ctx.fixed_batch.append((name, batch, str(exc)))
    except ShapeError as exc:
        raise Unsupported(str(exc)) from None
    except Exception as exc:
        raise Unsupported(f"cannot run it: {exc}") from None
    values = ctx.add("OnnxOp", wired, _with_shapes(params, infos, outs, n_out), weights=weights, label=_label(n, name))
    for o, v in zip(n.output, values):
        if o:
            ctx.bind(o, v)


def _with_shapes(params: dict[str, Any], infos: list[Any], outs: list[Any], n_out: int) -> dict[str, Any]:
    if len(outs) < n_out:
        raise Unsupported(f"gives {len(outs)} output(s) where the model uses {n_out}")
    outs = outs[: max(1, n_out)]
    params["num_outputs"] = len(outs)
    params["shapes"] = json.dumps({"in": encode_infos(infos), "out": encode_infos(list(outs))})
    return params


def batch_view_of(v: Value) -> tuple[int, int]:
    """Where the batch sits in the ONNX tensor a value stands for (its port tensor is always batch-first): the dim,
    and the size of the dim the batch is merged with there (0 when it is a dim of its own)."""
    if not v.layout:
        return 0, 0
    if v.layout == "seq_first":
        return 1, 0
    kind, _, rest = v.layout.partition(":")
    if kind == "batch_at":
        return int(rest), 0
    if kind == "batch_in":
        at, size = rest.split(":")
        return int(at), int(size)
    raise Unsupported(
        f"input is a time-major recurrent tensor ({v.layout}); only the transposes back to batch-first are supported"
    )


def batch_position(v: Value) -> int:
    """The dim of the batch in the ONNX tensor; Unsupported when the batch is merged with another dim."""
    at, merged = batch_view_of(v)
    if merged:
        raise Unsupported(f"input has the batch merged into its dim {at} (as (N*{merged}))")
    return at


def batch_view(at: int, rank: int, merged: int = 0) -> str:
    """The Value.layout of an ONNX tensor whose batch is at dim `at` of a batch-first port tensor (merged: the
    ONNX dim is the batch times this size, the port holds the two apart)."""
    if merged:
        return f"batch_in:{at}:{merged}"
    if at == 0:
        return ""
    return "seq_first" if at == 1 and rank == 3 else f"batch_at:{at}"


def _batch_free_target(ctx: Context, name: str) -> np.ndarray:
    """A Reshape target computed from a batch-dependent shape ([T, N*H, D]): the one entry that grows with the
    batch becomes -1, so the target holds at every batch size."""
    one = np.asarray(ctx.consts[name]).astype(np.int64)
    alt = getattr(ctx, "batch_alt", {}).get(name)
    if alt is None or np.shape(alt) != one.shape:
        raise Unsupported(f"input {name!r} depends on the batch size")
    grows = [k for k in range(one.size) if alt[k] != one[k]]
    if len(grows) != 1 or -1 in one:
        raise Unsupported(f"input {name!r} (a target shape) depends on the batch size in more than one entry")
    out = one.copy()
    out[grows[0]] = -1
    return out


def _examples(infos: list[Any], batch: int, device: str, seed: int = 0) -> list[Any]:
    import torch

    from ..core.tensor import BATCH

    gen = torch.Generator().manual_seed(seed)
    out = []
    for i in infos:
        shape = [batch if d == BATCH else int(d) for d in i.shape]
        if device == "meta" or i.dtype in ("int64", "bool"):
            dtype = {"int64": torch.int64, "bool": torch.bool}.get(i.dtype, torch.float32)
            out.append(torch.zeros(shape, dtype=dtype, device=device))
        else:
            out.append(torch.randn(shape, generator=gen))
    return out


def _outputs(module: Any, xs: list[Any]) -> list[Any] | None:
    import copy

    import torch

    try:
        with torch.no_grad():
            meta = xs and xs[0].device.type == "meta"
            out = (copy.deepcopy(module).to("meta") if meta else module)(*xs)
    except Exception:  # meta kernels torch lacks, or ops that read values
        return None
    return list(out) if isinstance(out, (tuple, list)) else [out]


def _batch_dims(module: Any, infos: list[Any]) -> list[Any] | None:
    """For each output of the op: the dim that follows the batch (0 when none does), or [dim, size] where the batch
    is merged with a dim of that size (size > 0: N*size, the batch outer; size < 0: |size|*N, the batch inner),
    from runs at batches 2 and 3; None when an output's shape changes with the batch in another way."""
    runs = []
    for batch in (2, 3):
        out = _outputs(module, _examples(infos, batch, "meta")) or _outputs(module, _examples(infos, batch, "cpu"))
        if out is None:
            return None
        runs.append([list(t.shape) for t in out])
    dims: list[Any] = []
    for a, b in zip(*runs):
        if a == b:
            dims.append(0)
            continue
        changed = [k for k, (x, y) in enumerate(zip(a, b)) if x != y]
        if len(a) != len(b) or len(changed) != 1:
            return None
        k = changed[0]
        if (a[k], b[k]) == (2, 3):
            dims.append(k)
        elif a[k] % 2 == 0 and b[k] == a[k] // 2 * 3:  # the batch merged with a dim of this size
            dims.append([k, a[k] // 2])
        else:
            return None
    if any(isinstance(d, list) for d in dims):
        return _merge_order(module, infos, dims)
    return dims


def _merge_order(module: Any, infos: list[Any], dims: list[Any]) -> list[Any] | None:
    """Whether each merged batch is the outer or the inner factor ((N*H) or (T*N)): the one under which sample 0
    of a batch of 3 equals the op run on sample 0 alone."""
    import torch

    from ..nn.onnx_op import _batch_first

    three = _examples(infos, 3, "cpu", seed=1)
    full, alone = _outputs(module, three), _outputs(module, [x[:1] for x in three])
    if full is None or alone is None:
        return None
    out: list[Any] = []
    for d, big, one in zip(dims, full, alone):
        if not isinstance(d, list):
            out.append(d)
            continue
        for size in (d[1], -d[1]):
            a, b = _batch_first(big, [d[0], size]), _batch_first(one, [d[0], size])
            if torch.allclose(a[:1], b, atol=1e-5, rtol=1e-4):
                out.append([d[0], size])
                break
        else:
            return None
    return out


def _batch_row(ctx: Context, name: str) -> np.ndarray | None:
    """The one row a batch-dependent constant repeats over the batch (onnx_fold.OnnxContext), if it does."""
    rows = getattr(ctx, "batch_row", None)
    return rows(name) if rows is not None and name in ctx.batch_tainted else None


def _file_batch(ctx: Context, n: Any) -> int | None:
    """The batch size the ONNX file fixes for this node's inputs (its static shapes), if any."""
    for inp in n.input:
        shape = ctx.static_shapes.get(inp)
        if inp in ctx.values and shape and isinstance(shape[0], int) and shape[0] > 0:
            return int(shape[0])
    return ctx.file_batch


def _label(n: Any, name: str) -> str:
    base = name.rsplit("/", 1)[-1] if "/" in name else name
    return (base or n.op_type).replace(" ", "_")
