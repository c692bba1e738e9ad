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
    epoch: int  # 1-based
    epochs: int
    batches: int
    lr: float


@dataclass
class BatchEnd(Event):
    epoch: int
    batch: int  # 1-based within the epoch
    batches: int
    loss: float
    samples: int  # samples seen so far in this epoch
    samples_per_s: float


@dataclass
class EpochEnd(Event):
    epoch: int
    epochs: int
    metrics: dict[str, float]  # loss, val_loss, val_accuracy, ... (flat, numbers only)
    lr: float
    seconds: float
    warnings: list[str] = field(default_factory=list)  # e.g. validation loss rising while training loss falls


@dataclass
class Checkpoint(Event):
    epoch: int
    path: str  # the checkpoint folder; written in the background: complete once its state.json exists
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
    node_id: str | None = None  # the first node whose output went non-finite, if known
    last_checkpoint: str | None = None


@dataclass
class SamplesSaved(Event):
    """A per-epoch image grid: inputs above reconstructions, or GAN samples from the fixed noise."""

    epoch: int
    path: str | None  # the PNG in the run folder (None without a run folder)
    kind: str  # "reconstructions" or "samples"
    change: float  # mean |difference| to the previous epoch's grid (0 on the first epoch)
    grid: Any = field(default=None, repr=False)  # uint8 array (H, W, C) for live views; not in to_dict

    def to_dict(self) -> dict[str, Any]:
        return {
            "event": "SamplesSaved",
            "epoch": self.epoch,
            "path": self.path,
            "kind": self.kind,
            "change": self.change,
        }


# every event type by name with its field names; all of them are defined above (read once: the studio reads
# hundreds of events a second from its training process)
_FIELDS: dict[str, tuple[type[Event], frozenset[str]]] = {
    cls.__name__: (cls, frozenset(f.name for f in dataclasses.fields(cls)))
    for cls in (EpochStarted, BatchEnd, EpochEnd, Checkpoint, Finished, Failed, SamplesSaved)
}


def event_from_dict(d: dict[str, Any]) -> Event:
    """The inverse of `to_dict()` (one JSON line from `dlstudio train --json` or the studio's training process).
    Keys the event type does not know are ignored; an unknown event name raises ValueError."""
    name = d.get("event")
    found = _FIELDS.get(str(name))
    if found is None:
        raise ValueError(f"unknown training event {name!r}")
    cls, names = found
    return cls(**{k: v for k, v in d.items() if k in names})
