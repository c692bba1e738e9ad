"""One side of a model diff, read from whatever the user names: a .dlstudio project, an .onnx file, a PyTorch
module (`model.py:ClassName` through torch.export, as `dlstudio import` does; this runs the file's code) or a
.pt2 program, a training run folder, or a bare .safetensors weights file. Every failure is a ModelSourceError
with one sentence saying what to fix.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..core.errors import DlstudioError
from ..core.graph import ModelGraph

_EDITED = ("project", "run")  # sides whose node ids come from editing, so may share a lineage


class ModelSourceError(DlstudioError):
    """A diff side cannot be read; the message names the file and what to do."""


@dataclass
class ModelSource:
    """What a diff needs of one side. `graph` is None for a bare weights file; `weights` is a .safetensors path
    (a project's sidecar, a run's best/last weights) or None; `exported`: the graph was read back from an
    inference export (ONNX), so BatchNorm is folded and Dropout gone."""

    name: str
    kind: str  # "project", "onnx", "python", "run", "weights"
    graph: ModelGraph | None
    weights: Path | None = None
    exported: bool = False
    settings: dict[str, Any] | None = None  # a run's training settings
    tensors: dict[str, Any] | None = None  # an import's own weights, keyed <node id>.<tensor>


def _is_python_spec(spec: str) -> bool:
    return ":" in spec and spec.split(":", 1)[0].endswith(".py")


def open_model_source(
    spec: str | os.PathLike[str], *, input_shapes: list[tuple[int, ...]] | None = None
) -> ModelSource:
    """Read one side. Raises ModelSourceError (never anything else for a bad file)."""
    text = str(spec)
    try:
        if _is_python_spec(text):
            return _python(text, input_shapes)
        path = Path(text)
        if path.is_dir():
            return _run(path)
        if not path.is_file():
            raise ModelSourceError(f"{text}: no such file or folder")
        suffix = path.suffix.lower()
        if suffix == ".onnx":
            return _onnx(path, input_shapes)
        if suffix == ".safetensors":
            return ModelSource(path.name, "weights", None, path)
        if text.endswith((".pt2", ".pt2.zip")):
            from .torch_export import import_pt2

            imported = import_pt2(path, check=False)
            return ModelSource(text, "python", imported.graph, None, tensors=dict(imported.weights))
        return _project(path)
    except ModelSourceError:
        raise
    except DlstudioError as exc:  # these messages usually name the file already
        message = str(exc)
        raise ModelSourceError(message if Path(text).name in message else f"{text}: {message}") from None
    except Exception as exc:  # an importer's own failure: one line, no traceback
        raise ModelSourceError(f"{text}: cannot be read ({type(exc).__name__}: {exc})") from None


def _project(path: Path) -> ModelSource:
    from ..io.project import Project

    project = Project.load(path)  # ProjectFileError says which file and why
    return ModelSource(str(path), "project", project.graph, project.saved_weights, settings=project.training)


def _onnx(path: Path, input_shapes: list[tuple[int, ...]] | None) -> ModelSource:
    from .onnx import import_onnx

    named = None
    if input_shapes:
        import onnx

        model = onnx.load(str(path), load_external_data=False)
        inits = {i.name for i in model.graph.initializer}
        names = [i.name for i in model.graph.input if i.name not in inits]
        named = dict(zip(names, input_shapes))
    result = import_onnx(str(path), check=False, input_shapes=named)
    return ModelSource(str(path), "onnx", result.graph, None, exported=True, tensors=dict(result.weights))


def _python(spec: str, input_shapes: list[tuple[int, ...]] | None) -> ModelSource:
    if not input_shapes:
        raise ModelSourceError(f"{spec}: a .py model needs --input-shape (one per forward argument)")
    from .torch_export import import_torch_file  # what `dlstudio import model.py:Class` uses

    path, cls = spec.split(":", 1)
    if not Path(path).is_file():
        raise ModelSourceError(f"{path}: no such file")
    result = import_torch_file(path, cls, input_shapes, check=False)
    return ModelSource(spec, "python", result.graph, None, tensors=dict(result.weights))


def _run(path: Path) -> ModelSource:
    """A training run folder: the graph it trained (from settings.json) and its best (else last) weights."""
    settings_file = path / "settings.json"
    try:
        settings = json.loads(settings_file.read_text(encoding="utf-8"))
    except OSError:
        raise ModelSourceError(f"{path}: not a training run folder (no settings.json) nor a file") from None
    except ValueError as exc:
        raise ModelSourceError(f"{settings_file}: not valid JSON ({exc})") from None
    graph_data = settings.get("graph") if isinstance(settings, dict) else None
    graph = None
    if isinstance(graph_data, dict):
        graph = ModelGraph()
        graph.load_dict(graph_data)
    weights = next((path / f for f in ("best.safetensors", "last.safetensors") if (path / f).is_file()), None)
    return ModelSource(str(path), "run", graph, weights, settings=settings)


@dataclass
class Comparison:
    """A structural diff (None when either side is a bare weights file) and a weights diff (when asked for, or
    when both sides are weights files)."""

    old: ModelSource
    new: ModelSource
    structure: Any = None  # dlstudio.analysis.diff.GraphDiff
    weights: Any = None  # dlstudio.compiler.weights_diff.WeightsDiff

    @property
    def same(self) -> bool:
        return (self.structure is None or self.structure.same) and (self.weights is None or self.weights.same)

    def to_dict(self) -> dict[str, Any]:
        return {
            "old": self.old.name,
            "new": self.new.name,
            "same": self.same,
            "structure": self.structure.to_dict() if self.structure is not None else None,
            "weights": self.weights.to_dict() if self.weights is not None else None,
        }

    def format(self, *, full: bool = False) -> str:
        from ..analysis.diff_report import format_diff

        parts = []
        if self.structure is not None:
            parts.append(format_diff(self.structure, self.old.name, self.new.name, full=full))
        if self.weights is not None:
            if parts:
                parts.append("\nweights")
            parts.append(self.weights.format(_weights_name(self.old), _weights_name(self.new)))
        return "\n".join(parts)


def _weights_name(side: ModelSource) -> str:
    return str(side.weights) if side.weights is not None else side.name


def compare_sources(
    old: ModelSource, new: ModelSource, *, weights: bool = False, match: str = "auto", tolerance: float = 0.0
) -> Comparison:
    """Structure (when both sides have a graph) and weights (when asked, or when a side is only weights).
    When one side was read back from an inference export, the other is compared as that export sees it (its
    BatchNorm folded into the convolutions, weights included). `tolerance`: a layer whose weights moved by at
    most this share of their norm counts as unchanged."""
    from ..analysis.diff import diff_graphs
    from ..analysis.diff_inference import fold_for_inference

    result = Comparison(old, new)
    folds: dict[str, list[tuple[str, str, float]]] = {"old": [], "new": []}
    if old.graph is not None and new.graph is not None:
        graph_old, graph_new, notes = old.graph, new.graph, []
        if new.exported and not old.exported:
            graph_old, notes, folds["old"] = fold_for_inference(graph_old)
        elif old.exported and not new.exported:
            graph_new, notes, folds["new"] = fold_for_inference(graph_new)
        for which, side, graph in (("old", old, graph_old), ("new", new, graph_new)):
            if graph is not side.graph and len(graph) != len(side.graph):
                notes.append(f"the {which} model has {len(side.graph)} nodes, compared as {len(graph)} after that")
        if match == "auto" and not (old.kind in _EDITED and new.kind in _EDITED):
            match = "structure"  # an importer numbers its nodes afresh: equal ids say nothing about lineage
        result.structure = diff_graphs(graph_old, graph_new, match=match)
        result.structure.notes.extend(notes)
    if weights or old.graph is None or new.graph is None:
        result.weights = _compare_weights(old, new, result.structure, folds, tolerance)
    return result


def _side_tensors(side: ModelSource, folds: list[tuple[str, str, float]]) -> tuple[dict[str, Any], dict[str, str]]:
    """Node-keyed weights of a side with a graph: an import's own, else its weights file placed on the graph;
    with the BatchNorm folds of an inference export applied when the other side is one."""
    from ..compiler.weights_diff import fold_batchnorm, graph_weights

    assert side.graph is not None
    labels = {nid: n.label for nid, n in side.graph.nodes.items()}
    if side.tensors is not None:
        import torch

        tensors = {k: torch.as_tensor(v) for k, v in side.tensors.items()}
    elif side.weights is not None:
        tensors, labels = graph_weights(side.graph, side.weights)
    else:
        raise ModelSourceError(f"{side.name}: has no weights to compare (train it, or import it with its weights)")
    return (fold_batchnorm(tensors, folds) if folds else tensors), labels


def _compare_weights(
    old: ModelSource, new: ModelSource, structure: Any, folds: dict[str, list], tolerance: float
) -> Any:
    from ..compiler.weights_diff import diff_tensors, diff_weight_files

    try:
        if old.graph is not None and new.graph is not None:
            tensors_old, labels_old = _side_tensors(old, folds["old"])
            tensors_new, labels_new = _side_tensors(new, folds["new"])
            matches = structure.matches if structure.matched_by != "id" else None
            labels = {**labels_old, **labels_new}
            return diff_tensors(tensors_old, tensors_new, labels=labels, layer_map=matches, tolerance=tolerance)
        for side in (old, new):
            if side.weights is None:
                raise ModelSourceError(
                    f"{side.name}: has no weights to compare (train it, or import it with its weights first)"
                )
        return diff_weight_files(old.weights, new.weights, tolerance=tolerance)  # type: ignore[arg-type]
    except DlstudioError as exc:
        if isinstance(exc, ModelSourceError):
            raise
        raise ModelSourceError(str(exc)) from None
