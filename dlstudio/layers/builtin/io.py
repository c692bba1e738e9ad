"""Input and Output nodes. Their label is the tensor's name (ONNX input/output names, data binding)."""

from __future__ import annotations

from ...core.errors import ShapeError
from ...core.tensor import TensorInfo, batched
from ..registry import register
from ..spec import LayerSpec, ParamSpec, PortSpec


def _input_shape(params: dict, inputs: list) -> list[TensorInfo]:
    dtype = "int64" if params["dtype"] == "int64" else "float32"
    return [batched(params["shape"], dtype)]


def _output_shape(params: dict, inputs: list) -> list[TensorInfo]:
    if not inputs or inputs[0] is None:
        raise ShapeError("Output has nothing connected: wire the last layer into it", port="x")
    return []


register(
    LayerSpec(
        type="Input",
        category="Input/Output",
        explanation=(
            "Where data enters the network. Give the shape of one sample without the batch dimension, "
            "e.g. (1, 28, 28) for a grey 28x28 image or (4,) for four features. Pick int64 only when the "
            "values are token or class indices that feed an Embedding."
        ),
        inputs=(),
        outputs=(PortSpec("out", dtype="any"),),
        params=(
            ParamSpec("shape", "shape", (1, 28, 28), "Shape of one sample, without the batch dimension", torch=False),
            ParamSpec(
                "dtype", "choice", "float32", "Element type of the data", choices=("float32", "int64"), torch=False
            ),
        ),
        shape=_input_shape,
        key_params=("shape",),
        sample=lambda rng: ({"shape": (rng.randint(1, 8),), "dtype": "float32"}, []),
    )
)

register(
    LayerSpec(
        type="Output",
        category="Input/Output",
        explanation=(
            "Marks a tensor the network returns; its name is the output's name in exports and training. "
            "A network may have several outputs. Put no activation before it if the loss expects logits "
            "(CrossEntropy, BCEWithLogits)."
        ),
        inputs=(PortSpec("x", dtype="any"),),
        outputs=(),
        params=(),
        shape=_output_shape,
        sample=lambda rng: ({}, [batched((rng.randint(1, 8),))]),
    )
)
