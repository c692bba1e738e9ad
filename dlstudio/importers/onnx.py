"""ONNX import: an ONNX model becomes an editable dlstudio graph with its weights.

Steps: load and shape-infer the model; fold every node whose inputs are all constants (initializers, Constant
nodes, shapes known statically) with onnx's reference evaluator, so weights computed by constant subgraphs
become plain tensors; map each remaining op to catalog layers (tables in `onnx_ops.py`); lay the graph out.
Every unsupported op is collected and reported in one ModelImportError (op type and node name); nothing is
written unless the whole model imported. The first ONNX dimension is the batch, as in dlstudio.
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

import numpy as np

from ..analysis.shapes import infer_node
from ..compiler.report import Report, compare_outputs
from ..core.edits import AddNode, Connect
from ..core.errors import ModelImportError
from ..core.graph import Edge, Node
from ..core.layout import apply_layout
from .base import HANDLERS, Context, ImportResult, Unsupported, Value

_DTYPES = {1: "float32", 7: "int64", 6: "int64", 11: "float32", 10: "float32"}


# ------------------------------------------------------------------------------------------- constant folding
def _fold(node: Any, consts: dict[str, np.ndarray], opset_imports: list[Any]) -> list[np.ndarray]:
    """Evaluate one node on constant inputs with onnx's reference implementation."""
    import onnx
    from onnx import helper
    from onnx.reference import ReferenceEvaluator

    if node.op_type == "Constant":
        return [_constant_value(node)]
    inputs = [i for i in node.input if i]
    g = helper.make_graph(
        [node],
        "fold",
        [
            helper.make_tensor_value_info(i, helper.np_dtype_to_tensor_dtype(consts[i].dtype), consts[i].shape)
            for i in inputs
        ],
        [helper.make_tensor_value_info(o, onnx.TensorProto.UNDEFINED, None) for o in node.output if o],
        [],
    )
    model = helper.make_model(g, opset_imports=opset_imports)
    res = ReferenceEvaluator(model).run(None, {i: consts[i] for i in inputs})
    return [np.asarray(r) for r in res]


def _constant_value(node: Any) -> np.ndarray:
    from onnx import helper, numpy_helper

    for a in node.attribute:
        if a.name == "value":
            return numpy_helper.to_array(a.t)
        if a.name in ("value_float", "value_int", "value_floats", "value_ints"):
            v = helper.get_attribute_value(a)
            return np.asarray(v, dtype=np.float32 if "float" in a.name else np.int64)
    raise Unsupported("Constant without a supported value attribute")


def _static_shape(vi: Any) -> tuple[int, ...] | None:
    t = vi.type.tensor_type
    if not t.HasField("shape"):
        return None
    dims = []
    for d in t.shape.dim:
        if not d.HasField("dim_value"):
            return None
        dims.append(int(d.dim_value))
    return tuple(dims)


# ------------------------------------------------------------------------------------------------ the driver
def _load(source: Any) -> Any:
    import onnx

    if isinstance(source, onnx.ModelProto):
        return source
    p = Path(source)
    if not p.is_file():
        raise ModelImportError(f"{p}: no such ONNX file")
    try:
        return onnx.load(str(p))
    except Exception as exc:  # protobuf raises several types for a damaged file
        raise ModelImportError(f"{p}: not a readable ONNX model ({exc})") from None


def convert(
    source: Any,
    *,
    input_shapes: dict[str, tuple[int, ...]] | None = None,
    constants: dict[str, np.ndarray] | None = None,
) -> ImportResult:
    """Map an ONNX model (path or ModelProto) onto catalog layers. Raises ModelImportError listing every
    unsupported op. Does not write anything.

    `constants` freezes graph inputs to fixed values (e.g. weights that a model takes as inputs): they are
    folded like initializers and the input disappears from the imported graph."""
    import onnx
    from onnx import numpy_helper

    from . import onnx_ops  # noqa: F401  (importing it registers the op handlers in HANDLERS)

    start = time.perf_counter()
    model = _load(source)
    try:
        model = onnx.shape_inference.infer_shapes(model)
    except Exception:  # shape inference is a help, not a requirement
        pass
    opset = next((o.version for o in model.opset_import if o.domain in ("", "ai.onnx")), 13)
    g = model.graph
    consumers: dict[str, int] = {}
    for n in g.node:
        for i in n.input:
            consumers[i] = consumers.get(i, 0) + 1
    for o in g.output:
        consumers[o.name] = consumers.get(o.name, 0) + 1
    ctx = Context(opset, consumers)
    for init in g.initializer:
        ctx.consts[init.name] = numpy_helper.to_array(init)
    for k, v in (constants or {}).items():
        ctx.consts[k] = np.asarray(v)
    for vi in list(g.value_info) + list(g.input) + list(g.output):
        shape = _static_shape(vi)
        if shape is not None:
            ctx.static_shapes[vi.name] = shape
    problems: list[str] = []
    input_names: list[str] = []
    for vi in g.input:
        if vi.name in ctx.consts:
            continue  # old exporters list initializers as inputs too
        tt = vi.type.tensor_type
        dims = [d.dim_value if d.HasField("dim_value") else None for d in tt.shape.dim]
        if input_shapes and vi.name in input_shapes:
            dims = [None, *input_shapes[vi.name]]
        if len(dims) < 1 or any(d is None for d in dims[1:]):
            problems.append(
                f"input {vi.name!r}: needs fixed sizes after the batch dimension (got {dims}); "
                f"give them with input_shapes / --input-shape"
            )
            continue
        dtype = _DTYPES.get(tt.elem_type)
        if dtype is None:
            problems.append(f"input {vi.name!r}: element type {tt.elem_type} is not float32 or int64")
            continue
        shape = tuple(int(d) for d in dims[1:])
        if not shape:
            problems.append(
                f"input {vi.name!r}: a 1-D input (batch only) has no features; dlstudio inputs "
                f"need at least one dimension per sample"
            )
            continue
        node = Node(id=ctx.graph.new_id("n"), type="Input", label=vi.name, params={"shape": shape, "dtype": dtype})
        AddNode(node).apply(ctx.graph)
        outs = infer_node(ctx.graph, node, ctx.shapes)
        assert outs is not None
        ctx.bind(vi.name, Value(node.id, "out", outs[0]))
        input_names.append(vi.name)
    poisoned: set[str] = set()
    for n in g.node:
        name = n.name or f"{n.op_type}_{n.output[0] if n.output else '?'}"
        ins = [i for i in n.input if i]
        if n.domain not in ("", "ai.onnx"):
            problems.append(f"{n.op_type} (node {name!r}): custom domain {n.domain!r} is not supported")
            poisoned.update(n.output)
            continue
        if any(i in poisoned for i in ins):
            if n.op_type not in HANDLERS:
                problems.append(f"{n.op_type} (node {name!r}): no catalog layer for this op")
            poisoned.update(n.output)
            continue
        foldable = n.op_type not in ("RandomNormal", "RandomUniform", "RandomNormalLike", "RandomUniformLike")
        if foldable and all(i in ctx.consts for i in ins):
            try:
                for o, v in zip(n.output, _fold(n, ctx.consts, list(model.opset_import))):
                    ctx.consts[o] = v
                    if any(i in ctx.batch_tainted for i in ins):
                        ctx.batch_tainted.add(o)
                continue
            except Exception as exc:  # the reference evaluator lacks an op or rejects it
                problems.append(f"{n.op_type} (node {name!r}): cannot fold its constant inputs ({exc})")
                poisoned.update(n.output)
                continue
        if n.op_type == "Shape" and ins[0] in ctx.static_shapes:
            ctx.consts[n.output[0]] = np.asarray(ctx.static_shapes[ins[0]], dtype=np.int64)
            continue
        if (
            n.op_type == "Shape"
            and ins[0] in ctx.values
            and not ctx.values[ins[0]].layout
            and not any(a.name in ("start", "end") for a in n.attribute)
        ):
            # a dynamic batch: fold with a stand-in batch of 1 and mark everything computed from it, so only
            # uses that do not depend on the value (zero initial states, Reshape's batch entry) accept it
            info = ctx.values[ins[0]].info
            ctx.consts[n.output[0]] = np.asarray([1, *(int(d) for d in info.shape[1:])], dtype=np.int64)
            ctx.batch_tainted.add(n.output[0])
            continue
        handler = HANDLERS.get(n.op_type)
        if handler is None:
            problems.append(f"{n.op_type} (node {name!r}): no catalog layer for this op")
            poisoned.update(n.output)
            continue
        try:
            handler(ctx, n, name)
        except Unsupported as exc:
            problems.append(f"{n.op_type} (node {name!r}): {exc}")
            poisoned.update(n.output)
    output_names: list[str] = []
    for vo in g.output:
        if vo.name in poisoned:
            continue
        if vo.name not in ctx.values:
            problems.append(
                f"output {vo.name!r}: is a constant or not computed from the inputs; dlstudio "
                f"outputs must come from layers"
            )
            continue
        v = ctx.values[vo.name]
        if v.layout == "rnn_y1":
            # ONNX's batch-first 4-D Y (N, L, dirs, H): a per-sample Reshape of the layer's (N, L, dirs*H)
            seq, width = int(v.info.shape[1]), int(v.info.shape[2])
            try:
                v = ctx.add(
                    "Reshape",
                    [Value(v.node_id, v.port, v.info)],
                    {"shape": (seq, v.dirs, width // v.dirs)},
                    label=f"{vo.name}_4d",
                )[0]
            except Unsupported as exc:
                problems.append(f"output {vo.name!r}: {exc}")
                continue
        if v.layout:
            problems.append(
                f"output {vo.name!r}: is a time-major view ({v.layout}) of a recurrent layer's "
                f"output; dlstudio outputs are batch-first"
            )
            continue
        out = Node(id=ctx.graph.new_id("n"), type="Output", label=vo.name)
        AddNode(out).apply(ctx.graph)
        Connect(Edge(v.node_id, v.port, out.id, "x", 0)).apply(ctx.graph)
        output_names.append(vo.name)
    if problems:
        ops = sorted({p.split(" ", 1)[0] for p in problems})
        what = "the model" if hasattr(source, "graph") else str(source)
        raise ModelImportError(
            f"Cannot import {what}: {len(problems)} problem(s) ({', '.join(ops)}); nothing was written.\n  "
            + "\n  ".join(problems),
            problems,
        )
    apply_layout(ctx.graph)
    report = Report(kind="onnx-import", path=Path(source) if isinstance(source, (str, os.PathLike)) else None)
    report.details.update(opset=opset, nodes=len(ctx.graph), onnx_nodes=len(g.node), folded=len(ctx.consts))
    report.seconds = time.perf_counter() - start
    import torch

    weights = {k: torch.from_numpy(np.array(v)) for k, v in ctx.weights.items()}
    return ImportResult(ctx.graph, weights, report, input_names, output_names, dict(constants or {}))


def import_onnx(
    source: Any,
    *,
    check: bool = True,
    tolerance: float = 1e-4,
    seed: int = 0,
    input_shapes: dict[str, tuple[int, ...]] | None = None,
    constants: dict[str, np.ndarray] | None = None,
) -> ImportResult:
    """Import and (by default) check: the compiled graph and onnxruntime agree on a random batch."""
    result = convert(source, input_shapes=input_shapes, constants=constants)
    if check:
        _check(result, _load(source), tolerance, seed)
    return result


def _check(result: ImportResult, model: Any, tolerance: float, seed: int) -> None:
    import onnxruntime as ort
    import torch

    from ..compiler.samples import as_list, sample_inputs

    compiled = result.compile()
    args = sample_inputs(result.graph, batch=2, seed=seed)
    sess = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    feed_names = {i.name for i in sess.get_inputs()}
    feed = {n: a.numpy() for n, a in zip(result.input_names, args) if n in feed_names}
    for name in feed_names - set(feed):
        if name in result.constants:
            feed[name] = result.constants[name]
    try:
        got = sess.run(result.output_names, feed)
    except Exception as exc:  # a model with a fixed batch size: its outputs cannot be compared at batch 2
        result.report.warnings.append(
            f"onnxruntime could not run a batch of 2 ({str(exc).splitlines()[0]}); parity not checked"
        )
        return
    with torch.no_grad():
        expected = as_list(compiled(*args))
    result.report.max_abs_diff = compare_outputs(result.output_names, expected, got)
    result.report.checks.append("compiled graph vs onnxruntime on a random batch of 2")
    bad = {k: v for k, v in result.report.max_abs_diff.items() if not v <= tolerance}
    if bad:
        raise ModelImportError(
            "The imported graph does not reproduce the ONNX model: "
            + ", ".join(f"{k} max |diff| {v:.3g}" for k, v in bad.items()),
            [],
        )
