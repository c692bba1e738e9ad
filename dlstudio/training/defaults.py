"""The training settings a project starts with: per-dataset values that learn within seconds on a CPU.

A project that does not set the learning rate, epochs, batch size or weight decay gets them from here, for the
dataset it trains on (the studio's form shows the same values, and the CLI and the API train with them). Settings
the project holds always win. Built-in datasets without an entry (images, sequences) and user data keep
TrainingConfig's general defaults (Adam, lr 0.001, 10 epochs, batch 32), which suit the templates' conv and
recurrent networks.

Chosen by training simple MLPs on each dataset (benchmarked with several widths and seeds; tests/test_training_
defaults.py holds the bars): small tables and 2-D toys learn in 30-50 epochs at lr 0.01, the 1,797 digits in 20
epochs at lr 0.003. Diabetes (a noisy target) overfits at lr 0.01: a lower rate and weight decay keep its
validation R^2 at the best linear fit's.

A dataset may also start with its own data settings (`PER_DATASET_DATA`, filled in by DataConfig.from_dict where
the project sets none). Diabetes validates on a quarter of its 442 rows instead of a fifth: R^2 on 88 rows is too
noisy to judge a model by. Across 20 split seeds, ordinary least squares scores 0.357-0.580 on a fifth (3 of 20
splits under 0.4, the default split among them at 0.397, where no model tried, linear, kernel, boosted or MLP,
reaches 0.4) and 0.411-0.586 on a quarter.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any

from .config import DataConfig, TrainingConfig


@dataclass(frozen=True)
class StartingSettings:
    """What a project on one dataset starts with; the rest of the training settings keep their defaults."""

    lr: float
    epochs: int
    batch_size: int
    weight_decay: float = 0.0

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


# tables and 2-D point sets of a few hundred to a thousand rows
_SMALL_SET = StartingSettings(lr=0.01, epochs=30, batch_size=32)

PER_DATASET: dict[str, StartingSettings] = {
    "iris": StartingSettings(lr=0.01, epochs=40, batch_size=16),  # 120 training rows: more steps per epoch
    "wine": StartingSettings(lr=0.01, epochs=30, batch_size=16),
    "breast_cancer": _SMALL_SET,
    "digits": StartingSettings(lr=0.003, epochs=20, batch_size=32),
    "diabetes": StartingSettings(lr=0.003, epochs=50, batch_size=32, weight_decay=0.1),
    "moons": _SMALL_SET,
    "circles": _SMALL_SET,
    "blobs": _SMALL_SET,
    "xor": _SMALL_SET,
    "spirals": _SMALL_SET,
    "sine": _SMALL_SET,
    "linear": _SMALL_SET,
}


# data settings a dataset starts with, where DataConfig's general ones do not suit it
PER_DATASET_DATA: dict[str, dict[str, Any]] = {
    "diabetes": {"val_fraction": 0.25},  # 442 rows: R^2 on a fifth (88 rows) swings with the split
}


def starting_data_values(dataset: str | None) -> dict[str, Any]:
    """The data settings a project on `dataset` starts with where DataConfig's defaults do not apply."""
    return dict(PER_DATASET_DATA.get(dataset or "", {}))


def with_starting_data(data: Mapping[str, Any] | None) -> dict[str, Any]:
    """The project's data dict with its dataset's starting data settings filled in where it sets none."""
    out = dict(data or {})
    for name, value in starting_data_values(out.get("dataset", DataConfig.dataset)).items():
        out.setdefault(name, value)
    return out


def starting_settings(dataset: str | None) -> StartingSettings | None:
    """The per-dataset starting values, or None where TrainingConfig's general defaults apply."""
    return PER_DATASET.get(dataset or "")


def starting_values(dataset: str | None) -> dict[str, Any]:
    """The learning rate, epochs, batch size and weight decay a project on `dataset` starts with (its own or
    the general defaults)."""
    start = starting_settings(dataset)
    if start is not None:
        return start.as_dict()
    general = TrainingConfig()
    return {name: getattr(general, name) for name in StartingSettings.__dataclass_fields__}


def with_starting_settings(training: Mapping[str, Any] | None, dataset: str | None) -> dict[str, Any]:
    """The project's training dict with the dataset's starting values filled in where it sets none."""
    out = dict(training or {})
    start = starting_settings(dataset)
    if start is not None:
        for name, value in start.as_dict().items():
            out.setdefault(name, value)
    return out


def describe(dataset: str | None) -> str:
    """One line for the training form: which starting values it shows and where they come from."""
    start = starting_settings(dataset)
    if start is None:
        return (
            f"Starting values: the general defaults for {dataset or 'this data'} (no learning-rate search); "
            "set your own for long runs."
        )
    decay = f", weight decay {start.weight_decay:g}" if start.weight_decay else ""
    val = starting_data_values(dataset).get("val_fraction")
    decay += f", validation fraction {val:g}" if val is not None else ""
    return (
        f"Starting values for {dataset}: lr {start.lr:g}, {start.epochs} epochs, batch {start.batch_size}{decay} "
        "(per-dataset defaults, no learning-rate search)."
    )


__all__ = [
    "PER_DATASET",
    "PER_DATASET_DATA",
    "StartingSettings",
    "describe",
    "starting_data_values",
    "starting_settings",
    "starting_values",
    "with_starting_data",
    "with_starting_settings",
]
