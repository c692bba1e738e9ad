"""Training: settings, data pipeline, the event-iterator loop, metrics, checkpoints. No Qt here.

Import submodules directly (`from dlstudio.training.loop import Trainer`); this package keeps its import light.
"""

from __future__ import annotations

from typing import Any

__all__ = ["Trainer", "TrainingConfig", "DataConfig", "train_project"]


def __getattr__(name: str) -> Any:  # lazy: importing dlstudio.training does not import torch
    if name == "Trainer":
        from .loop import Trainer

        return Trainer
    if name in ("TrainingConfig", "DataConfig"):
        from . import config

        return getattr(config, name)
    if name == "train_project":
        from .project import train_project

        return train_project
    raise AttributeError(name)
