"""Which weights an export uses, and keeping a run's weights as the project's.

Every export route offers the same three choices (`weight_choices`, in dlstudio.training.runs so that the CLI
and the API choose alike): the newest finished run's best weights, the project's weights (the .safetensors
sidecar) and the seeded initialisation. The default is the run when its weights are newer than the sidecar. A
choice names itself ("run iris-..., best epoch 87, val_accuracy 0.967") so the dialog and its report say which
weights went out.

Runs live in `<project folder>/runs/`; an untitled project's runs start in a temporary folder and move there
with its first save (`move_runs`).
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path
from typing import Any

from ..io.project import Project
from ..training.runs import (  # noqa: F401 - the choice itself is headless; the studio imports it from here
    RunInfo,
    WeightsChoice,
    default_weights,
    run_state,
    saved_runs,
    weight_choices,
)

UNTITLED_RUNS = Path(tempfile.gettempdir()) / "dlstudio-runs"


def runs_dir(project: Project) -> Path:
    """Where the project's runs live: beside the project file, or a temporary folder while it is untitled."""
    return project.path.parent / "runs" if project.path is not None else UNTITLED_RUNS


def keep_run_weights(project: Project, run: RunInfo, which: str | None = None) -> Path:
    """Write a run's weights as the project's sidecar (the project must be saved). Raises WeightsError when
    they do not fit the project's graph (edited since the run)."""
    model = project.compile(weights=run_state(run, which))
    return project.save_weights(model)


def move_runs(run_dirs: list[Path], project: Project) -> dict[Path, Path]:
    """Move an untitled project's run folders beside the project just saved (renamed `<name>-<stamp>-<n>`).
    Returns old -> new for those moved; a folder that is gone or already there is skipped."""
    target = runs_dir(project)
    moved: dict[Path, Path] = {}
    for old in run_dirs:
        if not old.is_dir() or old.parent.resolve() == target.resolve():
            continue
        rest = "-".join(old.name.rsplit("-", 3)[-3:])  # <stamp date>-<stamp time>-<n>
        new = target / f"{project.name}-{rest}"
        n = 1
        while new.exists():
            n += 1
            new = target / f"{project.name}-{rest}.{n}"
        target.mkdir(parents=True, exist_ok=True)
        shutil.move(str(old), str(new))
        moved[old] = new
    return moved


def adopt_runs(workspace: Any, project: Project) -> dict[Path, Path]:
    """After an untitled project's first save: move its finished runs from the temporary folder beside it, and
    write the weights the user kept meanwhile. `workspace`: the TrainingWorkspace listing the runs."""
    untitled = UNTITLED_RUNS.resolve()
    dirs = [
        Path(r.run_dir)
        for r in workspace.runs.runs
        if r.run_dir and r.status != "running" and Path(r.run_dir).parent.resolve() == untitled
    ]
    moved = move_runs(dirs, project)
    workspace.moved_runs(moved)
    workspace.write_pending_weights()
    return moved
