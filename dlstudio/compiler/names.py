"""Safe, unique Python identifiers from user-editable labels (attribute names, generated code)."""

from __future__ import annotations

import builtins
import functools
import keyword
import re

from torch import fx, nn

_RESERVED = (
    set(keyword.kwlist)
    | set(keyword.softkwlist)
    | set(dir(builtins))
    | {
        "self",
        "torch",
        "nn",
        "F",
        "forward",
        "training",
        "math",
        "operator",
        "x",
        "input",
    }
)


@functools.cache
def module_attributes() -> frozenset[str]:
    """Attribute names a submodule, parameter or buffer must not take: everything a compiled fx.GraphModule (and
    so every nn.Module, and the generated module) already has, methods (load_state_dict, forward, to) and instance
    attributes (training, meta) alike, plus the node map dlstudio attaches. Read from torch, so names a later torch
    adds are covered too."""
    instance = fx.GraphModule(nn.Module(), fx.Graph())
    return frozenset(name for name in dir(instance) if not name.startswith("_")) | {"node_paths"}


def safe_identifier(label: str, fallback: str = "layer") -> str:
    """A valid, lower-case identifier derived from `label`: anything that is not [a-z0-9_] becomes '_'."""
    s = re.sub(r"[^0-9a-zA-Z_]+", "_", label.strip()).strip("_").lower()
    s = re.sub(r"_+", "_", s)
    if not s:
        s = fallback
    if s[0].isdigit():
        s = f"{fallback}_{s}"
    if s in _RESERVED or s in module_attributes():
        s = f"{s}_"
    return s


def class_identifier(raw: str, fallback: str = "Block") -> str:
    """A CamelCase class name from a label or attribute path: 'res block' -> 'ResBlock'; numbered parts keep an
    underscore between digits, so 'layer1.0' -> 'Layer1_0' (not 'Layer10', which reads as 'layer10')."""
    name = ""
    for part in re.split(r"[^0-9a-zA-Z]+", raw):
        if not part:
            continue
        if name and name[-1].isdigit() and part[0].isdigit():
            name += "_"
        name += part[:1].upper() + part[1:]
    if not name or not name.isidentifier() or keyword.iskeyword(name) or name[0].isdigit():
        return fallback
    return name


class Namespace:
    """Hands out unique identifiers: the second 'conv' becomes 'conv_1', then 'conv_2'."""

    def __init__(self, reserved: set[str] | None = None) -> None:
        self._used: set[str] = set(reserved or ())

    def create(self, label: str, fallback: str = "layer") -> str:
        base = safe_identifier(label, fallback)
        name = base
        i = 1
        while name in self._used:
            name = f"{base}_{i}"
            i += 1
        self._used.add(name)
        return name

    def __contains__(self, name: str) -> bool:
        return name in self._used
