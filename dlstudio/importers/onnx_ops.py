"""ONNX op -> catalog layer mapping. The handlers live in one module per category
(onnx_ops_activation, _dense, _shape, _spatial, _norm, and onnx_rnn); importing this module registers them all.
One handler per op type; each adds layers through the import Context, or
raises Unsupported with the reason (which the importer lists with the node's name).

Conventions: ONNX dim 0 is the batch; dlstudio dims in parameters count from 1 for the first per-sample dim.
Weights are given in torch's layout (Linear weight is (out, in): ONNX Gemm's B transposed unless transB).
"""

from __future__ import annotations

from . import (  # noqa: F401  (importing them registers their handlers in base.HANDLERS)
    onnx_ops_activation,
    onnx_ops_arith,
    onnx_ops_dense,
    onnx_ops_norm,
    onnx_ops_quant,
    onnx_ops_shape,
    onnx_ops_spatial,
    onnx_rnn,
)
