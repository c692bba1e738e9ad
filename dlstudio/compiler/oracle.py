"""The torch shape oracle for generic imported ops (registered with dlstudio.analysis.oracle on import).

It builds the op's module and runs it at two batch sizes, on torch's meta device where the op allows (no data is
computed) and on small CPU tensors where it does not (ops that read values, such as Range). An output whose first
dimension follows the batch gets the batch symbol; one that does not change with the batch keeps its sizes.
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from typing import Any

import torch

from ..analysis.oracle import register_shape_oracle
from ..core.errors import ShapeError
from ..core.tensor import BATCH, TensorInfo
from ..layers.spec import LayerSpec

_BATCHES = (2, 3)
_TORCH_DTYPES = {"float32": torch.float32, "int64": torch.int64, "bool": torch.bool}


def _dtype_name(t: torch.Tensor) -> str:
    if t.dtype == torch.bool:
        return "bool"
    return "float32" if t.is_floating_point() else "int64"


def _example(info: TensorInfo, batch: int, device: str) -> torch.Tensor:
    shape = [batch if d == BATCH else int(d) for d in info.shape]
    dtype = _TORCH_DTYPES.get(info.dtype, torch.float32)
    if device == "meta":
        return torch.empty(shape, dtype=dtype, device="meta")
    if dtype == torch.float32:
        return torch.rand(shape, generator=torch.Generator().manual_seed(0)) + 0.5
    return torch.zeros(shape, dtype=dtype)


def _run(module: Any, inputs: Sequence[TensorInfo | None], batch: int, device: str) -> list[torch.Tensor]:
    xs = [_example(t, batch, device) for t in inputs if t is not None]
    with torch.no_grad():
        out = (copy.deepcopy(module).to(device) if device == "meta" else module)(*xs)
    return list(out) if isinstance(out, (tuple, list)) else [out]


class BatchDependentShape(ShapeError):
    """The op's output shape changes with the batch size other than in its first dimension."""


def run_op_shapes(
    module: Any, inputs: Sequence[TensorInfo | None], batches: tuple[int, int] = _BATCHES
) -> list[TensorInfo]:
    """Output TensorInfos of `module` on `inputs` (batch symbol kept where it follows the batch). With one fixed
    batch size (`batches=(b, b)`) every output gets concrete sizes."""
    runs: list[list[torch.Tensor]] = []
    for batch in batches:
        try:
            runs.append(_run(module, inputs, batch, "meta"))
        except Exception:  # ops that read values, or meta kernels torch lacks
            try:
                runs.append(_run(module, inputs, batch, "cpu"))
            except Exception as exc:
                if batches == _BATCHES:
                    raise BatchDependentShape(
                        f"the op cannot run on inputs {', '.join(map(str, inputs))} at batch {batch}: {exc}"
                    ) from None
                raise ShapeError(f"the op cannot run on inputs {', '.join(map(str, inputs))}: {exc}") from None
    has_batch = any(t is not None and t.shape[:1] == (BATCH,) for t in inputs)
    out: list[TensorInfo] = []
    for i, (a, b) in enumerate(zip(*runs)):
        sa, sb = list(a.shape), list(b.shape)
        if sa == sb:
            out.append(TensorInfo(tuple(sa), _dtype_name(a)))
        elif has_batch and sa[:1] == [batches[0]] and sb[:1] == [batches[1]] and sa[1:] == sb[1:]:
            out.append(TensorInfo((BATCH, *sa[1:]), _dtype_name(a)))
        else:
            raise BatchDependentShape(
                f"output {i}'s shape depends on the batch size in a way dlstudio cannot express "
                f"({sa} at batch {batches[0]}, {sb} at batch {batches[1]})"
            )
    return out


def module_op_oracle(kind: str, op_param: str):  # noqa: ANN201 (an oracle for register_shape_oracle)
    """The oracle of a generic op node whose spec builds a torch module (OnnxOp, AtenOp): build it from the
    node's parameters and run it on the meta device."""

    def oracle(spec: LayerSpec, params: dict, inputs: Sequence[TensorInfo | None]) -> list[TensorInfo]:
        from .build import resolve_dotted

        assert spec.module is not None
        try:
            module = resolve_dotted(spec.module)(**spec.torch_kwargs(params, list(inputs)))
        except Exception as exc:
            raise ShapeError(f"cannot build {kind} {params.get(op_param)}: {exc}") from None
        outs = run_op_shapes(module, inputs)
        if len(outs) != params["num_outputs"]:
            raise ShapeError(
                f"{kind} {params[op_param]} gives {len(outs)} outputs, the node has {params['num_outputs']}"
            )
        return outs

    return oracle


onnx_op_oracle = module_op_oracle("ONNX op", "op_type")
aten_op_oracle = module_op_oracle("PyTorch op", "op")  # a PyTorch operator kept from a torch.export import
register_shape_oracle("OnnxOp", onnx_op_oracle)
register_shape_oracle("AtenOp", aten_op_oracle)
