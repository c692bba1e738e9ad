"""Generative tasks on the training engine: autoencoder, super-resolution and GAN (see generative.py for how a
project asks for them and how a GAN project stores its two networks)."""

from __future__ import annotations

import math
import warnings
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
from ..core.files import atomic_write_bytes
from ..core.graph import ModelGraph
from .config import DataConfig, TrainingConfig
from .data.binding import load_data, pick_input, pick_output
from .data.dataset import ArrayData
from .data.prepare import prepare
from .diagnose import find_nonfinite
from .engine import Outcome, Task
from .events import Event, SamplesSaved
from .images import image_grid, write_png
from .optim import EpochScheduler, build_optimizer
from .run_writer import RunWriter
from .task_supervised import pick_device

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


# ------------------------------------------------------------------------------------------------ tasks
@dataclass
class _NoRows:
    """Stands in for a supervised task's train_set where views look for labelled rows (x is None: nothing to plot)."""

    x: None = None
    y: None = None

    def __len__(self) -> int:
        return 0


def _warn_unused_settings(cfg: TrainingConfig, mode: str) -> None:
    """Supervised-training settings the generative tasks do not apply: set, they would be silently ignored."""
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
            stacklevel=5,  # the caller of ReconstructionTrainer(...) / GANTrainer(...)
        )


class ImageTask(Task):
    """What the generative tasks share: in-memory images, batches capped by `max_batches`, a per-epoch image
    grid, node-keyed weights and the report."""

    kind = "generative"  # what the studio reads: no labelled rows, so no decision boundary or prediction tables
    shuffle = True

    def __init__(
        self,
        graph: ModelGraph,
        dcfg: DataConfig,
        cfg: TrainingConfig,
        gcfg: GenerativeConfig,
        *,
        base_dir: str | Path | None = None,
        max_batches: int | None = None,
    ) -> None:
        from . import distributed as ddp

        self.graph, self.dcfg, self.cfg, self.gcfg = graph, dcfg, cfg, gcfg
        self.name = gcfg.mode
        _warn_unused_settings(cfg, gcfg.mode)
        self.dist = ddp.from_env()
        if self.dist.enabled:
            raise TrainingConfigError(
                "training.generative", "generative modes train in one process; run without --nproc/torchrun"
            )
        self.device = pick_device(cfg.device)
        self.max_batches = max_batches  # tests and quick previews: cap the batches per epoch
        self.base_dir = Path(base_dir) if base_dir is not None else None
        self.class_names: list[str] | None = None
        self.train_set = _NoRows()
        self.val_set: _NoRows | None = None
        self.test_set: _NoRows | None = None
        self.previous: torch.Tensor | None = None  # the last sample grid (for the change between epochs)
        self.x_train = torch.zeros(0)
        self._bad: tuple[str, nn.Module, ModelGraph, torch.Tensor] | None = None

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

    def epoch_order(self, epoch: int) -> torch.Tensor:
        n, device = len(self.x_train), self.x_train.device
        return torch.randperm(n, device=device) if self.shuffle else torch.arange(n, device=device)

    def n_batches(self) -> int:
        nb = math.ceil(len(self.x_train) / self.cfg.batch_size)
        return min(nb, self.max_batches) if self.max_batches is not None else nb

    def batches(self, order: torch.Tensor, start: int) -> Iterator[torch.Tensor]:
        bs, x = self.cfg.batch_size, self.x_train
        order = order.to(x.device)
        for k in range(start, self.n_batches()):
            yield x[order[k * bs : (k + 1) * bs]]

    def _samples_event(
        self, epoch: int, images: torch.Tensor, nrow: int, kind: str, run_dir: Path | None, value_range: Any
    ) -> SamplesSaved:
        grid = image_grid(images, nrow, value_range=value_range)
        change = float((images - self.previous).abs().mean()) if self.previous is not None else 0.0
        path = str(write_png(run_dir / "samples" / f"epoch_{epoch:04d}.png", grid)) if run_dir is not None else None
        self.previous = images
        return SamplesSaved(epoch, path, kind, change, grid)

    def locate_nonfinite(self) -> tuple[str, str | None, str]:
        assert self._bad is not None
        what, model, graph, x = self._bad
        node_id, where = find_nonfinite(model, x, dict(getattr(model, "node_paths", {})), graph, lambda o: o)
        return what, node_id, where

    # ---------------------------------------------------------------- state and the run folder
    def extra_state(self) -> dict[str, Any]:
        return {"mode": self.gcfg.mode, "previous": self.previous}

    def load_extra_state(self, extra: dict[str, Any], checkpoint: dict[str, Any]) -> None:
        if extra.get("mode") != self.gcfg.mode:
            raise TrainingConfigError("resume", f"{checkpoint['folder']} is not a checkpoint of a {self.gcfg.mode} run")
        previous = extra.get("previous")
        self.previous = previous.to(self.device) if isinstance(previous, torch.Tensor) else None

    def task_settings(self) -> dict[str, Any]:
        return {}

    def settings(self) -> dict[str, Any]:
        return {
            "data": self.dcfg.to_dict(),
            "training": self.cfg.to_dict(),
            "graph": self.graph.to_dict(),
            "mode": self.gcfg.mode,
            "device": str(self.device),
            "torch": torch.__version__,
            **self.task_settings(),
        }

    def node_weights(self) -> dict[str, torch.Tensor]:
        """Weights keyed by node id: the layout of the project's .safetensors sidecar."""
        raise NotImplementedError

    def save_weights(self, path: str | Path) -> Path:
        """Node-keyed weights for the whole project graph (loadable with Project.compile(weights=path))."""
        import json

        from safetensors.torch import save

        from ..compiler.weights import WEIGHTS_FORMAT, WEIGHTS_FORMAT_VERSION

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

    def finish(self, writer: RunWriter | None, outcome: Outcome) -> dict[str, Any]:
        if writer is not None:
            self.save_weights(writer.run_dir / "last.safetensors")
            final = dict(outcome.history[-1]) if outcome.history else {}
            final.pop("epoch", None)
            report = {
                "mode": self.gcfg.mode,
                "epochs_run": outcome.epochs_run,
                "final": final,
                "stopped_by_user": outcome.stopped_by_user,
            }
            writer.write_json("report.json", report)
        return {}


class ReconstructionTask(ImageTask):
    """Autoencoder (target = input) and super-resolution (input = target pooled by `scale`) training."""

    def __init__(self, graph: ModelGraph, dcfg: DataConfig, cfg: TrainingConfig, gcfg: GenerativeConfig, **kw: Any):
        super().__init__(graph, dcfg, cfg, gcfg, **kw)
        if gcfg.mode not in ("autoencoder", "super_resolution"):
            raise TrainingConfigError("training.generative.mode", f"{gcfg.mode!r} is not a reconstruction mode")
        self.shuffle = dcfg.shuffle
        self.loss_name = cfg.loss or "MSELoss"
        if self.loss_name not in RECONSTRUCTION_LOSSES:
            raise TrainingConfigError(
                "training.loss",
                f"{self.loss_name} does not compare images; use one of {', '.join(RECONSTRUCTION_LOSSES)}",
            )
        self.loss_fn = getattr(nn, self.loss_name)(**cfg.loss_params)
        self.input_node = pick_input(graph, dcfg.input)
        self.out_index = _output_index(graph, dcfg.output)
        self.n_outputs = len(graph.nodes_of_type("Output"))
        self.x_train, self.x_val = self._load_images(graph)
        want = tuple(int(d) for d in self.input_node.params.get("shape", ()))
        got = tuple(self._degrade(self.x_train[:1]).shape[1:])
        if want != got:
            hint = (
                f"set the Input shape to {got}"
                if gcfg.mode == "autoencoder"
                else f"the data pooled by scale {gcfg.scale} gives {got}: set the Input shape or the scale"
            )
            raise TrainingConfigError("data.dataset", f"Input '{self.input_node.label}' expects {want}; {hint}")
        from ..compiler.build import compile_graph

        self.model = compile_graph(graph, seed=cfg.seed).to(self.device)
        self.optimizer = build_optimizer([p for p in self.model.parameters() if p.requires_grad], cfg)
        self.scheduler = EpochScheduler(self.optimizer, cfg)
        self.optimizers = {"optimizer": self.optimizer}
        self.schedulers = {"scheduler": self.scheduler}

    def _degrade(self, x: torch.Tensor) -> torch.Tensor:
        if self.gcfg.mode != "super_resolution":
            return x
        if x.dim() != 4:
            raise TrainingConfigError("training.generative.mode", "super_resolution needs (C, H, W) images")
        return F.avg_pool2d(x, self.gcfg.scale)

    def _forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.model(x)
        return out[self.out_index] if self.n_outputs > 1 else out

    def step(self, target: torch.Tensor, sums: dict[str, float]) -> tuple[float, int]:
        inp = self._degrade(target)
        loss = self.loss_fn(self._forward(inp), target)
        lv = float(loss.detach())
        if not math.isfinite(lv):
            self._bad = ("reconstruction loss", self.model, self.graph, inp)
            return lv, 0
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        if self.cfg.grad_clip:
            nn.utils.clip_grad_norm_(self.model.parameters(), self.cfg.grad_clip)
        self.optimizer.step()
        sums["loss"] = sums.get("loss", 0.0) + lv * len(target)
        return lv, len(target)

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

    def end_epoch(self, epoch: int, sums: dict[str, float], seen: int) -> dict[str, float]:
        metrics = {"loss": sums.get("loss", 0.0) / max(seen, 1)}
        if self.x_val is not None:
            metrics.update({f"val_{k}": v for k, v in self.evaluate(self.x_val).items()})
        return metrics

    def after_epoch(self, epoch: int, metrics: dict[str, float]) -> bool:
        self.scheduler.step(metrics.get("val_loss", metrics["loss"]))
        return False

    def epoch_events(self, epoch: int, run_dir: Path | None) -> list[Event]:
        shown = (self.x_val if self.x_val is not None else self.x_train)[: self.gcfg.samples]
        self.model.eval()
        with torch.no_grad():
            recon = self._forward(self._degrade(shown)).reshape(shown.shape)
        self.model.train()
        inputs = shown
        if self.gcfg.mode == "super_resolution":  # show the low-res input enlarged, for a fair comparison
            inputs = F.interpolate(self._degrade(shown), size=shown.shape[-2:], mode="nearest")
        images = torch.cat([inputs, recon])
        return [self._samples_event(epoch, images, len(shown), "reconstructions", run_dir, (0.0, 1.0))]

    def task_settings(self) -> dict[str, Any]:
        return {"loss": self.loss_name}

    def node_weights(self) -> dict[str, torch.Tensor]:
        from ..compiler.weights import node_state

        return node_state(self.model, self.graph)


class GANTask(ImageTask):
    """Alternating discriminator and generator updates on two parts of one graph (see generative.py)."""

    def __init__(self, graph: ModelGraph, dcfg: DataConfig, cfg: TrainingConfig, gcfg: GenerativeConfig, **kw: Any):
        super().__init__(graph, dcfg, cfg, gcfg, **kw)
        g = gcfg
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
        dcfg.input = d_in
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

        self.generator = compile_graph(self.g_graph, seed=cfg.seed).to(self.device)
        self.discriminator = compile_graph(self.d_graph, seed=cfg.seed + 1).to(self.device)
        self.model = nn.ModuleDict({"generator": self.generator, "discriminator": self.discriminator})
        g_fake = self._generate(torch.zeros(1, *self.noise_shape, device=self.device))
        if tuple(g_fake.shape[1:]) != self.image_shape:
            raise TrainingConfigError(
                "training.generative.generator",
                f"the generator makes {tuple(g_fake.shape[1:])} images but the discriminator reads {self.image_shape}",
            )
        self.opt_g = build_optimizer([p for p in self.generator.parameters() if p.requires_grad], cfg)
        self.opt_d = build_optimizer([p for p in self.discriminator.parameters() if p.requires_grad], cfg)
        self.sched_g = EpochScheduler(self.opt_g, cfg)
        self.sched_d = EpochScheduler(self.opt_d, cfg)
        self.optimizers = {"g": self.opt_g, "d": self.opt_d}
        self.schedulers = {"g": self.sched_g, "d": self.sched_d}
        gen = torch.Generator().manual_seed(cfg.seed + 12345)
        self.fixed_noise = torch.randn(g.samples, *self.noise_shape, generator=gen).to(self.device)
        self._samples: torch.Tensor | None = None

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

    def step(self, real: torch.Tensor, sums: dict[str, float]) -> tuple[float, int]:
        b, clip = len(real), self.cfg.grad_clip
        for _ in range(self.gcfg.d_steps):
            fake = self._generate(torch.randn(b, *self.noise_shape, device=self.device)).detach()
            real_score, fake_score = self._score(real), self._score(fake)
            loss_d = self.d_loss(real_score, fake_score)
            self.opt_d.zero_grad(set_to_none=True)
            loss_d.backward()
            if clip:
                nn.utils.clip_grad_norm_(self.discriminator.parameters(), clip)
            self.opt_d.step()
        z = torch.randn(b, *self.noise_shape, device=self.device)
        loss_g = self.g_loss(self._score(self._generate(z)))
        self.opt_g.zero_grad(set_to_none=True)
        loss_g.backward()
        if clip:
            nn.utils.clip_grad_norm_(self.generator.parameters(), clip)
        self.opt_g.step()
        ld, lg = float(loss_d.detach()), float(loss_g.detach())
        if not math.isfinite(ld):
            self._bad = ("discriminator loss", self.discriminator, self.d_graph, real)
            return ld, 0
        if not math.isfinite(lg):
            self._bad = ("generator loss", self.generator, self.g_graph, z)
            return lg, 0
        prob = torch.sigmoid if self.gcfg.gan_loss == "bce" else (lambda t: t)
        sums["d_loss"] = sums.get("d_loss", 0.0) + ld * b
        sums["g_loss"] = sums.get("g_loss", 0.0) + lg * b
        sums["d_real"] = sums.get("d_real", 0.0) + float(prob(real_score.detach()).mean()) * b
        sums["d_fake"] = sums.get("d_fake", 0.0) + float(prob(fake_score.detach()).mean()) * b
        return ld + lg, b

    def end_epoch(self, epoch: int, sums: dict[str, float], seen: int) -> dict[str, float]:
        metrics = {k: sums.get(k, 0.0) / max(seen, 1) for k in ("d_loss", "g_loss", "d_real", "d_fake")}
        metrics["loss"] = metrics["d_loss"] + metrics["g_loss"]
        self.generator.eval()
        with torch.no_grad():
            self._samples = self._generate(self.fixed_noise)
        self.generator.train()
        change = float((self._samples - self.previous).abs().mean()) if self.previous is not None else 0.0
        metrics["sample_change"] = change
        return metrics

    def after_epoch(self, epoch: int, metrics: dict[str, float]) -> bool:
        self.sched_g.step(metrics["g_loss"])
        self.sched_d.step(metrics["d_loss"])
        return False

    def epoch_events(self, epoch: int, run_dir: Path | None) -> list[Event]:
        samples = self._samples
        assert samples is not None
        value_range = (-1.0, 1.0) if self.tanh else (0.0, 1.0)
        nrow = int(math.ceil(math.sqrt(len(samples))))
        return [self._samples_event(epoch, samples, nrow, "samples", run_dir, value_range)]

    def task_settings(self) -> dict[str, Any]:
        return {"gan_loss": self.gcfg.gan_loss, "noise_shape": list(self.noise_shape)}

    def node_weights(self) -> dict[str, torch.Tensor]:
        from ..compiler.weights import node_state

        return {**node_state(self.generator, self.g_graph), **node_state(self.discriminator, self.d_graph)}
