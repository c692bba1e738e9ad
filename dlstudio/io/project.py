"""The Project: a graph plus data and training settings, saved as versioned JSON with a weights sidecar."""

from __future__ import annotations

import copy
import gc
import json
import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..core.errors import ProjectFileError
from ..core.files import atomic_write_text
from ..layers.builder import Graph
from .schema import FORMAT_NAME, FORMAT_VERSION, project_from_text, read_document

SUFFIX = ".dlstudio"


@dataclass
class Project:
    graph: Graph = field(default_factory=Graph)
    data: dict[str, Any] = field(default_factory=dict)  # data settings (dataset, split, scaling, binding)
    training: dict[str, Any] = field(default_factory=dict)  # training settings (loss, optimizer, schedule, ...)
    meta: dict[str, Any] = field(default_factory=dict)  # name, description, explanation
    path: Path | None = None

    @property
    def name(self) -> str:
        return str(self.meta.get("name") or (self.path.stem if self.path else "untitled"))

    @property
    def weights_path(self) -> Path | None:
        return self.path.with_suffix(".safetensors") if self.path else None

    @property
    def saved_weights(self) -> Path | None:
        """The weights sidecar when it exists on disk: None for an unsaved project or one never trained (or
        imported) with weights."""
        sidecar = self.weights_path
        return sidecar if sidecar is not None and sidecar.is_file() else None

    def save_weights(self, model: Any) -> Path:
        """Write a compiled model's weights to the sidecar beside the project file (save the project first)."""
        from ..compiler.weights import save_weights

        if self.weights_path is None:
            raise ProjectFileError(
                "<unsaved>", "", "save the project before its weights: the weights file lives beside it"
            )
        return save_weights(model, self.graph, self.weights_path)

    def compile(self, *, seed: int | None = 0, weights: Any = "sidecar") -> Any:
        """Compile the graph. weights="sidecar" loads the project's .safetensors when it exists; None skips
        weights; anything else is passed to load_weights (a path or a dict)."""
        from ..compiler.build import compile_graph  # torch loads here, not when the project module does

        if isinstance(weights, str) and weights == "sidecar":
            weights = self.saved_weights
        return compile_graph(self.graph, seed=seed, weights=weights)

    def to_dict(self) -> dict[str, Any]:
        g = self.graph.to_dict()
        return {
            "format": FORMAT_NAME,
            "format_version": FORMAT_VERSION,
            "meta": copy.deepcopy(self.meta),
            "nodes": g["nodes"],
            "edges": g["edges"],
            "groups": g["groups"],
            "data": copy.deepcopy(self.data),
            "training": copy.deepcopy(self.training),
        }

    def to_json(self) -> str:
        """The file text: sorted keys, 2-space indent, so files diff cleanly. Raises ProjectFileError when a
        value cannot be written as JSON (NaN, infinity, a Python object)."""
        try:
            return json.dumps(self.to_dict(), indent=2, sort_keys=True, allow_nan=False) + "\n"
        except (TypeError, ValueError) as exc:
            where = str(self.path) if self.path else "<unsaved>"
            raise ProjectFileError(
                where,
                "",
                f"cannot be written as JSON: {exc}; use plain numbers, text, "
                "lists and objects in params, data and training",
            ) from None

    def save(self, path: str | os.PathLike[str] | None = None) -> Path:
        """Atomic save: write a temporary file beside the target, then rename it over the target.

        The text is read back through the loader first, so we never write a file we could not open again."""
        target = Path(path) if path is not None else self.path
        if target is None:
            raise ProjectFileError("<unsaved>", "", "no file name given")
        text = self.to_json()
        try:
            read_document(text.encode("utf-8"), str(target))
        except ProjectFileError as exc:
            raise ProjectFileError(str(target), exc.json_path, f"not saved: {exc.reason}") from None
        try:
            atomic_write_text(target, text)
        except OSError as exc:
            raise ProjectFileError(
                str(target), "", f"cannot write the file ({exc.strerror or exc}); the previous version is unchanged"
            ) from None
        self.path = target
        return target

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> Project:
        """Read, migrate and validate a project file. Raises ProjectFileError (file, JSON path, reason)."""
        p = Path(path)
        try:
            raw = p.read_bytes()
        except OSError as exc:
            raise ProjectFileError(str(p), "", f"cannot read the file ({exc.strerror or exc})") from None
        with _cyclic_gc_paused():
            project = project_from_text(raw, str(p))
        project.path = p
        return project


@contextmanager
def _cyclic_gc_paused() -> Iterator[None]:
    """Loading a 10,000-node file allocates a few hundred thousand objects and none of them is garbage; the
    cyclic collector would rescan them again and again (a third of the load time), so it waits until the end."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()
