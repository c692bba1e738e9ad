"""The registry of LayerSpecs. Builtin specs register on first access (lazy, so import stays cheap)."""

from __future__ import annotations

import difflib
import importlib

from ..core.errors import UnknownLayerError
from .spec import CATEGORIES, LayerSpec

_BUILTIN_MODULES = (
    "io",
    "dense",
    "conv",
    "resize",
    "pool",
    "norm",
    "regularization",
    "activation",
    "recurrent",
    "attention",
    "merge",
    "arith",
    "blocks",
    "generic",
    "padding",
    "slicing",
    "volumetric",
    "tensor_math",
    "aten",
)


class Registry:
    def __init__(self) -> None:
        self._specs: dict[str, LayerSpec] = {}
        self._aliases: dict[str, str] = {}
        self._loaded = False

    def register(self, spec: LayerSpec) -> LayerSpec:
        if spec.type in self._specs:
            raise ValueError(f"Layer type {spec.type!r} is registered twice")
        self._specs[spec.type] = spec
        for old in spec.replaces:
            self._aliases[old] = spec.type
        return spec

    def _ensure_loaded(self) -> None:
        if not self._loaded:
            self._loaded = True
            for name in _BUILTIN_MODULES:
                importlib.import_module(f"dlstudio.layers.builtin.{name}")

    def resolve_type(self, type_name: str) -> str:
        """The current type id for a type name, following `replaces` aliases."""
        self._ensure_loaded()
        return self._aliases.get(type_name, type_name)

    def get(self, type_name: str) -> LayerSpec:
        self._ensure_loaded()
        t = self._aliases.get(type_name, type_name)
        try:
            return self._specs[t]
        except KeyError:
            close = difflib.get_close_matches(type_name, list(self._specs), n=1)
            raise UnknownLayerError(type_name, close[0] if close else None) from None

    def __contains__(self, type_name: object) -> bool:
        self._ensure_loaded()
        return type_name in self._specs or type_name in self._aliases

    def all(self) -> list[LayerSpec]:
        self._ensure_loaded()
        order = {c: i for i, c in enumerate(CATEGORIES)}
        return sorted(self._specs.values(), key=lambda s: (order[s.category], s.type))

    def by_category(self) -> dict[str, list[LayerSpec]]:
        out: dict[str, list[LayerSpec]] = {c: [] for c in CATEGORIES}
        for s in self.all():
            out[s.category].append(s)
        return out


REGISTRY = Registry()


def register(spec: LayerSpec) -> LayerSpec:
    return REGISTRY.register(spec)


def get_spec(type_name: str) -> LayerSpec:
    return REGISTRY.get(type_name)


def all_specs() -> list[LayerSpec]:
    return REGISTRY.all()
