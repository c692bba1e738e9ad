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


def exporter(kind: str) -> Callable[[Project, str], Any]:
    """The function that writes a project as `kind` (a key of EXPORT_SUFFIXES) to a path.

    The exporter module (torch, onnx) is imported here, on first use, so the window starts without it; the
    project's trained weights (the .safetensors sidecar) are used when they exist, else the seeded
    initialisation."""
    if kind == "onnx":
        from ..export.onnx import export_onnx

        return lambda project, path: export_onnx(project.graph, path, weights=_sidecar(project))
    if kind == "python":
        from ..export.python_code import export_python

        return lambda project, path: export_python(project.graph, path, weights=_sidecar(project))
    if kind == "weights":
        from ..export.weights import save_weights_file

        return lambda project, path: save_weights_file(project.compile(weights="sidecar"), project.graph, path)
    if kind in ("png", "svg"):  # the format follows the file suffix
        from .diagram import render_file

        return lambda project, path: render_file(project.graph, path)
    raise ValueError(f"unknown export kind {kind!r}; use one of {', '.join(EXPORT_SUFFIXES)}")


def _sidecar(project: Project) -> str | None:
    side = project.weights_path
    return str(side) if side is not None and side.is_file() else None
