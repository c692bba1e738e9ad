"""The in-memory dataset every source produces, and the folder dataset that stays on disk."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np


@dataclass
class ArrayData:
    """Features x (N, *shape) float32 or int64 and targets y: int64 class labels (N,) for classification,
    float32 (N, k) for regression, binary and multi-label."""

    x: np.ndarray
    y: np.ndarray
    task: str
    name: str
    class_names: list[str] | None = None
    ordered: bool = False  # time series: rows are in time order (time split by default)
    recommended_scaling: str = "none"
    source: str = ""  # a file path, or the built-in name, for messages

    @property
    def sample_shape(self) -> tuple[int, ...]:
        return tuple(int(d) for d in self.x.shape[1:])

    @property
    def n_classes(self) -> int | None:
        return len(self.class_names) if self.class_names is not None else None

    def subset(self, idx: np.ndarray) -> ArrayData:
        return ArrayData(
            self.x[idx],
            self.y[idx],
            self.task,
            self.name,
            self.class_names,
            self.ordered,
            self.recommended_scaling,
            self.source,
        )

    def __len__(self) -> int:
        return int(self.x.shape[0])


@dataclass
class FolderData:
    """Images listed by path; decoded lazily by a DataLoader (see imagefolder.py)."""

    files: list[Path]
    y: np.ndarray  # int64 labels
    class_names: list[str]
    image_size: tuple[int, int]
    channels: int
    name: str = "imagefolder"
    task: str = "multiclass"
    ordered: bool = False
    recommended_scaling: str = "none"
    source: str = ""
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def sample_shape(self) -> tuple[int, ...]:
        return (self.channels, *self.image_size)

    @property
    def n_classes(self) -> int:
        return len(self.class_names)

    def subset(self, idx: np.ndarray) -> FolderData:
        return FolderData(
            [self.files[i] for i in idx],
            self.y[idx],
            self.class_names,
            self.image_size,
            self.channels,
            self.name,
            self.task,
            self.ordered,
            self.recommended_scaling,
            self.source,
        )

    def __len__(self) -> int:
        return len(self.files)
