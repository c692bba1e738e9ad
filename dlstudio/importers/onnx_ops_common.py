"""Helpers the ONNX op handlers share: attributes, optional inputs, axis checks."""

from __future__ import annotations

from typing import Any

from onnx import helper

from .base import Unsupported


def attrs(node: Any) -> dict[str, Any]:
    out = {}
    for a in node.attribute:
        v = helper.get_attribute_value(a)
        out[a.name] = v.decode() if isinstance(v, bytes) else v
    return out


def _ins(node: Any) -> list[str]:
    return list(node.input)


def _opt(node: Any, i: int) -> str | None:
    return node.input[i] if len(node.input) > i and node.input[i] else None


def _axis(axis: int, rank: int, what: str = "axis") -> int:
    a = axis + rank if axis < 0 else axis
    if not 0 <= a < rank:
        raise Unsupported(f"{what} {axis} is out of range for rank {rank}")
    if a == 0:
        raise Unsupported(f"{what} 0 is the batch dimension; dlstudio layers act per sample")
    return a


def _one_output(node: Any) -> None:
    if len([o for o in node.output if o]) > 1:
        raise Unsupported("its extra outputs (training statistics, indices or masks) are not supported")
