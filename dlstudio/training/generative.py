"""Generative training: autoencoder, super-resolution and GAN modes, as event iterators like `Trainer.run()`.

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
batch (GAN), so the images are comparable from epoch to epoch. Resuming from checkpoints is not supported here.
"""

from __future__ import annotations

import json
import math
import struct
import time
import warnings
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import networkx as nx
import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from ..core.errors import DlstudioWarning, TrainingConfigError
from ..core.graph import ModelGraph
from . import distributed as ddp
from .checkpoints import load_checkpoint, save_checkpoint, set_rng_state, weights_digest
from .config import DataConfig, TrainingConfig, resolve_configs
from .control import RunControl
from .data.binding import load_data, pick_input, pick_output
from .data.dataset import ArrayData
from .data.prepare import prepare
from .events import BatchEnd, Checkpoint, EpochEnd, EpochStarted, Event, Failed, Finished, SamplesSaved
from .loop import pick_device
from .optim import EpochScheduler, build_optimizer
from .runs import RunWriter

MODES = ("autoencoder", "super_resolution", "gan")
GAN_LOSSES = ("bce", "hinge")
RECONSTRUCTION_LOSSES = ("MSELoss", "L1Loss", "HuberLoss", "SmoothL1Loss", "BCELoss")


def generative_mode(training: dict[str, Any] | None) -> str | None:
    """The generative mode a project's training section asks for, or None for the supervised Trainer (which
    also trains `task: "reconstruction"` projects, without the per-epoch image grids)."""
    gen = (training or {}).get("generative") or {}
    if isinstance(gen, dict) and gen.get("mode"):
        return str(gen["mode"])
    return None


@dataclass
class GenerativeConfig:
    """`training.generative`, validated with messages that name the setting."""

    mode: str = "autoencoder"
    scale: int = 2  # super_resolution: downscale factor of the inputs
    gan_loss: str = "bce"  # bce (non-saturating) or hinge
    label_smoothing: float = 0.0  # GAN, one-sided: real targets are 1 - label_smoothing
    d_steps: int = 1  # discriminator updates per generator update
    samples: int = 16  # images in the per-epoch grid
    generator: dict[str, str] = field(default_factory=dict)  # {"input": label, "output": label}
    discriminator: dict[str, str] = field(default_factory=dict)
    rescale: str = "auto"  # GAN: auto (to [-1, 1] when the generator ends in Tanh), none

    @classmethod
    def from_training(cls, training: dict[str, Any] | None) -> GenerativeConfig:
        raw = dict((training or {}).get("generative") or {})
        if not raw.get("mode"):
            raw["mode"] = "autoencoder"
        known = set(cls.__dataclass_fields__)
        unknown = sorted(set(raw) - known)
        if unknown:
            raise TrainingConfigError(
                f"training.generative.{unknown[0]}", f"unknown setting; known: {', '.join(sorted(known))}"
            )
        cfg = cls(**raw)
        cfg.validate()
        return cfg

    def validate(self) -> None:
        p = "training.generative"
        if self.mode not in MODES:
            raise TrainingConfigError(f"{p}.mode", f"{self.mode!r} is not one of {', '.join(MODES)}")
        if self.gan_loss not in GAN_LOSSES:
            raise TrainingConfigError(f"{p}.gan_loss", f"{self.gan_loss!r} is not one of {', '.join(GAN_LOSSES)}")
        if self.rescale not in ("auto", "none"):
            raise TrainingConfigError(f"{p}.rescale", f"{self.rescale!r} is not auto or none")
        for name, lo in (("scale", 1), ("d_steps", 1), ("samples", 1)):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, int) or v < lo:
                raise TrainingConfigError(f"{p}.{name}", f"expected an integer >= {lo}, got {v!r}")
        ls = self.label_smoothing
        if isinstance(ls, bool) or not isinstance(ls, (int, float)) or not 0 <= ls < 0.5:
            raise TrainingConfigError(f"{p}.label_smoothing", f"expected a number in [0, 0.5), got {ls!r}")
        for part in ("generator", "discriminator"):
            d = getattr(self, part)
            if not isinstance(d, dict) or set(d) - {"input", "output"}:
                raise TrainingConfigError(f"{p}.{part}", 'expected {"input": <Input label>, "output": <Output label>}')


# ------------------------------------------------------------------------------------------------ images
def image_grid(
    images: torch.Tensor, nrow: int, pad: int = 2, value_range: tuple[float, float] = (0.0, 1.0)
) -> np.ndarray:
    """(N, C, H, W) or (N, F) images as one uint8 (H, W, C) mosaic; flat samples are shown as squares when
    F is a square number (8x8 digits), else as one-row strips."""
    x = images.detach().float().cpu()
    if x.dim() == 2:
        side = int(round(math.sqrt(x.shape[1])))
        x = x.reshape(len(x), 1, side, side) if side * side == x.shape[1] else x.reshape(len(x), 1, 1, -1)
    elif x.dim() == 3:
        x = x.unsqueeze(1)
    if x.shape[1] not in (1, 3):
        x = x[:, :1]
    lo, hi = value_range
    x = ((x - lo) / (hi - lo)).clamp(0, 1)
    n, c, h, w = x.shape
    ncol = min(nrow, n)
    rows = math.ceil(n / ncol)
    out = torch.ones(c, rows * (h + pad) + pad, ncol * (w + pad) + pad)
    for i in range(n):
        r, col = divmod(i, ncol)
        out[:, pad + r * (h + pad) : pad + r * (h + pad) + h, pad + col * (w + pad) : pad + col * (w + pad) + w] = x[i]
    return (out.permute(1, 2, 0).numpy() * 255).round().astype(np.uint8)


def write_png(path: Path, pixels: np.ndarray) -> Path:
    """A minimal PNG writer (8-bit grey or RGB, no filtering) so headless runs need no imaging library."""
    if pixels.ndim == 3 and pixels.shape[2] == 1:
        pixels = pixels[:, :, 0]
    h, w = pixels.shape[:2]
    color = 2 if pixels.ndim == 3 else 0
    raw = b"".join(b"\x00" + np.ascontiguousarray(pixels[y]).tobytes() for y in range(h))

    def chunk(tag: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + tag + data + struct.pack(">I", zlib.crc32(tag + data) & 0xFFFFFFFF)

    body = (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, color, 0, 0, 0))
        + chunk(b"IDAT", zlib.compress(raw, 6))
        + chunk(b"IEND", b"")
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(body)
    return path


# ------------------------------------------------------------------------------------------------ graphs
def split_graph(graph: ModelGraph, input_label: str) -> ModelGraph:
    """The part of `graph` connected to the Input labelled `input_label` (node ids, groups and params kept)."""
    start = pick_input(graph, input_label)
    links = nx.Graph()
    links.add_nodes_from(graph.nodes)
    links.add_edges_from((e.src, e.dst) for e in graph.edges())
    keep = nx.node_connected_component(links, start.id)
    full = graph.to_dict()
    part = {
        "nodes": [n for n in full["nodes"] if n["id"] in keep],
        "edges": [e for e in full["edges"] if e["src"] in keep],
        "groups": [g for g in full["groups"] if set(g["node_ids"]) <= keep],
    }
    from ..layers.builder import Graph

    sub = Graph()
    sub.load_dict(part)
    return sub


def _output_index(graph: ModelGraph, label: str | None) -> int:
    return pick_output(graph, label)[1]


def _ends_in_tanh(graph: ModelGraph, output_label: str | None) -> bool:
    out = pick_output(graph, output_label)[0]
    return any(graph.node(e.src).type == "Tanh" for e in graph.in_edges(out.id))


# ------------------------------------------------------------------------------------------------ trainers
@dataclass
class _NoRows:
    """Stands in for Trainer.train_set where views look for labelled rows (x is None: nothing to plot)."""

    x: None = None
    y: None = None

    def __len__(self) -> int:
        return 0


class _States:
    """Several optimizers seen as one by save_checkpoint: state_dict() holds each under its name."""

    def __init__(self, **optimizers: torch.optim.Optimizer) -> None:
        self.optimizers = optimizers

    def state_dict(self) -> dict[str, Any]:
        return {name: opt.state_dict() for name, opt in self.optimizers.items()}


def _warn_unused_settings(cfg: TrainingConfig, mode: str) -> None:
    """Supervised-training settings the generative trainers do not apply: set, they would be silently ignored."""
    unused = [
        name
        for name, on in (
            ("training.amp", cfg.amp),
            ("training.deterministic", cfg.deterministic),
            ("training.l1", cfg.l1 > 0),
            ("training.l2", cfg.l2 > 0),
            ("training.early_stopping.patience", cfg.early_stopping.patience > 0),
        )
        if on
    ]
    if unused:
        warnings.warn(
            f"Generative mode {mode!r} ignores these training settings: {', '.join(unused)}. Remove them from the "
            "project's training section (they apply to supervised training only).",
            DlstudioWarning,
            stacklevel=4,  # the caller of ReconstructionTrainer(...) / GANTrainer(...)
        )


class _Base(RunControl):
    """What the CLI and the studio use of a trainer: run(), stop/pause, dist, weights_digest, save_weights."""

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
        self.graph = graph
        self._resume_ckpt = load_checkpoint(Path(resume)) if resume is not None else None
        if run_dir is None and self._resume_ckpt is not None:  # continue in the checkpoint's own run folder
            run_dir = self._resume_ckpt["folder"].parent.parent
        self.last_checkpoint: str | None = None
        raw_training = training.to_dict() if isinstance(training, TrainingConfig) else dict(training or {})
        self.gcfg = GenerativeConfig.from_training(raw_training)
        self.dcfg, self.cfg = resolve_configs(data, training, epochs, device)
        _warn_unused_settings(self.cfg, self.gcfg.mode)
        self.dist = ddp.from_env()
        if self.dist.enabled:
            raise TrainingConfigError(
                "training.generative", "generative modes train in one process; run without --nproc/torchrun"
            )
        self.device = pick_device(self.cfg.device)
        self.max_batches = max_batches  # tests and quick previews: cap the batches per epoch
        self.run_dir = Path(run_dir) if run_dir is not None else None
        self.writer = RunWriter(self.run_dir) if self.run_dir is not None else None
        self.base_dir = Path(base_dir) if base_dir is not None else None
        self.project_meta = dict(project_meta or {})
        self.history: list[dict[str, float]] = []
        self._init_control()
        self.model: nn.Module = nn.Module()
        # what the studio's worker reads of a supervised Trainer: no labelled rows, so no decision boundary and
        # no prediction tables; the loss curves come from EpochEnd and the pictures from SamplesSaved
        self.kind = "generative"
        self.class_names: list[str] | None = None
        self.train_set = _NoRows()
        self.val_set: _NoRows | None = None
        self.test_set: _NoRows | None = None

    def _load_images(self, graph: ModelGraph) -> tuple[torch.Tensor, torch.Tensor | None]:
        """The dataset's samples (train, val) as float tensors on the device; labels are not used."""
        raw = load_data(self.dcfg, graph, self.base_dir)
        if not isinstance(raw, ArrayData):
            raise TrainingConfigError(
                "data.dataset",
                "generative modes read in-memory data (built-in, CSV, npz); convert the image folder to an .npz file",
            )
        splits = prepare(raw, self.dcfg, self.cfg.seed)
        x_train = torch.as_tensor(np.asarray(splits.train.x), dtype=torch.float32).to(self.device)
        x_val = None
        if splits.val is not None and len(splits.val.x):
            x_val = torch.as_tensor(np.asarray(splits.val.x), dtype=torch.float32).to(self.device)
        return x_train, x_val

    def _batches(self, x: torch.Tensor, shuffle: bool) -> Iterator[torch.Tensor]:
        bs = self.cfg.batch_size
        order = torch.randperm(len(x), device=x.device) if shuffle else torch.arange(len(x), device=x.device)
        for k, i in enumerate(range(0, len(x), bs)):
            if self.max_batches is not None and k >= self.max_batches:
                return
            yield x[order[i : i + bs]]

    def _n_batches(self, n: int) -> int:
        nb = math.ceil(n / self.cfg.batch_size)
        return min(nb, self.max_batches) if self.max_batches is not None else nb

    def _samples_event(
        self,
        epoch: int,
        images: torch.Tensor,
        nrow: int,
        kind: str,
        previous: torch.Tensor | None,
        value_range: tuple[float, float],
    ) -> SamplesSaved:
        grid = image_grid(images, nrow, value_range=value_range)
        change = float((images - previous).abs().mean()) if previous is not None else 0.0
        path = None
        if self.run_dir is not None:
            path = str(write_png(self.run_dir / "samples" / f"epoch_{epoch:04d}.png", grid))
        return SamplesSaved(epoch, path, kind, change, grid)

    def _write_settings(self, extra: dict[str, Any]) -> None:
        if self.run_dir is None:
            return
        self.run_dir.mkdir(parents=True, exist_ok=True)
        settings = {
            "data": self.dcfg.to_dict(),
            "training": self.cfg.to_dict(),
            "graph": self.graph.to_dict(),
            "mode": self.gcfg.mode,
            "device": str(self.device),
            "torch": torch.__version__,
            "meta": self.project_meta,
            "started": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
            **extra,
        }
        (self.run_dir / "settings.json").write_text(
            json.dumps(settings, indent=2, sort_keys=True, default=str), encoding="utf-8"
        )

    def _finish(self, interrupted: bool, previous: torch.Tensor | None) -> Finished:
        """The run's end; `interrupted`: a stop cut an epoch short (its checkpoint is written)."""
        if interrupted:
            self._checkpoint(len(self.history), previous, partial=True)
        stopped = interrupted or self._stop.is_set()
        final = dict(self.history[-1]) if self.history else {}
        final.pop("epoch", None)
        if self.run_dir is not None:
            self.save_weights(self.run_dir / "last.safetensors")
            report = {
                "mode": self.gcfg.mode,
                "epochs_run": len(self.history),
                "final": final,
                "stopped_by_user": stopped,
            }
            (self.run_dir / "report.json").write_text(json.dumps(report, indent=2, sort_keys=True), encoding="utf-8")
        return Finished(len(self.history), False, stopped, final, {}, str(self.run_dir) if self.run_dir else None)

    def weights_digest(self) -> str:
        return weights_digest(self.model)

    def node_weights(self) -> dict[str, torch.Tensor]:
        """Weights keyed by node id: the layout of the project's .safetensors sidecar."""
        raise NotImplementedError

    def save_weights(self, path: str | Path) -> Path:
        """Node-keyed weights for the whole project graph (loadable with Project.compile(weights=path))."""
        from safetensors.torch import save

        from ..compiler.weights import WEIGHTS_FORMAT, WEIGHTS_FORMAT_VERSION
        from ..core.files import atomic_write_bytes

        tensors = self.node_weights()
        used = sorted({k.split(".", 1)[0] for k in tensors})
        nodes = {nid: {"label": self.graph.node(nid).label, "type": self.graph.node(nid).type} for nid in used}
        meta = {
            "format": WEIGHTS_FORMAT,
            "format_version": str(WEIGHTS_FORMAT_VERSION),
            "layout": "node",
            "nodes": json.dumps(nodes, sort_keys=True),
        }
        target = Path(path)
        atomic_write_bytes(target, save(tensors, metadata=meta))
        return target

    def run(self) -> Iterator[Event]:
        """Yield events until the run ends; the last event is Finished or Failed (never raises)."""
        self._epoch: int | None = None
        try:
            torch.manual_seed(self.cfg.seed)
            start, previous = self._restore() if self._resume_ckpt is not None else (0, None)
            for ev in self._run(start, previous):
                if isinstance(ev, EpochStarted):
                    self._epoch = ev.epoch
                yield ev
        except Exception as exc:  # noqa: BLE001 - any fault from data or model becomes a Failed event
            epoch = self._epoch
            where = f" (epoch {epoch})" if epoch is not None else ""
            yield Failed(f"{type(exc).__name__}: {exc}{where}", epoch, None, None, self.last_checkpoint)

    def _run(self, start: int, previous: torch.Tensor | None) -> Iterator[Event]:
        """Epochs start+1 .. epochs; `previous` is the last sample grid (for the change between epochs)."""
        raise NotImplementedError

    # checkpoints: the model, every optimizer and schedule, RNG, history and the last sample grid, so that a
    # resumed run continues exactly as an uninterrupted one would
    def _optim_state(self) -> tuple[Any, dict[str, Any]]:
        raise NotImplementedError

    def _load_optim_state(self, optimizer: dict[str, Any], scheduler: dict[str, Any]) -> None:
        raise NotImplementedError

    def _checkpoint(self, epoch: int, previous: torch.Tensor | None, partial: bool = False) -> str | None:
        if self.run_dir is None:
            return None
        optimizer, scheduler = self._optim_state()
        name = f"epoch_{epoch:04d}" + ("_interrupted" if partial else "")
        folder = save_checkpoint(
            self.run_dir / "checkpoints" / name,
            model=self.model,
            optimizer=optimizer,
            scheduler_state=scheduler,
            epoch=epoch,
            extra={"history": self.history, "mode": self.gcfg.mode, "previous": previous, "partial": partial},
        )
        self.last_checkpoint = str(folder)
        return self.last_checkpoint

    def _restore(self) -> tuple[int, torch.Tensor | None]:
        ck = self._resume_ckpt
        assert ck is not None
        if ck["extra"].get("mode") != self.gcfg.mode:
            raise TrainingConfigError("resume", f"{ck['folder']} is not a checkpoint of a {self.gcfg.mode} run")
        self.model.load_state_dict(ck["model"])
        self._load_optim_state(ck["optimizer"], ck["scheduler"])
        self.history = list(ck["extra"].get("history", []))
        set_rng_state(ck["rng_tensors"], ck["rng_meta"])
        if self.writer is not None:
            self.writer.rewrite_history(self.history)
        previous = ck["extra"].get("previous")
        return int(ck["epoch"]), previous.to(self.device) if isinstance(previous, torch.Tensor) else None

    def _end_of_epoch_checkpoint(self, epoch: int, previous: torch.Tensor | None) -> Checkpoint | None:
        if self.run_dir is None or not (epoch % self.cfg.checkpoint_every == 0 or epoch == self.cfg.epochs):
            return None
        return Checkpoint(epoch, self._checkpoint(epoch, previous) or "")

    def _epoch_end(self, epoch: int, metrics: dict[str, float], lr: float, t0: float) -> EpochEnd:
        self.history.append({"epoch": epoch, **metrics})
        if self.writer is not None:
            self.writer.epoch(self.history[-1])
        return EpochEnd(epoch, self.cfg.epochs, metrics, lr, time.perf_counter() - t0)

    @staticmethod
    def _nonfinite(what: str, value: float, epoch: int, batch: int) -> Failed:
        return Failed(
            f"The {what} became {'NaN' if math.isnan(value) else 'Inf'} at epoch {epoch}, batch {batch}: "
            "try a lower learning rate or gradient clipping",
            epoch,
            batch,
        )


class ReconstructionTrainer(_Base):
    """Autoencoder (target = input) and super-resolution (input = target pooled by `scale`) training."""

    def __init__(self, graph: ModelGraph, data: Any, training: Any, **kw: Any) -> None:
        super().__init__(graph, data, training, **kw)
        if self.gcfg.mode not in ("autoencoder", "super_resolution"):
            raise TrainingConfigError("training.generative.mode", f"{self.gcfg.mode!r} is not a reconstruction mode")
        self.loss_name = self.cfg.loss or "MSELoss"
        if self.loss_name not in RECONSTRUCTION_LOSSES:
            raise TrainingConfigError(
                "training.loss",
                f"{self.loss_name} does not compare images; use one of {', '.join(RECONSTRUCTION_LOSSES)}",
            )
        self.loss_fn = getattr(nn, self.loss_name)(**self.cfg.loss_params)
        self.input_node = pick_input(graph, self.dcfg.input)
        self.out_index = _output_index(graph, self.dcfg.output)
        self.n_outputs = len(graph.nodes_of_type("Output"))
        self.x_train, self.x_val = self._load_images(graph)
        want = tuple(int(d) for d in self.input_node.params.get("shape", ()))
        got = tuple(self._degrade(self.x_train[:1]).shape[1:])
        if want != got:
            hint = (
                f"set the Input shape to {got}"
                if self.gcfg.mode == "autoencoder"
                else f"the data pooled by scale {self.gcfg.scale} gives {got}: set the Input shape or the scale"
            )
            raise TrainingConfigError("data.dataset", f"Input '{self.input_node.label}' expects {want}; {hint}")
        from ..compiler.build import compile_graph

        self.model = compile_graph(graph, seed=self.cfg.seed).to(self.device)
        self.optimizer = build_optimizer([p for p in self.model.parameters() if p.requires_grad], self.cfg)
        self.scheduler = EpochScheduler(self.optimizer, self.cfg)

    def _degrade(self, x: torch.Tensor) -> torch.Tensor:
        if self.gcfg.mode != "super_resolution":
            return x
        if x.dim() != 4:
            raise TrainingConfigError("training.generative.mode", "super_resolution needs (C, H, W) images")
        return F.avg_pool2d(x, self.gcfg.scale)

    def _forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.model(x)
        return out[self.out_index] if self.n_outputs > 1 else out

    @torch.no_grad()
    def evaluate(self, x: torch.Tensor) -> dict[str, float]:
        """Mean reconstruction loss (and, for super-resolution, the bilinear-upscaling baseline's loss)."""
        was = self.model.training
        self.model.eval()
        total = base = 0.0
        try:
            for i in range(0, len(x), 512):
                target = x[i : i + 512]
                inp = self._degrade(target)
                total += float(self.loss_fn(self._forward(inp), target)) * len(target)
                if self.gcfg.mode == "super_resolution":
                    up = F.interpolate(inp, size=target.shape[-2:], mode="bilinear", align_corners=False)
                    base += float(self.loss_fn(up, target)) * len(target)
        finally:
            self.model.train(was)
        out = {"loss": total / len(x)}
        if self.gcfg.mode == "super_resolution":
            out["bilinear_loss"] = base / len(x)
        return out

    def node_weights(self) -> dict[str, torch.Tensor]:
        from ..compiler.weights import node_state

        return node_state(self.model, self.graph)

    def _optim_state(self) -> tuple[Any, dict[str, Any]]:
        return self.optimizer, self.scheduler.state_dict()

    def _load_optim_state(self, optimizer: dict[str, Any], scheduler: dict[str, Any]) -> None:
        self.optimizer.load_state_dict(optimizer)
        self.scheduler.load_state_dict(scheduler)

    def _run(self, start: int, previous: torch.Tensor | None) -> Iterator[Event]:
        self._write_settings({"loss": self.loss_name})
        shown = (self.x_val if self.x_val is not None else self.x_train)[: self.gcfg.samples]
        n_batches = self._n_batches(len(self.x_train))
        stopped = False
        for epoch in range(start + 1, self.cfg.epochs + 1):
            yield EpochStarted(epoch, self.cfg.epochs, n_batches, self.scheduler.lr)
            t0 = time.perf_counter()
            self.model.train()
            seen, loss_sum = 0, 0.0
            for batch, target in enumerate(self._batches(self.x_train, self.dcfg.shuffle), 1):
                if self._wait_if_paused():
                    stopped = True
                    break
                loss = self.loss_fn(self._forward(self._degrade(target)), target)
                lv = float(loss.detach())
                if not math.isfinite(lv):
                    yield self._nonfinite("reconstruction loss", lv, epoch, batch)
                    return
                self.optimizer.zero_grad(set_to_none=True)
                loss.backward()
                if self.cfg.grad_clip:
                    nn.utils.clip_grad_norm_(self.model.parameters(), self.cfg.grad_clip)
                self.optimizer.step()
                seen += len(target)
                loss_sum += lv * len(target)
                yield BatchEnd(epoch, batch, n_batches, lv, seen, seen / max(time.perf_counter() - t0, 1e-9))
            if stopped:
                break
            metrics = {"loss": loss_sum / max(seen, 1)}
            if self.x_val is not None:
                metrics.update({f"val_{k}": v for k, v in self.evaluate(self.x_val).items()})
            lr = self.scheduler.lr
            metrics["lr"] = lr
            self.scheduler.step(metrics.get("val_loss", metrics["loss"]))
            yield self._epoch_end(epoch, metrics, lr, t0)
            self.model.eval()
            with torch.no_grad():
                recon = self._forward(self._degrade(shown)).reshape(shown.shape)
            self.model.train()
            inputs = shown
            if self.gcfg.mode == "super_resolution":  # show the low-res input enlarged, for a fair comparison
                inputs = F.interpolate(self._degrade(shown), size=shown.shape[-2:], mode="nearest")
            ev = self._samples_event(
                epoch, torch.cat([inputs, recon]), len(shown), "reconstructions", previous, (0.0, 1.0)
            )
            previous = torch.cat([inputs, recon])
            yield ev
            ck = self._end_of_epoch_checkpoint(epoch, previous)
            if ck is not None:
                yield ck
        yield self._finish(stopped, previous)


class GANTrainer(_Base):
    """Alternating discriminator and generator updates on two parts of one graph (see the module doc)."""

    def __init__(self, graph: ModelGraph, data: Any, training: Any, **kw: Any) -> None:
        super().__init__(graph, data, training, **kw)
        g = self.gcfg
        if g.mode != "gan":
            raise TrainingConfigError("training.generative.mode", f"{g.mode!r} is not gan")
        g_in, d_in = g.generator.get("input"), g.discriminator.get("input")
        if not g_in or not d_in:
            raise TrainingConfigError(
                "training.generative.generator",
                'name both Input nodes: "generator": {"input": ...}, "discriminator": {"input": ...}',
            )
        self.g_graph = split_graph(graph, g_in)
        self.d_graph = split_graph(graph, d_in)
        shared = set(self.g_graph.nodes) & set(self.d_graph.nodes)
        if shared:
            nid = sorted(shared)[0]
            raise TrainingConfigError(
                "training.generative",
                f"the generator and the discriminator share node "
                f"'{graph.node(nid).label}': they must be two separate parts of the graph",
            )
        self.g_out = _output_index(self.g_graph, g.generator.get("output"))
        self.d_out = _output_index(self.d_graph, g.discriminator.get("output"))
        self.g_outputs = len(self.g_graph.nodes_of_type("Output"))
        self.d_outputs = len(self.d_graph.nodes_of_type("Output"))
        self.noise_shape = tuple(int(d) for d in pick_input(self.g_graph, g_in).params["shape"])
        self.image_shape = tuple(int(d) for d in pick_input(self.d_graph, d_in).params["shape"])
        self.tanh = g.rescale == "auto" and _ends_in_tanh(self.g_graph, g.generator.get("output"))
        self.dcfg.input = d_in
        self.x_train, _ = self._load_images(self.d_graph)
        if tuple(self.x_train.shape[1:]) != self.image_shape:
            raise TrainingConfigError(
                "data.dataset",
                f"the discriminator's Input '{d_in}' expects "
                f"{self.image_shape}; the dataset gives {tuple(self.x_train.shape[1:])}",
            )
        if self.tanh:  # data in [0, 1] -> [-1, 1], the range of the generator's Tanh
            self.x_train = self.x_train * 2 - 1
        from ..compiler.build import compile_graph

        self.generator = compile_graph(self.g_graph, seed=self.cfg.seed).to(self.device)
        self.discriminator = compile_graph(self.d_graph, seed=self.cfg.seed + 1).to(self.device)
        self.model = nn.ModuleDict({"generator": self.generator, "discriminator": self.discriminator})
        g_fake = self._generate(torch.zeros(1, *self.noise_shape, device=self.device))
        if tuple(g_fake.shape[1:]) != self.image_shape:
            raise TrainingConfigError(
                "training.generative.generator",
                f"the generator makes {tuple(g_fake.shape[1:])} images but the discriminator reads {self.image_shape}",
            )
        self.opt_g = build_optimizer([p for p in self.generator.parameters() if p.requires_grad], self.cfg)
        self.opt_d = build_optimizer([p for p in self.discriminator.parameters() if p.requires_grad], self.cfg)
        self.sched_g = EpochScheduler(self.opt_g, self.cfg)
        self.sched_d = EpochScheduler(self.opt_d, self.cfg)
        gen = torch.Generator().manual_seed(self.cfg.seed + 12345)
        self.fixed_noise = torch.randn(g.samples, *self.noise_shape, generator=gen).to(self.device)

    def _generate(self, z: torch.Tensor) -> torch.Tensor:
        out = self.generator(z)
        return out[self.g_out] if self.g_outputs > 1 else out

    def _score(self, x: torch.Tensor) -> torch.Tensor:
        out = self.discriminator(x)
        return (out[self.d_out] if self.d_outputs > 1 else out).reshape(len(x), -1).mean(1)

    def d_loss(self, real_score: torch.Tensor, fake_score: torch.Tensor) -> torch.Tensor:
        if self.gcfg.gan_loss == "hinge":
            return F.relu(1 - real_score).mean() + F.relu(1 + fake_score).mean()
        real_target = torch.full_like(real_score, 1.0 - self.gcfg.label_smoothing)
        return F.binary_cross_entropy_with_logits(real_score, real_target) + F.binary_cross_entropy_with_logits(
            fake_score, torch.zeros_like(fake_score)
        )

    def g_loss(self, fake_score: torch.Tensor) -> torch.Tensor:
        if self.gcfg.gan_loss == "hinge":
            return -fake_score.mean()
        # non-saturating loss: maximize log D(G(z)) rather than minimize log(1 - D(G(z)))
        return F.binary_cross_entropy_with_logits(fake_score, torch.ones_like(fake_score))

    def node_weights(self) -> dict[str, torch.Tensor]:
        from ..compiler.weights import node_state

        return {**node_state(self.generator, self.g_graph), **node_state(self.discriminator, self.d_graph)}

    def _optim_state(self) -> tuple[Any, dict[str, Any]]:
        return _States(g=self.opt_g, d=self.opt_d), {"g": self.sched_g.state_dict(), "d": self.sched_d.state_dict()}

    def _load_optim_state(self, optimizer: dict[str, Any], scheduler: dict[str, Any]) -> None:
        self.opt_g.load_state_dict(optimizer["g"])
        self.opt_d.load_state_dict(optimizer["d"])
        self.sched_g.load_state_dict(scheduler["g"])
        self.sched_d.load_state_dict(scheduler["d"])

    def _run(self, start: int, previous: torch.Tensor | None) -> Iterator[Event]:
        self._write_settings({"gan_loss": self.gcfg.gan_loss, "noise_shape": list(self.noise_shape)})
        n_batches = self._n_batches(len(self.x_train))
        stopped = False
        for epoch in range(start + 1, self.cfg.epochs + 1):
            yield EpochStarted(epoch, self.cfg.epochs, n_batches, self.sched_g.lr)
            t0 = time.perf_counter()
            self.model.train()
            sums = {"d_loss": 0.0, "g_loss": 0.0, "d_real": 0.0, "d_fake": 0.0}
            seen = 0
            for batch, real in enumerate(self._batches(self.x_train, True), 1):
                if self._wait_if_paused():
                    stopped = True
                    break
                b = len(real)
                for _ in range(self.gcfg.d_steps):
                    fake = self._generate(torch.randn(b, *self.noise_shape, device=self.device)).detach()
                    real_score, fake_score = self._score(real), self._score(fake)
                    loss_d = self.d_loss(real_score, fake_score)
                    self.opt_d.zero_grad(set_to_none=True)
                    loss_d.backward()
                    if self.cfg.grad_clip:
                        nn.utils.clip_grad_norm_(self.discriminator.parameters(), self.cfg.grad_clip)
                    self.opt_d.step()
                fake_score_g = self._score(self._generate(torch.randn(b, *self.noise_shape, device=self.device)))
                loss_g = self.g_loss(fake_score_g)
                self.opt_g.zero_grad(set_to_none=True)
                loss_g.backward()
                if self.cfg.grad_clip:
                    nn.utils.clip_grad_norm_(self.generator.parameters(), self.cfg.grad_clip)
                self.opt_g.step()
                ld, lg = float(loss_d.detach()), float(loss_g.detach())
                for what, v in (("discriminator loss", ld), ("generator loss", lg)):
                    if not math.isfinite(v):
                        yield self._nonfinite(what, v, epoch, batch)
                        return
                seen += b
                prob = torch.sigmoid if self.gcfg.gan_loss == "bce" else (lambda t: t)
                sums["d_loss"] += ld * b
                sums["g_loss"] += lg * b
                sums["d_real"] += float(prob(real_score.detach()).mean()) * b
                sums["d_fake"] += float(prob(fake_score.detach()).mean()) * b
                yield BatchEnd(epoch, batch, n_batches, ld + lg, seen, seen / max(time.perf_counter() - t0, 1e-9))
            if stopped:
                break
            metrics = {k: v / max(seen, 1) for k, v in sums.items()}
            metrics["loss"] = metrics["d_loss"] + metrics["g_loss"]
            self.generator.eval()
            with torch.no_grad():
                samples = self._generate(self.fixed_noise)
            self.generator.train()
            metrics["sample_change"] = float((samples - previous).abs().mean()) if previous is not None else 0.0
            lr = self.sched_g.lr
            metrics["lr"] = lr
            self.sched_g.step(metrics["g_loss"])
            self.sched_d.step(metrics["d_loss"])
            yield self._epoch_end(epoch, metrics, lr, t0)
            value_range = (-1.0, 1.0) if self.tanh else (0.0, 1.0)
            yield self._samples_event(
                epoch, samples, int(math.ceil(math.sqrt(len(samples)))), "samples", previous, value_range
            )
            previous = samples
            ck = self._end_of_epoch_checkpoint(epoch, previous)
            if ck is not None:
                yield ck
        yield self._finish(stopped, previous)


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

    if isinstance(trainer, GANTrainer):
        for model, graph in ((trainer.generator, trainer.g_graph), (trainer.discriminator, trainer.d_graph)):
            load_weights(model, graph, {k: v for k, v in tensors.items() if k.split(".", 1)[0] in graph.nodes})
    else:
        load_weights(trainer.model, trainer.graph, tensors)
