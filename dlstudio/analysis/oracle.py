"""The shape oracle hook: shapes of generic imported ops (OnnxOp) whose inputs changed since import.

Analysis is pure Python and cannot run an op. A layer type tagged "shape_oracle" returns the shapes recorded at
import from its rule; when the rule cannot answer (ShapeError), `run_shape_rule` asks the oracle registered for
that type, if any: dlstudio.compiler registers one that runs the op on torch's meta device. Answers are cached per
(type, parameters, input signature).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from ..core.errors import ShapeError
from ..core.tensor import TensorInfo
from ..layers.spec import LayerSpec

Oracle = Callable[[LayerSpec, dict, Sequence[TensorInfo | None]], list[TensorInfo]]

_ORACLES: dict[str, Oracle] = {}
_CACHE: dict[tuple, list[TensorInfo] | ShapeError] = {}
_CACHE_LIMIT = 4096


def register_shape_oracle(type_name: str, oracle: Oracle) -> None:
    """Answer shapes for `type_name` nodes whose rule cannot (the compiler registers the torch-based one)."""
    _ORACLES[type_name] = oracle
    _CACHE.clear()


def has_shape_oracle(type_name: str) -> bool:
    return type_name in _ORACLES


def _key(spec: LayerSpec, params: dict, inputs: Sequence[TensorInfo | None]) -> tuple:
    return (spec.type, tuple(sorted((k, repr(v)) for k, v in params.items())), tuple(inputs))


def run_shape_rule(spec: LayerSpec, params: dict, inputs: Sequence[TensorInfo | None]) -> list[TensorInfo]:
    """The spec's shape rule; for oracle-backed types, the oracle where the rule raises ShapeError."""
    try:
        return list(spec.shape(params, inputs))
    except ShapeError:
        oracle = _ORACLES.get(spec.type) if "shape_oracle" in spec.tags else None
        if oracle is None:
            raise
    key = _key(spec, params, inputs)
    hit = _CACHE.get(key)
    if hit is None:
        try:
            hit = list(oracle(spec, params, inputs))
        except ShapeError as exc:
            hit = exc
        if len(_CACHE) >= _CACHE_LIMIT:
            _CACHE.clear()
        _CACHE[key] = hit
    if isinstance(hit, ShapeError):
        raise hit
    return list(hit)


__all__ = ["Oracle", "has_shape_oracle", "register_shape_oracle", "run_shape_rule"]
