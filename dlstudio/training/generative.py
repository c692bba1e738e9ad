"""Generative training: autoencoder, super-resolution and GAN modes, as tasks on the training engine with the
same event iterator as `Trainer.run()` (the tasks live in task_generative.py).

A project opts in through `training.generative.mode` (a plain `task: "reconstruction"` project trains with the
supervised Trainer, which also targets the input but draws no image grids):

    "generative": {"mode": "autoencoder"}                        # target = input, loss = training.loss or MSE
    "generative": {"mode": "super_resolution", "scale": 2}       # input = the target average-pooled by `scale`
    "generative": {"mode": "gan", "gan_loss": "bce" | "hinge", "label_smoothing": 0.1, "d_steps": 1,
                   "generator": {"input": "noise", "output": "fake"},
                   "discriminator": {"input": "image", "output": "score"}, "samples": 16}

How a GAN project stores two networks: ONE graph with two disconnected parts. The generator is everything
connected to the generator's Input node, the discriminator everything connected to the discriminator's Input
(each is usually a group, so it collapses to one block and compiles to a submodule). The file format does not
change, `dlstudio check`, the canvas and export see one graph with two inputs and two outputs, and the weights
sidecar is keyed by node id as always, so one file holds both networks' weights. The discriminator's output is
a raw score (a logit): BCE applies the sigmoid itself and the hinge loss wants raw margins.

Each epoch yields the usual EpochStarted / BatchEnd / EpochEnd events plus a `SamplesSaved` event whose PNG
holds inputs next to their reconstructions (autoencoder modes) or the generator's samples from a fixed noise
batch (GAN), so the images are comparable from epoch to epoch. Runs resume exactly from any checkpoint, as
supervised ones do.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from ..core.graph import ModelGraph
from .config import DataConfig, TrainingConfig, resolve_configs
from .events import SamplesSaved
from .images import image_grid, write_png
from .loop import TaskEngine
from .task_generative import (
    GAN_LOSSES,
    MODES,
    RECONSTRUCTION_LOSSES,
    GANTask,
    GenerativeConfig,
    ImageTask,
    ReconstructionTask,
    generative_mode,
    split_graph,
)

__all__ = [
    "GAN_LOSSES",
    "MODES",
    "RECONSTRUCTION_LOSSES",
    "GANTrainer",
    "GenerativeConfig",
    "ReconstructionTrainer",
    "SamplesSaved",
    "generative_mode",
    "image_grid",
    "make_generative_trainer",
    "split_graph",
    "write_png",
]


class _GenerativeTrainer(TaskEngine):
    """The engine running one generative task; `trainer.generator`, `trainer.x_train`, ... are the task's."""

    task_class: type[ImageTask] = ImageTask
    task: ImageTask

    def __init__(
        self,
        graph: ModelGraph,
        data: DataConfig | dict[str, Any] | None,
        training: TrainingConfig | dict[str, Any] | None,
        *,
        run_dir: str | Path | None = None,
        base_dir: str | Path | None = None,
        epochs: int | None = None,
        device: str | None = None,
        max_batches: int | None = None,
        project_meta: dict[str, Any] | None = None,
        resume: str | Path | None = None,
    ) -> None:
        raw_training = training.to_dict() if isinstance(training, TrainingConfig) else dict(training or {})
        gcfg = GenerativeConfig.from_training(raw_training)
        dcfg, cfg = resolve_configs(data, training, epochs, device)
        task = self.task_class(graph, dcfg, cfg, gcfg, base_dir=base_dir, max_batches=max_batches)
        super().__init__(task, run_dir=run_dir, resume=resume, project_meta=project_meta)

    def save_weights(self, path: str | Path) -> Path:
        """Node-keyed weights for the whole project graph (loadable with Project.compile(weights=path))."""
        return self.task.save_weights(path)


class ReconstructionTrainer(_GenerativeTrainer):
    """Autoencoder (target = input) and super-resolution (input = target pooled by `scale`) training."""

    task_class = ReconstructionTask


class GANTrainer(_GenerativeTrainer):
    """Alternating discriminator and generator updates on two parts of one graph (see the module doc)."""

    task_class = GANTask


def make_generative_trainer(
    project: Any,
    *,
    run_dir: str | Path | None = None,
    epochs: int | None = None,
    device: str | None = None,
    weights: str | Path | None = None,
    max_batches: int | None = None,
    resume: str | Path | None = None,
) -> ReconstructionTrainer | GANTrainer:
    """The trainer for a project whose training section asks for a generative mode (see generative_mode)."""
    mode = generative_mode(project.training)
    base = project.path.parent if getattr(project, "path", None) else None
    meta = {"name": project.name, **{k: v for k, v in project.meta.items() if isinstance(v, (str, int, float))}}
    cls = GANTrainer if mode == "gan" else ReconstructionTrainer
    trainer = cls(
        project.graph,
        project.data,
        project.training,
        run_dir=run_dir,
        base_dir=base,
        epochs=epochs,
        device=device,
        max_batches=max_batches,
        project_meta=meta,
        resume=resume,
    )
    if weights is not None and resume is None:
        from ..compiler.weights import read_weights

        tensors, _ = read_weights(weights)
        _load_node_weights(trainer, tensors)
    return trainer


def _load_node_weights(trainer: ReconstructionTrainer | GANTrainer, tensors: dict[str, torch.Tensor]) -> None:
    from ..compiler.weights import load_weights

    task = trainer.task
    if isinstance(task, GANTask):
        for model, graph in ((task.generator, task.g_graph), (task.discriminator, task.d_graph)):
            load_weights(model, graph, {k: v for k, v in tensors.items() if k.split(".", 1)[0] in graph.nodes})
    else:
        load_weights(trainer.model, trainer.graph, tensors)
