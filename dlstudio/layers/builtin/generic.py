"""Generic imported-op nodes: an operation of an imported model that has no catalog layer, kept as-is.

OnnxOp holds one ONNX operation (op type, attributes, opset) and the shapes recorded at import. Its shape rule
returns the recorded shapes while the inputs are those recorded; when they change, shape inference asks the shape
oracle the compiler registers (dlstudio.analysis.oracle), which runs the op on torch's meta device.
"""

from __future__ import annotations

import json
import random
from typing import Any

from ...core.errors import ParamError, ShapeError
from ...core.tensor import BATCH, TensorInfo
from ..registry import register
from ..spec import LayerSpec, ParamSpec, PortSpec

IMPORTED_OP_BADGE = "imported op"


def encode_infos(infos: list[TensorInfo | None]) -> list:
    """TensorInfos as JSON: [dims (the batch as "N"), dtype] each."""
    return [None if t is None else [list(t.shape), t.dtype] for t in infos]


def decode_infos(data: list) -> list[TensorInfo | None]:
    return [None if d is None else TensorInfo(tuple(d[0]), d[1]) for d in data]


def param_json(params: dict, name: str) -> Any:
    """A JSON-valued parameter, decoded; a ParamError naming it when it is not valid JSON."""
    try:
        return json.loads(params[name] or "null")
    except ValueError as exc:
        raise ParamError(name, f"is not valid JSON ({exc})") from None


def recorded(params: dict) -> tuple[list[TensorInfo | None], list[TensorInfo]]:
    data = param_json(params, "shapes") or {}
    ins = decode_infos(data.get("in", []))
    outs = [t for t in decode_infos(data.get("out", [])) if t is not None]
    return ins, outs


def recorded_shape_rule(kind: str, op_param: str):  # noqa: ANN201 (a LayerSpec shape rule)
    """The shape rule of a generic op node: the outputs recorded at import while the inputs are those recorded;
    otherwise a ShapeError (the compiler's shape oracle answers before this rule when it is registered)."""

    def shape(params: dict, inputs: list) -> list[TensorInfo]:
        ins, outs = recorded(params)
        if list(inputs) == ins and len(outs) == params["num_outputs"]:
            return outs
        got = ", ".join(str(t) for t in inputs)
        was = ", ".join(str(t) for t in ins) or "none"
        raise ShapeError(
            f"the output shape of {kind} {params[op_param]} is unknown for inputs {got} (it was recorded at "
            f"import for {was}); compile the model (import dlstudio.compiler) so the shape oracle can run it, or "
            f"restore the recorded inputs",
            port="x",
            expected=was,
            got=got,
        )

    return shape


def generic_outputs(params: dict) -> tuple[PortSpec, ...]:
    n = max(1, int(params.get("num_outputs", 1)))
    return (PortSpec("y", dtype="any"),) if n == 1 else tuple(PortSpec(f"y{i}", dtype="any") for i in range(n))


def _kwargs(params: dict, inputs: list) -> dict[str, Any]:
    return {
        "op_type": params["op_type"],
        "attributes": param_json(params, "attributes") or {},
        "layout": param_json(params, "layout") or ["x"] * len(inputs),
        "opset": params["opset"],
    }


def layout_param_count(params: dict, inputs: list) -> int:
    """Trainable values a generic op holds: the `param` entries of its input layout."""
    n = 0
    for entry in param_json(params, "layout") or []:
        if isinstance(entry, dict) and "param" in entry:
            size = 1
            for d in entry["param"]:
                size *= int(d)
            n += size
    return n


def _sample(rng: random.Random) -> tuple[dict, list[TensorInfo]]:
    """A shape-preserving op on a random input (the torch harness checks the recorded shapes against torch)."""
    x = TensorInfo((BATCH, *(rng.randint(1, 5) for _ in range(rng.randint(1, 3)))))
    op = rng.choice(("Erf", "Abs", "Sigmoid", "Neg", "Softsign", "Cos"))
    shapes = {"in": encode_infos([x]), "out": encode_infos([x])}
    return {"op_type": op, "layout": '["x"]', "shapes": json.dumps(shapes)}, [x]


ONNX_OP = register(
    LayerSpec(
        type="OnnxOp",
        display_name="ONNX op",
        category="Blocks",
        explanation=(
            "An ONNX operation imported as-is, because no catalog layer matches it: it runs exactly as the "
            "original model's op did (op type and attributes, per the ONNX specification). Its output shapes were "
            "recorded at import; float constants it uses are kept as trainable parameters. Replace it with a "
            "catalog layer where one fits, to make it editable like the rest."
        ),
        inputs=(PortSpec("x", many=True, dtype="any", doc="the op's tensor inputs, in ONNX order"),),
        outputs=(PortSpec("y", dtype="any"),),
        params=(
            ParamSpec("op_type", "str", "Identity", doc="the ONNX operator type (Expand, ReduceMean, ...)"),
            ParamSpec("attributes", "str", "{}", doc="the ONNX attributes, as JSON"),
            ParamSpec("opset", "int", 13, min=1, max=30, doc="the ONNX opset the op follows", advanced=True),
            ParamSpec(
                "layout",
                "str",
                "[]",
                doc='where each ONNX input comes from, as JSON: "x" a wire, null left out, or a constant',
                advanced=True,
            ),
            ParamSpec("shapes", "str", "{}", doc="input and output shapes recorded at import, as JSON", advanced=True),
            ParamSpec("num_outputs", "int", 1, min=1, max=64, doc="how many outputs the op has", advanced=True),
        ),
        shape=recorded_shape_rule("ONNX op", "op_type"),
        sample=_sample,
        param_count=layout_param_count,
        module="dlstudio.nn.onnx_op.OnnxOp",
        kwargs=_kwargs,
        dynamic_outputs=generic_outputs,
        key_params=("op_type",),
        tags=("imported", "onnx", "generic", "shape_oracle"),
    )
)

__all__ = [
    "BATCH",
    "IMPORTED_OP_BADGE",
    "ONNX_OP",
    "decode_infos",
    "encode_infos",
    "generic_outputs",
    "layout_param_count",
    "param_json",
    "recorded",
    "recorded_shape_rule",
]
