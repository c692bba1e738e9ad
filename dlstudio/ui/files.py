"""File helpers for the window: recent-file list, crash-recovery files, the template gallery and the plain
(dialog-less) export entry point."""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..core.files import atomic_write_text
from ..io.project import Project

MAX_RECENT = 10
EXAMPLES_DIR = Path(__file__).resolve().parents[2] / "examples"
DEFAULT_EXAMPLE = "mlp_digits.dlstudio"


def documents_folder() -> Path:
    """The user's documents folder (home when the platform names none)."""
    from PySide6.QtCore import QStandardPaths

    found = QStandardPaths.writableLocation(QStandardPaths.StandardLocation.DocumentsLocation)
    return Path(found) if found else Path.home()


def start_folder(project: Project) -> Path:
    """Where file dialogs start for `project`: its folder, or the user's documents for an untitled project and
    for one opened from the installed examples (saving there would overwrite a template)."""
    if project.path is not None:
        folder = Path(project.path).resolve().parent
        if folder != EXAMPLES_DIR.resolve():
            return folder
    return documents_folder()


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


EXPORT_SUFFIXES = {"onnx": ".onnx", "python": ".py", "weights": ".safetensors", "png": ".png", "svg": ".svg"}


def exporter(kind: str) -> Callable[..., str]:
    """The function that writes a project as `kind` (a key of EXPORT_SUFFIXES) to a path:
    `fn(project, path, runs=None) -> what weights went out`.

    The exporter module (torch, onnx) is imported here, on first use, so the window starts without it. Model
    exports take the default of dlstudio.ui.run_weights: the newest run's best weights when newer than the
    project's sidecar, else the sidecar, else the seeded initialisation."""
    from .run_weights import default_weights

    if kind == "onnx":
        from ..export.onnx import export_onnx

        def write_onnx(project: Project, path: str, runs: Any = None) -> str:
            choice = default_weights(project, runs)
            export_onnx(project.graph, path, weights=choice.weights())
            return choice.label

        return write_onnx
    if kind == "python":
        from ..export.python_code import export_python

        def write_python(project: Project, path: str, runs: Any = None) -> str:
            choice = default_weights(project, runs)
            export_python(project.graph, path, weights=choice.weights())
            return choice.label

        return write_python
    if kind == "weights":
        from ..export.common import build_model
        from ..export.weights import save_weights_file

        def write_weights(project: Project, path: str, runs: Any = None) -> str:
            choice = default_weights(project, runs)
            save_weights_file(build_model(project.graph, choice.weights()), project.graph, path)
            return choice.label

        return write_weights
    if kind in ("png", "svg"):  # the format follows the file suffix
        from .diagram import render_file

        def write_diagram(project: Project, path: str, runs: Any = None) -> str:
            render_file(project.graph, path)
            return "diagram"

        return write_diagram
    raise ValueError(f"unknown export kind {kind!r}; use one of {', '.join(EXPORT_SUFFIXES)}")
