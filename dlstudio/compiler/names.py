"""Safe, unique Python identifiers from user-editable labels (attribute names, generated code)."""

from __future__ import annotations

import builtins
import keyword
import re

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
# nn.Module attributes a submodule name must not shadow
_MODULE_ATTRS = {
    "forward",
    "training",
    "parameters",
    "buffers",
    "children",
    "modules",
    "state_dict",
    "eval",
    "train",
    "to",
    "cuda",
    "cpu",
    "half",
    "float",
    "double",
    "type",
    "apply",
    "zero_grad",
    "graph",
    "code",
    "register_buffer",
    "register_parameter",
    "add_module",
    "get_submodule",
    "named_modules",
}


def safe_identifier(label: str, fallback: str = "layer") -> str:
    """A valid, lower-case identifier derived from `label`: anything that is not [a-z0-9_] becomes '_'."""
    s = re.sub(r"[^0-9a-zA-Z_]+", "_", label.strip()).strip("_").lower()
    s = re.sub(r"_+", "_", s)
    if not s:
        s = fallback
    if s[0].isdigit():
        s = f"{fallback}_{s}"
    if s in _RESERVED or s in _MODULE_ATTRS:
        s = f"{s}_"
    return s


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
