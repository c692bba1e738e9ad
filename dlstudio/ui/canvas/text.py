"""Card texts: human-readable counts and a node's key parameters."""

from __future__ import annotations

from ...core.errors import UnknownLayerError
from ...core.graph import Node
from ...layers.registry import REGISTRY


def human(n: float) -> str:
    """1234567 -> '1.23M' (parameter and MAC counts)."""
    for unit, div in (("G", 1e9), ("M", 1e6), ("K", 1e3)):
        if abs(n) >= div:
            return f"{n / div:.3g}{unit}"
    return f"{int(n)}"


def key_param_text(node: Node) -> str:
    try:
        spec = REGISTRY.get(node.type)
    except UnknownLayerError:
        return node.type
    names = list(spec.key_params) or [p.name for p in spec.params if not p.advanced][:2]
    parts = []
    for n in names:
        if spec.has_param(n):
            v = node.params.get(n, spec.param(n).default)
            if isinstance(v, (list, tuple)):  # (5, 5) reads as 5, like torch accepts it
                v = (
                    v[0]
                    if v and len(set(v)) == 1 and spec.param(n).kind != "shape"
                    else "(" + ", ".join(map(str, v)) + ")"
                )
            parts.append(f"{n}={v}")
    return "  ".join(parts) if parts else spec.display_name


__all__ = ["human", "key_param_text"]
