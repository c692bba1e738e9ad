"""Writing the standalone Python export: the generated module is imported and checked against the compiled
model (same weights, a random batch) before it is renamed into place, so a wrong file is never left behind."""

from __future__ import annotations

import importlib.util
import os
import re
import sys
import time
from pathlib import Path
from typing import Any

import torch

from ..compiler.report import Report, compare_outputs
from ..compiler.samples import as_list, io_nodes, sample_inputs
from ..core.errors import ExportError
from ..core.files import atomic_path
from ..core.graph import ModelGraph
from .common import build_model
from .python_codegen import generate_python


def _load_generated(path: Path) -> Any:
    """Import the file we just generated (our own output, never user content) to check it numerically."""
    name = f"_dlstudio_generated_{abs(hash(str(path)))}"
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise ExportError(f"Cannot load the generated file {path}")
    mod = importlib.util.module_from_spec(spec)
    sys.modules[name] = mod
    try:
        spec.loader.exec_module(mod)
    finally:
        sys.modules.pop(name, None)
    return mod


def export_python(
    graph: ModelGraph,
    path: str | os.PathLike[str],
    *,
    weights: Any = None,
    weights_out: str | os.PathLike[str] | None = None,
    class_name: str = "Model",
    tolerance: float = 1e-6,
    seed: int = 0,
    title: str = "",
) -> Report:
    """Write the module to `path` (and the weights, state_dict layout, to `weights_out`), then check that the
    generated module with the same weights matches the compiled model (max abs diff <= tolerance)."""
    from .weights import save_weights_file, state_dict_tensors

    start = time.perf_counter()
    target = Path(path)
    report = Report(kind="python", path=target)
    model = build_model(graph, weights, seed)
    wfile = Path(weights_out) if weights_out else None
    text = generate_python(graph, class_name=class_name, weights_file=wfile.name if wfile else None, title=title)
    with atomic_path(target, suffix=".py") as tmp:  # renamed into place only once it passed the check
        tmp.write_text(text, encoding="utf-8")
        mod = _load_generated(tmp)
        generated = getattr(mod, _root_class(text))()
        generated.load_state_dict(state_dict_tensors(model), strict=True)
        generated.eval()
        report.checks.append("generated state_dict keys and shapes match the compiled model")
        args = sample_inputs(graph, batch=2, seed=seed + 1)
        with torch.no_grad():
            expected = as_list(model(*args))
            got = as_list(generated(*args))
        names = [n.label for n in io_nodes(graph)[1]]
        report.max_abs_diff = compare_outputs(names, expected, got)
        report.checks.append("generated module vs compiled model on a random batch of 2")
        bad = {k: v for k, v in report.max_abs_diff.items() if not v <= tolerance}
        if bad:
            raise ExportError(
                "The generated module differs from the compiled model: "
                + ", ".join(f"{k} max |diff| {v:.3g}" for k, v in bad.items())
            )
    if wfile is not None:
        save_weights_file(model, graph, wfile, layout="state_dict")
        report.details["weights"] = str(wfile)
    report.size_bytes = target.stat().st_size
    report.seconds = time.perf_counter() - start
    return report


def _root_class(text: str) -> str:
    m = re.search(r"def load_model\(.*?\) -> (\w+):", text)
    if not m:
        raise ExportError("generated code has no load_model")  # pragma: no cover
    return m.group(1)
