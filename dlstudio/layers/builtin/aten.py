"""AtenOp: a PyTorch operator of an imported model (torch.export graph) that has no catalog layer, kept as-is.

Like OnnxOp (generic.py) it records the shapes seen at import; when its inputs change, shape inference asks the
shape oracle the compiler registers, which runs the operator on torch's meta device.
"""

from __future__ import annotations

import json
import random
from typing import Any

from ...core.tensor import BATCH, TensorInfo
from ..registry import register
from ..spec import LayerSpec, ParamSpec, PortSpec
from .generic import encode_infos, generic_outputs, layout_param_count, param_json, recorded_shape_rule


def _kwargs(params: dict, inputs: list) -> dict[str, Any]:
    return {
        "op": params["op"],
        "arguments": param_json(params, "arguments") or {},
        "layout": param_json(params, "layout") or ["x"] * len(inputs),
    }


_SAMPLE_OPS: tuple[tuple[str, list[float]], ...] = (
    ("aten.relu.default", []),
    ("aten.neg.default", []),
    ("aten.sigmoid.default", []),
    ("aten.mul.Tensor", [0.5]),
    ("aten.add.Tensor", [1.0]),
    ("aten.clamp.default", [-0.5, 0.5]),
)


def _sample(rng: random.Random) -> tuple[dict, list[TensorInfo]]:
    """A shape-preserving operator on a random input (the torch harness checks the recorded shapes)."""
    x = TensorInfo((BATCH, *(rng.randint(1, 5) for _ in range(rng.randint(1, 3)))))
    op, extra = rng.choice(_SAMPLE_OPS)
    shapes = {"in": encode_infos([x]), "out": encode_infos([x])}
    arguments = {"args": [{"tensor": 0}, *extra], "kwargs": {}}
    return {"op": op, "arguments": json.dumps(arguments), "layout": '["x"]', "shapes": json.dumps(shapes)}, [x]


ATEN_OP = register(
    LayerSpec(
        type="AtenOp",
        display_name="PyTorch op",
        category="Blocks",
        explanation=(
            "A PyTorch operator imported as-is from a model's torch.export graph, because no catalog layer "
            "matches it: it runs exactly as the original model's op did (the ATen operator and its constant "
            "arguments). Its output shapes were recorded at import; parameters it uses stay trainable. Replace it "
            "with a catalog layer where one fits, to make it editable like the rest."
        ),
        inputs=(PortSpec("x", many=True, dtype="any", doc="the op's tensor inputs, in argument order"),),
        outputs=(PortSpec("y", dtype="any"),),
        params=(
            ParamSpec("op", "str", "aten.relu.default", doc="the operator: namespace.name.overload"),
            ParamSpec(
                "arguments",
                "str",
                '{"args": [{"tensor": 0}], "kwargs": {}}',
                doc='the call\'s arguments as JSON; {"tensor": i} is the i-th tensor, {"sym": "N"} the batch size',
            ),
            ParamSpec(
                "layout",
                "str",
                '["x"]',
                doc='where each tensor comes from, as JSON: "x" a wire, {"param": shape} a trained tensor',
                advanced=True,
            ),
            ParamSpec("shapes", "str", "{}", doc="input and output shapes recorded at import, as JSON", advanced=True),
            ParamSpec("num_outputs", "int", 1, min=1, max=64, doc="how many outputs the op has", advanced=True),
        ),
        shape=recorded_shape_rule("PyTorch op", "op"),
        sample=_sample,
        param_count=layout_param_count,
        module="dlstudio.nn.aten_op.AtenOp",
        kwargs=_kwargs,
        dynamic_outputs=generic_outputs,
        key_params=("op",),
        tags=("imported", "aten", "generic", "shape_oracle"),
    )
)

__all__ = ["ATEN_OP"]
