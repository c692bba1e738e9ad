"""Constant folding for the ONNX import, and the graph rewrites done before or while mapping.

- Folding: a node whose inputs are all constants (initializers, Constant nodes, shapes known at import) is
  evaluated with onnx's reference implementation, so shape subgraphs (Shape -> Gather -> Unsqueeze -> Concat ->
  Reshape) become constants and the Reshape a normal layer.
- A dynamic batch: `Shape` of a tensor whose batch is not fixed is folded twice, with a stand-in batch of 1 (the
  value the handlers see) and of 3. A value computed from it that comes out equal both times does not depend on
  the batch (a sequence length, a head count); one that differs is batch-dependent, and when it is the same row
  repeated over the batch (`Expand(cls_token, [B, -1, -1])`, `ConstantOfShape(Shape(x))`) it can still be used:
  the generic op stores one row and expands it to the batch it runs on.
- `If` whose condition folds to a constant is replaced by the branch it takes; local functions (written by
  torch's dynamo exporter and onnxscript) are inlined.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .base import Context, Unsupported

STAND_IN_BATCH = 3  # the second stand-in batch size: values that differ between batch 1 and this one need the batch


class OnnxContext(Context):
    """The import context plus the ONNX-only bookkeeping of batch-dependent constants."""

    def __init__(self, opset: int, consumers: dict[str, int]) -> None:
        super().__init__(opset, consumers)
        # batch-dependent constants: their value at the stand-in batch STAND_IN_BATCH (None: could not evaluate)
        self.batch_alt: dict[str, np.ndarray | None] = {}

    def batch_row(self, name: str) -> np.ndarray | None:
        """For a batch-dependent constant that repeats one row over the batch (dim 0), that row (batch 1)."""
        alt = self.batch_alt.get(name)
        value = self.consts.get(name)
        if alt is None or value is None:
            return None
        value, alt = np.asarray(value), np.asarray(alt)
        if value.ndim == 0 or value.shape[0] != 1 or alt.shape != (STAND_IN_BATCH, *value.shape[1:]):
            return None
        return value if np.array_equal(alt, np.broadcast_to(value, alt.shape)) else None


def fold(node: Any, consts: dict[str, np.ndarray], opset_imports: list[Any]) -> list[np.ndarray]:
    """Evaluate one node on constant inputs with onnx's reference implementation."""
    import onnx
    from onnx import helper
    from onnx.reference import ReferenceEvaluator

    if node.op_type == "Constant":
        return [constant_value(node)]
    if node.op_type == "DequantizeLinear":  # onnx's reference evaluator has it only from opset 19 on
        from .onnx_ops_quant import dequantize

        x, scale, *zp = [consts[i] if i else None for i in node.input]
        return [dequantize(node, x, scale, zp[0] if zp else None)]
    inputs = [i for i in node.input if i]
    g = helper.make_graph(
        [node],
        "fold",
        [
            helper.make_tensor_value_info(i, helper.np_dtype_to_tensor_dtype(consts[i].dtype), consts[i].shape)
            for i in dict.fromkeys(inputs)
        ],
        [helper.make_tensor_value_info(o, onnx.TensorProto.UNDEFINED, None) for o in node.output if o],
        [],
    )
    model = helper.make_model(g, opset_imports=opset_imports)
    res = ReferenceEvaluator(model).run(None, {i: consts[i] for i in inputs})
    return [np.asarray(r) for r in res]


def fold_into(ctx: OnnxContext, node: Any, opset_imports: list[Any]) -> None:
    """Fold `node` into ctx.consts; evaluate it again at the second stand-in batch when an input depends on the
    batch, and keep it marked batch-dependent only if its value changes."""
    outs = fold(node, ctx.consts, opset_imports)
    ins = [i for i in node.input if i]
    tainted = [i for i in ins if i in ctx.batch_tainted]
    alts: list[np.ndarray | None] = [None] * len(outs)
    if tainted:
        if any(ctx.batch_alt.get(i) is None for i in tainted):
            alts = [None] * len(outs)
        else:
            feed = {i: ctx.batch_alt[i] if i in ctx.batch_alt else ctx.consts[i] for i in ins}
            try:
                alts = list(fold(node, feed, opset_imports))  # type: ignore[arg-type]
            except Exception:  # the op rejects the other batch size: keep it marked, with no second value
                alts = [None] * len(outs)
    for o, v, a in zip(node.output, outs, alts):
        if not o:
            continue
        ctx.consts[o] = v
        if tainted and (a is None or a.shape != v.shape or not np.array_equal(a, v)):
            ctx.batch_tainted.add(o)
            ctx.batch_alt[o] = a


def constant_value(node: Any) -> np.ndarray:
    from onnx import helper, numpy_helper

    for a in node.attribute:
        if a.name == "value":
            return numpy_helper.to_array(a.t)
        if a.name in ("value_float", "value_int", "value_floats", "value_ints"):
            v = helper.get_attribute_value(a)
            return np.asarray(v, dtype=np.float32 if "float" in a.name else np.int64)
    raise Unsupported("Constant without a supported value attribute")


def shape_slice(node: Any, shape: tuple[int, ...]) -> tuple[int, ...]:
    """`Shape`'s output for a tensor of this shape (its start/end attributes, opset 15)."""
    start, end = 0, len(shape)
    for a in node.attribute:
        if a.name == "start":
            start = int(a.i)
        elif a.name == "end":
            end = int(a.i)
    return tuple(shape[slice(start, end)])


# --------------------------------------------------------------------------------------------- If and functions
def taken_branch(ctx: OnnxContext, node: Any) -> Any | None:
    """The subgraph an If node runs when its condition is a constant that does not depend on the batch."""
    cond = node.input[0]
    if cond not in ctx.consts or cond in ctx.batch_tainted:
        return None
    value = np.asarray(ctx.consts[cond])
    if value.size != 1:
        return None
    branch = "then_branch" if bool(value.reshape(-1)[0]) else "else_branch"
    return next((a.g for a in node.attribute if a.name == branch), None)


def inline_branch(ctx: OnnxContext, node: Any, branch: Any) -> list[Any]:
    """The branch's nodes, then one Identity per If output reading the branch's result; the branch's own
    initializers become constants."""
    from onnx import helper, numpy_helper

    for init in branch.initializer:
        ctx.consts[init.name] = numpy_helper.to_array(init)
    if len(branch.output) != len([o for o in node.output if o]):
        raise Unsupported("the taken branch gives a different number of outputs than the If node")
    tail = [
        helper.make_node("Identity", [b.name], [o], name=f"{node.name or 'If'}/{o}")
        for b, o in zip(branch.output, node.output)
        if o
    ]
    return [*branch.node, *tail]


def count_consumers(graph: Any, counts: dict[str, int] | None = None) -> dict[str, int]:
    """How many node inputs and graph outputs read each value, subgraphs (If branches) included."""
    from onnx import AttributeProto

    counts = {} if counts is None else counts
    for n in graph.node:
        for i in n.input:
            counts[i] = counts.get(i, 0) + 1
        for a in n.attribute:
            if a.type == AttributeProto.GRAPH:
                count_consumers(a.g, counts)
            elif a.type == AttributeProto.GRAPHS:
                for sub in a.graphs:
                    count_consumers(sub, counts)
    for o in graph.output:
        counts[o.name] = counts.get(o.name, 0) + 1
    return counts


def inline_functions(model: Any) -> Any:
    """The model with its local functions (custom-domain ops defined in the file) expanded in place."""
    if not len(model.functions):
        return model
    from onnx import inliner

    try:
        return inliner.inline_local_functions(model)
    except Exception:  # an unusual function body: leave the nodes, the importer names them
        return model
