"""The supervised trainer: the engine (engine.py) running a SupervisedTask (task_supervised.py).

trainer = Trainer(graph, data_dict, training_dict, run_dir="runs/x")   # errors in data/config raise here
for event in trainer.run():                                          # never raises: faults are Failed
    ...
"""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace
from typing import Any

import torch

from ..core.graph import ModelGraph
from .checkpoints import save_weights
from .config import DataConfig, TrainingConfig, resolve_configs
from .engine import Engine, Task
from .task_supervised import SupervisedTask, pick_device

__all__ = ["Trainer", "TaskEngine", "accelerators", "pick_device"]


def accelerators() -> list[str]:
    """Device names besides cpu that this machine can train on: cuda:N for each CUDA device, mps on Apple."""
    names = [f"cuda:{i}" for i in range(torch.cuda.device_count())] if torch.cuda.is_available() else []
    if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
        names.append("mps")
    return names


class TaskEngine(Engine):
    """An engine that also answers for its task: `trainer.model`, `trainer.kind`, `trainer.train_set`, ... are
    the task's, as the studio, the CLI and the sanity tools read them."""

    def __getattr__(self, name: str) -> Any:
        task = self.__dict__.get("task")
        if task is None or name.startswith("__"):
            raise AttributeError(name)
        return getattr(task, name)

    def __setattr__(self, name: str, value: Any) -> None:
        task = self.__dict__.get("task")
        if self.__dict__.get("_ready") and name not in self.__dict__ and name in vars(task):
            setattr(task, name, value)
        else:
            super().__setattr__(name, value)

    def __init__(self, task: Task, **kw: Any) -> None:
        super().__init__(task, **kw)
        self.dcfg = task.dcfg
        self._ready = True  # from here on, setting one of the task's attributes sets it on the task

    def save_weights(self, path: str | Path) -> Path:
        return save_weights(self.task.model, Path(path))


class Trainer(TaskEngine):
    """Set up everything that can be checked before training (data, binding, model, optimizer) in the
    constructor, which raises typed errors; `run()` then yields events and reports faults as `Failed`."""

    task: SupervisedTask

    def __init__(
        self,
        graph: ModelGraph,
        data: DataConfig | dict[str, Any] | None,
        training: TrainingConfig | dict[str, Any] | None,
        *,
        run_dir: str | Path | None = None,
        base_dir: str | Path | None = None,
        resume: str | Path | None = None,
        epochs: int | None = None,
        device: str | None = None,
        initial_weights: dict[str, torch.Tensor] | None = None,
        project_meta: dict[str, Any] | None = None,
    ) -> None:
        dcfg, cfg = resolve_configs(data, training, epochs, device)
        task = SupervisedTask(graph, dcfg, cfg, base_dir=base_dir, initial_weights=initial_weights)
        super().__init__(task, run_dir=run_dir, resume=resume, project_meta=project_meta)

    @property
    def train_rows(self) -> int:
        return len(self.task.train_set)

    @property
    def state(self) -> SimpleNamespace:
        """The run so far: epochs done, history and the best epoch."""
        t = self.task
        return SimpleNamespace(
            epoch=self.epoch,
            history=self.history,
            best_value=t.best_value,
            best_epoch=t.best_epoch,
            bad_epochs=t.bad_epochs,
            best_state=t.best_weights,
        )
