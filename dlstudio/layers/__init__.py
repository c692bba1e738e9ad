"""Declarative layer catalog: one LayerSpec per node type (no torch, no Qt at import)."""

from .registry import REGISTRY, all_specs, get_spec, register  # noqa: F401
from .spec import LayerSpec, ParamSpec, PortSpec  # noqa: F401
