"""The project's `data` and `training` sections as dataclasses: defaults that follow the task, validation with
messages that name the field, and plain-dict round trips (the project file stores `to_dict()`)."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

from ..core.errors import TrainingConfigError

TASKS = ("regression", "binary", "multiclass", "multilabel", "reconstruction")

# CATALOG task table: the loss a task gets when the project names none
DEFAULT_LOSS = {
    "regression": "MSELoss",
    "binary": "BCEWithLogitsLoss",
    "multiclass": "CrossEntropyLoss",
    "multilabel": "BCEWithLogitsLoss",
    "reconstruction": "MSELoss",
}

OPTIMIZERS = ("SGD", "Adagrad", "RMSprop", "Adam", "AdamW", "Adadelta", "NAdam")
SCHEDULES = ("constant", "StepLR", "ExponentialLR", "InverseTimeLR", "CosineAnnealingLR", "ReduceLROnPlateau")
SPLITS = ("random", "stratified", "time")
MISSING = ("error", "drop", "mean", "median")
SCALING = ("auto", "none", "minmax", "standard")
IMBALANCE = ("none", "downsample", "class_weights")


def _check_choice(name: str, value: Any, choices: tuple[str, ...]) -> None:
    if value not in choices:
        raise TrainingConfigError(name, f"{value!r} is not one of {', '.join(choices)}")


def _check_number(
    name: str,
    value: Any,
    lo: float | None = None,
    hi: float | None = None,
    integer: bool = False,
    lo_open: bool = False,
) -> None:
    ok_type = isinstance(value, int) if integer else isinstance(value, (int, float))
    if isinstance(value, bool) or not ok_type:
        raise TrainingConfigError(name, f"expected {'an integer' if integer else 'a number'}, got {value!r}")
    if lo is not None and (value <= lo if lo_open else value < lo):
        raise TrainingConfigError(name, f"must be {'>' if lo_open else '>='} {lo}, got {value}")
    if hi is not None and value > hi:
        raise TrainingConfigError(name, f"must be <= {hi}, got {value}")


def _from_dict(cls: type, raw: dict[str, Any] | None, section: str) -> Any:
    raw = dict(raw or {})
    names = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(raw) - names)
    if unknown:
        raise TrainingConfigError(f"{section}.{unknown[0]}", f"unknown setting; known: {', '.join(sorted(names))}")
    return cls(**raw)


@dataclass
class EarlyStopping:
    patience: int = 0  # 0 = off
    min_delta: float = 0.0
    restore_best: bool = True
    monitor: str = "val_loss"  # any metric in the history; "loss"-like metrics are minimized

    def validate(self, prefix: str) -> None:
        _check_number(f"{prefix}.patience", self.patience, 0, integer=True)
        _check_number(f"{prefix}.min_delta", self.min_delta, 0)


@dataclass
class Schedule:
    name: str = "constant"
    step_size: int = 10  # StepLR
    gamma: float = 0.5  # StepLR, ExponentialLR
    decay_rate: float = 0.1  # InverseTimeLR: lr / (1 + decay_rate * epoch)
    T_max: int = 0  # CosineAnnealingLR; 0 = the number of epochs
    eta_min: float = 0.0
    factor: float = 0.1  # ReduceLROnPlateau
    patience: int = 5
    warmup_epochs: int = 0  # linear warmup before any schedule

    def validate(self, prefix: str) -> None:
        _check_choice(f"{prefix}.name", self.name, SCHEDULES)
        _check_number(f"{prefix}.step_size", self.step_size, 1, integer=True)
        _check_number(f"{prefix}.gamma", self.gamma, 0, 1, lo_open=True)
        _check_number(f"{prefix}.decay_rate", self.decay_rate, 0)
        _check_number(f"{prefix}.T_max", self.T_max, 0, integer=True)
        _check_number(f"{prefix}.factor", self.factor, 0, 1, lo_open=True)
        _check_number(f"{prefix}.patience", self.patience, 0, integer=True)
        _check_number(f"{prefix}.warmup_epochs", self.warmup_epochs, 0, integer=True)


@dataclass
class TrainingConfig:
    """Everything the loop needs besides the graph and the data. Field names follow torch keywords."""

    task: str | None = None  # None: the dataset's task
    loss: str | None = None  # None: DEFAULT_LOSS[task]
    loss_params: dict[str, Any] = field(default_factory=dict)  # e.g. label_smoothing, delta
    optimizer: str = "Adam"
    lr: float = 1e-3
    optimizer_params: dict[str, Any] = field(default_factory=dict)  # momentum, nesterov, betas, ...
    weight_decay: float = 0.0  # L2 through the optimizer
    l1: float = 0.0  # L1 penalty added to the loss
    l2: float = 0.0  # explicit L2 penalty added to the loss
    schedule: Schedule = field(default_factory=Schedule)
    batch_size: int = 32
    epochs: int = 10
    grad_clip: float = 0.0  # max gradient norm; 0 = off
    early_stopping: EarlyStopping = field(default_factory=EarlyStopping)
    device: str = "auto"  # auto, cpu, cuda, cuda:N, mps
    amp: bool = False  # mixed precision (GPU only; ignored on CPU)
    seed: int = 0
    checkpoint_every: int = 1  # epochs between checkpoints
    deterministic: bool = False
    num_threads: int = 0  # CPU threads for torch; 0 = torch's default
    # per-epoch validation metrics: "full" (sklearn: accuracy, precision/recall/F1 macro, AUC; MSE/MAE/R2) or
    # "basic" (loss + accuracy or MSE/MAE with torch ops, for tiny epochs where sklearn's few ms per call show)
    epoch_metrics: str = "full"
    # autoencoder / GAN settings, read and validated by dlstudio.training.generative (empty: supervised)
    generative: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_dict(cls, raw: dict[str, Any] | None) -> TrainingConfig:
        raw = dict(raw or {})
        sched = raw.pop("schedule", None)
        early = raw.pop("early_stopping", None)
        if isinstance(sched, str):
            sched = {"name": sched}
        cfg = _from_dict(cls, raw, "training")
        cfg.schedule = _from_dict(Schedule, sched, "training.schedule")
        cfg.early_stopping = _from_dict(EarlyStopping, early, "training.early_stopping")
        cfg.validate()
        return cfg

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def validate(self) -> None:
        from .loss_table import LOSSES

        if self.task is not None:
            _check_choice("training.task", self.task, TASKS)
        if self.loss is not None and self.loss not in LOSSES:
            raise TrainingConfigError(
                "training.loss", f"unknown loss {self.loss!r}; pick one of {', '.join(sorted(LOSSES))}"
            )
        _check_choice("training.optimizer", self.optimizer, OPTIMIZERS)
        _check_number("training.lr", self.lr, 0, lo_open=True)
        for name in ("weight_decay", "l1", "l2", "grad_clip"):
            _check_number(f"training.{name}", getattr(self, name), 0)
        _check_number("training.batch_size", self.batch_size, 1, integer=True)
        _check_number("training.epochs", self.epochs, 1, integer=True)
        _check_number("training.seed", self.seed, 0, integer=True)
        _check_number("training.checkpoint_every", self.checkpoint_every, 1, integer=True)
        _check_number("training.num_threads", self.num_threads, 0, integer=True)
        _check_choice("training.epoch_metrics", self.epoch_metrics, ("full", "basic"))
        dev = self.device
        if not isinstance(dev, str) or not (
            dev in ("auto", "cpu", "cuda", "mps") or (dev.startswith("cuda:") and dev[5:].isdigit())
        ):
            raise TrainingConfigError("training.device", f"{dev!r} is not auto, cpu, cuda, cuda:N or mps")
        if not isinstance(self.loss_params, dict) or not isinstance(self.optimizer_params, dict):
            raise TrainingConfigError("training.loss_params", "loss_params and optimizer_params must be objects")
        self.schedule.validate("training.schedule")
        self.early_stopping.validate("training.early_stopping")

    def resolved_loss(self, task: str) -> str:
        return self.loss or DEFAULT_LOSS[self.task or task]


@dataclass
class Augment:
    """Image augmentation, applied to training batches only."""

    flip: bool = False  # random horizontal flip
    rotation: float = 0.0  # max degrees either way
    shift: int = 0  # max pixels either way (random crop of a padded image)
    noise: float = 0.0  # std of added Gaussian noise

    def active(self) -> bool:
        return self.flip or self.rotation > 0 or self.shift > 0 or self.noise > 0


@dataclass
class DataConfig:
    """Which data, how it is split and prepared, and which Input/Output nodes it binds to."""

    dataset: str = "digits"  # a built-in name, or csv / npz / imagefolder
    path: str | None = None  # user data file or folder (relative to the project file)
    options: dict[str, Any] = field(default_factory=dict)  # built-in dataset options (n_samples, noise, ...)
    features: list[str] | None = None  # CSV feature columns (None: all but the target)
    target: str | None = None  # CSV target column; npz target key
    categorical: list[str] = field(default_factory=list)  # CSV columns to one-hot encode
    header: str = "auto"  # CSV: auto, yes, no
    x_key: str = "x"  # npz arrays
    y_key: str = "y"
    task: str | None = None  # user data: the task (None: guessed from the target)
    image_size: list[int] | None = None  # imagefolder: (H, W); None: from the Input node
    grayscale: bool | None = None  # imagefolder: None: from the Input node's channels
    split: str = "random"
    val_fraction: float = 0.2
    test_fraction: float = 0.0
    split_seed: int = 0
    missing: str = "error"
    scaling: str = "auto"  # auto: the dataset's recommendation (standard for tables)
    imbalance: str = "none"
    augment: Augment = field(default_factory=Augment)
    shuffle: bool = True
    num_workers: int = 0  # image folders only
    input: str | None = None  # label of the Input node the features feed (None: the only one)
    output: str | None = None  # label of the Output node the target is compared with

    @classmethod
    def from_dict(cls, raw: dict[str, Any] | None) -> DataConfig:
        from .defaults import with_starting_data

        raw = with_starting_data(raw)  # what the project leaves unset starts at its dataset's values
        aug = raw.pop("augment", None)
        cfg = _from_dict(cls, raw, "data")
        cfg.augment = _from_dict(Augment, aug, "data.augment")
        cfg.validate()
        return cfg

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def validate(self) -> None:
        from .data.builtin import BUILTINS

        user = ("csv", "npz", "npy", "imagefolder")
        if self.dataset not in BUILTINS and self.dataset not in user:
            raise TrainingConfigError(
                "data.dataset",
                f"unknown dataset {self.dataset!r}; pick one of {', '.join(sorted(BUILTINS) + list(user))}",
            )
        if self.dataset in user and not self.path:
            raise TrainingConfigError("data.path", f"the {self.dataset} dataset needs a file or folder path")
        _check_choice("data.split", self.split, SPLITS)
        _check_choice("data.missing", self.missing, MISSING)
        _check_choice("data.scaling", self.scaling, SCALING)
        _check_choice("data.imbalance", self.imbalance, IMBALANCE)
        _check_choice("data.header", self.header, ("auto", "yes", "no"))
        if self.task is not None:
            _check_choice("data.task", self.task, TASKS)
        _check_number("data.val_fraction", self.val_fraction, 0, 0.9)
        _check_number("data.test_fraction", self.test_fraction, 0, 0.9)
        if self.val_fraction + self.test_fraction >= 1:
            raise TrainingConfigError("data.val_fraction", "validation + test fractions must leave training rows")
        _check_number("data.num_workers", self.num_workers, 0, integer=True)
        _check_number("data.augment.rotation", self.augment.rotation, 0, 180)
        _check_number("data.augment.shift", self.augment.shift, 0, integer=True)
        _check_number("data.augment.noise", self.augment.noise, 0)


def resolve_configs(
    data: DataConfig | dict[str, Any] | None,
    training: TrainingConfig | dict[str, Any] | None,
    epochs: int | None = None,
    device: str | None = None,
) -> tuple[DataConfig, TrainingConfig]:
    """The data and training settings every trainer starts from: parsed from project dicts (or taken as
    given; a dict's unset learning rate, epochs, batch size and weight decay follow the dataset, see
    dlstudio.training.defaults), with the command line's epochs/device overrides applied, then validated."""
    dcfg = data if isinstance(data, DataConfig) else DataConfig.from_dict(data)
    if not isinstance(training, TrainingConfig):
        from .defaults import with_starting_settings

        # what the project leaves unset starts at its dataset's values (the studio's form shows the same)
        training = with_starting_settings(training, dcfg.dataset)
    cfg = training if isinstance(training, TrainingConfig) else TrainingConfig.from_dict(training)
    if epochs is not None:
        cfg.epochs = int(epochs)
    if device is not None:
        cfg.device = device
    cfg.validate()
    return dcfg, cfg
