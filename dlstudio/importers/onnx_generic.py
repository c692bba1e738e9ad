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
            if inp in ctx.batch_tainted and (row is None or i in static):
                raise Unsupported(f"input {inp!r} depends on the batch size")
            arr = np.asarray(ctx.consts[inp] if row is None else row)
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
            wired.append(ctx.value(inp))
            layout.append("x")
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
            if batch is None:
                raise
            outs = run_op_shapes(module, infos, (batch, batch))
            ctx.fixed_batch.append((name, batch, str(exc)))
    except ShapeError as exc:
        raise Unsupported(str(exc)) from None
    except Exception as exc:
        raise Unsupported(f"cannot run it: {exc}") from None
    if len(outs) < n_out:
        raise Unsupported(f"gives {len(outs)} output(s) where the model uses {n_out}")
    outs = outs[: max(1, n_out)]
    params["num_outputs"] = len(outs)
    params["shapes"] = json.dumps({"in": encode_infos(infos), "out": encode_infos(list(outs))})
    values = ctx.add("OnnxOp", wired, params, weights=weights, label=_label(n, name))
    for o, v in zip(n.output, values):
        if o:
            ctx.bind(o, v)


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
