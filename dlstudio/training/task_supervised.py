"""Supervised training (classification, regression, reconstruction of the input) as a task on the engine.

In-memory data is batched by tensor indexing (no per-sample collation); image folders go through a DataLoader
whose sampler takes the epoch's order from the engine.
"""

from __future__ import annotations

import contextlib
import math
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from ..core.errors import DlstudioWarning, TrainingConfigError
from ..core.graph import ModelGraph
from . import distributed as ddp
from .checkpoints import model_state, save_weights
from .config import DataConfig, TrainingConfig
from .data.binding import Binding, bind, load_data
from .data.dataset import ArrayData, FolderData
from .data.prepare import Splits, prepare
from .data.transforms import augment_batch
from .diagnose import find_nonfinite
from .engine import Outcome, Task
from .losses import LOSSES, LossFn, scores_of
from .metrics import classification_metrics, overfitting_warning, regression_metrics
from .optim import EpochScheduler, build_optimizer, lower_is_better
from .run_writer import RunWriter


def pick_device(name: str) -> torch.device:
    if name == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    return torch.device(name)


@dataclass
class Split:
    """A split ready for training: tensors on the device, or a folder dataset read by a DataLoader."""

    x: torch.Tensor | None
    y: torch.Tensor | None
    folder: FolderData | None = None

    def __len__(self) -> int:
        return len(self.folder) if self.folder is not None else int(self.x.shape[0])  # type: ignore[union-attr]


_NULL = contextlib.nullcontext()  # reusable: entering it does nothing


def _reconstruction_targets(d: ArrayData) -> ArrayData:
    y = d.x.reshape(len(d), -1).astype(np.float32)
    return ArrayData(d.x, y, "reconstruction", d.name, None, d.ordered, d.recommended_scaling, d.source)


def weight_penalty(model: nn.Module, l1: float, l2: float, device: torch.device) -> torch.Tensor:
    """training.l1 / training.l2: penalties on the trainable weights (tensors of 2+ dims: not biases or norms)."""
    weights = [p for p in model.parameters() if p.requires_grad and p.dim() > 1]
    total = torch.zeros((), device=device)
    if l1:
        total = total + l1 * sum(p.abs().sum() for p in weights)
    if l2:
        total = total + l2 * sum(p.pow(2).sum() for p in weights)
    return total


def basic_scores(kind: str, loss_name: str, out: torch.Tensor, y: torch.Tensor) -> dict[str, float]:
    """Accuracy (classification, binary) or MSE and MAE (regression) over a whole split, from torch ops."""
    if kind == "regression":
        o, t = out.reshape(len(out), -1), y.reshape(len(y), -1).to(out.dtype)
        return {"mse": float(torch.nn.functional.mse_loss(o, t)), "mae": float(torch.nn.functional.l1_loss(o, t))}
    if kind == "classification":
        return {"accuracy": float((out.reshape(len(out), -1).argmax(1) == y.reshape(-1)).float().mean())}
    s = scores_of(loss_name, out).reshape(len(out), -1)
    return {"accuracy": float(((s >= 0.5).long() == y.reshape(len(y), -1).long()).float().mean())}


def improved(metric: str, value: float, best: float | None, min_delta: float) -> bool:
    """Whether `value` of `metric` beats the best so far by more than min_delta (early stopping, best epoch)."""
    if best is None:
        return True
    return value < best - min_delta if lower_is_better(metric) else value > best + min_delta


class SupervisedTask(Task):
    """Everything that can be checked before training (data, binding, model, optimizer) is set up here and
    raises typed errors."""

    name = "supervised"

    def __init__(
        self,
        graph: ModelGraph,
        dcfg: DataConfig,
        cfg: TrainingConfig,
        *,
        base_dir: str | Path | None = None,
        initial_weights: dict[str, torch.Tensor] | None = None,
    ) -> None:
        self.graph, self.dcfg, self.cfg = graph, dcfg, cfg
        if cfg.num_threads:
            torch.set_num_threads(cfg.num_threads)
        if cfg.deterministic:
            torch.use_deterministic_algorithms(True, warn_only=True)
        self.dist = ddp.from_env()
        self.writes_checkpoints = self.dist.is_main
        self.device = pick_device(cfg.device)
        if self.dist.enabled and self.device.type == "cuda":
            self.device = torch.device("cuda", self.dist.local_rank)
        self._loaders: dict[tuple[int, int], Any] = {}
        raw = load_data(dcfg, graph, Path(base_dir) if base_dir is not None else None)
        reconstruct = (cfg.task or dcfg.task) == "reconstruction" and isinstance(raw, ArrayData)
        if reconstruct:  # an autoencoder's target is its own (prepared) input
            raw = _reconstruction_targets(raw)
        self.binding: Binding = bind(graph, raw, dcfg, cfg)
        self.splits: Splits = prepare(raw, dcfg, cfg.seed)
        if reconstruct:
            for part in (self.splits.train, self.splits.val, self.splits.test):
                if isinstance(part, ArrayData):
                    part.y = part.x.reshape(len(part), -1).astype(np.float32)
        self.class_names = raw.class_names
        self.task = self.binding.task
        self.loss_name = self.binding.loss
        self.kind = LOSSES[self.loss_name].kind

        from ..compiler.build import compile_graph

        self.model = compile_graph(graph, seed=cfg.seed).to(self.device)
        if initial_weights is not None:
            self.model.load_state_dict(initial_weights)
        self.train_model: nn.Module = self.model  # the DDP wrapper in a distributed run
        self.node_paths: dict[str, str] = dict(getattr(self.model, "node_paths", {}))
        cw = self.splits.class_weights
        weights = torch.from_numpy(cw).to(self.device) if cw is not None and self.kind == "classification" else None
        self.loss_fn = LossFn(self.loss_name, cfg.loss_params, self.binding.n_classes, weights).to(self.device)
        self.train_set = self._to_split(self.splits.train)
        self.val_set = self._to_split(self.splits.val) if self.splits.val is not None else None
        self.test_set = self._to_split(self.splits.test) if self.splits.test is not None else None
        params = [p for p in self.model.parameters() if p.requires_grad]
        if not params:
            raise TrainingConfigError("graph", "every node is frozen: nothing to train; unfreeze at least one node")
        self.optimizer = build_optimizer(params, cfg)
        self.scheduler = EpochScheduler(self.optimizer, cfg)
        self.optimizers = {"optimizer": self.optimizer}
        self.schedulers = {"scheduler": self.scheduler}
        self.amp = bool(cfg.amp and self.device.type == "cuda")
        if cfg.amp and not self.amp:
            warnings.warn(
                f"training.amp is on but this run trains on {self.device}: mixed precision runs on CUDA only, so "
                "it trains in float32. Set training.amp to false, or train on a CUDA device.",
                DlstudioWarning,
                stacklevel=3,  # the caller of Trainer(...)
            )
        self.scaler = torch.amp.GradScaler("cuda") if self.amp else None
        self.autocast = torch.autocast("cuda", dtype=torch.float16) if self.amp else _NULL
        self.best_value: float | None = None
        self.best_epoch = 0
        self.bad_epochs = 0
        self.best_weights: dict[str, torch.Tensor] | None = None
        self._bad_input: torch.Tensor | None = None

    # ------------------------------------------------------------------ data
    def _to_split(self, part: ArrayData | FolderData) -> Split:
        if isinstance(part, FolderData):
            return Split(None, None, part)
        dtype = torch.int64 if self.binding.input_dtype == "int64" else torch.float32
        x = torch.as_tensor(part.x).to(dtype)
        y = torch.as_tensor(part.y)
        y = y.long() if self.kind == "classification" or y.dtype == torch.int64 else y.float()
        return Split(x.to(self.device), y.to(self.device))

    def epoch_order(self, epoch: int) -> torch.Tensor:
        n = len(self.train_set)
        if not self.dcfg.shuffle:
            return torch.arange(n)
        if self.train_set.folder is not None:
            from .data.imagefolder import epoch_order

            return torch.tensor(epoch_order(n, self.cfg.seed, epoch, True), dtype=torch.int64)
        return torch.randperm(n)

    def n_batches(self) -> int:
        return math.ceil(len(self.train_set) / self.cfg.batch_size)

    def batches(self, order: torch.Tensor, start: int) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        return self._batches(self.train_set, False, 0, order=order[start * self.cfg.batch_size :])

    def _batches(
        self,
        split: Split,
        shuffle: bool,
        epoch: int,
        batch_size: int | None = None,
        order: torch.Tensor | None = None,
    ) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        """Batches of `split` in `order` (default: as stored, or the seed's order for the epoch with `shuffle`)."""
        bs = batch_size or self.cfg.batch_size
        if split.folder is not None:
            from .data.imagefolder import epoch_order, make_loader, worker_error

            key = (id(split), bs)
            loader = self._loaders.get(key)
            if loader is None:  # one loader per split: its workers persist across epochs
                loader = self._loaders[key] = make_loader(
                    split.folder, bs, seed=self.cfg.seed, num_workers=self.dcfg.num_workers
                )
            if order is None:
                loader.sampler.order = epoch_order(len(split.folder), self.cfg.seed, epoch, shuffle)
            else:
                loader.sampler.order = order.tolist()
            batches = iter(loader)
            while True:
                try:
                    xb, yb = next(batches)
                except StopIteration:
                    return
                except Exception as exc:  # noqa: BLE001 - a decoding fault, maybe from a worker process
                    raise worker_error(exc) from None
                yield xb.to(self.device, non_blocking=True), yb.to(self.device, non_blocking=True)
        assert split.x is not None and split.y is not None
        x, y = split.x, split.y
        if order is None and shuffle:
            order = torch.randperm(len(split))
        if order is None:
            yield from zip(x.split(bs), y.split(bs))
            return
        for idx in order.to(self.device).split(bs):  # one transfer makes every batch's indices
            yield x[idx], y[idx]

    # ------------------------------------------------------------------ steps
    def _pick(self, out: Any) -> torch.Tensor:
        return out[self.binding.output_index] if self.binding.n_outputs > 1 else out

    def _penalty(self) -> torch.Tensor:
        return weight_penalty(self.model, self.cfg.l1, self.cfg.l2, self.device)

    def start(self) -> None:
        ddp.init(self.dist, self.device)
        if self.dist.enabled:
            from torch.nn.parallel import DistributedDataParallel

            self.train_model = DistributedDataParallel(
                self.model, device_ids=[self.device.index] if self.device.type == "cuda" else None
            )
        # the per-batch step reads these once (the hot path of small models is Python overhead)
        cfg, dist = self.cfg, self.dist
        self._hot = (
            self.train_model,
            self.loss_fn.forward,  # no hooks on our own loss wrapper: skip Module.__call__
            self.dcfg.augment if self.dcfg.augment.active() else None,
            self.binding.output_index if self.binding.n_outputs > 1 else None,
            bool(cfg.l1 or cfg.l2),
            self.autocast,
            self.optimizer,
            self.scaler,
            cfg.grad_clip,
            dist if dist.enabled else None,
        )

    def step(self, batch: tuple[torch.Tensor, torch.Tensor], sums: dict[str, float]) -> tuple[float, int] | None:
        model, loss_fn, augment, output_index, penalties, autocast, optimizer, scaler, grad_clip, dist = self._hot
        xb, yb = batch
        if dist is not None:
            if len(xb) < dist.world_size:
                return None  # every rank skips it alike: DDP needs the same number of steps on all
            xb, yb = xb[dist.rank :: dist.world_size], yb[dist.rank :: dist.world_size]
        if augment is not None:
            xb = augment_batch(xb, augment)
        with autocast:
            out = model(xb)
            if output_index is not None:
                out = out[output_index]
            if out.dtype != torch.float32:
                out = out.float()
            total = loss_fn(out, yb)
            if penalties:
                total = total + self._penalty()
        lv = total.item()
        if dist is not None:  # the mean over ranks: every rank sees the same loss and fails alike
            lv = ddp.mean_over_ranks(lv, self.device)
        if not math.isfinite(lv):
            self._bad_input = xb
            return lv, 0
        optimizer.zero_grad(set_to_none=True)
        if scaler is not None:
            scaler.scale(total).backward()
            scaler.unscale_(optimizer)
        else:
            total.backward()
        if grad_clip:
            torch.nn.utils.clip_grad_norm_(self.model.parameters(), grad_clip)
        if scaler is not None:
            scaler.step(optimizer)
            scaler.update()
        else:
            optimizer.step()
        nb = len(xb)
        sums["loss"] = sums.get("loss", 0.0) + lv * nb
        return lv, nb

    def locate_nonfinite(self) -> tuple[str, str | None, str]:
        assert self._bad_input is not None
        node_id, where = find_nonfinite(self.model, self._bad_input, self.node_paths, self.graph, self._pick)
        return "loss", node_id, where

    # ------------------------------------------------------------------ evaluation
    @torch.no_grad()
    def evaluate_split(self, split: Split, full: bool = False, basic: bool = False) -> dict[str, Any]:
        """Loss and metrics of the current model on one split (eval mode). `full` adds per-class scores, the
        confusion matrix and curves; `basic` keeps to loss and accuracy/MSE/MAE from torch ops (no sklearn)."""
        model = self.model
        was_training = model.training
        model.eval()
        outs, ys, total, n = [], [], 0.0, 0
        try:
            for xb, yb in self._batches(split, False, 0, max(self.cfg.batch_size, 1024)):
                with self.autocast:
                    out = self._pick(model(xb)).float()
                total += float(self.loss_fn(out, yb)) * len(xb)
                n += len(xb)
                outs.append(out)
                ys.append(yb)
        finally:
            model.train(was_training)
        out = torch.cat(outs) if len(outs) > 1 else outs[0]
        y = torch.cat(ys) if len(ys) > 1 else ys[0]
        result: dict[str, Any] = {"loss": total / max(n, 1)}
        if basic:
            return {**result, **basic_scores(self.kind, self.loss_name, out, y)}
        if self.kind == "regression":
            result.update(
                regression_metrics(y.reshape(len(y), -1).cpu().numpy(), out.reshape(len(out), -1).cpu().numpy())
            )
        else:
            scores = scores_of(self.loss_name, out).cpu().numpy()
            result.update(
                classification_metrics(
                    y.cpu().numpy(), scores, binary=self.kind == "binary", full=full, class_names=self.class_names
                )
            )
        return result

    def end_epoch(self, epoch: int, sums: dict[str, float], seen: int) -> dict[str, float]:
        metrics: dict[str, float] = {"loss": sums.get("loss", 0.0) / max(seen, 1)}
        if self.val_set is not None and len(self.val_set):
            val = self.evaluate_split(self.val_set, basic=self.cfg.epoch_metrics == "basic")
            metrics.update({f"val_{k}": float(v) for k, v in val.items() if isinstance(v, (int, float))})
        return metrics

    def monitor(self) -> str:
        m = self.cfg.early_stopping.monitor
        if self.val_set is None and m.startswith("val_"):
            return m[4:]
        return m

    def after_epoch(self, epoch: int, metrics: dict[str, float]) -> bool:
        stop = self._update_best(epoch, metrics)
        self.scheduler.step(metrics.get(self.monitor()))
        return stop

    def _update_best(self, epoch: int, metrics: dict[str, float]) -> bool:
        """Track the best epoch; returns True when early stopping says stop."""
        es = self.cfg.early_stopping
        name = self.monitor()
        value = metrics.get(name)
        if value is None or not math.isfinite(value):
            return False
        if improved(name, value, self.best_value, es.min_delta):
            self.best_value, self.best_epoch, self.bad_epochs = float(value), epoch, 0
            self.best_weights = model_state(self.model)
            return False
        self.bad_epochs += 1
        return bool(es.patience and self.bad_epochs >= es.patience)

    def is_best(self, epoch: int) -> bool:
        return self.best_epoch == epoch

    def warnings(self, history: list[dict[str, float]]) -> list[str]:
        warn = overfitting_warning(history)
        return [warn] if warn else []

    # ------------------------------------------------------------------ state and the run folder
    def extra_state(self) -> dict[str, Any]:
        return {"best_value": self.best_value, "best_epoch": self.best_epoch, "bad_epochs": self.bad_epochs}

    def load_extra_state(self, extra: dict[str, Any], checkpoint: dict[str, Any]) -> None:
        if checkpoint["extra"].get("task", "supervised") != "supervised" or "mode" in extra:
            raise TrainingConfigError("resume", f"{checkpoint['folder']} is not a checkpoint of a supervised run")
        self.best_value = extra.get("best_value")
        self.best_epoch = int(extra.get("best_epoch", 0))
        self.bad_epochs = int(extra.get("bad_epochs", 0))
        self.best_weights = checkpoint["best"]

    def best_state(self) -> dict[str, torch.Tensor] | None:
        return self.best_weights

    def settings(self) -> dict[str, Any]:
        return {
            "data": self.dcfg.to_dict(),
            "training": self.cfg.to_dict(),
            "graph": self.graph.to_dict(),
            "binding": {
                "input": self.binding.input_node.label,
                "output": self.binding.output_node.label,
                "task": self.task,
                "loss": self.loss_name,
                "n_classes": self.binding.n_classes,
            },
            "class_names": self.class_names,
            "scaler": self.splits.scaler,
            "rows": {
                "train": len(self.train_set),
                "val": len(self.val_set) if self.val_set else 0,
                "test": len(self.test_set) if self.test_set else 0,
            },
            "device": str(self.device),
            "world_size": self.dist.world_size,
            "torch": torch.__version__,
        }

    def finish(self, writer: RunWriter | None, outcome: Outcome) -> dict[str, Any]:
        es = self.cfg.early_stopping
        if es.restore_best and es.patience and self.best_weights is not None:
            self.model.load_state_dict(self.best_weights)
        test = self.evaluate_split(self.test_set, full=True) if self.test_set is not None and len(self.test_set) else {}
        if writer is None or not writer.enabled:
            return test
        val = self.evaluate_split(self.val_set, full=True) if self.val_set is not None and len(self.val_set) else {}
        # one fsync of the run folder, with report.md (the last file), makes all four renames durable
        save_weights(self.model, writer.run_dir / "last.safetensors", sync_folder=False)
        if self.best_weights is not None:
            save_weights(self.best_weights, writer.run_dir / "best.safetensors", sync_folder=False)
        final = dict(outcome.history[-1]) if outcome.history else {}
        report = {
            "epochs_run": outcome.epochs_run,
            "epochs": self.cfg.epochs,
            "best_epoch": self.best_epoch,
            "monitor": self.monitor(),
            "best_value": self.best_value,
            "stopped_early": outcome.stopped_early,
            "stopped_by_user": outcome.stopped_by_user,
            "final": final,
            "validation": val,
            "test": test,
            "task": self.task,
            "loss": self.loss_name,
            "last_checkpoint": outcome.last_checkpoint,
        }
        writer.write_json("report.json", report, sync_folder=False)
        writer.write_text("report.md", self._report_markdown(outcome, final, test))
        return test

    def _report_markdown(self, outcome: Outcome, final: dict[str, Any], test: dict[str, Any]) -> str:
        lines = [
            f"# Training report: {outcome.title}",
            "",
            f"- task: {self.task}, loss: {self.loss_name}, optimizer: {self.cfg.optimizer} (lr {self.cfg.lr:g})",
            f"- epochs run: {outcome.epochs_run} of {self.cfg.epochs}"
            + (" (stopped early)" if outcome.stopped_early else "")
            + (" (stopped by user)" if outcome.stopped_by_user else ""),
            f"- best epoch: {self.best_epoch} ({self.monitor()} = {self.best_value})",
            "",
            "| metric | final epoch |",
            "|---|---|",
        ]
        lines += [f"| {k} | {v:.6g} |" for k, v in final.items() if k != "epoch" and isinstance(v, (int, float))]
        scalars = {k: v for k, v in test.items() if isinstance(v, (int, float))}
        if scalars:
            lines += ["", "| test metric | value |", "|---|---|"]
            lines += [f"| {k} | {v:.6g} |" for k, v in scalars.items()]
        return "\n".join(lines) + "\n"
