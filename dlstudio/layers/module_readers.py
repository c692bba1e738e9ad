"""`read_module` rules: catalog parameters read back from a built torch module, for the layer types whose parameters
are not the module's attribute names (LayerSpec.from_module uses the attribute names for the rest).

Rules are duck-typed (getattr only) so that layers/ stays free of torch. Each returns the parameters it can
read; parameters that only exist at the call site (an RNN's `output`, attention's `causal` mask) keep their
defaults, and the importer sets them from how the module is called.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

ModuleReader = Callable[[Any], dict[str, Any]]

# parameters that are facts of the call or of the import, not of the module object
CALL_SITE_PARAMS: dict[str, tuple[str, ...]] = {
    "GRU": ("output",),
    "LSTM": ("output",),
    "RNN": ("output",),
    "MultiheadAttention": ("causal",),
    "TransformerEncoderLayer": ("causal",),
    "TransformerEncoder": ("causal",),
    "TransformerDecoderLayer": ("causal",),
    "OnnxOp": ("shapes", "num_outputs"),
    "AtenOp": ("shapes", "num_outputs"),
}


def _layer_norm(m: Any) -> dict[str, Any]:
    return {
        "normalized_dims": len(m.normalized_shape),
        "eps": float(m.eps),
        "elementwise_affine": bool(m.elementwise_affine),
        "bias": getattr(m, "bias", None) is not None,
    }


def _prelu(m: Any) -> dict[str, Any]:
    init = getattr(m, "init", 0.25)
    return {"per_channel": int(m.num_parameters) > 1, "init": float(init)}


def _batch_first(m: Any) -> None:
    if not getattr(m, "batch_first", False):
        raise ValueError("only batch_first=True attention layers map onto the catalog (it is batch first)")


def _mha(m: Any) -> dict[str, Any]:
    _batch_first(m)
    return {"num_heads": int(m.num_heads), "dropout": float(m.dropout), "bias": m.in_proj_bias is not None}


def _activation_name(layer: Any) -> str:
    code = getattr(layer, "activation_relu_or_gelu", 0)
    if code in (1, 2):
        return "relu" if code == 1 else "gelu"
    act = getattr(layer, "activation", None)
    name = act if isinstance(act, str) else getattr(act, "__name__", type(act).__name__)
    return "gelu" if "gelu" in str(name).lower() else "relu"


def _transformer_layer(layer: Any) -> dict[str, Any]:
    _batch_first(layer.self_attn)
    return {
        "nhead": int(layer.self_attn.num_heads),
        "dim_feedforward": int(layer.linear1.out_features),
        "dropout": float(layer.dropout.p),
        "activation": _activation_name(layer),
        "layer_norm_eps": float(layer.norm1.eps),
        "norm_first": bool(layer.norm_first),
        "bias": layer.linear1.bias is not None,
    }


def _transformer_encoder(m: Any) -> dict[str, Any]:
    return {**_transformer_layer(m.layers[0]), "num_layers": len(m.layers), "final_norm": m.norm is not None}


def _recurrent(m: Any) -> dict[str, Any]:
    if not getattr(m, "batch_first", False) or int(getattr(m, "proj_size", None) or 0):
        raise ValueError("only batch_first=True recurrent layers without proj_size map onto the catalog")
    p = {
        "hidden_size": int(m.hidden_size),
        "num_layers": int(m.num_layers),
        "bidirectional": bool(m.bidirectional),
        "dropout": float(m.dropout),
        "bias": bool(m.bias),
    }
    if hasattr(m, "nonlinearity"):
        p["nonlinearity"] = m.nonlinearity
    return p


def _upsample(m: Any) -> dict[str, Any]:
    sf, size = m.scale_factor, m.size
    return {
        "mode": m.mode,
        "align_corners": bool(m.align_corners),
        "size": (tuple(size) if isinstance(size, (tuple, list)) else (size,)) if size is not None else None,
        "scale_factor": (tuple(float(v) for v in sf) if isinstance(sf, (tuple, list)) else float(sf))
        if sf is not None
        else None,
    }


def _depthwise_separable(m: Any) -> dict[str, Any]:
    d = m.depthwise
    return {
        "out_channels": int(m.pointwise.out_channels),
        "kernel_size": tuple(d.kernel_size),
        "stride": tuple(d.stride),
        "padding": d.padding if isinstance(d.padding, str) else tuple(d.padding),
        "dilation": tuple(d.dilation),
        "bias": d.bias is not None,
        "padding_mode": d.padding_mode,
    }


def _first_conv_stride(m: Any) -> int:
    strides = [c.stride for c in m.modules() if hasattr(c, "stride") and hasattr(c, "out_channels")]
    return max(int(s[0]) for s in strides) if strides else 1


def _basic_block(m: Any) -> dict[str, Any]:
    return {"out_channels": int(m.bn2.num_features), "stride": int(m.conv1.stride[0])}


def _bottleneck(m: Any) -> dict[str, Any]:
    return {"planes": int(m.bn1.num_features), "stride": int(m.conv2.stride[0])}


def _inverted_residual(m: Any) -> dict[str, Any]:
    convs = [c for c in m.conv.modules() if hasattr(c, "out_channels") and hasattr(c, "groups")]
    first, last = convs[0], convs[-1]
    expand = first.out_channels // first.in_channels if len(convs) == 3 else 1
    return {"out_channels": int(last.out_channels), "stride": _first_conv_stride(m), "expand_ratio": int(expand)}


def _convs(m: Any) -> list[Any]:
    return [c for c in m.modules() if hasattr(c, "out_channels") and hasattr(c, "kernel_size")]


def _has_batch_norm(m: Any) -> bool:
    return any(hasattr(c, "running_mean") for c in m.modules())


def _inception(m: Any) -> dict[str, Any]:
    b1, b2, b3, b4 = (_convs(getattr(m, f"branch{i}")) for i in (1, 2, 3, 4))
    return {
        "ch1x1": int(b1[0].out_channels),
        "ch3x3red": int(b2[0].out_channels),
        "ch3x3": int(b2[1].out_channels),
        "ch5x5red": int(b3[0].out_channels),
        "ch5x5": int(b3[1].out_channels),
        "pool_proj": int(b4[0].out_channels),
        "batch_norm": _has_batch_norm(m),
        "branch3_kernel": int(b3[1].kernel_size[0]),
    }


def _vgg_block(m: Any) -> dict[str, Any]:
    convs = _convs(m)
    return {"out_channels": int(convs[0].out_channels), "num_convs": len(convs), "batch_norm": _has_batch_norm(m)}


def _dcgan_up(m: Any) -> dict[str, Any]:
    return {"out_channels": int(_convs(m)[0].out_channels)}


def _dcgan_down(m: Any) -> dict[str, Any]:
    return {"out_channels": int(_convs(m)[0].out_channels), "batch_norm": _has_batch_norm(m)}


def _onnx_op(m: Any) -> dict[str, Any]:
    return {
        "op_type": m.op_type,
        "attributes": json.dumps(m.attributes, sort_keys=True),
        "opset": int(m.opset),
        "layout": json.dumps(m.layout),
    }


def _aten_op(m: Any) -> dict[str, Any]:
    return {"op": m.op, "arguments": json.dumps(m.arguments, sort_keys=True), "layout": json.dumps(m.layout)}


MODULE_READERS: dict[str, ModuleReader] = {
    "LayerNorm": _layer_norm,
    "PReLU": _prelu,
    "MultiheadAttention": _mha,
    "TransformerEncoderLayer": _transformer_layer,
    "TransformerDecoderLayer": _transformer_layer,
    "TransformerEncoder": _transformer_encoder,
    "GRU": _recurrent,
    "LSTM": _recurrent,
    "RNN": _recurrent,
    "Upsample": _upsample,
    "DepthwiseSeparableConv2d": _depthwise_separable,
    "BasicBlock": _basic_block,
    "Bottleneck": _bottleneck,
    "InvertedResidual": _inverted_residual,
    "InceptionModule": _inception,
    "VGGBlock": _vgg_block,
    "DCGANUpBlock": _dcgan_up,
    "DCGANDownBlock": _dcgan_down,
    "OnnxOp": _onnx_op,
    "AtenOp": _aten_op,
}
