"""Plain event dataclasses the training iterator yields. No Qt: the studio forwards them as queued signals, the
CLI prints them; `to_dict()` gives one JSON line per event."""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any


@dataclass
class Event:
    def to_dict(self) -> dict[str, Any]:
        d = dataclasses.asdict(self)
        d["event"] = type(self).__name__
        return d


@dataclass
class EpochStarted(Event):
    epoch: int            # 1-based
    epochs: int
    batches: int
    lr: float


@dataclass
class BatchEnd(Event):
    epoch: int
    batch: int            # 1-based within the epoch
    batches: int
    loss: float
    samples: int          # samples seen so far in this epoch
    samples_per_s: float


@dataclass
class EpochEnd(Event):
    epoch: int
    epochs: int
    metrics: dict[str, float]   # loss, val_loss, val_accuracy, ... (flat, numbers only)
    lr: float
    seconds: float
    warnings: list[str] = field(default_factory=list)   # e.g. validation loss rising while training loss falls


@dataclass
class Checkpoint(Event):
    epoch: int
    path: str             # the checkpoint folder
    best: bool = False


@dataclass
class Finished(Event):
    epochs_run: int
    stopped_early: bool
    stopped_by_user: bool
    final_metrics: dict[str, float]
    test_metrics: dict[str, Any]
    run_dir: str | None


@dataclass
class Failed(Event):
    message: str
    epoch: int | None = None
    batch: int | None = None
    node_id: str | None = None       # the first node whose output went non-finite, if known
    last_checkpoint: str | None = None
