"""Load an nn.Module class from a user's Python file (`dlstudio import model.py:Class`).

THIS EXECUTES THE FILE: only import code you trust."""

from __future__ import annotations

import importlib.util
import inspect
import os
import sys
from pathlib import Path

from torch import nn

from ..core.errors import ModelImportError


def load_module_class(path: str | os.PathLike[str], class_name: str) -> type:
    """Load `class_name` from a Python file, or raise ModelImportError naming the file and what it holds."""
    p = Path(path)
    if not p.is_file():
        raise ModelImportError(f"{p}: no such Python file", [])
    name = f"_dlstudio_user_model_{abs(hash(str(p.resolve())))}"
    spec = importlib.util.spec_from_file_location(name, p)
    if spec is None or spec.loader is None:
        raise ModelImportError(f"{p}: cannot be loaded as a Python module", [])
    mod = importlib.util.module_from_spec(spec)
    sys.modules[name] = mod  # dataclasses and pickling in the user's file look their module up
    try:
        spec.loader.exec_module(mod)
    except Exception as exc:  # the user's file failed: report it with its own message
        sys.modules.pop(name, None)
        raise ModelImportError(f"{p}: running the file failed: {type(exc).__name__}: {exc}", []) from None
    cls = getattr(mod, class_name, None)
    if not (inspect.isclass(cls) and issubclass(cls, nn.Module)):
        found = [
            k for k, v in vars(mod).items() if inspect.isclass(v) and issubclass(v, nn.Module) and v.__module__ == name
        ]
        raise ModelImportError(f"{p}: no nn.Module class {class_name!r} (found: {', '.join(found) or 'none'})", [])
    return cls


__all__ = ["load_module_class"]
