"""Standalone PyTorch code from a graph: a readable nn.Module file that needs no dlstudio import.

The work lives in three modules; this one keeps the public entry points importable from their old place:
- python_codegen: the generator (`generate_python`), which writes classes from the compiled torch.fx.GraphModule;
- python_introspect: constructor arguments read back from LayerSpecs and torch module attributes;
- python_verify: `export_python`, which writes the file only after the generated module matched the compiled one.
"""

from __future__ import annotations

from .python_codegen import generate_python
from .python_verify import export_python

__all__ = ["export_python", "generate_python"]
