"""File helpers for the window: recent-file list, crash-recovery files, the template gallery, optional
import/export entry points (guarded so a missing module gives a clear message, not a traceback)."""

from __future__ import annotations

import importlib
import json
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..io.project import Project, atomic_write_text

MAX_RECENT = 10
EXAMPLES_DIR = Path(__file__).resolve().parents[2] / "examples"
DEFAULT_EXAMPLE = "mlp_digits.dlstudio"


class FeatureUnavailable(Exception):
    """An optional module (importer/exporter) is not installed in this build."""


def push_recent(recent: list[str], path: str | os.PathLike[str]) -> list[str]:
    p = str(Path(path).resolve())
    return ([p] + [r for r in recent if r != p])[:MAX_RECENT]


@dataclass
class Recovery:
    """Autosave + crash recovery: `<dir>/recovery.dlstudio` plus `recovery.json` naming the original file and
    the owning process. A clean exit deletes both; a stale pair found at start-up means the last run crashed."""

    directory: Path

    @property
    def data_path(self) -> Path:
        return self.directory / "recovery.dlstudio"

    @property
    def info_path(self) -> Path:
        return self.directory / "recovery.json"

    def write(self, project: Project) -> None:
        atomic_write_text(self.data_path, project.to_json())
        info = {"original": str(project.path) if project.path else None, "pid": os.getpid(), "time": time.time()}
        atomic_write_text(self.info_path, json.dumps(info, indent=2) + "\n")

    def clear(self) -> None:
        for p in (self.data_path, self.info_path):
            try:
                p.unlink()
            except FileNotFoundError:
                pass

    def pending(self) -> dict[str, Any] | None:
        """Info about a recovery left by another (crashed) process, else None."""
        if not (self.data_path.exists() and self.info_path.exists()):
            return None
        try:
            info = json.loads(self.info_path.read_text("utf-8"))
        except (OSError, ValueError):
            return None
        pid = info.get("pid")
        if pid == os.getpid() or (isinstance(pid, int) and _alive(pid)):
            return None  # a running window owns it
        return info

    def restore(self) -> Project:
        info = json.loads(self.info_path.read_text("utf-8"))
        project = Project.load(self.data_path)
        project.path = Path(info["original"]) if info.get("original") else None
        return project


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def templates(directory: Path = EXAMPLES_DIR) -> list[Path]:
    return sorted(directory.glob("*.dlstudio")) if directory.is_dir() else []


def find_callable(candidates: list[tuple[str, str]]) -> Callable[..., Any]:
    """The first (module, function) that exists; FeatureUnavailable names what is missing."""
    for mod, fn in candidates:
        try:
            m = importlib.import_module(mod)
        except ImportError:
            continue
        f = getattr(m, fn, None)
        if callable(f):
            return f
    names = ", ".join(f"{m}.{f}" for m, f in candidates)
    raise FeatureUnavailable(f"This feature is not available in this build (looked for {names}).")


def export_weights(project: Project, path: str) -> Any:
    """The project's weights (trained sidecar when present, else the seeded initialisation) as safetensors."""
    fn = find_callable([("dlstudio.export.weights", "save_weights_file")])
    model = project.compile(weights="sidecar")
    return fn(model, project.graph, path)


# kind -> candidates (module, function), each called as fn(graph, path, **kw); "project" marks helpers above
EXPORTERS: dict[str, list[tuple[str, str]]] = {
    "onnx": [("dlstudio.export.onnx", "export_onnx"), ("dlstudio.api", "export_onnx")],
    "python": [("dlstudio.export.python_code", "export_python"), ("dlstudio.api", "export_python")],
    "weights": [("dlstudio.ui.files", "export_weights")],
    "png": [("dlstudio.ui.diagram", "render_file")],  # the format follows the file suffix
    "svg": [("dlstudio.ui.diagram", "render_file")],
}
TAKES_PROJECT = {"weights"}
TAKES_WEIGHTS = {"onnx", "python"}
IMPORTERS: dict[str, list[tuple[str, str]]] = {
    "onnx": [("dlstudio.importers.onnx", "import_onnx"), ("dlstudio.api", "import_onnx")],
}
