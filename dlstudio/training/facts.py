"""The task facts the lints judge a model by (`dlstudio.analysis.lints.TrainingFacts`), from a project's data and
training settings: the training engine knows the built-in datasets, the default loss per task and how the data
binds to the graph; the lints themselves stay pure and import nothing from here.

Built-in datasets answer from the static metadata in `dlstudio.training.data.builtin` (no data is loaded, so
neither scikit-learn nor torch is imported). The user's CSV/NumPy tables and image folders are read only when the
caller asks (`read_tables`: numpy reads them; `read_folders`: scanning an image folder imports torch).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ..analysis.lints import TrainingFacts, training_facts
from ..core.errors import TrainingConfigError
from ..core.graph import ModelGraph
from .config import DataConfig
from .data.binding import task_info
from .data.builtin import BUILTINS

TABLES = ("csv", "npz", "npy")  # data.dataset values read from a file; anything else unknown is an image folder


def lint_facts(
    data: Mapping[str, Any] | None,
    training: Mapping[str, Any] | None,
    graph: ModelGraph | None = None,
    base_dir: Path | None = None,
    *,
    read_tables: bool = False,
    read_folders: bool = False,
) -> TrainingFacts:
    """TrainingFacts for a project's `data` and `training` sections: what the sections say, completed by the
    training engine (the dataset's task and classes, the task's default loss, the Output the data binds to, the
    training rows of a built-in dataset after the validation and test splits). A project without data settings
    gets only what its training section says. Never raises: what cannot be known stays None."""
    own = training_facts(training, data)
    if not data or own.task == "generative":  # generative training: no class head, no supervised loss
        return own
    dataset = data.get("dataset")
    read = dataset in BUILTINS or (read_tables if dataset in TABLES else read_folders)
    info = task_info(
        dict(data),
        dict(training) if isinstance(training, Mapping) else None,
        graph,
        base_dir,
        read_files=read,
    )
    derived = training_facts(info)
    return TrainingFacts(
        loss=own.loss or derived.loss,
        loss_name=own.loss_name or derived.loss_name,
        num_classes=own.num_classes or derived.num_classes,
        num_rows=own.num_rows if own.num_rows is not None else builtin_training_rows(data),
        task=own.task or derived.task,
        output_label=own.output_label or derived.output_label,
    )


def project_lint_facts(project: Any, *, read_tables: bool = False, read_folders: bool = False) -> TrainingFacts:
    """`lint_facts` for a Project (its data, training, graph, and the folder of its file for relative paths)."""
    path = getattr(project, "path", None)
    return lint_facts(
        project.data if isinstance(project.data, Mapping) else None,
        project.training if isinstance(project.training, Mapping) else None,
        project.graph,
        Path(path).parent if path is not None else None,
        read_tables=read_tables,
        read_folders=read_folders,
    )


def builtin_training_rows(data: Mapping[str, Any]) -> int | None:
    """Rows left for training in a built-in dataset after the validation and test splits (from the dataset's
    declared size: nothing is loaded), or None for other data or unusable settings."""
    try:
        cfg = DataConfig.from_dict(dict(data))
    except (TrainingConfigError, TypeError, ValueError):  # the training engine reports unusable settings
        return None
    if cfg.dataset not in BUILTINS:
        return None
    try:
        n = BUILTINS[cfg.dataset].n_rows(cfg.options)
    except (TypeError, ValueError):  # e.g. n_samples="many": the loader will say so
        return None
    return max(0, int(n * (1.0 - cfg.val_fraction - cfg.test_fraction)))
