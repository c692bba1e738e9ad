"""An import result becomes a saved project: the one place that the CLI (`dlstudio import`) and the Python API
turn what an importer returned into a project file with its weights sidecar.

Importers return a result and never save (they sit beside io, not above the API); this module takes the result
duck-typed (`.graph`, `.weights`, `.compile()`), so io does not import the importers either.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Protocol

from ..layers.builder import Graph
from .project import Project


class ImportedModel(Protocol):
    """What save_import needs of an import result (dlstudio.importers.base.ImportResult has it)."""

    @property
    def graph(self) -> Graph: ...

    @property
    def weights(self) -> Mapping[str, Any]: ...

    def compile(self) -> Any: ...


def save_import(result: ImportedModel, path: str | os.PathLike[str], *, name: str = "", source: str = "") -> Path:
    """Write the project and its weights sidecar (weights first, so a project never lacks its weights)."""
    from ..compiler.weights import save_weights

    project = Project(
        graph=result.graph,
        meta={"name": name or Path(path).stem, "description": f"Imported from {source}" if source else ""},
    )
    target = Path(path)
    project.path = target
    if result.weights:
        save_weights(result.compile(), result.graph, project.weights_path)
    project.save(target)
    return target
