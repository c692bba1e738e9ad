"""The Python API: build graphs in code, check, compile, save. `import dlstudio as dls`.

A facade only: re-exports and thin functions over the packages below it. `check`, `compile`, `export_onnx` and
`export_python` take a graph or a project; a project brings its weights sidecar (what it was trained or imported
with) unless `weights=` says otherwise.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from .core.graph import ModelGraph
from .layers.builder import Graph, Ref

if TYPE_CHECKING:
    from .io.project import Project

__all__ = [
    "Graph",
    "Ref",
    "check",
    "compile",
    "diff",
    "export_onnx",
    "export_python",
    "import_onnx",
    "import_torch",
    "save_import",
]


def _graph_and_weights(source: ModelGraph | Project, weights: Any) -> tuple[ModelGraph, Any]:
    """The graph to work on and the weights to load. weights="sidecar" (the default, as in Project.compile): a
    project's saved weights, none for a graph; any other value, None included, is used as given."""
    from .io.project import Project  # the io package is light; kept out of `import dlstudio`

    sidecar = isinstance(weights, str) and weights == "sidecar"
    if isinstance(source, Project):
        return source.graph, source.saved_weights if sidecar else weights
    return source, None if sidecar else weights


def _export_options(source: ModelGraph | Project, options: dict[str, Any]) -> tuple[ModelGraph, dict[str, Any]]:
    """The exporter's graph and options. A project brings the weights every export route uses (as `dlstudio
    export` does): its newest finished run's best weights when newer than its sidecar, else the sidecar; an
    explicit `weights=` wins."""
    if isinstance(source, ModelGraph) or "weights" in options:
        graph, weights = _graph_and_weights(source, options.pop("weights", "sidecar"))
    else:
        from .training.runs import export_weights

        graph, (weights, _) = source.graph, export_weights(source)
    if weights is not None:
        options["weights"] = weights
    return graph, options


def check(source: ModelGraph | Project, **options: Any):
    """Diagnostics, shapes and statistics for a graph or a project's graph (see dlstudio.analysis.report)."""
    from .analysis.report import check_graph

    graph, _ = _graph_and_weights(source, None)
    return check_graph(graph, **options)


def compile(  # noqa: A001 - mirrors torch.compile
    source: ModelGraph | Project, *, seed: int | None = 0, weights: Any = "sidecar"
):
    """Compile to a torch.fx.GraphModule.

    `source`: a graph (seeded initialisation) or a project: weights="sidecar" loads the project's .safetensors
    when it exists (what it was trained or imported with), the same as `project.compile()`. Any other `weights`
    overrides it: a .safetensors path or a dict keyed by node; None gives the seeded initialisation."""
    from .compiler.build import compile_graph

    graph, chosen = _graph_and_weights(source, weights)
    return compile_graph(graph, seed=seed, weights=chosen)


def diff(
    old: Any, new: Any, *, weights: bool = False, match: str = "auto", input_shapes: Any = None, tolerance: float = 0.0
):
    """Compare two models as `dlstudio diff` does: each a project path, an .onnx file, "model.py:Class" (runs that
    file), a run folder or a .safetensors file. Returns a Comparison: .structure (a GraphDiff: added, removed,
    changed, rewired, shapes, params/macs), .weights (per-layer L2, relative change, cosine), .same, .format(),
    .to_dict(). Raises ModelSourceError when a side cannot be read."""
    from .importers.diff_sources import compare_sources, open_model_source

    return compare_sources(
        open_model_source(old, input_shapes=input_shapes),
        open_model_source(new, input_shapes=input_shapes),
        weights=weights,
        match=match,
        tolerance=tolerance,
    )


def export_onnx(source: ModelGraph | Project, path: Any, **options: Any):
    """Export a graph or a project to ONNX, checked with onnx.checker and onnxruntime. Returns a Report (see
    dlstudio.export.onnx). A project exports with its newest finished run's best weights when they are newer than
    its sidecar, else with the sidecar, unless `weights=` is given."""
    from .export.onnx import export_onnx as _export

    graph, options = _export_options(source, dict(options))
    return _export(graph, path, **options)


def export_python(source: ModelGraph | Project, path: Any, **options: Any):
    """Write a standalone PyTorch module, checked against the compiled model. Returns a Report.

    A project exports with its weights sidecar unless `weights=` is given, titles the module with its name, and,
    when it has weights, writes them beside the module (OUT.safetensors, which the module loads) unless
    `weights_out=` says where, as `dlstudio export --python` does."""
    from .export.python_code import export_python as _export

    graph, options = _export_options(source, dict(options))
    if not isinstance(source, ModelGraph):
        options.setdefault("title", source.name)
        if options.get("weights") is not None:
            options.setdefault("weights_out", Path(path).with_suffix(".safetensors"))
    return _export(graph, path, **options)


def import_onnx(source: Any, **options: Any):
    """An ONNX model (path or ModelProto) as an ImportResult: .graph, .weights, .report, .compile(). Nothing is
    written: save it as a project with dls.save_import(result, path)."""
    from .importers.onnx import import_onnx as _import

    return _import(source, **options)


def import_torch(module: Any, example_inputs: Any, **options: Any):
    """An nn.Module exported with torch.export as an ImportResult (graph with the module's weights).
    `example_inputs`: tensors (batch first) or per-sample shapes. Nothing is written: save it as a project with
    dls.save_import(result, path)."""
    from .importers.torch_export import import_torch as _import

    return _import(module, example_inputs, **options)


def save_import(result: Any, path: Any, *, name: str = "", source: str = "") -> Path:
    """Save an ImportResult as a project with its weights sidecar, as `dlstudio import` does; returns the file."""
    from .io.imported import save_import as _save

    return _save(result, path, name=name, source=source)
