"""Quantized ONNX models in the operator form (QLinearConv, QLinearMatMul and onnxruntime's com.microsoft QLinear*
ops, as `quantize_static(..., QuantFormat.QOperator)` and the model zoo's int8 files write them) -> float ops.

Each quantized op is rewritten into its float op on dequantized weights (DequantizeLinear of a constant folds to a
float tensor; an int32 bias is scaled by input scale x weight scale). Activations stay the float values the
QuantizeLinear handler binds, so the import is the float model the quantized one approximates, as for QDQ files
(onnx_ops_quant). The rewritten nodes go back to the importer's queue and are mapped like any other.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
from onnx import helper, numpy_helper

# op type -> float op type, for elementwise and pooling ops whose inputs come as (x, x_scale, x_zero_point) triplets
_SIMPLE = {
    "QLinearSigmoid": "Sigmoid",
    "QLinearLeakyRelu": "LeakyRelu",
    "QLinearGlobalAveragePool": "GlobalAveragePool",
    "QLinearAveragePool": "AveragePool",
    "QLinearSoftmax": "Softmax",
}
_BINARY = {"QLinearAdd": "Add", "QLinearMul": "Mul"}
_KEEP_ATTRS = {"channels_last", "opset"}


def _attrs(node: Any, drop: set[str] = _KEEP_ATTRS) -> dict[str, Any]:
    return {a.name: helper.get_attribute_value(a) for a in node.attribute if a.name not in drop}


def _float_input(node: Any, x: str, scale: str, zero: str, out: list[Any], consts: Any, tag: str) -> str:
    """The float form of one quantized input: a constant is dequantized (and folds), a layer output is already
    float."""
    if x not in consts:
        return x
    name = f"{node.output[0]}/{tag}"
    out.append(helper.make_node("DequantizeLinear", [x, scale, zero], [name], name=name, axis=0 if tag == "w" else 1))
    return name


def _float_bias(node: Any, bias: str, x_scale: str, w_scale: str, out: list[Any], tag: str) -> str:
    """The float form of an int32 bias: its integer values times input scale times weight scale."""
    y = node.output[0]
    out += [
        helper.make_node("Cast", [bias], [f"{y}/{tag}_int"], to=1),
        helper.make_node("Mul", [x_scale, w_scale], [f"{y}/{tag}_scale"]),
        helper.make_node("Mul", [f"{y}/{tag}_int", f"{y}/{tag}_scale"], [f"{y}/{tag}"]),
    ]
    return f"{y}/{tag}"


def _weighted(op: str, bias_at: int, bias_tag: str) -> Any:
    """QLinearConv and QGemm: input 0 stays, the weight (inputs 3-5) and the int32 bias (at `bias_at`) become
    float, and the float `op` takes them with the node's attributes."""

    def convert(node: Any, consts: Any) -> list[Any]:
        ins = list(node.input) + [""] * 9
        out: list[Any] = []
        args = [ins[0], _float_input(node, ins[3], ins[4], ins[5], out, consts, "w")]
        if ins[bias_at]:
            args.append(_float_bias(node, ins[bias_at], ins[1], ins[4], out, bias_tag))
        out.append(helper.make_node(op, args, [node.output[0]], name=node.name, **_attrs(node)))
        return out

    return convert


def _matmul(node: Any, consts: Any) -> list[Any]:
    a, a_s, a_z, b, b_s, b_z = list(node.input)[:6]
    out: list[Any] = []
    fa = _float_input(node, a, a_s, a_z, out, consts, "a")
    fb = _float_input(node, b, b_s, b_z, out, consts, "w")
    out.append(helper.make_node("MatMul", [fa, fb], [node.output[0]], name=node.name))
    return out


def _binary(node: Any, consts: Any) -> list[Any]:
    a, a_s, a_z, b, b_s, b_z = list(node.input)[:6]
    out: list[Any] = []
    fa = _float_input(node, a, a_s, a_z, out, consts, "a")
    fb = _float_input(node, b, b_s, b_z, out, consts, "b")
    out.append(helper.make_node(_BINARY[node.op_type], [fa, fb], [node.output[0]], name=node.name))
    return out


def _concat(node: Any, consts: Any) -> list[Any]:
    ins = list(node.input)[2:]  # y_scale, y_zero_point, then (x, x_scale, x_zero_point) per input
    out: list[Any] = []
    parts = [
        _float_input(node, ins[i], ins[i + 1], ins[i + 2], out, consts, f"in{i // 3}") for i in range(0, len(ins), 3)
    ]
    out.append(helper.make_node("Concat", parts, [node.output[0]], name=node.name, **_attrs(node)))
    return out


def _simple(node: Any, consts: Any) -> list[Any]:
    at = _attrs(node)
    if node.op_type == "QLinearGlobalAveragePool" and any(a.name == "channels_last" and a.i for a in node.attribute):
        return []  # channels-last pooling: left to the importer, which names it
    return [helper.make_node(_SIMPLE[node.op_type], [node.input[0]], [node.output[0]], name=node.name, **at)]


_REWRITES: dict[str, Callable[[Any, Any], list[Any]]] = {
    "QLinearConv": _weighted("Conv", 8, "b"),
    "QLinearMatMul": _matmul,
    "QGemm": _weighted("Gemm", 6, "c"),
    "QLinearConcat": _concat,
    **dict.fromkeys(_BINARY, _binary),
    **dict.fromkeys(_SIMPLE, _simple),
}


# where the output scale and zero point are among the op's inputs
_OUTPUT_QUANT = {"QLinearConv": 6, "QLinearMatMul": 6, "QGemm": 7, "QLinearAdd": 6, "QLinearMul": 6, "QLinearConcat": 0}


def float_rewrite(node: Any, consts: dict[str, np.ndarray]) -> list[Any] | None:
    """The float nodes standing for a quantized operator-form node, or None when it is not one (or cannot be
    rewritten). `consts` holds the values known as constants."""
    if node.domain not in ("", "ai.onnx", "com.microsoft") or node.op_type not in _REWRITES:
        return None
    y = node.output[0]
    at = _OUTPUT_QUANT.get(node.op_type, 3)
    ins = list(node.input) + [""] * 9
    scale, zero = ins[at], ins[at + 1]
    if not scale or scale not in consts or (zero and zero not in consts):
        return _REWRITES[node.op_type](node, consts) or None
    # the quantized output saturates at its integer range (how a fused ReLU is written): clip the float result
    renamed = helper.make_node(node.op_type, node.input, [f"{y}/unclipped"], name=node.name, domain=node.domain)
    renamed.attribute.extend(node.attribute)
    nodes = _REWRITES[node.op_type](renamed, consts)
    if not nodes:
        return None
    zp = np.asarray(consts[zero]) if zero else np.zeros((), np.uint8)
    info = np.iinfo(zp.dtype) if zp.dtype.kind in "iu" else np.iinfo(np.uint8)
    s = np.asarray(consts[scale], dtype=np.float32)
    lo = ((info.min - zp.astype(np.float32)) * s).astype(np.float32).reshape(())
    hi = ((info.max - zp.astype(np.float32)) * s).astype(np.float32).reshape(())
    bounds = [
        helper.make_node("Constant", [], [f"{y}/min"], value=numpy_helper.from_array(lo)),
        helper.make_node("Constant", [], [f"{y}/max"], value=numpy_helper.from_array(hi)),
        helper.make_node("Clip", [f"{y}/unclipped", f"{y}/min", f"{y}/max"], [y], name=f"{node.name}/saturate"),
    ]
    return [*nodes, *bounds]
