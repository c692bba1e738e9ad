"""Reading a compiled model back into constructor arguments, for the standalone Python export.

A layer's constructor comes from its node's LayerSpec kwargs when the attribute belongs to one node, else from the
torch module's own attributes; python_codegen rebuilds and compares it either way before writing it.
"""

from __future__ import annotations

import inspect
from typing import Any

import torch
from torch import fx, nn

from ..analysis.shapes import infer_all, spec_of
from ..core.graph import ModelGraph


def _equal(a: Any, b: Any) -> bool:
    try:
        return type(a) is type(b) and bool(a == b)
    except Exception:
        return False


def _init_parameters(cls: type) -> dict[str, inspect.Parameter]:
    """Named constructor parameters; classes whose __init__ is (*args, **kwargs) (LSTM, GRU, RNN) take them
    from the first base that names them."""
    for klass in cls.__mro__:
        if "__init__" not in vars(klass):
            continue
        params = {
            k: p
            for k, p in inspect.signature(klass.__init__).parameters.items()
            if k not in ("self", "mode", "device", "dtype") and p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)
        }
        if params:
            if issubclass(cls, (nn.RNN, nn.GRU)):
                params.pop("proj_size", None)  # LSTM only
            if issubclass(cls, nn.RNN):
                params["nonlinearity"] = inspect.Parameter(
                    "nonlinearity", inspect.Parameter.KEYWORD_ONLY, default="tanh"
                )
            return params
    return {}


def _kwargs_from_attributes(module: nn.Module) -> dict[str, Any]:
    """Constructor kwargs read back from a torch module's attributes (bias: whether a bias tensor exists)."""
    out: dict[str, Any] = {}
    for name in _init_parameters(type(module)):
        if not hasattr(module, name):
            continue
        v = getattr(module, name)
        if isinstance(v, torch.Tensor) or (v is None and name == "bias"):
            if name == "bias":
                out[name] = v is not None
            continue
        if isinstance(v, nn.Module) or callable(v):
            continue
        out[name] = v
    return out


def _spec_kwargs(graph: ModelGraph, model: fx.GraphModule) -> dict[str, tuple[type, dict[str, Any]]]:
    """attribute path -> (torch class, kwargs) for nodes whose spec builds one module the default way."""
    from ..compiler.build import resolve_dotted

    shapes = infer_all(graph)
    out: dict[str, tuple[type, dict[str, Any]]] = {}
    for nid, path in getattr(model, "node_paths", {}).items():
        spec = spec_of(graph.node(nid))
        if spec.module is None or spec.emit is not None or nid not in shapes.params:
            continue
        try:
            out[path] = (resolve_dotted(spec.module), spec.torch_kwargs(shapes.params[nid], shapes.inputs[nid]))
        except Exception:  # fall back to attribute introspection for this layer
            continue
    return out
