"""The Python API: build graphs in code, check, compile, save. `import dlstudio as dls`."""

from __future__ import annotations

from typing import Any

from .core.graph import ModelGraph
from .layers.builder import Graph, Ref

__all__ = ["Graph", "Ref", "check", "compile", "export_onnx", "export_python", "import_onnx", "import_torch"]


def check(graph: ModelGraph, **options: Any):
    """Diagnostics, shapes and statistics for a graph (see dlstudio.analysis.report.CheckReport)."""
    from .analysis.report import check_graph

    return check_graph(graph, **options)


def compile(graph: ModelGraph, *, seed: int | None = 0, weights: Any = None):  # noqa: A001 - mirrors torch.compile
    """Compile to a torch.fx.GraphModule. `weights`: a path to a .safetensors file or a dict keyed by node."""
    from .compiler.build import compile_graph

    model = compile_graph(graph, seed=seed)
    if weights is not None:
        from .compiler.weights import load_weights

        load_weights(model, graph, weights)
    return model


def export_onnx(graph: ModelGraph, path: Any, **options: Any):
    """Export to ONNX, checked with onnx.checker and onnxruntime. Returns a Report (see dlstudio.export.onnx)."""
    from .export.onnx import export_onnx as _export

    return _export(graph, path, **options)


def export_python(graph: ModelGraph, path: Any, **options: Any):
    """Write a standalone PyTorch module, checked against the compiled model. Returns a Report."""
    from .export.python_code import export_python as _export

    return _export(graph, path, **options)


def import_onnx(source: Any, **options: Any):
    """An ONNX model (path or ModelProto) as an ImportResult: .graph, .weights, .report, .compile()."""
    from .importers.onnx import import_onnx as _import

    return _import(source, **options)


def import_torch(module: Any, input_shapes: Any, **options: Any):
    """An nn.Module traced with torch.fx as an ImportResult (graph with the module's weights)."""
    from .importers.torch_fx import import_torch as _import

    return _import(module, input_shapes, **options)
