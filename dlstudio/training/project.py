"""Training a Project: its `data` and `training` sections, paths relative to the project file, a default run
folder `<project dir>/runs/<name>-<timestamp>`."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from .loop import Trainer


def default_run_dir(project: Any) -> Path:
    base = project.path.parent if getattr(project, "path", None) else Path.cwd()
    stamp = time.strftime("%Y%m%d-%H%M%S")
    return base / "runs" / f"{project.name}-{stamp}"


def make_trainer(
    project: Any,
    *,
    run_dir: str | Path | None = None,
    resume: str | Path | None = None,
    epochs: int | None = None,
    device: str | None = None,
    use_run_dir: bool = True,
    weights: str | Path | None = None,
) -> Trainer:
    """Build a Trainer for a Project. Raises DataError/BindingError/TrainingConfigError/CompileError before any
    training starts."""
    base = project.path.parent if getattr(project, "path", None) else None
    if run_dir is None and resume is None and use_run_dir:
        run_dir = default_run_dir(project)
    from .generative import generative_mode

    if generative_mode(project.training) is not None:  # autoencoder, super-resolution, GAN: same run() protocol
        from .generative import make_generative_trainer

        return make_generative_trainer(
            project,
            run_dir=run_dir,
            epochs=epochs,
            device=device,  # type: ignore
            weights=weights,
            resume=resume,
        )
    initial = None
    if weights is not None:
        from .checkpoints import load_weights_file

        initial = load_weights_file(Path(weights))
    return Trainer(
        project.graph,
        project.data,
        project.training,
        run_dir=run_dir,
        base_dir=base,
        resume=resume,
        epochs=epochs,
        device=device,
        initial_weights=initial,
        project_meta={
            "name": project.name,
            **{k: v for k, v in project.meta.items() if isinstance(v, (str, int, float))},
        },
    )


def train_project(project: Any, **kwargs: Any) -> Any:
    """Run to the end and return the last event (Finished or Failed)."""
    trainer = make_trainer(project, **kwargs)
    last = None
    for event in trainer.run():
        last = event
    return last


def run_facts(trainer: Any) -> dict[str, Any]:
    """What the studio learns about a run once its trainer is built, before the first batch: the task, the
    outputs, the device and whether epochs will carry validation metrics (the live plots lay out for them)."""
    binding = getattr(trainer, "binding", None)
    val_set = getattr(trainer, "val_set", None)
    return {
        "train_rows": getattr(trainer, "train_rows", None),
        "task_kind": trainer.kind,
        "loss_name": getattr(trainer, "loss_name", None),
        "class_names": trainer.class_names,
        "output_index": getattr(binding, "output_index", 0),
        "n_outputs": getattr(binding, "n_outputs", 1),
        "device": str(trainer.device),
        "has_validation": val_set is not None and len(val_set) > 0,
    }
