"""LayerSpec: the single source of truth for one node type.

Palette, inspector, validation, shape inference, statistics, compiler, code generator, ONNX import and the file
format all read from it. Shape, parameter-count and MAC rules are pure Python over `TensorInfo`s; torch is only
named by dotted path and imported by the compiler.

Rule signatures (``inputs`` is the list of incoming tensors in port order; a many-port contributes all its
wires in slot order; an unwired optional port contributes ``None``):

- ``shape(params, inputs) -> list[TensorInfo]`` one per output port; raises ``ShapeError`` on a misfit.
- ``param_count(params, inputs) -> int`` trainable+buffer-free parameter count, equal to torch's numel sum.
- ``macs(params, inputs, outputs) -> int`` multiply-accumulates for one sample.
- ``kwargs(params, inputs) -> dict`` torch constructor keyword arguments (inferred sizes included).
- ``sample(rng) -> (params, inputs)`` random valid parameters and inputs, used by the torch harness.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from ..core.errors import ParamError
from ..core.tensor import TensorInfo
from .module_readers import MODULE_READERS

PARAM_KINDS = ("int", "float", "bool", "choice", "str", "ints", "int_or_tuple", "float_or_tuple", "shape")

CATEGORIES = (
    "Input/Output",
    "Dense",
    "Convolution",
    "Pooling",
    "Normalization",
    "Regularization",
    "Recurrent",
    "Embedding & Attention",
    "Activation",
    "Merge",
    "Blocks",
)


@dataclass(frozen=True)
class PortSpec:
    """A named port. `many`: accepts any number of wires (merge nodes). `dtype`: "float", "int" or "any"."""

    name: str
    many: bool = False
    optional: bool = False
    dtype: str = "float"
    doc: str = ""


@dataclass(frozen=True)
class ParamSpec:
    """A typed parameter.

    kind: int | float | bool | choice | str | ints (tuple of ints; `length` fixes the size) |
          int_or_tuple (int or tuple of `length` ints; `choices` may add strings such as "same") |
          float_or_tuple | shape (tuple of positive ints, any length).
    torch: passed to the torch constructor by the default kwargs builder.
    """

    name: str
    kind: str
    default: Any
    doc: str = ""
    min: float | None = None
    max: float | None = None
    choices: tuple[Any, ...] = ()
    length: int | None = None
    nullable: bool = False
    advanced: bool = False
    torch: bool = True

    def __post_init__(self) -> None:
        if self.kind not in PARAM_KINDS:
            raise ValueError(f"unknown parameter kind {self.kind!r} for {self.name}")

    def describe_range(self) -> str:
        parts = []
        if self.min is not None:
            parts.append(f">= {self.min:g}")
        if self.max is not None:
            parts.append(f"<= {self.max:g}")
        if self.choices:
            parts.append("one of " + ", ".join(repr(c) for c in self.choices))
        return " and ".join(parts)

    def _check_number(self, v: float, what: str = "") -> None:
        if self.min is not None and v < self.min:
            raise ParamError(self.name, f"{what}{v!r} is too small: must be >= {self.min:g}")
        if self.max is not None and v > self.max:
            raise ParamError(self.name, f"{what}{v!r} is too large: must be <= {self.max:g}")

    def _int(self, v: Any) -> int:
        if isinstance(v, bool) or not isinstance(v, (int, float)) or (isinstance(v, float) and not v.is_integer()):
            raise ParamError(self.name, f"expects a whole number, got {v!r}")
        v = int(v)
        self._check_number(v)
        return v

    def validate(self, value: Any) -> Any:
        """Returns the normalized value (tuples for sequences) or raises ParamError with the reason."""
        if value is None:
            if self.nullable:
                return None
            raise ParamError(self.name, "a value is required")
        k = self.kind
        if k == "int":
            return self._int(value)
        if k == "float":
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                raise ParamError(self.name, f"expects a number, got {value!r}")
            value = float(value)
            if value != value or value in (float("inf"), float("-inf")):
                raise ParamError(self.name, "must be a finite number")
            self._check_number(value)
            return value
        if k == "bool":
            if not isinstance(value, bool):
                raise ParamError(self.name, f"expects true or false, got {value!r}")
            return value
        if k == "choice":
            if value not in self.choices:
                raise ParamError(self.name, f"{value!r} is not one of {', '.join(map(repr, self.choices))}")
            return value
        if k == "str":
            if not isinstance(value, str):
                raise ParamError(self.name, f"expects text, got {value!r}")
            return value
        if k in ("int_or_tuple", "float_or_tuple"):
            if isinstance(value, str):
                if value in self.choices:
                    return value
                raise ParamError(
                    self.name,
                    f"{value!r} is not allowed; use a number"
                    + (f" or one of {', '.join(map(repr, self.choices))}" if self.choices else ""),
                )
            conv = self._int if k == "int_or_tuple" else self._float_item
            if isinstance(value, (list, tuple)):
                if self.length is not None and len(value) != self.length:
                    raise ParamError(self.name, f"expects {self.length} values, got {len(value)}")
                return tuple(conv(v) for v in value)
            return conv(value)
        if k in ("ints", "shape"):
            if not isinstance(value, (list, tuple)):
                if k == "ints" and isinstance(value, int) and not isinstance(value, bool):
                    value = (value,)
                else:
                    raise ParamError(self.name, f"expects a list of whole numbers, got {value!r}")
            if self.length is not None and len(value) != self.length:
                raise ParamError(self.name, f"expects {self.length} values, got {len(value)}")
            out = tuple(self._int(v) for v in value)
            if k == "shape" and any(v <= 0 for v in out):
                raise ParamError(self.name, f"every size must be positive, got {out}")
            return out
        raise ParamError(self.name, f"unsupported kind {k}")  # pragma: no cover

    def _float_item(self, v: Any) -> float:
        if isinstance(v, bool) or not isinstance(v, (int, float)):
            raise ParamError(self.name, f"expects a number, got {v!r}")
        v = float(v)
        self._check_number(v)
        return v

    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {"name": self.name, "kind": self.kind, "default": _plain(self.default), "doc": self.doc}
        if self.min is not None:
            d["min"] = self.min
        if self.max is not None:
            d["max"] = self.max
        if self.choices:
            d["choices"] = list(self.choices)
        if self.length is not None:
            d["length"] = self.length
        if self.nullable:
            d["nullable"] = True
        if self.advanced:
            d["advanced"] = True
        return d


def _plain(v: Any) -> Any:
    return list(v) if isinstance(v, tuple) else v


Rule = Callable[..., Any]
_UNREADABLE = object()


def read_attribute(p: ParamSpec, value: Any) -> Any:
    """A module attribute as a parameter value: tensors and None read as bools for bool params (a `bias`
    tensor), tuples as tuples, callables and submodules are not parameters."""
    if p.kind == "bool" and not isinstance(value, bool):
        return value is not None
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, (tuple, list)) and all(isinstance(v, (int, float)) for v in value):
        return tuple(value)
    return _UNREADABLE


def _no_params(params: dict, inputs: Sequence[TensorInfo | None]) -> int:
    return 0


def _no_macs(params: dict, inputs: Sequence[TensorInfo | None], outputs: Sequence[TensorInfo]) -> int:
    return 0


@dataclass(frozen=True)
class LayerSpec:
    type: str
    category: str
    explanation: str
    inputs: tuple[PortSpec, ...]
    outputs: tuple[PortSpec, ...]
    params: tuple[ParamSpec, ...]
    shape: Rule
    sample: Callable[[random.Random], tuple[dict, list[TensorInfo]]] | None = None
    param_count: Rule = _no_params
    macs: Rule = _no_macs
    module: str | None = None  # dotted path of the nn.Module class the compiler instantiates
    function: str | None = None  # or: dotted path of a function for a call_function node
    kwargs: Rule | None = None  # constructor / function kwargs; default: params with torch=True
    emit: Rule | None = None  # custom fx emission: emit(builder, node, args) -> list of output values
    display_name: str = ""
    version: int = 1
    replaces: tuple[str, ...] = ()
    migrate: Callable[[int, dict], dict] | None = None  # (file's type_version, params) -> params at `version`
    key_params: tuple[str, ...] = ()
    dynamic_outputs: Callable[[dict], tuple[PortSpec, ...]] | None = None
    train_only: bool = False  # acts only in training mode (Dropout, GaussianNoise)
    tags: tuple[str, ...] = field(default_factory=tuple)
    # read_module(module) -> params: the inverse of the constructor where params are not attribute names
    read_module: Callable[[Any], dict[str, Any]] | None = None

    def __post_init__(self) -> None:
        if self.category not in CATEGORIES:
            raise ValueError(f"{self.type}: unknown category {self.category!r}")
        if not self.display_name:
            object.__setattr__(self, "display_name", self.type)
        names = [p.name for p in self.params]
        if len(set(names)) != len(names):
            raise ValueError(f"{self.type}: duplicate parameter names")

    # ----------------------------------------------------------------- params
    def param(self, name: str) -> ParamSpec:
        for p in self.params:
            if p.name == name:
                return p
        raise KeyError(name)

    def has_param(self, name: str) -> bool:
        return any(p.name == name for p in self.params)

    def defaults(self) -> dict[str, Any]:
        return {p.name: p.default for p in self.params}

    def resolve_params(self, given: dict[str, Any]) -> dict[str, Any]:
        """Defaults overlaid with `given`, each validated. Raises ParamError (unknown name or bad value)."""
        unknown = [k for k in given if not self.has_param(k)]
        if unknown:
            known = ", ".join(p.name for p in self.params) or "none"
            raise ParamError(unknown[0], f"{self.type} has no parameter {unknown[0]!r} (parameters: {known})")
        out = {}
        for p in self.params:
            out[p.name] = p.validate(given.get(p.name, p.default))
        return out

    def torch_kwargs(self, params: dict[str, Any], inputs: Sequence[TensorInfo | None]) -> dict[str, Any]:
        if self.kwargs is not None:
            return self.kwargs(params, inputs)
        return {p.name: params[p.name] for p in self.params if p.torch}

    def from_module(self, module: Any) -> dict[str, Any]:
        """The parameters that rebuild `module` (the inverse of the constructor), validated.

        By default the torch=True parameters are read by attribute name (a tensor-or-None `bias` becomes a bool);
        sizes keep torch's spelling, so the rebuilt module prints the same. Types whose parameters are not
        attribute names give a `read_module` rule (in the spec, or in layers.module_readers). Duck-typed on
        purpose: layers/ never imports torch. Raises ParamError when a value does not fit."""
        reader = self.read_module or MODULE_READERS.get(self.type)
        if reader is not None:
            try:
                given = reader(module)
            except (AttributeError, IndexError, TypeError, ValueError) as exc:
                raise ParamError(self.type, f"cannot be read from {type(module).__name__}: {exc}") from None
        else:
            given = {}
            for p in self.params:
                if p.torch and hasattr(module, p.name):
                    value = read_attribute(p, getattr(module, p.name))
                    if value is not _UNREADABLE:
                        given[p.name] = value
        return self.resolve_params(given)

    # ------------------------------------------------------------------ ports
    def output_ports(self, params: dict[str, Any] | None = None) -> tuple[PortSpec, ...]:
        if self.dynamic_outputs is not None:
            return self.dynamic_outputs(params if params is not None else self.defaults())
        return self.outputs

    def input_port(self, name: str) -> PortSpec:
        for p in self.inputs:
            if p.name == name:
                return p
        raise KeyError(name)

    def summary(self) -> str:
        """The first sentence of the explanation (palette tooltips)."""
        return self.explanation.split(". ")[0].rstrip(".") + "."

    def to_dict(self) -> dict[str, Any]:
        return {
            "type": self.type,
            "category": self.category,
            "display_name": self.display_name,
            "version": self.version,
            "explanation": self.explanation,
            "inputs": [{"name": p.name, "many": p.many, "optional": p.optional, "dtype": p.dtype} for p in self.inputs],
            "outputs": [{"name": p.name, "optional": p.optional, "dtype": p.dtype} for p in self.output_ports()],
            "params": [p.to_dict() for p in self.params],
            "torch": self.module or self.function,
        }
