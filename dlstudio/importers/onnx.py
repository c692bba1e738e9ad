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
from itertools import islice
from pathlib import Path
from typing import Any

import numpy as np

from ..analysis.shapes import infer_node
from ..compiler.report import Report
from ..core.edits import AddNode, Connect
from ..core.errors import DlstudioError, ModelImportError
from ..core.graph import Edge, Node
from ..core.layout import READING_WIDTH, apply_layout
from ..nn.onnx_op import onnx_supported
from ..nn.onnx_op_attention import MICROSOFT_OPS
from .base import HANDLERS, Context, ImportResult, Unsupported, Value
from .onnx_fold import (
    STAND_IN_BATCH,
    OnnxContext,
    count_consumers,
    fold_into,
    inline_branch,
    inline_functions,
    shape_slice,
    taken_branch,
)
from .onnx_generic import _NOT_NN, _STRING_OPS, add_generic, batch_view
from .onnx_inputs import default_sizes, named_batch_dim, onnx_shape, shown_dims
from .onnx_ops_qoperator import float_rewrite
from .onnx_ops_quant import mark_quantized
from .onnx_parity import _check, _first_line
from .onnx_scopes import group_by_scope, new_node_ids, node_scope, readable_labels

# ONNX element type -> dlstudio input dtype (integer and bool inputs come in as int64; a bool one is cast back)
_DTYPES = {1: "float32", 10: "float32", 11: "float32", 16: "float32", 7: "int64", 6: "int64", 9: "int64"}
_DTYPES.update(dict.fromkeys((2, 3, 4, 5, 12, 13), "int64"))


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
def _mark(ctx: Context) -> tuple[int, int, int]:
    """How many nodes, values and weights there are (all three are insertion-ordered and only grow while a handler
    runs, so what it added is what lies past these counts)."""
    return len(ctx.graph.nodes), len(ctx.values), len(ctx.weights)


def _rollback(ctx: Context, mark: tuple[int, int, int]) -> None:
    """Undo what a handler added before it gave up (so the generic fallback starts clean)."""
    from ..core.edits import RemoveNode

    nodes, values, weights = mark
    for nid in reversed(list(islice(ctx.graph.nodes, nodes, None))):
        RemoveNode(nid).apply(ctx.graph)
    for k in list(islice(ctx.values, values, None)):
        del ctx.values[k]
    for k in list(islice(ctx.weights, weights, None)):
        del ctx.weights[k]


_SHOWN_NAMES = 3
_CONTROL_FLOW = (
    "control flow (its branches or loop body are subgraphs), which dlstudio graphs do not hold: export the model "
    "with the branch it takes, or with the loop unrolled"
)
_REASONS = {
    "If": _CONTROL_FLOW + " (an If whose condition is a constant is replaced by the branch it takes)",
    "Loop": _CONTROL_FLOW,
    "Scan": _CONTROL_FLOW,
}
_NOT_FOLDED = frozenset({"RandomNormal", "RandomUniform", "RandomNormalLike", "RandomUniformLike", "Multinomial"})


def _problem_message(what: str, problems: list[str], node_problems: list[tuple[str, str, str]]) -> str:
    """One message for every problem: graph-level ones, then node ones grouped by op and reason, with counts and
    the first few node names."""
    groups: dict[tuple[str, str], list[str]] = {}
    for op, name, reason in node_problems:
        groups.setdefault((op, reason), []).append(name)
    ops = sorted({op for op, _, _ in node_problems})
    lines = list(problems)
    for (op, reason), names in sorted(groups.items(), key=lambda kv: (-len(kv[1]), kv[0])):
        shown = ", ".join(repr(n) for n in names[:_SHOWN_NAMES])
        more = f" and {len(names) - _SHOWN_NAMES} more" if len(names) > _SHOWN_NAMES else ""
        lines.append(f"{op} x{len(names)} (node{'s' if len(names) > 1 else ''} {shown}{more}): {reason}")
    total = len(problems) + len(node_problems)
    head = f"Cannot import {what}: {total} problem(s)"
    if ops:
        head += f" in {len(ops)} op type(s) ({', '.join(ops)})"
    return head + "; nothing was written.\n  " + "\n  ".join(lines)


def _flat_problems(problems: list[str], node_problems: list[tuple[str, str, str]]) -> list[str]:
    return list(problems) + [f"{op} (node {name!r}): {reason}" for op, name, reason in node_problems]


def _load(source: Any) -> Any:
    import onnx

    if isinstance(source, onnx.ModelProto):
        return source
    p = Path(source)
    if not p.is_file():
        raise ModelImportError(f"{p}: no such ONNX file")
    data = p.read_bytes()
    if not data:
        raise ModelImportError(f"{p}: the file is empty (0 bytes), not an ONNX model")
    try:
        model = onnx.load_model_from_string(data)
    except Exception as exc:  # protobuf raises several types for a damaged file
        head = data[:64].lstrip()
        if head[:1] in (b"{", b"<", b"#") or head[:2] == b"PK" or head[:4] == b"\x89HDF":
            raise ModelImportError(f"{p}: not an ONNX model (it looks like another file format)") from None
        if data[:1] == b"\x08":  # an ONNX file opens with its ir_version field
            raise ModelImportError(
                f"{p}: the file is truncated or damaged: it starts like an ONNX model but cannot be read to the "
                f"end ({len(data)} bytes; {_first_line(exc)})"
            ) from None
        raise ModelImportError(f"{p}: not an ONNX model (its bytes are not an ONNX protobuf)") from None
    if not model.graph.node and not model.graph.output:
        raise ModelImportError(f"{p}: not an ONNX model, or an empty one (no graph nodes and no outputs)")
    _load_external_data(model, p)
    return inline_functions(model)


def _load_external_data(model: Any, path: Path) -> None:
    """Read the weights an ONNX file keeps in separate files (named relative to the .onnx file)."""
    from onnx.external_data_helper import _get_all_tensors, load_external_data_for_model, uses_external_data

    locations: dict[str, int] = {}
    for t in _get_all_tensors(model):
        if uses_external_data(t):
            info = {e.key: e.value for e in t.external_data}
            where = info.get("location", "")
            end = int(info.get("offset", 0) or 0) + int(info.get("length", 0) or 0)
            locations[where] = max(locations.get(where, 0), end)
    if not locations:
        return
    for where, needed in locations.items():
        data = path.parent / where
        if not data.is_file():
            raise ModelImportError(
                f"{path}: its weights are stored in a separate file {where!r}, which is missing; put it next to "
                f"the .onnx file ({data.parent})"
            )
        if data.stat().st_size < needed:
            raise ModelImportError(
                f"{path}: its external weight file {where!r} is truncated ({data.stat().st_size} bytes, the "
                f"model reads up to byte {needed})"
            )
    total = sum(locations.values())
    if total > _LARGE_MODEL_BYTES:
        raise ModelImportError(
            f"{path}: the model's weights take {total / 2**30:.1f} GiB in external data; dlstudio imports models "
            f"up to {_LARGE_MODEL_BYTES / 2**30:.0f} GiB of weights (the imported graph, its parity check and "
            f"training all hold them in memory)"
        )
    try:
        load_external_data_for_model(model, str(path.parent))
    except Exception as exc:
        raise ModelImportError(f"{path}: its external weight data cannot be read ({_first_line(exc)})") from None


_LARGE_MODEL_BYTES = 2 * 2**30  # larger weights: refused with a message (protobuf's own limit is 2 GiB)


_SHAPE_ONLY_LIMIT = 1024  # initializers above this many elements are weights, not shape data


def _inferred_value_infos(model: Any) -> list[Any]:
    """onnx shape inference on a copy without the large initializers (declared as inputs of their shape instead):
    inference copies the whole model, weights included, and reads only the small, shape-like constants."""
    import onnx
    from onnx import helper

    g = model.graph
    light = onnx.ModelProto()
    light.ir_version = model.ir_version
    light.opset_import.extend(model.opset_import)
    lg = light.graph
    lg.node.extend(g.node)
    lg.input.extend(g.input)
    lg.output.extend(g.output)
    lg.value_info.extend(g.value_info)
    declared = {i.name for i in g.input}
    for init in g.initializer:
        n = 1
        for d in init.dims:
            n *= int(d)
        if n <= _SHAPE_ONLY_LIMIT or init.data_type not in (1, 10, 11, 16):
            lg.initializer.append(init)
        elif init.name not in declared:
            lg.input.append(helper.make_tensor_value_info(init.name, init.data_type, list(init.dims)))
    try:
        inferred = onnx.shape_inference.infer_shapes(light).graph
    except Exception:  # shape inference is a help, not a requirement
        return list(g.value_info) + list(g.input) + list(g.output)
    return list(inferred.value_info) + list(g.input) + list(inferred.output)


def convert(
    source: Any,
    *,
    input_shapes: dict[str, tuple[int, ...]] | None = None,
    constants: dict[str, np.ndarray] | None = None,
    blocks: bool = True,
) -> ImportResult:
    """Map an ONNX model (path or ModelProto) onto catalog layers. Raises ModelImportError listing every
    unsupported op. Does not write anything.

    `constants` freezes graph inputs to fixed values (e.g. weights that a model takes as inputs): they are
    folded like initializers and the input disappears from the imported graph. `blocks` groups the layers of
    each module scope the exporter named into a collapsed block and labels them after their modules
    (dlstudio.importers.onnx_scopes)."""
    start = time.perf_counter()
    model = _load(source)
    loaded = time.perf_counter() - start
    result = _convert_model(model, source, input_shapes, constants, blocks)
    result.report.details["timings"]["load"] = loaded
    result.report.seconds = time.perf_counter() - start
    return result


def _convert_model(
    model: Any,
    source: Any,
    input_shapes: dict[str, tuple[int, ...]] | None,
    constants: dict[str, np.ndarray] | None,
    blocks: bool,
) -> ImportResult:
    from onnx import helper, numpy_helper

    from . import onnx_ops  # noqa: F401  (importing it registers the op handlers in HANDLERS)

    start = time.perf_counter()
    value_infos = _inferred_value_infos(model)
    opset = next((o.version for o in model.opset_import if o.domain in ("", "ai.onnx")), 13)
    g = model.graph
    ctx = OnnxContext(opset, count_consumers(g))
    for init in g.initializer:
        ctx.consts[init.name] = numpy_helper.to_array(init)
    for k, v in (constants or {}).items():
        ctx.consts[k] = np.asarray(v)
    for vi in value_infos:
        shape = _static_shape(vi)
        if shape is not None:
            ctx.static_shapes[vi.name] = shape
    opset_imports = list(model.opset_import)
    problems: list[str] = []
    assumed: list[str] = []  # inputs imported at default sizes
    moved_inputs: list[str] = []  # time-major inputs imported batch-first
    batch_dims: dict[str, int] = {}
    input_names: list[str] = []
    for vi in g.input:
        if vi.name in ctx.consts:
            continue  # old exporters list initializers as inputs too
        tt = vi.type.tensor_type
        dims = [d.dim_value if d.HasField("dim_value") else None for d in tt.shape.dim]
        batch_at = named_batch_dim(tt)
        if batch_at:  # a time-major input, (T, N, F) as torch's default nn.LSTM takes it: imported batch-first
            dims = [dims[batch_at], *dims[:batch_at], *dims[batch_at + 1 :]]
            batch_dims[vi.name] = batch_at
            moved_inputs.append(
                f"input {vi.name!r}: its batch is dim {batch_at} in the file (shape {shown_dims(tt)}); the imported "
                f"model takes it batch-first, as all dlstudio inputs"
            )
        given = bool(input_shapes) and vi.name in (input_shapes or {})
        if given:
            dims = [None, *(input_shapes or {})[vi.name]]
        elif not tt.HasField("shape") or len(dims) < 1:
            problems.append(
                f"input {vi.name!r}: "
                + ("has no shape in the file" if not tt.HasField("shape") else "is a scalar (no batch dimension)")
                + f"; give its per-sample shape with --input-shape (input_shapes={{{vi.name!r}: (...)}})"
            )
            continue
        elif any(d is None for d in dims[1:]):
            # sizes the file leaves free: import at a usual size and say which, with the option to choose others
            shown = [d.dim_value if d.HasField("dim_value") else (d.dim_param or "?") for d in tt.shape.dim]
            dims = [dims[0], *default_sizes(dims, tt.elem_type)]
            free = [f"{s}={dims[i + 1]}" for i, s in enumerate(shown[1:]) if not isinstance(s, int)]
            hint = ",".join(str(s) if isinstance(s, int) else str(s).upper() for s in shown[1:])
            assumed.append(
                f"input {vi.name!r}: sizes the file leaves free (shape {shown}) were set to {', '.join(free)}; "
                f"give others with --input-shape {hint} (one per input, in order; Python: "
                f"input_shapes={{{vi.name!r}: (...)}})"
            )
        dtype = _DTYPES.get(tt.elem_type)
        if tt.elem_type == 8:
            problems.append(
                f"input {vi.name!r}: a string tensor (text); dlstudio imports neural networks on numeric "
                f"tensors, not string or tokenizer pipelines"
            )
            continue
        if dtype is None:
            problems.append(f"input {vi.name!r}: element type {tt.elem_type} is not a number or bool type")
            continue
        shape = tuple(int(d) for d in dims[1:])  # () for a batch-only (1-D) input
        if dims and isinstance(dims[0], int) and dims[0] > 0 and ctx.file_batch is None:
            ctx.file_batch = int(dims[0])
        node = Node(id=ctx.graph.new_id("n"), type="Input", label=vi.name, params={"shape": shape, "dtype": dtype})
        AddNode(node).apply(ctx.graph)
        outs = infer_node(ctx.graph, node, ctx.shapes)
        assert outs is not None
        if tt.elem_type == 9:  # a bool input (a mask): an int64 Input and a Cast to bool, as-is
            ctx.bind(f"{vi.name}/int64", Value(node.id, "out", outs[0], batch_view(batch_at, len(dims))))
            try:
                add_generic(ctx, helper.make_node("Cast", [f"{vi.name}/int64"], [vi.name], to=9), f"{vi.name}_bool")
            except (Unsupported, DlstudioError) as exc:
                problems.append(f"input {vi.name!r}: a bool input ({exc})")
        else:
            ctx.bind(vi.name, Value(node.id, "out", outs[0], batch_view(batch_at, len(dims))))
        input_names.append(vi.name)
    poisoned: set[str] = set()
    node_problems: list[tuple[str, str, str]] = []  # (op type, node name, reason)

    # dlstudio node id -> (the module path its ONNX node was named after, that node's name)
    origins: dict[str, tuple[tuple[str, ...], str]] = {}

    def refuse(n: Any, name: str, reason: str) -> None:
        node_problems.append((n.op_type, name, reason))
        poisoned.update(n.output)

    quantized: set[str] = set()  # outputs of rewritten quantized ops: float values that a DequantizeLinear hands on
    pending = list(reversed(g.node))  # a stack: an If with a constant condition pushes its branch's nodes
    while pending:
        n = pending.pop()
        name = n.name or f"{n.op_type}_{n.output[0] if n.output else '?'}"
        ins = [i for i in n.input if i]
        rewritten = float_rewrite(n, ctx.consts) if n.op_type.startswith(("QLinear", "QGemm")) else None
        if rewritten is not None:  # a quantized operator-form op: its float form (onnx_ops_qoperator)
            pending.extend(reversed(rewritten))
            quantized.update(o for o in n.output if o)
            continue
        if n.domain == "ai.onnx.ml" or n.op_type in _STRING_OPS:
            refuse(n, name, _NOT_NN)
            continue
        if n.domain not in ("", "ai.onnx") and not (n.domain == "com.microsoft" and n.op_type in MICROSOFT_OPS):
            refuse(n, name, f"custom domain {n.domain!r} is not supported")
            continue
        if any(i in poisoned for i in ins):
            poisoned.update(n.output)  # the upstream problem is reported; this node only if it has its own
            if n.op_type not in HANDLERS and not onnx_supported(n.op_type):
                refuse(n, name, "no catalog layer and no generic implementation for this op")
            continue
        if n.op_type == "If" and not any(i in poisoned for i in ins):
            branch = taken_branch(ctx, n)
            if branch is not None:
                try:
                    pending.extend(reversed(inline_branch(ctx, n, branch)))
                except Unsupported as exc:
                    refuse(n, name, str(exc))
                continue
        foldable = n.op_type not in _NOT_FOLDED
        if foldable and all(i in ctx.consts for i in ins):
            try:
                fold_into(ctx, n, opset_imports)
                continue
            except Exception as exc:  # the reference evaluator lacks an op or rejects it
                if n.op_type not in _REASONS:
                    refuse(n, name, f"cannot fold its constant inputs ({_first_line(exc)})")
                    continue
        if n.op_type == "Shape" and ins[0] in ctx.static_shapes:
            ctx.consts[n.output[0]] = np.asarray(shape_slice(n, ctx.static_shapes[ins[0]]), dtype=np.int64)
            continue
        if n.op_type == "Shape" and ins[0] in ctx.values:
            # a dynamic batch: fold with stand-in batches (onnx_fold), so only values that do not depend on it
            # or repeat one row over it are accepted
            v = ctx.values[ins[0]]
            one, alt = shape_slice(n, onnx_shape(v, 1)), shape_slice(n, onnx_shape(v, STAND_IN_BATCH))
            ctx.consts[n.output[0]] = np.asarray(one, dtype=np.int64)
            if one != alt:
                ctx.batch_tainted.add(n.output[0])
                ctx.batch_alt[n.output[0]] = np.asarray(alt, dtype=np.int64)
            continue
        if n.op_type == "Size" and ins[0] in ctx.static_shapes:
            ctx.consts[n.output[0]] = np.asarray(int(np.prod(ctx.static_shapes[ins[0]])), dtype=np.int64)
            continue
        if n.op_type == "DequantizeLinear" and ins and ins[0] in quantized:
            mark_quantized(ctx, ins[0])
        handler = HANDLERS.get(n.op_type)
        reason = _REASONS.get(n.op_type, "no catalog layer for this op, and the generic ONNX op does not implement it")
        before = len(ctx.graph.nodes)
        scope = node_scope(n) if blocks else ()
        if handler is not None:
            mark = _mark(ctx)
            try:
                handler(ctx, n, name)
                origins.update((nid, (scope, name)) for nid in new_node_ids(ctx.graph, before))
                continue
            except Unsupported as exc:
                reason = str(exc)
                _rollback(ctx, mark)
            except Exception as exc:  # a mapping bug must not end the import with a traceback
                reason = f"the {n.op_type} mapping failed ({type(exc).__name__}: {_first_line(exc)})"
                _rollback(ctx, mark)
        if onnx_supported(n.op_type):
            mark = _mark(ctx)
            try:
                add_generic(ctx, n, name)
                origins.update((nid, (scope, name)) for nid in new_node_ids(ctx.graph, before))
                continue
            except (Unsupported, DlstudioError) as exc:
                _rollback(ctx, mark)
                reason = str(exc) if handler is None else f"{reason}; as a generic ONNX op: {exc}"
        refuse(n, name, reason)
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
        if v.layout and ctx.file_batch is not None and not v.layout.startswith("rnn_"):
            # the batch sits elsewhere in this output: at the batch size the file fixes, an as-is Identity gives
            # the ONNX tensor itself
            try:
                add_generic(ctx, helper.make_node("Identity", [vo.name], [f"{vo.name}/out"]), f"{vo.name}_out")
                v = ctx.values[f"{vo.name}/out"]
            except (Unsupported, DlstudioError) as exc:
                problems.append(f"output {vo.name!r}: {exc}")
                continue
        if v.layout:
            problems.append(
                f"output {vo.name!r}: moves the batch out of the first dimension (a time-major view, "
                f"{v.layout}, as recurrent layers read it); dlstudio outputs keep the batch first"
            )
            continue
        out = Node(id=ctx.graph.new_id("n"), type="Output", label=vo.name)
        AddNode(out).apply(ctx.graph)
        Connect(Edge(v.node_id, v.port, out.id, "x", 0)).apply(ctx.graph)
        output_names.append(vo.name)
    if (problems or node_problems) and assumed:
        problems.extend(f"(note) {a}" for a in assumed)
    if problems or node_problems:
        what = "the model" if hasattr(source, "graph") else str(source)
        raise ModelImportError(_problem_message(what, problems, node_problems), _flat_problems(problems, node_problems))
    mapped = time.perf_counter()
    made = group_by_scope(ctx.graph, {nid: scope for nid, (scope, _) in origins.items()}) if blocks else []
    if blocks:
        readable_labels(ctx.graph, origins)
    apply_layout(ctx.graph, max_width=READING_WIDTH)
    laid_out = time.perf_counter()
    report = Report(kind="onnx-import", path=Path(source) if isinstance(source, (str, os.PathLike)) else None)
    report.details.update(opset=opset, nodes=len(ctx.graph), onnx_nodes=len(g.node), folded=len(ctx.consts))
    if made:
        report.details["blocks"] = len(made)
    if ctx.file_batch is not None:
        report.details["file_batch"] = ctx.file_batch
    generic: dict[str, int] = {}
    for node in ctx.graph.nodes.values():
        if node.type == "OnnxOp":
            op = str(node.params.get("op_type"))
            generic[op] = generic.get(op, 0) + 1
    if generic:
        report.details["generic_ops"] = dict(sorted(generic.items()))
        listed = ", ".join(f"{op} x{k}" for op, k in sorted(generic.items(), key=lambda kv: (-kv[1], kv[0])))
        report.warnings.append(
            f"{sum(generic.values())} op(s) imported as-is as generic ONNX ops (OnnxOp, no catalog layer): {listed}"
        )
    report.warnings.extend(assumed + moved_inputs)
    if batch_dims:
        report.details["input_batch_dims"] = batch_dims
    if ctx.fixed_batch:
        batch = ctx.fixed_batch[0][1]
        report.details["fixed_batch"] = batch
        names = ", ".join(repr(n) for n, _, _ in ctx.fixed_batch[:3])
        more = f" and {len(ctx.fixed_batch) - 3} more" if len(ctx.fixed_batch) > 3 else ""
        report.warnings.append(
            f"{len(ctx.fixed_batch)} imported op(s) ({names}{more}) mix the batch dimension with others, so the "
            f"model works only at the batch size the file fixes ({batch})"
        )
    import torch

    weights = {k: torch.from_numpy(_owned(v)) for k, v in ctx.weights.items()}
    done = time.perf_counter()
    report.details["timings"] = {"map": mapped - start, "layout": laid_out - mapped, "weights": done - laid_out}
    report.seconds = done - start
    return ImportResult(ctx.graph, weights, report, input_names, output_names, dict(constants or {}))


def _owned(value: Any) -> np.ndarray:
    """The array itself when torch can share it (contiguous, writable), else a copy."""
    arr = np.asarray(value)
    return arr if arr.flags.writeable and arr.flags.c_contiguous else np.array(arr)


def import_onnx(
    source: Any,
    *,
    check: bool = True,
    tolerance: float = 1e-4,
    seed: int = 0,
    input_shapes: dict[str, tuple[int, ...]] | None = None,
    constants: dict[str, np.ndarray] | None = None,
    blocks: bool = True,
) -> ImportResult:
    """Import and (by default) check: the compiled graph and onnxruntime agree on a random batch. `blocks`: group
    layers into blocks by module scope (see `convert`)."""
    start = time.perf_counter()
    model = _load(source)
    loaded = time.perf_counter() - start
    result = _convert_model(model, source, input_shapes, constants, blocks)
    timings = result.report.details["timings"]
    timings["load"] = loaded
    if check:
        checking = time.perf_counter()
        _check(result, model, tolerance, seed, source if isinstance(source, (str, os.PathLike)) else None)
        timings["parity"] = time.perf_counter() - checking
    result.report.seconds = time.perf_counter() - start
    return result
